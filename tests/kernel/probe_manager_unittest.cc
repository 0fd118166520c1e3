// ProbeManager without a loaded object: registration, listing, detaching.
#include "bpf/probe_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace otlp::ebpf {
namespace {

using ::testing::HasSubstr;

TEST(ProbeManagerTest, WithoutAnObjectProbesAreOnlyRegistered) {
  ProbeManager probes;
  ASSERT_TRUE(probes.attach_kprobe("kp", "do_sys_openat2"));
  ASSERT_TRUE(probes.attach_uprobe("up", "libc.so.6", "malloc"));
  ASSERT_TRUE(probes.attach_tracepoint("tp", "sched", "sched_process_exec"));
  ASSERT_TRUE(probes.attach_raw_tracepoint("raw", "sys_enter"));
  ASSERT_TRUE(probes.attach_perf_event("pe", PerfEventSpec{.sample_freq_hz = 99}));
  EbpfLoader not_loaded;
  ASSERT_TRUE(probes.attach_auto("auto", &not_loaded));  // loader without object: register only

  const auto list = probes.list_probes();
  ASSERT_EQ(list.size(), 6u);
  // Ordered by name.
  EXPECT_EQ(list[0].name, "auto");
  EXPECT_EQ(list[1].name, "kp");
  EXPECT_EQ(list[1].type, ProbeType::Kprobe);
  EXPECT_EQ(list[1].target, "do_sys_openat2");
  EXPECT_EQ(list[5].name, "up");
  EXPECT_EQ(list[5].target, "libc.so.6:malloc");
  EXPECT_EQ(list[4].target, "sched:sched_process_exec");
  for (const auto& p : list) EXPECT_FALSE(p.attached) << p.name;

  auto r = probes.attach_registered(not_loaded);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("no BPF object loaded"));

  ASSERT_TRUE(probes.detach("kp"));
  EXPECT_EQ(probes.list_probes().size(), 5u);
  auto missing = probes.detach("kp");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message(), HasSubstr("no probe named 'kp'"));
  probes.detach_all();
  EXPECT_TRUE(probes.list_probes().empty());
}

TEST(ProbeManagerTest, InvalidRegistrationsAreRejected) {
  ProbeManager probes;
  EXPECT_FALSE(probes.attach_perf_event("pe", PerfEventSpec{.sample_freq_hz = 0}));
  EXPECT_FALSE(probes.attach_raw_tracepoint("", "sys_enter"));
}

TEST(ProbeManagerTest, ResolvesLibraryNamesAndPaths) {
  auto libc = ProbeManager::resolve_binary("libc.so.6");
  ASSERT_TRUE(libc) << libc.error().to_string();
  EXPECT_THAT(*libc, HasSubstr("/libc.so.6"));
  EXPECT_EQ(*ProbeManager::resolve_binary(*libc), *libc);
  // With a pid, the process's own mapping wins: this test binary maps libc.
  auto mapped = ProbeManager::resolve_binary("libc.so.6", getpid());
  ASSERT_TRUE(mapped);
  EXPECT_THAT(*mapped, HasSubstr("libc.so.6"));
  auto missing = ProbeManager::resolve_binary("libdoesnotexist.so.9");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::AttachFailed);
  EXPECT_FALSE(ProbeManager::resolve_binary("/no/such/file"));
  EXPECT_EQ(probe_type_name(ProbeType::RawTracepoint), "raw_tracepoint");
}

}  // namespace
}  // namespace otlp::ebpf
