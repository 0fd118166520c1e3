// LiveSource: the kernel as an EventSource. Composes the units of a live recording:
//  - ProbeSet (recorder/probe_set.h): bpftape's BPF probes, their loss counters and BPF stats;
//  - RingBufferDrain + EventDecoder (bpf/ring_drain.h): the rings drained into event batches;
//  - ProcessTracker (recorder/process_tracker.h): the process table, from /proc and events;
//  - StackSymbols (recorder/stack_symbols.h): stack frames named while the processes exist;
//  - DrainThreadPlacement (recorder/drain_placement.h): the drain thread off busy CPUs;
// plus the delivery-latency histogram. next(Delivery&) hands over everything new in one value
// (recorder/delivery.h) for the recorder's sinks; next(EventBatch&) only the events, as every
// EventSource (the rest stays pending for take_symbols()).
//
// Single-threaded: create, then call next() in a loop from one thread.
// Lifetime: the InternTable, process table and probes live as long as the source; ids in
// delivered events refer to interned(). stop() detaches every probe; next() then delivers
// what is still in the rings and returns false once they are empty.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bpf/event_decoder.h"
#include "bpf/ring_drain.h"
#include "core/event_source.h"
#include "core/tape/types.h"
#include "core/tracers/latency_histogram.h"
#include "recorder/delivery.h"
#include "recorder/drain_placement.h"
#include "recorder/live_options.h"
#include "recorder/probe_set.h"
#include "recorder/process_tracker.h"
#include "recorder/stack_symbols.h"

namespace bpftape::record {

class LiveSource : public otlp::ebpf::EventSource {
 public:
  // Loads and attaches every selected probe. InsufficientPermissions when not privileged.
  static otlp::ebpf::Result<std::unique_ptr<LiveSource>> create(const LiveOptions& options);
  ~LiveSource() override;

  // Waits for records (RingBufferDrain::paced_drain: at most the idle timeout), then delivers
  // everything the rings hold, sorted by timestamp, with the loss records of the interval, the
  // process records that changed and the symbols learned. An empty delivery is normal (nothing
  // happened). Returns false only after stop(), once the rings are empty.
  otlp::ebpf::Result<bool> next(Delivery& delivery);
  // The same, events and losses only: process records and symbols stay pending (the process
  // table is processes(), symbols come out through take_symbols()).
  otlp::ebpf::Result<bool> next(otlp::ebpf::EventBatch& batch) override;
  // Makes a next() under way in another thread return promptly (RingBufferDrain::
  // interrupt_wait); the one member safe to call concurrently with next().
  void interrupt_wait() { drain_.interrupt_wait(); }
  const otlp::ebpf::InternTable& interned() const override { return interned_; }
  const otlp::ebpf::ProcessTable& processes() const override { return processes_.processes(); }
  otlp::ebpf::ClockReference clock() const override { return clock_; }
  std::string recording_id() const override { return recording_id_; }

  // Detaches every probe: no new records; what is in the rings is still delivered.
  void stop() { probes_->stop(); }
  bool stopped() const { return probes_->stopped(); }
  // Detaches every probe (no cost while paused; what the kernel produced meanwhile is lost by
  // design, not counted) / attaches them again. No-ops when already in that state or stopped.
  otlp::ebpf::Result<void> pause() { return probes_->pause(); }
  otlp::ebpf::Result<void> resume() { return probes_->resume(); }
  bool paused() const { return probes_->paused(); }
  // Switches the kernel-side tracing of one syscall number (the syscall probe's filter map): a
  // disabled syscall costs its raw tracepoint's early exit and never reaches the ring.
  // NotSupported when the syscall probe was not loaded.
  otlp::ebpf::Result<void> set_syscall_traced(uint32_t nr, bool enabled) {
    return probes_->set_syscall_traced(nr, enabled);
  }

  // Symbols learned since the last delivery or take (next(EventBatch&) leaves them pending).
  NewSymbols take_symbols() { return symbols_.take(); }
  // Everything handed over so far (for live outputs: name frames as a replay would).
  const NewSymbols& all_symbols() const { return symbols_.all(); }
  // Every program's cumulative run time and count (kernel BPF stats, scaled when sampled).
  otlp::ebpf::tape::BpfStatsSnapshot bpf_stats() const { return probes_->bpf_stats(); }
  std::vector<otlp::ebpf::tape::ProbeInfo> probes() const { return probes_->probes(); }
  std::vector<otlp::ebpf::MemoryProbe::Placement> uprobe_placements() const {
    return probes_->uprobe_placements();
  }

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

  otlp::ebpf::InternTable interned_;
  otlp::ebpf::ClockReference clock_;
  std::string recording_id_;
  otlp::ebpf::EventDecoder decoder_;
  otlp::ebpf::RingBufferDrain drain_;
  // Declared before processes_, which borrows it as its AddressSpaceWatcher.
  StackSymbols symbols_;
  ProcessTracker processes_;
  std::unique_ptr<ProbeSet> probes_;  // set by create(); detached before the rest goes
  DrainThreadPlacement placement_;
  otlp::ebpf::LatencyHistogram latency_;
  uint64_t events_ = 0;
  uint64_t first_event_ns_ = 0;
  uint64_t last_event_ns_ = 0;
};

}  // namespace bpftape::record
