// Runs for other projects' tests: a tape or a seeded simulation through bpftape's pipeline
// into the caller's own aggregators, in one call (docs/harness.md). The path is the one
// `bpftape replay` and `bpftape simulate` take: FileSource / SimSource -> Pipeline (order,
// validate, batch) -> aggregators.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/pipeline.h"
#include "core/tracers/aggregator.h"
#include "replayer/file_source.h"
#include "simulator/ground_truth.h"
#include "simulator/sim_options.h"
#include "simulator/world.h"

namespace bpftape::testing {

// What one run reports besides what the aggregators hold.
struct ReplayResult {
  otlp::ebpf::PipelineStats pipeline;
  // The tape reader's warnings (e.g. a truncated tape: its prefix was replayed). A corrupt or
  // unreadable tape is an error instead.
  std::vector<std::string> warnings;
};

struct ReplayOptions {
  // As `bpftape replay` (100 ms reorder window, no filter): the same tape gives the numbers
  // `bpftape replay --json` prints.
  otlp::ebpf::PipelineOptions pipeline{.reorder_window_ns = otlp::ebpf::kDefaultReorderWindowNs};
  replay::FileSourceOptions source;  // decode threads, --since/--until window, pacing
};

// Replays the tape at `path` into `aggregators` (not owned; each sees every delivered event
// in order, then the call returns). Aggregators are handed the tape's InternTable during the
// run only: they copy what they keep.
otlp::ebpf::Result<ReplayResult> replay_into(
    const std::string& path, std::initializer_list<otlp::ebpf::Aggregator*> aggregators,
    const ReplayOptions& options = {});
otlp::ebpf::Result<ReplayResult> replay_into(const std::string& path,
                                             otlp::ebpf::Aggregator& aggregator,
                                             const ReplayOptions& options = {});

// The report `bpftape replay --json` prints for the tape (same options, same text: bpftape's
// own tracers and symbolizer), for HasJsonField (testing/matchers.h). `top`: rows per table.
otlp::ebpf::Result<std::string> replay_report_json(const std::string& path,
                                                   const ReplayOptions& options = {},
                                                   size_t top = 10);

struct SimulationResult {
  otlp::ebpf::PipelineStats pipeline;
  sim::WorldStats world;
  // What the pipeline had to deliver, and independent aggregates of what it did deliver (per
  // syscall counts, memory, network, CPU samples): the expected values for the caller's
  // aggregators (simulator/ground_truth.h).
  sim::GroundTruth truth;
};

// Runs the simulation `options` describes (finalize()d here: pass them as set) into
// `aggregators`, through the pipeline with the reorder window the options call for. The same
// options give the same events, so a failing seed reproduces.
otlp::ebpf::Result<SimulationResult> simulate_into(
    sim::SimOptions options, std::initializer_list<otlp::ebpf::Aggregator*> aggregators);
otlp::ebpf::Result<SimulationResult> simulate_into(const sim::SimOptions& options,
                                                   otlp::ebpf::Aggregator& aggregator);

}  // namespace bpftape::testing
