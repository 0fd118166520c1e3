// EventProcessor: the pipeline stage between a source and the tracers.
//
// Contract (what callers may rely on):
// - Order: accepted events leave in the order they arrived, whether through the sink or
//   through flush_events(). Each accepted event leaves exactly once.
// - Validation: events failing validate_event() are rejected, counted per reason, never
//   delivered. pid 0 (the idle task) is valid.
// - Filtering: events not matching the stream filter (set_filter) are counted as filtered.
// - Batching: with a sink set, events are delivered in chunks of exactly batch_size as soon as
//   that many are buffered; flush_to_sink() delivers the remainder. The buffer never holds more
//   than buffer_size events: without a sink, an event that does not fit is refused with
//   RejectReason::BufferFull (counted, and reported to the caller) — never dropped silently.
// - Accounting: received == accepted + filtered + rejected; accepted == delivered + cleared +
//   buffered, at every point between calls.
// Not thread-safe; AsyncEventProcessor is the thread-safe front.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <mutex>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/serial_worker.h"

namespace otlp::ebpf {

// Receives delivered events. The span is valid only during the call. An error keeps the
// events buffered (they are retried on the next delivery) and is returned to the caller.
using EventSink = std::function<Result<void>(std::span<const EbpfEvent>)>;

// A composable predicate over events: by type, by pid, any function, and &&, ||, !.
// Cheap to copy (shared immutable nodes).
class EventFilter {
 public:
  EventFilter();  // matches every event
  static EventFilter all() { return EventFilter(); }
  static EventFilter by_type(EbpfEventType type);
  static EventFilter by_types(std::span<const EbpfEventType> types);
  static EventFilter by_pid(uint32_t pid);
  static EventFilter by_pids(std::span<const uint32_t> pids);
  static EventFilter by_time(uint64_t since_ns, uint64_t until_ns);  // [since, until)
  static EventFilter predicate(std::function<bool(const EbpfEvent&)> fn);

  EventFilter operator&&(const EventFilter& other) const;
  EventFilter operator||(const EventFilter& other) const;
  EventFilter operator!() const;

  bool matches(const EbpfEvent& event) const;
  bool matches_all() const;

 private:
  struct Node;
  explicit EventFilter(std::shared_ptr<const Node> node) : node_(std::move(node)) {}
  std::shared_ptr<const Node> node_;
};

struct EventProcessorStats {
  uint64_t received = 0;   // every event handed to process_event/process_batch
  uint64_t accepted = 0;   // valid, matched the filter, buffered
  uint64_t filtered = 0;   // valid but excluded by the stream filter
  uint64_t rejected = 0;   // invalid, or refused because the buffer was full
  uint64_t delivered = 0;  // left through the sink or flush_events()
  uint64_t cleared = 0;    // discarded by clear()
  uint64_t batches_delivered = 0;  // sink calls that succeeded
  std::array<uint64_t, kRejectReasonCount> rejected_by_reason{};
  uint64_t buffered = 0;   // currently held

  bool operator==(const EventProcessorStats&) const = default;
};

// Counts from one process_batch call.
struct BatchOutcome {
  size_t accepted = 0;
  size_t filtered = 0;
  size_t rejected = 0;
};

class EventProcessor {
 public:
  static constexpr size_t kDefaultBatchSize = 1024;

  // buffer_size >= 1; batch_size in [1, buffer_size]. Defaults batch_size to
  // min(buffer_size, kDefaultBatchSize).
  static Result<EventProcessor> create(size_t buffer_size);
  static Result<EventProcessor> with_batch_size(size_t buffer_size, size_t batch_size);

  void set_sink(EventSink sink) { sink_ = std::move(sink); }
  bool has_sink() const { return static_cast<bool>(sink_); }
  void set_filter(EventFilter filter) { filter_ = std::move(filter); }

  // Rejected events return EventProcessingFailed naming the reason; the stats count them.
  Result<void> process_event(const EbpfEvent& event);
  // Processes every event; invalid or filtered ones are counted and skipped. When the sink
  // fails, the remaining events are still buffered while room lasts (refused and counted as
  // BufferFull after that) and the sink's error is returned.
  Result<BatchOutcome> process_batch(std::span<const EbpfEvent> events);

  // Takes every buffered event (in order) out of the processor, bypassing the sink.
  std::vector<EbpfEvent> flush_events();
  // Delivers every buffered event to the sink (in batch_size chunks, the last one shorter).
  Result<void> flush_to_sink();
  // Discards buffered events; they are counted in stats().cleared.
  void clear();

  // Queries over the buffered events (non-destructive), in arrival order.
  std::vector<EbpfEvent> filter_by_type(EbpfEventType type) const;
  std::vector<EbpfEvent> filter_by_pid(uint32_t pid) const;
  std::vector<EbpfEvent> filter_events(const EventFilter& filter) const;
  template <typename Pred>
    requires std::is_invocable_r_v<bool, Pred, const EbpfEvent&>
  std::vector<EbpfEvent> filter_events(Pred&& pred) const {
    std::vector<EbpfEvent> out;
    for (const auto& e : buffer_) {
      if (pred(e)) out.push_back(e);
    }
    return out;
  }

  std::span<const EbpfEvent> buffered_events() const { return buffer_; }
  size_t buffered() const { return buffer_.size(); }
  size_t buffer_size() const { return buffer_size_; }
  size_t batch_size() const { return batch_size_; }
  const EventProcessorStats& stats() const { return stats_; }

 private:
  EventProcessor(size_t buffer_size, size_t batch_size);
  // Classifies one event; returns true when it was accepted into the buffer.
  bool admit(const EbpfEvent& event, std::optional<RejectReason>* reason);
  // Delivers whole batches while at least batch_size events are buffered.
  Result<void> deliver_full_batches();
  Result<void> deliver_prefix(size_t count);

  size_t buffer_size_;
  size_t batch_size_;
  std::vector<EbpfEvent> buffer_;
  EventSink sink_;
  EventFilter filter_;
  EventProcessorStats stats_;
  RejectReason last_reject_reason_ = RejectReason::UnknownType;
};

// Thread-safe front of an EventProcessor: any number of threads submit events; one worker
// thread (a SerialWorker) owns the processor and calls the sink. Submission blocks while
// `queue_capacity` events are waiting (backpressure, not loss). Per-thread submission order is
// preserved.
class AsyncEventProcessor {
 public:
  static constexpr size_t kDefaultQueueCapacity = 1 << 16;

  static Result<std::unique_ptr<AsyncEventProcessor>> create(
      size_t buffer_size, size_t batch_size, EventSink sink = {}, EventFilter filter = {},
      size_t queue_capacity = kDefaultQueueCapacity);
  ~AsyncEventProcessor();  // close()s

  AsyncEventProcessor(const AsyncEventProcessor&) = delete;
  AsyncEventProcessor& operator=(const AsyncEventProcessor&) = delete;

  // Errors: the processor is closed, or the sink failed earlier (the first sink error sticks).
  Result<void> process_event(const EbpfEvent& event);
  Result<void> process_batch(std::span<const EbpfEvent> events);
  // Resolves once everything submitted before the call has been processed; yields the events
  // still buffered (those not yet delivered to the sink). With a sink, first flushes to it.
  std::future<Result<std::vector<EbpfEvent>>> flush_events_async();
  Result<std::vector<EbpfEvent>> flush_events() { return flush_events_async().get(); }
  // Processes everything queued, delivers the remainder to the sink, stops the worker.
  // Idempotent. Returns the first sink error, if any.
  Result<void> close();

  EventProcessorStats stats() const;

 private:
  using Flushed = std::promise<Result<std::vector<EbpfEvent>>>;
  struct Job {
    std::vector<EbpfEvent> events;   // a run of submitted events
    std::unique_ptr<Flushed> flush;  // or a flush request
  };
  AsyncEventProcessor(EventProcessor processor, size_t queue_capacity);
  Result<void> submit(std::span<const EbpfEvent> events);
  // The worker's handler; publishes the stats before any flush promise is kept, so that a
  // caller that waited on a flush sees state at least as new as the flush.
  Result<void> handle(Job& job);

  const size_t queue_capacity_;
  mutable std::mutex stats_mutex_;
  EventProcessorStats stats_snapshot_;  // guarded by stats_mutex_, refreshed by the worker
  EventProcessor processor_;            // the worker's while it runs; the closer's after
  std::mutex close_mutex_;  // one close() at a time; guards close_error_
  std::optional<EbpfError> close_error_;  // the first error close() found
  std::atomic<bool> closed_{false};  // set by close(): submissions are refused from then on
  std::unique_ptr<SerialWorker<Job>> worker_;  // last: its thread uses everything above
};

}  // namespace otlp::ebpf
