// Exporters: OTLP/HTTP (`http/protobuf`) to a collector, and OTLP/JSON lines to a file (the
// collector file exporter's format: one export request per line).
#pragma once

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
};

// What the exporter did; nothing it gave up on goes uncounted.
struct ExporterStats {
  uint64_t requests_sent = 0;     // accepted by the collector (2xx)
  uint64_t requests_failed = 0;   // gave up: non-retryable status, or attempts exhausted
  uint64_t retries = 0;           // attempts beyond the first
  uint64_t dropped_requests = 0;  // refused by enqueue() because the queue was full
  uint64_t dropped_items = 0;     // spans / data points / samples in those requests
  uint64_t rejected_items = 0;    // the collector's partial_success rejected count
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
  // Export{Trace,Metrics,Profiles}ServiceRequest matching `signal`.
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

 private:
  struct Queued {
    OtlpSignal signal;
    std::string body;  // serialized, uncompressed
    uint64_t items;
  };
  struct Curl;
  OtlpHttpExporter(HttpExporterConfig config, std::unique_ptr<Curl> curl);
  Result<void> post(OtlpSignal signal, const std::string& body);

  HttpExporterConfig config_;
  std::unique_ptr<Curl> curl_;
  std::deque<Queued> queue_;
  ExporterStats stats_;
};

// OTLP/JSON lines. The file is created (truncated) by open() and closed by the destructor
// or close(); each write() appends one request and a newline and flushes, so a reader (or a
// crash) sees whole lines only.
class OtlpJsonFileWriter {
 public:
  static Result<OtlpJsonFileWriter> open(const std::string& path);
  Result<void> write(const google::protobuf::Message& request);
  // Closes the file, reporting a failed final flush (e.g. disk full).
  Result<void> close();
  uint64_t lines() const { return lines_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  OtlpJsonFileWriter(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
  uint64_t lines_ = 0;
  std::string scratch_;
};

}  // namespace otlp::ebpf
