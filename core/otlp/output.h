// The one call the replayer, recorder and simulator make: convert a set of aggregations and
// send them where the user asked (collector, OTLP/JSON file, pprof file).
//
//   OtlpOutput out{.endpoint = "http://localhost:4318", .json_path = "run.otlp.jsonl"};
//   RecordingContext rec{.recording_id = tape.recording_id(), .clock = tape.clock(),
//                        .start_ns = first_event_ns, .end_ns = last_event_ns};
//   AggregatorResults agg{&processes, &network, &syscalls, &memory, &cpu};
//   auto report = export_results(out, rec, agg, &interned);  // Result<OtlpExportReport>
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/otlp/converter.h"
#include "core/otlp/exporter.h"

namespace otlp::ebpf {

struct OtlpOutput {
  std::string endpoint;  // OTLP/HTTP base URL; empty: no collector
  std::vector<std::pair<std::string, std::string>> headers;  // see parse_otlp_headers
  std::chrono::milliseconds timeout{10'000};
  int max_attempts = 5;
  std::string json_path;   // OTLP/JSON lines file; empty: none
  std::string pprof_path;  // gzipped pprof of the CPU samples; empty: none
  ResourceConfig resource;  // service.name (empty: process name), host.name, redaction
  bool traces = true, metrics = true, profiles = true;
  ProfileOptions profile;   // sample rate and symbolizer for the CPU profile
};

// What was produced and delivered. Exporter figures are what the report prints: requests
// refused or dropped are counted here, never silently lost.
struct OtlpExportReport {
  uint64_t spans = 0;
  uint64_t metric_points = 0;
  uint64_t profile_samples = 0;
  uint64_t json_lines = 0;
  ExporterStats exporter;
};

// Converts the aggregations and exports them. With an endpoint, each signal is one request;
// a failed request does not stop the others, and the first error is returned after all were
// tried (report figures are lost with it: call again for them, or export to a file).
// `interned` is needed only for profiles (stack ids); may be null otherwise.
Result<OtlpExportReport> export_results(const OtlpOutput& output, const RecordingContext& recording,
                                        const AggregatorResults& results,
                                        const InternTable* interned);

// OTEL_EXPORTER_OTLP_HEADERS syntax: "k1=v1,k2=v2", values percent-decoded, blanks around
// keys and values trimmed. ConfigError naming the bad entry otherwise.
Result<std::vector<std::pair<std::string, std::string>>> parse_otlp_headers(std::string_view text);

}  // namespace otlp::ebpf
