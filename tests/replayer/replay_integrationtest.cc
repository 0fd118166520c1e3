// `bpftape replay` / `convert` as users run them, on tapes made by `bpftape simulate -o`
// (whose ground truth the simulator knows).
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "simulator/check.h"
#include "tests/run_command.h"

namespace bpftape {
namespace {

namespace fs = std::filesystem;
using otlp::ebpf::testing::CommandResult;
using otlp::ebpf::testing::run_command;
using otlp::ebpf::testing::run_command_unprivileged;

const std::string kBinary = BPFTAPE_BINARY;

// The number after "key": in a one-line JSON report (our own writer's fixed format).
uint64_t json_number(const std::string& json, const std::string& key) {
  auto at = json.find("\"" + key + "\":");
  EXPECT_NE(at, std::string::npos) << key;
  if (at == std::string::npos) return UINT64_MAX;
  return std::stoull(json.substr(at + key.size() + 3));
}

class ReplayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("bpftape-replay-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::all);  // the unprivileged test reads from here
    tape_ = (dir_ / "mixed.bpftape").string();
    auto made = run_command({kBinary, "simulate", "--seed", "5", "--duration", "2s", "--faults",
                             "overflow,reorder,burst", "-q", "-o", tape_});
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  CommandResult replay(std::vector<std::string> extra) {
    std::vector<std::string> argv = {kBinary, "replay", tape_, "--no-progress"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv);
  }

  static fs::path dir_;
  static std::string tape_;
};

fs::path ReplayTest::dir_;
std::string ReplayTest::tape_;

TEST_F(ReplayTest, ReportAgreesWithTheSimulatorsGroundTruth) {
  sim::SimOptions o;
  o.seed = 5;
  o.duration_ns = 2'000'000'000;
  o.faults = sim::kRingOverflow | sim::kReorder | sim::kBurst;
  ASSERT_TRUE(o.finalize().has_value());
  auto truth = sim::run_check(o);
  ASSERT_TRUE(truth.ok()) << truth.summary();
  auto r = replay({"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_number(r.out, "delivered"), truth.delivered);
  EXPECT_EQ(json_number(r.out, "lost"), truth.dropped);
  EXPECT_GT(truth.dropped, 0u);  // the fault mix did overflow rings
  EXPECT_EQ(json_number(r.out, "rejected"), 0u);
  EXPECT_EQ(json_number(r.out, "loss_records"), truth.pipeline.losses.records);
}

TEST_F(ReplayTest, OutputIsIdenticalAcrossThreadsFrameSizesAndRuns) {
  std::string small_frames = (dir_ / "small-frames.bpftape").string();
  auto made = run_command({kBinary, "simulate", "--seed", "5", "--duration", "2s", "--faults",
                           "overflow,reorder,burst", "-q", "--frame-bytes", "8192", "-o", small_frames});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto a = replay({"--json", "--threads", "1"});
  auto b = replay({"--json", "--threads", "4"});
  auto c = run_command({kBinary, "replay", small_frames, "--no-progress", "--json", "--threads", "3"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  // Same events, other framing: everything but the tape's file name is identical.
  std::string c_out = c.out;
  c_out.replace(c_out.find(small_frames), small_frames.size(), tape_);
  EXPECT_EQ(a.out, c_out);
  EXPECT_EQ(replay({}).out, replay({}).out);
  // --digest: one hash over every result, independent of threads, framing and the tape's path.
  auto digest_line = [](const std::string& out) { return out.substr(out.rfind("digest: sha256:")); };
  auto d1 = replay({"--digest", "--threads", "1"});
  auto d2 = run_command({kBinary, "replay", small_frames, "--no-progress", "--digest", "--threads", "4"});
  ASSERT_NE(d1.out.find("digest: sha256:"), std::string::npos);
  EXPECT_EQ(digest_line(d1.out), digest_line(d2.out));
  EXPECT_EQ(digest_line(d1.out).size(), std::string("digest: sha256:\n").size() + 64);
  auto filtered = replay({"--digest", "--type", "syscall"});
  EXPECT_NE(digest_line(d1.out), digest_line(filtered.out));
}

TEST_F(ReplayTest, ProfileOpensInGoToolPprof) {
  std::string pprof = (dir_ / "cpu.pb.gz").string();
  std::string otlp = (dir_ / "run.otlp.jsonl").string();
  auto r = run_command({kBinary, "convert", tape_, "--pprof", pprof, "--otlp-file", otlp});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("profile samples"), std::string::npos) << r.err;
  std::ifstream lines(otlp);
  std::string line;
  int requests = 0;
  while (std::getline(lines, line)) {
    ++requests;
    EXPECT_TRUE(line.starts_with("{\"resource")) << line.substr(0, 80);
  }
  EXPECT_EQ(requests, 3);  // traces, metrics, profiles
  if (access("/usr/bin/go", X_OK) != 0) GTEST_SKIP() << "go not installed (scripts/setup installs golang-go)";
  auto top = run_command({"/usr/bin/go", "tool", "pprof", "-top", pprof});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("hash_block"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("default_idle"), std::string::npos) << top.out;
}

TEST_F(ReplayTest, FiltersCountWhatTheyExclude) {
  auto all = replay({"--json"});
  auto syscalls = replay({"--json", "--type", "syscall"});
  ASSERT_EQ(syscalls.exit_code, 0) << syscalls.err;
  EXPECT_EQ(json_number(syscalls.out, "delivered"), json_number(all.out, "calls"));
  EXPECT_EQ(json_number(syscalls.out, "delivered") + json_number(syscalls.out, "filtered"),
            json_number(all.out, "delivered"));
  auto leaky = replay({"--json", "--comm", "leaky"});
  EXPECT_EQ(json_number(leaky.out, "calls"), 0u);  // the allocator makes no syscalls
  EXPECT_EQ(json_number(leaky.out, "allocations"), json_number(all.out, "allocations"));
  auto window = replay({"--json", "--since", "0.5", "--until", "1s"});
  ASSERT_EQ(window.exit_code, 0) << window.err;
  EXPECT_LT(json_number(window.out, "delivered"), json_number(all.out, "delivered") * 7 / 10);
  EXPECT_GT(json_number(window.out, "delivered"), json_number(all.out, "delivered") * 2 / 10);
}

TEST_F(ReplayTest, WritesFoldedStacksAndTraceJson) {
  std::string folded = (dir_ / "cpu.folded").string();
  std::string trace = (dir_ / "trace.json").string();
  auto r = run_command({kBinary, "convert", tape_, "--folded", folded, "--trace-json", trace});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());  // convert prints no report
  std::ifstream f(folded);
  std::string line;
  uint64_t samples = 0;
  bool saw_hash = false;
  while (std::getline(f, line)) {
    auto space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    samples += std::stoull(line.substr(space + 1));
    saw_hash |= line.starts_with("cruncher;main;run_worker;hash_block ");
  }
  EXPECT_TRUE(saw_hash);
  auto all = replay({"--json"});
  EXPECT_EQ(samples, json_number(all.out, "samples"));
  std::ifstream t(trace);
  std::string json((std::istreambuf_iterator<char>(t)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(json.starts_with("{\"displayTimeUnit\":\"ns\",\"traceEvents\":["));
  EXPECT_TRUE(json.ends_with("]}\n"));
  EXPECT_NE(json.find("\"cat\":\"syscall\",\"name\":\"read\""), std::string::npos);
  EXPECT_NE(json.find("\"cat\":\"http\",\"name\":\"GET /api/items\""), std::string::npos);
  EXPECT_NE(json.find("\"name\":\"process_name\""), std::string::npos);
  auto nothing = run_command({kBinary, "convert", tape_});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_NE(nothing.err.find("nothing to write"), std::string::npos);
}

TEST_F(ReplayTest, TruncatedTapeReplaysItsPrefixWithAWarning) {
  std::string cut = (dir_ / "cut.bpftape").string();
  // Small frames, so that half of the file holds whole event frames.
  auto made = run_command({kBinary, "simulate", "--seed", "5", "--duration", "2s", "--faults",
                           "overflow,reorder,burst", "-q", "--frame-bytes", "8192", "-o", cut});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  fs::resize_file(cut, fs::file_size(cut) / 2);
  auto r = run_command({kBinary, "replay", cut, "--no-progress", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: truncated at byte"), std::string::npos) << r.err;
  uint64_t prefix = json_number(r.out, "delivered");
  EXPECT_GT(prefix, 0u);
  EXPECT_LT(prefix, json_number(replay({"--json"}).out, "delivered"));
  auto strict = run_command({kBinary, "replay", cut, "--no-progress", "--strict"});
  EXPECT_EQ(strict.exit_code, 1);
}

TEST_F(ReplayTest, CorruptTapeFailsNamingTheOffset) {
  std::string bad = (dir_ / "bad.bpftape").string();
  fs::copy_file(tape_, bad, fs::copy_options::overwrite_existing);
  {
    std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(bad) / 3));
    char c;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(bad) / 3));
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  auto r = run_command({kBinary, "replay", bad, "--no-progress"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("at byte"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(ReplayTest, NotATapeSaysSoInOneLine) {
  std::string text = (dir_ / "notes.txt").string();
  std::ofstream(text) << "just some text, definitely not a tape\n";
  auto r = run_command({kBinary, "replay", text, "--no-progress"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  auto missing = run_command({kBinary, "replay", (dir_ / "nope.bpftape").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("No such file"), std::string::npos) << missing.err;
  auto usage = run_command({kBinary, "replay"});
  EXPECT_EQ(usage.exit_code, 2);
  auto bad_speed = run_command({kBinary, "replay", tape_, "--speed", "fast"});
  EXPECT_EQ(bad_speed.exit_code, 2);
}

TEST_F(ReplayTest, RunsAsAnUnprivilegedUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop to user nobody";
  std::string shared = (dir_ / "shared.bpftape").string();
  fs::copy_file(tape_, shared, fs::copy_options::overwrite_existing);
  chmod(shared.c_str(), 0644);  // tapes are 0600 by default: share this one on purpose
  auto as_nobody = run_command_unprivileged({kBinary, "replay", shared, "--no-progress", "--json"});
  ASSERT_EQ(as_nobody.exit_code, 0) << as_nobody.err;
  std::string expected = replay({"--json"}).out;
  expected.replace(expected.find(tape_), tape_.size(), shared);
  EXPECT_EQ(as_nobody.out, expected);
}

}  // namespace
}  // namespace bpftape
