#include "cli/outputs.h"

#include <cstdio>
#include <fstream>
#include <utility>
#include <iterator>

#include <fmt/format.h>

#include "cli/otlp_options.h"
#include "core/report/folded.h"
#include "core/sha256.h"

namespace bpftape::cli {

using namespace otlp::ebpf;

namespace {

Result<void> write_file(const std::string& path, const std::string& content,
                        const OutputFileOptions& options) {
  BPFTAPE_ASSIGN_OR_RETURN(OutputFile file, OutputFile::create(path, options));
  BPFTAPE_RETURN_IF_ERROR(file.write(content));
  return file.finish();
}

}  // namespace

void Tracers::add_to(Pipeline& pipeline) {
  for (Aggregator* a : std::initializer_list<Aggregator*>{&syscalls, &network, &memory, &cpu}) {
    pipeline.add_aggregator(*a);
  }
  if (trace) pipeline.add_aggregator(*trace);
}

void add_output_options(ArgParser& parser, bool prints_report) {
  if (prints_report) {
    parser.flag("json", 0, "print the report as one JSON object")
        .option("top", 0, "N", "rows per report table (default 10)");
  }
  parser.flag("force", 'f', "replace output files that already exist (never an input)")
      .option("folded", 0, "FILE", "write CPU stacks in folded format (flamegraph.pl input)")
      .option("trace-json", 0, "FILE", "write Chrome trace-event JSON (Perfetto UI, chrome://tracing)")
      .flag("digest", 0, "print one SHA-256 over every result (report JSON and output files)");
  add_otlp_options(parser);
}

bool OutputRequest::writes_files() const {
  return folded || trace_json || wants_otlp(otlp);
}

Result<OutputRequest> output_request_from(const ParsedArgs& args, bool print_report) {
  OutputRequest request;
  request.print_report = print_report;
  request.json = args.has("json");
  if (auto v = args.get("top")) {
    BPFTAPE_ASSIGN_OR_RETURN(uint64_t n, parse_uint("top", *v, 1, 100000));
    request.top = n;
  }
  request.folded = args.get("folded");
  request.trace_json = args.get("trace-json");
  request.digest = args.has("digest");
  BPFTAPE_ASSIGN_OR_RETURN(request.otlp, otlp_output_from(args));
  // The positional arguments of the commands that write outputs are their input tapes.
  request.files.overwrite = args.has("force");
  request.files.inputs = args.positionals();
  request.otlp.files = request.files;
  // Refuse bad output paths now, not after a long run: two outputs on one path, an input, an
  // existing file without --force, a planted symlink, a missing directory.
  std::vector<std::pair<const char*, std::string>> paths;
  if (request.folded) paths.emplace_back("--folded", *request.folded);
  if (request.trace_json) paths.emplace_back("--trace-json", *request.trace_json);
  if (!request.otlp.pprof_path.empty()) paths.emplace_back("--pprof", request.otlp.pprof_path);
  if (!request.otlp.json_path.empty()) paths.emplace_back("--otlp-file", request.otlp.json_path);
  for (size_t i = 0; i < paths.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (paths[i].second == paths[j].second) {
        return make_error(ErrorKind::ConfigError, fmt::format("{} and {} name the same file {}",
                                                              paths[j].first, paths[i].first,
                                                              paths[i].second));
      }
    }
    if (auto ok = check_output_path(paths[i].second, request.files); !ok) {
      return make_error(ErrorKind::ConfigError,
                        fmt::format("{}: {}", paths[i].first, ok.error().message()));
    }
  }
  return request;
}

Result<void> open_outputs(const OutputRequest& request, Tracers& tracers) {
  // Connections and requests are kept one by one only for the outputs that list them (OTLP
  // spans, trace slices): the report and the metrics need totals, and keeping every request
  // would make a replay's memory grow with the tape.
  const bool exports_spans =
      request.otlp.traces && (!request.otlp.endpoint.empty() || !request.otlp.json_path.empty());
  tracers.network.set_keep_completed(exports_spans || request.trace_json.has_value());
  if (request.trace_json) {
    BPFTAPE_ASSIGN_OR_RETURN(tracers.trace, TraceJsonWriter::open(*request.trace_json, request.files));
  }
  return {};
}

int emit_outputs(const char* command, OutputRequest& request, Tracers& tracers, const RunFacts& facts) {
  int status = kExitOk;
  auto failed = [&](const std::string& what) {
    std::fprintf(stderr, "%s: %s\n", command, what.c_str());
    status = kExitFailure;
  };
  if (request.folded) {
    auto folded = render_folded(tracers.cpu, *facts.interned, *facts.processes, *facts.symbolizer);
    if (auto r = write_file(*request.folded, folded, request.files); !r) failed(r.error().message());
  }
  if (tracers.trace) {
    if (auto r = tracers.trace->finish(&tracers.network, *facts.processes); !r) failed(r.error().message());
  }
  if (wants_otlp(request.otlp)) {
    request.otlp.resource.host_name = facts.recording.hostname;
    request.otlp.profile.sample_hz = facts.sample_hz;
    const Symbolizer& symbolizer = *facts.symbolizer;
    request.otlp.profile.symbolizer = [&symbolizer](uint32_t pid, uint64_t address,
                                                    bool) -> std::optional<ResolvedFrame> {
      Frame f = symbolizer.resolve(pid, address);
      if (!f.symbolized) return std::nullopt;  // the converter keeps the address
      return ResolvedFrame{f.function, f.module, 0};
    };
    RecordingContext recording{facts.recording.recording_id, facts.clock, facts.first_event_ns,
                               facts.last_event_ns};
    AggregatorResults results{facts.processes, &tracers.network, &tracers.syscalls,
                              &tracers.memory, &tracers.cpu};
    auto exported = facts.otlp_stream != nullptr
                        ? facts.otlp_stream->finish(recording, results, facts.interned,
                                                    request.otlp.profile)
                        : export_results(request.otlp, recording, results, facts.interned);
    if (!exported) {
      failed("otlp: " + exported.error().message());
    } else {
      std::fprintf(stderr, "%s: %s\n", command, describe_export(request.otlp, *exported).c_str());
      if (exported->exporter.requests_failed || exported->exporter.dropped_requests) status = kExitFailure;
    }
  }
  ReportInputs inputs;
  inputs.recording = facts.recording;
  inputs.pipeline = facts.pipeline;
  inputs.syscalls = &tracers.syscalls;
  inputs.network = &tracers.network;
  inputs.memory = &tracers.memory;
  inputs.cpu = &tracers.cpu;
  inputs.interned = facts.interned;
  inputs.processes = facts.processes;
  inputs.symbolizer = facts.symbolizer;
  inputs.warnings = facts.warnings;
  inputs.top = request.top;
  if (request.print_report) {
    std::string out = request.json ? render_report_json(inputs) : render_report_text(inputs);
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  if (request.digest) {
    // One hash over everything this run produced, in a fixed order; file contents, not names.
    Sha256 digest;
    ReportInputs placeless = inputs;  // the digest must not depend on where the input lies
    placeless.recording.source = "tape";
    digest.update(render_report_json(placeless));
    const std::string files[] = {request.folded.value_or(""), request.trace_json.value_or(""),
                                 request.otlp.pprof_path, request.otlp.json_path};
    const char* labels[] = {"folded", "trace-json", "pprof", "otlp-file"};
    for (size_t i = 0; i < std::size(files); ++i) {
      if (files[i].empty()) continue;
      std::ifstream in(files[i], std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      digest.update(labels[i]);
      digest.update_u64(bytes.size());
      digest.update(bytes);
    }
    std::printf("digest: sha256:%s\n", Sha256::hex(digest.finish()).c_str());
  }
  return status;
}

}  // namespace bpftape::cli
