#include "core/otlp/converter.h"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "core/otlp/ids.h"
#include "core/otlp/pprof.h"
#include "core/otlp/resource.h"
#include "core/tracers/http_parser.h"
#include "core/tracers/syscall_names.h"

namespace otlp::ebpf {

using detail::attr_bool;
using detail::attr_int;
using detail::attr_str;
using detail::KeyValues;
namespace trace_pb = otlp_proto::trace::v1;
namespace metrics_pb = otlp_proto::metrics::v1;

namespace {

// ---------------------------------------------------------------- spans

std::string_view transport_name(NetProtocol p) {
  switch (p) {
    case NetProtocol::Tcp: return "tcp";
    case NetProtocol::Udp: return "udp";
    case NetProtocol::Unknown: break;
  }
  return "unknown";
}

struct Addresses {
  std::string local, peer;
  std::string_view type;  // network.type
};

std::optional<Addresses> addresses(const Connection& c) {
  if (!c.endpoints) return std::nullopt;
  const SocketEndpoints& e = *c.endpoints;
  return Addresses{SocketEndpoints::format_address(e.family, e.local),
                   SocketEndpoints::format_address(e.family, e.remote),
                   e.family == SocketEndpoints::kInet6 ? "ipv6" : "ipv4"};
}

// Peer/local plus the server/client view of the same pair: a client's peer is the server, a
// server's peer is the client (OpenTelemetry's server.* / client.* conventions).
void add_endpoint_attributes(KeyValues* kv, const Connection& c, ConnectionRole role) {
  auto a = addresses(c);
  if (a) {
    attr_str(kv, "network.type", a->type);
    attr_str(kv, "network.local.address", a->local);
    attr_str(kv, "network.peer.address", a->peer);
  }
  attr_int(kv, "network.local.port", c.local_port);
  attr_int(kv, "network.peer.port", c.remote_port);
  if (role == ConnectionRole::Client) {
    if (a) attr_str(kv, "server.address", a->peer);
    attr_int(kv, "server.port", c.remote_port);
  } else if (role == ConnectionRole::Server) {
    if (a) attr_str(kv, "server.address", a->local);
    attr_int(kv, "server.port", c.local_port);
    if (a) attr_str(kv, "client.address", a->peer);
    attr_int(kv, "client.port", c.remote_port);
  }
}

trace_pb::Span::SpanKind span_kind(ConnectionRole role) {
  switch (role) {
    case ConnectionRole::Client: return trace_pb::Span::SPAN_KIND_CLIENT;
    case ConnectionRole::Server: return trace_pb::Span::SPAN_KIND_SERVER;
    case ConnectionRole::Unknown: break;
  }
  return trace_pb::Span::SPAN_KIND_INTERNAL;
}

// A connection that was open when the recording started/ended spans to the recording's edge.
uint64_t span_start(const Connection& c, const RecordingContext& r) {
  return c.open_ns != 0 ? c.open_ns : r.start_ns;
}
uint64_t span_end(const Connection& c, const RecordingContext& r) {
  return std::max(c.close_ns != 0 ? c.close_ns : r.end_ns, span_start(c, r));
}

void fill_connection_span(const Connection& c, const ConnectionIds& ids, const RecordingContext& r,
                          trace_pb::Span* s) {
  s->set_trace_id(id_bytes(ids.trace_id));
  s->set_span_id(id_bytes(ids.span_id));
  switch (c.role) {
    case ConnectionRole::Client: s->set_name("tcp connect"); break;
    case ConnectionRole::Server: s->set_name("tcp accept"); break;
    case ConnectionRole::Unknown: s->set_name("tcp connection"); break;
  }
  s->set_kind(span_kind(c.role));
  s->set_start_time_unix_nano(r.clock.to_unix_ns(span_start(c, r)));
  s->set_end_time_unix_nano(r.clock.to_unix_ns(span_end(c, r)));
  auto* kv = s->mutable_attributes();
  attr_str(kv, "network.transport", transport_name(c.protocol));
  add_endpoint_attributes(kv, c, c.role);
  if (c.app_protocol == AppProtocol::Http1) attr_str(kv, "network.protocol.name", "http");
  if (c.app_protocol == AppProtocol::Http2) {
    attr_str(kv, "network.protocol.name", "http");
    attr_str(kv, "network.protocol.version", "2");
  }
  // Socket ids are 64-bit cookies; as hex text they survive the int64 attribute type intact.
  attr_str(kv, "bpftape.socket.id", fmt::format("{:#x}", c.socket_id));
  attr_int(kv, "bpftape.network.bytes_sent", static_cast<int64_t>(c.bytes_sent));
  attr_int(kv, "bpftape.network.bytes_received", static_cast<int64_t>(c.bytes_received));
  attr_int(kv, "bpftape.tcp.retransmits", static_cast<int64_t>(c.retransmits));
  if (c.open_ns == 0) attr_bool(kv, "bpftape.connection.opened_before_recording", true);
  if (c.close_ns == 0) attr_bool(kv, "bpftape.connection.open_at_end", true);
}

// `conn` are the ids of the owning connection `c` (computed once per connection: SHA-256 is
// the costliest part of a span), or of (socket, open 0) when no connection owns the request.
void fill_request_span(const HttpRequest& q, const Connection* c, const ConnectionIds& conn,
                       uint64_t ordinal, const RecordingContext& r, trace_pb::Span* s) {
  uint64_t open_ns = c != nullptr ? c->open_ns : 0;
  s->set_trace_id(id_bytes(conn.trace_id));
  s->set_span_id(id_bytes(request_span_id(r.recording_id, q.socket_id, open_ns, q.start_ns,
                                          ordinal)));
  // The request is a child of its connection's span (which exists whenever `c` does).
  if (c != nullptr) s->set_parent_span_id(id_bytes(conn.span_id));
  // Semantic conventions: "{method} {http.route}" only where a low-cardinality route is known;
  // the kernel sees raw paths ("/item/17"), so the name is the method and the path an attribute.
  s->set_name(to_valid_utf8(q.method));
  s->set_kind(span_kind(q.role));
  uint64_t end = q.end_ns;
  if (end == 0) end = c != nullptr ? span_end(*c, r) : r.end_ns;  // no response seen
  s->set_start_time_unix_nano(r.clock.to_unix_ns(q.start_ns));
  s->set_end_time_unix_nano(r.clock.to_unix_ns(std::max(end, q.start_ns)));
  auto* kv = s->mutable_attributes();
  attr_str(kv, "http.request.method", q.method);
  attr_str(kv, "url.path", q.path);
  if (q.status != 0) attr_int(kv, "http.response.status_code", q.status);
  attr_str(kv, "network.protocol.name", "http");
  attr_str(kv, "network.transport", "tcp");
  if (c != nullptr) add_endpoint_attributes(kv, *c, q.role);
  attr_int(kv, "thread.id", q.tid);
  // Sizes as the kernel saw them: headers + body, both directions (semconv http.*.size); left
  // out when no byte of that direction was seen (unknown, not zero).
  if (q.request_bytes != 0) attr_int(kv, "http.request.size", static_cast<int64_t>(q.request_bytes));
  if (q.response_bytes != 0) attr_int(kv, "http.response.size", static_cast<int64_t>(q.response_bytes));
  if (q.status == 0) attr_bool(kv, "bpftape.http.response_missing", true);
  // Semantic conventions: 5xx is an error for servers, 4xx and 5xx for clients.
  bool error = q.status >= 500 || (q.role == ConnectionRole::Client && q.status >= 400);
  if (error) {
    attr_str(kv, "error.type", std::to_string(q.status));
    s->mutable_status()->set_code(trace_pb::Status::STATUS_CODE_ERROR);
  }
}

// ---------------------------------------------------------------- metrics

// Builds one ScopeMetrics; every data point shares the recording's window.
class MetricSet {
 public:
  MetricSet(metrics_pb::ScopeMetrics* scope, const RecordingContext& r)
      : scope_(scope),
        start_(r.clock.to_unix_ns(r.start_ns)),
        time_(r.clock.to_unix_ns(std::max(r.end_ns, r.start_ns))) {}

  metrics_pb::Metric* metric(std::string_view name, std::string_view unit,
                             std::string_view description) {
    auto* m = scope_->add_metrics();
    m->set_name(std::string(name));
    m->set_unit(std::string(unit));
    m->set_description(std::string(description));
    return m;
  }
  // A cumulative counter since the recording started.
  metrics_pb::Sum* counter(std::string_view name, std::string_view unit, std::string_view desc) {
    auto* sum = metric(name, unit, desc)->mutable_sum();
    sum->set_aggregation_temporality(metrics_pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
    sum->set_is_monotonic(true);
    return sum;
  }
  metrics_pb::NumberDataPoint* point(google::protobuf::RepeatedPtrField<metrics_pb::NumberDataPoint>* points,
                                     int64_t value) {
    auto* p = points->Add();
    p->set_start_time_unix_nano(start_);
    p->set_time_unix_nano(time_);
    p->set_as_int(value);
    return p;
  }
  metrics_pb::NumberDataPoint* gauge_point(metrics_pb::Gauge* gauge, int64_t value) {
    auto* p = point(gauge->mutable_data_points(), value);
    p->clear_start_time_unix_nano();  // gauges are instantaneous
    return p;
  }
  metrics_pb::HistogramDataPoint* histogram_point(metrics_pb::Histogram* h) {
    auto* p = h->add_data_points();
    p->set_start_time_unix_nano(start_);
    p->set_time_unix_nano(time_);
    return p;
  }

 private:
  metrics_pb::ScopeMetrics* scope_;
  uint64_t start_;
  uint64_t time_;
};

// LatencyHistogram (integer ns, bucket i = [lb(i), lb(i+1))) -> explicit bounds in seconds.
// For integers, [lb(i), lb(i+1)) is [lb(i), lb(i+1) - 1], so OTLP's upper-inclusive bound
// (lb(i+1) - 1) ns describes exactly the same bucket: no values move.
void fill_latency(const LatencyHistogram& h, metrics_pb::HistogramDataPoint* p) {
  const auto& buckets = h.buckets();
  p->set_count(h.count());
  p->set_sum(static_cast<double>(h.sum()) / 1e9);
  p->set_min(static_cast<double>(h.min()) / 1e9);
  p->set_max(static_cast<double>(h.max()) / 1e9);
  for (size_t i = 0; i < buckets.size(); ++i) {
    p->add_bucket_counts(buckets[i]);
    if (i + 1 < buckets.size()) {
      p->add_explicit_bounds(static_cast<double>(LatencyHistogram::lower_bound(i + 1) - 1) / 1e9);
    }
  }
}

// OpenTelemetry's recommended bounds for http.*.request.duration (seconds).
// What one process contributed, gathered from every aggregator before emitting.
struct ProcessMetrics {
  std::vector<SyscallSummary> syscalls;
  ProcessNetwork network;
  bool has_network = false;
  uint64_t outstanding_bytes = 0, outstanding_allocations = 0;
  bool has_memory = false;
  uint64_t cpu_samples = 0;
};

std::string_view role_name(ConnectionRole role) {
  switch (role) {
    case ConnectionRole::Client: return "client";
    case ConnectionRole::Server: return "server";
    case ConnectionRole::Unknown: break;
  }
  return "unknown";
}

void emit_process_metrics(const ProcessMetrics& pm, MetricSet& set) {
  if (!pm.syscalls.empty()) {
    auto* count = set.counter("bpftape.syscall.count", "{syscall}", "Completed system calls");
    for (const auto& s : pm.syscalls) {
      attr_str(set.point(count->mutable_data_points(), static_cast<int64_t>(s.count))
                   ->mutable_attributes(),
               "bpftape.syscall.name", syscall_display_name(s.nr));
    }
    auto* errors = set.counter("bpftape.syscall.errors", "{syscall}",
                               "System calls that returned an error (-4095..-1)");
    for (const auto& s : pm.syscalls) {
      attr_str(set.point(errors->mutable_data_points(), static_cast<int64_t>(s.errors))
                   ->mutable_attributes(),
               "bpftape.syscall.name", syscall_display_name(s.nr));
    }
    auto* hist = set.metric("bpftape.syscall.duration", "s", "System call duration, entry to exit")
                     ->mutable_histogram();
    hist->set_aggregation_temporality(metrics_pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
    for (const auto& s : pm.syscalls) {
      auto* p = set.histogram_point(hist);
      attr_str(p->mutable_attributes(), "bpftape.syscall.name", syscall_display_name(s.nr));
      fill_latency(s.latency, p);
    }
  }
  if (pm.has_network) {
    auto* io = set.counter("process.network.io", "By", "Bytes moved over sockets");
    attr_str(set.point(io->mutable_data_points(), static_cast<int64_t>(pm.network.bytes_sent))
                 ->mutable_attributes(),
             "network.io.direction", "transmit");
    attr_str(set.point(io->mutable_data_points(), static_cast<int64_t>(pm.network.bytes_received))
                 ->mutable_attributes(),
             "network.io.direction", "receive");
    auto* conns = set.counter("bpftape.network.connections", "{connection}",
                              "Connections seen (opened, or open when the recording started)");
    for (const auto& [key, n] : pm.network.connections) {
      auto* kv = set.point(conns->mutable_data_points(), static_cast<int64_t>(n))
                     ->mutable_attributes();
      attr_str(kv, "network.transport", transport_name(key.second));
      attr_str(kv, "bpftape.connection.role", role_name(key.first));
    }
    auto* retx = set.counter("bpftape.tcp.retransmits", "{segment}", "TCP retransmissions");
    set.point(retx->mutable_data_points(), static_cast<int64_t>(pm.network.retransmits));
  }
  for (ConnectionRole role : {ConnectionRole::Server, ConnectionRole::Client}) {
    metrics_pb::Histogram* hist = nullptr;
    for (const auto& [key, d] : pm.network.http) {
      if (std::get<0>(key) != role) continue;
      if (hist == nullptr) {
        hist = set.metric(role == ConnectionRole::Server ? "http.server.request.duration"
                                                         : "http.client.request.duration",
                          "s", "HTTP request line to response status line")
                   ->mutable_histogram();
        hist->set_aggregation_temporality(metrics_pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
      }
      auto* p = set.histogram_point(hist);
      attr_str(p->mutable_attributes(), "http.request.method", std::get<1>(key));
      attr_int(p->mutable_attributes(), "http.response.status_code", std::get<2>(key));
      p->set_count(d.count);
      p->set_sum(d.sum);
      p->set_min(d.min);
      p->set_max(d.max);
      for (double b : kHttpDurationBounds) p->add_explicit_bounds(b);
      for (uint64_t c : d.buckets) p->add_bucket_counts(c);
    }
  }
  if (pm.has_memory) {
    auto* g = set.metric("bpftape.process.memory.outstanding", "By",
                         "Bytes allocated and not freed at the end of the recording")
                  ->mutable_gauge();
    set.gauge_point(g, static_cast<int64_t>(pm.outstanding_bytes));
    auto* n = set.metric("bpftape.process.memory.outstanding_allocations", "{allocation}",
                         "Allocations not freed at the end of the recording")
                  ->mutable_gauge();
    set.gauge_point(n, static_cast<int64_t>(pm.outstanding_allocations));
  }
  if (pm.cpu_samples != 0) {
    auto* s = set.counter("bpftape.cpu.samples", "{sample}", "On-CPU samples (perf cpu-clock)");
    set.point(s->mutable_data_points(), static_cast<int64_t>(pm.cpu_samples));
  }
}

// Host-wide figures that no process owns. Returns false when there is nothing to emit.
bool emit_host_metrics(const AggregatorResults& a, MetricSet& set) {
  bool any = false;
  if (a.memory != nullptr) {
    MemoryStats m = a.memory->stats();
    if (m.allocations != 0 || m.frees != 0 || m.unmatched_frees != 0) {
      any = true;
      auto* allocs = set.counter("bpftape.memory.allocations", "{allocation}",
                                 "Allocations traced (malloc, calloc, realloc, mmap)");
      set.point(allocs->mutable_data_points(), static_cast<int64_t>(m.allocations));
      auto* frees = set.counter("bpftape.memory.frees", "{allocation}",
                                "Frees that matched a traced allocation");
      set.point(frees->mutable_data_points(), static_cast<int64_t>(m.frees));
      auto* allocated = set.counter("bpftape.memory.allocated", "By", "Bytes allocated");
      set.point(allocated->mutable_data_points(), static_cast<int64_t>(m.total_allocated));
      auto* freed = set.counter("bpftape.memory.freed", "By", "Bytes freed");
      set.point(freed->mutable_data_points(), static_cast<int64_t>(m.total_freed));
      auto* out = set.metric("bpftape.memory.outstanding", "By",
                             "Bytes allocated and not freed at the end of the recording")
                      ->mutable_gauge();
      set.gauge_point(out, static_cast<int64_t>(m.active_bytes));
      auto* unmatched = set.counter("bpftape.memory.unmatched_frees", "{free}",
                                    "Frees of addresses allocated before the recording");
      set.point(unmatched->mutable_data_points(), static_cast<int64_t>(m.unmatched_frees));
    }
  }
  if (a.network != nullptr) {
    const NetworkStats& n = a.network->stats();
    if (n.http_requests_not_kept != 0) {
      // The aggregator kept at most kMaxKeptRequests requests (and spans for them); say how
      // many more there were rather than lose them silently.
      any = true;
      auto* lost = set.counter("bpftape.http.requests_not_kept", "{request}",
                               "HTTP requests counted but not kept for spans (limit reached)");
      set.point(lost->mutable_data_points(), static_cast<int64_t>(n.http_requests_not_kept));
    }
    if (n.udp_sessions != 0) {
      any = true;
      auto* udp = set.counter("bpftape.network.udp_sessions", "{socket}",
                              "UDP sockets that moved data");
      set.point(udp->mutable_data_points(), static_cast<int64_t>(n.udp_sessions));
    }
  }
  if (a.cpu != nullptr) {
    if (uint64_t idle = a.cpu->stats().idle_samples; idle != 0) {
      any = true;
      auto* s = set.counter("bpftape.cpu.idle_samples", "{sample}",
                            "CPU samples that found the CPU idle (pid 0)");
      set.point(s->mutable_data_points(), static_cast<int64_t>(idle));
    }
  }
  return any;
}

const ProcessInfo* process_info(const ProcessTable* table, uint32_t pid) {
  return table != nullptr ? table->latest(pid) : nullptr;
}

}  // namespace

// ---------------------------------------------------------------- counts

ConversionCounts count_items(const TraceRequest& traces) {
  ConversionCounts c;
  for (const auto& rs : traces.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) c.spans += ss.spans_size();
  }
  return c;
}

ConversionCounts count_items(const MetricsRequest& metrics) {
  ConversionCounts c;
  for (const auto& rm : metrics.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) {
      for (const auto& m : sm.metrics()) {
        c.metric_points += m.sum().data_points_size() + m.gauge().data_points_size() +
                           m.histogram().data_points_size();
      }
    }
  }
  return c;
}

// ---------------------------------------------------------------- converter

// What the seeds' event-level calls accumulate.
struct EbpfOtlpConverter::EventState {
  // Connections open so far, tracked from the events the converter saw, exactly as
  // NetworkAggregator tracks them, so a span built here equals the one convert_traces builds.
  std::map<uint64_t, Connection> open;
  SyscallAggregator syscalls;
  NetworkAggregator network;
  MemoryAggregator memory;
  CpuAggregator cpu;
};

// The seeds' new(): resources named per process, and a clock reference read now, so that
// events of this machine's live kernel get their true Unix times. Tapes and simulations carry
// their own (with_recording()), which is what makes their conversions reproducible.
EbpfOtlpConverter::EbpfOtlpConverter()
    : resource_(ResourceConfig{}), recording_(RecordingContext{.clock = ClockReference::now()}) {}
EbpfOtlpConverter::~EbpfOtlpConverter() = default;
EbpfOtlpConverter::EbpfOtlpConverter(EbpfOtlpConverter&&) noexcept = default;
EbpfOtlpConverter& EbpfOtlpConverter::operator=(EbpfOtlpConverter&&) noexcept = default;

EbpfOtlpConverter& EbpfOtlpConverter::with_resource(ResourceConfig resource) {
  resource_ = std::move(resource);
  return *this;
}
EbpfOtlpConverter& EbpfOtlpConverter::with_recording(RecordingContext recording) {
  recording_ = std::move(recording);
  return *this;
}
EbpfOtlpConverter& EbpfOtlpConverter::with_tracer(InstrumentationScope scope) {
  tracer_ = std::move(scope);
  return *this;
}
EbpfOtlpConverter& EbpfOtlpConverter::with_meter(InstrumentationScope scope) {
  meter_ = std::move(scope);
  return *this;
}

bool EbpfOtlpConverter::is_configured() const { return tracer_ || meter_; }

Result<void> EbpfOtlpConverter::require(bool signal_enabled, std::string_view what) const {
  if (!signal_enabled) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("OTLP converter has no {0} output: call with_{0}() first", what));
  }
  return {};
}

Result<TraceRequest> EbpfOtlpConverter::convert_traces(const AggregatorResults& a,
                                                      const SpanSelector& select) const {
  TraceRequest request;
  BPFTAPE_RETURN_IF_ERROR(build_traces(a, &request, select));
  return request;
}

Result<TraceRequest*> EbpfOtlpConverter::convert_traces(const AggregatorResults& a,
                                                        google::protobuf::Arena* arena) const {
  auto* request = google::protobuf::Arena::CreateMessage<TraceRequest>(arena);
  auto done = build_traces(a, request, {});
  if (!done) {
    if (arena == nullptr) delete request;
    return std::unexpected(std::move(done).error());
  }
  return request;
}

Result<void> EbpfOtlpConverter::build_traces(const AggregatorResults& a, TraceRequest* request,
                                             const SpanSelector& select) const {
  BPFTAPE_RETURN_IF_ERROR(require(tracer_.has_value(), "tracer"));
  const RecordingContext& r = recording_;
  if (a.network == nullptr) return {};

  std::vector<Connection> connections = a.network->connections();
  std::vector<HttpRequest> requests = a.network->http_requests();
  // Pass 1 decides where each span goes; pass 2 writes them straight into `request` (on its
  // arena, when it has one: building elsewhere and moving would copy across arenas).
  struct Item {
    bool is_request;
    size_t index;               // into connections or requests
    const Connection* owner;    // requests: the connection they belong to (may be null)
    ConnectionIds ids;          // the connection's (or owner's) ids
    uint64_t ordinal;           // requests: position on their connection
  };
  // Grouped per process incarnation (resource): pids are reused, so the key is (pid, start
  // of the incarnation alive when the span started). Ascending; aggregator order within.
  struct Group {
    const ProcessInfo* info = nullptr;
    std::vector<Item> items;
  };
  std::map<std::pair<uint32_t, uint64_t>, Group> by_process;
  auto group = [&](uint32_t pid, uint64_t at) -> std::vector<Item>& {
    const ProcessInfo* info = a.processes != nullptr ? a.processes->lookup(pid, at) : nullptr;
    Group& g = by_process[{pid, info != nullptr ? info->start_ns : 0}];
    g.info = info;
    return g.items;
  };
  // socket id -> indices into `connections`: a socket id can recur (reuse, simulations).
  std::multimap<uint64_t, size_t> by_socket;
  std::vector<ConnectionIds> ids;
  ids.reserve(connections.size());
  for (size_t i = 0; i < connections.size(); ++i) {
    const Connection& c = connections[i];
    ids.push_back(connection_ids(r.recording_id, c.socket_id, c.open_ns));
    by_socket.emplace(c.socket_id, i);
    if (select && !select(SpanKey{false, c.socket_id, c.open_ns, 0, 0, c.close_ns != 0})) continue;
    group(c.pid, span_start(c, r)).push_back({false, i, nullptr, ids.back(), 0});
  }
  std::vector<uint64_t> ordinals(connections.size(), 0);
  for (size_t i = 0; i < requests.size(); ++i) {
    const HttpRequest& q = requests[i];
    // The connection that was open when the request started (the latest one opened before).
    const Connection* owner = nullptr;
    size_t owner_index = 0;
    auto [lo, hi] = by_socket.equal_range(q.socket_id);
    for (auto it = lo; it != hi; ++it) {
      const Connection& c = connections[it->second];
      if (c.open_ns <= q.start_ns && (c.close_ns == 0 || c.close_ns >= q.start_ns)) {
        if (owner == nullptr || c.open_ns >= owner->open_ns) {
          owner = &c;
          owner_index = it->second;
        }
      }
    }
    uint64_t ordinal = owner != nullptr ? ordinals[owner_index]++ : 0;
    if (select) {
      const bool ended = q.end_ns != 0 || (owner != nullptr && owner->close_ns != 0);
      if (!select(SpanKey{true, q.socket_id, owner != nullptr ? owner->open_ns : 0, q.start_ns,
                          ordinal, ended})) {
        continue;
      }
    }
    ConnectionIds conn = owner != nullptr ? ids[owner_index]
                                          : connection_ids(r.recording_id, q.socket_id, 0);
    group(q.pid, q.start_ns).push_back({true, i, owner, conn, ordinal});
  }
  for (const auto& [key, g] : by_process) {
    auto* rs = request->add_resource_spans();
    detail::fill_process_resource(resource_, key.first, g.info, rs->mutable_resource());
    auto* ss = rs->add_scope_spans();
    detail::fill_scope(*tracer_, ss->mutable_scope());
    ss->mutable_spans()->Reserve(static_cast<int>(g.items.size()));
    for (const Item& it : g.items) {
      if (it.is_request) {
        fill_request_span(requests[it.index], it.owner, it.ids, it.ordinal, r, ss->add_spans());
      } else {
        fill_connection_span(connections[it.index], it.ids, r, ss->add_spans());
      }
    }
  }
  return {};
}

Result<MetricsRequest> EbpfOtlpConverter::convert_metrics(const AggregatorResults& a) const {
  MetricsRequest request;
  BPFTAPE_RETURN_IF_ERROR(build_metrics(a, &request));
  return request;
}

Result<MetricsRequest*> EbpfOtlpConverter::convert_metrics(const AggregatorResults& a,
                                                           google::protobuf::Arena* arena) const {
  auto* request = google::protobuf::Arena::CreateMessage<MetricsRequest>(arena);
  auto done = build_metrics(a, request);
  if (!done) {
    if (arena == nullptr) delete request;
    return std::unexpected(std::move(done).error());
  }
  return request;
}

Result<void> EbpfOtlpConverter::build_metrics(const AggregatorResults& a,
                                              MetricsRequest* out) const {
  BPFTAPE_RETURN_IF_ERROR(require(meter_.has_value(), "meter"));
  const RecordingContext& r = recording_;
  MetricsRequest& request = *out;

  std::map<uint32_t, ProcessMetrics> per_pid;
  if (a.syscalls != nullptr) {
    for (uint32_t pid : a.syscalls->pids()) per_pid[pid].syscalls = a.syscalls->for_pid(pid);
  }
  if (a.network != nullptr) {
    for (auto& [pid, network] : a.network->by_pid()) {
      ProcessMetrics& pm = per_pid[pid];
      // A process with answered requests but no connection of its own (its socket was first
      // seen in another process) has network metrics only for those requests.
      pm.has_network = !network.connections.empty();
      pm.network = std::move(network);
    }
  }
  if (a.memory != nullptr) {
    for (const OutstandingByStack& o : a.memory->outstanding_by_stack()) {
      ProcessMetrics& pm = per_pid[o.pid];
      pm.has_memory = true;
      pm.outstanding_bytes += o.bytes;
      pm.outstanding_allocations += o.allocations;
    }
  }
  if (a.cpu != nullptr) {
    for (const auto& [pid, samples] : a.cpu->by_pid()) {
      if (pid != 0) per_pid[pid].cpu_samples = samples;  // pid 0 (idle) is host-wide
    }
  }

  {
    auto* host = request.add_resource_metrics();  // built in place; removed if it stays empty
    auto* sm = host->add_scope_metrics();
    detail::fill_scope(*meter_, sm->mutable_scope());
    MetricSet set(sm, r);
    if (emit_host_metrics(a, set)) {
      detail::fill_host_resource(resource_, host->mutable_resource());
    } else {
      request.mutable_resource_metrics()->RemoveLast();
    }
  }
  for (const auto& [pid, pm] : per_pid) {
    auto* rm = request.add_resource_metrics();
    detail::fill_process_resource(resource_, pid, process_info(a.processes, pid),
                                  rm->mutable_resource());
    auto* sm = rm->add_scope_metrics();
    detail::fill_scope(*meter_, sm->mutable_scope());
    MetricSet set(sm, r);
    emit_process_metrics(pm, set);
  }
  return {};
}

Result<ProfileOutput> EbpfOtlpConverter::convert_profile_to_otlp(
    const CpuAggregator& cpu, const InternTable& interned, const ProcessTable* processes,
    const ProfileOptions& options) const {
  BPFTAPE_RETURN_IF_ERROR(require(true, "profiler"));
  if (options.sample_hz == 0) {
    return make_error(ErrorKind::ConfigError,
                      "profile sample rate is 0 Hz: pass the recording's sampling rate");
  }
  return build_profiles(cpu, interned, processes, resource_, recording_, profile_scope(), options);
}

Result<ProfilesRequest> EbpfOtlpConverter::convert_profile_to_otlp(
    const PprofProfile& profile, const ProcessTable* processes) const {
  return pprof_to_otlp(profile, processes, resource_, recording_, profile_scope());
}

InstrumentationScope EbpfOtlpConverter::profile_scope() const {
  return tracer_ ? *tracer_ : meter_ ? *meter_ : InstrumentationScope{};
}

Result<std::optional<OtlpSpan>> EbpfOtlpConverter::convert_event_to_span(
    const EbpfEvent& e, const InternTable& interned) {
  BPFTAPE_RETURN_IF_ERROR(require(tracer_.has_value(), "tracer"));
  if (!events_) events_ = std::make_unique<EventState>();
  if (payload_kind(e.event_type) != PayloadKind::Network) return std::nullopt;
  const NetworkData& n = e.payload.network;
  if (n.protocol == NetProtocol::Udp) return std::nullopt;  // no connection to describe
  if (e.event_type == EbpfEventType::NetworkPayload && n.payload == kNoId) return std::nullopt;

  auto& open = events_->open;
  auto it = open.find(n.socket_id);
  const bool first_event = it == open.end();
  if (first_event) {
    Connection c;
    c.socket_id = n.socket_id;
    c.pid = e.pid;
    c.protocol = n.protocol == NetProtocol::Unknown ? NetProtocol::Tcp : n.protocol;
    if (n.endpoints != kNoId) c.endpoints = SocketEndpoints::decode(interned.string(n.endpoints));
    c.local_port = n.local_port;
    c.remote_port = n.remote_port;
    it = open.emplace(n.socket_id, std::move(c)).first;
  }
  Connection& c = it->second;
  if (!c.endpoints && n.endpoints != kNoId) {  // a later event may know what an earlier did not
    c.endpoints = SocketEndpoints::decode(interned.string(n.endpoints));
  }
  if (c.local_port == 0) c.local_port = n.local_port;
  if (c.remote_port == 0) c.remote_port = n.remote_port;
  switch (e.event_type) {
    case EbpfEventType::TcpConnect:
    case EbpfEventType::TcpAccept:
      c.role = e.event_type == EbpfEventType::TcpConnect ? ConnectionRole::Client
                                                         : ConnectionRole::Server;
      c.open_ns = e.timestamp_ns;
      return std::nullopt;
    case EbpfEventType::NetworkPacket:
      (n.direction == NetDirection::Send ? c.bytes_sent : c.bytes_received) += n.bytes;
      return std::nullopt;
    case EbpfEventType::TcpRetransmit:
      ++c.retransmits;
      return std::nullopt;
    case EbpfEventType::TcpClose: {
      // Never seen before its close: all we know is the lifetime the close reports.
      if (first_event && n.duration_ns != 0 && n.duration_ns < e.timestamp_ns) {
        c.open_ns = e.timestamp_ns - n.duration_ns;
      }
      c.close_ns = e.timestamp_ns;
      OtlpSpan span;
      fill_connection_span(c, connection_ids(recording_.recording_id, c.socket_id, c.open_ns),
                           recording_, &span);
      open.erase(it);
      return span;
    }
    case EbpfEventType::NetworkPayload: {
      // Same inference as NetworkAggregator: who sends a request line is the client. The
      // request spans themselves come from the aggregation (convert_traces).
      std::string_view bytes = interned.string(n.payload);
      if (is_http2_preface(bytes)) {
        c.app_protocol = AppProtocol::Http2;
      } else if (parse_http_request_line(bytes)) {
        if (c.role == ConnectionRole::Unknown) {
          c.role = n.direction == NetDirection::Send ? ConnectionRole::Client
                                                     : ConnectionRole::Server;
        }
        c.app_protocol = AppProtocol::Http1;
        ++c.http_requests;
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

Result<void> EbpfOtlpConverter::convert_event_to_metric(const EbpfEvent& e,
                                                        const InternTable& interned) {
  BPFTAPE_RETURN_IF_ERROR(require(meter_.has_value(), "meter"));
  if (!events_) events_ = std::make_unique<EventState>();
  std::span<const EbpfEvent> one(&e, 1);
  events_->syscalls.consume(one, interned);
  events_->network.consume(one, interned);
  events_->memory.consume(one, interned);
  events_->cpu.consume(one, interned);
  return {};
}

Result<std::pair<std::vector<OtlpSpan>, uint64_t>> EbpfOtlpConverter::convert_events_batch(
    std::span<const EbpfEvent> events, const InternTable& interned) {
  if (!is_configured()) BPFTAPE_RETURN_IF_ERROR(require(false, "tracer or meter"));
  if (!events_) events_ = std::make_unique<EventState>();
  std::vector<OtlpSpan> spans;
  uint64_t metric_events = 0;
  if (tracer_) {
    for (const EbpfEvent& e : events) {
      BPFTAPE_ASSIGN_OR_RETURN(std::optional<OtlpSpan> span, convert_event_to_span(e, interned));
      if (span) spans.push_back(std::move(*span));
    }
  }
  if (meter_) {
    events_->syscalls.consume(events, interned);
    events_->network.consume(events, interned);
    events_->memory.consume(events, interned);
    events_->cpu.consume(events, interned);
    for (const EbpfEvent& e : events) {
      PayloadKind k = payload_kind(e.event_type);
      metric_events += k != PayloadKind::Process;  // process lifecycle feeds no metric
    }
  }
  return std::pair{std::move(spans), metric_events};
}

AggregatorResults EbpfOtlpConverter::event_results(const ProcessTable* processes) const {
  if (!events_) return AggregatorResults{.processes = processes};
  return AggregatorResults{processes, &events_->network, &events_->syscalls, &events_->memory,
                           &events_->cpu};
}

}  // namespace otlp::ebpf
