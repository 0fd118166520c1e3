// Folded stacks (Brendan Gregg's flamegraph input): "comm;outer;...;inner count" per line,
// user frames then kernel frames, lines sorted so the file is deterministic. Names come from
// tapes and may hold any bytes: each is printed through terminal_safe (control characters and
// invalid UTF-8 as \xNN, newline as \n, tab as \t, backslash as \\), with ';' replaced by ':'
// and ' ' by '_', so every line has exactly the frames it should and ends in its own count.
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
