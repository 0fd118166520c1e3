// LiveSource: the kernel as an EventSource. Owns bpftape's BPF probes (bpf/kernel_probes.h),
// drains their ring buffers into event batches sorted by time, turns reservation failures into
// loss records, keeps the process table (from /proc and exec/fork/exit events) and resolves
// stack frames to symbols while the processes still exist (recorder/symbol_collector.h).
//
// The same batches go to the tape writer and, for `record --report`, to the same Pipeline a
// replay uses. Single-threaded: create, then call next() in a loop from one thread.
//
// Lifetime: the InternTable, process table and probes live as long as the source; ids in
// delivered events refer to interned(). stop() detaches every probe; next() then delivers
// what is still in the rings and returns false once they are empty.
#pragma once

#include <cstdint>
#include <functional>
#include <array>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bpf/event_decoder.h"
#include "bpf/kernel_probes.h"
#include "bpf/ring_drain.h"
#include "core/event_source.h"
#include "core/tape/types.h"
#include "core/transport.h"
#include "core/tracers/latency_histogram.h"
#include "recorder/bpf_stats_sampler.h"
#include "recorder/drain_placement.h"
#include "recorder/symbol_collector.h"

namespace bpftape::record {

struct LiveOptions {
  // Which tracers; the process probe (exec/fork/exit) always runs, it names processes.
  bool syscalls = false;
  bool cpu = false;
  bool network = false;
  bool memory = false;
  uint32_t sample_hz = 99;        // CPU sampling frequency
  otlp::ebpf::ProbeFilter filter; // which tasks (load-time, in the BPF programs)
  // Kernel ring buffer per probe; 0 sizes each for its event rate (transport::default_ring_bytes). Rings
  // are mapped into the recorder and count twice in its RSS (the data pages are mapped twice).
  uint32_t ring_bytes = 0;
  // How the drain loop waits (transport::ConsumerPacing): asleep in epoll until a program wakes
  // it (once per sleep) or idle_timeout_ns passes; ticking every tick_ns while records stream.
  otlp::ebpf::transport::ConsumerPacing::Options pacing;
  // Kernel BPF run-time stats: on while affordable, else sampled and scaled (Auto, default),
  // all the time, or never (BpfStatsSampler explains why).
  BpfStatsMode bpf_stats = BpfStatsMode::Auto;
  std::string libc = "libc.so.6";  // for the memory probe's uprobes
  // The one process the memory probe's uprobes attach to; unset: the filter's only pid if it
  // has exactly one, else every process (each allocation on the machine then traps).
  std::optional<int32_t> memory_pid;
  bool capture_payload = true;     // first bytes of socket I/O (HTTP recognition)
  bool symbolize = true;           // resolve stack frames at record time
  std::string proc_root = "/proc";
};

// Which tracers an EbpfConfig asks for, with the filter left empty.
LiveOptions live_options_from(const otlp::ebpf::EbpfConfig& config);

class LiveSource : public otlp::ebpf::EventSource {
 public:
  // Loads and attaches every selected probe. InsufficientPermissions when not privileged.
  static otlp::ebpf::Result<std::unique_ptr<LiveSource>> create(const LiveOptions& options);
  ~LiveSource() override;

  // Waits for records (RingBufferDrain::paced_drain: at most the idle timeout), then delivers
  // everything the rings hold, sorted by timestamp, with the loss records of the interval. An
  // empty batch is normal (nothing happened). Returns false only after stop(), once the rings
  // are empty.
  otlp::ebpf::Result<bool> next(otlp::ebpf::EventBatch& batch) override;
  // Makes a next() under way in another thread return promptly (RingBufferDrain::
  // interrupt_wait); the one member safe to call concurrently with next().
  void interrupt_wait() { drain_.interrupt_wait(); }
  const otlp::ebpf::InternTable& interned() const override { return interned_; }
  const otlp::ebpf::ProcessTable& processes() const override { return processes_; }
  otlp::ebpf::ClockReference clock() const override { return clock_; }
  std::string recording_id() const override { return recording_id_; }

  // Detaches every probe: no new records; what is in the rings is still delivered.
  void stop();
  bool stopped() const { return stopped_; }
  // Detaches every probe (no cost while paused; what the kernel produced meanwhile is lost by
  // design, not counted) / attaches them again. No-ops when already in that state or stopped.
  otlp::ebpf::Result<void> pause();
  otlp::ebpf::Result<void> resume();
  bool paused() const { return paused_; }
  // Switches the kernel-side tracing of one syscall number (the syscall probe's filter map): a
  // disabled syscall costs its raw tracepoint's early exit and never reaches the ring.
  // NotSupported when the syscall probe was not loaded.
  otlp::ebpf::Result<void> set_syscall_traced(uint32_t nr, bool enabled);

  // What the tape needs besides events; each call returns only what is new since the last.
  std::vector<otlp::ebpf::tape::ProcessInfo> take_process_updates();
  NewSymbols take_symbols();
  // Everything take_symbols() ever returned (for live outputs: name frames as a replay would).
  const NewSymbols& all_symbols() const { return all_symbols_; }
  // Every program's cumulative run time and count (kernel BPF stats, enabled while this lives).
  otlp::ebpf::tape::BpfStatsSnapshot bpf_stats() const;
  std::vector<otlp::ebpf::tape::ProbeInfo> probes() const;

  struct Stats {
    uint64_t events = 0;
    uint64_t lost = 0;           // records the kernel could not reserve (ring full)
    uint64_t decode_errors = 0;  // malformed records (never expected; counted, skipped)
    bool bpf_stats_enabled = false;
    double bpf_stats_share = 0;   // of the recording the counters ran (1: all of it)
    uint64_t ring_bytes = 0;      // kernel memory held by the ring buffers
    uint64_t interned_bytes = 0;  // strings and stacks kept for the events' ids
    uint64_t first_event_ns = 0;  // 0 before any event
    uint64_t last_event_ns = 0;
    uint64_t drains = 0;          // waits for records (RingBufferDrain::paced_drain)
    uint64_t sleeps = 0;          // ... of which asleep in epoll
    uint64_t wakeups = 0;         // ... of which ended by a program's wakeup
    uint64_t placement_moves = 0; // drain thread affinity changes (DrainPlacement)
  };
  Stats stats() const;
  // Kernel timestamp -> delivery to user space, per event.
  const otlp::ebpf::LatencyHistogram& delivery_latency() const { return latency_; }
  const SymbolCollector::Stats& symbol_stats() const { return symbols_.stats(); }

 private:
  explicit LiveSource(const LiveOptions& options);
  // Keeps a loaded probe; `attach` (kept for resume()) attaches it, create() calls it.
  void add_probe(std::unique_ptr<otlp::ebpf::KernelProbe> probe, std::string name,
                 std::function<otlp::ebpf::Result<void>()> attach);
  void learn(const otlp::ebpf::EventBatch& batch);
  // The placement policy for the thread calling next(), made on first use from its affinity;
  // null when there is nowhere else to go (one CPU) or the affinity cannot be read.
  DrainPlacement* drain_placement();
  // At the end of a placement window, moves every thread of the recorder (DrainPlacement).
  void move_off_busy_cpus(DrainPlacement& placement, uint64_t now);
  // Calls fn(name, bpf_prog_info) for every loaded program of every probe.
  template <typename Fn>
  void for_each_program_info(Fn&& fn) const;
  void learn_process(uint32_t pid);
  // Run counts of every loaded program, summed (BpfStatsSampler's rate; thread-safe once
  // create() returned: probes_ no longer changes).
  uint64_t total_program_runs() const;

  LiveOptions options_;
  otlp::ebpf::InternTable interned_;
  otlp::ebpf::ProcessTable processes_;
  otlp::ebpf::ClockReference clock_;
  std::string recording_id_;
  otlp::ebpf::EventDecoder decoder_;
  otlp::ebpf::RingBufferDrain drain_;
  struct Probe {
    std::string name;
    std::unique_ptr<otlp::ebpf::KernelProbe> probe;
    std::unique_ptr<otlp::ebpf::LossCounter> losses;
    std::function<otlp::ebpf::Result<void>()> attach;  // borrows `probe`
  };
  std::vector<Probe> probes_;
  uint64_t ring_bytes_ = 0;  // sum of the probes' ring sizes
  std::unique_ptr<BpfStatsSampler> stats_sampler_;
  uint64_t stopped_ns_ = 0;  // when stop() detached the programs: the stats' end
  bool stopped_ = false;
  bool paused_ = false;
  uint64_t events_ = 0;
  uint64_t lost_ = 0;
  static constexpr uint64_t kLossCollectIntervalNs = 100'000'000;
  uint64_t losses_collected_ns_ = 0;
  otlp::ebpf::LatencyHistogram latency_;
  // Keeps the drain thread (the one calling next()) off the CPUs it is busy recording; made on
  // the first next(), from that thread's affinity. Null when the affinity cannot be read.
  std::unique_ptr<DrainPlacement> placement_;
  bool placement_tried_ = false;
  uint64_t placement_moves_ = 0;
  // Records delivered per ring, and of them while the BPF stats ran: how sampled counters are
  // scaled (BpfStatsSampler).
  std::array<uint64_t, otlp::ebpf::transport::kRingCount> ring_records_{};
  std::array<uint64_t, otlp::ebpf::transport::kRingCount> ring_records_measured_{};
  otlp::ebpf::tape::ProcessUpdateTracker process_records_;
  std::set<uint32_t> known_pids_;                  // read from /proc (or seen forking) once
  std::set<std::pair<uint32_t, uint32_t>> seen_stacks_;  // (pid, stack id) already resolved
  SymbolCollector symbols_;
  NewSymbols pending_symbols_;
  NewSymbols all_symbols_;
  uint64_t first_event_ns_ = 0;
  uint64_t last_event_ns_ = 0;
};

}  // namespace bpftape::record
