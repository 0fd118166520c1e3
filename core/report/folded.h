// Folded stacks (Brendan Gregg's flamegraph input): "comm;outer;...;inner count" per line,
// user frames then kernel frames, lines sorted so the file is deterministic.
#pragma once

#include <string>

#include "core/intern_table.h"
#include "core/process_table.h"
#include "core/report/symbolizer.h"
#include "core/tracers/cpu_aggregator.h"

namespace otlp::ebpf {

std::string render_folded(const CpuAggregator& cpu, const InternTable& interned,
                          const ProcessTable& processes, const Symbolizer& symbolizer);

}  // namespace otlp::ebpf
