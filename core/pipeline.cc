#include "core/pipeline.h"

#include "core/saturating.h"

namespace otlp::ebpf {

Result<std::unique_ptr<Pipeline>> Pipeline::create(PipelineOptions options) {
  BPFTAPE_ASSIGN_OR_RETURN(EventProcessor processor,
                           EventProcessor::with_batch_size(options.buffer_size,
                                                           options.batch_size));
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(options), std::move(processor)));
}

Pipeline::Pipeline(PipelineOptions options, EventProcessor processor)
    : options_(std::move(options)),
      sorter_(options_.reorder_window_ns),
      processor_(std::move(processor)) {
  processor_.set_filter(options_.filter);
  // `this` is stable: Pipeline is neither copyable nor movable.
  processor_.set_sink([this](std::span<const EbpfEvent> events) { return deliver(events); });
}

Result<void> Pipeline::deliver(std::span<const EbpfEvent> events) {
  for (Aggregator* aggregator : aggregators_) aggregator->consume(events, *interned_);
  return {};
}

Result<void> Pipeline::process(const EventBatch& batch, const InternTable& interned) {
  interned_ = &interned;
  ++batches_;
  source_events_ += batch.events.size();
  for (const auto& loss : batch.losses) {
    ++losses_.records;
    saturating_accumulate(losses_.events_lost, loss.count);  // counts come from tapes
    saturating_accumulate(losses_.lost_by_cpu[loss.cpu], loss.count);
  }
  if (!batch.losses.empty()) {
    for (Aggregator* aggregator : aggregators_) aggregator->consume_losses(batch.losses);
  }
  Result<void> status;
  sorter_.push(batch.events, to_processor(status));
  return status;
}

Sorter::Emit Pipeline::to_processor(Result<void>& status) {
  // The sorter's spans go straight into the processor (no copy in between); every span is
  // processed even after a sink error, which is kept (the first one) and returned.
  return [this, &status](std::span<const EbpfEvent> events) {
    if (auto r = processor_.process_batch(events); !r && status) status = std::unexpected(r.error());
  };
}

Result<void> Pipeline::finish(const InternTable& interned) {
  interned_ = &interned;
  Result<void> status;
  sorter_.flush(to_processor(status));
  BPFTAPE_RETURN_IF_ERROR(status);
  return processor_.flush_to_sink();
}

Result<void> Pipeline::advance_to(uint64_t now_ns, const InternTable& interned) {
  interned_ = &interned;
  const uint64_t window = options_.reorder_window_ns;
  Result<void> status;
  sorter_.release_up_to(now_ns > window ? now_ns - window : 0, to_processor(status));
  BPFTAPE_RETURN_IF_ERROR(status);
  return processor_.flush_to_sink();
}

Result<void> Pipeline::run(EventSource& source) {
  EventBatch batch;
  for (;;) {
    BPFTAPE_ASSIGN_OR_RETURN(bool more, source.next(batch));
    if (!more) break;
    BPFTAPE_RETURN_IF_ERROR(process(batch, source.interned()));
  }
  return finish(source.interned());
}

PipelineStats Pipeline::stats() const {
  return PipelineStats{batches_, source_events_, sorter_.stats(), processor_.stats(), losses_};
}

}  // namespace otlp::ebpf
