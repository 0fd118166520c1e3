// Process probe on the live kernel: exec of /bin/true and its exit.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/kernel/live_test_util.h"

namespace otlp::ebpf::testing {
namespace {

TEST(ProcessLivetest, ExecOfBinTrueGivesOneExecAndOneExit) {
  BPFTAPE_REQUIRE_LIVE();
  auto probe = ProcessProbe::create(ProbeOptions{});
  ASSERT_TRUE(probe) << probe.error().to_string();
  ASSERT_TRUE((*probe)->attach());
  Collector collector;
  collector.add(**probe);

  const pid_t child = fork();
  if (child == 0) {
    execl("/bin/true", "true", static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const uint32_t pid = static_cast<uint32_t>(child);
  ASSERT_TRUE(collector.drain_until([&](const auto&) {
    return !collector.of(pid, EbpfEventType::ProcessExit).empty();
  }));

  const auto execs = collector.of(pid, EbpfEventType::ProcessExec);
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(collector.table().string(execs[0].payload.process.filename), "/bin/true");
  EXPECT_EQ(collector.table().string(execs[0].payload.process.comm), "true");
  EXPECT_EQ(execs[0].payload.process.parent_pid, static_cast<uint32_t>(getpid()));

  const auto exits = collector.of(pid, EbpfEventType::ProcessExit);
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].payload.process.exit_code, 0);
  EXPECT_EQ(collector.table().string(exits[0].payload.process.comm), "true");
  EXPECT_GT(exits[0].timestamp_ns, execs[0].timestamp_ns);
  // The fork was made by this (recording) process: never traced.
  EXPECT_TRUE(collector.of(static_cast<uint32_t>(getpid()), EbpfEventType::ProcessFork).empty());
}

TEST(ProcessLivetest, ForkOfAChildAndExitCodeAreRecorded) {
  BPFTAPE_REQUIRE_LIVE();
  auto probe = ProcessProbe::create(ProbeOptions{});
  ASSERT_TRUE(probe) << probe.error().to_string();
  ASSERT_TRUE((*probe)->attach());
  Collector collector;
  collector.add(**probe);

  // child forks a grandchild that exits 7; the child reports the grandchild's pid through
  // its own exit status is not enough (8 bits), so through a pipe.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    const pid_t grandchild = fork();
    if (grandchild == 0) _exit(7);
    int status = 0;
    waitpid(grandchild, &status, 0);
    const ssize_t w = write(fds[1], &grandchild, sizeof(grandchild));
    _exit(w == sizeof(grandchild) ? 0 : 1);
  }
  close(fds[1]);
  pid_t grandchild = 0;
  ASSERT_EQ(read(fds[0], &grandchild, sizeof(grandchild)), static_cast<ssize_t>(sizeof(grandchild)));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  const uint32_t gc = static_cast<uint32_t>(grandchild);
  ASSERT_TRUE(collector.drain_until([&](const auto&) {
    return !collector.of(gc, EbpfEventType::ProcessExit).empty() &&
           !collector.of(static_cast<uint32_t>(child), EbpfEventType::ProcessExit).empty();
  }));
  const auto forks = collector.of(static_cast<uint32_t>(child), EbpfEventType::ProcessFork);
  ASSERT_EQ(forks.size(), 1u);
  EXPECT_EQ(forks[0].payload.process.child_pid, gc);
  EXPECT_EQ(forks[0].payload.process.parent_pid, static_cast<uint32_t>(child));
  const auto exits = collector.of(gc, EbpfEventType::ProcessExit);
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].payload.process.exit_code, 7 << 8);  // wait(2) status: WEXITSTATUS == 7
  EXPECT_EQ(exits[0].payload.process.parent_pid, static_cast<uint32_t>(child));
}

}  // namespace
}  // namespace otlp::ebpf::testing
