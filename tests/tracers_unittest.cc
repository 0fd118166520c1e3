#include <gtest/gtest.h>

#include "core/tracers/cpu_aggregator.h"
#include "core/tracers/http_parser.h"
#include "core/tracers/latency_histogram.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/network_aggregator.h"
#include "core/tracers/syscall_aggregator.h"
#include "core/tracers/syscall_names.h"

namespace otlp::ebpf {
namespace {

EbpfEvent sys(uint64_t ts, uint32_t pid, uint32_t nr, int64_t ret, uint64_t dur) {
  return EbpfEvent::syscall_event(ts, pid, pid, 0, SyscallData{.nr = nr, .ret = ret, .duration_ns = dur});
}

TEST(SyscallNamesTest, KnownUnknownAndNumericForms) {
  EXPECT_EQ(syscall_name(0), "read");
  EXPECT_EQ(syscall_name(39), "getpid");
  EXPECT_EQ(syscall_name(257), "openat");
  EXPECT_EQ(syscall_name(462), "mseal");  // newer than Debian 12's headers
  EXPECT_EQ(syscall_name(1000), "");
  EXPECT_EQ(syscall_display_name(1000), "syscall_1000");
  EXPECT_EQ(syscall_number("openat"), 257u);
  EXPECT_EQ(syscall_number("syscall_300"), 300u);
  EXPECT_EQ(syscall_number("syscall_"), std::nullopt);
  EXPECT_EQ(syscall_number("syscall_12x"), std::nullopt);
  EXPECT_EQ(syscall_number("open_sesame"), std::nullopt);
  EXPECT_EQ(syscall_number(""), std::nullopt);
}

// The tracers' type filter: every event of the wanted kind, in order, none other — across
// block boundaries, in blocks that are not a multiple of the unrolling, for odd type bytes too.
TEST(ForEachOfKindTest, VisitsExactlyTheWantedKindInOrder) {
  std::vector<EbpfEvent> events;
  for (uint64_t i = 0; i < 1031; ++i) {
    // A type sequence without a short period, and some bytes beyond the known types.
    const uint64_t mix = (i * 2654435761u) >> 7;
    auto e = EbpfEvent::make(static_cast<EbpfEventType>(mix % 17), i + 1, 1, 1);
    if (i % 97 == 0) e.event_type = static_cast<EbpfEventType>(200 + i % 50);
    events.push_back(e);
  }
  for (size_t size : {size_t{0}, size_t{1}, size_t{3}, size_t{255}, size_t{256}, size_t{257},
                      events.size()}) {
    const std::span<const EbpfEvent> in(events.data(), size);
    std::vector<uint64_t> seen;
    for_each_of_kind<PayloadKind::Memory>(
        in, [&](const EbpfEvent& e) { seen.push_back(e.timestamp_ns); });
    std::vector<uint64_t> want;
    for (const auto& e : in) {
      if (e.event_type == EbpfEventType::MemoryAlloc || e.event_type == EbpfEventType::MemoryFree) {
        want.push_back(e.timestamp_ns);
      }
    }
    EXPECT_EQ(seen, want) << "first " << size << " events";
    if (size == events.size()) {
      EXPECT_GT(want.size(), 100u);
    }
  }
}

TEST(LatencyHistogramTest, BucketsAreContiguousAndMonotonic) {
  for (size_t b = 0; b < 400; ++b) {
    EXPECT_LT(LatencyHistogram::lower_bound(b), LatencyHistogram::lower_bound(b + 1)) << b;
    EXPECT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::lower_bound(b)), b) << b;
    EXPECT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::lower_bound(b + 1) - 1), b) << b;
  }
  EXPECT_LT(LatencyHistogram::bucket_of(UINT64_MAX), 500u);
}

TEST(LatencyHistogramTest, ExactStatsAndPercentiles) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(0.5), 0u);
  for (uint64_t v = 1; v <= 100; ++v) h.record(v * 1000);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.sum(), 5050u * 1000);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100000u);
  // Within one bucket (12.5%) above the exact value.
  EXPECT_GE(h.percentile(0.5), 50000u);
  EXPECT_LE(h.percentile(0.5), 50000u * 1125 / 1000);
  EXPECT_EQ(h.percentile(1.0), 100000u);
  EXPECT_EQ(h.percentile(0.0), 1000u);
  LatencyHistogram other;
  other.record(7);
  h.merge(other);
  EXPECT_EQ(h.count(), 101u);
  EXPECT_EQ(h.min(), 7u);
}

TEST(SyscallAggregatorTest, CountsErrorsAndLatencyPerSyscallAndPid) {
  SyscallAggregator agg;
  InternTable interned;
  std::vector<EbpfEvent> events = {sys(1, 10, 0, 5, 100), sys(2, 10, 0, -11, 300),
                                   sys(3, 10, 1, 5, 200), sys(4, 20, 0, 1, 100),
                                   sys(5, 20, 257, -2, 5000)};
  agg.consume(events, interned);
  auto stats = agg.stats();
  EXPECT_EQ(stats.syscalls_traced, 5u);
  EXPECT_EQ(stats.unique_syscalls, 3u);
  EXPECT_EQ(stats.errors, 2u);
  auto rows = agg.by_syscall();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].nr, 0u);  // read: 3 calls
  EXPECT_EQ(rows[0].count, 3u);
  EXPECT_EQ(rows[0].errors, 1u);
  EXPECT_EQ(rows[0].latency.sum(), 500u);
  EXPECT_EQ(rows[1].nr, 1u);  // ties broken by number
  EXPECT_EQ(rows[2].nr, 257u);
  EXPECT_EQ(agg.pids(), (std::vector<uint32_t>{10, 20}));
  auto pid20 = agg.for_pid(20);
  ASSERT_EQ(pid20.size(), 2u);
  EXPECT_EQ(pid20[0].nr, 0u);
  EXPECT_EQ(pid20[1].errors, 1u);
  EXPECT_TRUE(agg.for_pid(99).empty());
}

TEST(SyscallAggregatorTest, FilterSyscallExcludesAndCounts) {
  SyscallAggregator agg;
  InternTable interned;
  ASSERT_TRUE(agg.filter_syscall("read", false).has_value());
  auto bad = agg.filter_syscall("reed", false);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind(), ErrorKind::ConfigError);
  EXPECT_NE(bad.error().message().find("'reed'"), std::string::npos);
  std::vector<EbpfEvent> events = {sys(1, 1, 0, 1, 1), sys(2, 1, 1, 1, 1), sys(3, 1, 0, 1, 1)};
  agg.consume(events, interned);
  EXPECT_EQ(agg.stats().syscalls_traced, 1u);
  EXPECT_EQ(agg.stats().filtered_out, 2u);
  ASSERT_TRUE(agg.filter_syscall("read", true).has_value());
  agg.consume(events, interned);
  EXPECT_EQ(agg.stats().syscalls_traced, 4u);
}

EbpfEvent mem(EbpfEventType type, uint64_t ts, uint32_t pid, MemoryOp op, uint64_t addr,
              uint64_t size, StackId stack = 1, uint64_t old_addr = 0) {
  return EbpfEvent::memory_event(type, ts, pid, pid, 0,
                                 MemoryData{.address = addr, .size = size, .old_address = old_addr,
                                            .stack = stack, .op = op});
}

TEST(MemoryAggregatorTest, MatchesFreesByPidAndAddressAndReportsLeaksByStack) {
  MemoryAggregator agg;
  InternTable interned;
  using T = EbpfEventType;
  std::vector<EbpfEvent> events = {
      mem(T::MemoryAlloc, 1, 1, MemoryOp::Malloc, 0x100, 64, 7),
      mem(T::MemoryAlloc, 2, 1, MemoryOp::Calloc, 0x200, 32, 7),
      mem(T::MemoryAlloc, 3, 2, MemoryOp::Malloc, 0x100, 16, 9),  // same address, other process
      mem(T::MemoryFree, 4, 1, MemoryOp::Free, 0x100, 0),
      mem(T::MemoryFree, 5, 1, MemoryOp::Free, 0x999, 0),           // never seen: unmatched
      mem(T::MemoryFree, 6, 1, MemoryOp::Free, 0, 0),               // free(NULL): ignored
      mem(T::MemoryAlloc, 7, 1, MemoryOp::Realloc, 0x300, 128, 8, 0x200),  // moves 0x200
      mem(T::MemoryAlloc, 8, 1, MemoryOp::Malloc, 0, 1 << 30, 7),   // failed malloc: ignored
  };
  agg.consume(events, interned);
  auto s = agg.stats();
  EXPECT_EQ(s.allocations, 4u);
  EXPECT_EQ(s.frees, 2u);  // 0x100 of pid 1, and realloc's 0x200
  EXPECT_EQ(s.unmatched_frees, 1u);
  EXPECT_EQ(s.total_allocated, 64u + 32 + 16 + 128);
  EXPECT_EQ(s.total_freed, 64u + 32);
  EXPECT_EQ(s.active_allocations, 2u);
  EXPECT_EQ(s.active_bytes, 16u + 128);
  auto leaks = agg.outstanding_by_stack();
  ASSERT_EQ(leaks.size(), 2u);
  EXPECT_EQ(leaks[0].pid, 1u);
  EXPECT_EQ(leaks[0].stack, 8u);
  EXPECT_EQ(leaks[0].bytes, 128u);
  EXPECT_EQ(leaks[0].oldest_ns, 7u);
  EXPECT_EQ(leaks[1].pid, 2u);
  EXPECT_EQ(leaks[1].bytes, 16u);
}

TEST(HttpParserTest, RequestLines) {
  auto r = parse_http_request_line("GET /api/items?id=3 HTTP/1.1\r\nHost: x\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->path, "/api/items");
  EXPECT_FALSE(r->truncated);
  auto cut = parse_http_request_line("POST /very/long/pa");
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->path, "/very/long/pa");
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(parse_http_request_line("OPTIONS * HTTP/1.1\r\n")->path, "*");
  EXPECT_FALSE(parse_http_request_line("GET /x SPDY/3\r\n").has_value());
  EXPECT_FALSE(parse_http_request_line("GETTING /x HTTP/1.1").has_value());
  EXPECT_FALSE(parse_http_request_line("get /x HTTP/1.1").has_value());
  EXPECT_FALSE(parse_http_request_line("GET x HTTP/1.1").has_value());
  EXPECT_FALSE(parse_http_request_line("").has_value());
}

TEST(HttpParserTest, StatusLinesAndHttp2) {
  EXPECT_EQ(parse_http_status_line("HTTP/1.1 200 OK\r\n"), 200);
  EXPECT_EQ(parse_http_status_line("HTTP/1.0 404 Not Found"), 404);
  EXPECT_EQ(parse_http_status_line("HTTP/1.1 204\r\n"), 204);
  EXPECT_FALSE(parse_http_status_line("HTTP/1.1 20 OK").has_value());
  EXPECT_FALSE(parse_http_status_line("HTTP/1.1 2000 OK").has_value());
  EXPECT_FALSE(parse_http_status_line("HTTP/1.1 999 X").has_value());
  EXPECT_FALSE(parse_http_status_line("HTTP/2 200").has_value());
  EXPECT_TRUE(is_http2_preface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
  EXPECT_TRUE(is_http2_preface("PRI * HTTP/2.0\r\n"));
  EXPECT_FALSE(is_http2_preface("PRI * HTTP/1.1"));
}

class NetworkAggregatorTest : public ::testing::Test {
 protected:
  EbpfEvent net(EbpfEventType type, uint64_t ts, uint64_t sock, NetDirection dir = NetDirection::None,
                uint32_t bytes = 0, std::string_view payload = {}, NetProtocol proto = NetProtocol::Tcp) {
    NetworkData n{};
    n.socket_id = sock;
    n.bytes = bytes;
    n.direction = dir;
    n.protocol = proto;
    n.local_port = 40000;
    n.remote_port = 8080;
    if (!payload.empty()) n.payload = interned.intern_string(payload);
    SocketEndpoints ep;
    ep.family = SocketEndpoints::kInet;
    ep.local = {127, 0, 0, 1};
    ep.remote = {127, 0, 0, 1};
    auto enc = ep.encode();
    n.endpoints = interned.intern_string(std::string_view(enc.data(), enc.size()));
    return EbpfEvent::network_event(type, ts, 50, 51, 0, n);
  }
  InternTable interned;
  NetworkAggregator agg;
};

TEST_F(NetworkAggregatorTest, ClientConnectionWithPipelinedHttpRequests) {
  using T = EbpfEventType;
  using D = NetDirection;
  std::vector<EbpfEvent> events = {
      net(T::TcpConnect, 100, 1),
      net(T::NetworkPayload, 110, 1, D::Send, 40, "GET /a HTTP/1.1\r\n"),
      net(T::NetworkPacket, 110, 1, D::Send, 40),
      net(T::NetworkPayload, 120, 1, D::Send, 41, "POST /b HTTP/1.1\r\n"),
      net(T::NetworkPacket, 120, 1, D::Send, 41),
      net(T::NetworkPayload, 200, 1, D::Receive, 100, "HTTP/1.1 200 OK\r\n"),
      net(T::NetworkPacket, 200, 1, D::Receive, 100),
      net(T::NetworkPayload, 300, 1, D::Receive, 50, "HTTP/1.1 503 Unavailable\r\n"),
      net(T::NetworkPacket, 300, 1, D::Receive, 50),
      net(T::TcpRetransmit, 310, 1),
      net(T::TcpClose, 400, 1),
  };
  agg.consume(events, interned);
  const auto& s = agg.stats();
  EXPECT_EQ(s.tcp_connections, 1u);
  EXPECT_EQ(s.packets_captured, 4u);
  EXPECT_EQ(s.bytes_sent, 81u);
  EXPECT_EQ(s.bytes_received, 150u);
  EXPECT_EQ(s.retransmits, 1u);
  EXPECT_EQ(s.http_requests, 2u);
  EXPECT_EQ(s.http_responses, 2u);
  auto conns = agg.connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(conns[0].role, ConnectionRole::Client);
  EXPECT_EQ(conns[0].app_protocol, AppProtocol::Http1);
  EXPECT_EQ(conns[0].open_ns, 100u);
  EXPECT_EQ(conns[0].close_ns, 400u);
  ASSERT_TRUE(conns[0].endpoints.has_value());
  EXPECT_EQ(conns[0].remote_port, 8080);
  auto reqs = agg.http_requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].path, "/a");
  EXPECT_EQ(reqs[0].status, 200);
  EXPECT_EQ(reqs[0].start_ns, 110u);
  EXPECT_EQ(reqs[0].end_ns, 200u);
  EXPECT_EQ(reqs[0].request_bytes, 40u);
  EXPECT_EQ(reqs[0].response_bytes, 100u);
  EXPECT_EQ(reqs[1].method, "POST");
  EXPECT_EQ(reqs[1].status, 503);
  EXPECT_EQ(reqs[1].response_bytes, 50u);
  EXPECT_EQ(reqs[1].role, ConnectionRole::Client);
}

TEST_F(NetworkAggregatorTest, ServerRoleUdpSessionsHttp2AndUnansweredRequests) {
  using T = EbpfEventType;
  using D = NetDirection;
  std::vector<EbpfEvent> events = {
      net(T::TcpAccept, 10, 2),
      net(T::NetworkPayload, 20, 2, D::Receive, 30, "GET /health HTTP/1.1\r\n"),
      net(T::TcpClose, 30, 2),  // closed before answering
      net(T::NetworkPacket, 40, 3, D::Send, 10, {}, NetProtocol::Udp),
      net(T::NetworkPacket, 41, 3, D::Send, 10, {}, NetProtocol::Udp),
      net(T::NetworkPacket, 42, 4, D::Receive, 10, {}, NetProtocol::Udp),
      net(T::TcpConnect, 50, 5),
      net(T::NetworkPayload, 60, 5, D::Send, 24, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  };
  agg.consume(events, interned);
  EXPECT_EQ(agg.stats().udp_sessions, 2u);
  EXPECT_EQ(agg.stats().http_responses, 0u);
  auto reqs = agg.http_requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].role, ConnectionRole::Server);
  EXPECT_EQ(reqs[0].status, 0);
  auto conns = agg.connections();
  ASSERT_EQ(conns.size(), 2u);  // closed one, then the open h2 one
  EXPECT_EQ(conns[0].role, ConnectionRole::Server);
  EXPECT_EQ(conns[1].app_protocol, AppProtocol::Http2);
  EXPECT_EQ(conns[1].close_ns, 0u);
}

TEST(CpuAggregatorTest, CountsByStackAndPid) {
  CpuAggregator agg;
  InternTable interned;
  std::vector<EbpfEvent> events = {
      EbpfEvent::cpu_sample(1, 0, 0, 0, CpuSampleData{kNoId, 3}),  // idle, kernel only
      EbpfEvent::cpu_sample(2, 7, 7, 1, CpuSampleData{1, kNoId}),
      EbpfEvent::cpu_sample(3, 7, 8, 1, CpuSampleData{1, kNoId}),
      EbpfEvent::cpu_sample(4, 7, 7, 0, CpuSampleData{2, 3}),
  };
  agg.consume(events, interned);
  auto s = agg.stats();
  EXPECT_EQ(s.samples, 4u);
  EXPECT_EQ(s.idle_samples, 1u);
  EXPECT_EQ(s.kernel_samples, 2u);
  EXPECT_EQ(s.user_samples, 3u);
  EXPECT_EQ(s.distinct_stacks, 3u);
  auto stacks = agg.by_stack();
  ASSERT_EQ(stacks.size(), 3u);
  EXPECT_EQ(stacks[0].pid, 7u);
  EXPECT_EQ(stacks[0].user_stack, 1u);
  EXPECT_EQ(stacks[0].count, 2u);
  EXPECT_EQ(agg.by_pid(), (std::map<uint32_t, uint64_t>{{0, 1}, {7, 3}}));
}

}  // namespace
}  // namespace otlp::ebpf
