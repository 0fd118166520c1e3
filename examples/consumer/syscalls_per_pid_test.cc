// The consumer's own tests of its own aggregator, on bpftape's harness: a shipped tape with
// numbers checked against `bpftape replay --json --pid P`, and properties over seeded
// simulations and generated event streams.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/tracers/syscall_aggregator.h"
#include "syscalls_per_pid.h"
#include "testing/generators.h"
#include "testing/matchers.h"
#include "testing/run.h"

namespace consumer {
namespace {

using bpftape::testing::CountsSyscall;
using bpftape::testing::DeliveredEverything;
using bpftape::testing::HasJsonField;
using ::testing::ElementsAre;
using ::testing::Pair;

// compile.bpftape: `g++ -c core/sha256.cc` recorded with --syscalls --cpu. Per process,
// `bpftape replay --json --pid P compile.bpftape` reports syscalls.calls / syscalls.errors:
// g++ 194 / 82, cc1plus 4717 / 3772 (mostly failing readlinks), as 168 / 16.
TEST(SyscallsPerPid, CountsEachProcessOfARecordedCompile) {
  SyscallsPerPid per_pid;
  otlp::ebpf::SyscallAggregator bpftape_syscalls;  // bpftape's own, run alongside
  auto run = bpftape::testing::replay_into(COMPILE_TAPE, {&per_pid, &bpftape_syscalls});
  ASSERT_TRUE(run.has_value()) << run.error().message();
  EXPECT_THAT(run->pipeline, DeliveredEverything());
  EXPECT_TRUE(run->warnings.empty());
  EXPECT_THAT(per_pid.by_pid(), ElementsAre(Pair(18300, ProcessSyscalls{194, 82}),
                                            Pair(18301, ProcessSyscalls{4717, 3772}),
                                            Pair(18302, ProcessSyscalls{168, 16})));
  // Both aggregators saw the same stream: totals agree with bpftape's.
  EXPECT_EQ(per_pid.total().calls, bpftape_syscalls.stats().syscalls_traced);
  EXPECT_EQ(per_pid.total().errors, bpftape_syscalls.stats().errors);
  EXPECT_THAT(bpftape_syscalls, CountsSyscall("readlink", 3210, 3206));
}

// The report bpftape itself prints for the tape says the same.
TEST(SyscallsPerPid, AgreesWithBpftapesReport) {
  SyscallsPerPid per_pid;
  ASSERT_TRUE(bpftape::testing::replay_into(COMPILE_TAPE, per_pid).has_value());
  auto report = bpftape::testing::replay_report_json(COMPILE_TAPE);
  ASSERT_TRUE(report.has_value()) << report.error().message();
  EXPECT_THAT(*report, HasJsonField("syscalls.calls", static_cast<int64_t>(per_pid.total().calls)));
  EXPECT_THAT(*report, HasJsonField("syscalls.errors", static_cast<int64_t>(per_pid.total().errors)));
  EXPECT_THAT(*report, HasJsonField("syscalls.top.0.name", "readlink"));
}

// On any small simulation, the per-process counts add up to the simulator's ground truth.
RC_GTEST_PROP(SyscallsPerPidProperties, AddsUpToTheSimulationsGroundTruth, ()) {
  const auto options = *bpftape::testing::small_simulation();
  SyscallsPerPid per_pid;
  auto run = bpftape::testing::simulate_into(options, per_pid);
  RC_ASSERT(run.has_value());
  ProcessSyscalls expected;
  for (const auto& [nr, truth] : run->truth.syscalls()) {
    expected.calls += truth.count;
    expected.errors += truth.errors;
  }
  RC_ASSERT(per_pid.total() == expected);
}

// Batch boundaries do not change the result: the events cut anyhow give the counts of the
// whole stream at once.
RC_GTEST_PROP(SyscallsPerPidProperties, BatchBoundariesDoNotMatter, ()) {
  const auto events = *bpftape::testing::valid_stream();
  const auto batches = *bpftape::testing::batches_of(events);
  otlp::ebpf::InternTable interned;  // generated events reference no interned data
  SyscallsPerPid whole;
  SyscallsPerPid split;
  whole.consume(events, interned);
  for (const auto& batch : batches) split.consume(batch, interned);
  RC_ASSERT(split.by_pid() == whole.by_pid());
}

}  // namespace
}  // namespace consumer
