// CPU sampling on the live kernel: a child that spins in user space gets sampled.
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/kernel/live_test_util.h"

namespace otlp::ebpf::testing {
namespace {

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(CpuSampleLivetest, SpinningChildIsSampledWithUserStacks) {
  BPFTAPE_REQUIRE_LIVE();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(fds[1]);
    char byte;
    if (read(fds[0], &byte, 1) != 1) _exit(2);
    volatile uint64_t sink = 0;
    const double start = cpu_seconds();
    while (cpu_seconds() - start < 0.4) {
      for (int i = 0; i < 10000; ++i) sink = sink + i;
    }
    _exit(0);
  }
  close(fds[0]);
  ProbeOptions options;
  options.filter.tgids = {static_cast<uint32_t>(child)};
  auto probe = CpuSampleProbe::create(options);
  ASSERT_TRUE(probe) << probe.error().to_string();
  constexpr uint32_t kHz = 199;
  auto attached = (*probe)->attach(kHz);
  ASSERT_TRUE(attached) << attached.error().to_string();
  Collector collector;
  collector.add(**probe);
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  close(fds[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  collector.drain_once();

  const auto samples = collector.of(static_cast<uint32_t>(child), EbpfEventType::CpuSample);
  // 0.4 s of CPU at 199 Hz is ~80 samples; allow for frequency ramp-up and a busy machine.
  EXPECT_GE(samples.size(), 30u);
  EXPECT_LE(samples.size(), 160u);
  size_t with_user_stack = 0;
  for (const auto& s : samples) {
    with_user_stack += collector.table().has_stack(s.payload.cpu_sample.user_stack);
  }
  EXPECT_GE(with_user_stack * 10, samples.size() * 8) << "a user-space spin has user stacks";
  EXPECT_EQ(collector.events().size(), samples.size()) << "the pid filter admits only the child";
}

}  // namespace
}  // namespace otlp::ebpf::testing
