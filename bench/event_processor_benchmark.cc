// EventProcessor / AsyncEventProcessor throughput. Inputs are generated outside the timed
// loops; figures are items (events) per second.
//   ninja -C build benchmarks && build/bench/event_processor_benchmark
#include <benchmark/benchmark.h>

#include <thread>

#include "core/event_processor.h"

namespace otlp::ebpf {
namespace {

// A realistic mix: mostly syscalls, some samples and allocations, from a handful of threads.
std::vector<EbpfEvent> make_events(size_t count) {
  std::vector<EbpfEvent> events;
  events.reserve(count);
  uint64_t ts = 1'000'000;
  for (size_t i = 0; i < count; ++i) {
    ts += 200 + (i * 7919) % 300;
    uint32_t pid = 1000 + static_cast<uint32_t>(i % 4);
    switch (i % 10) {
      case 0:
        events.push_back(EbpfEvent::cpu_sample(ts, pid, pid, i % 2, CpuSampleData{1, 2}));
        break;
      case 1:
        events.push_back(EbpfEvent::memory_event(EbpfEventType::MemoryAlloc, ts, pid, pid, 0,
                                                 MemoryData{.address = i * 64, .size = 64,
                                                            .op = MemoryOp::Malloc}));
        break;
      default:
        events.push_back(EbpfEvent::syscall_event(
            ts, pid, pid, i % 2, SyscallData{.nr = static_cast<uint32_t>(i % 2), .ret = 1,
                                             .duration_ns = 300}));
    }
  }
  return events;
}

const std::vector<EbpfEvent>& shared_events() {
  static const std::vector<EbpfEvent> events = make_events(1 << 16);
  return events;
}

// One thread, batches in, batches out to a sink that only counts.
void BM_ProcessBatch(benchmark::State& state) {
  const auto& events = shared_events();
  auto p = EventProcessor::with_batch_size(4096, static_cast<size_t>(state.range(0))).value();
  uint64_t sunk = 0;
  p.set_sink([&](std::span<const EbpfEvent> batch) -> Result<void> {
    sunk += batch.size();
    return {};
  });
  for (auto _ : state) {
    auto outcome = p.process_batch(events);
    benchmark::DoNotOptimize(outcome);
  }
  benchmark::DoNotOptimize(sunk);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * events.size() * sizeof(EbpfEvent)));
}
BENCHMARK(BM_ProcessBatch)->Arg(64)->Arg(1024);

// One thread, one call per event (the seeds' process_event).
void BM_ProcessEvent(benchmark::State& state) {
  const auto& events = shared_events();
  auto p = EventProcessor::with_batch_size(4096, 1024).value();
  p.set_sink([](std::span<const EbpfEvent>) -> Result<void> { return {}; });
  for (auto _ : state) {
    for (const auto& e : events) benchmark::DoNotOptimize(p.process_event(e));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events.size()));
}
BENCHMARK(BM_ProcessEvent);

// N producer threads feeding one AsyncEventProcessor (whose worker is one more thread), in
// chunks of range(1) events; the whole stream is drained (close) inside the timed region.
void BM_AsyncProducers(benchmark::State& state) {
  const auto& events = shared_events();
  const auto producers = static_cast<size_t>(state.range(0));
  const auto chunk = static_cast<size_t>(state.range(1));
  for (auto _ : state) {
    auto p = AsyncEventProcessor::create(
                 4096, 1024, [](std::span<const EbpfEvent>) -> Result<void> { return {}; })
                 .value();
    std::vector<std::thread> threads;
    for (size_t t = 0; t < producers; ++t) {
      threads.emplace_back([&, t] {
        for (size_t i = t * chunk; i < events.size(); i += producers * chunk) {
          auto n = std::min(chunk, events.size() - i);
          (void)p->process_batch(std::span(events).subspan(i, n));
        }
      });
    }
    for (auto& th : threads) th.join();
    (void)p->close();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events.size()));
}
BENCHMARK(BM_AsyncProducers)
    ->ArgNames({"producers", "chunk"})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Args({1, 256})
    ->Args({2, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace otlp::ebpf
