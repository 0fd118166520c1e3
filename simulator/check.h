// The --check oracles: run a simulation through the normal pipeline and compare everything the
// pipeline reports with the ground truth.
#pragma once

#include <string>
#include <vector>

#include "core/pipeline.h"
#include "simulator/sim_options.h"
#include "simulator/world.h"

namespace bpftape::sim {

struct CheckReport {
  std::vector<std::string> failures;  // empty: every oracle agreed
  WorldStats world;
  otlp::ebpf::PipelineStats pipeline;
  uint64_t emitted = 0;
  uint64_t dropped = 0;
  uint64_t delivered = 0;
  double seconds = 0;  // real time the run took
  bool ok() const { return failures.empty(); }
  // One paragraph for people: counts, losses, late events, and each failure.
  std::string summary() const;
};

// `options` must be finalize()d.
CheckReport run_check(const SimOptions& options);

}  // namespace bpftape::sim
