// Issue 20, time and export bounds, as users hit them through the CLI: `replay
// --speed` on tapes whose time runs backwards or jumps by days, `simulate
// --from` on a tape near 2^64, and the OTLP export to a collector that accepts
// and never answers, ended by --otlp-timeout or by SIGINT/SIGTERM. Each command
// runs as a child with a generous limit: a hang fails the test (a hang guard,
// never a timing check); the assertions are on exit codes and messages.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/tape/format.h"
#include "tests/child_process.h"
#include "tests/otlp/fake_collector.h"
#include "tests/run_command.h"
#include "tests/tape/tape_test_util.h"

namespace bpftape {
namespace {

using namespace std::chrono_literals;
using otlp::ebpf::EbpfEvent;
using otlp::ebpf::EventBatch;
using otlp::ebpf::InternTable;
using otlp::ebpf::SyscallData;
using otlp::ebpf::tape::testing::write_memory_tape;
using otlp::ebpf::testing::ChildProcess;
using otlp::ebpf::testing::ChildResult;
using otlp::ebpf::testing::FakeCollector;
using otlp::ebpf::testing::run_command;
using otlp::ebpf::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = BPFTAPE_BINARY;
constexpr auto kHangGuard = 20s;

// A long-running command that got SIGINT/SIGTERM while doing `what` ended on its own, cleanly
// (exit 1 with a message), not by the signal and not after the hang guard.
void expect_stopped_cleanly(const ChildResult& r, const char* what) {
  ASSERT_FALSE(r.timed_out) << "the signal did not stop " << what;
  EXPECT_EQ(r.term_signal, 0) << "killed by the signal instead of stopping cleanly";
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

EbpfEvent syscall_at(uint64_t ts, uint16_t cpu = 0) {
  return EbpfEvent::syscall_event(
      ts, 4242, 4242, cpu,
      SyscallData{.nr = 0, .reserved = 0, .ret = 1, .duration_ns = 300});
}

// A tape of one batch per timestamp list. `indexed` false: without its trailer,
// so without a usable index, as a killed recorder leaves it; the replayer then
// learns the first event from the first batch.
std::string write_tape(const TempDir &dir, const std::string &name,
                       const std::vector<std::vector<uint64_t>> &batches,
                       bool indexed = true) {
  InternTable interns;
  std::vector<EventBatch> out;
  for (const auto &times : batches) {
    EventBatch b;
    for (uint64_t t : times)
      b.events.push_back(syscall_at(t));
    out.push_back(std::move(b));
  }
  // Small frames: each batch its own frame, so batches reach the replayer one
  // by one.
  otlp::ebpf::tape::WriterOptions options;
  options.frame_events = 1;
  auto bytes = write_memory_tape(out, interns, options);
  if (!indexed)
    bytes.resize(bytes.size() - otlp::ebpf::tape::kTrailerSize);
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char *>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  return path;
}

ChildResult run_bounded(const std::vector<std::string> &argv) {
  ChildProcess child(argv);
  EXPECT_TRUE(child.started());
  return child.wait(kHangGuard);
}

// ---------------------------------------------------------------- --speed

// `replay --speed 1000x` of `tape` ends (within the hang guard) and delivers
// every event.
void expect_paced_replay_ends(const std::string &tape, int events) {
  auto r = run_bounded(
      {kBinary, "replay", tape, "--no-progress", "--json", "--speed", "1000x"});
  ASSERT_FALSE(r.timed_out)
      << "replay --speed 1000x slept through the hang guard";
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"delivered\":" + std::to_string(events)));
}

TEST(ReplaySpeed, FactorsOutsideTheBoundsAreUsageErrors) {
  TempDir dir;
  const std::string tape = write_tape(dir, "t.bpftape", {{1'000'000'000}});
  for (const char *speed : {"0x", "-1x", "nanx", "infx", "-infx", "1e300x",
                            "2000000x", "0", "x", "fast"}) {
    auto r = run_command(
        {kBinary, "replay", tape, "--no-progress", "--speed", speed});
    EXPECT_EQ(r.exit_code, 2) << speed << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("--speed")) << speed;
    EXPECT_THAT(r.err, HasSubstr("0.001x to 1000000x"))
        << speed << ": " << r.err;
  }
  for (const char *speed : {"max", "1000000x", "0.5x"}) {
    auto r = run_bounded(
        {kBinary, "replay", tape, "--no-progress", "--speed", speed});
    EXPECT_EQ(r.exit_code, 0) << speed << ": " << r.err;
  }
}

TEST(ReplaySpeed, TimeGoingBackwardsIsNotASleepOf213Days) {
  // A tape without an index (its recorder was killed) learns its first event
  // from the first batch; a later batch from another CPU can be older. 1 s - 2
  // s wrapped to 2^64 - 1 s, which
  // --speed 1000x turned into a 213-day sleep.
  TempDir dir;
  const std::string tape =
      write_tape(dir, "backwards.bpftape",
                 {{2'000'000'000}, {1'000'000'000}, {2'000'000'100}},
                 /*indexed=*/false);
  expect_paced_replay_ends(tape, 3);
}

TEST(ReplaySpeed, AHugeGapIsWaitedOutOnlyUpToTheBound) {
  // 11.6 days between two events: 1000 s at 1000x before; the gap is now cut to
  // 1 s.
  TempDir dir;
  const std::string tape =
      write_tape(dir, "gap.bpftape",
                 {{1'000'000'000}, {1'000'000'000 + 1'000'000'000'000'000}});
  expect_paced_replay_ends(tape, 2);
}

TEST(ReplaySpeed, SigintStopsAPacedReplayAndSaysSo) {
  // 0.001x: each second of this tape would take 1000 s (each pause cut to 1 s).
  TempDir dir;
  std::vector<std::vector<uint64_t>> batches;
  for (uint64_t s = 1; s <= 100; ++s)
    batches.push_back({s * 1'000'000'000});
  const std::string tape = write_tape(dir, "slow.bpftape", batches);
  for (int sig : {SIGINT, SIGTERM}) {
    ChildProcess child(
        {kBinary, "replay", tape, "--no-progress", "--speed", "0.001x"});
    ASSERT_TRUE(child.started());
    // The handlers are installed before the tape is opened.
    ASSERT_TRUE(child.wait_until_open(tape, kHangGuard));
    child.signal(sig);
    auto r = child.wait(kHangGuard);
    expect_stopped_cleanly(r, "the paced replay");
    EXPECT_THAT(r.err, HasSubstr(sig == SIGINT ? "stopped by SIGINT"
                                               : "stopped by SIGTERM"));
    EXPECT_THAT(r.err, HasSubstr("before the end of the tape"));
  }
}

// ---------------------------------------------------------------- simulate
// --from

TEST(CapacityFromTape, ATapeNearTheEndOfTimeIsModelled) {
  // Spun at 100% CPU forever before: the consumer's idle skip wrapped past
  // 2^64.
  TempDir dir;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const std::string tape =
      write_tape(dir, "end-of-time.bpftape",
                 {{1'000'000'000}, {kMax - 1'000'000, kMax - 1}});
  auto r = run_bounded({kBinary, "simulate", "--from", tape, "--json"});
  ASSERT_FALSE(r.timed_out) << "simulate --from did not end";
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"offered\":3"));
}

TEST(CapacityFromTape, ConsumerPeriodsAreBounded) {
  // 2^64 - 1 ns as --lazy: the lazy period doubling towards it wrapped.
  TempDir dir;
  const std::string tape = write_tape(dir, "t.bpftape", {{1'000'000'000}});
  for (const char* flag : {"--tick", "--lazy", "--idle-timeout", "--wake-latency"}) {
    auto r = run_bounded({kBinary, "simulate", "--from", tape, flag, "18446744073709551615ns"});
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(std::string(flag) + " must be at most 1h"));
  }
}

// ---------------------------------------------------------------- OTLP export

class ReplayExport : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(collector.ok());
    tape = dir.file("web.bpftape");
    auto made = run_command({kBinary, "simulate", "--seed", "3", "--duration",
                             "1s", "--scenario", "web", "-q", "-o", tape});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    collector.set_fallback(
        {.hang = true}); // accepts, reads the request, never answers
  }
  std::vector<std::string> replay(std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        kBinary,         "replay",          tape,
        "--no-progress", "--otlp-endpoint", collector.endpoint()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  TempDir dir;
  FakeCollector collector;
  std::string tape;
};

TEST_F(ReplayExport, OtlpTimeoutEndsTheExportAndSaysWhatWasNotSent) {
  // Before: --otlp-timeout bounded each attempt only; 5 attempts x 3 requests
  // of a collector that never answers took minutes.
  auto r = run_bounded(replay({"--otlp-timeout", "1s"}));
  ASSERT_FALSE(r.timed_out) << "the export outlived --otlp-timeout";
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(
      r.err,
      HasSubstr("stopped at its 1 s deadline (raise it with --otlp-timeout)"));
  EXPECT_THAT(r.err, HasSubstr("not sent: "));
  // Traces and metrics: the tape has no CPU samples, so no profiles request is made.
  EXPECT_THAT(r.err, HasSubstr("(2 requests)"));
  EXPECT_THAT(r.err, Not(HasSubstr("not sent: 0 spans")));
  EXPECT_GE(collector.requests().size(), 1u);
}

TEST_F(ReplayExport, SigintOrSigtermStopsTheExportAndSaysWhatWasNotSent) {
  for (int sig : {SIGINT, SIGTERM}) {
    const size_t before = collector.requests().size();
    ChildProcess child(replay({"--otlp-timeout", "10m"}));
    ASSERT_TRUE(child.started());
    // The export has begun once the collector holds its first request.
    ASSERT_TRUE(ChildProcess::poll_until(
        [&] { return collector.requests().size() > before; }, kHangGuard));
    child.signal(sig);
    auto r = child.wait(kHangGuard);
    expect_stopped_cleanly(r, "the export");
    EXPECT_THAT(r.err, HasSubstr("stopped by SIGINT/SIGTERM; not sent: "));
    // Traces and metrics: the tape has no CPU samples, so no profiles request is made.
    EXPECT_THAT(r.err, HasSubstr("(2 requests)"));
  }
}

TEST_F(ReplayExport, TheTapeIsNeverWrittenAsAnOtlpOrPprofFile) {
  std::ifstream in(tape, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>());
  for (const char *flag : {"--otlp-file", "--pprof"}) {
    auto r = run_bounded({kBinary, "convert", tape, flag, tape});
    // 1 when the export refuses it; 2 when the command checks its output paths
    // up front.
    EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << flag << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(tape)) << flag;
    std::ifstream again(tape, std::ios::binary);
    const std::string after((std::istreambuf_iterator<char>(again)),
                            std::istreambuf_iterator<char>());
    EXPECT_EQ(after, before) << flag << " wrote over the tape";
  }
}

TEST_F(ReplayExport, OtlpAndPprofFilesAreNotWorldReadable) {
  const std::string json = dir.file("out.otlp.jsonl"),
                    pprof = dir.file("out.pb.gz");
  auto r = run_bounded(
      {kBinary, "convert", tape, "--otlp-file", json, "--pprof", pprof});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto &path : {json, pprof}) {
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
  }
}

} // namespace
} // namespace bpftape
