// The instruction-budget driver: runs each hot stage once, on a fixed seeded simulation, each
// stage inside its own function `bpftape_budget_<stage>`. Run alone it only prints the stages
// and their event counts; scripts/instruction-budget runs it under callgrind with
//   --collect-atstart=no --toggle-collect=bpftape_budget_* --dump-after=bpftape_budget_*
// so each stage's instructions (everything it calls included, nothing else) land in a dump of
// their own, and divides by the stage's events. See docs/benchmarks.md.
//
//   build/bench/instruction_budget            prints: stage <TAB> events, one line per stage
//
// Stages, in order (each one's input is made by the previous ones, outside any stage):
//   simulate            the simulator generating the stream (events generated)
//   tape_write          TapeWriter: column-encode + zstd, to memory (events written)
//   tape_read           TapeReader: zstd + decode, one thread (events read)
//   pipeline            Sorter (100 ms window) + EventProcessor, no tracers (events in)
//   syscall_aggregator, network_aggregator, memory_aggregator, cpu_aggregator
//                       each tracer's aggregation over every delivered event
//   otlp_convert        spans + metrics from the four aggregations (per delivered event)
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <zstd.h>

#include "bench/sim_stream.h"
#include "core/otlp/converter.h"
#include "core/tape/reader.h"
#include "core/tape/writer.h"
#include "core/tracers/cpu_aggregator.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/network_aggregator.h"
#include "core/tracers/syscall_aggregator.h"
#include "tests/tape/tape_test_util.h"

// Stage functions: C linkage so callgrind's function patterns match a plain name; noipa so GCC
// neither inlines nor clones them (a clone is renamed `.constprop.0` and escapes the toggle).
#define BUDGET_STAGE extern "C" __attribute__((noipa))

namespace {

using namespace otlp::ebpf;
namespace sim = bpftape::sim;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "instruction_budget: %s\n", what.c_str());
  std::exit(1);
}

// Small on purpose: the count is exact, so a few hundred thousand events measure the same
// per-event figure as millions would, and keep callgrind (~50x slower) to seconds. Every tracer
// gets work: web (TCP + HTTP payloads), file I/O syscalls, allocations, CPU samples, fork/exec.
sim::SimOptions budget_options() {
  sim::SimOptions o;
  o.seed = 1;
  o.workloads = sim::kAllWorkloads;
  o.duration_ns = 1'000'000'000;
  o.web_requests_per_s = 5000;
  o.fileio_ops_per_s = 40000;
  o.allocations_per_s = 40000;
  o.sample_hz = 2999;
  o.forks_per_s = 500;
  if (auto r = o.finalize(); !r) die(r.error().to_string());
  return o;
}

// The writer's output, in memory: the stage measures encoding and compression, not the disk.
class VectorSink final : public tape::ByteSink {
 public:
  explicit VectorSink(std::vector<uint8_t>* out) : out_(out) {}
  Result<void> write(std::span<const uint8_t> bytes) override {
    out_->insert(out_->end(), bytes.begin(), bytes.end());
    return {};
  }
  Result<void> sync() override { return {}; }
  Result<void> close() override { return {}; }

 private:
  std::vector<uint8_t>* out_;
};

}  // namespace

BUDGET_STAGE uint64_t bpftape_budget_simulate(const sim::SimOptions* options) {
  sim::SimSource source(*options, nullptr);
  EventBatch batch;
  while (true) {
    auto more = source.next(batch);
    if (!more) die(more.error().to_string());
    if (!*more) break;
  }
  return source.world().stats().emitted;
}

BUDGET_STAGE uint64_t bpftape_budget_tape_write(const std::vector<EventBatch>* batches,
                                                const InternTable* interns,
                                                std::vector<uint8_t>* out) {
  auto writer = tape::TapeWriter::create(std::make_unique<VectorSink>(out),
                                         tape::testing::test_metadata(), *interns);
  if (!writer) die(writer.error().to_string());
  for (const auto& b : *batches) {
    if (auto r = (*writer)->append(b); !r) die(r.error().to_string());
  }
  if (auto r = (*writer)->close(); !r) die(r.error().to_string());
  return (*writer)->stats().events;
}

namespace {
// Reads the whole tape; keeps the batches in `out` unless it is null (then one batch is reused,
// as `bpftape replay` does).
uint64_t read_tape(tape::TapeReader* reader, std::vector<EventBatch>* out) {
  uint64_t events = 0;
  EventBatch batch;
  while (true) {
    auto more = reader->next(&batch);
    if (!more) die(more.error().to_string());
    if (!*more) break;
    events += batch.events.size();
    if (out) out->push_back(std::move(batch));
  }
  return events;
}

std::unique_ptr<tape::TapeReader> open_tape(const std::vector<uint8_t>& bytes) {
  tape::ReaderOptions options;
  options.decode_threads = 1;  // one thread: callgrind's toggle then sees all the work
  auto reader = tape::TapeReader::open_memory(bytes, options);
  if (!reader) die(reader.error().to_string());
  return std::move(*reader);
}
}  // namespace

BUDGET_STAGE uint64_t bpftape_budget_tape_read(tape::TapeReader* reader) {
  return read_tape(reader, nullptr);
}

BUDGET_STAGE uint64_t bpftape_budget_pipeline(const std::vector<EventBatch>* batches,
                                              const InternTable* interns) {
  PipelineOptions options;
  options.reorder_window_ns = kDefaultReorderWindowNs;
  auto pipeline = Pipeline::create(options);
  if (!pipeline) die(pipeline.error().to_string());
  for (const auto& b : *batches) {
    if (auto r = (*pipeline)->process(b, *interns); !r) die(r.error().to_string());
  }
  if (auto r = (*pipeline)->finish(*interns); !r) die(r.error().to_string());
  return (*pipeline)->stats().source_events;
}

// One function per tracer so each gets its own toggle and dump.
#define AGGREGATOR_STAGE(name, type)                                                      \
  BUDGET_STAGE uint64_t bpftape_budget_##name(const bpftape::bench::DeliveredStream* s,   \
                                              type* aggregator) {                         \
    s->replay_into(*aggregator);                                                          \
    return s->delivered.event_count;                                                      \
  }
AGGREGATOR_STAGE(syscall_aggregator, SyscallAggregator)
AGGREGATOR_STAGE(network_aggregator, NetworkAggregator)
AGGREGATOR_STAGE(memory_aggregator, MemoryAggregator)
AGGREGATOR_STAGE(cpu_aggregator, CpuAggregator)

BUDGET_STAGE uint64_t bpftape_budget_otlp_convert(const EbpfOtlpConverter* converter,
                                                  const AggregatorResults* results,
                                                  uint64_t events) {
  auto traces = converter->convert_traces(*results);
  if (!traces) die(traces.error().to_string());
  auto metrics = converter->convert_metrics(*results);
  if (!metrics) die(metrics.error().to_string());
  return events;
}

int main(int argc, char** argv) {
  if (argc > 1) {
    std::fprintf(stderr,
                 "usage: instruction_budget\n"
                 "Runs each stage once on a fixed simulation and prints `stage<TAB>events`.\n"
                 "Meant to run under callgrind: see scripts/instruction-budget.\n");
    return std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ? 0 : 2;
  }
  const sim::SimOptions options = budget_options();
  std::printf("# input: bpftape simulate --seed %llu --scenario all --duration 1s --web-rps 5000 "
              "--fileio-ops 40000 --alloc-rate 40000 --sample-rate 2999 --fork-rate 500\n",
              static_cast<unsigned long long>(options.seed));
  std::printf("# toolchain: gcc %s, %s, zstd %s\n", __VERSION__, BPFTAPE_BUILD_TYPE,
              ZSTD_versionString());
  auto print = [](const char* stage, uint64_t events) {
    std::printf("%s\t%llu\n", stage, static_cast<unsigned long long>(events));
  };

  print("simulate", bpftape_budget_simulate(&options));

  // The stream as a recording would hand it to the writer: the simulator's raw batches.
  sim::SimSource source(options, nullptr);
  std::vector<EventBatch> generated;
  for (EventBatch batch;;) {
    auto more = source.next(batch);
    if (!more) die(more.error().to_string());
    if (!*more) break;
    generated.push_back(batch);
  }
  std::vector<uint8_t> tape_bytes;
  tape_bytes.reserve(16u << 20);  // the sink's growth is not the writer's cost
  print("tape_write", bpftape_budget_tape_write(&generated, &source.interned(), &tape_bytes));
  generated.clear();

  print("tape_read", bpftape_budget_tape_read(open_tape(tape_bytes).get()));

  auto reader = open_tape(tape_bytes);  // again, keeping the batches: the pipeline's input
  std::vector<EventBatch> read;
  read_tape(reader.get(), &read);
  print("pipeline", bpftape_budget_pipeline(&read, &reader->interns()));

  // Tracers and conversion consume what the pipeline delivers for the same simulation.
  auto stream = bpftape::bench::deliver_simulation(options);
  SyscallAggregator syscalls;
  NetworkAggregator network;
  MemoryAggregator memory;
  CpuAggregator cpu;
  print("syscall_aggregator", bpftape_budget_syscall_aggregator(stream.get(), &syscalls));
  print("network_aggregator", bpftape_budget_network_aggregator(stream.get(), &network));
  print("memory_aggregator", bpftape_budget_memory_aggregator(stream.get(), &memory));
  print("cpu_aggregator", bpftape_budget_cpu_aggregator(stream.get(), &cpu));

  EbpfOtlpConverter converter;
  const RecordingContext recording{"budget", source.clock(), 0, options.duration_ns};
  converter.with_resource({.host_name = "budget"}).with_recording(recording).with_tracer().with_meter();
  const AggregatorResults results{&stream->source->processes(), &network, &syscalls, &memory, &cpu};
  print("otlp_convert",
        bpftape_budget_otlp_convert(&converter, &results, stream->delivered.event_count));
  return 0;
}
