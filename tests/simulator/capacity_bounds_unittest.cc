// The capacity model on timestamps a crafted tape can hold (issue 20): near
// 2^64, gaps of centuries, zero-length consumer periods. Each prediction must
// end, count every record, and never wrap. A model that loops forever is caught
// by running it in a child process with a generous limit (a hang guard, not a
// timing check).
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "simulator/capacity_model.h"
#include "tests/child_process.h"

namespace bpftape::sim {
namespace {

using otlp::ebpf::EbpfEvent;
using otlp::ebpf::SyscallData;
using otlp::ebpf::testing::passes_in_child;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

EbpfEvent syscall_at(uint64_t ts, uint16_t cpu = 0) {
  return EbpfEvent::syscall_event(
      ts, 100, 100, cpu,
      SyscallData{.nr = 39, .reserved = 0, .ret = 0, .duration_ns = 100});
}

// Every offered record is dropped, delivered, or (only when time saturated)
// still queued: never more delivered than kept.
bool accounts_for_every_record(const CapacityPrediction &p) {
  return p.dropped <= p.offered && p.delivery.count() <= p.offered - p.dropped;
}

TEST(CapacityBounds, SaturatingHelpersNeverWrap) {
  using namespace otlp::ebpf;
  EXPECT_EQ(saturating_add(kMax - 1, 5), kMax);
  EXPECT_EQ(saturating_add(1, 2), 3u);
  EXPECT_EQ(saturating_sub(1, 2), 0u);
  EXPECT_EQ(saturating_sub(5, 2), 3u);
  EXPECT_EQ(saturating_mul(uint64_t{1} << 40, uint64_t{1} << 40), kMax);
  EXPECT_EQ(saturating_mul(6, 7), 42u);
  EXPECT_EQ(saturating_int64(kMax), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(saturating_int64(7), 7);
}

TEST(CapacityBounds, ArrivalsNearTheEndOfTimeEnd) {
  // The tape: a timestamp near 2^64 made Consumer::advance's idle skip
  // wrap to the past, and the consumer drained empty rings forever.
  EXPECT_TRUE(passes_in_child([] {
    ArrivalPattern pattern({});
    pattern.add(syscall_at(1'000'000'000));
    pattern.add(syscall_at(kMax - 1'000));
    pattern.add(syscall_at(kMax - 10));
    pattern.add(syscall_at(kMax));
    pattern.finish();
    const CapacityPrediction p = predict(pattern, TransportModel{});
    return p.offered == 4 && p.dropped == 0 && accounts_for_every_record(p) &&
           p.duration_ns == kMax - 1'000'000'000;
  })) << "did not end within 20 s, or miscounted";
}

TEST(CapacityBounds, EveryArrivalAtTheLastNanosecondEnds) {
  EXPECT_TRUE(passes_in_child([] {
    ArrivalPattern pattern({});
    for (int i = 0; i < 1000; ++i)
      pattern.add(syscall_at(kMax, static_cast<uint16_t>(i % 4)));
    pattern.finish();
    const CapacityPrediction p = predict(pattern, TransportModel{});
    return p.offered == 1000 && accounts_for_every_record(p) &&
           p.duration_ns == 0;
  })) << "did not end within 20 s, or miscounted";
}

TEST(CapacityBounds, DrainSpansOfCenturiesAsWakeLatencies) {
  // Recorded batches spanning most of the range become the consumer's wake
  // latencies: a wakeup scheduled past 2^64 is one that never comes, not one in
  // the past.
  EXPECT_TRUE(passes_in_child([] {
    ArrivalPattern pattern({});
    otlp::ebpf::EventBatch batch;
    batch.events = {syscall_at(1), syscall_at(kMax - 5)};
    pattern.add_batch(batch);
    for (uint64_t t = 1'000; t < 1'000'000; t += 10'000)
      pattern.add(syscall_at(t));
    pattern.finish();
    TransportModel model;
    model.wake_latencies_ns = pattern.drain_spans();
    const CapacityPrediction p = predict(pattern, model);
    return p.offered == 102 && accounts_for_every_record(p);
  })) << "did not end within 20 s, or miscounted";
}

TEST(CapacityBounds, ZeroLengthConsumerPeriodsStillMoveForward) {
  // A model built in code may leave every period at 0 (the CLI refuses that): a
  // lazy period doubling from 0 stayed 0 and empty drains repeated without time
  // moving.
  EXPECT_TRUE(passes_in_child([] {
    ArrivalPattern pattern({});
    for (uint64_t t = 0; t < 100'000'000; t += 1'000'000)
      pattern.add(syscall_at(t));
    pattern.add(syscall_at(kMax / 2));
    pattern.finish();
    TransportModel model;
    model.pacing.tick_ns = 0;
    model.pacing.max_tick_ns = 0;
    model.pacing.lazy_min_ns = 0;
    model.pacing.lazy_ns = 0;
    model.pacing.idle_timeout_ns = 0;
    model.consumer_ns_per_drain = 0;
    model.wake_latency_ns = 0;
    const CapacityPrediction p = predict(pattern, model);
    return p.offered == 101 && p.dropped == 0 && p.delivery.count() == 101;
  })) << "did not end within 20 s, or miscounted";
}

TEST(CapacityBounds, ResampledSamplesNearTheEndOfTimeSaturate) {
  // Up-sampling adds samples at the new period after each recorded one: past
  // 2^64 they stay at the last nanosecond instead of wrapping to the start of
  // the recording.
  ArrivalPattern pattern({.recorded_sample_hz = 1, .sample_hz = 1000});
  pattern.add(EbpfEvent::make(otlp::ebpf::EbpfEventType::CpuSample, kMax - 5,
                              100, 100, 0));
  pattern.finish();
  ASSERT_EQ(pattern.arrivals().size(), 1000u);
  EXPECT_EQ(pattern.first_ns(), kMax - 5);
  EXPECT_EQ(pattern.last_ns(), kMax);
}

TEST(CapacityBounds, ProgramCostsSaturate) {
  ArrivalPattern pattern({});
  pattern.add_program_cost("bt_sys_exit", kMax - 1);
  pattern.add_program_cost("bt_sys_exit", 10);
  EXPECT_EQ(pattern.recorded_bpf_ns(transport::Ring::Syscall), kMax);
}

} // namespace
} // namespace bpftape::sim
