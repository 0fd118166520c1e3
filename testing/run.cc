#include "testing/run.h"

#include <memory>

#include "core/report/report.h"
#include "core/report/symbolizer.h"
#include "simulator/sim_source.h"

namespace bpftape::testing {

using otlp::ebpf::Aggregator;
using otlp::ebpf::Pipeline;
using otlp::ebpf::PipelineStats;
using otlp::ebpf::Result;

namespace {

Result<std::unique_ptr<Pipeline>> pipeline_into(const otlp::ebpf::PipelineOptions& options,
                                                std::initializer_list<Aggregator*> aggregators) {
  BPFTAPE_ASSIGN_OR_RETURN(auto pipeline, Pipeline::create(options));
  for (Aggregator* aggregator : aggregators) pipeline->add_aggregator(*aggregator);
  return pipeline;
}

// The tape at `path` through the pipeline into `aggregators`; the source is returned for what
// else the caller reads from the tape (warnings, symbols, processes).
Result<std::unique_ptr<replay::FileSource>> run_tape(const std::string& path,
                                                     std::initializer_list<Aggregator*> aggregators,
                                                     const ReplayOptions& options,
                                                     PipelineStats& stats) {
  BPFTAPE_ASSIGN_OR_RETURN(auto source, replay::FileSource::open(path, options.source));
  BPFTAPE_ASSIGN_OR_RETURN(auto pipeline, pipeline_into(options.pipeline, aggregators));
  BPFTAPE_RETURN_IF_ERROR(pipeline->run(*source));
  stats = pipeline->stats();
  return source;
}

}  // namespace

Result<ReplayResult> replay_into(const std::string& path,
                                 std::initializer_list<Aggregator*> aggregators,
                                 const ReplayOptions& options) {
  ReplayResult result;
  BPFTAPE_ASSIGN_OR_RETURN(auto source, run_tape(path, aggregators, options, result.pipeline));
  result.warnings = source->reader().warnings();
  return result;
}

Result<ReplayResult> replay_into(const std::string& path, Aggregator& aggregator,
                                 const ReplayOptions& options) {
  return replay_into(path, {&aggregator}, options);
}

Result<std::string> replay_report_json(const std::string& path, const ReplayOptions& options,
                                       size_t top) {
  otlp::ebpf::SyscallAggregator syscalls;
  otlp::ebpf::NetworkAggregator network;
  otlp::ebpf::MemoryAggregator memory;
  otlp::ebpf::CpuAggregator cpu;
  otlp::ebpf::ReportInputs inputs;
  BPFTAPE_ASSIGN_OR_RETURN(auto source, run_tape(path, {&syscalls, &network, &memory, &cpu},
                                                 options, inputs.pipeline));
  const auto& reader = source->reader();
  const auto& metadata = reader.metadata();
  const otlp::ebpf::Symbolizer symbolizer(reader.symbols(), reader.mappings());
  inputs.recording = {"tape " + path, metadata.hostname, metadata.kernel_release,
                      metadata.recording_id};
  inputs.syscalls = &syscalls;
  inputs.network = &network;
  inputs.memory = &memory;
  inputs.cpu = &cpu;
  inputs.interned = &source->interned();
  inputs.processes = &source->processes();
  inputs.symbolizer = &symbolizer;
  inputs.warnings = reader.warnings();
  inputs.top = top;
  return otlp::ebpf::render_report_json(inputs);
}

Result<SimulationResult> simulate_into(sim::SimOptions options,
                                       std::initializer_list<Aggregator*> aggregators) {
  BPFTAPE_RETURN_IF_ERROR(options.finalize());
  otlp::ebpf::PipelineOptions pipeline_options;
  pipeline_options.reorder_window_ns = options.reorder_window_ns();
  SimulationResult result;
  // The ground truth watches both ends: the world reports each event's fate to it, and as the
  // last aggregator it sees what the pipeline delivered.
  BPFTAPE_ASSIGN_OR_RETURN(auto pipeline, pipeline_into(pipeline_options, aggregators));
  pipeline->add_aggregator(result.truth);
  sim::SimSource source(options, &result.truth);
  BPFTAPE_RETURN_IF_ERROR(pipeline->run(source));
  result.pipeline = pipeline->stats();
  result.world = source.world().stats();
  return result;
}

Result<SimulationResult> simulate_into(const sim::SimOptions& options, Aggregator& aggregator) {
  return simulate_into(options, {&aggregator});
}

}  // namespace bpftape::testing
