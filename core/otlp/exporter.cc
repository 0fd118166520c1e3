#include "core/otlp/exporter.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include <curl/curl.h>
#include <fmt/format.h>

#include "core/otlp/converter.h"
#include "core/otlp/otlp_json.h"
#include "core/otlp/pprof.h"

namespace otlp::ebpf {

std::string_view signal_name(OtlpSignal signal) {
  switch (signal) {
    case OtlpSignal::Traces: return "traces";
    case OtlpSignal::Metrics: return "metrics";
    case OtlpSignal::Profiles: return "profiles";
  }
  return "unknown";
}

namespace {

// libcurl requires curl_global_init before any handle and once per process. A function-local
// static is the one piece of process-wide state here: it initialises on first use, thread-safely
// (C++ magic statics), and is never torn down (curl_global_cleanup at exit is optional).
bool curl_ready() {
  static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ok;
}

constexpr size_t kMaxResponseBody = 64 * 1024;  // enough for a Status or partial_success

std::string printable(std::string_view bytes, size_t limit = 200) {
  std::string out;
  for (char c : bytes.substr(0, limit)) out += (c >= 0x20 && c < 0x7f) ? c : '.';
  if (bytes.size() > limit) out += "...";
  return out;
}

bool retryable_status(long status) {
  // OTLP/HTTP: 429, 502, 503, 504 are transient; everything else is final.
  return status == 429 || status == 502 || status == 503 || status == 504;
}

bool retryable_curl(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return true;
    default:
      return false;
  }
}

// The partial_success rejected count of a 2xx response, when the body decodes as one.
uint64_t rejected_items(OtlpSignal signal, const std::string& body) {
  if (body.empty()) return 0;
  switch (signal) {
    case OtlpSignal::Traces: {
      otlp_proto::collector::trace::v1::ExportTraceServiceResponse r;
      return r.ParseFromString(body) ? r.partial_success().rejected_spans() : 0;
    }
    case OtlpSignal::Metrics: {
      otlp_proto::collector::metrics::v1::ExportMetricsServiceResponse r;
      return r.ParseFromString(body) ? r.partial_success().rejected_data_points() : 0;
    }
    case OtlpSignal::Profiles: {
      otlp_proto::collector::profiles::v1development::ExportProfilesServiceResponse r;
      return r.ParseFromString(body) ? r.partial_success().rejected_profiles() : 0;
    }
  }
  return 0;
}

struct Response {
  std::string body;
  std::optional<std::chrono::milliseconds> retry_after;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  size_t bytes = size * n;
  size_t room = kMaxResponseBody - std::min(kMaxResponseBody, r->body.size());
  r->body.append(data, std::min(bytes, room));
  return bytes;  // keep reading: a larger body is truncated, not an error
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() &&
      std::equal(kName.begin(), kName.end(), line.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    std::string_view v = line.substr(kName.size());
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    // Only the delay-seconds form: an HTTP-date would need the wall clock (and falls back to
    // the exponential backoff).
    uint64_t seconds = 0;
    size_t digits = 0;
    while (digits < v.size() && digits < 9 && v[digits] >= '0' && v[digits] <= '9') {
      seconds = seconds * 10 + static_cast<uint64_t>(v[digits] - '0');
      ++digits;
    }
    if (digits > 0) r->retry_after = std::chrono::seconds(seconds);
  }
  return size * n;
}

}  // namespace

// RAII owner of the easy handle and the header list (freed with the exporter).
struct OtlpHttpExporter::Curl {
  struct EasyDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
  };
  struct ListDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
  };
  std::unique_ptr<CURL, EasyDeleter> easy;
  std::unique_ptr<curl_slist, ListDeleter> headers;
  char error[CURL_ERROR_SIZE] = {};
};

Result<std::unique_ptr<OtlpHttpExporter>> OtlpHttpExporter::create(HttpExporterConfig config) {
  while (!config.endpoint.empty() && config.endpoint.back() == '/') config.endpoint.pop_back();
  if (!config.endpoint.starts_with("http://") && !config.endpoint.starts_with("https://")) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("OTLP endpoint '{}' is not an http:// or https:// URL "
                                  "(e.g. http://localhost:4318)",
                                  config.endpoint));
  }
  if (config.max_attempts < 1 || config.timeout.count() <= 0 || config.queue_capacity == 0) {
    return make_error(ErrorKind::ConfigError,
                      "OTLP exporter needs max_attempts >= 1, a positive timeout and a queue "
                      "capacity >= 1");
  }
  std::unique_ptr<Curl> curl = std::make_unique<Curl>();
  auto append = [&](const std::string& line) -> bool {
    curl_slist* l = curl_slist_append(curl->headers.get(), line.c_str());
    if (l == nullptr) return false;
    curl->headers.release();  // curl_slist_append returned the (same or new) list head
    curl->headers.reset(l);
    return true;
  };
  bool ok = append("Content-Type: application/x-protobuf") &&
            // Without this curl sends "Expect: 100-continue" for bodies > 1 KiB and waits up
            // to a second for a reply that many collectors' proxies never send.
            append("Expect:") && (!config.gzip || append("Content-Encoding: gzip"));
  for (const auto& [key, value] : config.headers) {
    if (key.empty() || key.find_first_of(":\r\n ") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return make_error(ErrorKind::ConfigError,
                        fmt::format("OTLP header '{}' is not a valid HTTP header name/value "
                                    "(use key=value, no ':' or line breaks)",
                                    key));
    }
    ok = ok && append(fmt::format("{}: {}", key, value));
  }
  if (!ok || !curl_ready()) {
    return make_error(ErrorKind::Io, "libcurl initialisation failed (out of memory?)");
  }
  curl->easy.reset(curl_easy_init());
  if (!curl->easy) return make_error(ErrorKind::Io, "curl_easy_init failed (out of memory?)");
  return std::unique_ptr<OtlpHttpExporter>(new OtlpHttpExporter(std::move(config), std::move(curl)));
}

OtlpHttpExporter::OtlpHttpExporter(HttpExporterConfig config, std::unique_ptr<Curl> curl)
    : config_(std::move(config)), curl_(std::move(curl)) {}

OtlpHttpExporter::~OtlpHttpExporter() = default;

Result<void> OtlpHttpExporter::send(OtlpSignal signal, const google::protobuf::Message& request) {
  return post(signal, serialize_deterministic(request));
}

bool OtlpHttpExporter::enqueue(OtlpSignal signal, const google::protobuf::Message& request,
                               uint64_t items) {
  if (queue_.size() >= config_.queue_capacity) {
    ++stats_.dropped_requests;
    stats_.dropped_items += items;
    return false;
  }
  queue_.push_back({signal, serialize_deterministic(request), items});
  return true;
}

Result<void> OtlpHttpExporter::flush() {
  std::optional<EbpfError> first;
  while (!queue_.empty()) {
    Queued q = std::move(queue_.front());
    queue_.pop_front();
    if (auto r = post(q.signal, q.body); !r && !first) first = std::move(r).error();
  }
  if (first) return std::unexpected(std::move(*first));
  return {};
}

Result<void> OtlpHttpExporter::post(OtlpSignal signal, const std::string& raw) {
  const std::string& path = signal == OtlpSignal::Traces    ? config_.traces_path
                            : signal == OtlpSignal::Metrics ? config_.metrics_path
                                                            : config_.profiles_path;
  const std::string url = config_.endpoint + path;
  std::string compressed;
  if (config_.gzip) {
    BPFTAPE_ASSIGN_OR_RETURN(compressed, gzip_compress(raw));
  }
  const std::string& body = config_.gzip ? compressed : raw;

  CURL* h = curl_->easy.get();
  std::string last_problem;
  for (int attempt = 1; attempt <= config_.max_attempts; ++attempt) {
    if (attempt > 1) ++stats_.retries;
    Response response;
    curl_easy_reset(h);  // options from the previous request must not leak into this one
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM from resolver timeouts
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, curl_->headers.get());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_->error);
    curl_->error[0] = '\0';

    CURLcode rc = curl_easy_perform(h);
    bool retry = false;
    if (rc == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      if (status >= 200 && status < 300) {
        ++stats_.requests_sent;
        stats_.rejected_items += rejected_items(signal, response.body);
        return {};
      }
      last_problem = fmt::format("HTTP {} ({})", status, printable(response.body));
      retry = retryable_status(status);
      if (!retry) {
        ++stats_.requests_failed;
        return make_error(ErrorKind::Io,
                          fmt::format("OTLP export of {} to {} was refused: {}; the collector "
                                      "will not accept this request, retrying cannot help",
                                      signal_name(signal), url, last_problem));
      }
    } else {
      last_problem = fmt::format("{} ({})", curl_easy_strerror(rc),
                                 curl_->error[0] != '\0' ? curl_->error : "no detail");
      retry = retryable_curl(rc);
      if (!retry) {
        ++stats_.requests_failed;
        return make_error(ErrorKind::Io, fmt::format("OTLP export of {} to {} failed: {}",
                                                     signal_name(signal), url, last_problem));
      }
    }
    if (attempt == config_.max_attempts) break;
    // Exponential backoff, or the server's Retry-After (bounded so a misbehaving server cannot
    // stall the exporter indefinitely).
    auto backoff = std::min(config_.initial_backoff * (int64_t{1} << std::min(attempt - 1, 20)),
                            config_.max_backoff);
    if (response.retry_after) backoff = std::min(*response.retry_after, config_.max_retry_after);
    std::this_thread::sleep_for(backoff);
  }
  ++stats_.requests_failed;
  return make_error(ErrorKind::Io,
                    fmt::format("OTLP export of {} to {} failed after {} attempts: {}; check "
                                "that the collector is running and the endpoint is right",
                                signal_name(signal), url, config_.max_attempts, last_problem));
}

// ---------------------------------------------------------------- file

Result<OtlpJsonFileWriter> OtlpJsonFileWriter::open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return errno_error(ErrorKind::Io, fmt::format("open {}", path), errno);
  return OtlpJsonFileWriter(path, f);
}

Result<void> OtlpJsonFileWriter::write(const google::protobuf::Message& request) {
  if (!file_) {
    return make_error(ErrorKind::Io, fmt::format("write to {} after close()", path_));
  }
  scratch_.clear();
  append_otlp_json(request, &scratch_);
  scratch_ += '\n';
  if (std::fwrite(scratch_.data(), 1, scratch_.size(), file_.get()) != scratch_.size() ||
      std::fflush(file_.get()) != 0) {
    return errno_error(ErrorKind::Io, fmt::format("write {}", path_), errno);
  }
  ++lines_;
  return {};
}

Result<void> OtlpJsonFileWriter::close() {
  if (!file_) return {};
  std::FILE* f = file_.release();
  if (std::fclose(f) != 0) return errno_error(ErrorKind::Io, fmt::format("close {}", path_), errno);
  return {};
}

}  // namespace otlp::ebpf
