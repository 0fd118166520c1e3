// Properties over seeds and fault mixes (the --check oracles), and a stateful test of the
// pipeline whose commands are workload and fault operations against a model of the expected
// aggregates. A failure prints RapidCheck's reproduce line and the bpftape command.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <deque>
#include <map>

#include "core/pipeline.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/syscall_aggregator.h"
#include "simulator/check.h"

namespace bpftape::sim {
namespace {

using namespace otlp::ebpf;

RC_GTEST_PROP(SimulatorProperties, CheckHoldsForAnySeedAndFaultMix, ()) {
  SimOptions o;
  o.seed = *rc::gen::arbitrary<uint64_t>();
  o.workloads = *rc::gen::inRange<uint32_t>(1, kAllWorkloads + 1);
  o.faults = *rc::gen::inRange<uint32_t>(0, kAllFaults + 1);
  o.cpus = *rc::gen::inRange<uint32_t>(1, 9);
  o.duration_ns = 150'000'000;
  o.web_requests_per_s = 3000;
  o.allocations_per_s = 20000;
  o.overflow_ring_capacity = *rc::gen::inRange<uint32_t>(16, 2048);
  o.reorder_max_defer_polls = *rc::gen::inRange<uint32_t>(1, 8);
  RC_ASSERT(o.finalize().has_value());
  RC_LOG() << "reproduce: " << o.reproduce_command() << "\n";
  auto report = run_check(o);
  RC_LOG() << report.summary();
  RC_ASSERT(report.ok());
}

RC_GTEST_PROP(SimulatorProperties, SwarmSeedsPassTheCheck, ()) {
  SimOptions o;
  o.seed = *rc::gen::arbitrary<uint64_t>();
  o.swarm = true;
  o.duration_ns = 150'000'000;
  RC_ASSERT(o.finalize().has_value());
  RC_LOG() << "reproduce: " << o.reproduce_command() << "\n";
  auto report = run_check(o);
  RC_LOG() << report.summary();
  RC_ASSERT(report.ok());
}

// ---- Stateful: the pipeline + tracers against a model, driven by workload and fault ops ----

struct Model {
  uint64_t now = 1000;
  std::map<uint32_t, uint64_t> syscalls;  // nr -> count
  uint64_t syscall_errors = 0;
  std::map<uint32_t, std::deque<uint64_t>> live;  // pid -> addresses (oldest first)
  uint64_t outstanding_bytes = 0;
  std::map<uint64_t, uint64_t> sizes;  // address -> size (addresses are globally unique here)
  uint64_t lost = 0;
  uint64_t next_address = 0x1000;
};

struct Sut {
  std::unique_ptr<Pipeline> pipeline;
  SyscallAggregator syscalls;
  MemoryAggregator memory;
  InternTable interned;
  EventBatch pending;  // events of the current "poll"
};

using Cmd = rc::state::Command<Model, Sut>;

void check_against(const Model& m, const Sut& s) {
  std::map<uint32_t, uint64_t> got;
  for (const auto& row : s.syscalls.by_syscall()) got[row.nr] = row.count;
  RC_ASSERT(got == m.syscalls);
  RC_ASSERT(s.syscalls.stats().errors == m.syscall_errors);
  RC_ASSERT(s.memory.stats().active_bytes == m.outstanding_bytes);
  RC_ASSERT(s.pipeline->stats().losses.events_lost == m.lost);
}

// Emits into the current poll; Poll hands it to the pipeline (a drain).
struct Syscalls : Cmd {
  uint32_t pid = *rc::gen::inRange<uint32_t>(1, 5);
  uint32_t nr = *rc::gen::inRange<uint32_t>(0, 6);
  uint32_t count = *rc::gen::inRange<uint32_t>(1, 20);
  bool failing = *rc::gen::arbitrary<bool>();
  void apply(Model& m) const override {
    m.syscalls[nr] += count;
    if (failing) m.syscall_errors += count;
    m.now += count;
  }
  void run(const Model& m, Sut& s) const override {
    for (uint32_t i = 0; i < count; ++i) {
      s.pending.events.push_back(EbpfEvent::syscall_event(
          m.now + i, pid, pid, 0, SyscallData{.nr = nr, .ret = failing ? -13 : 0, .duration_ns = 5}));
    }
  }
  void show(std::ostream& os) const override { os << "syscalls(pid " << pid << ", nr " << nr << ", x" << count << (failing ? ", failing)" : ")"); }
};

struct Allocate : Cmd {
  uint32_t pid = *rc::gen::inRange<uint32_t>(1, 4);
  uint64_t size = *rc::gen::inRange<uint64_t>(1, 4096);
  void apply(Model& m) const override {
    m.live[pid].push_back(m.next_address);
    m.sizes[m.next_address] = size;
    m.outstanding_bytes += size;
    m.next_address += 0x100;
    m.now += 1;
  }
  void run(const Model& m, Sut& s) const override {
    s.pending.events.push_back(EbpfEvent::memory_event(
        EbpfEventType::MemoryAlloc, m.now, pid, pid, 1,
        MemoryData{.address = m.next_address, .size = size, .stack = 1, .op = MemoryOp::Malloc}));
  }
  void show(std::ostream& os) const override { os << "malloc(pid " << pid << ", " << size << ")"; }
};

struct FreeOldest : Cmd {
  uint32_t pid = 0;
  explicit FreeOldest(const Model& m) {
    std::vector<uint32_t> candidates;
    for (const auto& [p, blocks] : m.live) {
      if (!blocks.empty()) candidates.push_back(p);
    }
    RC_PRE(!candidates.empty());
    pid = *rc::gen::elementOf(candidates);
  }
  // Shrinking drops commands and re-checks only this, not the constructor.
  void checkPreconditions(const Model& m) const override {
    auto it = m.live.find(pid);
    RC_PRE(it != m.live.end() && !it->second.empty());
  }
  void apply(Model& m) const override {
    uint64_t address = m.live[pid].front();
    m.live[pid].pop_front();
    m.outstanding_bytes -= m.sizes[address];
    m.now += 1;
  }
  void run(const Model& m, Sut& s) const override {
    s.pending.events.push_back(EbpfEvent::memory_event(
        EbpfEventType::MemoryFree, m.now, pid, pid, 1,
        MemoryData{.address = m.live.find(pid)->second.front(), .op = MemoryOp::Free}));
  }
  void show(std::ostream& os) const override { os << "free_oldest(pid " << pid << ")"; }
};

// Fault: the ring dropped events; the kernel side reports them as a loss record.
struct RingOverflow : Cmd {
  uint16_t cpu = *rc::gen::inRange<uint16_t>(0, 4);
  uint64_t count = *rc::gen::inRange<uint64_t>(1, 1000);
  void apply(Model& m) const override { m.lost += count; }
  void run(const Model& m, Sut& s) const override {
    s.pending.losses.push_back(LossRecord{m.now, cpu, count});
  }
  void show(std::ostream& os) const override { os << "overflow(cpu " << cpu << ", lost " << count << ")"; }
};

// Fault: the consumer drains this poll's events in reverse (cross-CPU reorder within the
// window): aggregates must not change.
struct Poll : Cmd {
  bool reversed = *rc::gen::arbitrary<bool>();
  void apply(Model&) const override {}
  void run(const Model& m, Sut& s) const override {
    if (reversed) std::reverse(s.pending.events.begin(), s.pending.events.end());
    RC_ASSERT(s.pipeline->process(s.pending, s.interned).has_value());
    s.pending.clear();
    // Drain the window so the aggregates are complete, then compare with the model.
    RC_ASSERT(s.pipeline->finish(s.interned).has_value());
    check_against(m, s);
  }
  void show(std::ostream& os) const override { os << (reversed ? "poll(reversed)" : "poll()"); }
};

RC_GTEST_PROP(PipelineStateful, TracersMatchModelUnderWorkloadAndFaultOps, ()) {
  Sut sut;
  PipelineOptions options;
  options.reorder_window_ns = 1'000'000;  // wider than any one poll's span
  sut.pipeline = Pipeline::create(options).value();
  sut.pipeline->add_aggregator(sut.syscalls);
  sut.pipeline->add_aggregator(sut.memory);
  rc::state::check(Model{}, sut,
                   rc::state::gen::execOneOfWithArgs<Syscalls, Allocate, FreeOldest, RingOverflow, Poll>());
}

}  // namespace
}  // namespace bpftape::sim
