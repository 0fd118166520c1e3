// Simulator throughput: events generated per second (CPU time), and virtual seconds simulated
// per real second, per scenario. The world is built inside the timed loop (it is part of the
// cost).
//   ninja -C build benchmarks && build/bench/simulator_benchmark
#include <benchmark/benchmark.h>

#include "simulator/sim_source.h"

namespace bpftape::sim {
namespace {

void BM_Simulate(benchmark::State& state, uint32_t workloads, uint32_t faults) {
  SimOptions o;
  o.seed = 1;
  o.workloads = workloads;
  o.faults = faults;
  o.duration_ns = 2'000'000'000;
  // Rates high enough that generation, not idle virtual time, dominates.
  o.web_requests_per_s = 20000;
  o.fileio_ops_per_s = 400000;
  o.allocations_per_s = 400000;
  o.forks_per_s = 5000;
  o.sample_hz = 1000;
  if (!o.finalize()) {
    state.SkipWithError("bad options");
    return;
  }
  uint64_t events = 0;
  for (auto _ : state) {
    SimSource source(o, nullptr);
    otlp::ebpf::EventBatch batch;
    while (*source.next(batch)) benchmark::DoNotOptimize(batch.events.data());
    events += source.world().stats().emitted;  // generated, whether or not a ring kept it
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.counters["virtual_per_real"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(o.duration_ns) / 1e9,
      benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_Simulate, web, kWebServer, 0u)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Simulate, fileio, kFileIo, 0u)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Simulate, leak, kLeakyAllocator, 0u)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Simulate, cpu, kCpuBound, 0u)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Simulate, forkexec, kForkExec, 0u)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Simulate, mixed, kAllWorkloads, 0u)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Simulate, mixed_all_faults, kAllWorkloads, kAllFaults)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bpftape::sim
