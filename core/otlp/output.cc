#include "core/otlp/output.h"

#include <map>
#include <mutex>

#include <fmt/format.h>

#include "core/otlp/pprof.h"
#include "core/serial_worker.h"

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

Result<void> write_file(const std::string& path, std::string_view bytes,
                        const OutputFileOptions& options) {
  BPFTAPE_ASSIGN_OR_RETURN(OutputFile file, OutputFile::create(path, options));
  BPFTAPE_RETURN_IF_ERROR(file.write(bytes));
  return file.finish();
}

// "30 s", "1.5 s", "200 ms"
std::string describe_duration(std::chrono::milliseconds d) {
  return d < std::chrono::seconds(1) ? fmt::format("{} ms", d.count())
                                     : fmt::format("{:g} s", static_cast<double>(d.count()) / 1e3);
}

}  // namespace

void UnsentItems::add(OtlpSignal signal, uint64_t items) {
  ++requests;
  switch (signal) {
    case OtlpSignal::Traces: spans += items; break;
    case OtlpSignal::Metrics: metric_points += items; break;
    case OtlpSignal::Profiles: profile_samples += items; break;
  }
}

std::string describe_unsent(const UnsentItems& unsent) {
  return fmt::format("{} spans, {} metric points, {} profile samples ({} request{})", unsent.spans,
                     unsent.metric_points, unsent.profile_samples, unsent.requests,
                     unsent.requests == 1 ? "" : "s");
}

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

// The collector side of a stream: one worker thread owns the exporter and sends queued
// requests in order. Requests are owned by the queue until sent. Every request that does not
// reach the collector is counted in `unsent`.
struct OtlpStream::Sender {
  struct Request {
    OtlpSignal signal;
    std::unique_ptr<google::protobuf::Message> message;
    uint64_t items;
  };

  static Result<std::unique_ptr<Sender>> start(std::unique_ptr<OtlpHttpExporter> exporter) {
    std::unique_ptr<Sender> sender(new Sender(std::move(exporter)));
    Sender* raw = sender.get();  // the worker is a member: closed before the sender goes
    // A failed request does not stop the ones behind it (each is a whole export); send()
    // keeps the first failure.
    BPFTAPE_ASSIGN_OR_RETURN(
        sender->worker,
        SerialWorker<Request>::start(
            {.capacity = kQueueCapacity, .on_error = SerialWorker<Request>::OnError::Continue},
            [raw](Request& request) { return raw->send(request); }));
    return sender;
  }
  ~Sender() { stop(); }

  // `wait`: block for room (final requests); else drop and count when full. The wait ends:
  // the worker takes a request at least every export deadline (each send is bounded by it).
  void push(Request request, bool wait) {
    const OtlpSignal signal = request.signal;
    const uint64_t items = request.items;
    const bool queued = wait ? worker->push(std::move(request)).has_value() : worker->try_push(request);
    if (queued) return;
    std::lock_guard lock(mutex);
    ++dropped_requests;
    dropped_items += items;
    unsent.add(signal, items);
  }

  // Sends what is queued (or gives it up once the exporter's deadline passed or a stop was
  // asked), then ends the thread. Idempotent.
  void stop() {
    if (worker) (void)worker->close();
  }

  // The worker's handler.
  Result<void> send(Request& request) {
    const uint64_t abandoned_before = exporter->stats().requests_abandoned;
    auto sent = exporter->send(request.signal, *request.message);
    const bool abandoned = exporter->stats().requests_abandoned != abandoned_before;
    std::lock_guard lock(mutex);
    if (sent) return {};
    unsent.add(request.signal, request.items);
    if (abandoned) {
      stopped_by = exporter->gave_up();
    } else if (!first_failure) {
      first_failure = sent.error();
    }
    return {};
  }

  std::unique_ptr<OtlpHttpExporter> exporter;  // used by the worker only until stop()
  std::mutex mutex;  // guards the figures below: the worker and push() both count
  uint64_t dropped_requests = 0;
  uint64_t dropped_items = 0;
  UnsentItems unsent;
  // Why requests were given up (None: none was), and the first request refused or failed.
  ExportStop stopped_by = ExportStop::None;
  std::optional<EbpfError> first_failure;
  std::unique_ptr<SerialWorker<Request>> worker;  // last: its thread uses everything above

 private:
  explicit Sender(std::unique_ptr<OtlpHttpExporter> e) : exporter(std::move(e)) {}
};

OtlpStream::OtlpStream(OtlpOutput output) : output_(std::move(output)) {}

OtlpStream::~OtlpStream() {
  // ~Sender tries what is still queued: within the export deadline, as finish() would.
  if (sender_ && !finished_) {
    sender_->exporter->set_deadline(std::chrono::steady_clock::now() + output_.export_deadline);
  }
}

Result<std::unique_ptr<OtlpStream>> OtlpStream::open(const OtlpOutput& output, bool live_json) {
  std::unique_ptr<OtlpStream> stream(new OtlpStream(output));
  if (!output.json_path.empty()) {
    BPFTAPE_ASSIGN_OR_RETURN(OtlpJsonFileWriter file,
                             OtlpJsonFileWriter::open(output.json_path, output.files, live_json));
    stream->json_.emplace(std::move(file));
  }
  if (!output.endpoint.empty()) {
    HttpExporterConfig config;
    config.endpoint = output.endpoint;
    config.headers = output.headers;
    config.timeout = output.timeout;
    config.max_attempts = output.max_attempts;
    config.stop_requested = output.stop_requested;
    BPFTAPE_ASSIGN_OR_RETURN(auto exporter, OtlpHttpExporter::create(std::move(config)));
    BPFTAPE_ASSIGN_OR_RETURN(stream->sender_, Sender::start(std::move(exporter)));
  }
  return stream;
}

Result<void> OtlpStream::convert_and_send(const RecordingContext& recording,
                                          const AggregatorResults& results, bool final) {
  EbpfOtlpConverter converter;
  converter.with_resource(output_.resource).with_recording(recording);
  if (output_.traces) converter.with_tracer();
  if (output_.metrics) converter.with_meter();
  auto send = [&](OtlpSignal signal, std::unique_ptr<google::protobuf::Message> message,
                  uint64_t items) -> Result<void> {
    if (json_) {
      BPFTAPE_RETURN_IF_ERROR(json_->write(*message));
      report_.json_lines = json_->lines();
    }
    if (sender_) sender_->push({signal, std::move(message), items}, /*wait=*/final);
    return {};
  };
  if (output_.traces) {
    // Intervals: the spans that ended and were not sent; finally, every span not sent yet.
    // Identities can repeat (simulated pid/socket reuse): the k-th occurrence of an identity
    // in aggregator order (which only ever appends) is the same span in every conversion.
    std::map<decltype(SpanKey{}.identity()), uint64_t> seen;
    SpanSelector select = [&](const SpanKey& key) {
      const auto id = key.identity();
      const uint64_t occurrence = seen[id]++;
      uint64_t& sent = exported_spans_[id];
      if (occurrence < sent || !(final || key.ended)) return false;
      ++sent;
      return true;
    };
    // A stream that ends without having sent anything (replay, convert) sends every span:
    // no bookkeeping, nothing follows.
    if (final && exported_spans_.empty()) select = nullptr;
    BPFTAPE_ASSIGN_OR_RETURN(TraceRequest traces, converter.convert_traces(results, select));
    const uint64_t spans = count_items(traces).spans;
    report_.spans += spans;
    if (spans != 0) {  // an empty request is no export: no `{}` line, no empty POST
      BPFTAPE_RETURN_IF_ERROR(
          send(OtlpSignal::Traces, std::make_unique<TraceRequest>(std::move(traces)), spans));
    }
  }
  if (output_.metrics) {
    BPFTAPE_ASSIGN_OR_RETURN(MetricsRequest metrics, converter.convert_metrics(results));
    const uint64_t points = count_items(metrics).metric_points;
    report_.metric_points = points;  // cumulative: the last snapshot counts
    if (points != 0) {
      BPFTAPE_RETURN_IF_ERROR(
          send(OtlpSignal::Metrics, std::make_unique<MetricsRequest>(std::move(metrics)), points));
    }
  }
  return {};
}

Result<void> OtlpStream::export_interval(const RecordingContext& recording,
                                         const AggregatorResults& results) {
  if (finished_) return make_error(ErrorKind::ConfigError, "the OTLP stream is finished");
  return convert_and_send(recording, results, /*final=*/false);
}

Result<OtlpExportReport> OtlpStream::finish(const RecordingContext& recording,
                                            const AggregatorResults& results,
                                            const InternTable* interned,
                                            const ProfileOptions& profile_options) {
  if (finished_) return make_error(ErrorKind::ConfigError, "the OTLP stream is finished");
  finished_ = true;
  // From here on, everything still to send has export_deadline.
  if (sender_) {
    sender_->exporter->set_deadline(std::chrono::steady_clock::now() + output_.export_deadline);
  }
  BPFTAPE_RETURN_IF_ERROR(convert_and_send(recording, results, /*final=*/true));
  const bool want_profile = output_.profiles && results.cpu != nullptr;
  if (want_profile) {
    if (interned == nullptr) {
      return make_error(ErrorKind::ConfigError,
                        "exporting profiles needs the source's InternTable (stack ids)");
    }
    EbpfOtlpConverter converter;
    converter.with_resource(output_.resource).with_recording(recording);
    BPFTAPE_ASSIGN_OR_RETURN(ProfileOutput profile,
                             converter.convert_profile_to_otlp(*results.cpu, *interned,
                                                               results.processes, profile_options));
    report_.profile_samples = profile.samples;
    // The pprof file is written even when empty (it was asked for by name); the OTLP line and
    // request only with samples, like the other signals.
    if (json_ && profile.samples != 0) {
      BPFTAPE_RETURN_IF_ERROR(json_->write(profile.otlp));
      report_.json_lines = json_->lines();
    }
    if (!output_.pprof_path.empty()) {
      BPFTAPE_ASSIGN_OR_RETURN(std::string gz, pprof_gzip(profile.pprof));
      BPFTAPE_RETURN_IF_ERROR(write_file(output_.pprof_path, gz, output_.files));
    }
    if (sender_ && profile.samples != 0) {
      sender_->push({OtlpSignal::Profiles,
                     std::make_unique<ProfilesRequest>(std::move(profile.otlp)), profile.samples},
                    /*wait=*/true);
    }
  }
  if (json_) BPFTAPE_RETURN_IF_ERROR(json_->close());
  if (sender_) {
    sender_->stop();
    report_.exporter = sender_->exporter->stats();
    report_.exporter.dropped_requests += sender_->dropped_requests;
    report_.exporter.dropped_items += sender_->dropped_items;
    report_.unsent = sender_->unsent;
    const ExportStop stopped = sender_->stopped_by;
    if (stopped != ExportStop::None || sender_->first_failure) {
      std::string message =
          stopped == ExportStop::Deadline
              ? fmt::format("OTLP export to {} stopped at its {} deadline (raise it with "
                            "--otlp-timeout)",
                            output_.endpoint, describe_duration(output_.export_deadline))
          : stopped == ExportStop::Signal
              ? fmt::format("OTLP export to {} stopped by SIGINT/SIGTERM", output_.endpoint)
              : sender_->first_failure->message();
      message += "; not sent: " + describe_unsent(report_.unsent);
      if (stopped != ExportStop::None && sender_->first_failure) {
        message += "; before that: " + sender_->first_failure->message();
      }
      return make_error(ErrorKind::Io, std::move(message));
    }
  }
  return report_;
}

Result<OtlpExportReport> export_results(const OtlpOutput& output, const RecordingContext& recording,
                                        const AggregatorResults& results,
                                        const InternTable* interned) {
  // Written whole at the end: a run that fails leaves no partial OTLP/JSON file.
  BPFTAPE_ASSIGN_OR_RETURN(auto stream, OtlpStream::open(output, /*live_json=*/false));
  return stream->finish(recording, results, interned, output.profile);
}

}  // namespace otlp::ebpf
