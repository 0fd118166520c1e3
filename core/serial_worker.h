// SerialWorker<Job>: one background thread that handles jobs one at a time, in the order they
// were queued, behind a bounded queue. The tape writer's compression thread, the OTLP sender,
// AsyncEventProcessor and the tape reader's decoders are each one of these.
//
// Capacity: the jobs waiting (not the one being handled) are counted in weight units, 1 per job
// unless the caller says otherwise (AsyncEventProcessor counts events). push() blocks while the
// waiting jobs weigh `capacity` or more (backpressure); try_push() refuses instead, for callers
// that count what they drop. A job heavier than the whole capacity waits for an empty queue.
//
// Errors: the first error a handler returns sticks; push() returns it from then on, and
// error() reports it. What becomes of the jobs still waiting is the owner's choice (OnError):
// Stop drops them unhandled (a tape must stay a readable prefix: nothing after a failed frame),
// Continue handles them (each is independent, e.g. one OTLP request after another).
//
// Lifetime and threads: any number of threads may push. The handler runs on the worker thread
// only and must not call back into its worker. close() (also run by the destructor) handles
// what is waiting — unless an error stopped the worker — and joins the thread; jobs dropped
// unhandled are destroyed then, on the closing thread. Objects a handler uses must outlive the
// worker: declare the worker after them, or close() it first.
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "core/error.h"

namespace otlp::ebpf {

template <typename Job>
class SerialWorker {
 public:
  enum class OnError { Stop, Continue };
  struct Options {
    size_t capacity = 1;  // weight units waiting before push() blocks; at least 1
    OnError on_error = OnError::Stop;
    // Added to the worker thread's nice value: throughput work (compression) beside latency
    // work (the recorder's drain loop) on a shared CPU must yield at once. Best effort.
    int nice_increment = 0;
  };
  using Handler = std::function<Result<void>(Job&)>;

  // Starts the thread. An error (not an exception) when no thread can be had, e.g. under an
  // address-space limit: callers may then do the work inline.
  static Result<std::unique_ptr<SerialWorker>> start(Options options, Handler handler) {
    if (options.capacity == 0) {
      return make_error(ErrorKind::ConfigError, "a worker's queue capacity must be at least 1");
    }
    std::unique_ptr<SerialWorker> worker(new SerialWorker(options, std::move(handler)));
    try {
      worker->thread_ = std::thread([raw = worker.get()] { raw->run(); });
    } catch (const std::system_error& e) {
      return make_error(ErrorKind::Io, std::string("cannot start a worker thread: ") + e.what());
    }
    return worker;
  }

  ~SerialWorker() { (void)close(); }
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  // Queues `job`, blocking while the queue is full. Fails once the worker is closed, or with
  // the first handler error.
  Result<void> push(Job job, size_t weight = 1) {
    std::unique_lock lock(mutex_);
    BPFTAPE_RETURN_IF_ERROR(wait_for_room(lock, weight));
    enqueue(lock, std::move(job), weight);
    return {};
  }

  // Like push(), but first offers the work to the newest waiting job: `append(Job&)` returns
  // whether it took the work in (within the capacity); else `make()` builds a new job. Many
  // small pushes (single events) then cost no allocation each.
  template <typename Append, typename Make>
  Result<void> push_or_append(size_t weight, Append&& append, Make&& make) {
    std::unique_lock lock(mutex_);
    BPFTAPE_RETURN_IF_ERROR(wait_for_room(lock, weight));
    if (!waiting_.empty() && append(waiting_.back().job)) {
      waiting_.back().weight += weight;
      waiting_weight_ += weight;
      lock.unlock();
      work_ready_.notify_one();
      return {};
    }
    enqueue(lock, make(), weight);
    return {};
  }

  // Never blocks: queues the job when there is room now and returns true; else returns false
  // and leaves `job` as it was (full, closed, or stopped by an error).
  bool try_push(Job& job, size_t weight = 1) {
    std::unique_lock lock(mutex_);
    if (closing_ || stopped_by_error() || !has_room(weight)) return false;
    enqueue(lock, std::move(job), weight);
    return true;
  }

  // Handles what is waiting (unless an error stopped the worker), then ends the thread.
  // Idempotent. Returns the first handler error, if any.
  Result<void> close() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    work_ready_.notify_all();
    room_ready_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::deque<Waiting> dropped;
    std::lock_guard lock(mutex_);
    dropped.swap(waiting_);  // destroyed after the lock is released
    waiting_weight_ = 0;
    if (error_) return std::unexpected(*error_);
    return {};
  }

  std::optional<EbpfError> error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  struct Waiting {
    Job job;
    size_t weight;
  };

  SerialWorker(Options options, Handler handler)
      : options_(options), handler_(std::move(handler)) {}

  bool stopped_by_error() const { return error_ && options_.on_error == OnError::Stop; }
  bool has_room(size_t weight) const {
    return waiting_.empty() || waiting_weight_ + weight <= options_.capacity;
  }

  Result<void> wait_for_room(std::unique_lock<std::mutex>& lock, size_t weight) {
    room_ready_.wait(lock, [&] { return closing_ || stopped_by_error() || has_room(weight); });
    if (error_) return std::unexpected(*error_);
    if (closing_) return make_error(ErrorKind::Io, "the worker is closed: no more work is accepted");
    return {};
  }

  void enqueue(std::unique_lock<std::mutex>& lock, Job&& job, size_t weight) {
    waiting_.push_back(Waiting{std::move(job), weight});
    waiting_weight_ += weight;
    lock.unlock();  // the woken worker does not then block on the mutex held here
    work_ready_.notify_one();
  }

  void run() {
    if (options_.nice_increment != 0) {
      const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
      errno = 0;
      const int nice = ::getpriority(PRIO_PROCESS, tid);
      if (errno == 0) (void)::setpriority(PRIO_PROCESS, tid, std::min(19, nice + options_.nice_increment));
    }
    for (;;) {
      std::optional<Waiting> taken;
      {
        std::unique_lock lock(mutex_);
        work_ready_.wait(lock, [&] { return closing_ || !waiting_.empty(); });
        if (waiting_.empty()) return;  // closing, and nothing is left to do
        taken.emplace(std::move(waiting_.front()));
        waiting_.pop_front();
        waiting_weight_ -= taken->weight;
      }
      room_ready_.notify_all();
      Result<void> handled = handler_(taken->job);
      taken.reset();  // the job's resources go before the next one is taken
      if (handled) continue;
      std::lock_guard lock(mutex_);
      if (!error_) error_ = handled.error();
      if (options_.on_error == OnError::Stop) {
        room_ready_.notify_all();  // blocked producers learn of the error
        return;
      }
    }
  }

  const Options options_;
  const Handler handler_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable room_ready_;
  std::deque<Waiting> waiting_;         // guarded by mutex_
  size_t waiting_weight_ = 0;           // guarded by mutex_
  bool closing_ = false;                // guarded by mutex_
  std::optional<EbpfError> error_;      // guarded by mutex_; the first handler error
  std::thread thread_;                  // last: started once everything above exists
};

}  // namespace otlp::ebpf
