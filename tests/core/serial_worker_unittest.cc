// SerialWorker: order, backpressure, the two error policies, close() and its refusals. Waits
// are on promises the handler keeps, never on time.
#include "core/serial_worker.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <vector>

namespace otlp::ebpf {
namespace {

using Worker = SerialWorker<int>;

// A handler that records the jobs it saw and, while `hold` is set, blocks in its first job
// until release() — so that a test knows exactly what is waiting.
class Recorder {
 public:
  explicit Recorder(bool hold) : hold_(hold) {}
  Result<void> handle(int& job) {
    if (hold_ && seen_.empty()) {
      started_.set_value();
      released_.get_future().wait();
    }
    seen_.push_back(job);
    if (job < 0) return make_error(ErrorKind::Io, "job " + std::to_string(job) + " failed");
    return {};
  }
  void wait_started() { started_.get_future().wait(); }
  void release() { released_.set_value(); }
  const std::vector<int>& seen() const { return seen_; }  // after close()

 private:
  bool hold_;
  std::promise<void> started_, released_;
  std::vector<int> seen_;
};

std::unique_ptr<Worker> start(Recorder& recorder, Worker::Options options) {
  auto worker = Worker::start(options, [&recorder](int& job) { return recorder.handle(job); });
  EXPECT_TRUE(worker.has_value());
  return std::move(*worker);
}

TEST(SerialWorkerTest, HandlesEveryJobOnceInEachProducersOrder) {
  Recorder recorder(false);
  auto worker = start(recorder, {.capacity = 3});
  constexpr int kProducers = 4, kJobs = 500;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(worker->push(p * kJobs + i).has_value());
    });
  }
  for (auto& t : producers) t.join();
  ASSERT_TRUE(worker->close().has_value());
  ASSERT_EQ(recorder.seen().size(), static_cast<size_t>(kProducers * kJobs));
  std::vector<int> last(kProducers, -1);
  for (int job : recorder.seen()) {
    const int p = job / kJobs;
    EXPECT_GT(job % kJobs, last[p]) << "producer " << p << " reordered";
    last[p] = job % kJobs;
  }
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(last[p], kJobs - 1);
}

TEST(SerialWorkerTest, AFullQueueRefusesTryPushUntilTheWorkerMovesOn) {
  Recorder recorder(true);
  auto worker = start(recorder, {.capacity = 2});
  ASSERT_TRUE(worker->push(1).has_value());
  recorder.wait_started();  // job 1 is being handled: the queue is empty
  ASSERT_TRUE(worker->push(2).has_value());
  ASSERT_TRUE(worker->push(3).has_value());
  int fourth = 4;
  EXPECT_FALSE(worker->try_push(fourth));  // two waiting: full
  EXPECT_EQ(fourth, 4);                    // a refused job is left as it was
  recorder.release();
  ASSERT_TRUE(worker->close().has_value());
  EXPECT_EQ(recorder.seen(), (std::vector<int>{1, 2, 3}));
}

TEST(SerialWorkerTest, WeightsCountAgainstTheCapacityAndAHeavyJobWaitsForAnEmptyQueue) {
  Recorder recorder(true);
  auto worker = start(recorder, {.capacity = 10});
  ASSERT_TRUE(worker->push(1).has_value());
  recorder.wait_started();
  int heavy = 2;
  EXPECT_TRUE(worker->try_push(heavy, 25));  // heavier than the capacity, but the queue is empty
  int light = 3;
  EXPECT_FALSE(worker->try_push(light, 1));  // 25 units wait
  recorder.release();
  ASSERT_TRUE(worker->close().has_value());
  EXPECT_EQ(recorder.seen(), (std::vector<int>{1, 2}));
}

TEST(SerialWorkerTest, PushOrAppendJoinsTheNewestWaitingJob) {
  std::vector<std::vector<int>> handled;
  std::promise<void> started, released;
  auto worker = SerialWorker<std::vector<int>>::start(
      {.capacity = 100}, [&](std::vector<int>& job) -> Result<void> {
        if (handled.empty()) {
          started.set_value();
          released.get_future().wait();
        }
        handled.push_back(job);
        return {};
      });
  ASSERT_TRUE(worker.has_value());
  auto& w = **worker;
  auto push = [&](int value) {
    return w.push_or_append(
        1, [&](std::vector<int>& tail) { tail.push_back(value); return true; },
        [&] { return std::vector<int>{value}; });
  };
  ASSERT_TRUE(push(1).has_value());
  started.get_future().wait();  // {1} is being handled; 2, 3, 4 wait as one job
  for (int v : {2, 3, 4}) ASSERT_TRUE(push(v).has_value());
  released.set_value();
  ASSERT_TRUE(w.close().has_value());
  EXPECT_EQ(handled, (std::vector<std::vector<int>>{{1}, {2, 3, 4}}));
}

// Jobs -1 and -3 fail; 2 and -3 are queued while -1 is being handled. Returns the closed worker.
std::unique_ptr<Worker> run_failing_jobs(Recorder& recorder, Worker::OnError policy) {
  auto worker = start(recorder, {.capacity = 5, .on_error = policy});
  EXPECT_TRUE(worker->push(-1).has_value());
  recorder.wait_started();
  EXPECT_TRUE(worker->push(2).has_value());
  EXPECT_TRUE(worker->push(-3).has_value());
  recorder.release();
  auto closed = worker->close();
  EXPECT_FALSE(closed.has_value());
  if (!closed.has_value()) {
    EXPECT_EQ(closed.error().message(), "job -1 failed");  // the first error
  }
  return worker;
}

TEST(SerialWorkerTest, StopDropsWhatWaitsAfterTheFirstErrorAndReportsItEverywhere) {
  Recorder recorder(true);
  auto worker = run_failing_jobs(recorder, Worker::OnError::Stop);
  EXPECT_EQ(recorder.seen(), (std::vector<int>{-1}));  // nothing after the failed job
  auto pushed = worker->push(4);
  ASSERT_FALSE(pushed.has_value());
  EXPECT_EQ(pushed.error().message(), "job -1 failed");
  ASSERT_TRUE(worker->error().has_value());
}

TEST(SerialWorkerTest, ContinueHandlesTheRestAndKeepsTheFirstError) {
  Recorder recorder(true);
  auto worker = run_failing_jobs(recorder, Worker::OnError::Continue);
  EXPECT_EQ(recorder.seen(), (std::vector<int>{-1, 2, -3}));
}

TEST(SerialWorkerTest, CloseHandlesWhatWaitsThenRefusesMoreAndIsIdempotent) {
  Recorder recorder(true);
  auto worker = start(recorder, {.capacity = 5});
  ASSERT_TRUE(worker->push(1).has_value());
  recorder.wait_started();
  ASSERT_TRUE(worker->push(2).has_value());
  std::thread closer([&] { EXPECT_TRUE(worker->close().has_value()); });
  recorder.release();
  closer.join();
  EXPECT_EQ(recorder.seen(), (std::vector<int>{1, 2}));
  EXPECT_TRUE(worker->close().has_value());
  EXPECT_FALSE(worker->push(3).has_value());
  int job = 4;
  EXPECT_FALSE(worker->try_push(job));
}

TEST(SerialWorkerTest, ZeroCapacityIsAConfigError) {
  auto worker = Worker::start({.capacity = 0}, [](int&) -> Result<void> { return {}; });
  ASSERT_FALSE(worker.has_value());
  EXPECT_EQ(worker.error().kind(), ErrorKind::ConfigError);
}

}  // namespace
}  // namespace otlp::ebpf
