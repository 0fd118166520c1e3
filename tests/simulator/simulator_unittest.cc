#include <gtest/gtest.h>

#include "simulator/check.h"
#include "simulator/ground_truth.h"
#include "simulator/sim_source.h"
#include "simulator/sim_tape.h"
#include "core/tape/format.h"

namespace bpftape::sim {
namespace {

SimOptions small(uint64_t seed, uint32_t faults = 0) {
  SimOptions o;
  o.seed = seed;
  o.faults = faults;
  o.duration_ns = 500'000'000;
  EXPECT_TRUE(o.finalize().has_value());
  return o;
}

// Digest of everything a source yields, in order (events, losses, interned strings).
struct StreamDigest {
  MultisetDigest events;
  uint64_t ordered = 0xcbf29ce484222325ull;  // FNV-1a over the event bytes, in order
  uint64_t losses = 0;
  uint64_t batches = 0;
  bool operator==(const StreamDigest&) const = default;
};

StreamDigest digest_of(const SimOptions& o) {
  SimSource source(o, nullptr);
  otlp::ebpf::EventBatch batch;
  StreamDigest d;
  while (source.next(batch).value()) {
    ++d.batches;
    for (const auto& e : batch.events) {
      d.events.add(e);
      const auto* bytes = reinterpret_cast<const unsigned char*>(&e);
      for (size_t i = 0; i < sizeof(e); ++i) d.ordered = (d.ordered ^ bytes[i]) * 0x100000001b3ull;
    }
    for (const auto& l : batch.losses) d.losses += l.count * 31 + l.cpu + l.timestamp_ns;
  }
  return d;
}

TEST(SimulatorTest, SameSeedSameStream) {
  EXPECT_EQ(digest_of(small(7, kAllFaults)), digest_of(small(7, kAllFaults)));
  EXPECT_EQ(digest_of(small(8)), digest_of(small(8)));
  EXPECT_NE(digest_of(small(7)).ordered, digest_of(small(8)).ordered);
}

TEST(SimulatorTest, SwitchingAFaultOffLeavesTheWorkloadsAlone) {
  // Transport faults (late drains, consumer stalls) must not change what the workloads
  // emitted: with them off vs on, the delivered multiset is the same (nothing is dropped).
  SimOptions plain = small(3);
  SimOptions faulty = small(3, kReorder | kBurst);
  GroundTruth a, b;
  {
    SimSource s(plain, &a);
    otlp::ebpf::EventBatch batch;
    while (s.next(batch).value()) {
    }
  }
  {
    SimSource s(faulty, &b);
    otlp::ebpf::EventBatch batch;
    while (s.next(batch).value()) {
    }
  }
  EXPECT_EQ(a.emitted(), b.emitted());
  EXPECT_EQ(a.delivered_digest(), b.delivered_digest());  // nothing dropped: same multiset
  EXPECT_EQ(b.dropped(), 0u);
}

TEST(SimulatorTest, EveryFaultClassPassesTheCheck) {
  for (uint32_t fault : {0u, uint32_t{kRingOverflow}, uint32_t{kReorder}, uint32_t{kClockSkew},
                         uint32_t{kPidReuse}, uint32_t{kBurst}, uint32_t{kTapeTruncate},
                         uint32_t{kTapeCorrupt}, uint32_t{kAllFaults}}) {
    auto report = run_check(small(11, fault));
    EXPECT_TRUE(report.ok()) << fault_names(fault) << ":\n" << report.summary();
    EXPECT_GT(report.emitted, 10000u);
  }
}

std::vector<uint8_t> tape_of(const SimOptions& o) {
  SimSource source(o, nullptr);
  std::vector<uint8_t> bytes;
  auto writer = otlp::ebpf::tape::TapeWriter::create(
      std::make_unique<otlp::ebpf::tape::MemorySink>(&bytes), sim_tape_metadata(source),
      source.interned());
  EXPECT_TRUE(writer);
  EXPECT_TRUE(write_sim_tape(source, **writer));
  EXPECT_TRUE((*writer)->close());
  return bytes;
}

TEST(SimulatorTest, SameSeedByteIdenticalTape) {
  auto a = tape_of(small(9, kTransportFaults));
  EXPECT_GT(a.size(), 10'000u);
  EXPECT_EQ(a, tape_of(small(9, kTransportFaults)));
  EXPECT_NE(a, tape_of(small(10, kTransportFaults)));
}

// The tape faults: placed by the seed, after the file header, and what they did is stated.
TEST(SimulatorTest, TapeFaultsDamageTheTapeWhereTheSeedSays) {
  std::vector<uint8_t> tape(100'000, 0);
  std::vector<uint8_t> again = tape;
  auto cut = damage_tape(small(3, kTapeTruncate | kTapeCorrupt), tape);
  auto same = damage_tape(small(3, kTapeTruncate | kTapeCorrupt), again);
  EXPECT_EQ(tape, again);
  EXPECT_EQ(cut.describe(), same.describe());
  ASSERT_TRUE(cut.truncated);
  EXPECT_EQ(tape.size(), cut.truncated_at);
  EXPECT_GE(cut.truncated_at, otlp::ebpf::tape::kFileHeaderSize);
  EXPECT_LT(cut.truncated_at, 100'000u);
  for (uint64_t offset : cut.flipped_offsets) {
    EXPECT_LT(offset, cut.truncated_at);
    EXPECT_NE(tape[offset], 0) << "flipped bytes differ from the original";
  }
  EXPECT_NE(damage_tape(small(4, kTapeTruncate), again).truncated_at, cut.truncated_at);
  std::vector<uint8_t> untouched(1000, 0);
  EXPECT_EQ(damage_tape(small(3, kRingOverflow), untouched).describe(), "");
  EXPECT_EQ(untouched, std::vector<uint8_t>(1000, 0));
}

TEST(SimulatorTest, FaultsShowUpAsTheKernelWouldShowThem) {
  auto overflow = run_check(small(5, kRingOverflow | kBurst));
  ASSERT_TRUE(overflow.ok()) << overflow.summary();
  EXPECT_GT(overflow.dropped, 0u);                 // rings overflowed
  EXPECT_GT(overflow.pipeline.losses.records, 0u); // ... and said so
  EXPECT_EQ(overflow.pipeline.losses.events_lost, overflow.dropped);
  EXPECT_GT(overflow.world.stalled_polls, 0u);

  SimOptions beyond = small(5, kReorder);
  beyond.reorder_defer_probability = 0.2;
  beyond.reorder_max_defer_polls = 6;  // 6 polls > the 2-poll window
  auto reorder = run_check(beyond);
  ASSERT_TRUE(reorder.ok()) << reorder.summary();
  EXPECT_GT(reorder.pipeline.sorter.late_events, 0u);

  SimOptions within = small(5, kReorder);
  within.reorder_max_defer_polls = 1;  // deferred by one poll: inside the window
  auto in_window = run_check(within);
  ASSERT_TRUE(in_window.ok()) << in_window.summary();
  EXPECT_GT(in_window.world.deferred_drains, 0u);
  EXPECT_EQ(in_window.pipeline.sorter.late_events, 0u);
}

TEST(SimulatorTest, PidReuseReusesPidsButNeverALiveOne) {
  SimOptions o = small(9, kPidReuse);
  o.workloads = kForkExec;
  o.forks_per_s = 2000;
  o.pid_space = 16;
  ASSERT_TRUE(o.finalize().has_value());
  SimSource source(o, nullptr);
  otlp::ebpf::EventBatch batch;
  std::map<uint32_t, int> forks_per_pid;
  while (source.next(batch).value()) {
    for (const auto& e : batch.events) {
      if (e.event_type == otlp::ebpf::EbpfEventType::ProcessFork) {
        ++forks_per_pid[e.payload.process.child_pid];
        EXPECT_NE(e.payload.process.child_pid, e.pid) << "a live pid was handed out again";
      }
    }
  }
  int reused = 0;
  for (const auto& [pid, n] : forks_per_pid) reused += n > 1;
  EXPECT_GT(reused, 0);
  // The process table keeps incarnations apart.
  EXPECT_GT(source.processes().size(), forks_per_pid.size());
}

TEST(SimulatorTest, LeakyAllocatorLeaksOnlyFromItsLeakingSite) {
  SimOptions o = small(2);
  o.workloads = kLeakyAllocator;
  o.leak_probability = 0.5;
  ASSERT_TRUE(o.finalize().has_value());
  GroundTruth truth;
  auto report = run_check(o);
  ASSERT_TRUE(report.ok()) << report.summary();
  SimSource source(o, &truth);
  otlp::ebpf::EventBatch batch;
  while (source.next(batch).value()) {
    truth.consume(batch.events, source.interned());
  }
  // Blocks still live at the end: the leaking site (the 4th stack interned) dominates.
  uint64_t leak_site = 0, others = 0;
  for (const auto& [key, bytes] : truth.outstanding()) (key.second == 4 ? leak_site : others) += bytes;
  EXPECT_GT(leak_site, 10 * others);
}

TEST(SimOptionsTest, ParsingAndValidation) {
  EXPECT_EQ(parse_workloads("web,leak").value(), uint32_t{kWebServer | kLeakyAllocator});
  EXPECT_EQ(parse_workloads("mixed").value(), uint32_t{kAllWorkloads});
  EXPECT_EQ(parse_faults("none").value(), 0u);
  auto bad = parse_faults("overflow,typo");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("'typo'"), std::string::npos);
  SimOptions o;
  o.cpus = 0;
  EXPECT_FALSE(o.finalize().has_value());
  SimOptions swarm;
  swarm.swarm = true;
  swarm.seed = 42;
  ASSERT_TRUE(swarm.finalize().has_value());
  SimOptions swarm2;
  swarm2.swarm = true;
  swarm2.seed = 42;
  ASSERT_TRUE(swarm2.finalize().has_value());
  EXPECT_EQ(swarm.describe(), swarm2.describe());  // the seed decides the mix
  EXPECT_NE(swarm.reproduce_command().find("--seed 42"), std::string::npos);
  EXPECT_NE(swarm.reproduce_command().find("--faults swarm"), std::string::npos);
}

}  // namespace
}  // namespace bpftape::sim
