// Tape write/read throughput and size, against the decompression floor measured in the same
// run: `zstd -d` (the CLI, and libzstd in-process) over exactly the zstd frames of the same tape.
//
//   ninja -C build bench/tape_benchmark && build/bench/tape_benchmark
//
// Counters: items_per_second = events/s; bytes_per_second = in-memory event bytes (64 B/event)
// per second; bytes_per_event = file size / events; file_MB_per_second = tape bytes/s.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <thread>

#include "bench/zstd_floor.h"
#include "core/tape/reader.h"
#include "core/tape/writer.h"
#include "tests/tape/tape_test_util.h"

namespace otlp::ebpf::tape {
namespace {

using namespace testing;

constexpr size_t kEvents = 2'000'000;
constexpr size_t kBatch = 4096;  // what the recorder hands over per drain, roughly

struct Workload {
  InternTable interns;
  std::vector<EventBatch> batches;
  std::string path;  // the tape
  bench::ZstdFrames zstd;
};

std::vector<EventBatch> to_batches(const std::vector<EbpfEvent>& events) {
  std::vector<EventBatch> out;
  for (size_t i = 0; i < events.size(); i += kBatch) {
    EventBatch b;
    b.events.assign(events.begin() + i, events.begin() + std::min(events.size(), i + kBatch));
    out.push_back(std::move(b));
  }
  return out;
}

void write_tape(Workload& w, const std::string& path) {
  WriterOptions options;
  options.overwrite = true;
  auto writer = TapeWriter::create(path, test_metadata(), w.interns, options);
  if (!writer) throw std::runtime_error(writer.error().to_string());
  for (const auto& b : w.batches) {
    if (auto r = (*writer)->append(b); !r) throw std::runtime_error(r.error().to_string());
  }
  if (auto r = (*writer)->close(); !r) throw std::runtime_error(r.error().to_string());
}

Workload& workload(const std::string& name) {
  static std::map<std::string, Workload> cache;  // benchmark-binary scope: built once
  auto [it, fresh] = cache.try_emplace(name);
  Workload& w = it->second;
  if (!fresh) return w;
  w.batches = to_batches(name == "syscall_storm" ? syscall_storm(kEvents)
                                                 : mixed_stream(kEvents, &w.interns));
  w.path = bench::scratch_tape_path(name);
  write_tape(w, w.path);
  w.zstd = bench::extract_zstd_frames(w.path);
  return w;
}

void set_counters(benchmark::State& state, const Workload& w) {
  const double events = static_cast<double>(state.iterations()) * kEvents;
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetBytesProcessed(static_cast<int64_t>(events * sizeof(EbpfEvent)));
  state.counters["bytes_per_event"] = static_cast<double>(w.zstd.tape_bytes) / kEvents;
  state.counters["file_MB_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(w.zstd.tape_bytes) / 1e6,
      benchmark::Counter::kIsRate);
}

void BM_Write(benchmark::State& state, const std::string& name) {
  Workload& w = workload(name);
  std::string path = w.path + ".write";
  for (auto _ : state) write_tape(w, path);
  std::remove(path.c_str());
  set_counters(state, w);
}

void BM_Read(benchmark::State& state, const std::string& name) {
  Workload& w = workload(name);
  ReaderOptions options;
  options.decode_threads = static_cast<unsigned>(state.range(0));
  for (auto _ : state) {
    auto reader = TapeReader::open(w.path, options);
    if (!reader) throw std::runtime_error(reader.error().to_string());
    EventBatch batch;
    uint64_t events = 0;
    while (true) {
      auto more = (*reader)->next(&batch);
      if (!more || !*more) break;
      events += batch.events.size();
    }
    if (events != kEvents) state.SkipWithError("short read");
    benchmark::DoNotOptimize(events);
  }
  set_counters(state, w);
}

void BM_ZstdFloorInProcess(benchmark::State& state, const std::string& name) {
  Workload& w = workload(name);
  bench::decompress_in_process(state, w.zstd);
  set_counters(state, w);
}

void BM_ZstdCliDecompress(benchmark::State& state, const std::string& name) {
  Workload& w = workload(name);
  bench::decompress_with_cli(state, w.zstd);
  set_counters(state, w);
}

// The recorder's drain loop calls append(); the append that closes a frame also pays for what
// flush_events() does on the caller's thread. Measured here: flush() of one full default-size
// frame (1 MiB of columns) of a syscall storm, inline (arg 0: build + serialize + compress +
// write) and with background compression (arg 1: what remains on the caller's thread; the
// worker is waited for outside the timing). The frame is filled outside the timing too.
// Read the CPU column (the caller's thread) for arg 1: its wall time also holds whatever the
// scheduler gives the just-woken worker first, which on a busy 2-CPU VM with both threads at
// the same nice (e.g. everything under `nice -n 19`, which voids the worker's +10) is most of it.
class NullSink final : public ByteSink {
 public:
  Result<void> write(std::span<const uint8_t>) override { return {}; }
  Result<void> sync() override { return {}; }
  Result<void> close() override { return {}; }
};

// Events of the storm that fill exactly one default events frame.
size_t full_frame_events(const std::vector<EventBatch>& batches, const InternTable& interns) {
  auto writer = TapeWriter::create(std::make_unique<NullSink>(), test_metadata(), interns, {});
  if (!writer) throw std::runtime_error(writer.error().to_string());
  const uint64_t frames = (*writer)->stats().frames;
  size_t events = 0;
  for (const auto& b : batches) {
    if (auto r = (*writer)->append(b); !r) throw std::runtime_error(r.error().to_string());
    events += b.events.size();
    if ((*writer)->stats().frames > frames) return events;
  }
  throw std::runtime_error("the storm does not fill a frame");
}

void BM_FlushFullFrame(benchmark::State& state) {
  Workload& w = workload("syscall_storm");
  static const size_t frame_events = full_frame_events(w.batches, w.interns);
  WriterOptions options;
  options.background_compression = state.range(0) != 0;
  options.frame_bytes = 2u << 20;  // no automatic flush: the benchmark closes the frame
  auto writer = TapeWriter::create(std::make_unique<NullSink>(), test_metadata(), w.interns,
                                   options);
  if (!writer) throw std::runtime_error(writer.error().to_string());
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t done = 0, b = 0; done < frame_events; done += w.batches[b++].events.size()) {
      if (auto r = (*writer)->append(w.batches[b % w.batches.size()]); !r) {
        throw std::runtime_error(r.error().to_string());
      }
    }
    const uint64_t frames = (*writer)->stats().frames;
    state.ResumeTiming();
    if (auto r = (*writer)->flush(); !r) throw std::runtime_error(r.error().to_string());
    state.PauseTiming();
    while ((*writer)->stats().frames == frames) std::this_thread::yield();  // the worker's part
    state.ResumeTiming();
  }
  state.counters["frame_events"] = static_cast<double>(frame_events);
}
// Fixed iterations: each refills a frame outside the timing (~20 ms), and the timed part is
// microseconds, so letting the library pick the count would refill for minutes.
BENCHMARK(BM_FlushFullFrame)
    ->ArgName("background")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(30)
    ->Unit(benchmark::kMicrosecond);

#define TAPE_BENCH(fn, name) \
  BENCHMARK_CAPTURE(fn, name, std::string(#name))->Unit(benchmark::kMillisecond)->UseRealTime()

TAPE_BENCH(BM_Write, syscall_storm);
TAPE_BENCH(BM_Write, mixed);
TAPE_BENCH(BM_Read, syscall_storm)->Arg(1)->Arg(2);
TAPE_BENCH(BM_Read, mixed)->Arg(1)->Arg(2);
TAPE_BENCH(BM_ZstdFloorInProcess, syscall_storm);
TAPE_BENCH(BM_ZstdFloorInProcess, mixed);
TAPE_BENCH(BM_ZstdCliDecompress, syscall_storm);
TAPE_BENCH(BM_ZstdCliDecompress, mixed);

}  // namespace
}  // namespace otlp::ebpf::tape
