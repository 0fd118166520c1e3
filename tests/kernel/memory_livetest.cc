// Memory probe on the live kernel: a helper binary (no sanitizers, so libc's allocator is the
// one called) makes a known sequence of allocator calls.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tests/kernel/live_test_util.h"

namespace otlp::ebpf::testing {
namespace {

constexpr int kMallocs = 50;

TEST(MemoryLivetest, HelperMallocsAndFreesAreRecordedWithSizesAndStacks) {
  BPFTAPE_REQUIRE_LIVE();
  // The helper waits (forked, not yet exec'd) until the probe is attached to it alone: a
  // machine-wide allocator probe would record every process's mallocs.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string count = std::to_string(kMallocs);
  const pid_t child = fork();
  if (child == 0) {
    close(fds[1]);
    char byte;
    if (read(fds[0], &byte, 1) != 1) _exit(2);
    execl(BPFTAPE_ALLOC_HELPER, BPFTAPE_ALLOC_HELPER, count.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[0]);
  ProbeOptions options;
  options.filter.tgids = {static_cast<uint32_t>(child)};
  auto probe = MemoryProbe::create(options);
  ASSERT_TRUE(probe) << probe.error().to_string();
  auto attached = (*probe)->attach("libc.so.6", child);  // uprobes for this process only
  ASSERT_TRUE(attached) << attached.error().to_string();
  // The counts below hold wherever each function's probes were placed (free's after its NULL
  // check on Debian 12: its return probe too).
  ASSERT_EQ((*probe)->placements().size(), 6u);
  for (const auto& p : (*probe)->placements()) {
    std::printf("  %s probed at %s\n", p.function.c_str(), p.placement.description.c_str());
  }
  Collector collector;
  collector.add(**probe);
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  close(fds[1]);
  const int status = collector.wait_draining(child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  collector.drain_once();
  const uint32_t pid = static_cast<uint32_t>(child);

  std::set<uint64_t> expected_sizes;
  for (int i = 0; i < kMallocs; ++i) expected_sizes.insert(4099 + 17 * i);
  std::map<uint64_t, uint64_t> loop_allocs;  // address -> size of the helper's malloc loop
  size_t callocs = 0, reallocs = 0, stacks = 0;
  uint64_t malloc_5003 = 0, realloc_result = 0, realloc_old = 0;
  for (const auto& e : collector.of(pid, EbpfEventType::MemoryAlloc)) {
    const auto& m = e.payload.memory;
    if (m.op == MemoryOp::Malloc && expected_sizes.contains(m.size)) {
      EXPECT_NE(m.address, 0u);
      loop_allocs[m.address] = m.size;
      stacks += m.stack != kNoId;
    }
    if (m.op == MemoryOp::Malloc && m.size == 5003) malloc_5003 = m.address;
    if (m.op == MemoryOp::Calloc && m.size == 3003) ++callocs;
    if (m.op == MemoryOp::Realloc) {
      ++reallocs;
      EXPECT_EQ(m.size, 70001u);
      realloc_result = m.address;
      realloc_old = m.old_address;
    }
  }
  EXPECT_EQ(loop_allocs.size(), static_cast<size_t>(kMallocs));
  std::set<uint64_t> seen_sizes;
  for (const auto& [address, size] : loop_allocs) seen_sizes.insert(size);
  EXPECT_EQ(seen_sizes, expected_sizes);
  EXPECT_EQ(stacks, static_cast<size_t>(kMallocs)) << "each malloc carries its user stack";
  EXPECT_EQ(callocs, 2u);
  EXPECT_EQ(reallocs, 1u);  // realloc is one event, not realloc + its internal malloc/free
  EXPECT_NE(malloc_5003, 0u);
  EXPECT_EQ(realloc_old, malloc_5003);

  // The loop's frees come before the first calloc(3, 1001); later allocations may reuse (and
  // free again) the same addresses.
  uint64_t first_calloc = UINT64_MAX;
  for (const auto& e : collector.of(pid, EbpfEventType::MemoryAlloc)) {
    if (e.payload.memory.op == MemoryOp::Calloc && e.payload.memory.size == 3003) {
      first_calloc = std::min(first_calloc, e.timestamp_ns);
    }
  }
  size_t loop_frees = 0;
  bool realloc_freed = false;
  for (const auto& e : collector.of(pid, EbpfEventType::MemoryFree)) {
    EXPECT_EQ(e.payload.memory.op, MemoryOp::Free);
    loop_frees += e.timestamp_ns < first_calloc && loop_allocs.contains(e.payload.memory.address);
    realloc_freed |= e.payload.memory.address == realloc_result;
  }
  EXPECT_EQ(loop_frees, static_cast<size_t>(kMallocs));
  EXPECT_TRUE(realloc_freed);
  EXPECT_EQ(lost(collector.losses()), 0u);
}

}  // namespace
}  // namespace otlp::ebpf::testing
