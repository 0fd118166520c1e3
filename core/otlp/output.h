// The one call the replayer, recorder and simulator make: convert a set of aggregations and
// send them where the user asked (collector, OTLP/JSON file, pprof file).
//
//   OtlpOutput out{.endpoint = "http://localhost:4318", .json_path = "run.otlp.jsonl"};
//   RecordingContext rec{.recording_id = tape.recording_id(), .clock = tape.clock(),
//                        .start_ns = first_event_ns, .end_ns = last_event_ns};
//   AggregatorResults agg{&processes, &network, &syscalls, &memory, &cpu};
//   auto report = export_results(out, rec, agg, &interned);  // Result<OtlpExportReport>
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/output_file.h"
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
  OutputFileOptions files;  // how json_path and pprof_path are created (core/output_file.h)
  // Bound on one run's whole export (every request, retries and backoff included); what is
  // not sent by then is reported as not sent (--otlp-timeout).
  std::chrono::milliseconds export_deadline{30'000};
  // When set and non-zero (a SIGINT/SIGTERM arrived: cli/stop_signals.h), the export stops within
  // a second and reports what was not sent. Borrowed; must outlive the export.
  const std::atomic<int>* stop_requested = nullptr;
  ResourceConfig resource;  // service.name (empty: process name), host.name, redaction
  bool traces = true, metrics = true, profiles = true;
  ProfileOptions profile;   // sample rate and symbolizer for the CPU profile
};

// What never reached the collector: requests refused, failed after their retries, dropped
// from a full queue, or given up at the export deadline or on a stop request, and the items in
// them.
struct UnsentItems {
  uint64_t requests = 0;
  uint64_t spans = 0;
  uint64_t metric_points = 0;
  uint64_t profile_samples = 0;

  void add(OtlpSignal signal, uint64_t items);
  bool any() const { return requests != 0; }
};
// "4 spans, 26 metric points, 6 profile samples (3 requests)"
std::string describe_unsent(const UnsentItems& unsent);

// What was produced and delivered. Exporter figures are what the report prints: requests
// refused or dropped are counted here, never silently lost.
struct OtlpExportReport {
  uint64_t spans = 0;
  uint64_t metric_points = 0;
  uint64_t profile_samples = 0;
  uint64_t json_lines = 0;
  ExporterStats exporter;
  UnsentItems unsent;  // to the collector
};

// Export as a stream: while a recording runs, export_interval() sends what is final so far —
// the spans that ended since the last call (each span exactly once) and the cumulative metrics
// as of the recording context's end — and finish() sends the rest: spans still open, the final
// metrics, the profile and the pprof file. Conversion runs on the caller's thread (it reads the
// aggregations, which the caller owns and keeps mutating between calls); requests reach the
// collector from a sender thread owned by the stream, through a bounded queue, so a slow or
// absent collector never stalls the caller: interval requests that find the queue full are
// dropped and counted, finish() waits for room. The OTLP/JSON file is created by open() and
// gets one line per request as it is made (with `live_json`, visible at its name from the
// start; otherwise it appears whole at finish()).
//
// finish() bounds the rest of the export by output.export_deadline: requests, retries and
// backoff included; what is not delivered by then is given up and reported as not sent (an
// error naming the counts). output.stop_requested becoming non-zero does the same at once
// (within ~100 ms), during the stream or at its end.
class OtlpStream {
 public:
  static Result<std::unique_ptr<OtlpStream>> open(const OtlpOutput& output, bool live_json = true);
  // Stops the sender; requests still queued are tried first (finish() or not), within
  // export_deadline when finish() was not called.
  ~OtlpStream();
  OtlpStream(const OtlpStream&) = delete;
  OtlpStream& operator=(const OtlpStream&) = delete;

  Result<void> export_interval(const RecordingContext& recording, const AggregatorResults& results);
  // `interned` is needed only for profiles (stack ids); may be null otherwise. `profile`:
  // sample rate and symbolizer, known only at the end of a recording. The report covers the
  // whole stream. After finish() the stream accepts nothing more. An Io error when requests
  // failed or were given up: it says why and what was not sent (describe_unsent).
  Result<OtlpExportReport> finish(const RecordingContext& recording,
                                  const AggregatorResults& results, const InternTable* interned,
                                  const ProfileOptions& profile);

  static constexpr size_t kQueueCapacity = 64;  // requests waiting for the collector

 private:
  explicit OtlpStream(OtlpOutput output);
  struct Sender;
  Result<void> convert_and_send(const RecordingContext& recording, const AggregatorResults& results,
                                bool final);

  OtlpOutput output_;
  std::optional<OtlpJsonFileWriter> json_;
  std::unique_ptr<Sender> sender_;  // with an endpoint only
  // Spans sent, per identity (SpanKey::identity); see convert_and_send.
  std::map<decltype(SpanKey{}.identity()), uint64_t> exported_spans_;
  OtlpExportReport report_;
  bool finished_ = false;
};

// Converts the aggregations and exports them. With an endpoint, each signal is one request;
// a failed request does not stop the others, and the first error is returned after all were
// tried or the export deadline passed, with what was not sent (report figures are lost with
// it: call again for them, or export to a file).
// `interned` is needed only for profiles (stack ids); may be null otherwise.
Result<OtlpExportReport> export_results(const OtlpOutput& output, const RecordingContext& recording,
                                        const AggregatorResults& results,
                                        const InternTable* interned);

// OTEL_EXPORTER_OTLP_HEADERS syntax: "k1=v1,k2=v2", values percent-decoded, blanks around
// keys and values trimmed. ConfigError naming the bad entry otherwise.
Result<std::vector<std::pair<std::string, std::string>>> parse_otlp_headers(std::string_view text);

}  // namespace otlp::ebpf
