// Syscall probe on the live kernel: exact counts from a child this test forks.
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/kernel/live_test_util.h"

namespace otlp::ebpf::testing {
namespace {

constexpr int kCalls = 1000;

// A held child's body: `getpids` getpid() calls, then `getppids` getppid() calls.
std::function<void()> caller(int getpids, int getppids) {
  return [getpids, getppids] {
    for (int i = 0; i < getpids; ++i) syscall(SYS_getpid);
    for (int i = 0; i < getppids; ++i) syscall(SYS_getppid);
  };
}

// Lets the child run and requires a clean exit.
void finish(HeldChild& child) {
  const int status = child.release_and_wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

size_t count_nr(const std::vector<EbpfEvent>& events, uint32_t nr) {
  size_t n = 0;
  for (const auto& e : events) n += e.payload.syscall.nr == nr;
  return n;
}

TEST(SyscallLivetest, ExactlyNGetpidCallsWithReturnValueAndDuration) {
  BPFTAPE_REQUIRE_LIVE();
  auto probe = SyscallProbe::create(ProbeOptions{});
  ASSERT_TRUE(probe) << probe.error().to_string();
  ASSERT_TRUE((*probe)->attach());
  Collector collector;
  collector.add(**probe);

  HeldChild held(caller(kCalls, 0));
  const pid_t child = held.pid();
  ASSERT_GT(child, 0);
  held.release();
  // No filter: the whole machine is recorded, so drain while the child runs.
  const int status = collector.wait_draining(child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  collector.drain_once();  // all of the child's syscalls completed before it exited
  const auto events = collector.of(child, EbpfEventType::Syscall);
  std::vector<EbpfEvent> getpids;
  for (const auto& e : events) {
    if (e.payload.syscall.nr == SYS_getpid) getpids.push_back(e);
  }
  EXPECT_EQ(getpids.size(), static_cast<size_t>(kCalls));
  uint64_t previous_exit = 0;
  for (const auto& e : getpids) {
    EXPECT_EQ(e.payload.syscall.ret, child);  // getpid returns the child's pid
    EXPECT_EQ(e.tid, static_cast<uint32_t>(child));
    EXPECT_GT(e.payload.syscall.duration_ns, 0u);
    EXPECT_LT(e.payload.syscall.duration_ns, 100'000'000u) << "getpid took > 100 ms?";
    EXPECT_GE(e.timestamp_ns, previous_exit);  // one thread: exits in order
    previous_exit = e.timestamp_ns;
  }
  EXPECT_EQ(lost(collector.losses()), 0u);
  EXPECT_EQ(collector.decode_errors(), 0u);
  // Never traces itself: this process made plenty of syscalls meanwhile.
  for (const auto& e : collector.events()) ASSERT_NE(e.pid, static_cast<uint32_t>(getpid()));
}

TEST(SyscallLivetest, DisabledSyscallProducesNoEvents) {
  BPFTAPE_REQUIRE_LIVE();
  auto probe = SyscallProbe::create(ProbeOptions{});
  ASSERT_TRUE(probe) << probe.error().to_string();
  ASSERT_TRUE((*probe)->set_syscall_enabled(SYS_getpid, false));
  ASSERT_TRUE((*probe)->attach());
  Collector collector;
  collector.add(**probe);

  HeldChild held(caller(kCalls, kCalls / 2));
  const pid_t child = held.pid();
  ASSERT_GT(child, 0);
  finish(held);
  collector.drain_once();
  const auto events = collector.of(child, EbpfEventType::Syscall);
  EXPECT_EQ(count_nr(events, SYS_getpid), 0u);
  EXPECT_EQ(count_nr(events, SYS_getppid), static_cast<size_t>(kCalls / 2));

  // Re-enabled at run time: takes effect without reloading.
  ASSERT_TRUE((*probe)->set_syscall_enabled(SYS_getpid, true));
  HeldChild second_child(caller(kCalls, 0));
  const pid_t second = second_child.pid();
  ASSERT_GT(second, 0);
  finish(second_child);
  collector.drain_once();
  EXPECT_EQ(count_nr(collector.of(second, EbpfEventType::Syscall), SYS_getpid),
            static_cast<size_t>(kCalls));
}

TEST(SyscallLivetest, PidFilterSetBeforeLoadTracesOnlyThatProcess) {
  BPFTAPE_REQUIRE_LIVE();
  HeldChild inside_child(caller(kCalls, 0));
  HeldChild outside_child(caller(kCalls, 0));
  const pid_t inside = inside_child.pid();
  const pid_t outside = outside_child.pid();
  ASSERT_GT(inside, 0);
  ASSERT_GT(outside, 0);
  ProbeOptions options;
  options.filter.tgids = {static_cast<uint32_t>(inside)};
  auto probe = SyscallProbe::create(options);
  ASSERT_TRUE(probe) << probe.error().to_string();
  ASSERT_TRUE((*probe)->attach());
  Collector collector;
  collector.add(**probe);
  finish(inside_child);
  finish(outside_child);
  collector.drain_once();
  EXPECT_EQ(count_nr(collector.of(inside, EbpfEventType::Syscall), SYS_getpid),
            static_cast<size_t>(kCalls));
  for (const auto& e : collector.events()) ASSERT_EQ(e.pid, static_cast<uint32_t>(inside));
}

TEST(SyscallLivetest, CommFilterTracesOnlyTasksWithThatName) {
  BPFTAPE_REQUIRE_LIVE();
  ProbeOptions options;
  options.filter.comm = "bt-comm-probe";
  auto probe = SyscallProbe::create(options);
  ASSERT_TRUE(probe) << probe.error().to_string();
  ASSERT_TRUE((*probe)->attach());
  Collector collector;
  collector.add(**probe);
  // Two children make the same calls; only the one that renamed itself is traced.
  const pid_t named = fork();
  if (named == 0) {
    prctl(PR_SET_NAME, "bt-comm-probe");
    for (int i = 0; i < kCalls; ++i) syscall(SYS_getpid);
    _exit(0);
  }
  const pid_t other = fork();
  if (other == 0) {
    for (int i = 0; i < kCalls; ++i) syscall(SYS_getpid);
    _exit(0);
  }
  ASSERT_GT(named, 0);
  ASSERT_GT(other, 0);
  int status = 0;
  ASSERT_EQ(waitpid(named, &status, 0), named);
  ASSERT_EQ(waitpid(other, &status, 0), other);
  collector.drain_once();
  EXPECT_EQ(count_nr(collector.of(named, EbpfEventType::Syscall), SYS_getpid),
            static_cast<size_t>(kCalls));
  for (const auto& e : collector.events()) ASSERT_EQ(e.pid, static_cast<uint32_t>(named));
}

// Where cgroup v2 is mounted ("" if nowhere): bpf_get_current_cgroup_id() is a v2 id.
std::string cgroup2_mount() {
  std::ifstream mounts("/proc/mounts");
  std::string device, path, type, rest;
  while (mounts >> device >> path >> type && std::getline(mounts, rest)) {
    if (type == "cgroup2") return path;
  }
  return "";
}

TEST(SyscallLivetest, CgroupFilterTracesOnlyThatCgroup) {
  BPFTAPE_REQUIRE_LIVE();
  const std::string root = cgroup2_mount();
  if (root.empty()) GTEST_SKIP() << "no cgroup v2 hierarchy mounted";
  const std::string dir = root + "/bpftape-kernel-test-" + std::to_string(getpid());
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
  // Removed on every exit path; succeeds once the children were reaped (the cgroup is empty).
  struct RemoveDir {
    std::string path;
    ~RemoveDir() { rmdir(path.c_str()); }
  } cleanup{dir};
  struct stat st{};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  const uint64_t cgroup_id = st.st_ino;  // a cgroup v2 id is its directory's inode number

  HeldChild inside_child(caller(kCalls, 0));
  HeldChild outside_child(caller(kCalls, 0));
  const pid_t inside = inside_child.pid();
  const pid_t outside = outside_child.pid();
  ASSERT_GT(inside, 0);
  ASSERT_GT(outside, 0);
  {
    std::ofstream procs(dir + "/cgroup.procs");
    procs << inside << std::endl;
    ASSERT_TRUE(procs.good()) << "moving the child into " << dir;
  }
  ProbeOptions options;
  options.filter.cgroup_id = cgroup_id;
  auto probe = SyscallProbe::create(options);
  ASSERT_TRUE(probe) << probe.error().to_string();
  ASSERT_TRUE((*probe)->attach());
  Collector collector;
  collector.add(**probe);
  finish(inside_child);
  finish(outside_child);
  collector.drain_once();
  EXPECT_EQ(count_nr(collector.of(inside, EbpfEventType::Syscall), SYS_getpid),
            static_cast<size_t>(kCalls));
  for (const auto& e : collector.events()) ASSERT_EQ(e.pid, static_cast<uint32_t>(inside));
}

TEST(SyscallLivetest, TinyRingCountsEveryDropAsLoss) {
  BPFTAPE_REQUIRE_LIVE();
  ProbeOptions options;
  options.ring_bytes = 4096;  // ~80 records fit; the child makes far more
  HeldChild held(caller(kCalls, 0));
  const pid_t child = held.pid();
  ASSERT_GT(child, 0);
  options.filter.tgids = {static_cast<uint32_t>(child)};
  auto probe = SyscallProbe::create(options);
  ASSERT_TRUE(probe) << probe.error().to_string();
  // Only getpid: then every record the child produces (delivered or dropped) is a getpid.
  ASSERT_TRUE((*probe)->set_all_syscalls_enabled(false));
  ASSERT_TRUE((*probe)->set_syscall_enabled(SYS_getpid, true));
  ASSERT_TRUE((*probe)->attach());
  Collector collector;
  collector.add(**probe);
  finish(held);  // nobody drains while the child runs
  collector.drain_once();
  const size_t seen = count_nr(collector.of(child, EbpfEventType::Syscall), SYS_getpid);
  const uint64_t dropped = lost(collector.losses());
  EXPECT_GT(dropped, 0u);
  EXPECT_LT(seen, static_cast<size_t>(kCalls));
  // Nothing is lost silently: only the child's getpids produce records, so each one is either
  // delivered or counted as lost.
  EXPECT_EQ(seen + dropped, static_cast<size_t>(kCalls));
}

}  // namespace
}  // namespace otlp::ebpf::testing
