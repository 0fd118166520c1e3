// `bpftape info` and `bpftape cat` against tapes written by TapeWriter: complete, truncated,
// damaged. Runs the real binary (BPFTAPE_BINARY).
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/tape/writer.h"
#include "tests/tape/tape_test_util.h"

namespace otlp::ebpf::tape {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

RunResult run(const std::string& args, const TempDir& dir) {
  std::string err_path = dir.file("stderr.txt");
  std::string cmd = std::string(BPFTAPE_BINARY) + " " + args + " 2>" + err_path;
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_path);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

size_t count_lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

class TapeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    events_ = syscall_storm(3000);
    // A process exec with an interned comm, a second pid, and a loss record.
    comm_ = interns_.intern_string("dd");
    events_.push_back(EbpfEvent::process_event(EbpfEventType::ProcessExec,
                                               events_.back().timestamp_ns + 10, 4242, 4242, 1,
                                               {1, 0, 0, comm_, 0}));
    events_.push_back(EbpfEvent::syscall_event(events_.back().timestamp_ns + 10, 77, 78, 0,
                                               {3, 0, 0, 500}));
    path_ = dir_.file("t.bpftape");
    WriterOptions options;
    options.frame_events = 1000;
    auto w = TapeWriter::create(path_, test_metadata(), interns_, options);
    ASSERT_TRUE(w) << w.error().to_string();
    std::vector<ProcessInfo> procs = {{.pid = 4242, .ppid = 1, .comm = "dd", .exe = "/usr/bin/dd",
                                       .cmdline = {"dd", "bs=1"}, .start_ns = 1}};
    ASSERT_TRUE((*w)->write_processes(procs));
    for (size_t i = 0; i < events_.size(); i += 500) {
      EventBatch b;
      b.events.assign(events_.begin() + i, events_.begin() + std::min(events_.size(), i + 500));
      if (i == 1000) b.losses = {{events_[i].timestamp_ns, 1, 42}};
      ASSERT_TRUE((*w)->append(b));
    }
    ASSERT_TRUE((*w)->close());
  }

  TempDir dir_;
  InternTable interns_;
  StringId comm_ = 0;
  std::vector<EbpfEvent> events_;
  std::string path_;
};

TEST_F(TapeCliTest, InfoDescribesACompleteTape) {
  auto r = run("info " + path_, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("complete"));
  EXPECT_THAT(r.out, HasSubstr("testhost"));
  EXPECT_THAT(r.out, HasSubstr(fmt::format("events:       {}", events_.size())));
  EXPECT_THAT(r.out, HasSubstr("Syscall"));
  EXPECT_THAT(r.out, HasSubstr("cpu 1"));
  EXPECT_THAT(r.out, HasSubstr("42 lost"));
  EXPECT_THAT(r.out, HasSubstr("bytes/event"));
  EXPECT_EQ(r.err, "");

  auto j = run("info --json " + path_, dir_);
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_THAT(j.out, HasSubstr(fmt::format("\"events\":{}", events_.size())));
  EXPECT_THAT(j.out, HasSubstr("\"complete\":true"));
  EXPECT_THAT(j.out, HasSubstr("\"ProcessExec\":1"));
  EXPECT_THAT(j.out, HasSubstr("\"lost\":42"));
  EXPECT_THAT(j.out, HasSubstr("\"comm\":\"dd\""));
}

TEST_F(TapeCliTest, InfoShowsBpfStatsAndSaysWhenTheyWereSampled) {
  auto none = run("info " + path_, dir_);
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("bpf programs: no kernel BPF stats in this tape"));
  EXPECT_THAT(run("info --json " + path_, dir_).out, HasSubstr("\"bpf_stats\":null"));

  // Counted 1 s in 8: 500 runs measured, 4000 estimated.
  const std::string sampled = dir_.file("sampled.bpftape");
  auto w = TapeWriter::create(sampled, test_metadata(), interns_, WriterOptions{});
  ASSERT_TRUE(w) << w.error().to_string();
  EventBatch b;
  b.events.assign(events_.begin(), events_.begin() + 10);
  ASSERT_TRUE((*w)->append(b));
  ASSERT_TRUE((*w)->write_bpf_stats(
      BpfStatsSnapshot{events_[9].timestamp_ns, {{"bt_sys_exit", 7, 1'000'000, 4000, 0, 125'000, 500}}, true}));
  ASSERT_TRUE((*w)->close());
  auto text = run("info " + sampled, dir_);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("sampled: run time and runs are estimates"));
  EXPECT_THAT(text.out, HasSubstr("bt_sys_exit"));
  EXPECT_THAT(text.out, HasSubstr("4000 runs"));
  EXPECT_THAT(text.out, HasSubstr("250 ns/run"));
  EXPECT_THAT(text.out, HasSubstr("(12.5% of runs counted)"));
  auto json = run("info --json " + sampled, dir_);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"sampled\":true"));
  EXPECT_THAT(json.out, HasSubstr("\"run_count\":4000"));
  EXPECT_THAT(json.out, HasSubstr("\"measured_run_count\":500"));
}

TEST_F(TapeCliTest, CatPrintsEveryEventAndFilters) {
  auto all = run("cat " + path_, dir_);
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(count_lines(all.out), events_.size() + 1);  // + the LOST line
  EXPECT_THAT(all.out, HasSubstr("LOST 42 events"));
  EXPECT_THAT(all.out, HasSubstr("comm=dd"));

  auto pid = run("cat --pid 77 --json " + path_, dir_);
  ASSERT_EQ(pid.exit_code, 0) << pid.err;
  EXPECT_EQ(count_lines(pid.out), 1u);
  EXPECT_THAT(pid.out, HasSubstr("\"tid\":78"));
  EXPECT_THAT(pid.out, HasSubstr("\"nr\":3,\"name\":\"close\""));  // x86_64: 3 is close

  auto pid_text = run("cat --pid 77 " + path_, dir_);
  EXPECT_THAT(pid_text.out, HasSubstr(" syscall=close "));  // the name, not the number

  auto type = run("cat --type process_exec " + path_, dir_);
  EXPECT_EQ(count_lines(type.out), 1u);
  auto comm = run("cat --comm dd " + path_, dir_);
  EXPECT_EQ(count_lines(comm.out), events_.size() - 1);  // all but pid 77

  // --since/--until are offsets from the first event.
  uint64_t base = events_.front().timestamp_ns;
  uint64_t since = events_[1000].timestamp_ns - base, until = events_[1999].timestamp_ns - base;
  auto window = run(fmt::format("cat --type syscall --since {}ns --until {}ns {}", since, until,
                                path_),
                    dir_);
  ASSERT_EQ(window.exit_code, 0) << window.err;
  EXPECT_EQ(count_lines(window.out), 1000u);

  auto bad = run("cat --type nosuch " + path_, dir_);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("unknown event type 'nosuch'"));
}

TEST_F(TapeCliTest, TruncatedTapeWarnsAndStillWorks) {
  std::ifstream in(path_, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::string cut = dir_.file("cut.bpftape");
  std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size() * 2 / 3));
  auto info = run("info " + cut, dir_);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_THAT(info.out, HasSubstr("INCOMPLETE"));
  EXPECT_THAT(info.err, HasSubstr("warning: truncated at byte"));
  EXPECT_THAT(info.err, HasSubstr("events in"));
  auto cat = run("cat " + cut, dir_);
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_GT(count_lines(cat.out), 0u);
  EXPECT_LT(count_lines(cat.out), events_.size());
  EXPECT_THAT(cat.err, HasSubstr("recovered"));
}

TEST_F(TapeCliTest, DamagedTapeFailsNamingTheOffset) {
  std::ifstream in(path_, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  bytes[bytes.size() / 2] ^= 0x10;
  std::string bad = dir_.file("bad.bpftape");
  std::ofstream(bad, std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size()));
  auto cat = run("cat " + bad, dir_);
  EXPECT_EQ(cat.exit_code, 1);
  EXPECT_THAT(cat.err, HasSubstr("corrupt frame at byte"));
  auto missing = run("info " + dir_.file("nope.bpftape"), dir_);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("No such file"));
}

}  // namespace
}  // namespace otlp::ebpf::tape
