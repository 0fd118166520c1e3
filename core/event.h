// The event model every source (live, tape, simulation) produces and every stage consumes.
//
// An EbpfEvent is a 64-byte POD: a common header (time, pid, tid, cpu, type) and a typed payload
// in a union. Variable-size data (stacks, strings, payload bytes, socket addresses) is never
// stored in the event: it is interned in an InternTable owned by the source, and the event holds
// a 32-bit id. Copying an event is a 64-byte memcpy; a batch of them is one allocation.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace otlp::ebpf {

// Ids into an InternTable. 0 means "none" (e.g. a CPU sample whose user stack could not be
// read); valid ids start at 1.
using StringId = uint32_t;
using StackId = uint32_t;
inline constexpr uint32_t kNoId = 0;

// The seeds' five kinds first (their numeric values are part of the tape format: append only).
enum class EbpfEventType : uint8_t {
  CpuSample = 0,      // perf_event sample: user + kernel stack
  NetworkPacket = 1,  // bytes sent or received on a socket (TCP or UDP)
  Syscall = 2,        // one completed syscall: number, return value, duration (ts = exit)
  MemoryAlloc = 3,    // malloc/calloc/realloc/mmap returned an address
  MemoryFree = 4,     // free/munmap (or the old half of a realloc)
  ProcessExec = 5,
  ProcessExit = 6,
  ProcessFork = 7,
  TcpConnect = 8,      // active open established (we are the client)
  TcpAccept = 9,       // passive open established (we are the server)
  TcpClose = 10,       // connection closed; carries its lifetime and byte totals
  TcpRetransmit = 11,  // a segment was retransmitted
  NetworkPayload = 12  // the first bytes of a read/write on a socket (protocol detection)
};
inline constexpr size_t kEventTypeCount = 13;

std::string_view event_type_name(EbpfEventType type);
// Inverse of event_type_name; also accepts the snake_case spelling ("cpu_sample").
std::optional<EbpfEventType> parse_event_type(std::string_view name);
inline bool is_known_event_type(uint8_t raw) { return raw < kEventTypeCount; }

// ---- Payloads. All trivially copyable, no pointers, at most 40 bytes. ----

struct CpuSampleData {
  StackId user_stack;    // kNoId when the user stack was not captured (e.g. kernel thread)
  StackId kernel_stack;  // kNoId when the sample hit user mode
};

// The event timestamp is the syscall's EXIT (entry = timestamp - duration_ns): events reach
// the ring buffer at exit, so stamping them then keeps each CPU's stream in time order even
// when a syscall blocks for seconds (a blocking accept() stamped at entry would arrive
// "seconds late" for every reorder window).
struct SyscallData {
  uint32_t nr;            // syscall number of the recording machine's ABI (x86_64)
  uint32_t reserved;
  int64_t ret;            // raw return value: negative errno on failure
  uint64_t duration_ns;   // sys_enter -> sys_exit
};

enum class MemoryOp : uint8_t { Malloc = 0, Calloc = 1, Realloc = 2, Mmap = 3, Free = 4, Munmap = 5 };

struct MemoryData {
  uint64_t address;      // returned (alloc) or released (free) address
  uint64_t size;         // requested bytes; 0 for free (the tracer knows the size by address)
  uint64_t old_address;  // realloc: the address given back; 0 otherwise
  StackId stack;         // user stack of the caller, kNoId if not captured
  MemoryOp op;
  uint8_t reserved[3];
};

struct ProcessData {
  uint32_t parent_pid;  // exec/exit: the parent; fork: the forking process (== event pid)
  uint32_t child_pid;   // fork: the new process; 0 otherwise
  int32_t exit_code;    // exit: wait(2)-style status; 0 otherwise
  StringId comm;        // task comm (<= 16 bytes)
  StringId filename;    // exec: the executed file; kNoId otherwise
};

enum class NetProtocol : uint8_t { Unknown = 0, Tcp = 6, Udp = 17 };
enum class NetDirection : uint8_t { None = 0, Send = 1, Receive = 2 };

// Local and remote address of a socket, interned as a 34-byte blob (see SocketEndpoints).
struct NetworkData {
  uint64_t socket_id;    // kernel socket cookie/pointer hash: stable for the socket's lifetime
  uint64_t duration_ns;  // TcpClose: connection lifetime; 0 otherwise
  uint32_t bytes;        // NetworkPacket: bytes moved; TcpClose: total bytes; payload: full length
  StringId endpoints;    // interned SocketEndpoints, kNoId if unknown
  StringId payload;      // NetworkPayload: the captured first bytes; kNoId otherwise
  uint16_t local_port;
  uint16_t remote_port;
  NetProtocol protocol;
  NetDirection direction;
  uint8_t tcp_state;     // kernel TCP state (TcpClose: state before close)
  uint8_t reserved;
};

// Address pair of a socket. Stored as an interned blob: family(1) + local(16) + remote(16).
struct SocketEndpoints {
  static constexpr uint8_t kInet = 2;    // AF_INET: only the first 4 bytes of each address
  static constexpr uint8_t kInet6 = 10;  // AF_INET6
  static constexpr size_t kEncodedSize = 33;

  uint8_t family = 0;
  std::array<uint8_t, 16> local{};
  std::array<uint8_t, 16> remote{};

  std::array<char, kEncodedSize> encode() const;
  static std::optional<SocketEndpoints> decode(std::string_view blob);
  // "127.0.0.1" / "::1" style text for either side.
  static std::string format_address(uint8_t family, const std::array<uint8_t, 16>& address);
  bool operator==(const SocketEndpoints&) const = default;
};

inline constexpr size_t kPayloadSize = 40;

struct EbpfEvent {
  uint64_t timestamp_ns;   // kernel CLOCK_MONOTONIC nanoseconds
  uint32_t pid;            // process id (tgid); 0 is the idle task, a real value
  uint32_t tid;            // thread id
  uint16_t cpu;
  EbpfEventType event_type;
  uint8_t flags;           // reserved, 0
  uint32_t reserved;       // keeps the payload 8-aligned; 0
  union Payload {
    CpuSampleData cpu_sample;
    SyscallData syscall;
    MemoryData memory;
    ProcessData process;
    NetworkData network;
    std::array<std::byte, kPayloadSize> raw;
  } payload;

  // Builders zero every byte first so that equal events compare (and hash, and compress) equal.
  static EbpfEvent make(EbpfEventType type, uint64_t timestamp_ns, uint32_t pid, uint32_t tid,
                        uint16_t cpu = 0);
  static EbpfEvent cpu_sample(uint64_t ts, uint32_t pid, uint32_t tid, uint16_t cpu,
                              CpuSampleData data);
  static EbpfEvent syscall_event(uint64_t ts, uint32_t pid, uint32_t tid, uint16_t cpu,
                                 SyscallData data);
  static EbpfEvent memory_event(EbpfEventType type, uint64_t ts, uint32_t pid, uint32_t tid,
                                uint16_t cpu, MemoryData data);
  static EbpfEvent process_event(EbpfEventType type, uint64_t ts, uint32_t pid, uint32_t tid,
                                 uint16_t cpu, ProcessData data);
  static EbpfEvent network_event(EbpfEventType type, uint64_t ts, uint32_t pid, uint32_t tid,
                                 uint16_t cpu, NetworkData data);

  std::chrono::nanoseconds timestamp() const { return std::chrono::nanoseconds(timestamp_ns); }
  // The seeds' `data`: the payload bytes of this event's type (a view into the event).
  std::span<const std::byte> data() const;

  bool operator==(const EbpfEvent& other) const {
    return std::memcmp(this, &other, sizeof(EbpfEvent)) == 0;
  }
};

static_assert(std::is_trivially_copyable_v<EbpfEvent>);
static_assert(sizeof(EbpfEvent) == 64, "EbpfEvent is one cache line; grow with care");
static_assert(offsetof(EbpfEvent, payload) == 24);
static_assert(sizeof(NetworkData) <= kPayloadSize && sizeof(MemoryData) <= kPayloadSize);

// Which payload member is meaningful for a type. Each kind's fields are described by its table
// in core/payload_fields.h.
enum class PayloadKind : uint8_t { CpuSample, Syscall, Memory, Process, Network };
inline constexpr size_t kPayloadKindCount = 5;
inline constexpr std::array<PayloadKind, kEventTypeCount> kPayloadKindOfType{
    PayloadKind::CpuSample,  // CpuSample
    PayloadKind::Network,    // NetworkPacket
    PayloadKind::Syscall,    // Syscall
    PayloadKind::Memory,     // MemoryAlloc
    PayloadKind::Memory,     // MemoryFree
    PayloadKind::Process,    // ProcessExec
    PayloadKind::Process,    // ProcessExit
    PayloadKind::Process,    // ProcessFork
    PayloadKind::Network,    // TcpConnect
    PayloadKind::Network,    // TcpAccept
    PayloadKind::Network,    // TcpClose
    PayloadKind::Network,    // TcpRetransmit
    PayloadKind::Network,    // NetworkPayload
};
// Unknown types (which validate_event refuses) read as Network, as they always have.
constexpr PayloadKind payload_kind(EbpfEventType type) {
  const auto index = static_cast<size_t>(type);
  return index < kEventTypeCount ? kPayloadKindOfType[index] : PayloadKind::Network;
}
size_t payload_size(EbpfEventType type);

// Why an event was refused at the pipeline boundary (see validate_event).
enum class RejectReason : uint8_t {
  UnknownType = 0,
  ZeroTimestamp,       // kernel monotonic time is never 0 for a real event
  IdleTaskThread,      // pid 0 (idle) must come with tid 0
  MissingThread,       // a non-idle event must name its thread
  SyscallNumber,       // syscall number beyond any ABI's table
  MemoryOpMismatch,    // e.g. MemoryFree carrying a malloc op
  NetworkDirection,    // direction/protocol values out of range
  BufferFull,          // no room and nowhere to flush to (no sink set)
};
inline constexpr size_t kRejectReasonCount = 8;
std::string_view reject_reason_name(RejectReason reason);

// Highest syscall number in any Linux ABI table is < 1024 (x86_64 ~460, x32 adds 512).
inline constexpr uint32_t kMaxSyscallNr = 1023;

// Events lost before they reached user space (ring-buffer overflow), as the kernel side
// counted them. Recorded, replayed and reported like events: nothing is lost silently.
struct LossRecord {
  uint64_t timestamp_ns;  // when the loss was observed
  uint16_t cpu;
  uint64_t count;         // events lost on that CPU since the previous record
  bool operator==(const LossRecord&) const = default;
};

// What every source yields: events in delivery order plus losses observed in the same span.
// Interned ids refer to the InternTable of the source that produced the batch.
struct EventBatch {
  std::vector<EbpfEvent> events;
  std::vector<LossRecord> losses;

  bool empty() const { return events.empty() && losses.empty(); }
  void clear() { events.clear(); losses.clear(); }
  bool operator==(const EventBatch&) const = default;
};

}  // namespace otlp::ebpf

// The payload field tables, and validate_event() derived from them.
#include "core/payload_fields.h"
