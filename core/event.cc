#include "core/event.h"

#include <arpa/inet.h>

#include <string>

namespace otlp::ebpf {
namespace {

constexpr std::array<std::string_view, kEventTypeCount> kEventTypeNames{
    "CpuSample",  "NetworkPacket", "Syscall",  "MemoryAlloc",   "MemoryFree",
    "ProcessExec", "ProcessExit",  "ProcessFork", "TcpConnect", "TcpAccept",
    "TcpClose",   "TcpRetransmit", "NetworkPayload"};

constexpr std::array<std::string_view, kEventTypeCount> kEventTypeSnakeNames{
    "cpu_sample",  "network_packet", "syscall",  "memory_alloc",   "memory_free",
    "process_exec", "process_exit",  "process_fork", "tcp_connect", "tcp_accept",
    "tcp_close",   "tcp_retransmit", "network_payload"};

template <typename T>
EbpfEvent with_payload(EbpfEventType type, uint64_t ts, uint32_t pid, uint32_t tid,
                       uint16_t cpu, const T& data) {
  EbpfEvent event = EbpfEvent::make(type, ts, pid, tid, cpu);
  std::memcpy(&event.payload, &data, sizeof(T));
  return event;
}

}  // namespace

std::string_view event_type_name(EbpfEventType type) {
  auto index = static_cast<size_t>(type);
  return index < kEventTypeCount ? kEventTypeNames[index] : std::string_view("Unknown");
}

std::optional<EbpfEventType> parse_event_type(std::string_view name) {
  for (size_t i = 0; i < kEventTypeCount; ++i) {
    if (name == kEventTypeNames[i] || name == kEventTypeSnakeNames[i]) {
      return static_cast<EbpfEventType>(i);
    }
  }
  return std::nullopt;
}

size_t payload_size(EbpfEventType type) {
  return payload_layout(payload_kind(type)).size;
}

EbpfEvent EbpfEvent::make(EbpfEventType type, uint64_t timestamp_ns, uint32_t pid, uint32_t tid,
                          uint16_t cpu) {
  EbpfEvent event;
  std::memset(&event, 0, sizeof(event));
  event.timestamp_ns = timestamp_ns;
  event.pid = pid;
  event.tid = tid;
  event.cpu = cpu;
  event.event_type = type;
  return event;
}

EbpfEvent EbpfEvent::cpu_sample(uint64_t ts, uint32_t pid, uint32_t tid, uint16_t cpu,
                                CpuSampleData data) {
  return with_payload(EbpfEventType::CpuSample, ts, pid, tid, cpu, data);
}

EbpfEvent EbpfEvent::syscall_event(uint64_t ts, uint32_t pid, uint32_t tid, uint16_t cpu,
                                   SyscallData data) {
  return with_payload(EbpfEventType::Syscall, ts, pid, tid, cpu, data);
}

EbpfEvent EbpfEvent::memory_event(EbpfEventType type, uint64_t ts, uint32_t pid, uint32_t tid,
                                  uint16_t cpu, MemoryData data) {
  return with_payload(type, ts, pid, tid, cpu, data);
}

EbpfEvent EbpfEvent::process_event(EbpfEventType type, uint64_t ts, uint32_t pid, uint32_t tid,
                                   uint16_t cpu, ProcessData data) {
  return with_payload(type, ts, pid, tid, cpu, data);
}

EbpfEvent EbpfEvent::network_event(EbpfEventType type, uint64_t ts, uint32_t pid, uint32_t tid,
                                   uint16_t cpu, NetworkData data) {
  return with_payload(type, ts, pid, tid, cpu, data);
}

std::span<const std::byte> EbpfEvent::data() const {
  if (!is_known_event_type(static_cast<uint8_t>(event_type))) return {};
  return std::span<const std::byte>(payload.raw.data(), payload_size(event_type));
}

std::string_view reject_reason_name(RejectReason reason) {
  switch (reason) {
    case RejectReason::UnknownType: return "unknown event type";
    case RejectReason::ZeroTimestamp: return "zero timestamp";
    case RejectReason::IdleTaskThread: return "pid 0 with a non-zero tid";
    case RejectReason::MissingThread: return "non-idle event with tid 0";
    case RejectReason::SyscallNumber: return "syscall number out of range";
    case RejectReason::MemoryOpMismatch: return "memory op does not match event type";
    case RejectReason::NetworkDirection: return "network direction or protocol out of range";
    case RejectReason::BufferFull: return "buffer full and no sink to flush to";
  }
  return "unknown";
}

std::array<char, SocketEndpoints::kEncodedSize> SocketEndpoints::encode() const {
  std::array<char, kEncodedSize> out{};
  out[0] = static_cast<char>(family);
  std::memcpy(out.data() + 1, local.data(), 16);
  std::memcpy(out.data() + 17, remote.data(), 16);
  return out;
}

std::optional<SocketEndpoints> SocketEndpoints::decode(std::string_view blob) {
  if (blob.size() != kEncodedSize) return std::nullopt;
  SocketEndpoints endpoints;
  endpoints.family = static_cast<uint8_t>(blob[0]);
  if (endpoints.family != kInet && endpoints.family != kInet6) return std::nullopt;
  std::memcpy(endpoints.local.data(), blob.data() + 1, 16);
  std::memcpy(endpoints.remote.data(), blob.data() + 17, 16);
  return endpoints;
}

std::string SocketEndpoints::format_address(uint8_t family,
                                            const std::array<uint8_t, 16>& address) {
  char text[INET6_ADDRSTRLEN] = {};
  int af = family == kInet6 ? AF_INET6 : AF_INET;
  if (inet_ntop(af, address.data(), text, sizeof(text)) == nullptr) return "?";
  return text;
}

}  // namespace otlp::ebpf
