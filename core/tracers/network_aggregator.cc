#include "core/tracers/network_aggregator.h"

#include <algorithm>
#include <optional>

#include "core/tracers/http_parser.h"

namespace otlp::ebpf {

NetworkAggregator::ConnectionState& NetworkAggregator::connection(const EbpfEvent& e,
                                                                  const NetworkData& n,
                                                                  const InternTable& interned) {
  auto [it, inserted] = open_.try_emplace(n.socket_id);
  ConnectionState& c = it->second;
  if (inserted) {
    c.info.socket_id = n.socket_id;
    c.info.pid = e.pid;
    c.info.protocol = n.protocol == NetProtocol::Unknown ? NetProtocol::Tcp : n.protocol;
  }
  // Fill in what a later event knows and an earlier one did not (e.g. data seen before close).
  if (!c.info.endpoints && n.endpoints != kNoId) {
    c.info.endpoints = SocketEndpoints::decode(interned.string(n.endpoints));
  }
  if (c.info.local_port == 0) c.info.local_port = n.local_port;
  if (c.info.remote_port == 0) c.info.remote_port = n.remote_port;
  return c;
}

void HttpDurations::record(double seconds) {
  min = count == 0 ? seconds : std::min(min, seconds);
  max = count == 0 ? seconds : std::max(max, seconds);
  ++count;
  sum += seconds;
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(std::begin(kHttpDurationBounds), std::end(kHttpDurationBounds), seconds) -
      std::begin(kHttpDurationBounds));
  ++buckets[bucket];
}

void NetworkAggregator::count_connection(const Connection& c,
                                         std::map<uint32_t, ProcessNetwork>& by_pid) {
  ProcessNetwork& p = by_pid[c.pid];
  p.bytes_sent += c.bytes_sent;
  p.bytes_received += c.bytes_received;
  p.retransmits += c.retransmits;
  ++p.connections[{c.role, c.protocol}];
}

// A request that got a response: its duration; nothing for one that did not.
static std::optional<uint64_t> answered_in(const HttpRequest& r) {
  if (r.status == 0 || r.end_ns < r.start_ns) return std::nullopt;
  return r.end_ns - r.start_ns;
}

void NetworkAggregator::count_answered_by_pid(const HttpRequest& r,
                                              std::map<uint32_t, ProcessNetwork>& by_pid) {
  const auto duration_ns = answered_in(r);
  if (!duration_ns) return;
  auto& http = by_pid[r.pid].http;
  auto durations = http.find(HttpMethodOrder::View(r.role, r.method, r.status));
  if (durations == http.end()) durations = http.emplace(std::tuple(r.role, r.method, r.status), HttpDurations{}).first;
  durations->second.record(static_cast<double>(*duration_ns) / 1e9);
}

void NetworkAggregator::count_answered_by_route(const HttpRequest& r, RouteTotals& routes) {
  const auto duration_ns = answered_in(r);
  if (!duration_ns) return;
  auto route = routes.find(r);  // HttpRequest has method, path and status: the hash reads them
  if (route == routes.end()) route = routes.emplace(HttpRoute{r.method, r.path, r.status}, LatencyHistogram{}).first;
  route->second.record(*duration_ns);
}

void NetworkAggregator::finish_request(HttpRequest request) {
  count_answered_by_pid(request, closed_by_pid_);
  count_answered_by_route(request, closed_routes_);
  if (!keep_completed_) return;
  if (completed_.size() >= kMaxKeptRequests) {
    ++stats_.http_requests_not_kept;
    return;
  }
  completed_.push_back(std::move(request));
}

void NetworkAggregator::on_payload(ConnectionState& c, const EbpfEvent& e, const NetworkData& n,
                                   std::string_view bytes) {
  if (is_http2_preface(bytes)) {
    c.info.app_protocol = AppProtocol::Http2;
    return;
  }
  if (auto request = parse_http_request_line(bytes)) {
    // Who sends the request line is the client.
    if (c.info.role == ConnectionRole::Unknown) {
      c.info.role = n.direction == NetDirection::Send ? ConnectionRole::Client
                                                      : ConnectionRole::Server;
    }
    c.info.app_protocol = AppProtocol::Http1;
    if (c.responding) {
      finish_request(std::move(*c.responding));
      c.responding.reset();
    }
    HttpRequest r;
    r.socket_id = n.socket_id;
    r.pid = e.pid;
    r.tid = e.tid;
    r.role = c.info.role;
    r.method = std::move(request->method);
    r.path = std::move(request->path);
    r.start_ns = e.timestamp_ns;
    c.pending.push_back(std::move(r));
    ++c.info.http_requests;
    ++stats_.http_requests;
    return;
  }
  if (auto status = parse_http_status_line(bytes); status && !c.pending.empty()) {
    if (c.responding) finish_request(std::move(*c.responding));
    c.responding = std::move(c.pending.front());
    c.pending.pop_front();
    c.responding->status = *status;
    c.responding->end_ns = e.timestamp_ns;
    ++stats_.http_responses;
  }
}

void NetworkAggregator::close(ConnectionState& c, uint64_t ts) {
  if (c.responding) finish_request(std::move(*c.responding));
  for (auto& r : c.pending) finish_request(std::move(r));  // status stays 0: no response
  c.info.close_ns = ts;
  ++stats_.connections_closed;
  count_connection(c.info, closed_by_pid_);
  if (keep_completed_) closed_.push_back(c.info);
}

void NetworkAggregator::consume(std::span<const EbpfEvent> events, const InternTable& interned) {
  for_each_of_kind<PayloadKind::Network>(events, [&](const EbpfEvent& e) {
    const NetworkData& n = e.payload.network;
    switch (e.event_type) {
      case EbpfEventType::TcpConnect:
      case EbpfEventType::TcpAccept: {
        ConnectionState& c = connection(e, n, interned);
        c.info.role = e.event_type == EbpfEventType::TcpConnect ? ConnectionRole::Client
                                                                : ConnectionRole::Server;
        c.info.open_ns = e.timestamp_ns;
        ++stats_.tcp_connections;
        break;
      }
      case EbpfEventType::NetworkPacket: {
        ++stats_.packets_captured;
        stats_.bytes_captured += n.bytes;
        bool send = n.direction == NetDirection::Send;
        (send ? stats_.bytes_sent : stats_.bytes_received) += n.bytes;
        if (n.protocol == NetProtocol::Udp) {
          if (udp_sockets_.insert(n.socket_id).second) ++stats_.udp_sessions;
          break;
        }
        ConnectionState& c = connection(e, n, interned);
        (send ? c.info.bytes_sent : c.info.bytes_received) += n.bytes;
        // Bytes belong to the request being sent or the response being received.
        bool request_direction = (c.info.role == ConnectionRole::Client) == send;
        if (c.responding && !request_direction) c.responding->response_bytes += n.bytes;
        if (!c.pending.empty() && request_direction) c.pending.back().request_bytes += n.bytes;
        break;
      }
      case EbpfEventType::TcpRetransmit: {
        ++stats_.retransmits;
        ++connection(e, n, interned).info.retransmits;
        break;
      }
      case EbpfEventType::NetworkPayload: {
        if (n.protocol == NetProtocol::Udp || n.payload == kNoId) break;
        on_payload(connection(e, n, interned), e, n, interned.string(n.payload));
        break;
      }
      case EbpfEventType::TcpClose: {
        auto it = open_.find(n.socket_id);
        if (it == open_.end()) {
          // Opened before the recording started: all we know is what the close says.
          ConnectionState& c = connection(e, n, interned);
          c.info.open_ns = n.duration_ns && n.duration_ns < e.timestamp_ns
                               ? e.timestamp_ns - n.duration_ns
                               : 0;
          it = open_.find(n.socket_id);
        }
        close(it->second, e.timestamp_ns);
        open_.erase(it);
        break;
      }
      default:
        break;
    }
  });
}

std::vector<Connection> NetworkAggregator::connections() const {
  std::vector<Connection> out;
  out.reserve(closed_.size() + open_.size());  // one allocation: no copy of the copy
  out = closed_;
  std::vector<Connection> still_open;
  still_open.reserve(open_.size());
  for (const auto& [id, c] : open_) still_open.push_back(c.info);
  std::sort(still_open.begin(), still_open.end(),
            [](const Connection& a, const Connection& b) { return a.socket_id < b.socket_id; });
  out.insert(out.end(), still_open.begin(), still_open.end());
  return out;
}

std::map<uint32_t, ProcessNetwork> NetworkAggregator::by_pid() const {
  std::map<uint32_t, ProcessNetwork> out = closed_by_pid_;
  // Socket-id order: the same totals whatever the hash map's order (floating-point sums).
  std::vector<const ConnectionState*> open;
  open.reserve(open_.size());
  for (const auto& [id, c] : open_) open.push_back(&c);
  std::sort(open.begin(), open.end(), [](const ConnectionState* a, const ConnectionState* b) {
    return a->info.socket_id < b->info.socket_id;
  });
  for (const ConnectionState* c : open) {
    count_connection(c->info, out);
    if (c->responding) count_answered_by_pid(*c->responding, out);
  }
  return out;
}

RouteLatencies NetworkAggregator::route_latencies() const {
  auto routes = closed_routes_;
  for (const auto& [id, c] : open_) {
    if (c.responding) count_answered_by_route(*c.responding, routes);
  }
  return RouteLatencies(routes.begin(), routes.end());
}

std::vector<HttpRequest> NetworkAggregator::http_requests() const {
  std::vector<HttpRequest> pending;
  for (const auto& [id, c] : open_) {
    if (c.responding) pending.push_back(*c.responding);
    pending.insert(pending.end(), c.pending.begin(), c.pending.end());
  }
  std::sort(pending.begin(), pending.end(), [](const HttpRequest& a, const HttpRequest& b) {
    return a.start_ns != b.start_ns ? a.start_ns < b.start_ns : a.socket_id < b.socket_id;
  });
  std::vector<HttpRequest> out;
  out.reserve(completed_.size() + pending.size());  // one allocation: no copy of the copy
  out.insert(out.end(), completed_.begin(), completed_.end());
  out.insert(out.end(), std::make_move_iterator(pending.begin()),
             std::make_move_iterator(pending.end()));
  return out;
}

}  // namespace otlp::ebpf
