#include "core/process_table.h"

#include <gtest/gtest.h>

#include "core/clock.h"

namespace otlp::ebpf {
namespace {

TEST(ProcessTableTest, PidReuseKeepsIncarnationsApartByStartTime) {
  ProcessTable table;
  table.upsert({.pid = 100, .ppid = 1, .comm = "old", .start_ns = 10});
  table.mark_exit(100, 50, 0);
  table.upsert({.pid = 100, .ppid = 2, .comm = "new", .start_ns = 60});
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.lookup(100, 20)->comm, "old");
  EXPECT_EQ(table.lookup(100, 20)->exit_ns, 50u);
  EXPECT_EQ(table.lookup(100, 60)->comm, "new");
  EXPECT_EQ(table.lookup(100, 1000)->comm, "new");
  // Before any known start: the earliest incarnation is the best guess.
  EXPECT_EQ(table.lookup(100, 5)->comm, "old");
  EXPECT_EQ(table.latest(100)->comm, "new");
  EXPECT_EQ(table.lookup(7, 5), nullptr);
}

TEST(ProcessTableTest, UpsertOfSameIncarnationOnlyFillsKnownFields) {
  ProcessTable table;
  table.upsert({.pid = 5, .comm = "bash", .exe = "/bin/bash", .start_ns = 1});
  table.upsert({.pid = 5, .cmdline = {"bash", "-c", "true"}, .start_ns = 1});
  ASSERT_EQ(table.size(), 1u);
  const auto* p = table.latest(5);
  EXPECT_EQ(p->comm, "bash");
  EXPECT_EQ(p->exe, "/bin/bash");
  EXPECT_EQ(p->cmdline, (std::vector<std::string>{"bash", "-c", "true"}));
  auto all = table.all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0], *p);
}

TEST(ProcessTableTest, ExitOfUnknownPidIsRecorded) {
  ProcessTable table;
  table.mark_exit(9, 77, 256);
  ASSERT_NE(table.latest(9), nullptr);
  EXPECT_EQ(table.latest(9)->exit_ns, 77u);
  EXPECT_EQ(table.latest(9)->exit_code, 256);
}

TEST(ContainerIdTest, CommonCgroupLayouts) {
  const std::string id(64, 'a');
  const std::string id2 = std::string(63, 'b') + "c";
  EXPECT_EQ(container_id_from_cgroup("/system.slice/docker-" + id + ".scope"), id);
  EXPECT_EQ(container_id_from_cgroup("/kubepods/burstable/pod123/" + id), id);
  EXPECT_EQ(container_id_from_cgroup("/kubepods.slice/cri-containerd-" + id2 + ".scope"), id2);
  EXPECT_EQ(container_id_from_cgroup("/user.slice/user-0.slice/session-1.scope"), "");
  EXPECT_EQ(container_id_from_cgroup("/" + std::string(63, 'a')), "");
  EXPECT_EQ(container_id_from_cgroup("/" + std::string(64, 'A')), "");  // not lowercase hex
}

TEST(ClockReferenceTest, ConvertsMonotonicToUnix) {
  ClockReference ref{1'000, 1'700'000'000'000'000'000};
  EXPECT_EQ(ref.to_unix_ns(1'000), 1'700'000'000'000'000'000u);
  EXPECT_EQ(ref.to_unix_ns(1'500), 1'700'000'000'000'000'500u);
  EXPECT_EQ(ref.to_unix_ns(400), 1'699'999'999'999'999'400u);
  ClockReference early{1'000, 100};
  EXPECT_EQ(early.to_unix_ns(0), 0u);  // saturates
  auto now = ClockReference::now();
  EXPECT_GT(now.monotonic_ns, 0u);
  EXPECT_GT(now.realtime_ns, 1'600'000'000'000'000'000u);  // after 2020
}

}  // namespace
}  // namespace otlp::ebpf
