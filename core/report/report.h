// The report `bpftape replay` (and, live, `bpftape record --report`) prints: the same inputs
// give the same bytes, whichever source produced them. Text for people, JSON for machines,
// both built from one set of computed rows so they cannot disagree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/intern_table.h"
#include "core/pipeline.h"
#include "core/process_table.h"
#include "core/report/symbolizer.h"
#include "core/tracers/cpu_aggregator.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/network_aggregator.h"
#include "core/tracers/syscall_aggregator.h"

namespace otlp::ebpf {

struct RecordingInfo {
  std::string source;          // "tape prod.bpftape", "simulation seed 7", "live"
  std::string hostname;
  std::string kernel_release;
  std::string recording_id;
};

// Everything a report reads. Pointers are not owned and must outlive the call.
struct ReportInputs {
  RecordingInfo recording;
  PipelineStats pipeline;
  const SyscallAggregator* syscalls = nullptr;
  const NetworkAggregator* network = nullptr;
  const MemoryAggregator* memory = nullptr;
  const CpuAggregator* cpu = nullptr;
  const InternTable* interned = nullptr;
  const ProcessTable* processes = nullptr;
  const Symbolizer* symbolizer = nullptr;
  std::vector<std::string> warnings;  // e.g. "truncated at byte X: ..."
  size_t top = 10;                    // rows per table
};

std::string render_report_text(const ReportInputs& inputs);
// One JSON object, newline-terminated.
std::string render_report_json(const ReportInputs& inputs);

// "1.2us", "3.45ms", "2.00s": 3 significant digits.
std::string format_duration_ns(uint64_t ns);
// "512 B", "1.5 KiB", "3.2 MiB", "1.1 GiB".
std::string format_bytes(uint64_t bytes);

// Names a stack innermost-first as "leaf <- caller <- ..." (at most `depth` frames).
std::string describe_stack(const InternTable& interned, const Symbolizer& symbolizer, uint32_t pid,
                           StackId stack, size_t depth);

}  // namespace otlp::ebpf
