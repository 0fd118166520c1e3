// BpfStatsSampler's pure parts: the on-time clock that scales sampled counters, and the
// policy that decides when the stats are affordable. (The kernel side is exercised by the live
// recorder tests, which check the BPF figures of every recording.)
#include "recorder/bpf_stats_sampler.h"

#include <gtest/gtest.h>

namespace bpftape::record {
namespace {

TEST(StatsClock, ScalesByElapsedOverOnTime) {
  StatsClock clock(1'000);
  EXPECT_EQ(clock.scale(5'000), 0.0) << "never on: nothing to scale";
  clock.turned_on(1'000);
  clock.turned_off(2'000);   // on 1000 ns
  clock.turned_on(6'000);
  EXPECT_EQ(clock.on_ns(7'000), 2'000u) << "an open window counts up to now";
  clock.turned_off(7'000);   // on 2000 ns of 10000
  EXPECT_EQ(clock.on_ns(11'000), 2'000u);
  EXPECT_DOUBLE_EQ(clock.scale(11'000), 5.0);
}

TEST(StatsClock, RepeatedTransitionsCountOnce) {
  StatsClock clock(0);
  clock.turned_on(0);
  clock.turned_on(500);  // already on: the window still started at 0
  clock.turned_off(1'000);
  clock.turned_off(2'000);
  EXPECT_EQ(clock.on_ns(3'000), 1'000u);
}

TEST(BpfStatsSampler, StatsStayOnWhileTheirCostFitsTheBudget) {
  BpfStatsSampler::Options o;
  o.stats_ns_per_run = 250;
  o.cost_budget = 0.005;  // 5 ms of CPU per second: 20 000 runs/s at 250 ns
  EXPECT_TRUE(BpfStatsSampler::affordable(o, 200));        // a 99 Hz profile on 2 CPUs
  EXPECT_TRUE(BpfStatsSampler::affordable(o, 20'000));
  EXPECT_FALSE(BpfStatsSampler::affordable(o, 20'001));
  EXPECT_FALSE(BpfStatsSampler::affordable(o, 1'600'000));  // the dd storm, enter + exit
}

TEST(BpfStatsSampler, OffMeansNoFigures) {
  BpfStatsSampler sampler(BpfStatsSampler::Options{.mode = BpfStatsMode::Off}, [] { return 0; }, 0);
  EXPECT_FALSE(sampler.available());
  EXPECT_EQ(sampler.scale(1'000), 0.0);
}

TEST(BpfStatsSampler, ParsesItsModes) {
  EXPECT_EQ(parse_bpf_stats_mode("auto"), BpfStatsMode::Auto);
  EXPECT_EQ(parse_bpf_stats_mode("full"), BpfStatsMode::Full);
  EXPECT_EQ(parse_bpf_stats_mode("off"), BpfStatsMode::Off);
  EXPECT_FALSE(parse_bpf_stats_mode("sampled"));
}

}  // namespace
}  // namespace bpftape::record
