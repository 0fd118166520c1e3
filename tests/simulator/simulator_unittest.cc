#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "simulator/check.h"
#include "simulator/ground_truth.h"
#include "simulator/sim_source.h"
#include "simulator/sim_tape.h"
#include "core/pipeline.h"
#include "core/tape/format.h"
#include "core/tape/reader.h"

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

// The (pid, timestamp) of every event the pipeline delivers: what the outputs attribute to a
// process incarnation (ProcessTable::lookup for spans, latest for report rows and resources).
struct EventOwners : otlp::ebpf::Aggregator {
  std::vector<std::pair<uint32_t, uint64_t>> events;
  void consume(std::span<const otlp::ebpf::EbpfEvent> batch,
               const otlp::ebpf::InternTable&) override {
    for (const auto& e : batch) events.emplace_back(e.pid, e.timestamp_ns);
  }
};

// "pid 12 @5: 12/900 true [/bin/true]": which incarnation a call picked, every field that names it.
std::string describe(const otlp::ebpf::ProcessInfo* p) {
  if (p == nullptr) return "none";
  return fmt::format("{}/{} ppid {} {} {} [{}] exit {}@{}", p->pid, p->start_ns, p->ppid, p->comm,
                     p->exe, fmt::join(p->cmdline, "|"), p->exit_code, p->exit_ns);
}

// With pid reuse, a replay of the tape a simulation writes attributes every event to the same
// process incarnation as the live run (SimSource through the pipeline) did.
TEST(SimulatorTest, PidReuseReplayAttributesEventsAsTheLiveRunDid) {
  SimOptions o = small(9, kPidReuse);
  o.workloads = kForkExec | kFileIo;
  o.forks_per_s = 2000;
  o.pid_space = 16;
  ASSERT_TRUE(o.finalize().has_value());
  namespace tape = otlp::ebpf::tape;
  otlp::ebpf::PipelineOptions pipeline_options;
  pipeline_options.reorder_window_ns = o.reorder_window_ns();

  SimSource live(o, nullptr);
  EventOwners live_events;
  auto live_pipeline = otlp::ebpf::Pipeline::create(pipeline_options);
  ASSERT_TRUE(live_pipeline);
  (*live_pipeline)->add_aggregator(live_events);
  ASSERT_TRUE((*live_pipeline)->run(live));

  SimSource recorded(o, nullptr);
  std::vector<uint8_t> bytes;
  auto writer = tape::TapeWriter::create(std::make_unique<tape::MemorySink>(&bytes),
                                         sim_tape_metadata(recorded), recorded.interned());
  ASSERT_TRUE(writer);
  ASSERT_TRUE(write_sim_tape(recorded, **writer));
  ASSERT_TRUE((*writer)->close());
  auto reader = tape::TapeReader::open_memory(bytes, {});
  ASSERT_TRUE(reader) << reader.error().to_string();
  EventOwners replayed_events;
  auto replay_pipeline = otlp::ebpf::Pipeline::create(pipeline_options);
  ASSERT_TRUE(replay_pipeline);
  (*replay_pipeline)->add_aggregator(replayed_events);
  otlp::ebpf::EventBatch batch;
  for (;;) {
    auto more = (*reader)->next(&batch);
    ASSERT_TRUE(more) << more.error().to_string();
    if (!*more) break;
    ASSERT_TRUE((*replay_pipeline)->process(batch, (*reader)->interns()));
  }
  ASSERT_TRUE((*replay_pipeline)->finish((*reader)->interns()));

  const otlp::ebpf::ProcessTable& live_table = live.processes();
  const otlp::ebpf::ProcessTable& replayed_table = (*reader)->processes();
  ASSERT_EQ(replayed_events.events, live_events.events);
  std::map<uint32_t, std::set<uint64_t>> incarnations_used;  // pid -> starts events were given
  for (const auto& [pid, ts] : live_events.events) {
    const auto* live_owner = live_table.lookup(pid, ts);
    ASSERT_EQ(describe(replayed_table.lookup(pid, ts)), describe(live_owner))
        << "event of pid " << pid << " at " << ts;
    ASSERT_EQ(describe(replayed_table.latest(pid)), describe(live_table.latest(pid)));
    if (live_owner != nullptr) incarnations_used[pid].insert(live_owner->start_ns);
  }
  EXPECT_EQ(replayed_table.all(), live_table.all());
  // The comparison covered pid reuse: some pid's events belong to more than one incarnation.
  size_t reused = 0;
  for (const auto& [pid, starts] : incarnations_used) reused += starts.size() > 1;
  EXPECT_GT(reused, 0u);
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
