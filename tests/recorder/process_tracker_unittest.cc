// ProcessTracker over a fake /proc: pids first seen are named from /proc (or by their pid when
// gone), forks inherit the parent's executable, execs rename and re-read the command line,
// exits end the incarnation; the tape gets each change once; the symbol side is told when an
// address space appears or is replaced.
#include "recorder/process_tracker.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "recorder/procfs.h"
#include "tests/recorder/fake_files.h"
#include "tests/temp_dir.h"

namespace bpftape::record {
namespace {

using namespace otlp::ebpf;
using otlp::ebpf::testing::TempDir;

using bpftape::record::testing::write_file;

// The fixture's /proc/100/cmdline, argument by argument: one holds a space.
const std::vector<std::string> kServerArgs = {"server", "--name", "a b"};

// What the tracker told the symbol side, in order: ('+', pid) appeared, ('-', pid) replaced.
struct RecordingWatcher : AddressSpaceWatcher {
  std::vector<std::pair<char, uint32_t>> calls;
  void address_space_appeared(uint32_t pid) override { calls.emplace_back('+', pid); }
  void address_space_replaced(uint32_t pid) override { calls.emplace_back('-', pid); }
};

class ProcessTrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(proc_.file("proc/100/stat"), "100 (server) S 1 100 100 0");
    write_file(proc_.file("proc/100/comm"), "server\n");
    write_file(proc_.file("proc/100/cmdline"), std::string("server\0--name\0" "a b\0", 18));
    write_file(proc_.file("proc/100/cgroup"), "0::/system.slice/server.service\n");
  }
  EbpfEvent process_event(EbpfEventType type, uint64_t ts, uint32_t pid, ProcessData data) {
    return EbpfEvent::process_event(type, ts, pid, pid, 0, data);
  }
  EbpfEvent syscall(uint64_t ts, uint32_t pid) {
    return EbpfEvent::syscall_event(ts, pid, pid, 0, SyscallData{});
  }

  TempDir proc_;
  InternTable interned_;
  RecordingWatcher watcher_;
  ProcessTracker tracker_{proc_.file("proc"), &watcher_};
};

TEST_F(ProcessTrackerTest, APidFirstSeenIsNamedFromProcOnceAndHandedOutOnce) {
  tracker_.learn(syscall(10, 100), interned_);
  tracker_.learn(syscall(11, 100), interned_);
  const ProcessInfo* server = tracker_.processes().latest(100);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->comm, "server");
  EXPECT_EQ(server->ppid, 1u);
  EXPECT_EQ(server->cmdline, kServerArgs);
  EXPECT_EQ(server->cgroup, "/system.slice/server.service");
  EXPECT_EQ(watcher_.calls, (std::vector<std::pair<char, uint32_t>>{{'+', 100}}));
  const auto updates = tracker_.take_updates();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].pid, 100u);
  EXPECT_TRUE(tracker_.take_updates().empty());
}

TEST_F(ProcessTrackerTest, AGoneProcessIsKnownByItsPid) {
  tracker_.learn(syscall(10, 555), interned_);
  const ProcessInfo* gone = tracker_.processes().latest(555);
  ASSERT_NE(gone, nullptr);
  EXPECT_TRUE(gone->comm.empty());
}

TEST_F(ProcessTrackerTest, ForkExecExitMakeAndEndAnIncarnation) {
  const StringId worker = interned_.intern_string("server");
  tracker_.learn(process_event(EbpfEventType::ProcessFork, 20, 100,
                               ProcessData{.parent_pid = 100, .child_pid = 200, .comm = worker}),
                 interned_);
  const ProcessInfo* child = tracker_.processes().latest(200);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->ppid, 100u);
  EXPECT_EQ(child->start_ns, 20u);
  EXPECT_EQ(child->cmdline, kServerArgs);  // inherited until it execs
  (void)tracker_.take_updates();

  // The child execs; /proc no longer has it (it exits at once): the event names it.
  const StringId sh = interned_.intern_string("sh");
  const StringId bin_sh = interned_.intern_string("/bin/sh");
  tracker_.learn(process_event(EbpfEventType::ProcessExec, 30, 200,
                               ProcessData{.parent_pid = 100, .comm = sh, .filename = bin_sh}),
                 interned_);
  tracker_.learn(process_event(EbpfEventType::ProcessExit, 40, 200,
                               ProcessData{.parent_pid = 100, .exit_code = 256}),
                 interned_);
  child = tracker_.processes().latest(200);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->comm, "sh");
  EXPECT_EQ(child->exe, "/bin/sh");
  EXPECT_EQ(child->exit_ns, 40u);
  EXPECT_EQ(child->exit_code, 256);
  const auto updates = tracker_.take_updates();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].exe, "/bin/sh");

  // The parent appeared; the child's pid was replaced at the fork (a reused pid's maps are
  // stale) and at the exec, where its new image appeared.
  EXPECT_EQ(watcher_.calls, (std::vector<std::pair<char, uint32_t>>{
                                {'+', 100}, {'-', 200}, {'-', 200}, {'+', 200}}));
}

TEST(CommandLineArguments, SplitAtEachNulAndKeepEveryArgumentWhole) {
  using Args = std::vector<std::string>;
  EXPECT_EQ(command_line_arguments(std::string_view("ls\0-l\0a b\0", 10)), (Args{"ls", "-l", "a b"}));
  // Empty arguments are arguments too.
  EXPECT_EQ(command_line_arguments(std::string_view("x\0\0y\0", 5)), (Args{"x", "", "y"}));
  // A process that rewrote its title: one string, no terminator.
  EXPECT_EQ(command_line_arguments("nginx: worker process"), (Args{"nginx: worker process"}));
  EXPECT_EQ(command_line_arguments(""), Args{});  // a kernel thread
}

}  // namespace
}  // namespace bpftape::record
