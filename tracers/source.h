// TracerSource: what a seeds tracer (tracers/tracers.h) runs over — the live kernel, a tape or
// a seeded simulation — and SourceProvider, which opens one per start().
//
// A TracerSource is an EventSource plus the few operations that only make sense for some
// sources. The defaults below are what a recorded or simulated stream does: pause/resume are
// NotSupported (nothing to detach), the kernel syscall filter is a no-op (the tracer filters in
// user space anyway), and there is no overhead to measure.
//
// Threading: the tracer calls every member from whichever thread holds its lock, one at a
// time; interrupt_wait() is the one member it may call concurrently with next().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/event_source.h"
#include "core/report/symbolizer.h"

namespace bpftape::sim {
struct SimOptions;
}

namespace otlp::ebpf {

// What tracing costs, measured (not estimated): BPF program run time from the kernel's BPF
// stats plus the draining thread's own CPU time, over wall time; ring buffers plus interned
// data; the p99 of kernel timestamp -> delivery to user space. All zero over a tape or a
// simulation (nothing runs in a kernel).
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

// Which tasks a tracer follows. Live, the BPF programs filter (load time); over a tape or a
// simulation the pipeline filters the same way, by tgid and tid. comm and cgroup_id are
// live-only: a tape's events do not carry them (NotSupported at start()).
struct TaskFilter {
  std::vector<uint32_t> tgids;  // empty: every process (live: but the tracer's own)
  uint32_t tid = 0;             // 0: any thread
  std::string comm;             // exact task comm (<= 15 chars); empty: any
  uint64_t cgroup_id = 0;       // cgroup v2 id; 0: any
};

// What a tracer asks its provider for.
struct TracerRequest {
  EbpfConfig config;
  bool cpu = false;
  bool syscalls = false;
  bool network = false;
  bool memory = false;
  TaskFilter filter;
};

class TracerSource : public EventSource {
 public:
  // "live", "tape", "simulation": for messages.
  virtual std::string_view kind() const = 0;
  virtual bool live() const { return false; }
  // Pipeline reorder window for this stream (the value replay and simulate use for it).
  virtual uint64_t reorder_window_ns() const { return 0; }
  // The source's clock now, if it has one (live: CLOCK_MONOTONIC, the events' clock); a
  // recorded stream's time is that of its newest event, which the tracer tracks itself.
  virtual std::optional<uint64_t> now_ns() const { return std::nullopt; }
  // Ends the stream: live, detaches the probes (what the rings hold is still delivered); a
  // recorded stream reports its end at the next next().
  virtual void end() = 0;
  bool ended() const { return ended_; }
  // Makes a next() under way in another thread, or the next one, return promptly.
  virtual void interrupt_wait() {}
  virtual Result<void> pause() { return live_only("pause()"); }
  virtual Result<void> resume() { return live_only("resume()"); }
  // Kernel-side switch of one syscall number; a no-op where there is no kernel (the tracer's
  // user-space filter does the work).
  virtual Result<void> set_syscall_traced(uint32_t /*nr*/, bool /*enabled*/) { return {}; }
  // BPF run time, rings, delivery latency; leaves `m` alone where nothing runs in a kernel.
  virtual void add_overhead(EbpfOverheadMetrics& /*m*/) const {}
  // Names the stack frames of this stream (live: symbols resolved while recording; a tape:
  // its symbol tables; a simulation: none).
  virtual Symbolizer symbolizer() = 0;

 protected:
  Result<void> live_only(std::string_view what) const;
  bool ended_ = false;
};

class SourceProvider {
 public:
  virtual ~SourceProvider() = default;
  virtual Result<std::unique_ptr<TracerSource>> open(const TracerRequest& request) = 0;
};

// The kernel (the seeds' default). In a build without BPF, open() is NotSupported.
std::unique_ptr<SourceProvider> live_provider();
// A tape (.bpftape), read to its end at full speed; every start() reads it from the beginning.
std::unique_ptr<SourceProvider> tape_provider(std::string path);
// A seeded simulation (simulator/); `options` need not be finalize()d (open() does it).
std::unique_ptr<SourceProvider> simulation_provider(const bpftape::sim::SimOptions& options);

}  // namespace otlp::ebpf
