// The matchers of testing/matchers.h: what they accept, what they refuse, and what they say.
#include "testing/matchers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "core/tracers/syscall_aggregator.h"

namespace bpftape::testing {
namespace {

using otlp::ebpf::EbpfEvent;
using otlp::ebpf::SyscallData;
using ::testing::HasSubstr;
using ::testing::Not;

// Why `matcher` refuses (or accepts) `value`, as GoogleTest would print it.
template <typename T, typename M>
std::string explain(const M& matcher, const T& value) {
  ::testing::StringMatchResultListener listener;
  ::testing::Matcher<const T&>(matcher).MatchAndExplain(value, &listener);
  return listener.str();
}

constexpr const char* kReport =
    R"({"events":{"delivered":5335,"lost_by_cpu":{}},"ratio":0.5,"ok":true,"none":null,)"
    R"("syscalls":{"top":[{"name":"readlink","calls":3210},{"name":"openat","calls":780}]}})";

TEST(HasJsonField, MatchesNestedFieldsAndArrayItems) {
  const std::string report = kReport;
  EXPECT_THAT(report, HasJsonField("events.delivered", 5335));
  EXPECT_THAT(report, HasJsonField("syscalls.top.1.name", "openat"));
  EXPECT_THAT(report, HasJsonField("syscalls.top.0.calls", "3210"));
  EXPECT_THAT(report, HasJsonField("ratio", "0.5"));
  EXPECT_THAT(report, HasJsonField("ok", "true"));
  EXPECT_THAT(report, HasJsonField("none", "null"));
  EXPECT_THAT(report, HasJsonField("events.lost_by_cpu", "{}"));
  EXPECT_THAT(report, HasJsonField("syscalls.top.0", HasSubstr(R"("name":"readlink")")));
  EXPECT_THAT(report, Not(HasJsonField("events.delivered", 5334)));
  EXPECT_THAT(explain(HasJsonField("events.delivered", 5334), report),
              "whose events.delivered is 5335");
}

TEST(HasJsonField, SaysWhichKeyIsMissing) {
  const std::string report = kReport;
  EXPECT_THAT(report, Not(HasJsonField("events.dropped", 0)));
  EXPECT_EQ(explain(HasJsonField("events.dropped", 0), report), R"(which has no "dropped" in "events")");
  EXPECT_EQ(explain(HasJsonField("cpu.samples", 0), report), R"(which has no "cpu")");
  EXPECT_THAT(report, Not(HasJsonField("syscalls.top.2.name", "close")));
  EXPECT_THAT(report, Not(HasJsonField("syscalls.top.x", "close")));
  EXPECT_THAT(report, Not(HasJsonField("events.delivered.more", 1)));
}

TEST(HasJsonField, RefusesTextThatIsNotJson) {
  const std::string broken = R"({"events":{"delivered":5335)";
  EXPECT_THAT(broken, Not(HasJsonField("events.delivered", 5335)));
  EXPECT_THAT(explain(HasJsonField("events.delivered", 5335), broken), HasSubstr("which is not JSON"));
}

otlp::ebpf::SyscallAggregator aggregated(const std::vector<EbpfEvent>& events) {
  otlp::ebpf::SyscallAggregator aggregator;
  otlp::ebpf::InternTable interned;
  aggregator.consume(events, interned);
  return aggregator;
}

EbpfEvent syscall(uint64_t ts, uint32_t nr, int64_t ret) {
  return EbpfEvent::syscall_event(ts, 7, 7, 0, SyscallData{.nr = nr, .ret = ret, .duration_ns = 5});
}

TEST(CountsSyscall, CountsCallsAndErrorsByName) {
  // x86_64: 0 read, 257 openat.
  const auto aggregator = aggregated({syscall(1, 0, 10), syscall(2, 257, -2), syscall(3, 257, 3)});
  EXPECT_THAT(aggregator, CountsSyscall("openat", 2, 1));
  EXPECT_THAT(aggregator, CountsSyscall("read", 1));
  EXPECT_THAT(aggregator, CountsSyscall("write", 0, 0));
  EXPECT_THAT(aggregator, Not(CountsSyscall("openat", 2, 0)));
  EXPECT_EQ(explain(CountsSyscall("openat", 3), aggregator), "openat: 2 calls, 1 errors");
  EXPECT_THAT(aggregator, Not(CountsSyscall("no_such_call", 0)));
  EXPECT_EQ(explain(CountsSyscall("no_such_call", 0), aggregator),
            R"(no syscall is named "no_such_call")");
}

TEST(SyscallStatsAre, ComparesEachField) {
  const auto stats = aggregated({syscall(1, 0, 10), syscall(2, 257, -2), syscall(3, 257, 3)}).stats();
  EXPECT_THAT(stats, SyscallStatsAre(3, 2, 1));
  EXPECT_THAT(stats, Not(SyscallStatsAre(3, 2, 0)));
  EXPECT_THAT(stats, SyscallStatsAre(::testing::Gt(2u), ::testing::_, ::testing::Le(1u)));
  EXPECT_EQ(::testing::PrintToString(stats),
            "{syscalls_traced=3 unique_syscalls=2 errors=1 filtered_out=0}");
}

TEST(DeliveredEverything, NamesWhatWasMissed) {
  otlp::ebpf::PipelineStats stats;
  stats.source_events = 10;
  stats.processor.delivered = 10;
  EXPECT_THAT(stats, DeliveredEverything());
  stats.processor.delivered = 7;
  stats.processor.rejected = 2;
  stats.losses.events_lost = 1;
  EXPECT_THAT(stats, Not(DeliveredEverything()));
  EXPECT_EQ(explain(DeliveredEverything(), stats),
            "events: 2 rejected, 1 lost before user space, 7 of 10 delivered");
  stats = {};
  stats.source_events = stats.processor.delivered = 4;
  stats.sorter.late_events = 1;
  EXPECT_EQ(explain(DeliveredEverything(), stats), "events: 1 late");
}

}  // namespace
}  // namespace bpftape::testing
