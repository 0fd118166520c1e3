// The seeds' tracer API on the live kernel: children with known workloads, exact counts.
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/otlp/pprof.h"
#include "core/tracers/syscall_names.h"
#include "tests/kernel/live_test_util.h"
#include "tests/recorder/record_test_util.h"
#include "tests/temp_dir.h"
#include "tracers/tracers.h"

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

void raw_syscalls(long nr, int n) {
  for (int i = 0; i < n; ++i) syscall(nr);
}

// A forked child that runs one phase per run_phase() call and exits after the last: the
// parent knows, when run_phase() returns, that the phase's syscalls have all returned.
class PhasedChild {
 public:
  explicit PhasedChild(std::vector<std::function<void()>> phases) {
    int go[2], done[2];
    if (pipe(go) != 0 || pipe(done) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(go[1]);
      close(done[0]);
      char byte;
      for (auto& phase : phases) {
        if (read(go[0], &byte, 1) != 1) _exit(2);
        phase();
        if (write(done[1], "d", 1) != 1) _exit(3);
      }
      _exit(0);
    }
    close(go[0]);
    close(done[1]);
    go_ = go[1];
    done_ = done[0];
  }
  ~PhasedChild() {
    close(go_);
    close(done_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  void run_phase() {
    char byte;
    ASSERT_EQ(write(go_, "g", 1), 1);
    ASSERT_EQ(read(done_, &byte, 1), 1);
  }
  int wait() {
    int status = 0;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  int done_ = -1;
};

uint64_t count_of(const std::vector<SyscallSummary>& summaries, uint32_t nr) {
  for (const auto& s : summaries) {
    if (s.nr == nr) return s.count;
  }
  return 0;
}

uint64_t events_of(const std::vector<EbpfEvent>& events, uint32_t pid, uint32_t nr) {
  uint64_t n = 0;
  for (const auto& e : events) {
    n += e.pid == pid && e.event_type == EbpfEventType::Syscall && e.payload.syscall.nr == nr;
  }
  return n;
}

TaskFilter only(pid_t pid) { return TaskFilter{.tgids = {static_cast<uint32_t>(pid)}}; }

TEST(TracersLivetest, FilterSyscallFiltersInTheKernelAndInWhatStopReturns) {
  BPFTAPE_REQUIRE_LIVE();
  constexpr int kGetpids = 3000, kGetppids = 2000;
  HeldChild held([] {
    raw_syscalls(SYS_getpid, kGetpids);
    raw_syscalls(SYS_getppid, kGetppids);
  });
  const pid_t child = held.pid();
  ASSERT_GT(child, 0);
  EbpfSyscallTracer tracer(EbpfConfig{}.with_syscall_tracing(true));
  tracer.with_filter(only(child));
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
  const auto pid = static_cast<uint32_t>(child);
  EXPECT_EQ(events_of(*events, pid, SYS_getpid), static_cast<uint64_t>(kGetpids));
  EXPECT_EQ(events_of(*events, pid, SYS_getppid), 0u);
  const auto summaries = tracer.by_syscall();
  EXPECT_EQ(count_of(summaries, SYS_getpid), static_cast<uint64_t>(kGetpids));
  EXPECT_EQ(count_of(summaries, SYS_getppid), 0u);
  // Filtered in the kernel: none reached user space to be filtered there.
  EXPECT_EQ(tracer.get_stats().filtered_out, 0u);
  const auto overhead = tracer.get_overhead();
  EXPECT_TRUE(overhead.bpf_stats_available);
  EXPECT_GT(overhead.bpf_run_time_ns, 0u);
  EXPECT_GT(overhead.memory_bytes, 0u);
  EXPECT_GT(overhead.wall_ns, 0u);
}

// get_stats() is current while running, and pause() stops tracing: exact counts around a
// pause during which the child keeps calling getpid.
TEST(TracersLivetest, GetStatsIsCurrentAndPauseStopsTracing) {
  BPFTAPE_REQUIRE_LIVE();
  constexpr int kBefore = 700, kPaused = 900, kAfter = 500;
  PhasedChild child({[] { raw_syscalls(SYS_getpid, kBefore); },
                     [] { raw_syscalls(SYS_getpid, kPaused); },
                     [] { raw_syscalls(SYS_getpid, kAfter); }});
  const pid_t pid = child.pid();
  ASSERT_GT(pid, 0);
  EbpfSyscallTracer tracer(EbpfConfig{}.with_syscall_tracing(true));
  tracer.with_filter(only(pid));
  ASSERT_TRUE(tracer.start());
  child.run_phase();
  EXPECT_EQ(count_of(tracer.by_syscall(), SYS_getpid), static_cast<uint64_t>(kBefore));
  ASSERT_TRUE(tracer.pause());
  child.run_phase();
  EXPECT_EQ(count_of(tracer.by_syscall(), SYS_getpid), static_cast<uint64_t>(kBefore));
  ASSERT_TRUE(tracer.resume());
  child.run_phase();
  EXPECT_EQ(count_of(tracer.by_syscall(), SYS_getpid), static_cast<uint64_t>(kBefore + kAfter));
  const int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto events = tracer.stop();
  ASSERT_TRUE(events) << events.error().to_string();
  EXPECT_EQ(events_of(*events, static_cast<uint32_t>(pid), SYS_getpid),
            static_cast<uint64_t>(kBefore + kAfter));
}

TEST(TracersLivetest, DurationEndsCollectingByItself) {
  BPFTAPE_REQUIRE_LIVE();
  HeldChild held([] { raw_syscalls(SYS_getpid, 100); });
  ASSERT_GT(held.pid(), 0);
  EbpfSyscallTracer tracer(EbpfConfig{}.with_syscall_tracing(true).with_duration(
      std::chrono::milliseconds(200)));
  tracer.with_filter(only(held.pid()));
  ASSERT_TRUE(tracer.start());
  // Liveness bound only (not a timing assertion): the tracer must end on its own.
  for (int i = 0; i < 3000 && tracer.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(tracer.is_running()) << "still collecting 30 s after a 200 ms duration";
  held.release_and_wait();
  auto events = tracer.stop();
  ASSERT_TRUE(events) << events.error().to_string();
  EXPECT_EQ(events_of(*events, static_cast<uint32_t>(held.pid()), SYS_getpid), 0u);
}

TEST(TracersLivetest, MaxSamplesBoundsWhatIsAggregatedAndReturned) {
  BPFTAPE_REQUIRE_LIVE();
  HeldChild held([] { raw_syscalls(SYS_getpid, 5000); });
  ASSERT_GT(held.pid(), 0);
  EbpfSyscallTracer tracer(EbpfConfig{}.with_syscall_tracing(true).with_max_samples(100));
  tracer.with_filter(only(held.pid()));
  ASSERT_TRUE(tracer.start());
  held.release_and_wait();
  auto events = tracer.stop();
  ASSERT_TRUE(events) << events.error().to_string();
  uint64_t syscalls = 0;
  for (const auto& e : *events) syscalls += e.event_type == EbpfEventType::Syscall;
  EXPECT_EQ(syscalls, 100u);
  EXPECT_EQ(tracer.get_stats().syscalls_traced, 100u);
}

TEST(TracersLivetest, CpuProfilerReturnsASymbolizedProfile) {
  BPFTAPE_REQUIRE_LIVE();
  HeldChild held(workload({"spin", "600"}));
  const pid_t child = held.pid();
  ASSERT_GT(child, 0);
  EbpfCpuProfiler profiler(EbpfConfig{}.with_sample_rate(199));
  profiler.with_filter(only(child));
  ASSERT_TRUE(profiler.start());
  held.release_and_wait();
  auto profile = profiler.stop();
  ASSERT_TRUE(profile) << profile.error().to_string();
  EXPECT_GT(profile->sample_size(), 0);
  bool named = false;
  for (const auto& f : profile->function()) {
    if (profile->string_table(f.name()) == "bpftape_workload_spin") named = true;
  }
  EXPECT_TRUE(named) << "the spin function is named in the profile";
  EXPECT_TRUE(pprof_gzip(*profile));
}

// The same workload traced live and from a tape `bpftape record` made of it: the same counts.
TEST(TracersLivetest, LiveAndTapeOfTheSameWorkloadGiveTheSameSyscallCounts) {
  BPFTAPE_REQUIRE_LIVE();
  constexpr int kGetpids = 2500;
  HeldChild held(workload({"syscalls", std::to_string(kGetpids)}));
  ASSERT_GT(held.pid(), 0);
  EbpfSyscallTracer live(EbpfConfig{}.with_syscall_tracing(true));
  live.with_filter(only(held.pid()));
  ASSERT_TRUE(live.start());
  held.release_and_wait();
  auto live_events = live.stop();
  ASSERT_TRUE(live_events) << live_events.error().to_string();

  otlp::ebpf::testing::TempDir dir;
  const std::string tape = dir.path() + "/getpid.bpftape";
  auto recorded = bpftape::record::testing::run(
      bpftape::record::testing::kBpftape + " record --syscalls -q -o " + tape + " -- " +
      bpftape::record::testing::kWorkload + " syscalls " + std::to_string(kGetpids));
  ASSERT_EQ(recorded.exit_code, 0) << recorded.out;
  EbpfSyscallTracer replayed(EbpfConfig{}.with_syscall_tracing(true), tape_provider(tape));
  ASSERT_TRUE(replayed.start());
  auto tape_events = replayed.stop();
  ASSERT_TRUE(tape_events) << tape_events.error().to_string();

  const uint64_t live_getpids = count_of(live.by_syscall(), SYS_getpid);
  EXPECT_EQ(live_getpids, static_cast<uint64_t>(kGetpids));
  EXPECT_EQ(count_of(replayed.by_syscall(), SYS_getpid), live_getpids);
  uint64_t tape_getpid_events = 0;
  for (const auto& e : *tape_events) {
    tape_getpid_events += e.event_type == EbpfEventType::Syscall && e.payload.syscall.nr == SYS_getpid;
  }
  EXPECT_EQ(tape_getpid_events, events_of(*live_events, static_cast<uint32_t>(held.pid()), SYS_getpid));
  // Over a tape, the live-only operations say so.
  EXPECT_EQ(replayed.get_overhead().wall_ns, 0u);
}

}  // namespace
}  // namespace otlp::ebpf
