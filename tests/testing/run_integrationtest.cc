// testing/run.h: a tape replayed into one's own aggregators gives what `bpftape replay` says
// about it; a simulation gives what its ground truth says; bad input is an error or a warning.
#include "testing/run.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/tracers/memory_aggregator.h"
#include "core/tracers/syscall_aggregator.h"
#include "testing/matchers.h"
#include "tests/run_command.h"
#include "tests/temp_dir.h"

namespace bpftape::testing {
namespace {

using otlp::ebpf::testing::run_command;
using otlp::ebpf::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

std::string trace(const std::string& name) {
  return std::string(BPFTAPE_SOURCE_DIR) + "/traces/" + name;
}

TEST(ReplayInto, FeedsEveryAggregatorTheWholeTape) {
  otlp::ebpf::SyscallAggregator syscalls;
  otlp::ebpf::MemoryAggregator memory;
  auto run = replay_into(trace("http-loopback.bpftape"), {&syscalls, &memory});
  ASSERT_TRUE(run.has_value()) << run.error().message();
  EXPECT_THAT(run->pipeline, DeliveredEverything());
  EXPECT_TRUE(run->warnings.empty());
  // `bpftape info traces/http-loopback.bpftape`: 6311 events, 1884 syscalls, 1007 allocations.
  EXPECT_EQ(run->pipeline.source_events, 6311u);
  EXPECT_THAT(syscalls.stats(), SyscallStatsAre(1884, 30, 1));
  EXPECT_THAT(syscalls, CountsSyscall("accept", 200, 0));
  EXPECT_EQ(memory.stats().allocations, 1007u);
}

// replay_report_json is the report `bpftape replay --json` prints, byte for byte.
TEST(ReplayReportJson, IsWhatTheCliPrints) {
  for (const char* name : {"compile.bpftape", "http-loopback.bpftape", "leak.bpftape"}) {
    SCOPED_TRACE(name);
    auto cli = run_command({BPFTAPE_BINARY, "replay", "--json", "--no-progress", trace(name)});
    ASSERT_EQ(cli.exit_code, 0) << cli.err;
    auto report = replay_report_json(trace(name));
    ASSERT_TRUE(report.has_value()) << report.error().message();
    EXPECT_EQ(*report, cli.out);
  }
  auto leak = replay_report_json(trace("leak.bpftape"));
  ASSERT_TRUE(leak.has_value());
  EXPECT_THAT(*leak, HasJsonField("memory.outstanding_by_stack.0.stack", "main"));
  EXPECT_THAT(*leak, HasJsonField("memory.outstanding_by_stack.0.blocks", 1000));
}

TEST(ReplayInto, AppliesThePipelineOptions) {
  otlp::ebpf::SyscallAggregator syscalls;
  ReplayOptions options;
  options.pipeline.filter = otlp::ebpf::EventFilter::by_pid(18302);  // `as` in compile.bpftape
  auto run = replay_into(trace("compile.bpftape"), syscalls, options);
  ASSERT_TRUE(run.has_value()) << run.error().message();
  // `bpftape replay --json --pid 18302 traces/compile.bpftape`: 168 calls, 16 errors.
  EXPECT_THAT(syscalls.stats(), SyscallStatsAre(168, ::testing::_, 16));
  EXPECT_EQ(run->pipeline.processor.delivered, 177u);
  EXPECT_THAT(run->pipeline, Not(DeliveredEverything()));
}

TEST(ReplayInto, AMissingTapeIsAnError) {
  otlp::ebpf::SyscallAggregator syscalls;
  auto run = replay_into("/nonexistent/x.bpftape", syscalls);
  ASSERT_FALSE(run.has_value());
  EXPECT_THAT(run.error().message(), HasSubstr("/nonexistent/x.bpftape"));
  EXPECT_FALSE(replay_report_json("/nonexistent/x.bpftape").has_value());
}

// A cut tape replays its prefix, with the reader's warning; nothing is delivered twice.
TEST(ReplayInto, ATruncatedTapeReplaysItsPrefixWithAWarning) {
  TempDir dir;
  const std::string whole = trace("compile.bpftape");
  const std::string cut = dir.file("cut.bpftape");
  std::filesystem::copy_file(whole, cut);
  std::filesystem::resize_file(cut, std::filesystem::file_size(whole) * 3 / 4);
  otlp::ebpf::SyscallAggregator syscalls;
  auto run = replay_into(cut, syscalls);
  ASSERT_TRUE(run.has_value()) << run.error().message();
  EXPECT_FALSE(run->warnings.empty());
  EXPECT_LT(syscalls.stats().syscalls_traced, 5079u);
  EXPECT_EQ(run->pipeline.processor.delivered, run->pipeline.source_events);
}

TEST(SimulateInto, AgreesWithTheGroundTruth) {
  sim::SimOptions options;
  options.seed = 7;
  options.duration_ns = 500'000'000;
  otlp::ebpf::SyscallAggregator syscalls;
  auto run = simulate_into(options, syscalls);
  ASSERT_TRUE(run.has_value()) << run.error().message();
  EXPECT_THAT(run->pipeline, DeliveredEverything());
  EXPECT_EQ(run->truth.delivered(), run->truth.emitted());
  EXPECT_EQ(run->pipeline.processor.delivered, run->world.delivered);
  uint64_t calls = 0;
  uint64_t errors = 0;
  for (const auto& [nr, truth] : run->truth.syscalls()) {
    calls += truth.count;
    errors += truth.errors;
  }
  EXPECT_GT(calls, 0u);
  EXPECT_THAT(syscalls.stats(), SyscallStatsAre(calls, run->truth.syscalls().size(), errors));
}

// Faults show: with ring overflow, events are lost and DeliveredEverything says so.
TEST(SimulateInto, RingOverflowLosesEvents) {
  sim::SimOptions options;
  options.seed = 7;
  options.duration_ns = 500'000'000;
  options.faults = sim::kRingOverflow;
  options.overflow_ring_capacity = 64;
  otlp::ebpf::SyscallAggregator syscalls;
  auto run = simulate_into(options, syscalls);
  ASSERT_TRUE(run.has_value()) << run.error().message();
  EXPECT_GT(run->truth.dropped(), 0u);
  EXPECT_EQ(run->pipeline.losses.events_lost, run->truth.dropped());
  EXPECT_THAT(run->pipeline, Not(DeliveredEverything()));
}

TEST(SimulateInto, RefusesOptionsThatDoNotFinalize) {
  sim::SimOptions options;
  options.workloads = 0;
  otlp::ebpf::SyscallAggregator syscalls;
  auto run = simulate_into(options, syscalls);
  ASSERT_FALSE(run.has_value());
  EXPECT_THAT(run.error().message(), HasSubstr("no workload"));
}

}  // namespace
}  // namespace bpftape::testing
