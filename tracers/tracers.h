// The seeds' tracer classes: EbpfCpuProfiler, EbpfSyscallTracer, EbpfNetworkTracer,
// EbpfMemoryTracer. Each runs a TracerSource (tracers/source.h) — the live kernel by default,
// as in the seeds, or a tape or a seeded simulation — on a background thread, through the same
// Pipeline and aggregator a replay or simulation uses (core/tracers/), so live, recorded and
// simulated results are computed by the same code and stop() has one contract:
//   stop() ends the stream (live: detaches the probes and drains the rings; a tape or a
//   simulation: reads on to its end, unless config.duration or config.max_samples ended it
//   first), finishes the pipeline and returns the results.
//
// What the config bounds (the seeds' fields), on every source:
// - duration: the tracer stops collecting by itself once the source's clock passed
//   start + duration. Live: wall time since start(); what the rings held then is still
//   delivered. Recorded: event time since the first event, exactly (later events are
//   filtered, and counted so by the pipeline).
// - max_samples: at most this many events of the tracer's kind (CPU samples, syscalls,
//   network events, memory events) are aggregated and returned; the tracer stops collecting
//   once it has them. What arrived after, in the batches already read, is counted in
//   events_not_kept() and neither aggregated nor returned. Process lifecycle events (they name
//   processes) are not samples: stop() returns those seen before the cut too.
// Live-only operations over a tape or a simulation: pause()/resume() are NotSupported;
// get_overhead() is all zeros; filter_syscall() filters in user space only.
//
// start() again after stop() opens a new stream; the statistics keep accumulating (and the
// filter_syscall switches hold), the events stop() returns are the new stream's.
//
// Threading: start() spawns the draining thread; get_stats() and friends may be called from
// the owner's thread while it runs (they lock, and first bring the aggregation up to date with
// everything the source produced so far). Not copyable; destroying a running tracer stops it.
#pragma once

#include <atomic>
#include <bitset>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
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
#include "tracers/source.h"

namespace otlp::ebpf {

// Shared machinery of the four tracers.
class SourceTracer {
 public:
  virtual ~SourceTracer();
  SourceTracer(const SourceTracer&) = delete;
  SourceTracer& operator=(const SourceTracer&) = delete;

  // Which tasks to trace (default: every task but this process); before start().
  SourceTracer& with_filter(TaskFilter filter);
  Result<void> start();
  // Live only (NotSupported over a tape or a simulation): detaches / re-attaches the probes;
  // what the kernel did meanwhile is not traced.
  Result<void> pause();
  Result<void> resume();
  // Started, not stopped, and still collecting (false once the stream ended by itself:
  // config.duration or config.max_samples reached, or the end of a tape or simulation).
  bool is_running() const;
  const EbpfConfig& config() const { return config_; }
  // Measured cost of live tracing; all zero over a tape or a simulation.
  EbpfOverheadMetrics get_overhead() const;
  // Events after stop(): ids refer to interned(), valid until the next start().
  const InternTable* interned() const;
  // Events that arrived after config().max_samples were collected (neither aggregated nor
  // returned by stop()).
  uint64_t events_not_kept() const;

 protected:
  SourceTracer(EbpfConfig config, std::unique_ptr<SourceProvider> provider, TracerRequest request,
               Aggregator& aggregator);
  // Stops the thread, drains, finishes the pipeline. Derived destructors call it (the base
  // destructor would run after the aggregator it feeds is gone).
  Result<void> finish();
  std::vector<EbpfEvent> take_events() { return std::move(events_); }
  // Runs f holding mutex_, the aggregation brought up to date first (see sync()).
  template <typename F>
  auto current(F&& f) const {
    auto lock = lock_for_control();
    (void)sync();
    return f();
  }
  // The syscall tracer's switch: applied to the kernel (live, when running), to the events
  // stop() returns and to what counts towards max_samples.
  Result<void> set_syscall_enabled(uint32_t nr, bool enabled);
  // The source of the last start(); null before.
  TracerSource* source() const { return source_.get(); }
  // Monotonic times of the first and last event the tracer saw (0 before any).
  uint64_t first_event_ns() const { return first_event_ns_; }
  uint64_t last_event_ns() const { return last_event_ns_; }

 private:
  class Gate;
  void run();
  Result<void> consume(const EventBatch& batch);
  // Ends the stream once config.duration or config.max_samples is reached.
  void end_if_bounded();
  uint64_t duration_ns() const;
  // Under mutex_, while running: consumes what the source holds now (live: what the rings
  // hold, without waiting), then flushes what the pipeline buffered, so that a stats call
  // sees every event the source produced before it.
  Result<void> sync() const;
  // mutex_, taken promptly by a thread other than the drain thread: announces itself in
  // control_waiting_ and interrupts the source's wait, so that the drain thread, which holds
  // mutex_ through each next(), lets go within a drain rather than an idle timeout.
  std::unique_lock<std::mutex> lock_for_control() const;

  EbpfConfig config_;
  std::unique_ptr<SourceProvider> provider_;
  TracerRequest request_;
  Aggregator& aggregator_;
  std::unique_ptr<TracerSource> source_;
  std::unique_ptr<Gate> gate_;
  std::unique_ptr<Pipeline> pipeline_;
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> stream_done_{false};  // the thread saw the end of the stream
  // Threads waiting in lock_for_control(): the drain thread lets them in before it takes
  // mutex_ again — std::mutex is not fair, and a thread that relocks at once starved them
  // (get_stats() waited out a whole 1.2 s workload once, in CI).
  mutable std::atomic<int> control_waiting_{0};
  bool running_ = false;
  mutable std::mutex mutex_;  // guards the source, pipeline, aggregator, gate, events below
  std::vector<EbpfEvent> events_;
  std::bitset<SyscallAggregator::kMaxSyscalls> disabled_syscalls_;
  std::optional<EbpfError> thread_error_;
  std::atomic<uint64_t> consumer_cpu_ns_{0};
  uint64_t started_ns_ = 0;
  uint64_t stopped_ns_ = 0;
  uint64_t first_event_ns_ = 0;
  uint64_t last_event_ns_ = 0;
};

// The tracers whose stop() returns the events they kept (the seeds' Vec<EbpfEvent>).
class EventTracer : public SourceTracer {
 public:
  Result<std::vector<EbpfEvent>> stop();

 protected:
  using SourceTracer::SourceTracer;
};

class EbpfCpuProfiler : public SourceTracer {
 public:
  // The seeds' constructor: the live kernel.
  explicit EbpfCpuProfiler(EbpfConfig config) : EbpfCpuProfiler(std::move(config), live_provider()) {}
  EbpfCpuProfiler(EbpfConfig config, std::unique_ptr<SourceProvider> provider);
  ~EbpfCpuProfiler() override;  // stops first: the thread feeds this class's aggregator
  // The profile as pprof (gzip it with pprof_gzip() for `go tool pprof`), frames named from
  // the source's symbols (live: resolved while recording; a tape: its symbol tables).
  Result<PprofProfile> stop();
  CpuStats get_stats() const { return current([&] { return cpu_.stats(); }); }

 private:
  CpuAggregator cpu_;
};

class EbpfSyscallTracer : public EventTracer {
 public:
  explicit EbpfSyscallTracer(EbpfConfig config)
      : EbpfSyscallTracer(std::move(config), live_provider()) {}
  EbpfSyscallTracer(EbpfConfig config, std::unique_ptr<SourceProvider> provider);
  ~EbpfSyscallTracer() override;  // stops first: the thread feeds this class's aggregator
  SyscallStats get_stats() const { return current([&] { return syscalls_.stats(); }); }
  // Switch per syscall name ("openat"), before or while running; ConfigError for an unknown
  // name. A disabled syscall is not traced in the kernel (live), not returned by stop(), not
  // counted towards max_samples, and counted in get_stats().filtered_out when it still arrives
  // (in flight when switched off, or from a tape).
  Result<void> filter_syscall(std::string_view name, bool enabled);
  std::vector<SyscallSummary> by_syscall() const {
    return current([&] { return syscalls_.by_syscall(); });
  }

 private:
  SyscallAggregator syscalls_;
};

class EbpfNetworkTracer : public EventTracer {
 public:
  explicit EbpfNetworkTracer(EbpfConfig config)
      : EbpfNetworkTracer(std::move(config), live_provider()) {}
  EbpfNetworkTracer(EbpfConfig config, std::unique_ptr<SourceProvider> provider);
  ~EbpfNetworkTracer() override;  // stops first: the thread feeds this class's aggregator
  NetworkStats get_stats() const { return current([&] { return network_.stats(); }); }
  std::vector<HttpRequest> http_requests() const {
    return current([&] { return network_.http_requests(); });
  }

 private:
  NetworkAggregator network_;
};

class EbpfMemoryTracer : public EventTracer {
 public:
  explicit EbpfMemoryTracer(EbpfConfig config)
      : EbpfMemoryTracer(std::move(config), live_provider()) {}
  EbpfMemoryTracer(EbpfConfig config, std::unique_ptr<SourceProvider> provider);
  ~EbpfMemoryTracer() override;  // stops first: the thread feeds this class's aggregator
  MemoryStats get_stats() const { return current([&] { return memory_.stats(); }); }
  std::vector<OutstandingByStack> outstanding_by_stack() const {
    return current([&] { return memory_.outstanding_by_stack(); });
  }

 private:
  MemoryAggregator memory_;
};

}  // namespace otlp::ebpf
