// The generators of testing/generators.h keep their promises: valid events only, of the types
// asked for, streams in time order, batches that put the stream back together, loss records
// that count something, simulations that finalize.
#include "testing/generators.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>

namespace bpftape::testing {
namespace {

using otlp::ebpf::EbpfEvent;
using otlp::ebpf::EbpfEventType;

RC_GTEST_PROP(ValidEvent, PassesValidation, ()) {
  const EbpfEvent event = *valid_event();
  RC_ASSERT(!otlp::ebpf::validate_event(event).has_value());
  RC_ASSERT(event.timestamp_ns >= 1u);
  RC_ASSERT(event.timestamp_ns <= 1'000'000u);
}

RC_GTEST_PROP(ValidEvent, KeepsToTheTypesAskedFor, ()) {
  const auto event = *valid_event({EbpfEventType::MemoryFree, EbpfEventType::TcpClose});
  RC_ASSERT(!otlp::ebpf::validate_event(event).has_value());
  RC_ASSERT(event.event_type == EbpfEventType::MemoryFree ||
            event.event_type == EbpfEventType::TcpClose);
}

// Over many draws every known type turns up: no kind is silently never generated.
TEST(ValidEvent, CoversEveryType) {
  std::set<EbpfEventType> seen;
  const auto events =
      rc::gen::container<std::vector<EbpfEvent>>(2000, valid_event())(rc::Random(42), 100).value();
  for (const auto& e : events) seen.insert(e.event_type);
  EXPECT_EQ(seen.size(), otlp::ebpf::kEventTypeCount);
}

RC_GTEST_PROP(ValidStream, IsValidAndInTimeOrder, ()) {
  const auto events = *valid_stream({EbpfEventType::Syscall, EbpfEventType::MemoryAlloc});
  for (const auto& e : events) {
    RC_ASSERT(!otlp::ebpf::validate_event(e).has_value());
    RC_ASSERT(e.event_type == EbpfEventType::Syscall || e.event_type == EbpfEventType::MemoryAlloc);
  }
  RC_ASSERT(std::is_sorted(events.begin(), events.end(),
                           [](const EbpfEvent& a, const EbpfEvent& b) { return a.timestamp_ns < b.timestamp_ns; }));
  if (!events.empty()) RC_ASSERT(events.front().timestamp_ns == 1u);
}

RC_GTEST_PROP(BatchesOf, PutTheStreamBackTogether, ()) {
  const auto events = *valid_stream();
  const auto batches = *batches_of(events);
  std::vector<EbpfEvent> joined;
  for (const auto& batch : batches) {
    RC_ASSERT(!batch.empty());
    joined.insert(joined.end(), batch.begin(), batch.end());
  }
  RC_ASSERT(joined == events);
}

RC_GTEST_PROP(ValidBatch, HoldsValidEventsAndRealLosses, ()) {
  const auto batch = *valid_batch();
  for (const auto& e : batch.events) RC_ASSERT(!otlp::ebpf::validate_event(e).has_value());
  const uint64_t last = batch.events.empty() ? 1 : batch.events.back().timestamp_ns;
  for (const auto& loss : batch.losses) {
    RC_ASSERT(loss.count >= 1u);
    RC_ASSERT(loss.cpu < 4u);
    RC_ASSERT(loss.timestamp_ns >= 1u);
    RC_ASSERT(loss.timestamp_ns <= last);
  }
}

RC_GTEST_PROP(SmallSimulation, FinalizesAndStaysSmall, ()) {
  auto options = *small_simulation();
  RC_ASSERT(options.finalize().has_value());
  RC_ASSERT(options.workloads != 0u);
  RC_ASSERT(options.faults == 0u);
  RC_ASSERT(options.duration_ns <= 200'000'000u);
}

}  // namespace
}  // namespace bpftape::testing
