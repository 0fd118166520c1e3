// LiveSource::next(Delivery&) on the live kernel: a held child runs a known number of getpid
// calls; the deliveries carry every one of them exactly once, and the child's process record
// (exec'd program, exit) in the same delivery as its first event or before, never after.
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "recorder/live_source.h"
#include "tests/kernel/live_test_util.h"

namespace bpftape::record {
namespace {

using namespace otlp::ebpf;
using otlp::ebpf::testing::HeldChild;

TEST(LiveSourceLivetest, DeliveriesCarryEveryEventOnceWithTheProcessRecordsTheyNeed) {
  BPFTAPE_REQUIRE_LIVE();
  HeldChild held([] {
    execl(BPFTAPE_WORKLOAD, BPFTAPE_WORKLOAD, "syscalls", "2000", static_cast<char*>(nullptr));
    _exit(127);
  });
  const auto child = static_cast<uint32_t>(held.pid());
  LiveOptions options;
  options.syscalls = true;
  options.filter.tgids = {child};
  auto source = LiveSource::create(options);
  ASSERT_TRUE(source) << source.error().to_string();
  const int status = held.release_and_wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  (*source)->stop();

  Delivery delivery;
  uint64_t getpids = 0;
  size_t index = 0;
  std::optional<size_t> first_event_delivery, first_record_delivery;
  std::vector<ProcessInfo> records;  // of the child, in the order handed over
  for (;; ++index) {
    auto more = (*source)->next(delivery);
    ASSERT_TRUE(more) << more.error().to_string();
    if (!*more) break;
    for (const auto& p : delivery.processes) {
      if (p.pid != child) continue;
      records.push_back(p);
      if (!first_record_delivery) first_record_delivery = index;
    }
    for (const auto& e : delivery.batch.events) {
      if (e.pid != child) continue;
      if (!first_event_delivery) first_event_delivery = index;
      getpids += e.event_type == EbpfEventType::Syscall && e.payload.syscall.nr == SYS_getpid;
    }
  }
  EXPECT_EQ(getpids, 2000u);
  ASSERT_TRUE(first_event_delivery && first_record_delivery);
  EXPECT_LE(*first_record_delivery, *first_event_delivery);
  ASSERT_FALSE(records.empty());
  // The last record handed over is the table's final state: the exec'd workload, exited.
  EXPECT_TRUE(records.back().exe.ends_with("bpftape_workload")) << records.back().exe;
  EXPECT_NE(records.back().exit_ns, 0u);
  const ProcessInfo* table = (*source)->processes().latest(child);
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(records.back(), *table);
}

}  // namespace
}  // namespace bpftape::record
