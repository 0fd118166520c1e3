// The recording loop: each LiveSource delivery (recorder/delivery.h) to the sinks — the tape
// (recorder/tape_sink.h: process records and symbols before the events that need them, loss
// records, BPF stats, the --max-size budget) and, optionally, the same Pipeline a replay runs
// (recorder/pipeline_sink.h) — plus the loop's timers: tape flush, BPF stats, live export,
// progress, stop conditions.
//
// Crash safety: the pending events frame is flushed at least every flush_interval_ns, so a
// recorder killed with SIGKILL leaves a tape readable up to about that long before the kill.
// A write error (disk full) stops the recording at once: what was written stays readable.
// --max-size: the first delivery that does not fit whole is cut at a point in time and the
// recording stops ("max size reached"); the pipeline sees only what the tape holds.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/error.h"
#include "recorder/live_source.h"
#include "recorder/pipeline_sink.h"
#include "recorder/tape_sink.h"

namespace bpftape::record {

struct RecordProgress {
  uint64_t elapsed_ns = 0;
  uint64_t events = 0;
  uint64_t lost = 0;
  double events_per_second = 0;  // over the last interval
  uint64_t tape_bytes = 0;
};

struct RecordLoopOptions {
  std::optional<uint64_t> duration_ns;  // stop after this long
  uint64_t flush_interval_ns = 1'000'000'000;
  uint64_t bpf_stats_interval_ns = 10'000'000'000;
  // Polled every iteration (a few ms): a signal arrived, the recorded command exited, ...
  // Returns a reason to stop, or empty to go on.
  std::function<std::string()> stop_requested;
  std::function<void(const RecordProgress&)> on_progress;  // about once a second
  // Live exports (PipelineSink::export_interval, OTLP while recording): about this often,
  // between deliveries. An error ends the recording (like a write error).
  uint64_t export_interval_ns = 10'000'000'000;
};

// What a recording cost and produced: the end-of-recording summary and get_overhead().
struct RecordSummary {
  std::string stop_reason;  // "duration", "max size", "interrupted", "command exited", ...
  uint64_t elapsed_ns = 0;
  uint64_t events = 0;
  uint64_t lost = 0;             // events the kernel could not hand over (ring full)
  uint64_t decode_errors = 0;
  uint64_t tape_bytes = 0;
  uint64_t bpf_run_time_ns = 0;  // sum over bpftape's programs (kernel BPF stats)
  uint64_t bpf_run_count = 0;
  bool bpf_stats_available = false;
  double bpf_stats_share = 1.0;  // of the recording the counters ran; < 1: figures scaled up
  uint64_t recorder_cpu_ns = 0;  // user + system time of this process while recording
  uint64_t setup_cpu_ns = 0;     // ... before: loading the probes (BTF, verifier), kallsyms
  uint64_t peak_rss_bytes = 0;
  uint64_t latency_p50_ns = 0;   // kernel timestamp -> user space, per event
  uint64_t latency_p99_ns = 0;
  uint64_t latency_max_ns = 0;
  uint64_t drains = 0;           // LiveSource::Stats: how the drain loop waited
  uint64_t sleeps = 0;
  uint64_t wakeups = 0;
  uint64_t placement_moves = 0;
  SymbolCollector::Stats symbols;  // how many stack frames were named at record time
  // The memory probe's uprobe sites, "free: +9, after the NULL check (push: emulated)": a
  // single-stepped one costs ~35x an emulated one per call.
  std::vector<std::string> uprobe_placements;
  std::optional<otlp::ebpf::EbpfError> error;  // why the recording ended early, if it did

  // Multi-line human summary (stderr at the end of `bpftape record`).
  std::string describe() const;
};

// Runs until a stop condition, then detaches, drains what is left, closes the tape (with the
// final BPF stats) and finishes the pipeline. `tape` may be null (no tape), `pipeline` may be
// null (no live results). Never throws; errors end up in RecordSummary::error.
RecordSummary run_recording(LiveSource& source, TapeSink* tape, PipelineSink* pipeline,
                            const RecordLoopOptions& options);

// Host facts for the tape's metadata (hostname, kernel release, boot id, CPUs, page size) plus
// the source's clock reference, probes and recording id.
otlp::ebpf::tape::TapeMetadata live_metadata(const LiveSource& source,
                                             const otlp::ebpf::EbpfConfig& config,
                                             std::vector<std::string> command);

}  // namespace bpftape::record
