#include "bpf/event_decoder.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "core/transport.h"

extern "C" {
#include "bpf/cpu_sample.h"
#include "bpf/memory.h"
#include "bpf/network.h"
#include "bpf/process.h"
#include "bpf/record.h"
#include "bpf/syscall.h"
}

namespace otlp::ebpf {

// The kernel<->user contract, pinned: a change here is a BT_RECORD_VERSION bump.
static_assert(sizeof(bt_record_header) == 24);
static_assert(offsetof(bt_record_header, pid) == 8);
static_assert(offsetof(bt_record_header, kind) == 16);
static_assert(offsetof(bt_record_header, cpu) == 18);
static_assert(offsetof(bt_record_header, aux) == 20);
static_assert(sizeof(bt_syscall_record) == 40);
static_assert(offsetof(bt_syscall_record, ret) == 24);
static_assert(offsetof(bt_syscall_record, duration_ns) == 32);
static_assert(sizeof(bt_cpu_sample_record) == 32 + 2 * 8 * BT_MAX_STACK_DEPTH);
static_assert(offsetof(bt_cpu_sample_record, user_stack) == 32);
static_assert(sizeof(bt_process_record) == 40 + BT_COMM_LEN + BT_FILENAME_LEN);
static_assert(offsetof(bt_process_record, comm) == 40);
static_assert(sizeof(bt_memory_record) == 56 + 8 * BT_MEM_STACK_DEPTH);
static_assert(offsetof(bt_memory_record, stack) == 56);
static_assert(sizeof(bt_sock_endpoints) == 40);
static_assert(sizeof(bt_net_io_record) == 80 + BT_PAYLOAD_MAX);
static_assert(offsetof(bt_net_io_record, payload) == 80);
static_assert(sizeof(bt_tcp_record) == 104);
static_assert(offsetof(bt_tcp_record, old_state) == 96);
// bt_memory_op values are MemoryOp values.
static_assert(BT_MEM_MALLOC == static_cast<int>(MemoryOp::Malloc));
static_assert(BT_MEM_MUNMAP == static_cast<int>(MemoryOp::Munmap));
// The transport description the capacity model uses (core/transport.h) has the same sizes.
static_assert(transport::kSyscallRecordBytes == sizeof(bt_syscall_record));
static_assert(transport::kCpuSampleRecordBytes == sizeof(bt_cpu_sample_record));
static_assert(transport::kProcessRecordBytes == sizeof(bt_process_record));
static_assert(transport::kMemoryRecordBytes == sizeof(bt_memory_record));
static_assert(transport::kNetIoRecordBytes == sizeof(bt_net_io_record));
static_assert(transport::kTcpRecordBytes == sizeof(bt_tcp_record));

namespace {

template <typename T>
std::unexpected<EbpfError> too_short(const char* what, size_t got) {
  return make_error(ErrorKind::FormatError,
                    fmt::format("{} record is {} bytes, expected {}", what, got, sizeof(T)));
}

template <typename T>
T load(std::span<const std::byte> record) {
  T value;
  std::memcpy(&value, record.data(), sizeof(T));
  return value;
}

std::string_view c_string(const char* data, size_t max) {
  return std::string_view(data, strnlen(data, max));
}

StringId intern_endpoints(InternTable& table, const bt_sock_endpoints& ep) {
  if (ep.family != SocketEndpoints::kInet && ep.family != SocketEndpoints::kInet6) return kNoId;
  SocketEndpoints endpoints;
  endpoints.family = ep.family;
  std::memcpy(endpoints.local.data(), ep.local_addr, 16);
  std::memcpy(endpoints.remote.data(), ep.remote_addr, 16);
  const auto blob = endpoints.encode();
  return table.intern_string(std::string_view(blob.data(), blob.size()));
}

NetProtocol protocol_of(uint8_t raw) {
  switch (raw) {
    case 6: return NetProtocol::Tcp;
    case 17: return NetProtocol::Udp;
    default: return NetProtocol::Unknown;
  }
}

StackId intern_frames(InternTable& table, const uint64_t* frames, size_t depth, size_t max) {
  depth = std::min(depth, max);
  if (depth == 0) return kNoId;
  return table.intern_stack(std::span<const uint64_t>(frames, depth));
}

}  // namespace

Result<size_t> EventDecoder::decode(std::span<const std::byte> record, std::vector<EbpfEvent>& out) {
  ++stats_.records;
  auto result = decode_unchecked(record, out);
  if (result) {
    stats_.events += *result;
  } else {
    ++stats_.malformed;
  }
  return result;
}

Result<size_t> EventDecoder::decode_unchecked(std::span<const std::byte> record,
                                              std::vector<EbpfEvent>& out) {
  if (record.size() < sizeof(bt_record_header)) return too_short<bt_record_header>("BPF", record.size());
  const auto hdr = load<bt_record_header>(record);
  if (hdr.version != BT_RECORD_VERSION) {
    return make_error(ErrorKind::FormatError,
                      fmt::format("BPF record version {} (kind {}), this build reads version {}: "
                                  "the BPF objects and the decoder come from different builds",
                                  hdr.version, hdr.kind, BT_RECORD_VERSION));
  }
  const uint64_t ts = hdr.ts_ns;
  switch (hdr.kind) {
    case BT_REC_SYSCALL: {
      if (record.size() < sizeof(bt_syscall_record)) {
        return too_short<bt_syscall_record>("syscall", record.size());
      }
      const auto rec = load<bt_syscall_record>(record);
      out.push_back(EbpfEvent::syscall_event(
          ts, hdr.pid, hdr.tid, hdr.cpu,
          SyscallData{.nr = hdr.aux, .reserved = 0, .ret = rec.ret, .duration_ns = rec.duration_ns}));
      return 1;
    }
    case BT_REC_CPU_SAMPLE: {
      if (record.size() < sizeof(bt_cpu_sample_record)) {
        return too_short<bt_cpu_sample_record>("cpu sample", record.size());
      }
      // Large (2 KiB): copy the fixed part, then each stack once.
      struct {
        bt_record_header hdr;
        uint16_t user_depth;
        uint16_t kernel_depth;
      } head;
      static_assert(offsetof(bt_cpu_sample_record, user_depth) == sizeof(bt_record_header));
      std::memcpy(&head, record.data(), sizeof(bt_record_header) + 2 * sizeof(uint16_t));
      std::vector<uint64_t> frames(BT_MAX_STACK_DEPTH);
      std::memcpy(frames.data(), record.data() + offsetof(bt_cpu_sample_record, user_stack),
                  sizeof(uint64_t) * BT_MAX_STACK_DEPTH);
      const StackId user = intern_frames(table_, frames.data(), head.user_depth, BT_MAX_STACK_DEPTH);
      std::memcpy(frames.data(), record.data() + offsetof(bt_cpu_sample_record, kernel_stack),
                  sizeof(uint64_t) * BT_MAX_STACK_DEPTH);
      const StackId kernel =
          intern_frames(table_, frames.data(), head.kernel_depth, BT_MAX_STACK_DEPTH);
      out.push_back(EbpfEvent::cpu_sample(ts, hdr.pid, hdr.tid, hdr.cpu,
                                          CpuSampleData{.user_stack = user, .kernel_stack = kernel}));
      return 1;
    }
    case BT_REC_PROCESS: {
      if (record.size() < sizeof(bt_process_record)) {
        return too_short<bt_process_record>("process", record.size());
      }
      const auto rec = load<bt_process_record>(record);
      EbpfEventType type;
      switch (hdr.aux) {
        case BT_PROC_EXEC: type = EbpfEventType::ProcessExec; break;
        case BT_PROC_FORK: type = EbpfEventType::ProcessFork; break;
        case BT_PROC_EXIT: type = EbpfEventType::ProcessExit; break;
        default:
          return make_error(ErrorKind::FormatError,
                            fmt::format("process record with unknown op {}", hdr.aux));
      }
      ProcessData data{};
      data.parent_pid = rec.parent_pid;
      data.child_pid = rec.child_pid;
      data.exit_code = rec.exit_code;
      data.comm = table_.intern_string(c_string(rec.comm, sizeof(rec.comm)));
      data.filename = type == EbpfEventType::ProcessExec
                          ? table_.intern_string(c_string(rec.filename, sizeof(rec.filename)))
                          : kNoId;
      out.push_back(EbpfEvent::process_event(type, ts, hdr.pid, hdr.tid, hdr.cpu, data));
      return 1;
    }
    case BT_REC_MEMORY: {
      if (record.size() < sizeof(bt_memory_record)) {
        return too_short<bt_memory_record>("memory", record.size());
      }
      const auto rec = load<bt_memory_record>(record);
      if (hdr.aux >= BT_MEM_OP_COUNT) {
        return make_error(ErrorKind::FormatError,
                          fmt::format("memory record with unknown op {}", hdr.aux));
      }
      const auto op = static_cast<MemoryOp>(hdr.aux);
      const bool release = op == MemoryOp::Free || op == MemoryOp::Munmap;
      MemoryData data{};
      data.address = rec.address;
      data.size = rec.size;
      data.old_address = rec.old_address;
      std::array<uint64_t, BT_MEM_STACK_DEPTH> frames;  // __u64 is not uint64_t's type: copy
      std::memcpy(frames.data(), rec.stack, sizeof(frames));
      data.stack = intern_frames(table_, frames.data(), rec.stack_depth, BT_MEM_STACK_DEPTH);
      data.op = op;
      out.push_back(EbpfEvent::memory_event(
          release ? EbpfEventType::MemoryFree : EbpfEventType::MemoryAlloc, ts, hdr.pid, hdr.tid,
          hdr.cpu, data));
      return 1;
    }
    case BT_REC_NET_IO: {
      if (record.size() < sizeof(bt_net_io_record)) {
        return too_short<bt_net_io_record>("socket I/O", record.size());
      }
      const auto rec = load<bt_net_io_record>(record);
      if (hdr.aux != BT_NET_SEND && hdr.aux != BT_NET_RECV) {
        return make_error(ErrorKind::FormatError,
                          fmt::format("socket I/O record with unknown direction {}", hdr.aux));
      }
      NetworkData data{};
      data.socket_id = rec.socket_id;
      data.bytes = rec.bytes;
      data.endpoints = intern_endpoints(table_, rec.ep);
      data.local_port = rec.ep.local_port;
      data.remote_port = rec.ep.remote_port;
      data.protocol = protocol_of(rec.ep.protocol);
      data.direction = hdr.aux == BT_NET_SEND ? NetDirection::Send : NetDirection::Receive;
      out.push_back(
          EbpfEvent::network_event(EbpfEventType::NetworkPacket, ts, hdr.pid, hdr.tid, hdr.cpu, data));
      if (rec.payload_len == 0) return 1;
      const size_t captured = std::min<size_t>(rec.payload_len, BT_PAYLOAD_MAX);
      data.payload = table_.intern_string(
          std::string_view(reinterpret_cast<const char*>(rec.payload), captured));
      out.push_back(EbpfEvent::network_event(EbpfEventType::NetworkPayload, ts, hdr.pid, hdr.tid,
                                             hdr.cpu, data));
      return 2;
    }
    case BT_REC_TCP_STATE: {
      if (record.size() < sizeof(bt_tcp_record)) return too_short<bt_tcp_record>("TCP", record.size());
      const auto rec = load<bt_tcp_record>(record);
      EbpfEventType type;
      switch (hdr.aux) {
        case BT_TCP_CONNECT: type = EbpfEventType::TcpConnect; break;
        case BT_TCP_ACCEPT: type = EbpfEventType::TcpAccept; break;
        case BT_TCP_CLOSE: type = EbpfEventType::TcpClose; break;
        case BT_TCP_RETRANSMIT: type = EbpfEventType::TcpRetransmit; break;
        default:
          return make_error(ErrorKind::FormatError,
                            fmt::format("TCP record with unknown event {}", hdr.aux));
      }
      NetworkData data{};
      data.socket_id = rec.socket_id;
      data.duration_ns = rec.duration_ns;
      // The event has one byte count (core/event.h): the connection's total in both directions.
      const uint64_t total = rec.bytes_sent + rec.bytes_received;
      data.bytes = static_cast<uint32_t>(std::min<uint64_t>(total, UINT32_MAX));
      data.endpoints = intern_endpoints(table_, rec.ep);
      data.local_port = rec.ep.local_port;
      data.remote_port = rec.ep.remote_port;
      data.protocol = NetProtocol::Tcp;
      data.direction = NetDirection::None;
      data.tcp_state = rec.old_state;
      out.push_back(EbpfEvent::network_event(type, ts, hdr.pid, hdr.tid, hdr.cpu, data));
      return 1;
    }
    default:
      return make_error(ErrorKind::FormatError,
                        fmt::format("BPF record of unknown kind {} ({} bytes)", hdr.kind,
                                    record.size()));
  }
}

}  // namespace otlp::ebpf
