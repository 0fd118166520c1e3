#include "core/otlp/exporter.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>

#include <curl/curl.h>
#include <fmt/format.h>

#include "core/otlp/converter.h"
#include "core/otlp/otlp_json.h"
#include "core/otlp/pprof.h"
#include "core/utf8.h"

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
// Longest wait inside a send (a poll of the transfer, a slice of backoff): how soon a stop
// request or the deadline is noticed.
constexpr std::chrono::milliseconds kWaitSlice{100};

using Clock = std::chrono::steady_clock;

// Bytes from the collector, safe to print on a terminal (terminal_safe, the one escaper of
// untrusted text) and bounded to `limit` input bytes.
std::string printable(std::string_view bytes, size_t limit = 200) {
  std::string out = terminal_safe(bytes.substr(0, limit));
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
  std::string reason;  // the status line's reason phrase ("Too Many Requests"), printable
  std::string body;
  std::optional<std::chrono::milliseconds> retry_after;
};

// "HTTP 500 Internal Server Error, body: '...'" or "HTTP 500, no body".
std::string describe_response(long status, const Response& r) {
  std::string out = fmt::format("HTTP {}", status);
  if (!r.reason.empty()) out += " " + r.reason;
  out += r.body.empty() ? std::string(", no body")
                        : fmt::format(", body: '{}'", printable(r.body));
  return out;
}

// What to do about a request that stayed undelivered after every attempt: the last status
// says whether the collector is there at all (0: no HTTP answer).
std::string advice(long status, const std::optional<std::chrono::milliseconds>& retry_after) {
  if (status == 429) {
    return fmt::format(
        "the collector is running but throttling this exporter ({}): retry later, export less "
        "at once, or raise the collector's rate limits",
        retry_after
            ? fmt::format("it asked to wait {} s before retrying, in Retry-After",
                          std::chrono::duration_cast<std::chrono::seconds>(*retry_after).count())
            : std::string("it sent no Retry-After"));
  }
  if (status != 0) {
    return "the collector (or a proxy in front of it) answers but is unavailable: check its "
           "health and logs";
  }
  return "check that the collector is running and the endpoint is right";
}

// Runs the transfer set up on `easy` through `multi`, waiting at most kWaitSlice at a time so
// that `abort` is asked at least every 100 ms (curl_easy_perform can block for a second between
// progress callbacks). CURLE_ABORTED_BY_CALLBACK when `abort` said so.
CURLcode perform(CURLM* multi, CURL* easy, const std::function<bool()>& abort) {
  if (curl_multi_add_handle(multi, easy) != CURLM_OK) return CURLE_OUT_OF_MEMORY;
  CURLcode result = CURLE_OK;
  for (;;) {
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) {
      result = CURLE_OUT_OF_MEMORY;
      break;
    }
    int left = 0;
    bool done = false;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg == CURLMSG_DONE && m->easy_handle == easy) {
        result = m->data.result;
        done = true;
      }
    }
    if (done) break;
    if (running == 0) {  // ended without a result: cannot happen, but must not loop
      result = CURLE_GOT_NOTHING;
      break;
    }
    if (abort()) {
      result = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(kWaitSlice.count()), nullptr);
  }
  curl_multi_remove_handle(multi, easy);
  return result;
}

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
  if (line.starts_with("HTTP/")) {
    // A status line ("HTTP/1.1 429 Too Many Requests"): a new response begins (after a 100
    // Continue or a redirect, the last one counts).
    *r = Response{};
    size_t code = line.find(' ');
    size_t reason = code == std::string_view::npos ? code : line.find(' ', code + 1);
    if (reason != std::string_view::npos) {
      std::string_view phrase = line.substr(reason + 1);
      while (!phrase.empty() && (phrase.back() == '\r' || phrase.back() == '\n')) {
        phrase.remove_suffix(1);
      }
      r->reason = printable(phrase, 60);
    }
    return size * n;
  }
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
  struct MultiDeleter {
    void operator()(CURLM* m) const { curl_multi_cleanup(m); }
  };
  std::unique_ptr<CURL, EasyDeleter> easy;
  // Drives `easy` (perform()); holds the connection cache, so connections are kept alive.
  std::unique_ptr<CURLM, MultiDeleter> multi;
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
  curl->multi.reset(curl_multi_init());
  if (!curl->easy || !curl->multi) {
    return make_error(ErrorKind::Io, "curl_easy_init failed (out of memory?)");
  }
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

void OtlpHttpExporter::set_deadline(Clock::time_point deadline) {
  deadline_.store(deadline.time_since_epoch().count());
}

ExportStop OtlpHttpExporter::stop_reason() const {
  if (config_.stop_requested != nullptr && config_.stop_requested->load() != 0) {
    return ExportStop::Signal;
  }
  if (Clock::now().time_since_epoch().count() >= deadline_.load()) return ExportStop::Deadline;
  return ExportStop::None;
}

std::unexpected<EbpfError> OtlpHttpExporter::abandon(OtlpSignal signal, const std::string& url,
                                                     ExportStop why,
                                                     const std::string& last_problem) {
  ++stats_.requests_abandoned;
  if (gave_up_ == ExportStop::None) gave_up_ = why;
  return make_error(
      ErrorKind::Io,
      fmt::format("OTLP export of {} to {} given up unsent: {}{}", signal_name(signal), url,
                  why == ExportStop::Signal ? "stopped by SIGINT/SIGTERM"
                                            : "the export deadline passed",
                  last_problem.empty() ? std::string() : "; last attempt: " + last_problem));
}

Result<void> OtlpHttpExporter::post(OtlpSignal signal, const std::string& raw) {
  const std::string& path = signal == OtlpSignal::Traces    ? config_.traces_path
                            : signal == OtlpSignal::Metrics ? config_.metrics_path
                                                            : config_.profiles_path;
  const std::string url = config_.endpoint + path;
  if (ExportStop why = stop_reason(); why != ExportStop::None) return abandon(signal, url, why, "");
  std::string compressed;
  if (config_.gzip) {
    BPFTAPE_ASSIGN_OR_RETURN(compressed, gzip_compress(raw));
  }
  const std::string& body = config_.gzip ? compressed : raw;

  CURL* h = curl_->easy.get();
  std::string last_problem;
  long last_status = 0;  // of the last answer; 0: the last attempt got no HTTP answer
  std::optional<std::chrono::milliseconds> last_retry_after;
  const auto stop = [this] { return stop_reason() != ExportStop::None; };
  for (int attempt = 1; attempt <= config_.max_attempts; ++attempt) {
    if (ExportStop why = stop_reason(); why != ExportStop::None) {
      return abandon(signal, url, why, last_problem);
    }
    if (attempt > 1) ++stats_.retries;
    // No attempt outlives the deadline: curl's own timeout ends it there too.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        Clock::time_point(Clock::duration(deadline_.load())) - Clock::now());
    const auto timeout = std::max(std::min(config_.timeout, left), std::chrono::milliseconds(1));
    Response response;
    curl_easy_reset(h);  // options from the previous request must not leak into this one
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM from resolver timeouts
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, curl_->headers.get());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_->error);
    curl_->error[0] = '\0';

    CURLcode rc = perform(curl_->multi.get(), h, stop);
    if (rc == CURLE_ABORTED_BY_CALLBACK ||
        (rc == CURLE_OPERATION_TIMEDOUT && stop_reason() != ExportStop::None)) {
      return abandon(signal, url, stop_reason(),
                     last_problem.empty() ? "the collector had not answered" : last_problem);
    }
    bool retry = false;
    if (rc == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      if (status >= 200 && status < 300) {
        ++stats_.requests_sent;
        stats_.rejected_items += rejected_items(signal, response.body);
        return {};
      }
      last_problem = describe_response(status, response);
      last_status = status;
      last_retry_after = response.retry_after;
      retry = retryable_status(status);
      if (!retry) {
        ++stats_.requests_failed;
        return make_error(
            ErrorKind::Io,
            fmt::format("OTLP export of {} to {} was refused: {}; {}", signal_name(signal), url,
                        last_problem,
                        status >= 500 ? "the collector failed on it (see its logs); OTLP/HTTP "
                                        "retries only 429, 502, 503 and 504"
                                      : "the collector will not accept this request, retrying "
                                        "cannot help"));
      }
    } else {
      last_problem = fmt::format("{} ({})", curl_easy_strerror(rc),
                                 curl_->error[0] != '\0' ? curl_->error : "no detail");
      last_status = 0;
      last_retry_after.reset();
      retry = retryable_curl(rc);
      if (!retry) {
        ++stats_.requests_failed;
        return make_error(ErrorKind::Io, fmt::format("OTLP export of {} to {} failed: {}",
                                                     signal_name(signal), url, last_problem));
      }
    }
    if (attempt == config_.max_attempts) break;
    // Exponential backoff, or the server's Retry-After (bounded so a misbehaving server cannot
    // stall the exporter indefinitely). A retry that would come after the deadline is not
    // waited for.
    auto backoff = std::min(config_.initial_backoff * (int64_t{1} << std::min(attempt - 1, 20)),
                            config_.max_backoff);
    if (response.retry_after) backoff = std::min(*response.retry_after, config_.max_retry_after);
    const auto retry_at = Clock::now() + backoff;
    if (retry_at.time_since_epoch().count() >= deadline_.load()) {
      return abandon(signal, url, ExportStop::Deadline, last_problem);
    }
    for (auto now = Clock::now(); now < retry_at && !stop(); now = Clock::now()) {
      std::this_thread::sleep_until(std::min(retry_at, now + kWaitSlice));
    }
  }
  ++stats_.requests_failed;
  return make_error(ErrorKind::Io,
                    fmt::format("OTLP export of {} to {} failed after {} attempts: {}; {}",
                                signal_name(signal), url, config_.max_attempts, last_problem,
                                advice(last_status, last_retry_after)));
}

// ---------------------------------------------------------------- file

Result<OtlpJsonFileWriter> OtlpJsonFileWriter::open(const std::string& path,
                                                    const OutputFileOptions& options, bool live) {
  BPFTAPE_ASSIGN_OR_RETURN(OutputFile file, OutputFile::create(path, options));
  if (live) BPFTAPE_RETURN_IF_ERROR(file.publish());
  BPFTAPE_ASSIGN_OR_RETURN(std::FILE* stream, file.stream());
  return OtlpJsonFileWriter(std::move(file), stream);
}

Result<void> OtlpJsonFileWriter::write(const google::protobuf::Message& request) {
  if (stream_ == nullptr) {
    return make_error(ErrorKind::Io, fmt::format("write to {} after close()", file_.path()));
  }
  scratch_.clear();
  append_otlp_json(request, &scratch_);
  scratch_ += '\n';
  if (std::fwrite(scratch_.data(), 1, scratch_.size(), stream_) != scratch_.size() ||
      std::fflush(stream_) != 0) {
    return errno_error(ErrorKind::Io, fmt::format("write {}", file_.path()), errno);
  }
  ++lines_;
  return {};
}

Result<void> OtlpJsonFileWriter::close() {
  if (stream_ == nullptr) return {};
  stream_ = nullptr;
  return file_.finish();
}

}  // namespace otlp::ebpf
