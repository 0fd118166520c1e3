// The kernel -> user transport as `bpftape record` sets it up: which BPF ring buffer each event
// type travels through, how many ring bytes its record takes, the default ring sizes and the
// wakeup policy (bt_submit in bpf/common.bpf.h). One description for two users: the recorder
// configures its probes from it (recorder/live_source.cc), and the capacity model
// (simulator/capacity_model.*) replays a tape's arrival pattern through a model of it. The
// record sizes are pinned to the BPF structs at compile time in bpf/event_decoder.cc.
// Header-only and free of libbpf: replay-only builds (BPFTAPE_BPF=OFF) use it too.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/event.h"

namespace otlp::ebpf::transport {

// One ring per probe object (BPF_MAP_TYPE_RINGBUF is shared by all CPUs).
enum class Ring : uint8_t { Process = 0, Syscall, CpuSample, Network, Memory };
inline constexpr size_t kRingCount = 5;

constexpr std::string_view ring_name(Ring ring) {
  constexpr std::array<std::string_view, kRingCount> kNames{"process", "syscall", "cpu", "network",
                                                            "memory"};
  return kNames[static_cast<size_t>(ring)];
}

// Bytes of each BPF record struct (bpf/*.h; static_asserts in bpf/event_decoder.cc).
inline constexpr uint32_t kSyscallRecordBytes = 40;            // bt_syscall_record
inline constexpr uint32_t kCpuSampleRecordBytes = 32 + 2 * 8 * 127;  // bt_cpu_sample_record
inline constexpr uint32_t kProcessRecordBytes = 40 + 16 + 256;  // bt_process_record
inline constexpr uint32_t kMemoryRecordBytes = 56 + 8 * 32;     // bt_memory_record
inline constexpr uint32_t kNetIoRecordBytes = 80 + 128;         // bt_net_io_record
inline constexpr uint32_t kTcpRecordBytes = 104;                // bt_tcp_record

// The kernel's ring buffer puts an 8-byte header before each record and keeps records 8-byte
// aligned (BPF_RINGBUF_HDR_SZ, round_up in __bpf_ringbuf_reserve).
constexpr uint32_t ring_footprint(uint32_t record_bytes) { return (record_bytes + 8 + 7) & ~7u; }

struct RingRoute {
  Ring ring;
  // Ring bytes this event's record occupies; 0 when the event comes out of another event's
  // record (a NetworkPayload is decoded from the same net I/O record as its NetworkPacket).
  uint32_t footprint;
};

constexpr RingRoute ring_route(EbpfEventType type) {
  switch (type) {
    case EbpfEventType::CpuSample: return {Ring::CpuSample, ring_footprint(kCpuSampleRecordBytes)};
    case EbpfEventType::NetworkPacket: return {Ring::Network, ring_footprint(kNetIoRecordBytes)};
    case EbpfEventType::NetworkPayload: return {Ring::Network, 0};
    case EbpfEventType::Syscall: return {Ring::Syscall, ring_footprint(kSyscallRecordBytes)};
    case EbpfEventType::MemoryAlloc:
    case EbpfEventType::MemoryFree: return {Ring::Memory, ring_footprint(kMemoryRecordBytes)};
    case EbpfEventType::ProcessExec:
    case EbpfEventType::ProcessExit:
    case EbpfEventType::ProcessFork: return {Ring::Process, ring_footprint(kProcessRecordBytes)};
    case EbpfEventType::TcpConnect:
    case EbpfEventType::TcpAccept:
    case EbpfEventType::TcpClose:
    case EbpfEventType::TcpRetransmit: return {Ring::Network, ring_footprint(kTcpRecordBytes)};
  }
  return {Ring::Process, 0};
}

// Default ring sizes: room for >= 100 ms of the heaviest stream each probe sees here (syscall
// storm ~4 M records/s of 48 ring bytes; memory similar), far less for the low-rate ones.
inline constexpr std::array<uint32_t, kRingCount> kDefaultRingBytes{
    1u << 20,   // process
    16u << 20,  // syscall
    1u << 20,   // cpu
    4u << 20,   // network
    16u << 20,  // memory
};
constexpr uint32_t default_ring_bytes(Ring ring) { return kDefaultRingBytes[static_cast<size_t>(ring)]; }

// Wakeup policy (bt_submit in bpf/common.bpf.h): programs wake the consumer at once only when
// it announced that it sleeps; a consumer that polls (ConsumerPacing's Lazy wait, or one that
// does not speak the protocol) is woken once this much waits in a ring.
inline constexpr uint64_t kDefaultWakeupBytes = 256u << 10;

// How the recorder's consumer waits between drains. RingBufferDrain::paced_drain runs it
// against the kernel; the capacity model (simulator/capacity_model.cc) runs the same policy
// against a tape's arrivals. Every wakeup has a price: in the traced task an irq_work (a
// self-IPI, on a VM an exit) when a program wakes the consumer, and in the consumer a context
// switch (measured ~100 µs of CPU per wakeup on the development VM). So:
//  - Asleep: blocked in epoll with the shared consumer state set to "asleep": the first record
//    any program submits wakes it (one wakeup per sleep), else idle_timeout_ns passes. Used
//    when nothing came: the start of a burst is seen at once.
//  - Streaming: records come at >= stream_rate: it sleeps a tick, drains, and no program
//    wakes anyone. Delivery latency ~ one tick; the cost of waking moves from the traced tasks
//    to the consumer's own timer. The tick is tick_ns up to coalesce_rate; above, it grows
//    with the rate (up to max_tick_ns), as NICs coalesce interrupts: a consumer that drains
//    right behind the producer costs the producer too (measured here on the `dd` storm,
//    probes alone: draining every 50 µs made dd 7% slower than every 1 ms), and at storm rates
//    throughput matters more than the last hundred microseconds. Below, the tick is at least
//    long enough to carry records_per_tick records at the rate seen (up to max_tick_ns): a
//    tick costs the consumer ~20 µs of CPU on the development VM whatever it carries, so 50 µs
//    ticks at 10 k records/s (one record per tick) cost a fifth of a CPU for no gain in
//    latency that the machine can deliver (bench/latency_floor).
//  - Lazy: records trickle (CPU samples, a quiet service): it sleeps a lazy period between
//    drains, and programs wake it only once wakeup_bytes wait. The period starts at
//    lazy_min_ns after a wakeup (a probe: a stream that is starting shows its rate within it)
//    and doubles while the rate stays low, up to lazy_ns. Bounds the consumer's wakeups to
//    1/lazy_ns at low rates, at the price of up to lazy_ns of delivery latency.
// After each drain, the records it found over the time since the previous drain give the rate:
// >= stream_rate -> Streaming; lower -> Lazy (a longer period each time); none -> Asleep from
// Streaming after empty_ticks empty ticks in a row (a stream with gaps does not bounce through
// wakeups), from Lazy once even the longest period found nothing.
class ConsumerPacing {
 public:
  struct Options {
    uint64_t tick_ns = 50'000;
    uint64_t coalesce_rate = 200'000;  // records/s
    uint64_t max_tick_ns = 1'000'000;
    uint64_t lazy_min_ns = 1'000'000;
    uint64_t lazy_ns = 50'000'000;
    uint64_t idle_timeout_ns = 100'000'000;
    uint64_t stream_rate = 5'000;  // records/s
    uint32_t empty_ticks = 4;
    uint32_t records_per_tick = 4;
  };
  enum class Wait : uint8_t { Asleep, Streaming, Lazy };

  ConsumerPacing() = default;
  explicit ConsumerPacing(const Options& options) : options_(options) {}

  // After a drain that consumed `records`, `since_ns` after the previous drain: how to wait
  // before the next one.
  Wait after_drain(size_t records, uint64_t since_ns) {
    const Wait was = wait_;
    if (records == 0) {
      if (was == Wait::Streaming && ++empty_ticks_ < options_.empty_ticks) return wait_;
      if (was == Wait::Lazy && lazy_period_ns_ < options_.lazy_ns) {
        lazy_period_ns_ = std::min(options_.lazy_ns, 2 * lazy_period_ns_);
        return wait_;
      }
      empty_ticks_ = 0;
      wait_ = Wait::Asleep;
      return wait_;
    }
    empty_ticks_ = 0;
    const bool busy = static_cast<double>(records) * 1e9 >=
                      static_cast<double>(options_.stream_rate) * static_cast<double>(since_ns);
    if (busy) {
      wait_ = Wait::Streaming;
      const double rate = static_cast<double>(records) * 1e9 / static_cast<double>(std::max<uint64_t>(since_ns, 1));
      const double coalesced = static_cast<double>(options_.tick_ns) * rate /
                               static_cast<double>(std::max<uint64_t>(options_.coalesce_rate, 1));
      const double carrying = static_cast<double>(options_.records_per_tick) * 1e9 / rate;
      const double stretched = std::max(coalesced, carrying);
      tick_ns_ = static_cast<uint64_t>(std::clamp(stretched, static_cast<double>(options_.tick_ns),
                                                  static_cast<double>(std::max(options_.tick_ns, options_.max_tick_ns))));
    } else {
      lazy_period_ns_ = was == Wait::Lazy ? std::min(options_.lazy_ns, 2 * lazy_period_ns_)
                                          : options_.lazy_min_ns;
      wait_ = Wait::Lazy;
    }
    return wait_;
  }
  Wait next_wait() const { return wait_; }
  // How long the next wait lasts at most (Asleep: unless a program wakes it; Lazy: unless
  // wakeup_bytes wait).
  uint64_t wait_ns() const {
    switch (wait_) {
      case Wait::Asleep: return options_.idle_timeout_ns;
      case Wait::Streaming: return tick_ns_;
      case Wait::Lazy: return lazy_period_ns_;
    }
    return options_.idle_timeout_ns;
  }
  const Options& options() const { return options_; }

 private:
  Options options_;
  Wait wait_ = Wait::Asleep;
  uint32_t empty_ticks_ = 0;
  uint64_t lazy_period_ns_ = 0;
  uint64_t tick_ns_ = 0;  // streaming: tick_ns, stretched above coalesce_rate
};

// The threshold a ring actually gets: a quarter of a small ring, so that "never let the ring
// fill" still holds when the ring is smaller than the configured threshold.
constexpr uint64_t effective_wakeup_bytes(uint64_t wakeup_bytes, uint64_t ring_bytes) {
  return std::min(wakeup_bytes, ring_bytes / 4);
}

// Which ring a BPF program (by the name the kernel keeps, at most 15 characters) feeds;
// nullopt for programs that are not bpftape's.
constexpr std::optional<Ring> ring_of_program(std::string_view name) {
  constexpr std::pair<std::string_view, Ring> kPrefixes[] = {
      {"bt_sys_", Ring::Syscall},        {"bt_process_", Ring::Process},
      {"bt_cpu_sample", Ring::CpuSample}, {"bt_malloc", Ring::Memory},
      {"bt_calloc", Ring::Memory},       {"bt_realloc", Ring::Memory},
      {"bt_free", Ring::Memory},         {"bt_mmap", Ring::Memory},
      {"bt_munmap", Ring::Memory},       {"bt_inet_sock", Ring::Network},
      {"bt_tcp_", Ring::Network},        {"bt_sock_", Ring::Network},
      {"bt_net_", Ring::Network},
  };
  for (const auto& [prefix, ring] : kPrefixes) {
    if (name.starts_with(prefix)) return ring;
  }
  return std::nullopt;
}

}  // namespace otlp::ebpf::transport
