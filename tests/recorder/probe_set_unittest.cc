// ProbeSet's pure parts: how BPF stats are scaled when the kernel counters ran part of the time
// (by each program's ring records, else by time; exact when they ran all along), which records
// count for a ring, and the tape's probe table from section names.
#include "recorder/probe_set.h"

#include <gtest/gtest.h>

namespace bpftape::record {
namespace {

using namespace otlp::ebpf;

// As the kernel counted them (bpf_prog_info): measured_run_time_ns, measured_run_count.
std::vector<tape::BpfProgramStats> counters() {
  return {{"bt_sys_exit", 11, 0, 0, 1, 1000, 10},
          {"bt_cpu_sample", 12, 0, 0, 0, 300, 3},
          {"other", 13, 0, 0, 0, 50, 5}};
}

RingRecordCounts syscall_ring(uint64_t delivered, uint64_t measured) {
  RingRecordCounts rings;
  rings.delivered[static_cast<size_t>(transport::Ring::Syscall)] = delivered;
  rings.measured[static_cast<size_t>(transport::Ring::Syscall)] = measured;
  return rings;
}

TEST(ScaledBpfStats, CountersThatRanAllAlongAreExact) {
  const auto snapshot =
      scaled_bpf_stats(counters(), 1.0, /*sampled=*/true, syscall_ring(40, 10), 77);
  EXPECT_FALSE(snapshot.sampled);
  EXPECT_EQ(snapshot.timestamp_ns, 77u);
  ASSERT_EQ(snapshot.programs.size(), 3u);
  EXPECT_EQ(snapshot.programs[0],
            (tape::BpfProgramStats{"bt_sys_exit", 11, 1000, 10, 1, 1000, 10}));
}

TEST(ScaledBpfStats, SampledCountersScaleByTheirRingsRecordsElseByTime) {
  const auto snapshot =
      scaled_bpf_stats(counters(), 2.5, /*sampled=*/true, syscall_ring(40, 10), 0);
  EXPECT_TRUE(snapshot.sampled);
  ASSERT_EQ(snapshot.programs.size(), 3u);
  // The syscall ring delivered 4x the records it delivered while the stats ran.
  EXPECT_EQ(snapshot.programs[0].run_time_ns, 4000u);
  EXPECT_EQ(snapshot.programs[0].run_count, 40u);
  EXPECT_EQ(snapshot.programs[0].measured_run_count, 10u);
  // The CPU ring saw no measured records: time scale. A program of no ring: time scale too.
  EXPECT_EQ(snapshot.programs[1].run_time_ns, 750u);
  EXPECT_EQ(snapshot.programs[2].run_count, 13u);  // 12.5 rounds up
  EXPECT_EQ(snapshot.programs[2].measured_run_time_ns, 50u);
}

TEST(ScaledBpfStats, NeverMeasuredWithoutASamplerIsZeroAndNotSampled) {
  const auto snapshot = scaled_bpf_stats(counters(), 0.0, /*sampled=*/false, {}, 0);
  EXPECT_FALSE(snapshot.sampled);
  EXPECT_EQ(snapshot.programs[0].run_time_ns, 0u);
  EXPECT_EQ(snapshot.programs[0].measured_run_time_ns, 1000u);
}

TEST(RingRecordCounts, CountsOneRecordPerRingEntryAndTagsTheMeasuredOnes) {
  RingRecordCounts rings;
  rings.count(EbpfEventType::Syscall, /*stats_on=*/true);
  rings.count(EbpfEventType::Syscall, /*stats_on=*/false);
  rings.count(EbpfEventType::CpuSample, /*stats_on=*/true);
  // A payload comes out of its packet's record: no ring entry of its own.
  rings.count(EbpfEventType::NetworkPayload, /*stats_on=*/true);
  const auto r = [](transport::Ring ring) { return static_cast<size_t>(ring); };
  EXPECT_EQ(rings.delivered[r(transport::Ring::Syscall)], 2u);
  EXPECT_EQ(rings.measured[r(transport::Ring::Syscall)], 1u);
  EXPECT_EQ(rings.delivered[r(transport::Ring::CpuSample)], 1u);
  EXPECT_EQ(rings.delivered[r(transport::Ring::Network)], 0u);
}

TEST(ProbeInfo, SectionNamesGiveTheKindAndTarget) {
  EXPECT_EQ(probe_info("bt_sys_exit", "raw_tp/sys_exit"),
            (tape::ProbeInfo{"bt_sys_exit", "raw_tp", "sys_exit"}));
  EXPECT_EQ(probe_info("bt_process_exec", "tp_btf/sched_process_exec"),
            (tape::ProbeInfo{"bt_process_exec", "tp_btf", "sched_process_exec"}));
  EXPECT_EQ(probe_info("bt_malloc", "uprobe"), (tape::ProbeInfo{"bt_malloc", "uprobe", ""}));
}

}  // namespace
}  // namespace bpftape::record
