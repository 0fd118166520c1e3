// GroundTruth's field digests (derived from the payload tables): order-independent, and a
// change to one field of one event is named as that field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "simulator/ground_truth.h"

namespace bpftape::sim {
namespace {

using otlp::ebpf::EbpfEvent;
using otlp::ebpf::EbpfEventType;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<EbpfEvent> some_events() {
  return {
      EbpfEvent::syscall_event(100, 7, 7, 0, {3, 0, -2, 500}),
      EbpfEvent::memory_event(EbpfEventType::MemoryAlloc, 200, 7, 8, 1,
                              {0x1000, 64, 0, 5, otlp::ebpf::MemoryOp::Malloc, {}}),
      EbpfEvent::process_event(EbpfEventType::ProcessExec, 300, 9, 9, 2, {1, 0, 0, 4, 6}),
      EbpfEvent::cpu_sample(400, 9, 9, 3, {1, 2}),
  };
}

FieldDigests digest(const std::vector<EbpfEvent>& events) {
  FieldDigests d;
  for (const auto& e : events) d.add(e);
  return d;
}

TEST(FieldDigests, AreIndependentOfOrder) {
  auto events = some_events();
  auto reversed = events;
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(digest(events), digest(reversed));
  EXPECT_THAT(digest(events).differing(digest(reversed)), IsEmpty());
}

TEST(FieldDigests, NameTheFieldThatChanged) {
  const auto events = some_events();
  auto changed = events;
  changed[1].payload.memory.stack = 6;
  EXPECT_THAT(digest(changed).differing(digest(events)), ElementsAre("memory.stack"));

  changed = events;
  changed[0].payload.syscall.duration_ns += 1;
  changed[2].payload.process.filename = 0;
  EXPECT_THAT(digest(changed).differing(digest(events)),
              ElementsAre("syscall.duration_ns", "process.filename"));

  changed = events;
  changed[3].timestamp_ns += 1;
  EXPECT_THAT(digest(changed).differing(digest(events)), ElementsAre("header"));
}

TEST(FieldDigests, SameValueInAnotherEventTypeIsADifference) {
  // The type is part of each field's digest: a MemoryAlloc turned MemoryFree (op and all)
  // differs in the header and in the op.
  const auto events = some_events();
  auto changed = events;
  changed[1].event_type = EbpfEventType::MemoryFree;
  changed[1].payload.memory.op = otlp::ebpf::MemoryOp::Free;
  EXPECT_THAT(digest(changed).differing(digest(events)),
              ElementsAre("header", "memory.op", "memory.address", "memory.size",
                          "memory.old_address", "memory.stack"));
}

TEST(GroundTruth, ReportsNoFieldDifferenceWhenOutputMatchesDelivery) {
  GroundTruth truth;
  otlp::ebpf::InternTable interned;
  const auto events = some_events();
  for (const auto& e : events) truth.on_delivered(e, interned);
  truth.consume(events, interned);
  EXPECT_EQ(truth.output_field_differences(), "");
  auto changed = events;
  changed[0].payload.syscall.ret = 0;
  truth.consume(changed, interned);
  // Output now holds every event twice, delivery once: every field differs.
  EXPECT_THAT(truth.output_field_differences(), ::testing::HasSubstr("syscall.ret"));
}

}  // namespace
}  // namespace bpftape::sim
