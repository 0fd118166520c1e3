#include "cli/otlp_options.h"

#include <algorithm>

#include <fmt/format.h>

namespace bpftape::cli {

using namespace otlp::ebpf;

void add_otlp_options(ArgParser& parser) {
  parser.option("pprof", 0, "FILE", "write the CPU profile as gzipped pprof (go tool pprof FILE)")
      .option("otlp-file", 0, "FILE", "write OTLP/JSON: one export request per line (traces, metrics, profiles)")
      .option("otlp-endpoint", 0, "URL", "send OTLP/HTTP protobuf to a collector, e.g. http://localhost:4318")
      .option("otlp-header", 0, "K=V", "HTTP header for the collector (repeatable; 'k1=v1,k2=v2' also works)")
      .option("otlp-timeout", 0, "D", "bound on the whole export to the collector, retries "
                                      "included (default 30s); what is not sent by then is "
                                      "reported and the exit status is 1")
      .option("service-name", 0, "NAME", "OTLP service.name (default: each process's executable name)")
      .flag("redact-cmdline", 0, "never export process command lines");
}

Result<OtlpOutput> otlp_output_from(const ParsedArgs& args) {
  OtlpOutput out;
  out.endpoint = args.get("otlp-endpoint").value_or("");
  out.json_path = args.get("otlp-file").value_or("");
  out.pprof_path = args.get("pprof").value_or("");
  out.resource.service_name = args.get("service-name").value_or("");
  out.resource.redact_command_line = args.has("redact-cmdline");
  for (const auto& h : args.all("otlp-header")) {
    auto parsed = parse_otlp_headers(h);
    if (!parsed) {
      return make_error(ErrorKind::ConfigError, "--otlp-header: " + parsed.error().message());
    }
    out.headers.insert(out.headers.end(), parsed->begin(), parsed->end());
  }
  if (!out.headers.empty() && out.endpoint.empty()) {
    return make_error(ErrorKind::ConfigError, "--otlp-header needs --otlp-endpoint");
  }
  if (auto v = args.get("otlp-timeout")) {
    BPFTAPE_ASSIGN_OR_RETURN(uint64_t ns, parse_duration_ns("otlp-timeout", *v));
    constexpr uint64_t kMaxNs = 24ull * 3600 * 1'000'000'000;
    if (ns < 1'000'000 || ns > kMaxNs) {
      return make_error(ErrorKind::ConfigError, "--otlp-timeout: use from 1ms to 24h");
    }
    out.export_deadline = std::chrono::milliseconds(ns / 1'000'000);
    // A single attempt never outlasts the whole export.
    out.timeout = std::min(out.timeout, out.export_deadline);
  }
  return out;
}

bool wants_otlp(const OtlpOutput& output) {
  return !output.endpoint.empty() || !output.json_path.empty() || !output.pprof_path.empty();
}

std::string describe_export(const OtlpOutput& output, const OtlpExportReport& report) {
  std::string out = fmt::format("otlp: {} spans, {} metric points, {} profile samples",
                                report.spans, report.metric_points, report.profile_samples);
  if (!output.json_path.empty()) out += fmt::format("; {} lines to {}", report.json_lines, output.json_path);
  if (!output.endpoint.empty()) {
    const auto& e = report.exporter;
    out += fmt::format("; collector {}: {} requests sent, {} failed, {} retries, {} dropped ({} items), "
                       "{} items rejected",
                       output.endpoint, e.requests_sent, e.requests_failed, e.retries,
                       e.dropped_requests, e.dropped_items, e.rejected_items);
    if (report.unsent.any()) out += "; not sent: " + describe_unsent(report.unsent);
  }
  return out;
}

}  // namespace bpftape::cli
