// LiveSource::next(Delivery&) on the live kernel: a held child runs a known number of getpid
// calls; the deliveries carry every one of them exactly once, and the child's process record
// (exec'd program, exit) in the same delivery as its first event or before, never after. A pid
// the kernel hands out twice is two incarnations, live and in the tape written from the records.
#include <linux/sched.h>  // struct clone_args
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/tape/reader.h"
#include "core/tape/writer.h"
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

// Pid reuse, live: a held child forks the workload (pid P, exec'd), reaps it, then forks again
// asking the kernel for P (clone3's set_tid: root only). The tracker keeps both incarnations
// of P apart, and the process records it hands out rebuild the same table in a tape reader.
TEST(LiveSourceLivetest, AReusedPidIsTwoIncarnationsLiveAndOnTheTape) {
  BPFTAPE_REQUIRE_LIVE();
  constexpr int kNoReuse = 3;  // the kernel would not hand the pid out again
  HeldChild held([] {
    const pid_t first = fork();
    if (first == 0) {
      execl(BPFTAPE_WORKLOAD, BPFTAPE_WORKLOAD, "syscalls", "10", static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    if (first < 0 || waitpid(first, &status, 0) != first || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      _exit(4);
    }
    pid_t wanted = first;
    clone_args args{};
    args.exit_signal = SIGCHLD;
    args.set_tid = reinterpret_cast<uint64_t>(&wanted);
    args.set_tid_size = 1;
    const long second = syscall(SYS_clone3, &args, sizeof(args));
    if (second == 0) _exit(0);  // the second incarnation: a fork of this program, no exec
    if (second < 0) _exit(kNoReuse);
    if (waitpid(static_cast<pid_t>(second), &status, 0) != second) _exit(4);
    _exit(0);
  });
  const auto parent = static_cast<uint32_t>(held.pid());
  LiveOptions options;  // the process probe alone, on every process: it follows the children
  auto source = LiveSource::create(options);
  ASSERT_TRUE(source) << source.error().to_string();
  const int status = held.release_and_wait();
  (*source)->stop();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  if (WEXITSTATUS(status) == kNoReuse) GTEST_SKIP() << "clone3 with set_tid was refused";
  ASSERT_EQ(WEXITSTATUS(status), 0);

  // Every record handed out, into a tape, as `record` writes them.
  std::vector<uint8_t> bytes;
  auto writer = tape::TapeWriter::create(std::make_unique<tape::MemorySink>(&bytes), {},
                                         (*source)->interned());
  ASSERT_TRUE(writer) << writer.error().to_string();
  Delivery delivery;
  for (;;) {
    auto more = (*source)->next(delivery);
    ASSERT_TRUE(more) << more.error().to_string();
    ASSERT_TRUE((*writer)->write_processes(delivery.processes));
    if (!*more) break;
  }
  ASSERT_TRUE((*writer)->close());
  const ProcessTable& live = (*source)->processes();

  std::vector<ProcessInfo> children;  // of the held child: both incarnations of P
  for (const auto& p : live.all()) {
    if (p.ppid == parent) children.push_back(p);
  }
  ASSERT_EQ(children.size(), 2u);
  const ProcessInfo& first = children[0];
  const ProcessInfo& second = children[1];
  EXPECT_EQ(first.pid, second.pid);
  EXPECT_TRUE(first.exe.ends_with("bpftape_workload")) << first.exe;
  EXPECT_FALSE(second.exe.ends_with("bpftape_workload")) << second.exe;
  EXPECT_NE(first.exit_ns, 0u);
  EXPECT_LE(first.exit_ns, second.start_ns);
  EXPECT_EQ(live.lookup(first.pid, first.exit_ns)->start_ns, first.start_ns);
  EXPECT_EQ(live.latest(first.pid)->start_ns, second.start_ns);

  auto reader = tape::TapeReader::open_memory(bytes, {});
  ASSERT_TRUE(reader) << reader.error().to_string();
  EventBatch batch;
  auto more = (*reader)->next(&batch);
  ASSERT_TRUE(more) << more.error().to_string();
  EXPECT_EQ((*reader)->processes().all(), live.all());
}

}  // namespace
}  // namespace bpftape::record
