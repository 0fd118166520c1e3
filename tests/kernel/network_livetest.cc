// Network probe on the live kernel: K loopback TCP connections and UDP datagrams made by a child
// (this process is never traced, so the workload runs in a forked child).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "tests/kernel/live_test_util.h"

namespace otlp::ebpf::testing {
namespace {

constexpr int kConnections = 5;
const std::string kRequest = "GET /bpftape/probe HTTP/1.1\r\nHost: localhost\r\n\r\n";
const std::string kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

bool send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = send(fd, data.data() + off, data.size() - off, 0);
    if (n <= 0) return false;
    off += n;
  }
  return true;
}

bool recv_exact(int fd, size_t size) {
  std::string buf(size, '\0');
  size_t off = 0;
  while (off < size) {
    const ssize_t n = recv(fd, buf.data() + off, size - off, 0);
    if (n <= 0) return false;
    off += n;
  }
  return true;
}

// In the child: K request/response exchanges over loopback TCP on `listener`.
int tcp_workload(int listener, uint16_t port) {
  for (int i = 0; i < kConnections; ++i) {
    const int client = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return 10;
    const int server = accept(listener, nullptr, nullptr);
    if (server < 0) return 11;
    if (!send_all(client, kRequest) || !recv_exact(server, kRequest.size())) return 12;
    if (!send_all(server, kResponse) || !recv_exact(client, kResponse.size())) return 13;
    close(client);
    close(server);
  }
  return 0;
}

TEST(NetworkLivetest, TcpConnectAcceptCloseWithPortsBytesAndPayload) {
  BPFTAPE_REQUIRE_LIVE();
  auto probe = NetworkProbe::create(ProbeOptions{});
  ASSERT_TRUE(probe) << probe.error().to_string();
  ASSERT_TRUE((*probe)->attach());
  Collector collector;
  collector.add(**probe);

  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);

  const pid_t child = fork();
  if (child == 0) _exit(tcp_workload(listener, port));
  close(listener);
  const int status = collector.wait_draining(child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 0);
  const uint32_t pid = static_cast<uint32_t>(child);
  // Closes complete in softirq after the FIN/ACK exchange: wait for all of them.
  EXPECT_TRUE(collector.drain_until([&](const auto&) {
    return collector.of(pid, EbpfEventType::TcpClose).size() >= 2 * kConnections;
  }));

  const auto connects = collector.of(pid, EbpfEventType::TcpConnect);
  const auto accepts = collector.of(pid, EbpfEventType::TcpAccept);
  ASSERT_EQ(connects.size(), static_cast<size_t>(kConnections));
  ASSERT_EQ(accepts.size(), static_cast<size_t>(kConnections));
  std::map<uint64_t, char> role;  // socket id -> 'c'lient / 's'erver
  for (const auto& e : connects) {
    EXPECT_EQ(e.payload.network.remote_port, port);
    EXPECT_EQ(e.payload.network.protocol, NetProtocol::Tcp);
    auto ep = SocketEndpoints::decode(collector.table().string(e.payload.network.endpoints));
    ASSERT_TRUE(ep);
    EXPECT_EQ(SocketEndpoints::format_address(ep->family, ep->remote), "127.0.0.1");
    role[e.payload.network.socket_id] = 'c';
  }
  for (const auto& e : accepts) {
    EXPECT_EQ(e.payload.network.local_port, port);
    role[e.payload.network.socket_id] = 's';
  }
  ASSERT_EQ(role.size(), 2u * kConnections) << "socket ids must be distinct";

  // Bytes per socket and direction, from the per-call packet events.
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> moved;  // id -> (sent, received)
  size_t requests = 0, responses = 0;
  for (const auto& e : collector.events()) {
    if (e.pid != pid) continue;
    const auto& n = e.payload.network;
    if (e.event_type == EbpfEventType::NetworkPacket && role.contains(n.socket_id)) {
      (n.direction == NetDirection::Send ? moved[n.socket_id].first : moved[n.socket_id].second) +=
          n.bytes;
    }
    if (e.event_type == EbpfEventType::NetworkPayload && n.direction == NetDirection::Send) {
      const auto bytes = collector.table().string(n.payload);
      requests += bytes.starts_with("GET /bpftape/probe HTTP/1.1");
      responses += bytes.starts_with("HTTP/1.1 200 OK");
    }
  }
  for (const auto& [id, r] : role) {
    const auto [sent, received] = moved[id];
    EXPECT_EQ(sent, r == 'c' ? kRequest.size() : kResponse.size()) << r;
    EXPECT_EQ(received, r == 'c' ? kResponse.size() : kRequest.size()) << r;
  }
  EXPECT_EQ(requests, static_cast<size_t>(kConnections));
  EXPECT_EQ(responses, static_cast<size_t>(kConnections));

  const auto closes = collector.of(pid, EbpfEventType::TcpClose);
  ASSERT_EQ(closes.size(), 2u * kConnections);
  for (const auto& e : closes) {
    ASSERT_TRUE(role.contains(e.payload.network.socket_id));
    const char r = role[e.payload.network.socket_id];
    EXPECT_EQ(r == 'c' ? e.payload.network.remote_port : e.payload.network.local_port, port);
    EXPECT_EQ(e.payload.network.bytes, kRequest.size() + kResponse.size());
    EXPECT_GT(e.payload.network.duration_ns, 0u);
  }
  EXPECT_EQ(lost(collector.losses()), 0u);
  EXPECT_EQ(collector.decode_errors(), 0u);
}

TEST(NetworkLivetest, UdpDatagramsAreCountedWithSizes) {
  BPFTAPE_REQUIRE_LIVE();
  auto probe = NetworkProbe::create(ProbeOptions{});
  ASSERT_TRUE(probe) << probe.error().to_string();
  ASSERT_TRUE((*probe)->attach());
  Collector collector;
  collector.add(**probe);

  constexpr int kDatagrams = 7;
  constexpr size_t kSize = 333;
  const pid_t child = fork();
  if (child == 0) {
    const int rx = socket(AF_INET, SOCK_DGRAM, 0);
    const int tx = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(10);
    if (getsockname(rx, reinterpret_cast<sockaddr*>(&addr), &len) != 0) _exit(11);
    char buf[kSize] = {};
    for (int i = 0; i < kDatagrams; ++i) {
      if (sendto(tx, buf, kSize, 0, reinterpret_cast<sockaddr*>(&addr), len) != kSize) _exit(12);
      if (recv(rx, buf, sizeof(buf), 0) != kSize) _exit(13);
    }
    _exit(0);
  }
  const int status = collector.wait_draining(child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  collector.drain_once();
  size_t sends = 0, receives = 0;
  for (const auto& e : collector.of(static_cast<uint32_t>(child), EbpfEventType::NetworkPacket)) {
    ASSERT_EQ(e.payload.network.protocol, NetProtocol::Udp);
    ASSERT_EQ(e.payload.network.bytes, kSize);
    sends += e.payload.network.direction == NetDirection::Send;
    receives += e.payload.network.direction == NetDirection::Receive;
  }
  EXPECT_EQ(sends, static_cast<size_t>(kDatagrams));
  EXPECT_EQ(receives, static_cast<size_t>(kDatagrams));
}

}  // namespace
}  // namespace otlp::ebpf::testing
