// `bpftape record -- CMD` from the command's side, on the live kernel: a command that cannot
// start fails the recording and leaves no tape; one still running when the recording ends is
// stopped with everything it started; the cgroup a killed recorder left is removed by the next
// recording; --max-size bounds the file; the PATH search makes one execve, not one per PATH
// directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/tape/reader.h"
#include "recorder/command_cgroup.h"
#include "tests/kernel/live_test_util.h"
#include "tests/recorder/record_test_util.h"
#include "tests/run_command.h"
#include "tests/temp_dir.h"

namespace bpftape::record {
namespace {

using namespace otlp::ebpf;
using otlp::ebpf::testing::TempDir;
using ::testing::HasSubstr;

using bpftape::record::testing::kBpftape;
using bpftape::record::testing::kWorkload;
using bpftape::record::testing::run;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Alive and not a zombie (a zombie has ended; whoever inherited it reaps it in its own time).
bool running(pid_t pid) {
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  const char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

TEST(RecordLifecycleLivetest, ACommandThatCannotStartFailsAndLeavesNoTape) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("never.bpftape");
  for (const std::string& command :
       {std::string("/nonexistent/cmd"), std::string("bpftape-no-such-command")}) {
    auto result = run(kBpftape + " record --syscalls -o " + tape + " -- " + command);
    EXPECT_EQ(result.exit_code, 1) << command << ": " << result.out;
    EXPECT_THAT(result.out, HasSubstr("cannot run '" + command + "'"));
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()))
        << command << ": a tape (or a temporary file) was left: " << result.out;
  }
  // --help says so.
  EXPECT_THAT(run(kBpftape + " record --help").out,
              HasSubstr("could not start: no tape is written"));
}

// A command that ignores SIGTERM, with a child that ignores it too, outlives --duration: both
// are gone when the recorder exits (SIGKILL after the grace period, through the cgroup). Their
// output goes elsewhere: a survivor holding the test's pipe would hang the test, not fail it.
TEST(RecordLifecycleLivetest, ACommandStillRunningWhenTheDurationEndsIsStoppedWithItsChildren) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("stopped.bpftape");
  const std::string pids = dir.file("pids");
  auto result = run(kBpftape + " record --syscalls --duration 1s -o " + tape +
                    " -- /bin/sh -c 'exec >/dev/null 2>&1; trap \"\" TERM; echo $$ > " + pids +
                    "; (while :; do sleep 0.1; done) & echo $! >> " + pids +
                    "; while :; do sleep 0.1; done'");
  EXPECT_EQ(result.exit_code, 0) << result.out;
  EXPECT_THAT(result.out, ::testing::ContainsRegex(R"(command: stopped \(pid [0-9]+\))"));
  EXPECT_THAT(result.out, HasSubstr("SIGKILL after 2 s"));
  std::istringstream in(read_text(pids));
  pid_t command = 0, child = 0;
  in >> command >> child;
  ASSERT_GT(child, 0) << "the command did not start its child: " << result.out;
  EXPECT_FALSE(running(command)) << "the command outlived the recording";
  EXPECT_FALSE(running(child)) << "the command's child outlived the recording";
  if (running(child)) kill(child, SIGKILL);
  if (running(command)) kill(command, SIGKILL);
}

// A cgroup planted as a killed recorder would leave it (the name of a recorder that is gone),
// with a process still in it: the next record removes it and moves the process out, alive.
// One named after a live process (this test) stays.
TEST(RecordLifecycleLivetest, TheNextRecordRemovesTheCgroupOfARecorderThatIsGone) {
  BPFTAPE_REQUIRE_LIVE();
  const std::string parent = own_cgroup_dir();
  if (parent.empty()) GTEST_SKIP() << "no cgroup v2 hierarchy is mounted";
  // A pid that is gone: a child that exited and was reaped.
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string stale = parent + "/" + command_cgroup_name(dead, 12345);
  const std::string alive =
      parent + "/" + command_cgroup_name(getpid(), process_start_ticks(getpid()));
  if (mkdir(stale.c_str(), 0755) != 0) GTEST_SKIP() << "cannot create a cgroup in " << parent;
  ASSERT_EQ(mkdir(alive.c_str(), 0755), 0);
  const pid_t sleeper = fork();
  if (sleeper == 0) {
    execl("/bin/sleep", "sleep", "1000", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::ofstream(stale + "/cgroup.procs") << sleeper;

  TempDir dir;
  auto result =
      run(kBpftape + " record --syscalls --duration 100ms -q -o " + dir.file("t.bpftape"));
  EXPECT_EQ(result.exit_code, 0) << result.out;
  EXPECT_FALSE(std::filesystem::exists(stale)) << result.out;
  EXPECT_THAT(result.out, HasSubstr("removed " + stale));
  EXPECT_TRUE(std::filesystem::exists(alive)) << "the cgroup of a live recorder was removed";
  EXPECT_TRUE(running(sleeper)) << "a process of the stale cgroup was killed, not moved";
  EXPECT_EQ(read_text("/proc/" + std::to_string(sleeper) + "/cgroup").find("bpftape-record"),
            std::string::npos);
  kill(sleeper, SIGKILL);
  waitpid(sleeper, nullptr, 0);
  std::ofstream(parent + "/cgroup.procs") << sleeper;  // no-op once it is gone; cleanup if not
  rmdir(stale.c_str());
  rmdir(alive.c_str());
}

TEST(RecordLifecycleLivetest, MaxSizeBoundsTheFile) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  for (const auto& [flag, bytes] : {std::pair{"64K", 64 * 1024}, std::pair{"1M", 1024 * 1024}}) {
    const std::string tape = dir.file(std::string(flag) + ".bpftape");
    auto result = run(kBpftape + " record --syscalls --max-size " + flag + " -o " + tape + " -- " +
                      kWorkload + " syscalls 3000000");
    ASSERT_EQ(result.exit_code, 0) << result.out;
    EXPECT_THAT(result.out, HasSubstr("max size reached"));
    EXPECT_LE(std::filesystem::file_size(tape), static_cast<uintmax_t>(bytes)) << flag;
    auto reader = tape::TapeReader::open(tape, {});
    ASSERT_TRUE(reader) << reader.error().to_string();
    EXPECT_TRUE((*reader)->complete()) << flag;
    ASSERT_TRUE((*reader)->index());
    EXPECT_GT((*reader)->index()->event_count, 0u) << flag;
  }
  auto small = run(kBpftape + " record --syscalls --max-size 4096 -o " + dir.file("small.bpftape"));
  EXPECT_EQ(small.exit_code, 2) << small.out;
  EXPECT_THAT(small.out, HasSubstr("--max-size: at least 64"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("small.bpftape")));
}

// The command is found through PATH by the recorder, so the tape shows the one execve a shell
// (or strace) shows, not one failed attempt per PATH directory before it.
TEST(RecordLifecycleLivetest, ACommandFoundThroughPathMakesExactlyOneExecve) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("path.bpftape");
  const std::string workload_dir = std::filesystem::path(kWorkload).parent_path().string();
  auto result = run("PATH=/nonexistent-a:/nonexistent-b:" + workload_dir + " " + kBpftape +
                    " record --syscalls -q -o " + tape + " -- bpftape_workload syscalls 10");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  auto reader = tape::TapeReader::open(tape, {});
  ASSERT_TRUE(reader) << reader.error().to_string();
  EventBatch batch;
  std::vector<EbpfEvent> execs;
  for (;;) {
    auto more = (*reader)->next(&batch);
    ASSERT_TRUE(more) << more.error().to_string();
    if (!*more) break;
    for (const auto& e : batch.events) {
      if (e.event_type == EbpfEventType::Syscall && e.payload.syscall.nr == SYS_execve)
        execs.push_back(e);
    }
  }
  uint32_t workload = 0;
  for (const auto& p : (*reader)->processes().all()) {
    if (p.exe.ends_with("/bpftape_workload")) workload = p.pid;
  }
  ASSERT_NE(workload, 0u) << "no process record for the workload";
  std::vector<int64_t> results;
  for (const auto& e : execs) {
    if (e.pid == workload) results.push_back(e.payload.syscall.ret);
  }
  EXPECT_EQ(results, std::vector<int64_t>{0}) << "execve results of the command";
}

}  // namespace
}  // namespace bpftape::record
