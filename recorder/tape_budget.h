// `record --max-size SIZE` as a bound on the file: the closed tape is never bigger than SIZE.
//
// The writer's size so far (TapeWriter::Stats::bytes_written) is not enough: events wait in the
// open frame, frames wait for the compression thread, interned strings and stacks wait for the
// next events frame, and close() still appends the final BPF stats, the index and the trailer.
// None of these is visible from outside the writer, so the budget bounds each from what the
// recorder handed over and the writer's options: every frame on disk is at most frame_bytes of
// payload plus the largest single entry, times a factor for Cap'n Proto's framing, plus zstd's
// worst case on incompressible data; at most queued_frames + 2 such frames are in flight at any
// moment. Before each batch is written, the recorder asks how much of it fits under that worst
// case; the recording stops at the first batch that does not fit whole (its prefix that fits is
// written). The price of a worst-case bound: the tape ends short of SIZE, by a few frames
// (configure() makes frames small for small budgets; ~3% of SIZE at 100M).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/event.h"
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
  // max_bytes / 256 (1 KiB to 1 MiB) and a shorter compression queue for budgets under 16 MiB.
  static void configure(uint64_t max_bytes, otlp::ebpf::tape::WriterOptions* options);

  // `options`: what the writer was created with (after configure()).
  TapeBudget(uint64_t max_bytes, const otlp::ebpf::tape::WriterOptions& options);

  uint64_t max_bytes() const { return max_bytes_; }

  // How many of `batch`'s events can be written now, after `processes` and `symbols` (which
  // come first) and the batch's losses, so that the tape closed afterwards stays within the
  // budget: all of them, a prefix, or nullopt when not even the rest fits (write nothing of it).
  // `written`: the writer's stats now; `interns`: the source's table (entries added since the
  // previous call are measured); `bpf_stats`: the latest snapshot (two more are written: a
  // periodic one and the final one).
  std::optional<size_t> events_that_fit(const otlp::ebpf::tape::TapeWriter::Stats& written,
                                        const otlp::ebpf::InternTable& interns,
                                        std::span<const otlp::ebpf::tape::ProcessInfo> processes,
                                        const NewSymbols& symbols,
                                        const otlp::ebpf::EventBatch& batch,
                                        const otlp::ebpf::tape::BpfStatsSnapshot& bpf_stats);
  // The caller appended this many events (and losses) to the writer.
  void appended(size_t items) { items_since_flush_ += items; }
  // The caller's TapeWriter::flush() succeeded: interned entries measured so far were handed
  // to the writer when events were appended since the previous flush.
  void flushed();

 private:
  // Bound on the bytes `raw` payload bytes take on disk, split into frames of frame_bytes_.
  uint64_t on_disk(uint64_t raw) const;

  uint64_t max_bytes_;
  uint64_t frame_bytes_;
  uint64_t frames_in_flight_;  // queue + the frame being compressed + the open events frame
  uint64_t largest_entry_;     // raw bound of the largest single entry handed over so far
  uint32_t strings_seen_ = 0;  // interned ids measured so far
  uint32_t stacks_seen_ = 0;
  uint64_t interned_pending_ = 0;  // raw bound of interned entries not yet handed to the writer
  uint64_t items_since_flush_ = 0;
};

}  // namespace bpftape::record
