// Syscall aggregation: per process and per syscall, count, errors and a latency histogram.
#pragma once

#include <bitset>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/tracers/aggregator.h"
#include "core/tracers/latency_histogram.h"

namespace otlp::ebpf {

// The seeds' SyscallStats, plus what bpftape adds.
struct SyscallStats {
  uint64_t syscalls_traced = 0;  // events aggregated (after filter_syscall)
  uint64_t unique_syscalls = 0;  // distinct syscall numbers seen
  uint64_t errors = 0;           // returns in [-4095, -1]
  uint64_t filtered_out = 0;     // events for syscalls disabled with filter_syscall
};

struct SyscallSummary {
  uint32_t nr = 0;
  uint64_t count = 0;
  uint64_t errors = 0;
  LatencyHistogram latency;  // duration_ns
};

class SyscallAggregator : public Aggregator {
 public:
  static constexpr uint32_t kMaxSyscalls = 1024;

  void consume(std::span<const EbpfEvent> events, const InternTable& interned) override;

  // Enables or disables aggregation of one syscall by name ("openat" or "syscall_<nr>").
  // Unknown names are a ConfigError. Everything is enabled initially.
  Result<void> filter_syscall(std::string_view name, bool enabled);
  bool is_enabled(uint32_t nr) const { return nr < kMaxSyscalls && !disabled_.test(nr); }

  SyscallStats stats() const;
  // All processes together, ordered by count (desc), then number: deterministic.
  std::vector<SyscallSummary> by_syscall() const;
  // One process's syscalls, same order; empty if the pid made none.
  std::vector<SyscallSummary> for_pid(uint32_t pid) const;
  // Pids that made syscalls, ascending.
  std::vector<uint32_t> pids() const;

 private:
  struct PerProcess {
    std::vector<SyscallSummary> by_nr;  // indexed by nr, grown on demand
  };
  static bool is_error(int64_t ret) { return ret < 0 && ret >= -4095; }

  std::unordered_map<uint32_t, PerProcess> processes_;
  std::bitset<kMaxSyscalls> disabled_;
  std::bitset<kMaxSyscalls> seen_;
  uint64_t traced_ = 0;
  uint64_t errors_ = 0;
  uint64_t filtered_out_ = 0;
  // Last process touched: syscall streams come in long same-process runs.
  uint32_t cached_pid_ = 0;
  PerProcess* cached_process_ = nullptr;
};

}  // namespace otlp::ebpf
