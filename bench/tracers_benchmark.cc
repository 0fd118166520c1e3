// Each tracer's aggregation on its own: SyscallAggregator, NetworkAggregator (+ HTTP parsing),
// MemoryAggregator, CpuAggregator, fed the batches the pipeline delivers for a seeded
// simulation. The simulation and the pipeline run once, before anything is timed; the timed
// loop is a fresh aggregator consuming every batch, as in `bpftape replay`.
//
//   ninja -C build tracers_benchmark && build/bench/tracers_benchmark
//
// Inputs: the workload each tracer exists for (fileio -> syscalls, web -> network, leak ->
// memory, cpu -> CPU samples), and one mixed stream of all five workloads that every tracer
// reads in full (most of it is other tracers' events: what skipping them costs shows there).
// Counters: items_per_second = events consumed/s (all events of the stream, not only the
// tracer's own); bytes_per_second = in-memory event bytes/s; events = stream length.
#include <benchmark/benchmark.h>

#include <map>
#include <string>

#include "bench/sim_stream.h"
#include "core/tracers/cpu_aggregator.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/network_aggregator.h"
#include "core/tracers/syscall_aggregator.h"

namespace bpftape::bench {
namespace {

using namespace otlp::ebpf;

sim::SimOptions options_for(const std::string& scenario) {
  sim::SimOptions o;
  o.seed = 1;
  o.duration_ns = 2'000'000'000;
  // Rates chosen so each stream is a few hundred thousand events: long enough that per-run
  // setup (the aggregator's first allocations) is noise, small enough to stay in cache-ish.
  o.web_requests_per_s = 20000;
  o.fileio_ops_per_s = 200000;
  o.allocations_per_s = 200000;
  o.sample_hz = 9999;
  o.forks_per_s = 2000;
  if (scenario == "syscalls") o.workloads = sim::kFileIo;
  if (scenario == "network") o.workloads = sim::kWebServer;
  if (scenario == "memory") o.workloads = sim::kLeakyAllocator;
  if (scenario == "cpu") o.workloads = sim::kCpuBound;
  if (scenario == "mixed") o.workloads = sim::kAllWorkloads;
  return o;
}

const DeliveredStream& stream(const std::string& scenario) {
  static std::map<std::string, std::unique_ptr<DeliveredStream>> cache;  // made once per run
  auto& s = cache[scenario];
  if (!s) s = deliver_simulation(options_for(scenario));
  return *s;
}

template <typename A>
void BM_Aggregate(benchmark::State& state, const std::string& scenario) {
  const DeliveredStream& s = stream(scenario);
  for (auto _ : state) {
    A aggregator;
    s.replay_into(aggregator);
    benchmark::DoNotOptimize(aggregator);
  }
  const auto events = static_cast<int64_t>(state.iterations() * s.delivered.event_count);
  state.SetItemsProcessed(events);
  state.SetBytesProcessed(events * static_cast<int64_t>(sizeof(EbpfEvent)));
  state.counters["events"] = static_cast<double>(s.delivered.event_count);
}

// One named function per tracer, so names read BM_SyscallAggregator/mixed.
void BM_SyscallAggregator(benchmark::State& s, const std::string& n) { BM_Aggregate<SyscallAggregator>(s, n); }
void BM_NetworkAggregator(benchmark::State& s, const std::string& n) { BM_Aggregate<NetworkAggregator>(s, n); }
void BM_MemoryAggregator(benchmark::State& s, const std::string& n) { BM_Aggregate<MemoryAggregator>(s, n); }
void BM_CpuAggregator(benchmark::State& s, const std::string& n) { BM_Aggregate<CpuAggregator>(s, n); }

#define TRACER_BENCH(fn, scenario) \
  BENCHMARK_CAPTURE(fn, scenario, std::string(#scenario))->Unit(benchmark::kMillisecond)

TRACER_BENCH(BM_SyscallAggregator, syscalls);
TRACER_BENCH(BM_SyscallAggregator, mixed);
TRACER_BENCH(BM_NetworkAggregator, network);
TRACER_BENCH(BM_NetworkAggregator, mixed);
TRACER_BENCH(BM_MemoryAggregator, memory);
TRACER_BENCH(BM_MemoryAggregator, mixed);
TRACER_BENCH(BM_CpuAggregator, cpu);
TRACER_BENCH(BM_CpuAggregator, mixed);

}  // namespace
}  // namespace bpftape::bench
