#include "core/event_processor.h"

#include <fmt/format.h>

#include <algorithm>
#include <bitset>
#include <cstddef>
#include <cstring>
#include <unordered_set>

namespace otlp::ebpf {

namespace {

// What validate_event(e) checks, as one boolean and without a branch per check, for the batch
// fast path (an event it calls invalid goes through admit(), where validate_event names the
// reason). Both are derived from the payload field tables (core/payload_fields.h); the property
// test BatchValidationMatchesValidateEvent holds the two together.
inline bool is_valid(const EbpfEvent& e) { return header_rules_hold(e) & payload_rules_hold(e); }

}  // namespace

// ---- EventFilter ----

struct EventFilter::Node {
  enum class Kind { All, Types, Pids, Time, Predicate, And, Or, Not } kind = Kind::All;
  std::bitset<kEventTypeCount> types;
  std::unordered_set<uint32_t> pids;
  uint64_t since_ns = 0;
  uint64_t until_ns = 0;
  std::function<bool(const EbpfEvent&)> fn;
  std::shared_ptr<const Node> left;
  std::shared_ptr<const Node> right;

  bool matches(const EbpfEvent& e) const {
    switch (kind) {
      case Kind::All: return true;
      case Kind::Types: {
        auto index = static_cast<size_t>(e.event_type);
        return index < kEventTypeCount && types.test(index);
      }
      case Kind::Pids: return pids.contains(e.pid);
      case Kind::Time: return e.timestamp_ns >= since_ns && e.timestamp_ns < until_ns;
      case Kind::Predicate: return fn(e);
      case Kind::And: return left->matches(e) && right->matches(e);
      case Kind::Or: return left->matches(e) || right->matches(e);
      case Kind::Not: return !left->matches(e);
    }
    return false;
  }
};

EventFilter::EventFilter() : node_(std::make_shared<const Node>()) {}

EventFilter EventFilter::by_type(EbpfEventType type) {
  return by_types(std::span<const EbpfEventType>(&type, 1));
}

EventFilter EventFilter::by_types(std::span<const EbpfEventType> types) {
  auto node = std::make_shared<Node>();
  node->kind = Node::Kind::Types;
  for (auto type : types) {
    auto index = static_cast<size_t>(type);
    if (index < kEventTypeCount) node->types.set(index);
  }
  return EventFilter(std::move(node));
}

EventFilter EventFilter::by_pid(uint32_t pid) {
  return by_pids(std::span<const uint32_t>(&pid, 1));
}

EventFilter EventFilter::by_pids(std::span<const uint32_t> pids) {
  auto node = std::make_shared<Node>();
  node->kind = Node::Kind::Pids;
  node->pids.insert(pids.begin(), pids.end());
  return EventFilter(std::move(node));
}

EventFilter EventFilter::by_time(uint64_t since_ns, uint64_t until_ns) {
  auto node = std::make_shared<Node>();
  node->kind = Node::Kind::Time;
  node->since_ns = since_ns;
  node->until_ns = until_ns;
  return EventFilter(std::move(node));
}

EventFilter EventFilter::predicate(std::function<bool(const EbpfEvent&)> fn) {
  auto node = std::make_shared<Node>();
  node->kind = Node::Kind::Predicate;
  node->fn = std::move(fn);
  return EventFilter(std::move(node));
}

EventFilter EventFilter::operator&&(const EventFilter& other) const {
  if (matches_all()) return other;
  if (other.matches_all()) return *this;
  auto node = std::make_shared<Node>();
  node->kind = Node::Kind::And;
  node->left = node_;
  node->right = other.node_;
  return EventFilter(std::move(node));
}

EventFilter EventFilter::operator||(const EventFilter& other) const {
  if (matches_all()) return *this;
  if (other.matches_all()) return other;
  auto node = std::make_shared<Node>();
  node->kind = Node::Kind::Or;
  node->left = node_;
  node->right = other.node_;
  return EventFilter(std::move(node));
}

EventFilter EventFilter::operator!() const {
  auto node = std::make_shared<Node>();
  node->kind = Node::Kind::Not;
  node->left = node_;
  return EventFilter(std::move(node));
}

bool EventFilter::matches(const EbpfEvent& event) const { return node_->matches(event); }
bool EventFilter::matches_all() const { return node_->kind == Node::Kind::All; }

// ---- EventProcessor ----

EventProcessor::EventProcessor(size_t buffer_size, size_t batch_size)
    : buffer_size_(buffer_size), batch_size_(batch_size) {
  buffer_.reserve(std::min<size_t>(buffer_size, 1 << 20));
}

Result<EventProcessor> EventProcessor::create(size_t buffer_size) {
  return with_batch_size(buffer_size, std::min(buffer_size, kDefaultBatchSize));
}

Result<EventProcessor> EventProcessor::with_batch_size(size_t buffer_size, size_t batch_size) {
  if (buffer_size == 0) {
    return make_error(ErrorKind::ConfigError, "event buffer size must be at least 1");
  }
  if (batch_size == 0 || batch_size > buffer_size) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("batch size {} is out of range: use 1..{} (the buffer size)",
                                  batch_size, buffer_size));
  }
  return EventProcessor(buffer_size, batch_size);
}

bool EventProcessor::admit(const EbpfEvent& event, std::optional<RejectReason>* reason) {
  ++stats_.received;
  *reason = validate_event(event);
  if (!*reason && buffer_.size() >= buffer_size_) *reason = RejectReason::BufferFull;
  if (*reason) {
    ++stats_.rejected;
    ++stats_.rejected_by_reason[static_cast<size_t>(**reason)];
    return false;
  }
  if (!filter_.matches(event)) {
    ++stats_.filtered;
    return false;
  }
  buffer_.push_back(event);
  ++stats_.accepted;
  stats_.buffered = buffer_.size();
  return true;
}

Result<void> EventProcessor::process_event(const EbpfEvent& event) {
  BPFTAPE_ASSIGN_OR_RETURN(BatchOutcome outcome,
                           process_batch(std::span<const EbpfEvent>(&event, 1)));
  if (outcome.rejected == 0) return {};  // accepted or filtered
  return make_error(ErrorKind::EventProcessingFailed,
                    fmt::format("event rejected: {} (type {}, pid {}, tid {}, ts {})",
                                reject_reason_name(last_reject_reason_),
                                event_type_name(event.event_type), event.pid, event.tid,
                                event.timestamp_ns));
}

Result<BatchOutcome> EventProcessor::process_batch(std::span<const EbpfEvent> events) {
  BatchOutcome outcome;
  // After a sink failure, stop calling the sink for the rest of this call: later events are
  // still buffered while room lasts and counted as BufferFull rejections after that.
  std::optional<EbpfError> sink_error;
  auto sink_usable = [&] { return sink_ && !sink_error; };
  const bool match_all = filter_.matches_all();
  std::optional<RejectReason> reason;
  size_t i = 0;
  while (i < events.size()) {
    if (sink_usable() && buffer_.size() >= buffer_size_) {
      if (auto flushed = flush_to_sink(); !flushed) sink_error = flushed.error();
    }
    // Fast path: the run of events that admit() would accept one by one — valid, matching,
    // with room, and not past the point where a full batch is delivered — copied in one go.
    // The stats and the sink calls are exactly those of the event-by-event path.
    size_t run = std::min(events.size() - i, buffer_size_ - buffer_.size());
    if (sink_usable()) {
      run = std::min(run, buffer_.size() < batch_size_ ? batch_size_ - buffer_.size() : 1);
    }
    size_t n = 0;
    if (match_all) {
      while (n < run && is_valid(events[i + n])) ++n;
    } else {
      while (n < run && is_valid(events[i + n]) && filter_.matches(events[i + n])) ++n;
    }
    if (n > 0) {
      buffer_.insert(buffer_.end(), events.begin() + static_cast<ptrdiff_t>(i),
                     events.begin() + static_cast<ptrdiff_t>(i + n));
      stats_.received += n;
      stats_.accepted += n;
      stats_.buffered = buffer_.size();
      outcome.accepted += n;
      i += n;
      if (sink_usable() && buffer_.size() >= batch_size_) {
        if (auto delivered = deliver_full_batches(); !delivered) sink_error = delivered.error();
      }
      continue;
    }
    // The event the fast path stopped at: rejected, filtered, or refused for lack of room.
    if (admit(events[i], &reason)) {
      ++outcome.accepted;
      if (sink_usable() && buffer_.size() >= batch_size_) {
        if (auto delivered = deliver_full_batches(); !delivered) sink_error = delivered.error();
      }
    } else if (reason) {
      ++outcome.rejected;
      last_reject_reason_ = *reason;
    } else {
      ++outcome.filtered;
    }
    ++i;
  }
  if (sink_error) return std::unexpected(std::move(*sink_error));
  return outcome;
}

Result<void> EventProcessor::deliver_prefix(size_t count) {
  size_t done = 0;
  Result<void> status;
  while (done < count) {
    size_t chunk = std::min(batch_size_, count - done);
    status = sink_(std::span<const EbpfEvent>(buffer_.data() + done, chunk));
    if (!status) break;
    done += chunk;
    stats_.delivered += chunk;
    ++stats_.batches_delivered;
  }
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(done));
  stats_.buffered = buffer_.size();
  return status;
}

Result<void> EventProcessor::deliver_full_batches() {
  if (!sink_ || buffer_.size() < batch_size_) return {};
  return deliver_prefix(buffer_.size() - buffer_.size() % batch_size_);
}

Result<void> EventProcessor::flush_to_sink() {
  if (!sink_) {
    return make_error(ErrorKind::EventProcessingFailed,
                      "flush_to_sink() without a sink: set one with set_sink() or take the "
                      "events with flush_events()");
  }
  return deliver_prefix(buffer_.size());
}

std::vector<EbpfEvent> EventProcessor::flush_events() {
  std::vector<EbpfEvent> out;
  out.swap(buffer_);
  buffer_.reserve(std::min<size_t>(buffer_size_, 1 << 20));
  stats_.delivered += out.size();
  stats_.buffered = 0;
  return out;
}

void EventProcessor::clear() {
  stats_.cleared += buffer_.size();
  buffer_.clear();
  stats_.buffered = 0;
}

std::vector<EbpfEvent> EventProcessor::filter_by_type(EbpfEventType type) const {
  return filter_events([type](const EbpfEvent& e) { return e.event_type == type; });
}

std::vector<EbpfEvent> EventProcessor::filter_by_pid(uint32_t pid) const {
  return filter_events([pid](const EbpfEvent& e) { return e.pid == pid; });
}

std::vector<EbpfEvent> EventProcessor::filter_events(const EventFilter& filter) const {
  return filter_events([&filter](const EbpfEvent& e) { return filter.matches(e); });
}

// ---- AsyncEventProcessor ----

Result<std::unique_ptr<AsyncEventProcessor>> AsyncEventProcessor::create(
    size_t buffer_size, size_t batch_size, EventSink sink, EventFilter filter,
    size_t queue_capacity) {
  if (queue_capacity == 0) {
    return make_error(ErrorKind::ConfigError, "async queue capacity must be at least 1");
  }
  BPFTAPE_ASSIGN_OR_RETURN(EventProcessor processor,
                           EventProcessor::with_batch_size(buffer_size, batch_size));
  processor.set_sink(std::move(sink));
  processor.set_filter(std::move(filter));
  std::unique_ptr<AsyncEventProcessor> async(
      new AsyncEventProcessor(std::move(processor), queue_capacity));
  AsyncEventProcessor* raw = async.get();  // the worker is a member: closed before the rest goes
  // A sink error sticks (submissions fail from then on) but queued flushes still get answers.
  BPFTAPE_ASSIGN_OR_RETURN(
      async->worker_,
      SerialWorker<Job>::start({.capacity = queue_capacity, .on_error = SerialWorker<Job>::OnError::Continue},
                               [raw](Job& job) { return raw->handle(job); }));
  return async;
}

AsyncEventProcessor::AsyncEventProcessor(EventProcessor processor, size_t queue_capacity)
    : queue_capacity_(queue_capacity), processor_(std::move(processor)) {}

AsyncEventProcessor::~AsyncEventProcessor() { (void)close(); }

Result<void> AsyncEventProcessor::process_event(const EbpfEvent& event) {
  return submit(std::span<const EbpfEvent>(&event, 1));
}

Result<void> AsyncEventProcessor::process_batch(std::span<const EbpfEvent> events) {
  return submit(events);
}

Result<void> AsyncEventProcessor::submit(std::span<const EbpfEvent> events) {
  if (closed_) {
    return make_error(ErrorKind::EventProcessingFailed,
                      "AsyncEventProcessor is closed: events can no longer be submitted");
  }
  // Runs of at most the capacity; each joins the newest waiting run when that is one, so that
  // single-event submits do not allocate each.
  while (!events.empty()) {
    const auto run = events.first(std::min(queue_capacity_, events.size()));
    events = events.subspan(run.size());
    auto queued = worker_->push_or_append(
        run.size(),
        [&](Job& tail) {
          if (tail.flush) return false;
          tail.events.insert(tail.events.end(), run.begin(), run.end());
          return true;
        },
        [&] { return Job{std::vector<EbpfEvent>(run.begin(), run.end()), nullptr}; });
    if (!queued) {
      return closed_ ? make_error(ErrorKind::EventProcessingFailed,
                                  "AsyncEventProcessor is closed: events can no longer be submitted")
                     : queued;
    }
  }
  return {};
}

std::future<Result<std::vector<EbpfEvent>>> AsyncEventProcessor::flush_events_async() {
  auto promise = std::make_unique<Flushed>();
  auto future = promise->get_future();
  if (closed_) {
    promise->set_value(make_error(ErrorKind::EventProcessingFailed,
                                  "AsyncEventProcessor is closed: nothing to flush"));
    return future;
  }
  // Weight 0: a flush never waits for room. A refused push (a sink error stuck) answers here.
  Job job{{}, std::move(promise)};
  if (auto queued = worker_->push(std::move(job), 0); !queued) {
    Flushed failed;
    future = failed.get_future();
    failed.set_value(std::unexpected(queued.error()));
  }
  return future;
}

Result<void> AsyncEventProcessor::handle(Job& job) {
  auto publish_stats = [this] {
    std::lock_guard lock(stats_mutex_);
    stats_snapshot_ = processor_.stats();
  };
  if (!job.flush) {
    auto processed = processor_.process_batch(job.events);
    publish_stats();
    if (!processed) return std::unexpected(processed.error());
    return {};
  }
  Result<void> flushed = processor_.has_sink() ? processor_.flush_to_sink() : Result<void>{};
  if (!flushed) {
    publish_stats();
    job.flush->set_value(std::unexpected(flushed.error()));
    return flushed;
  }
  std::vector<EbpfEvent> events = processor_.flush_events();
  publish_stats();
  job.flush->set_value(std::move(events));
  return {};
}

Result<void> AsyncEventProcessor::close() {
  std::lock_guard closing(close_mutex_);
  if (!closed_.exchange(true)) {
    Result<void> drained = worker_->close();
    // The worker's thread is gone: the processor is this thread's now. Deliver what is left.
    Result<void> flushed = processor_.has_sink() ? processor_.flush_to_sink() : Result<void>{};
    {
      std::lock_guard lock(stats_mutex_);
      stats_snapshot_ = processor_.stats();
    }
    if (!drained) {
      close_error_ = drained.error();
    } else if (!flushed) {
      close_error_ = flushed.error();
    }
  }
  if (close_error_) return std::unexpected(*close_error_);
  return {};
}

EventProcessorStats AsyncEventProcessor::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_snapshot_;
}

}  // namespace otlp::ebpf
