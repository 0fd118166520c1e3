// DrainPlacement: which CPUs the drain thread may use, from the records each CPU produced.
#include "recorder/drain_placement.h"

#include <gtest/gtest.h>

namespace bpftape::record {
namespace {

constexpr uint64_t kWindow = 200'000'000;

DrainPlacement::Options options() {
  DrainPlacement::Options o;
  o.window_ns = kWindow;
  o.min_records = 1000;
  o.hot_share = 0.25;
  return o;
}

TEST(DrainPlacement, LeavesTheCpuThatProducesMostRecords) {
  DrainPlacement p({0, 1, 2, 3}, options());
  EXPECT_FALSE(p.end_window(1));  // starts the first window
  p.count(2, 5000);
  p.count(0, 100);
  auto cpus = p.end_window(1 + kWindow);
  ASSERT_TRUE(cpus);
  EXPECT_EQ(*cpus, (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(p.current(), *cpus);
}

TEST(DrainPlacement, WaitsForTheWholeWindow) {
  DrainPlacement p({0, 1}, options());
  p.end_window(0);
  p.count(0, 5000);
  EXPECT_FALSE(p.end_window(kWindow - 1));
  auto cpus = p.end_window(kWindow);
  ASSERT_TRUE(cpus);
  EXPECT_EQ(*cpus, std::vector<int>{1});
}

TEST(DrainPlacement, AtLowRatesEveryCpuIsAllowed) {
  DrainPlacement p({0, 1}, options());
  p.end_window(0);
  p.count(0, 5000);
  ASSERT_TRUE(p.end_window(kWindow));
  EXPECT_EQ(p.current(), std::vector<int>{1});
  p.count(0, 999);  // below min_records: placement does not matter, give it all back
  auto cpus = p.end_window(2 * kWindow);
  ASSERT_TRUE(cpus);
  EXPECT_EQ(*cpus, (std::vector<int>{0, 1}));
}

TEST(DrainPlacement, WhenEveryCpuIsBusyAllAreAllowed) {
  DrainPlacement p({0, 1}, options());
  p.end_window(0);
  p.count(0, 3000);
  p.count(1, 3000);
  EXPECT_FALSE(p.end_window(kWindow));  // unchanged: still both
  EXPECT_EQ(p.current(), (std::vector<int>{0, 1}));
}

TEST(DrainPlacement, FollowsTheWorkloadWhenItMoves) {
  DrainPlacement p({0, 1}, options());
  p.end_window(0);
  p.count(0, 5000);
  EXPECT_EQ(p.end_window(kWindow), std::vector<int>{1});
  p.count(1, 5000);  // the traced task migrated to where the thread was sent
  EXPECT_EQ(p.end_window(2 * kWindow), std::vector<int>{0});
  p.count(1, 5000);
  EXPECT_FALSE(p.end_window(3 * kWindow));  // already there
}

TEST(DrainPlacement, OnlyEverUsesTheCpusItWasAllowedAtStart) {
  DrainPlacement p({1, 3}, options());  // e.g. under `taskset -c 1,3`
  p.end_window(0);
  p.count(1, 5000);
  p.count(0, 5000);  // a busy CPU outside the mask changes nothing about the mask
  p.count(2, 5000);
  auto cpus = p.end_window(kWindow);
  ASSERT_TRUE(cpus);
  EXPECT_EQ(*cpus, std::vector<int>{3});
}

}  // namespace
}  // namespace bpftape::record
