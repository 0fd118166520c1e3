// The seeds' tracer API on live kernel streams: EbpfCpuProfiler, EbpfSyscallTracer,
// EbpfNetworkTracer, EbpfMemoryTracer. Each runs a LiveSource with its one tracer on a
// background thread, through the same Pipeline and aggregator a replay or simulation uses
// (core/tracers/), so live and recorded results are computed by the same code.
//
// Threading: start() spawns the draining thread; get_stats()/get_overhead() may be called
// from the owner's thread while it runs (they lock). stop() joins it, drains what the rings
// still hold and returns the results. Not copyable; destroying a running tracer stops it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/event.h"
#include "core/otlp/converter.h"
#include "core/pipeline.h"
#include "core/tracers/cpu_aggregator.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/network_aggregator.h"
#include "core/tracers/syscall_aggregator.h"
#include "recorder/live_source.h"

namespace otlp::ebpf {

// What tracing costs, measured (not estimated): BPF program run time from the kernel's BPF
// stats plus the draining thread's own CPU time, over wall time; ring buffers plus interned
// data; the p99 of kernel timestamp -> delivery to user space.
struct EbpfOverheadMetrics {
  double cpu_percent = 0;        // of one CPU
  size_t memory_bytes = 0;
  uint64_t event_latency_us = 0;  // p99
  // The parts cpu_percent is made of.
  uint64_t bpf_run_time_ns = 0;
  uint64_t consumer_cpu_ns = 0;
  uint64_t wall_ns = 0;
  bool bpf_stats_available = false;
};

// Shared machinery of the four tracers.
class LiveTracer {
 public:
  virtual ~LiveTracer();
  LiveTracer(const LiveTracer&) = delete;
  LiveTracer& operator=(const LiveTracer&) = delete;

  // Which tasks to trace (default: every task but this process); before start().
  LiveTracer& with_filter(ProbeFilter filter);
  Result<void> start();
  Result<void> pause();
  Result<void> resume();
  bool is_running() const { return running_; }
  const EbpfConfig& config() const { return config_; }
  EbpfOverheadMetrics get_overhead() const;
  // Events after stop(): ids refer to interned(), valid until the next start().
  const InternTable* interned() const;
  // Events beyond config().max_samples that stop() did not return (still aggregated).
  uint64_t events_not_kept() const { return not_kept_; }

 protected:
  LiveTracer(EbpfConfig config, bpftape::record::LiveOptions options, Aggregator& aggregator);
  // Stops the thread, drains, finishes the pipeline. Derived destructors call it (the base
  // destructor would run after the aggregator it feeds is gone).
  Result<void> finish();
  std::vector<EbpfEvent> take_events() { return std::move(events_); }
  // Runs f holding mutex_, from any thread but the drain thread (see control_waiting_).
  template <typename F>
  auto locked(F&& f) const {
    auto lock = lock_for_control();
    return f();
  }
  std::unique_ptr<bpftape::record::LiveSource> source_;

 private:
  class Collector;
  void run();
  Result<void> consume(const EventBatch& batch);
  // mutex_, taken promptly by a thread other than the drain thread: announces itself in
  // control_waiting_ and interrupts the source's wait, so that the drain thread, which holds
  // mutex_ through each next(), lets go within a drain rather than an idle timeout.
  std::unique_lock<std::mutex> lock_for_control() const;

  EbpfConfig config_;
  bpftape::record::LiveOptions options_;
  Aggregator& aggregator_;
  std::unique_ptr<Collector> collector_;
  std::unique_ptr<Pipeline> pipeline_;
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  // Threads waiting in lock_for_control(): the drain thread lets them in before it takes
  // mutex_ again — std::mutex is not fair, and a thread that relocks at once starved them
  // (get_stats() waited out a whole 1.2 s workload once, in CI).
  mutable std::atomic<int> control_waiting_{0};
  bool running_ = false;
  mutable std::mutex mutex_;  // guards the pipeline, aggregator, events and error below
  std::vector<EbpfEvent> events_;
  uint64_t not_kept_ = 0;
  std::optional<EbpfError> thread_error_;
  std::atomic<uint64_t> consumer_cpu_ns_{0};
  uint64_t started_ns_ = 0;
  uint64_t stopped_ns_ = 0;
};

class EbpfCpuProfiler : public LiveTracer {
 public:
  explicit EbpfCpuProfiler(EbpfConfig config);
  ~EbpfCpuProfiler() override;  // stops first: the thread feeds this class's aggregator
  // The profile as pprof (gzip it with pprof_gzip() for `go tool pprof`), frames named from
  // the symbols resolved while recording.
  Result<PprofProfile> stop();
  CpuStats get_stats() const { return locked([&] { return cpu_.stats(); }); }

 private:
  CpuAggregator cpu_;
};

class EbpfSyscallTracer : public LiveTracer {
 public:
  explicit EbpfSyscallTracer(EbpfConfig config);
  ~EbpfSyscallTracer() override;  // stops first: the thread feeds this class's aggregator
  Result<std::vector<EbpfEvent>> stop();
  SyscallStats get_stats() const { return locked([&] { return syscalls_.stats(); }); }
  // Aggregation switch per syscall name ("openat"); ConfigError for an unknown name.
  Result<void> filter_syscall(std::string_view name, bool enabled);
  std::vector<SyscallSummary> by_syscall() const { return locked([&] { return syscalls_.by_syscall(); }); }

 private:
  SyscallAggregator syscalls_;
};

class EbpfNetworkTracer : public LiveTracer {
 public:
  explicit EbpfNetworkTracer(EbpfConfig config);
  ~EbpfNetworkTracer() override;  // stops first: the thread feeds this class's aggregator
  Result<std::vector<EbpfEvent>> stop();
  NetworkStats get_stats() const { return locked([&] { return network_.stats(); }); }
  std::vector<HttpRequest> http_requests() const { return locked([&] { return network_.http_requests(); }); }

 private:
  NetworkAggregator network_;
};

class EbpfMemoryTracer : public LiveTracer {
 public:
  explicit EbpfMemoryTracer(EbpfConfig config);
  ~EbpfMemoryTracer() override;  // stops first: the thread feeds this class's aggregator
  Result<std::vector<EbpfEvent>> stop();
  MemoryStats get_stats() const { return locked([&] { return memory_.stats(); }); }
  std::vector<OutstandingByStack> outstanding_by_stack() const {
    return locked([&] { return memory_.outstanding_by_stack(); });
  }

 private:
  MemoryAggregator memory_;
};

}  // namespace otlp::ebpf
