// TapeSink: deliveries into a tape. Each delivery's process records and symbols are written
// before its events, so a reader that stops at any frame can name everything before it.
//
// With a TapeBudget (record --max-size) it asks, before each delivery, how much of it fits
// under the worst case of the closed tape; a delivery that does not fit whole is cut at a point
// in time (events are sorted), the delivery's batch is trimmed to what was written (a pipeline
// fed after this sink sees only what the tape holds), and the sink is full(): it writes
// nothing more but the final BPF stats and the close. The recording then stops.
//
// Crash safety is the caller's timer: flush() hands the open frame to the file.
// Lifetime: writer, budget and interned are borrowed and must outlive the sink.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>

#include "core/error.h"
#include "core/intern_table.h"
#include "core/tape/writer.h"
#include "recorder/delivery.h"
#include "recorder/tape_budget.h"

namespace bpftape::record {

class TapeSink {
 public:
  // budget: may be null (no bound). interned: the table the writer was created with (the
  // budget measures what each batch adds to it). bpf_stats: the latest snapshot, asked only
  // with a budget (its size is part of what close() still writes).
  TapeSink(otlp::ebpf::tape::TapeWriter& writer, TapeBudget* budget,
           const otlp::ebpf::InternTable& interned,
           std::function<otlp::ebpf::tape::BpfStatsSnapshot()> bpf_stats);

  // Writes the delivery (process records, symbols, then the batch); trims delivery.batch to
  // what was written when the budget cut it. Nothing once full(). A write error is returned
  // (the tape keeps what was written before it).
  otlp::ebpf::Result<void> consume(Delivery& delivery);
  // The open events frame to the file (the crash-safety flush). No-op once full().
  otlp::ebpf::Result<void> flush();
  // A periodic BPF stats frame. No-op once full() (the budget keeps room for the final one).
  otlp::ebpf::Result<void> write_bpf_stats(const otlp::ebpf::tape::BpfStatsSnapshot& stats);
  // The final BPF stats, the index and the trailer. Also after an error: a failed writer
  // reports it again, anything else still closes the tape properly.
  otlp::ebpf::Result<void> close(const otlp::ebpf::tape::BpfStatsSnapshot& final_stats);

  bool full() const { return full_; }
  uint64_t bytes_written() const { return writer_.stats().bytes_written; }

 private:
  // How many of `events` fit after the rest (nullopt: not even the rest); when not all, the
  // writer is flushed first (its size is then exact) and the budget asked again.
  otlp::ebpf::Result<std::optional<size_t>> fitting(
      std::span<const otlp::ebpf::tape::ProcessInfo> processes, const NewSymbols& symbols,
      size_t losses, size_t events);
  // Near the budget: appends what fits of `batch`, flushes, asks again, until not one more
  // event fits. Trims the batch to what was written; full() when that is not all of it.
  otlp::ebpf::Result<void> append_cut(otlp::ebpf::EventBatch& batch, size_t fit);

  otlp::ebpf::tape::TapeWriter& writer_;
  TapeBudget* budget_;
  const otlp::ebpf::InternTable& interned_;
  std::function<otlp::ebpf::tape::BpfStatsSnapshot()> bpf_stats_;
  bool full_ = false;
};

}  // namespace bpftape::record
