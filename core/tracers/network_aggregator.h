// Network aggregation: TCP connections (role, endpoints, lifetime, bytes, retransmits), UDP
// sessions, and HTTP/1.x requests recognised from captured payload prefixes.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/tracers/aggregator.h"

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

class NetworkAggregator : public Aggregator {
 public:
  static constexpr size_t kMaxKeptRequests = 1 << 20;

  void consume(std::span<const EbpfEvent> events, const InternTable& interned) override;

  const NetworkStats& stats() const { return stats_; }
  // Every connection seen, closed ones first in close order, then open ones by socket id.
  std::vector<Connection> connections() const;
  // Completed requests in completion order, then still-pending ones by start time.
  std::vector<HttpRequest> http_requests() const;

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

  std::unordered_map<uint64_t, ConnectionState> open_;
  std::vector<Connection> closed_;
  // A deque, not a vector: ~130 bytes per request and tens of thousands of them; a vector's
  // doubling moves every request again and, past malloc's mmap threshold, maps fresh pages
  // (a page fault each) for every copy, where a deque's blocks are filled once.
  std::deque<HttpRequest> completed_;
  std::unordered_set<uint64_t> udp_sockets_;
  NetworkStats stats_;
};

}  // namespace otlp::ebpf
