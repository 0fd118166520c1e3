// Pipeline: source -> Sorter (order) -> EventProcessor (validate, filter, batch) ->
// aggregators, plus loss accounting. The one path every source takes: live recording, tape
// replay and simulation differ only in the EventSource.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "core/event_processor.h"
#include "core/event_source.h"
#include "core/sorter.h"
#include "core/tracers/aggregator.h"

namespace otlp::ebpf {

// Reorder window for recorded streams (live, and replay of their tapes: the same value gives
// the same results). Covers the recorder's drain interval several times over.
inline constexpr uint64_t kDefaultReorderWindowNs = 100'000'000;

struct PipelineOptions {
  size_t buffer_size = 1 << 16;
  size_t batch_size = 4096;
  // 0 for sources that are already in time order (tapes); live/simulated per-CPU streams
  // need a window covering how far apart CPUs drain.
  uint64_t reorder_window_ns = 0;
  EventFilter filter;  // user-set filters (--pid, --type, ...): counted as filtered
};

struct LossSummary {
  uint64_t records = 0;
  uint64_t events_lost = 0;
  std::map<uint16_t, uint64_t> lost_by_cpu;  // ordered: deterministic reports
  bool operator==(const LossSummary&) const = default;
};

struct PipelineStats {
  uint64_t batches = 0;
  uint64_t source_events = 0;  // events the source produced
  SorterStats sorter;
  EventProcessorStats processor;
  LossSummary losses;
};

class Pipeline {
 public:
  static Result<std::unique_ptr<Pipeline>> create(PipelineOptions options);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Aggregators are not owned and must outlive the pipeline; they see delivered events in
  // order, and every loss record.
  void add_aggregator(Aggregator& aggregator) { aggregators_.push_back(&aggregator); }

  // Replaces the user filter; for callers that learn what to filter on from the first batch
  // (e.g. a time window relative to the first event of a tape without an index).
  void set_filter(EventFilter filter) { processor_.set_filter(std::move(filter)); }

  // Pulls `source` to its end, then finish()es.
  Result<void> run(EventSource& source);
  // For push-style callers (the live recorder): one batch at a time, then finish() once.
  Result<void> process(const EventBatch& batch, const InternTable& interned);
  Result<void> finish(const InternTable& interned);
  // Live sources: delivers every held event older than `now_ns` minus the reorder window, and
  // whatever the processor buffered, so aggregations are current although the stream went
  // quiet (nothing newer came to close the window). `now_ns` is the source's clock.
  Result<void> advance_to(uint64_t now_ns, const InternTable& interned);

  PipelineStats stats() const;

 private:
  explicit Pipeline(PipelineOptions options, EventProcessor processor);
  Result<void> deliver(std::span<const EbpfEvent> events);
  // The sorter's output stage: hands each emitted span to the processor, keeping in `status`
  // the first error.
  Sorter::Emit to_processor(Result<void>& status);

  PipelineOptions options_;
  Sorter sorter_;
  EventProcessor processor_;
  std::vector<Aggregator*> aggregators_;
  const InternTable* interned_ = nullptr;  // valid during process()/finish() only
  uint64_t batches_ = 0;
  uint64_t source_events_ = 0;
  LossSummary losses_;
};

}  // namespace otlp::ebpf
