// Network aggregation: TCP connections (role, endpoints, lifetime, bytes, retransmits), UDP
// sessions, and HTTP/1.x requests recognised from captured payload prefixes.
#pragma once

#include <compare>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/tracers/aggregator.h"
#include "core/tracers/latency_histogram.h"

namespace otlp::ebpf {

// The seeds' NetworkStats, plus what bpftape adds.
struct NetworkStats {
  uint64_t packets_captured = 0;  // NetworkPacket events (one per send/receive)
  uint64_t bytes_captured = 0;    // bytes moved, both directions
  uint64_t tcp_connections = 0;   // connects + accepts seen
  uint64_t udp_sessions = 0;      // distinct UDP sockets that moved data
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t retransmits = 0;
  uint64_t connections_closed = 0;
  uint64_t http_requests = 0;     // request lines recognised
  uint64_t http_responses = 0;    // status lines matched to a request
  uint64_t http_requests_not_kept = 0;  // completed beyond kMaxKeptRequests (still counted)
};

enum class ConnectionRole : uint8_t { Unknown, Client, Server };
enum class AppProtocol : uint8_t { Unknown, Http1, Http2 };

struct HttpRequest {
  uint64_t socket_id = 0;
  uint32_t pid = 0;
  uint32_t tid = 0;
  ConnectionRole role = ConnectionRole::Unknown;  // client: we sent it; server: we received it
  std::string method;
  std::string path;
  int status = 0;           // 0: no response seen (connection closed or recording ended)
  uint64_t start_ns = 0;    // request line seen
  uint64_t end_ns = 0;      // status line seen; 0 when none
  uint64_t request_bytes = 0;   // bytes in the request direction until the response started
  uint64_t response_bytes = 0;  // bytes in the response direction until the next request/close
};

struct Connection {
  uint64_t socket_id = 0;
  uint32_t pid = 0;
  ConnectionRole role = ConnectionRole::Unknown;
  NetProtocol protocol = NetProtocol::Tcp;
  AppProtocol app_protocol = AppProtocol::Unknown;
  std::optional<SocketEndpoints> endpoints;
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
  uint64_t open_ns = 0;   // 0 when it was open before the recording started
  uint64_t close_ns = 0;  // 0 while open
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t retransmits = 0;
  uint64_t http_requests = 0;
};

// Explicit bucket bounds (seconds) of HTTP request durations: OpenTelemetry's advice for
// http.*.request.duration, so the OTLP histograms carry them as they are.
inline constexpr double kHttpDurationBounds[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                                 0.5,   0.75, 1.0,   2.5,   5.0,   7.5, 10.0};

// Durations of answered requests in those buckets, with exact count, sum, min and max.
struct HttpDurations {
  uint64_t count = 0;
  double sum = 0, min = 0, max = 0;
  std::vector<uint64_t> buckets = std::vector<uint64_t>(std::size(kHttpDurationBounds) + 1, 0);
  void record(double seconds);
};

// One HTTP route as the report groups requests: method, path and response status.
struct HttpRoute {
  std::string method;
  std::string path;
  int status = 0;
  auto operator<=>(const HttpRoute&) const = default;
};

// Orders routes by (method, path, status), and finds one by views of its strings: counting a
// request copies no string unless its route is new.
struct HttpRouteOrder {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::tuple<std::string_view, std::string_view, int>(a.method, a.path, a.status) <
           std::tuple<std::string_view, std::string_view, int>(b.method, b.path, b.status);
  }
};
using RouteLatencies = std::map<HttpRoute, LatencyHistogram, HttpRouteOrder>;

// Hashes and compares routes by views of their strings, for the per-request lookup.
struct HttpRouteHash {
  using is_transparent = void;
  template <typename R>
  size_t operator()(const R& r) const {
    const size_t h = std::hash<std::string_view>{}(r.method) * 31 + std::hash<std::string_view>{}(r.path);
    return h * 31 + static_cast<size_t>(r.status);
  }
};
struct HttpRouteEqual {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return a.status == b.status && std::string_view(a.path) == std::string_view(b.path) &&
           std::string_view(a.method) == std::string_view(b.method);
  }
};

// Orders ProcessNetwork::http's (role, method, status) keys, and finds one by a
// (role, string_view, status) tuple: counting a request copies no string unless its key is new.
struct HttpMethodOrder {
  using is_transparent = void;
  using View = std::tuple<ConnectionRole, std::string_view, int>;
  static View view(const std::tuple<ConnectionRole, std::string, int>& key) {
    return {std::get<0>(key), std::get<1>(key), std::get<2>(key)};
  }
  static View view(const View& key) { return key; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return view(a) < view(b);
  }
};

// What one process's sockets did over the recording, closed connections and open ones alike:
// what the report and the OTLP metrics need, kept without keeping any connection or request.
struct ProcessNetwork {
  uint64_t bytes_sent = 0, bytes_received = 0, retransmits = 0;  // TCP connections' bytes
  std::map<std::pair<ConnectionRole, NetProtocol>, uint64_t> connections;
  // (role, method, status) -> durations of the requests that got a response.
  std::map<std::tuple<ConnectionRole, std::string, int>, HttpDurations, HttpMethodOrder> http;
};

// Memory: open connections with their pending requests, the totals above (per process and per
// route: bounded by the workload's distinct processes and routes, not by its length) and, while
// keep_completed (the default) is on, every closed connection and completed request (up to
// kMaxKeptRequests). Replays that need only the totals (the report, metrics) turn it off and
// stay flat however long the tape.
class NetworkAggregator : public Aggregator {
 public:
  static constexpr size_t kMaxKeptRequests = 1 << 20;

  void consume(std::span<const EbpfEvent> events, const InternTable& interned) override;

  // Before the first consume(): whether closed connections and completed requests are kept
  // for connections() and http_requests().
  void set_keep_completed(bool keep) { keep_completed_ = keep; }
  bool keeps_completed() const { return keep_completed_; }

  const NetworkStats& stats() const { return stats_; }
  // Every connection seen, closed ones first in close order, then open ones by socket id.
  // Without keep_completed: the open ones only.
  std::vector<Connection> connections() const;
  // Completed requests in completion order, then still-pending ones by start time. Without
  // keep_completed: the pending ones only.
  std::vector<HttpRequest> http_requests() const;
  // Totals per process, and answered requests' latency per route; both count what is still
  // open (a request being answered counts once its status line was seen).
  std::map<uint32_t, ProcessNetwork> by_pid() const;
  RouteLatencies route_latencies() const;

 private:
  struct ConnectionState {
    Connection info;
    std::deque<HttpRequest> pending;  // requests awaiting a status line, FIFO (pipelining)
    std::optional<HttpRequest> responding;  // response phase: counting response bytes
  };
  ConnectionState& connection(const EbpfEvent& e, const NetworkData& n,
                              const InternTable& interned);
  void on_payload(ConnectionState& c, const EbpfEvent& e, const NetworkData& n,
                  std::string_view bytes);
  void finish_request(HttpRequest request);
  void close(ConnectionState& c, uint64_t ts);
  // Adds a connection's or an answered request's share to the totals.
  static void count_connection(const Connection& c, std::map<uint32_t, ProcessNetwork>& by_pid);
  // Unordered: one hash per answered request; route_latencies() sorts.
  using RouteTotals = std::unordered_map<HttpRoute, LatencyHistogram, HttpRouteHash, HttpRouteEqual>;
  static void count_answered_by_pid(const HttpRequest& r, std::map<uint32_t, ProcessNetwork>& by_pid);
  static void count_answered_by_route(const HttpRequest& r, RouteTotals& routes);

  bool keep_completed_ = true;
  std::unordered_map<uint64_t, ConnectionState> open_;
  // Totals of closed connections and completed requests (by_pid() and route_latencies() add
  // the open ones).
  std::map<uint32_t, ProcessNetwork> closed_by_pid_;
  RouteTotals closed_routes_;
  std::vector<Connection> closed_;
  // A deque, not a vector: ~130 bytes per request and tens of thousands of them; a vector's
  // doubling moves every request again and, past malloc's mmap threshold, maps fresh pages
  // (a page fault each) for every copy, where a deque's blocks are filled once.
  std::deque<HttpRequest> completed_;
  std::unordered_set<uint64_t> udp_sockets_;
  NetworkStats stats_;
};

}  // namespace otlp::ebpf
