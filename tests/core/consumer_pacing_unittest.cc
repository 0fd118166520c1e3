// transport::ConsumerPacing: how the recorder's drain loop (and the capacity model) waits,
// decided from the records each drain found and the time since the previous one.
#include <gtest/gtest.h>

#include "core/transport.h"

namespace otlp::ebpf::transport {
namespace {

using Wait = ConsumerPacing::Wait;
constexpr uint64_t kMs = 1'000'000;

TEST(ConsumerPacing, AWakeupWithOneRecordProbesLazilyThenStreamsAtHighRates) {
  ConsumerPacing p;
  EXPECT_EQ(p.next_wait(), Wait::Asleep);
  // Woken after a 100 ms sleep by one record: 10 records/s, lazy, 1 ms probe.
  EXPECT_EQ(p.after_drain(1, 100 * kMs), Wait::Lazy);
  EXPECT_EQ(p.wait_ns(), 1 * kMs);
  // 100 records in that millisecond: 100 k/s, stream on 50 us ticks.
  EXPECT_EQ(p.after_drain(100, 1 * kMs), Wait::Streaming);
  EXPECT_EQ(p.wait_ns(), 50'000u);
}

TEST(ConsumerPacing, LazyPeriodsDoubleUpToTheCapThenSleep) {
  ConsumerPacing p;
  p.after_drain(1, 100 * kMs);
  uint64_t period = p.wait_ns();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(p.after_drain(1, period), Wait::Lazy);  // 1 record per period: a trickle
    EXPECT_EQ(p.wait_ns(), std::min<uint64_t>(2 * period, 50 * kMs));
    period = p.wait_ns();
  }
  // Nothing in a full-length lazy period: asleep (the next record wakes it at once).
  EXPECT_EQ(p.after_drain(0, 50 * kMs), Wait::Asleep);
  EXPECT_EQ(p.wait_ns(), 100 * kMs);
}

TEST(ConsumerPacing, AnEmptyShortLazyPeriodKeepsWaitingLonger) {
  ConsumerPacing p;
  p.after_drain(1, 100 * kMs);                     // 1 ms probe
  EXPECT_EQ(p.after_drain(0, 1 * kMs), Wait::Lazy);  // nothing yet: 2 ms, not asleep
  EXPECT_EQ(p.wait_ns(), 2 * kMs);
}

TEST(ConsumerPacing, StreamingSurvivesShortGaps) {
  ConsumerPacing p;
  p.after_drain(1, 100 * kMs);
  p.after_drain(100, 1 * kMs);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(p.after_drain(0, 50'000), Wait::Streaming);
  EXPECT_EQ(p.after_drain(5, 50'000), Wait::Streaming);  // the count restarts
  for (int i = 0; i < 3; ++i) EXPECT_EQ(p.after_drain(0, 50'000), Wait::Streaming);
  EXPECT_EQ(p.after_drain(0, 50'000), Wait::Asleep);  // the fourth empty tick in a row
}

TEST(ConsumerPacing, TicksStretchWithTheRateAboveTheCoalescingRate) {
  ConsumerPacing p;
  p.after_drain(1, 100 * kMs);
  p.after_drain(200, 1 * kMs);  // 200 k/s: the coalescing rate, still the base tick
  EXPECT_EQ(p.wait_ns(), 50'000u);
  p.after_drain(40, 50'000);    // 800 k/s: 4x the rate, 4x the tick
  EXPECT_EQ(p.wait_ns(), 200'000u);
  p.after_drain(4000, 200'000);  // 20 M/s: capped at 1 ms
  EXPECT_EQ(p.wait_ns(), 1 * kMs);
  p.after_drain(100, 1 * kMs);    // 100 k/s: back to the base tick
  EXPECT_EQ(p.wait_ns(), 50'000u);
}

TEST(ConsumerPacing, TicksCarryAFewRecordsAtModerateRates) {
  ConsumerPacing p;
  p.after_drain(1, 100 * kMs);
  p.after_drain(50, 1 * kMs);  // 50 k/s: 4 records take 80 us
  EXPECT_EQ(p.next_wait(), Wait::Streaming);
  EXPECT_EQ(p.wait_ns(), 80'000u);
  p.after_drain(4, 80'000);  // 50 k/s still: the tick holds
  EXPECT_EQ(p.wait_ns(), 80'000u);
  p.after_drain(8, 1 * kMs);  // 8 k/s: 500 us
  EXPECT_EQ(p.wait_ns(), 500'000u);
  p.after_drain(6, 1 * kMs);  // 6 k/s: 667 us, within the 1 ms cap
  EXPECT_EQ(p.wait_ns(), 666'666u);
  p.after_drain(200, 1 * kMs);  // 200 k/s: 20 us would carry 4, the base tick is the floor
  EXPECT_EQ(p.wait_ns(), 50'000u);
}

TEST(ConsumerPacing, BelowTheStreamRateItIsLazy) {
  ConsumerPacing p;
  p.after_drain(1, 100 * kMs);
  EXPECT_EQ(p.after_drain(4, 1 * kMs), Wait::Lazy) << "4 k/s < 5 k/s";
  EXPECT_EQ(p.after_drain(10, 2 * kMs), Wait::Streaming) << "5 k/s";
}

}  // namespace
}  // namespace otlp::ebpf::transport
