// EbpfConfig: what to trace and how hard. Fields and defaults are the seeds'.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"

namespace otlp::ebpf {

struct EbpfConfig {
  // Limits enforced by validate(). perf caps sampling at kernel.perf_event_max_sample_rate
  // (100 kHz by default) and throttles long before; 10 kHz is already ~100x a profiler's need.
  static constexpr uint32_t kMaxSampleRate = 10'000;
  static constexpr std::chrono::seconds kMaxDuration{7 * 24 * 3600};

  bool enable_cpu_profiling = true;
  bool enable_network_tracing = false;
  bool enable_syscall_tracing = false;
  bool enable_memory_tracing = false;
  uint32_t sample_rate = 99;  // Hz; prime-ish to avoid lockstep with periodic work
  // How long a tracer collects (tracers/tracers.h): it stops by itself after this much of its
  // source's time (live: wall time since start(); a tape or simulation: event time since the
  // first event).
  std::chrono::milliseconds duration{std::chrono::seconds(60)};
  // The most samples (events of the tracer's kind) a tracer aggregates and returns; it stops
  // collecting once it has them and counts what came after in events_not_kept().
  size_t max_samples = 100'000;

  static EbpfConfig new_config() { return EbpfConfig{}; }

  // Builders. The seeds use both spellings (with_enable_cpu_profiling and with_cpu_profiling).
  EbpfConfig& with_sample_rate(uint32_t hz) { sample_rate = hz; return *this; }
  EbpfConfig& with_duration(std::chrono::milliseconds d) { duration = d; return *this; }
  EbpfConfig& with_max_samples(size_t max) { max_samples = max; return *this; }
  EbpfConfig& with_enable_cpu_profiling(bool on) { enable_cpu_profiling = on; return *this; }
  EbpfConfig& with_enable_network_tracing(bool on) { enable_network_tracing = on; return *this; }
  EbpfConfig& with_enable_syscall_tracing(bool on) { enable_syscall_tracing = on; return *this; }
  EbpfConfig& with_enable_memory_tracing(bool on) { enable_memory_tracing = on; return *this; }
  EbpfConfig& with_cpu_profiling(bool on) { return with_enable_cpu_profiling(on); }
  EbpfConfig& with_network_tracing(bool on) { return with_enable_network_tracing(on); }
  EbpfConfig& with_syscall_tracing(bool on) { return with_enable_syscall_tracing(on); }
  EbpfConfig& with_memory_tracing(bool on) { return with_enable_memory_tracing(on); }

  // Checks every field; the error names the field, the value and the accepted range.
  Result<void> validate() const;

  bool operator==(const EbpfConfig&) const = default;
};

Result<void> validate_config(const EbpfConfig& config);

// Environments: "production", "staging", "development", "debug". Anything else is a
// ConfigError listing the accepted names.
Result<EbpfConfig> create_recommended_config(std::string_view environment);
Result<uint32_t> recommended_sample_rate(std::string_view environment);
Result<std::chrono::seconds> recommended_duration(std::string_view environment);

}  // namespace otlp::ebpf
