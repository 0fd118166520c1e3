// Full-pipeline replay throughput — FileSource -> Sorter -> EventProcessor -> the four tracers,
// exactly what `bpftape replay` runs — against the decompression floor (`zstd -d` and libzstd on
// the same tape's frames) measured in the same run. The targets: >= 10 M events/s on
// one core, <= 3x the `zstd -d` time.
//
//   ninja -C build replay_benchmark && taskset -c 0 build/bench/replay_benchmark
//
// (taskset: "one core" means the decode thread and the pipeline share it.)
//
// Inputs, made once per run by `bpftape simulate` (deterministic: same seed, same tape) before
// anything is timed:
//   syscalls — a file-I/O batch job, every event a syscall: what a `--syscalls` recording of a
//              busy process looks like;
//   mixed    — web server + file I/O + leaky allocator: syscalls, TCP with HTTP payloads,
//              mallocs and frees, so every tracer has work.
// Counters: items_per_second = events/s; tape_bytes_per_event; events.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>

#include "bench/zstd_floor.h"
#include "cli/outputs.h"
#include "core/pipeline.h"
#include "replayer/file_source.h"

namespace bpftape::replay {
namespace {

using otlp::ebpf::tape::bench::ZstdFrames;

struct Input {
  std::string path;
  ZstdFrames zstd;
  uint64_t events = 0;
};

const char* simulate_flags(const std::string& name) {
  if (name == "syscalls") return "--scenario fileio --fileio-ops 300000 --duration 20s";
  return "--scenario web,fileio,leak --web-rps 5000 --fileio-ops 100000 --alloc-rate 100000 "
         "--duration 10s";
}

Input& input(const std::string& name) {
  static std::map<std::string, Input> cache;  // benchmark-binary scope: made once
  auto [it, fresh] = cache.try_emplace(name);
  Input& in = it->second;
  if (!fresh) return in;
  in.path = otlp::ebpf::tape::bench::scratch_tape_path("replay-" + name);
  std::string cmd = std::string(BPFTAPE_BINARY) + " simulate -q -f --seed 7 " +
                    simulate_flags(name) + " -o " + in.path + " > /dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  in.zstd = otlp::ebpf::tape::bench::extract_zstd_frames(in.path);
  auto source = FileSource::open(in.path, {});
  if (!source) throw std::runtime_error(source.error().to_string());
  const auto& index = (*source)->reader().index();
  if (!index) throw std::runtime_error(in.path + ": no index");
  in.events = index->event_count;
  return in;
}

void set_counters(benchmark::State& state, const Input& in) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * in.events));
  state.counters["events"] = static_cast<double>(in.events);
  state.counters["tape_bytes_per_event"] =
      static_cast<double>(in.zstd.tape_bytes) / static_cast<double>(in.events);
}

// In-process: what `bpftape replay` does between opening the tape and printing the report.
void BM_ReplayPipeline(benchmark::State& state, const std::string& name) {
  Input& in = input(name);
  FileSourceOptions options;
  options.decode_threads = static_cast<unsigned>(state.range(0));
  for (auto _ : state) {
    auto source = FileSource::open(in.path, options);
    otlp::ebpf::PipelineOptions pipeline_options;
    pipeline_options.reorder_window_ns = otlp::ebpf::kDefaultReorderWindowNs;
    auto pipeline = otlp::ebpf::Pipeline::create(pipeline_options);
    if (!source || !pipeline) {
      state.SkipWithError("setup failed");
      return;
    }
    cli::Tracers tracers;
    tracers.add_to(**pipeline);
    if (auto r = (*pipeline)->run(**source); !r) {
      state.SkipWithError(r.error().to_string().c_str());
      return;
    }
    if ((*pipeline)->stats().source_events != in.events) state.SkipWithError("short replay");
  }
  set_counters(state, in);
}

// Where the pipeline's time goes: the same replay (one decode thread) with fewer stages.
// upto:0 is FileSource alone (tape read: zstd + column decode); upto:1 adds Sorter +
// EventProcessor without tracers. BM_ReplayPipeline/*/1 minus upto:1 is the tracers' share.
void BM_ReplayStage(benchmark::State& state, const std::string& name) {
  Input& in = input(name);
  const bool decode_only = state.range(0) == 0;
  FileSourceOptions options;
  options.decode_threads = 1;
  for (auto _ : state) {
    auto source = FileSource::open(in.path, options);
    if (!source) {
      state.SkipWithError("setup failed");
      return;
    }
    uint64_t events = 0;
    if (decode_only) {
      otlp::ebpf::EventBatch batch;
      for (;;) {
        auto more = (*source)->next(batch);
        if (!more) {
          state.SkipWithError(more.error().to_string().c_str());
          return;
        }
        if (!*more) break;
        events += batch.events.size();
      }
    } else {
      otlp::ebpf::PipelineOptions pipeline_options;
      pipeline_options.reorder_window_ns = otlp::ebpf::kDefaultReorderWindowNs;
      auto pipeline = otlp::ebpf::Pipeline::create(pipeline_options);
      if (!pipeline) {
        state.SkipWithError("setup failed");
        return;
      }
      if (auto r = (*pipeline)->run(**source); !r) {
        state.SkipWithError(r.error().to_string().c_str());
        return;
      }
      events = (*pipeline)->stats().source_events;
    }
    if (events != in.events) state.SkipWithError("short replay");
  }
  set_counters(state, in);
}

// The command itself, report included (process start, symbolization, formatting).
void BM_ReplayCommand(benchmark::State& state, const std::string& name) {
  Input& in = input(name);
  std::string cmd = std::string(BPFTAPE_BINARY) + " replay --no-progress " + in.path + " > /dev/null";
  for (auto _ : state) {
    if (std::system(cmd.c_str()) != 0) state.SkipWithError("bpftape replay failed");
  }
  set_counters(state, in);
}

void BM_ZstdCliDecompress(benchmark::State& state, const std::string& name) {
  Input& in = input(name);
  otlp::ebpf::tape::bench::decompress_with_cli(state, in.zstd);
  set_counters(state, in);
}

void BM_ZstdInProcess(benchmark::State& state, const std::string& name) {
  Input& in = input(name);
  otlp::ebpf::tape::bench::decompress_in_process(state, in.zstd);
  set_counters(state, in);
}

// Real time: the decode thread's work counts. Process CPU time is reported alongside.
#define REPLAY_BENCH(fn, name)                                               \
  BENCHMARK_CAPTURE(fn, name, std::string(#name))                            \
      ->Unit(benchmark::kMillisecond)                                        \
      ->MeasureProcessCPUTime()                                              \
      ->UseRealTime()

REPLAY_BENCH(BM_ReplayPipeline, syscalls)->Arg(1)->Arg(2);
REPLAY_BENCH(BM_ReplayPipeline, mixed)->Arg(1)->Arg(2);
REPLAY_BENCH(BM_ReplayStage, syscalls)->ArgName("upto")->Arg(0)->Arg(1);
REPLAY_BENCH(BM_ReplayStage, mixed)->ArgName("upto")->Arg(0)->Arg(1);
REPLAY_BENCH(BM_ReplayCommand, syscalls);
REPLAY_BENCH(BM_ReplayCommand, mixed);
REPLAY_BENCH(BM_ZstdCliDecompress, syscalls);
REPLAY_BENCH(BM_ZstdCliDecompress, mixed);
REPLAY_BENCH(BM_ZstdInProcess, syscalls);
REPLAY_BENCH(BM_ZstdInProcess, mixed);

}  // namespace
}  // namespace bpftape::replay
