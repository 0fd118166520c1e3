#include "core/otlp/output.h"

#include <fstream>

#include <fmt/format.h>

#include "core/otlp/pprof.h"

namespace otlp::ebpf {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<void> write_file(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return errno_error(ErrorKind::Io, fmt::format("open {}", path), errno);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) return errno_error(ErrorKind::Io, fmt::format("write {}", path), errno);
  return {};
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> parse_otlp_headers(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view entry = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (trim(entry).empty()) continue;
    size_t eq = entry.find('=');
    std::string_view key = trim(entry.substr(0, eq));
    if (eq == std::string_view::npos || key.empty()) {
      return make_error(ErrorKind::ConfigError,
                        fmt::format("OTLP header '{}' is not key=value (e.g. "
                                    "'authorization=Bearer%20xyz,x-tenant=a')",
                                    trim(entry)));
    }
    std::string_view raw = trim(entry.substr(eq + 1));
    std::string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && hex_digit(raw[i + 1]) >= 0 &&
          hex_digit(raw[i + 2]) >= 0) {
        value += static_cast<char>(hex_digit(raw[i + 1]) * 16 + hex_digit(raw[i + 2]));
        i += 2;
      } else {
        value += raw[i];
      }
    }
    out.emplace_back(std::string(key), std::move(value));
  }
  return out;
}

Result<OtlpExportReport> export_results(const OtlpOutput& output, const RecordingContext& recording,
                                        const AggregatorResults& results,
                                        const InternTable* interned) {
  OtlpExportReport report;
  EbpfOtlpConverter converter;
  converter.with_resource(output.resource).with_recording(recording);
  if (output.traces) converter.with_tracer();
  if (output.metrics) converter.with_meter();

  std::optional<TraceRequest> traces;
  std::optional<MetricsRequest> metrics;
  std::optional<ProfileOutput> profile;
  if (output.traces) {
    BPFTAPE_ASSIGN_OR_RETURN(traces, converter.convert_traces(results));
    report.spans = count_items(*traces).spans;
  }
  if (output.metrics) {
    BPFTAPE_ASSIGN_OR_RETURN(metrics, converter.convert_metrics(results));
    report.metric_points = count_items(*metrics).metric_points;
  }
  const bool want_profile = output.profiles && results.cpu != nullptr;
  if (want_profile) {
    if (interned == nullptr) {
      return make_error(ErrorKind::ConfigError,
                        "exporting profiles needs the source's InternTable (stack ids)");
    }
    BPFTAPE_ASSIGN_OR_RETURN(profile, converter.convert_profile_to_otlp(
                                          *results.cpu, *interned, results.processes,
                                          output.profile));
    report.profile_samples = profile->samples;
  }

  if (!output.json_path.empty()) {
    BPFTAPE_ASSIGN_OR_RETURN(OtlpJsonFileWriter file, OtlpJsonFileWriter::open(output.json_path));
    if (traces) BPFTAPE_RETURN_IF_ERROR(file.write(*traces));
    if (metrics) BPFTAPE_RETURN_IF_ERROR(file.write(*metrics));
    if (profile) BPFTAPE_RETURN_IF_ERROR(file.write(profile->otlp));
    BPFTAPE_RETURN_IF_ERROR(file.close());
    report.json_lines = file.lines();
  }
  if (!output.pprof_path.empty() && profile) {
    BPFTAPE_ASSIGN_OR_RETURN(std::string gz, pprof_gzip(profile->pprof));
    BPFTAPE_RETURN_IF_ERROR(write_file(output.pprof_path, gz));
  }
  if (!output.endpoint.empty()) {
    HttpExporterConfig config;
    config.endpoint = output.endpoint;
    config.headers = output.headers;
    config.timeout = output.timeout;
    config.max_attempts = output.max_attempts;
    BPFTAPE_ASSIGN_OR_RETURN(auto exporter, OtlpHttpExporter::create(std::move(config)));
    std::optional<EbpfError> first;
    auto send = [&](OtlpSignal s, const google::protobuf::Message& m) {
      if (auto r = exporter->send(s, m); !r && !first) first = std::move(r).error();
    };
    if (traces) send(OtlpSignal::Traces, *traces);
    if (metrics) send(OtlpSignal::Metrics, *metrics);
    if (profile) send(OtlpSignal::Profiles, profile->otlp);
    report.exporter = exporter->stats();
    if (first) return std::unexpected(std::move(*first));
  }
  return report;
}

}  // namespace otlp::ebpf
