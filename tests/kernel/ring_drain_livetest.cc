// RingBufferDrain's paced wait on the live kernel: what ends a sleep in epoll. The idle timeout
// is set far beyond the test's run, so a sleep that nothing ended shows up as a count of zero
// (after the timeout), never as a pass.
#include <sys/syscall.h>
#include <unistd.h>

#include <future>

#include <gtest/gtest.h>

#include "tests/kernel/live_test_util.h"

namespace otlp::ebpf::testing {
namespace {

constexpr uint64_t kNeverNs = 30'000'000'000;  // idle timeout: 30 s

// A syscall probe on one held child, sharing the drain's consumer state, with nothing to record
// until the child is released.
struct SleepingDrain {
  InternTable table;
  EventDecoder decoder{table};
  RingBufferDrain drain{decoder, transport::ConsumerPacing::Options{.idle_timeout_ns = kNeverNs}};
  std::unique_ptr<SyscallProbe> probe;

  void load(pid_t child) {
    auto state_fd = drain.create_consumer_state();
    ASSERT_TRUE(state_fd) << state_fd.error().to_string();
    ProbeOptions options;
    options.filter.tgids = {static_cast<uint32_t>(child)};
    options.consumer_state_fd = *state_fd;
    auto created = SyscallProbe::create(options);
    ASSERT_TRUE(created) << created.error().to_string();
    probe = std::move(*created);
    ASSERT_TRUE(probe->attach());
    ASSERT_TRUE(drain.add_ring(probe->events_fd()));
  }
  // paced_drain() in another thread, as the seeds' tracers' drain thread runs it.
  std::future<size_t> drain_in_background(EventBatch& batch) {
    return std::async(std::launch::async, [this, &batch] {
      auto n = drain.paced_drain(batch);
      return n ? *n : 0;
    });
  }
};

TEST(RingDrainLivetest, InterruptWaitEndsASleepFromAnotherThread) {
  BPFTAPE_REQUIRE_LIVE();
  HeldChild held([] {});
  ASSERT_GT(held.pid(), 0);
  SleepingDrain s;
  ASSERT_NO_FATAL_FAILURE(s.load(held.pid()));
  EventBatch batch;
  auto drained = s.drain_in_background(batch);
  // Whether the thread is in epoll yet or not: the eventfd keeps the interrupt.
  s.drain.interrupt_wait();
  EXPECT_EQ(drained.get(), 0u);
  EXPECT_EQ(s.drain.interrupts(), 1u);
  EXPECT_EQ(s.drain.wakeups(), 0u);
  held.release_and_wait();
}

TEST(RingDrainLivetest, AnInterruptBeforeTheWaitIsNotLost) {
  BPFTAPE_REQUIRE_LIVE();
  HeldChild held([] {});
  ASSERT_GT(held.pid(), 0);
  SleepingDrain s;
  ASSERT_NO_FATAL_FAILURE(s.load(held.pid()));
  s.drain.interrupt_wait();
  s.drain.interrupt_wait();  // two become one: the next wait ends, not the one after
  EventBatch batch;
  auto first = s.drain.paced_drain(batch);
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_EQ(s.drain.interrupts(), 1u);
  held.release_and_wait();
}

TEST(RingDrainLivetest, AnAsleepDrainIsWokenByTheFirstRecord) {
  BPFTAPE_REQUIRE_LIVE();
  // The child must run after the thread announced its sleep, or the drain takes its records
  // awake (sleeps() stays 0). Nothing says when the thread got there: give it time, and retry
  // the rare attempt where that was not enough.
  for (int attempt = 0; attempt < 5; ++attempt) {
    HeldChild held([] { syscall(SYS_getpid); });
    ASSERT_GT(held.pid(), 0);
    SleepingDrain s;
    ASSERT_NO_FATAL_FAILURE(s.load(held.pid()));
    EventBatch batch;
    auto drained = s.drain_in_background(batch);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));
    held.release_and_wait();
    EXPECT_GT(drained.get(), 0u);
    if (s.drain.sleeps() == 0) continue;
    EXPECT_EQ(s.drain.wakeups(), 1u) << "a program ended the sleep, not the idle timeout";
    EXPECT_EQ(s.drain.interrupts(), 0u);
    return;
  }
  FAIL() << "the drain thread never got to sleep before the child ran, in 5 attempts";
}

}  // namespace
}  // namespace otlp::ebpf::testing
