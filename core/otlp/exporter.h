// Exporters: OTLP/HTTP (`http/protobuf`) to a collector, and OTLP/JSON lines to a file (the
// collector file exporter's format: one export request per line).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>

#include "core/error.h"
#include "core/output_file.h"

namespace otlp::ebpf {

enum class OtlpSignal : uint8_t { Traces, Metrics, Profiles };
std::string_view signal_name(OtlpSignal signal);  // "traces", "metrics", "profiles"

struct HttpExporterConfig {
  // Base URL, e.g. "http://localhost:4318"; the signal's path is appended (as with
  // OTEL_EXPORTER_OTLP_ENDPOINT). http:// or https:// only.
  std::string endpoint;
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request
  std::chrono::milliseconds timeout{10'000};                 // per attempt, connect included
  int max_attempts = 5;                                      // first try + retries
  std::chrono::milliseconds initial_backoff{500};            // doubles per retry ...
  std::chrono::milliseconds max_backoff{5'000};              // ... up to this
  std::chrono::milliseconds max_retry_after{30'000};  // a server's Retry-After is honoured up to this
  size_t queue_capacity = 64;  // requests held by enqueue() until flush()
  bool gzip = true;            // Content-Encoding: gzip
  std::string traces_path = "/v1/traces";
  std::string metrics_path = "/v1/metrics";
  // The collector's OTLP receiver serves the development profiles signal here.
  std::string profiles_path = "/v1development/profiles";
  // Borrowed, may be null; must outlive the exporter. Non-zero (a SIGINT/SIGTERM arrived:
  // cli/stop_signals.h) makes every send give up within ~100 ms: a transfer in progress is
  // aborted, a backoff cut short, later requests are not tried.
  const std::atomic<int>* stop_requested = nullptr;
};

// Why sends are being given up before delivery.
enum class ExportStop : uint8_t {
  None,
  Deadline,  // the deadline set with OtlpHttpExporter::set_deadline passed
  Signal,    // HttpExporterConfig::stop_requested became non-zero
};

// What the exporter did; nothing it gave up on goes uncounted.
struct ExporterStats {
  uint64_t requests_sent = 0;     // accepted by the collector (2xx)
  uint64_t requests_failed = 0;   // gave up: non-retryable status, or attempts exhausted
  uint64_t retries = 0;           // attempts beyond the first
  uint64_t dropped_requests = 0;  // refused by enqueue() because the queue was full
  uint64_t dropped_items = 0;     // spans / data points / samples in those requests
  uint64_t rejected_items = 0;    // the collector's partial_success rejected count
  uint64_t requests_abandoned = 0;  // given up unsent: the deadline passed or a stop was asked
};

// Not thread-safe: one owner thread sends, enqueues and flushes (the recorder's export thread,
// or the replayer's main thread). Owns one libcurl easy handle, reused across requests so
// connections are kept alive.
class OtlpHttpExporter {
 public:
  // ConfigError for an unusable configuration (bad URL scheme, zero attempts, header syntax).
  static Result<std::unique_ptr<OtlpHttpExporter>> create(HttpExporterConfig config);
  ~OtlpHttpExporter();
  OtlpHttpExporter(const OtlpHttpExporter&) = delete;
  OtlpHttpExporter& operator=(const OtlpHttpExporter&) = delete;

  // POSTs one export request now, retrying as configured. `request` is an
  // Export{Trace,Metrics,Profiles}ServiceRequest matching `signal`. Returns within ~100 ms of
  // the deadline or of a stop request (an Io error, counted in requests_abandoned).
  Result<void> send(OtlpSignal signal, const google::protobuf::Message& request);
  // Holds a request for flush(). Returns false, and counts the request and its `items` as
  // dropped, when the queue already holds queue_capacity requests.
  bool enqueue(OtlpSignal signal, const google::protobuf::Message& request, uint64_t items);
  // Sends the queued requests oldest first. Every request is tried; the first error is
  // returned (the others are counted in stats().requests_failed).
  Result<void> flush();

  size_t queued() const { return queue_.size(); }
  const ExporterStats& stats() const { return stats_; }
  const HttpExporterConfig& config() const { return config_; }

  // Every send must end by `deadline`: one in progress then is aborted (within ~100 ms), a
  // backoff that would end after it is not waited, later requests are not tried; each is
  // counted in requests_abandoned. Thread-safe: another thread may be sending meanwhile.
  void set_deadline(std::chrono::steady_clock::time_point deadline);
  // Why the first request given up (requests_abandoned) was given up; None while none was.
  // Read it on the sending thread, like stats().
  ExportStop gave_up() const { return gave_up_; }

 private:
  struct Queued {
    OtlpSignal signal;
    std::string body;  // serialized, uncompressed
    uint64_t items;
  };
  struct Curl;
  OtlpHttpExporter(HttpExporterConfig config, std::unique_ptr<Curl> curl);
  Result<void> post(OtlpSignal signal, const std::string& body);
  // Why sends must be given up now (None while they need not). Thread-safe.
  ExportStop stop_reason() const;
  // Counts the request as abandoned; the error says why and what the last attempt got.
  std::unexpected<EbpfError> abandon(OtlpSignal signal, const std::string& url, ExportStop why,
                                     const std::string& last_problem);

  HttpExporterConfig config_;
  std::unique_ptr<Curl> curl_;
  // steady_clock time since its epoch, in its ticks; max: no deadline.
  std::atomic<std::chrono::steady_clock::rep> deadline_{
      std::chrono::steady_clock::time_point::max().time_since_epoch().count()};
  std::deque<Queued> queue_;
  ExporterStats stats_;
  ExportStop gave_up_ = ExportStop::None;
};

// OTLP/JSON lines, written through OutputFile (core/output_file.h: never over an input of the
// run, over an existing file only with `options.overwrite`, never through a planted symlink;
// mode 0600: the lines hold command lines). Each write() appends one request and a newline and
// flushes. `live`: the file is at its destination from open() on, so a reader (or a crash)
// sees whole lines as they are written (a recording's stream); otherwise it appears whole at
// close(), and a run that fails before leaves nothing. The destructor without close() discards
// an unpublished file.
class OtlpJsonFileWriter {
 public:
  static Result<OtlpJsonFileWriter> open(const std::string& path, const OutputFileOptions& options,
                                         bool live);
  Result<void> write(const google::protobuf::Message& request);
  // Flushes, syncs and closes the file and publishes it, reporting a failed final write (e.g.
  // disk full).
  Result<void> close();
  uint64_t lines() const { return lines_; }

 private:
  OtlpJsonFileWriter(OutputFile file, std::FILE* stream)
      : file_(std::move(file)), stream_(stream) {}
  OutputFile file_;
  std::FILE* stream_;  // owned by file_; null after close()
  uint64_t lines_ = 0;
  std::string scratch_;
};

}  // namespace otlp::ebpf
