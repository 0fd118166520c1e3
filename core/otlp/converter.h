// EbpfOtlpConverter: the tracers' aggregations -> OTLP spans, metrics and profiles.
//
// Everything is built from aggregator results (NetworkAggregator connections and requests,
// SyscallAggregator summaries, ...), so a live recording, a replayed tape and a simulation
// convert the same way. Output is a pure function of (configuration, aggregations): timestamps
// come from the recording's ClockReference, ids from the recording id (see ids.h), and every
// list is emitted in the aggregators' deterministic order — converting twice gives
// byte-identical protobuf and JSON.
//
// Resources: one per process (service.name, host.name, os.type, process.*), ascending pid,
// plus one host resource first for host-wide metrics.
//
// The seeds' event-level API (convert_event_to_span / _to_metric / convert_events_batch) is
// kept: the converter then owns its own aggregations, fed one event or batch at a time, and
// event_results() hands them to the same conversion.
#pragma once

#include <cstdint>
#include <functional>
#include <tuple>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/arena.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/event.h"
#include "core/intern_table.h"
#include "core/process_table.h"
#include "core/tracers/cpu_aggregator.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/network_aggregator.h"
#include "core/tracers/syscall_aggregator.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/profiles/v1development/profiles_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "perftools/profiles/profile.pb.h"

namespace otlp::ebpf {

namespace otlp_proto = ::opentelemetry::proto;
using OtlpSpan = otlp_proto::trace::v1::Span;
using TraceRequest = otlp_proto::collector::trace::v1::ExportTraceServiceRequest;
using MetricsRequest = otlp_proto::collector::metrics::v1::ExportMetricsServiceRequest;
using ProfilesRequest = otlp_proto::collector::profiles::v1development::ExportProfilesServiceRequest;
using PprofProfile = ::perftools::profiles::Profile;

// How resources are named. host_name is the recording's host (from the tape), never read from
// the machine doing the conversion, so a replay elsewhere gives the same output.
struct ResourceConfig {
  std::string service_name;  // empty: each process's executable name (else comm)
  std::string host_name;
  bool redact_command_line = false;  // true: process.command_line is never emitted
};

// The recording being converted: identity and time.
struct RecordingContext {
  std::string recording_id;  // any bytes; seeds every trace/span/profile id
  ClockReference clock;      // monotonic -> Unix for every OTLP timestamp
  uint64_t start_ns = 0;     // monotonic: recording start (cumulative metrics' start time;
                             // start of connections already open when it began)
  uint64_t end_ns = 0;       // monotonic: recording end (metric time; end of open spans)
};

// The seeds' Tracer and Meter. In OpenTelemetry both are named by an instrumentation scope;
// giving one to the converter turns that signal's output on.
struct InstrumentationScope {
  std::string name = "bpftape";
  std::string version = BPFTAPE_VERSION;
};

// Read-only views of the aggregations to convert; any may be null (its part is skipped).
// They must outlive the conversion call only.
struct AggregatorResults {
  const ProcessTable* processes = nullptr;
  const NetworkAggregator* network = nullptr;
  const SyscallAggregator* syscalls = nullptr;
  const MemoryAggregator* memory = nullptr;
  const CpuAggregator* cpu = nullptr;
};

// A symbolized stack frame. The symbolizer (from the tape's symbol tables, or a live
// resolver) is optional: without one, profiles carry addresses only, as perf does.
struct ResolvedFrame {
  std::string function;
  std::string file;
  int64_t line = 0;
};
using FrameResolver =
    std::function<std::optional<ResolvedFrame>(uint32_t pid, uint64_t address, bool kernel)>;

struct ProfileOptions {
  uint32_t sample_hz = 99;  // the recording's sampling rate: one sample = 1e9 / hz ns of CPU
  FrameResolver symbolizer;    // may be empty
};

// Both encodings of one CPU profile.
struct ProfileOutput {
  PprofProfile pprof;     // gzip with pprof_gzip() for `go tool pprof`
  ProfilesRequest otlp;   // OTLP profiles signal (v1development)
  uint64_t samples = 0;   // samples converted (sum of sample counts)
};

// Counts of what a conversion produced (benchmarks, reports).
struct ConversionCounts {
  uint64_t spans = 0;
  uint64_t metric_points = 0;
};
ConversionCounts count_items(const TraceRequest& traces);
ConversionCounts count_items(const MetricsRequest& metrics);

// A span's identity across conversions of growing aggregations (live export sends each
// span once, after it ended): a connection is (socket, open time); a request adds its start
// and its position on the connection. `ended`: a closed connection, an answered request (or
// one whose connection closed) — its span will not change any more.
struct SpanKey {
  bool is_request = false;
  uint64_t socket_id = 0;
  uint64_t open_ns = 0;
  uint64_t start_ns = 0;  // requests only
  uint64_t ordinal = 0;   // requests only
  bool ended = false;
  auto identity() const { return std::tuple(is_request, socket_id, open_ns, start_ns, ordinal); }
};
// Which spans a conversion includes; empty: all of them.
using SpanSelector = std::function<bool(const SpanKey&)>;

class EbpfOtlpConverter {
 public:
  // The seeds' new(): no output yet (with_tracer() / with_meter()); resources named per
  // process (ResourceConfig{}) and the recording's clock read now (this machine's live
  // events). Converting a tape or simulation: with_recording() its identity and clock.
  EbpfOtlpConverter();
  ~EbpfOtlpConverter();
  EbpfOtlpConverter(EbpfOtlpConverter&&) noexcept;
  EbpfOtlpConverter& operator=(EbpfOtlpConverter&&) noexcept;

  EbpfOtlpConverter& with_resource(ResourceConfig resource);
  EbpfOtlpConverter& with_recording(RecordingContext recording);
  EbpfOtlpConverter& with_tracer(InstrumentationScope scope = {});  // enables spans
  EbpfOtlpConverter& with_meter(InstrumentationScope scope = {});   // enables metrics

  // The seeds' check: at least one output (tracer or meter) was given.
  bool is_configured() const;

  // ---- From aggregations (what replay/record/simulate use) ----
  // Spans for every TCP connection and HTTP request (or those `select` accepts). ConfigError
  // without a tracer.
  Result<TraceRequest> convert_traces(const AggregatorResults& results,
                                      const SpanSelector& select = {}) const;
  // Metrics for syscalls, network, memory, CPU and HTTP. ConfigError without a meter.
  Result<MetricsRequest> convert_metrics(const AggregatorResults& results) const;
  // The same, allocated on `arena` (which must outlive the result; nullptr: the caller owns
  // it and deletes it). ~1.6x faster for large outputs (bench/otlp): the message tree is
  // allocated from, and freed with, the arena.
  Result<TraceRequest*> convert_traces(const AggregatorResults& results,
                                       google::protobuf::Arena* arena) const;
  Result<MetricsRequest*> convert_metrics(const AggregatorResults& results,
                                          google::protobuf::Arena* arena) const;
  // CPU samples as pprof and as the OTLP profiles signal. Needs resource + recording only.
  Result<ProfileOutput> convert_profile_to_otlp(const CpuAggregator& cpu,
                                                const InternTable& interned,
                                                const ProcessTable* processes,
                                                const ProfileOptions& options) const;

  // The seeds' convert_profile_to_otlp(&PprofProfile): a pprof profile (from a tracer's
  // stop(), or from elsewhere) as the OTLP profiles signal, encoded as the one above encodes
  // its own. `processes` (may be null) names the resources. FormatError for invalid pprof.
  Result<ProfilesRequest> convert_profile_to_otlp(const PprofProfile& profile,
                                                  const ProcessTable* processes = nullptr) const;

  // ---- The seeds' event-level API ----
  // A span for an event that completes one: TcpClose gives its connection's span (role and
  // open time remembered from the TcpConnect/TcpAccept this converter saw, else from the
  // close event's lifetime). Other events give std::nullopt. HTTP request spans need payload
  // parsing across events: they come from convert_traces(event_results()).
  Result<std::optional<OtlpSpan>> convert_event_to_span(const EbpfEvent& event,
                                                        const InternTable& interned);
  // Feeds the event into the converter's own aggregations (read back with event_results()).
  Result<void> convert_event_to_metric(const EbpfEvent& event, const InternTable& interned);
  // Both for a batch: the completed connection spans, and how many events fed a metric.
  Result<std::pair<std::vector<OtlpSpan>, uint64_t>> convert_events_batch(
      std::span<const EbpfEvent> events, const InternTable& interned);
  // The aggregations fed by the event-level calls; valid while the converter lives.
  // `processes` may be given to name resources.
  AggregatorResults event_results(const ProcessTable* processes = nullptr) const;

 private:
  Result<void> require(bool signal_enabled, std::string_view what) const;
  // Profiles have no signal switch of their own: they take the tracer's scope, else the meter's.
  InstrumentationScope profile_scope() const;
  Result<void> build_traces(const AggregatorResults& results, TraceRequest* out,
                            const SpanSelector& select) const;
  Result<void> build_metrics(const AggregatorResults& results, MetricsRequest* out) const;
  struct EventState;

  ResourceConfig resource_;
  RecordingContext recording_;
  std::optional<InstrumentationScope> tracer_;
  std::optional<InstrumentationScope> meter_;
  std::unique_ptr<EventState> events_;  // created on first event-level call
};

}  // namespace otlp::ebpf
