// `record --max-size SIZE` as a bound on the file: the closed tape is never bigger than SIZE.
//
// The writer's size so far (TapeWriter::Stats::bytes_written) is not enough: events wait in the
// open frame, frames may wait for a compression thread, interned strings and stacks wait for
// the next events frame, and close() still appends the final BPF stats, the index and the
// trailer. None of these is visible from outside the writer, so the budget bounds each from
// what the recorder handed over and the writer's options: a frame on disk is at most a few
// times frame_bytes of payload plus its largest entry plus Cap'n Proto's framing, compressed
// with zstd's worst case on incompressible data. Before each batch the recorder asks how much
// of it fits under that worst case; when not all of it does, it flushes the writer (after
// which, with a synchronous writer, bytes_written is exact) and asks again, writing what fits,
// until not one more event does: then the recording stops. configure() makes the writer
// synchronous for that reason, and its frames small for small budgets. The tape then ends
// within a few frames' worst case of SIZE (~20 KiB plus one frame).
//
// One thing is not bounded in advance: the strings and stacks the source interns while
// decoding a batch exist before the budget sees the batch, and close() writes every interned
// entry. The budget keeps twice the largest such growth seen so far in reserve; a batch that
// suddenly interns more than that (a burst of new stacks) can pass SIZE by the excess.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/intern_table.h"
#include "core/tape/writer.h"
#include "recorder/symbol_collector.h"

namespace bpftape::record {

class TapeBudget {
 public:
  // The smallest --max-size accepted: a tape's header and metadata (~1-2 KiB), the reserve for
  // the final BPF stats, index and trailer, and room for the frames in flight and some events.
  static constexpr uint64_t kMinimumBytes = 64 * 1024;

  // Writer options that keep the worst case small next to `max_bytes`: frames of about
  // max_bytes / 256 (4 KiB to 1 MiB: smaller ones cost more in per-frame framing than they save),
  // written synchronously (no frames queued for a worker: the drain loop pays a frame's
  // compression, a few ms for 1 MiB, once per frame).
  static void configure(uint64_t max_bytes, otlp::ebpf::tape::WriterOptions* options);

  // `options`: what the writer was created with (after configure()).
  TapeBudget(uint64_t max_bytes, const otlp::ebpf::tape::WriterOptions& options);

  uint64_t max_bytes() const { return max_bytes_; }

  // How many of `events` events can be written now, after `processes` and `symbols` (which
  // come first) and `losses` loss records, so that the tape closed afterwards stays within the
  // budget: all of them, fewer, or nullopt when not even the rest fits (write nothing of it).
  // `written`: the writer's stats now; `interns`: the source's table (entries added since the
  // previous call are measured); `bpf_stats`: the latest snapshot (two more are written: a
  // periodic one and the final one).
  std::optional<size_t> events_that_fit(const otlp::ebpf::tape::TapeWriter::Stats& written,
                                        const otlp::ebpf::InternTable& interns,
                                        std::span<const otlp::ebpf::tape::ProcessInfo> processes,
                                        const NewSymbols& symbols, size_t losses, size_t events,
                                        const otlp::ebpf::tape::BpfStatsSnapshot& bpf_stats);
  // The caller appended this many events (and losses) to the writer.
  void appended(size_t items) { items_since_flush_ += items; }
  // The caller's TapeWriter::flush() succeeded: the open events frame was handed over, and
  // with it the interned entries measured so far when events were appended since the previous
  // flush.
  void flushed();
  // Whether a flush() would make the bound tighter (something is pending in the writer).
  bool flush_helps() const { return items_since_flush_ > 0; }

 private:
  // Bound on the bytes `raw` payload bytes take on disk, split into frames of frame_bytes_.
  uint64_t on_disk(uint64_t raw) const;

  uint64_t max_bytes_;
  uint64_t frame_bytes_;
  uint64_t queued_frames_;     // frames a compression thread may hold (0: synchronous writer)
  uint64_t largest_entry_;     // raw bound of the largest single entry handed over so far
  uint32_t strings_seen_ = 0;  // interned ids measured so far
  uint32_t stacks_seen_ = 0;
  uint64_t interned_pending_ = 0;  // raw bound of interned entries not yet handed to the writer
  uint64_t items_since_flush_ = 0;
  // The most one decode interned: the reserve for the next batch's entries, which exist (and
  // are written at close) before the budget can refuse the batch.
  uint64_t largest_interned_growth_ = 0;
};

}  // namespace bpftape::record
