#include "recorder/tape_sink.h"

namespace bpftape::record {

using namespace otlp::ebpf;

TapeSink::TapeSink(tape::TapeWriter& writer, TapeBudget* budget, const InternTable& interned,
                   std::function<tape::BpfStatsSnapshot()> bpf_stats)
    : writer_(writer), budget_(budget), interned_(interned), bpf_stats_(std::move(bpf_stats)) {}

Result<std::optional<size_t>> TapeSink::fitting(std::span<const tape::ProcessInfo> processes,
                                                const NewSymbols& symbols, size_t losses,
                                                size_t events) {
  auto ask = [&] {
    return budget_->events_that_fit(writer_.stats(), interned_, processes, symbols, losses, events,
                                    bpf_stats_());
  };
  std::optional<size_t> fit = ask();
  if ((!fit || *fit < events) && budget_->flush_helps()) {
    BPFTAPE_RETURN_IF_ERROR(writer_.flush());
    budget_->flushed();
    fit = ask();
  }
  return fit;
}

Result<void> TapeSink::consume(Delivery& delivery) {
  if (full_) return {};
  EventBatch& batch = delivery.batch;
  std::optional<size_t> fit = batch.events.size();
  if (budget_) {
    BPFTAPE_ASSIGN_OR_RETURN(fit, fitting(delivery.processes, delivery.symbols,
                                          batch.losses.size(), batch.events.size()));
    if (!fit) {
      full_ = true;
      batch.events.clear();
      batch.losses.clear();
      return {};
    }
  }
  if (!delivery.processes.empty()) {
    BPFTAPE_RETURN_IF_ERROR(writer_.write_processes(delivery.processes));
  }
  const NewSymbols& symbols = delivery.symbols;
  if (!symbols.empty()) BPFTAPE_RETURN_IF_ERROR(writer_.write_symbols(symbols.mappings, symbols.symbols));
  if (*fit < batch.events.size()) return append_cut(batch, *fit);
  if (!batch.empty()) BPFTAPE_RETURN_IF_ERROR(writer_.append(batch));
  if (budget_) budget_->appended(batch.events.size() + batch.losses.size());
  return {};
}

Result<void> TapeSink::append_cut(EventBatch& batch, size_t fit) {
  EventBatch part;
  part.losses = batch.losses;
  size_t done = 0;
  while (fit > 0 || !part.losses.empty()) {
    part.events.assign(batch.events.begin() + done, batch.events.begin() + done + fit);
    BPFTAPE_RETURN_IF_ERROR(writer_.append(part));
    budget_->appended(part.events.size() + part.losses.size());
    done += fit;
    part.losses.clear();
    if (done == batch.events.size()) break;
    BPFTAPE_ASSIGN_OR_RETURN(auto more, fitting({}, {}, 0, batch.events.size() - done));
    if (!more) break;
    fit = *more;
  }
  if (done < batch.events.size()) {
    batch.events.resize(done);
    full_ = true;
  }
  return {};
}

Result<void> TapeSink::flush() {
  if (full_) return {};
  BPFTAPE_RETURN_IF_ERROR(writer_.flush());
  if (budget_) budget_->flushed();
  return {};
}

Result<void> TapeSink::write_bpf_stats(const tape::BpfStatsSnapshot& stats) {
  if (full_) return {};
  return writer_.write_bpf_stats(stats);
}

Result<void> TapeSink::close(const tape::BpfStatsSnapshot& final_stats) {
  BPFTAPE_RETURN_IF_ERROR(writer_.write_bpf_stats(final_stats));
  return writer_.close();
}

}  // namespace bpftape::record
