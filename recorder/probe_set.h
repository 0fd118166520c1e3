// ProbeSet: the BPF probes one recording runs (bpf/kernel_probes.h), as one unit: loads the
// selected ones, attaches, detaches, pauses and resumes them together, reads their loss
// counters, and reports their programs (the tape's probe table; run time and counts from the
// kernel's BPF stats, which BpfStatsSampler keeps on only while affordable and this scales).
//
// Lifetime: owns the probes (their skeletons, links, rings and loss counters) and the stats
// sampler; detaches everything when destroyed. Single-threaded except where noted.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/kernel_probes.h"
#include "bpf/ring_drain.h"
#include "core/event.h"
#include "core/tape/types.h"
#include "core/transport.h"
#include "recorder/bpf_stats_sampler.h"
#include "recorder/live_options.h"

namespace bpftape::record {

// Records delivered per ring, and of them while the BPF stats ran: what sampled counters are
// scaled by (BpfStatsSampler: activity, not time, is what a program's runs follow).
struct RingRecordCounts {
  std::array<uint64_t, otlp::ebpf::transport::kRingCount> delivered{};
  std::array<uint64_t, otlp::ebpf::transport::kRingCount> measured{};

  void count(otlp::ebpf::EbpfEventType type, bool stats_on) {
    const otlp::ebpf::transport::RingRoute route = otlp::ebpf::transport::ring_route(type);
    if (route.footprint == 0) return;  // came out of another event's record
    const size_t r = static_cast<size_t>(route.ring);
    ++delivered[r];
    if (stats_on) ++measured[r];
  }
};

// The tape's BPF stats from what the kernel counted: `counted` holds each program's counters in
// measured_run_time_ns/measured_run_count, as bpf_prog_info has them. time_scale:
// BpfStatsSampler::scale (1: the counters ran all the time, exact; 0: never measured);
// `sampled` says whether a sampler ran at all. Counters of a program whose ring delivered records while the stats ran are scaled
// by that ring's delivered / measured records instead of by time.
otlp::ebpf::tape::BpfStatsSnapshot scaled_bpf_stats(
    std::span<const otlp::ebpf::tape::BpfProgramStats> counted, double time_scale, bool sampled,
                                                    const RingRecordCounts& rings,
                                                    uint64_t timestamp_ns);

// A program's entry in the tape's probe table from its ELF section name, "kind/target"
// ("raw_tp/sys_exit", "tp_btf/sched_process_exec", "uprobe", "perf_event").
otlp::ebpf::tape::ProbeInfo probe_info(std::string_view program, std::string_view section);

class ProbeSet {
 public:
  // Opens and loads (BTF, verifier: the slow part) every probe `options` selects, process probe
  // first, without attaching any. consumer_state_fd: the drain's consumer state, shared by
  // every probe (programs wake the drain only while it sleeps).
  static otlp::ebpf::Result<std::unique_ptr<ProbeSet>> load(const LiveOptions& options,
                                                            int consumer_state_fd);
  ~ProbeSet();
  ProbeSet(const ProbeSet&) = delete;
  ProbeSet& operator=(const ProbeSet&) = delete;

  // Attaches every probe, in load order, then starts the BPF stats (`mode`). Once.
  otlp::ebpf::Result<void> start(BpfStatsMode mode);
  // The probes' ring buffers (borrowed fds, open while this lives).
  std::vector<int> ring_fds() const;
  // Detaches every probe for good; the BPF stats' time ends now.
  void stop();
  bool stopped() const { return stopped_; }
  // Detach / attach again (no-ops when already in that state, or stopped).
  otlp::ebpf::Result<void> pause();
  otlp::ebpf::Result<void> resume();
  bool paused() const { return paused_; }
  // The syscall probe's per-syscall switch; NotSupported when it was not loaded.
  otlp::ebpf::Result<void> set_syscall_traced(uint32_t nr, bool enabled);

  // Appends a loss record per CPU whose reservation failures grew, stamped now_ns. The
  // counters are a map read (a syscall) per probe: read every kLossCollectIntervalNs, and at
  // every call once stopped, so the last losses are delivered too.
  otlp::ebpf::Result<void> collect_losses(uint64_t now_ns,
                                          std::vector<otlp::ebpf::LossRecord>& out);
  uint64_t lost() const { return lost_; }

  // Whether the BPF stats run right now (tag what is drained with it: RingRecordCounts).
  bool stats_on() const { return stats_sampler_ && stats_sampler_->on(); }
  // Where the drain counts each delivered record (in its one pass over a batch, with the
  // latency and placement counts): what bpf_stats() scales sampled counters by.
  RingRecordCounts& ring_records() { return ring_records_; }
  // Every program's cumulative run time and count, scaled to the whole recording.
  otlp::ebpf::tape::BpfStatsSnapshot bpf_stats() const;
  bool bpf_stats_available() const { return stats_sampler_ && stats_sampler_->available(); }
  double bpf_stats_share() const;  // of the recording the counters ran
  std::vector<otlp::ebpf::tape::ProbeInfo> probes() const;
  uint64_t ring_bytes() const { return ring_bytes_; }
  // Where the memory probe's uprobes were placed (empty without it, or before start()):
  // emulated or single-stepped, the main cost of memory tracing (bpf/uprobe_placement.h).
  std::vector<otlp::ebpf::MemoryProbe::Placement> uprobe_placements() const {
    return memory_ ? memory_->placements() : std::vector<otlp::ebpf::MemoryProbe::Placement>{};
  }

 private:
  ProbeSet() = default;
  struct Probe {
    std::unique_ptr<otlp::ebpf::KernelProbe> probe;
    std::unique_ptr<otlp::ebpf::LossCounter> losses;
    std::function<otlp::ebpf::Result<void>()> attach;  // borrows `probe`
  };
  void add(std::unique_ptr<otlp::ebpf::KernelProbe> probe,
           std::function<otlp::ebpf::Result<void>()> attach);
  // What the kernel counted for every loaded program (measured_* fields only).
  std::vector<otlp::ebpf::tape::BpfProgramStats> program_counters() const;
  // Run counts of every loaded program, summed (BpfStatsSampler's rate; read from its thread:
  // probes_ no longer changes once start() returned).
  uint64_t total_program_runs() const;
  uint64_t now_or_stopped_ns() const;

  static constexpr uint64_t kLossCollectIntervalNs = 100'000'000;
  std::vector<Probe> probes_;
  otlp::ebpf::SyscallProbe* syscalls_ = nullptr;  // in probes_, when loaded
  otlp::ebpf::MemoryProbe* memory_ = nullptr;      // in probes_, when loaded
  uint64_t ring_bytes_ = 0;                         // sum of the probes' ring sizes
  std::unique_ptr<BpfStatsSampler> stats_sampler_;  // made by start()
  RingRecordCounts ring_records_;
  uint64_t stopped_ns_ = 0;  // when stop() detached the programs: the stats' end
  bool stopped_ = false;
  bool paused_ = false;
  uint64_t lost_ = 0;
  uint64_t losses_collected_ns_ = 0;
};

}  // namespace bpftape::record
