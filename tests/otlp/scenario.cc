#include "tests/otlp/scenario.h"

namespace otlp::ebpf::testing {

EbpfEvent Scenario::net(EbpfEventType type, uint64_t ts, uint32_t pid, uint64_t sock, bool server,
                        NetDirection dir, uint32_t bytes, std::string_view payload,
                        uint64_t duration) {
  NetworkData n{};
  n.socket_id = sock;
  n.bytes = bytes;
  n.direction = dir;
  n.protocol = NetProtocol::Tcp;
  n.duration_ns = duration;
  SocketEndpoints ep;
  ep.family = SocketEndpoints::kInet;
  if (server) {  // nginx: 10.0.0.2:80 <- 10.0.0.7:51000
    ep.local = {10, 0, 0, 2};
    ep.remote = {10, 0, 0, 7};
    n.local_port = 80;
    n.remote_port = 51000;
  } else {  // curl: 10.0.0.9:42000 -> 10.0.0.2:8080
    ep.local = {10, 0, 0, 9};
    ep.remote = {10, 0, 0, 2};
    n.local_port = 42000;
    n.remote_port = 8080;
  }
  auto enc = ep.encode();
  n.endpoints = interned.intern_string(std::string_view(enc.data(), enc.size()));
  if (!payload.empty()) n.payload = interned.intern_string(payload);
  return EbpfEvent::network_event(type, ts, pid, pid + 1, 0, n);
}

Scenario::Scenario() {
  using T = EbpfEventType;
  using D = NetDirection;
  recording.recording_id = "rec-0001";
  recording.clock = ClockReference{kMonoBase, kUnixBase};
  recording.start_ns = kMonoBase + 1'000;
  recording.end_ns = kMonoBase + 10'000'000;

  processes.upsert(ProcessInfo{.pid = 100, .ppid = 1, .comm = "nginx", .exe = "/usr/sbin/nginx",
                               .cmdline = {"nginx", "-g", "daemon off;"}});
  processes.upsert(ProcessInfo{.pid = 200, .ppid = 1, .comm = "curl", .exe = "/usr/bin/curl",
                               .cmdline = {"curl", "-d", "@body", "http://10.0.0.2:8080/x"}});

  const uint64_t t = kMonoBase;
  // Server: accept at +2 ms, GET at +3 ms, 200 at +3.5 ms, close at +5 ms.
  events.push_back(net(T::TcpAccept, t + 2'000'000, 100, 0xA1, true));
  events.push_back(net(T::NetworkPayload, t + 3'000'000, 100, 0xA1, true, D::Receive, 120,
                       "GET /api/items?page=2 HTTP/1.1\r\nHost: x\r\n"));
  events.push_back(net(T::NetworkPacket, t + 3'000'000, 100, 0xA1, true, D::Receive, 120));
  events.push_back(net(T::NetworkPayload, t + 3'500'000, 100, 0xA1, true, D::Send, 900,
                       "HTTP/1.1 200 OK\r\n"));
  events.push_back(net(T::NetworkPacket, t + 3'500'000, 100, 0xA1, true, D::Send, 900));
  events.push_back(net(T::TcpClose, t + 5'000'000, 100, 0xA1, true, D::None, 1020, {}, 3'000'000));
  // Client: connect at +4 ms, POST at +4.1 ms, 503 at +6 ms, retransmit; still open at the end.
  events.push_back(net(T::TcpConnect, t + 4'000'000, 200, 0xB2, false));
  events.push_back(net(T::NetworkPayload, t + 4'100'000, 200, 0xB2, false, D::Send, 300,
                       "POST /x HTTP/1.1\r\n"));
  events.push_back(net(T::NetworkPacket, t + 4'100'000, 200, 0xB2, false, D::Send, 300));
  events.push_back(net(T::TcpRetransmit, t + 4'200'000, 200, 0xB2, false));
  events.push_back(net(T::NetworkPayload, t + 6'000'000, 200, 0xB2, false, D::Receive, 70,
                       "HTTP/1.1 503 Service Unavailable\r\n"));
  events.push_back(net(T::NetworkPacket, t + 6'000'000, 200, 0xB2, false, D::Receive, 70));

  // Syscalls of nginx: 3 reads (1000, 2000, 3000 ns; one EAGAIN), 1 write (500 ns).
  events.push_back(EbpfEvent::syscall_event(t + 2'100'000, 100, 101, 0, {0, 0, 10, 1000}));
  events.push_back(EbpfEvent::syscall_event(t + 2'200'000, 100, 101, 0, {0, 0, -11, 2000}));
  events.push_back(EbpfEvent::syscall_event(t + 2'300'000, 100, 101, 0, {0, 0, 5, 3000}));
  events.push_back(EbpfEvent::syscall_event(t + 2'400'000, 100, 101, 0, {1, 0, 5, 500}));

  // Memory of curl: 100 B and 4096 B allocated, the 100 B freed.
  StackId alloc_stack = interned.intern_stack(std::vector<uint64_t>{0x401000, 0x402000});
  events.push_back(EbpfEvent::memory_event(T::MemoryAlloc, t + 4'300'000, 200, 201, 0,
                                           {0x1000, 100, 0, alloc_stack, MemoryOp::Malloc, {}}));
  events.push_back(EbpfEvent::memory_event(T::MemoryAlloc, t + 4'400'000, 200, 201, 0,
                                           {0x2000, 4096, 0, alloc_stack, MemoryOp::Malloc, {}}));
  events.push_back(EbpfEvent::memory_event(T::MemoryFree, t + 4'500'000, 200, 201, 0,
                                           {0x1000, 0, 0, kNoId, MemoryOp::Free, {}}));

  // CPU samples: nginx 3x in user stack A (main <- work), 1x kernel+user; idle 2x.
  StackId user_a = interned.intern_stack(std::vector<uint64_t>{0x555000, 0x556000});  // leaf first
  StackId kern_a = interned.intern_stack(std::vector<uint64_t>{0xffffffff81000000});
  for (int i = 0; i < 3; ++i) {
    events.push_back(EbpfEvent::cpu_sample(t + 7'000'000 + i, 100, 101, 0, {user_a, kNoId}));
  }
  events.push_back(EbpfEvent::cpu_sample(t + 7'100'000, 100, 101, 1, {user_a, kern_a}));
  events.push_back(EbpfEvent::cpu_sample(t + 7'200'000, 0, 0, 1, {kNoId, kNoId}));
  events.push_back(EbpfEvent::cpu_sample(t + 7'300'000, 0, 0, 0, {kNoId, kNoId}));
}

EbpfOtlpConverter Scenario::converter(ResourceConfig resource) const {
  EbpfOtlpConverter c;
  c.with_resource(std::move(resource)).with_recording(recording).with_tracer().with_meter();
  return c;
}

}  // namespace otlp::ebpf::testing
