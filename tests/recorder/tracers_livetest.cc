// The seeds' tracer API on the live kernel: a child with a known workload, exact counts.
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/otlp/pprof.h"
#include "core/tracers/syscall_names.h"
#include "recorder/tracers.h"
#include "tests/kernel/live_test_util.h"

namespace otlp::ebpf {
namespace {

using testing::HeldChild;

// A held child that execs the test workload with `args` once released.
std::function<void()> workload(const std::vector<std::string>& args) {
  return [args] {
    std::vector<char*> argv{const_cast<char*>(BPFTAPE_WORKLOAD)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  };
}

TEST(TracersLivetest, SyscallTracerCountsEveryGetpidOfTheChildAndHonoursFilterSyscall) {
  BPFTAPE_REQUIRE_LIVE();
  HeldChild held(workload({"syscalls", "3000"}));
  const pid_t child = held.pid();
  ASSERT_GT(child, 0);
  EbpfSyscallTracer tracer(EbpfConfig{}.with_syscall_tracing(true));
  tracer.with_filter(ProbeFilter{.tgids = {static_cast<uint32_t>(child)}});
  ASSERT_TRUE(tracer.filter_syscall("getppid", false));
  EXPECT_FALSE(tracer.filter_syscall("no_such_syscall", false));
  auto started = tracer.start();
  ASSERT_TRUE(started) << started.error().to_string();
  EXPECT_TRUE(tracer.is_running());
  const int status = held.release_and_wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto events = tracer.stop();
  ASSERT_TRUE(events) << events.error().to_string();
  EXPECT_FALSE(tracer.is_running());
  uint64_t getpids = 0;
  for (const auto& e : *events) {
    EXPECT_EQ(e.pid, static_cast<uint32_t>(child));
    getpids += e.event_type == EbpfEventType::Syscall && e.payload.syscall.nr == SYS_getpid;
  }
  EXPECT_EQ(getpids, 3000u);
  uint64_t aggregated = 0;
  for (const auto& s : tracer.by_syscall()) {
    if (s.nr == SYS_getpid) aggregated = s.count;
  }
  EXPECT_EQ(aggregated, 3000u);
  EXPECT_GT(tracer.get_stats().unique_syscalls, 3u);  // execve, mmap, getpid, exit_group, ...
  const auto overhead = tracer.get_overhead();
  EXPECT_TRUE(overhead.bpf_stats_available);
  EXPECT_GT(overhead.bpf_run_time_ns, 0u);
  EXPECT_GT(overhead.memory_bytes, 0u);
  EXPECT_GT(overhead.wall_ns, 0u);
}

TEST(TracersLivetest, CpuProfilerPauseStopsSamplingAndStopReturnsASymbolizedProfile) {
  BPFTAPE_REQUIRE_LIVE();
  HeldChild held(workload({"spin", "1200"}));
  const pid_t child = held.pid();
  ASSERT_GT(child, 0);
  EbpfCpuProfiler profiler(EbpfConfig{}.with_sample_rate(199));
  profiler.with_filter(ProbeFilter{.tgids = {static_cast<uint32_t>(child)}});
  ASSERT_TRUE(profiler.start());
  // Paused before the child runs: nothing sampled; resumed: the spin is sampled.
  ASSERT_TRUE(profiler.pause());
  held.release();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const uint64_t while_paused = profiler.get_stats().samples;
  ASSERT_TRUE(profiler.resume());
  held.release_and_wait();
  auto profile = profiler.stop();
  ASSERT_TRUE(profile) << profile.error().to_string();
  EXPECT_EQ(while_paused, 0u);
  EXPECT_GT(profile->sample_size(), 0);
  bool named = false;
  for (const auto& f : profile->function()) {
    if (profile->string_table(f.name()) == "bpftape_workload_spin") named = true;
  }
  EXPECT_TRUE(named) << "the spin function is named in the profile";
  auto gz = pprof_gzip(*profile);
  EXPECT_TRUE(gz);
}

}  // namespace
}  // namespace otlp::ebpf
