// What `replay`, `convert` and `record` produce once the pipeline has run: the report (text or
// JSON), folded stacks, Chrome trace JSON, OTLP (file, collector, pprof) and the digest. One
// implementation, so a live recording and the replay of its tape describe themselves alike.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/args.h"
#include "core/clock.h"
#include "core/otlp/output.h"
#include "core/pipeline.h"
#include "core/report/report.h"
#include "core/report/trace_json.h"

namespace bpftape::cli {

// The tracers every run feeds. Owned by the command; add_to() hands them to its pipeline.
struct Tracers {
  otlp::ebpf::SyscallAggregator syscalls;
  otlp::ebpf::NetworkAggregator network;
  otlp::ebpf::MemoryAggregator memory;
  otlp::ebpf::CpuAggregator cpu;
  std::unique_ptr<otlp::ebpf::TraceJsonWriter> trace;  // only with --trace-json

  void add_to(otlp::ebpf::Pipeline& pipeline);
};

// Flags: [--json --top N] (when the command prints a report), -f/--force, --folded,
// --trace-json, --digest, and the OTLP flags.
void add_output_options(ArgParser& parser, bool prints_report);

struct OutputRequest {
  bool print_report = false;
  bool json = false;
  size_t top = 10;
  std::optional<std::string> folded;
  std::optional<std::string> trace_json;
  bool digest = false;
  otlp::ebpf::OtlpOutput otlp;
  // --force and the command's inputs (its positional arguments): how every output file is
  // created (core/output_file.h). Copied into otlp.files.
  otlp::ebpf::OutputFileOptions files;

  bool writes_files() const;  // anything besides the report
};
// ConfigError naming the bad flag or output path (checked here, before any work: see
// check_output_path). `print_report`: whether this command prints the report.
otlp::ebpf::Result<OutputRequest> output_request_from(const ParsedArgs& args, bool print_report);
// Opens the --trace-json file (before the run: it streams while events flow).
otlp::ebpf::Result<void> open_outputs(const OutputRequest& request, Tracers& tracers);

// What the run was, for the outputs. Pointers are borrowed for the call.
struct RunFacts {
  otlp::ebpf::RecordingInfo recording;
  otlp::ebpf::PipelineStats pipeline;
  const otlp::ebpf::InternTable* interned = nullptr;
  const otlp::ebpf::ProcessTable* processes = nullptr;
  const otlp::ebpf::Symbolizer* symbolizer = nullptr;
  std::vector<std::string> warnings;
  otlp::ebpf::ClockReference clock;
  uint64_t first_event_ns = 0;
  uint64_t last_event_ns = 0;
  uint32_t sample_hz = 0;
  // Set when the OTLP outputs were streamed during the run (`record`): emit_outputs finishes
  // that stream instead of exporting everything at once.
  otlp::ebpf::OtlpStream* otlp_stream = nullptr;
};

// Writes every requested output and prints the report (stdout) when asked. Errors go to
// stderr prefixed with `command`; returns kExitOk or kExitFailure.
int emit_outputs(const char* command, OutputRequest& request, Tracers& tracers, const RunFacts& facts);

}  // namespace bpftape::cli
