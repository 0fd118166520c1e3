// The capacity model (simulator/capacity_model.*) on arrival patterns whose outcome can be
// worked out by hand: ring capacity in records, the consumer's pacing (asleep, streaming,
// lazy) and who wakes it, sample-rate conversion, filters and BPF cost scaling.
#include "simulator/capacity_model.h"

#include <gtest/gtest.h>

namespace bpftape::sim {
namespace {

using otlp::ebpf::EbpfEvent;
using otlp::ebpf::EbpfEventType;
using otlp::ebpf::EventBatch;
using otlp::ebpf::SyscallData;

constexpr uint32_t kSyscallFootprint = transport::ring_footprint(transport::kSyscallRecordBytes);

EbpfEvent syscall_at(uint64_t ts, uint32_t pid = 100, uint16_t cpu = 0) {
  return EbpfEvent::syscall_event(ts, pid, pid, cpu, SyscallData{.nr = 39, .reserved = 0, .ret = 0,
                                                                  .duration_ns = 100});
}

EbpfEvent sample_at(uint64_t ts, uint16_t cpu) {
  return EbpfEvent::make(EbpfEventType::CpuSample, ts, 100, 100, cpu);
}

// Every ring of `bytes`, consumer with a fixed wake latency.
TransportModel model_with_rings(uint64_t bytes, uint64_t wake_latency_ns = 20'000) {
  TransportModel m;
  m.ring_bytes.fill(bytes);
  m.wake_latency_ns = wake_latency_ns;
  m.consumer_ns_per_record = 100;
  return m;
}

TEST(CapacityModel, RecordFootprintsFollowTheKernelsRingLayout) {
  EXPECT_EQ(kSyscallFootprint, 48u);  // 40-byte record + 8-byte header
  EXPECT_EQ(transport::ring_footprint(1), 16u);
  EXPECT_EQ(transport::ring_route(EbpfEventType::NetworkPayload).footprint, 0u)
      << "a payload travels inside its packet's record";
  EXPECT_EQ(transport::effective_wakeup_bytes(256 << 10, 4096), 1024u);
  EXPECT_EQ(transport::effective_wakeup_bytes(256 << 10, 16 << 20), 256u << 10);
  EXPECT_EQ(transport::ring_of_program("bt_sys_exit"), transport::Ring::Syscall);
  EXPECT_EQ(transport::ring_of_program("bt_inet_sock_se"), transport::Ring::Network);
  EXPECT_EQ(transport::ring_of_program("some_other_prog"), std::nullopt);
}

TEST(CapacityModel, ABurstBeyondTheRingDropsExactlyTheExcess) {
  ArrivalPattern pattern({});
  // 200 syscalls in the same nanosecond: the consumer cannot run in between.
  for (int i = 0; i < 200; ++i) pattern.add(syscall_at(1'000'000));
  pattern.finish();
  const uint64_t capacity_records = 4096 / kSyscallFootprint;  // 85
  auto p = predict(pattern, model_with_rings(4096));
  EXPECT_EQ(p.offered, 200u);
  EXPECT_EQ(p.dropped, 200u - capacity_records);
  EXPECT_EQ(p.rings[static_cast<size_t>(transport::Ring::Syscall)].peak_bytes,
            capacity_records * kSyscallFootprint);
  EXPECT_EQ(p.delivery.count(), capacity_records) << "every kept record is delivered";
  // A ring that holds the burst drops nothing.
  EXPECT_EQ(predict(pattern, model_with_rings(16384)).dropped, 0u);
}

TEST(CapacityModel, SlowWakeupsOverflowASmallRingAndNotABigOne) {
  ArrivalPattern pattern({});
  // 100 k syscalls/s for 100 ms on one CPU.
  for (uint64_t i = 0; i < 10'000; ++i) pattern.add(syscall_at(1'000'000 + i * 10'000));
  pattern.finish();
  // 85 records = 850 us of arrivals: a 20 us wake latency keeps up, a 2 ms one cannot.
  EXPECT_EQ(predict(pattern, model_with_rings(4096, 20'000)).dropped, 0u);
  auto slow = predict(pattern, model_with_rings(4096, 2'000'000));
  EXPECT_GT(slow.dropped, 0u);
  // Each wakeup lets 200 records arrive while 85 fit: more than half are dropped.
  EXPECT_GT(slow.dropped, 10'000u / 2);
  EXPECT_EQ(predict(pattern, model_with_rings(1 << 20, 2'000'000)).dropped, 0u);
}

TEST(CapacityModel, AStreamWakesTheConsumerOnceThenItTicks) {
  ArrivalPattern pattern({});
  // 100 k syscalls/s for 100 ms on one CPU.
  for (uint64_t i = 0; i < 10'000; ++i) pattern.add(syscall_at(1'000'000 + i * 10'000));
  pattern.finish();
  auto p = predict(pattern, model_with_rings(16 << 20));
  // The first record wakes the asleep consumer, which finds it alone (the rate of a first drain
  // is taken over the idle timeout): a 1 ms lazy probe. Its 100 records mean streaming: 50 us
  // ticks with ~5 records each, and no program wakes anyone again.
  EXPECT_EQ(p.bpf_wakeups, 1u);
  // A streaming cycle: the tick, ~5 records at 100 ns, 12 us of processing.
  EXPECT_GE(p.streaming_drains, 99'000'000u / (50'000u + 1'000u + 12'000u) - 10u);
  EXPECT_EQ(p.dropped, 0u);
  // Delivery: the probe's millisecond for the first records, then at most a tick plus the
  // records drained before it in the same pass.
  EXPECT_LE(p.delivery.max(), 1'000'000u + 20'000u + 200u * 100u + 12'000u);
  // (percentiles are histogram bucket bounds: 63 us falls in the bucket that ends at 64 us)
  EXPECT_LE(p.delivery.percentile(0.98), 65'535u);
}

TEST(CapacityModel, ATrickleIsDrainedLazily) {
  ArrivalPattern pattern({});
  // 1000 records/s for 1 s: 1 ms apart.
  for (uint64_t i = 0; i < 1000; ++i) pattern.add(syscall_at(1'000'000 + i * 1'000'000));
  pattern.finish();
  auto p = predict(pattern, model_with_rings(16 << 20));
  // One wakeup finds a single record: lazy from then on, periods doubling from 1 ms to 50 ms
  // (1000/s stays below the 5000/s that mean streaming), never woken (50 records are far from
  // a quarter of the ring).
  EXPECT_EQ(p.bpf_wakeups, 1u);
  EXPECT_EQ(p.streaming_drains, 0u);
  EXPECT_LE(p.consumer_wakeups, 1u + 6u + 1'000'000'000u / 50'000'000u + 1u);
  EXPECT_GT(p.delivery.max(), 45'000'000u) << "the price: up to a lazy period of latency";
}

TEST(CapacityModel, SparseRecordsEachWakeAnAsleepConsumer) {
  ArrivalPattern pattern({});
  // Records 200 ms apart: the lazy periods after one (1, 2, ... 50 ms: 113 ms) find nothing, so
  // the consumer is asleep again when the next comes, and that one wakes it at once.
  for (uint64_t i = 0; i < 10; ++i) pattern.add(syscall_at(1'000'000 + i * 200'000'000));
  pattern.finish();
  auto p = predict(pattern, model_with_rings(16 << 20));
  EXPECT_EQ(p.bpf_wakeups, 10u);
  EXPECT_LE(p.delivery.max(), 20'000u + 100u) << "wake latency + one record's cost";
}

TEST(CapacityModel, ALazyConsumerIsWokenByAQuarterFullRing) {
  ArrivalPattern pattern({});
  pattern.add(syscall_at(1'000'000));  // wakes the consumer: one record -> lazy
  // Then a burst of 1000 records within 1 us, 100 us later: a 16 KiB ring wakes the lazy
  // consumer at 4 KiB (86 records), long before its 50 ms period ends.
  for (uint64_t i = 0; i < 300; ++i) pattern.add(syscall_at(1'100'000 + i));
  pattern.finish();
  auto p = predict(pattern, model_with_rings(16 << 10));
  EXPECT_GE(p.bpf_wakeups, 2u);
  EXPECT_LT(p.delivery.max(), 1'000'000u);
}

TEST(CapacityModel, SampleRateConversionKeepsOrAddsSamplesEvenly) {
  auto count_samples = [](uint32_t recorded_hz, uint32_t hz) {
    ArrivalPattern pattern(ArrivalOptions{.recorded_sample_hz = recorded_hz, .sample_hz = hz});
    for (uint64_t i = 0; i < 990; ++i) pattern.add(sample_at(i * 1'000'000'000 / 99, 0));
    pattern.finish();
    return pattern.offered_records(transport::Ring::CpuSample);
  };
  EXPECT_EQ(count_samples(99, 0), 990u) << "0: as recorded";
  EXPECT_EQ(count_samples(99, 99), 990u);
  EXPECT_EQ(count_samples(99, 33), 330u);
  EXPECT_EQ(count_samples(99, 198), 1980u);
  EXPECT_EQ(count_samples(99, 49), 490u);
}

TEST(CapacityModel, FilteredEventsNeverReachARing) {
  ArrivalPattern pattern(ArrivalOptions{.filter = otlp::ebpf::EventFilter::by_pid(7)});
  for (uint64_t i = 0; i < 100; ++i) pattern.add(syscall_at(1'000 + i, i % 4 == 0 ? 7 : 8));
  pattern.finish();
  EXPECT_EQ(pattern.recorded_records(transport::Ring::Syscall), 100u);
  EXPECT_EQ(pattern.offered_records(transport::Ring::Syscall), 25u);
  EXPECT_EQ(pattern.arrivals().size(), 25u);
}

TEST(CapacityModel, BpfCostScalesWithTheRecordsOffered) {
  ArrivalPattern pattern(ArrivalOptions{.filter = otlp::ebpf::EventFilter::by_pid(7)});
  for (uint64_t i = 0; i < 100; ++i) pattern.add(syscall_at(1'000'000 + i * 1'000, i < 50 ? 7 : 8));
  pattern.add_program_cost("bt_sys_enter", 60'000);
  pattern.add_program_cost("bt_sys_exit", 40'000);
  pattern.add_program_cost("not_ours", 1'000'000);
  pattern.finish();
  ASSERT_TRUE(pattern.has_bpf_costs());
  auto p = predict(pattern, model_with_rings(16 << 20));
  // 100 000 ns for 100 recorded records; 50 offered.
  EXPECT_DOUBLE_EQ(p.bpf_ns, 50'000.0);
  EXPECT_DOUBLE_EQ(p.rings[static_cast<size_t>(transport::Ring::Syscall)].bpf_ns, 50'000.0);
}

TEST(CapacityModel, DrainSpansComeFromRecordedBatchesAndDriveWakeLatency) {
  ArrivalPattern pattern({});
  EventBatch batch;
  batch.events = {syscall_at(1'000), syscall_at(41'000), syscall_at(11'000)};
  pattern.add_batch(batch);
  batch.events = {syscall_at(100'000)};  // one arrival: no span
  pattern.add_batch(batch);
  ASSERT_EQ(pattern.drain_spans(), std::vector<uint64_t>{40'000});
  pattern.finish();
  EXPECT_EQ(pattern.arrivals().size(), 4u);
  // One record waking an asleep consumer: delivered after the drawn 40 us, not the fixed 1 ns.
  ArrivalPattern one({});
  one.add(syscall_at(1'000));
  one.finish();
  TransportModel m = model_with_rings(16 << 20, 1);
  EXPECT_LT(predict(one, m).delivery.max(), 1'000u);
  m.wake_latencies_ns = pattern.drain_spans();
  EXPECT_GE(predict(one, m).delivery.min(), 40'000u) << "the wakeup waits a drawn 40 us";
}

TEST(CapacityModel, SameInputsSamePrediction) {
  ArrivalPattern pattern({});
  for (uint64_t i = 0; i < 5'000; ++i) pattern.add(syscall_at(1'000'000 + (i * 7919) % 50'000'000, 1, i % 2));
  pattern.finish();
  TransportModel m = model_with_rings(4096);
  m.wake_latencies_ns = {1'000, 500'000, 3'000'000, 20'000};
  auto a = predict(pattern, m);
  auto b = predict(pattern, m);
  EXPECT_EQ(a.dropped, b.dropped);
  EXPECT_EQ(a.delivery, b.delivery);
  EXPECT_EQ(a.consumer_wakeups, b.consumer_wakeups);
}

}  // namespace
}  // namespace bpftape::sim
