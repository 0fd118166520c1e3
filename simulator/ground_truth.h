// GroundTruth: what the pipeline must report. It watches both ends:
// - the world side (FateObserver): every emitted event's fate — dropped in a ring or delivered
//   to user space — with counts per type and CPU and an order-independent digest of the
//   delivered multiset;
// - the pipeline side (Aggregator): the events the pipeline delivered, in its order, feeding
//   a digest of the same kind (equal digests: nothing lost, nothing duplicated), an order
//   check, and an independent oracle of every aggregate — deliberately plain code (ordered
//   maps, nothing shared with core/tracers), so a bug in the tracers shows up as a
//   disagreement instead of being reproduced. Order-sensitive aggregates (memory pairing,
//   HTTP request/response matching) are computed in the pipeline's order, which the order
//   check ties to timestamp order except for the events the sorter counted late.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "core/tracers/aggregator.h"
#include "simulator/world.h"

namespace bpftape::sim {

struct SyscallTruth {
  uint64_t count = 0;
  uint64_t errors = 0;
  uint64_t duration_sum = 0;
  bool operator==(const SyscallTruth&) const = default;
};

struct MemoryTruth {
  uint64_t allocations = 0;
  uint64_t frees = 0;
  uint64_t unmatched_frees = 0;
  uint64_t total_allocated = 0;
  uint64_t total_freed = 0;
  uint64_t active_bytes = 0;
};

struct NetworkTruth {
  uint64_t tcp_connections = 0;
  uint64_t packets = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t closed = 0;
  uint64_t http_requests = 0;  // request lines delivered
  // (method, path, status) -> count of requests answered with that status
  std::map<std::tuple<std::string, std::string, int>, uint64_t> answered;
};

// Order-independent digest of a multiset of events: equal multisets give equal digests.
struct MultisetDigest {
  uint64_t count = 0;
  uint64_t sum = 0;      // sum of one 64-bit hash of each event
  uint64_t sum_sq = 0;   // sum of a second, independent hash: two must collide at once
  void add(const EbpfEvent& event);
  bool operator==(const MultisetDigest&) const = default;
};

// The same per payload field (from the tables in core/payload_fields.h) and for the header:
// a multiset digest of (event type, value) for each. When the whole-event digests of two
// streams differ, the fields whose digests differ say what changed ("memory.stack") - a
// stage that dropped or corrupted one field shows up as that field, not as "the events differ".
class FieldDigests {
 public:
  FieldDigests();
  void add(const EbpfEvent& event);
  // "kind.field" (or "header") for every digest that differs from `other`'s, in table order.
  std::vector<std::string> differing(const FieldDigests& other) const;
  bool operator==(const FieldDigests&) const = default;

 private:
  struct Sums {
    uint64_t sum = 0;
    uint64_t sum_sq = 0;
    bool operator==(const Sums&) const = default;
  };
  std::vector<Sums> sums_;  // [0]: header; then every kind's fields, kind by kind
};

class GroundTruth : public FateObserver, public otlp::ebpf::Aggregator {
 public:
  // World side.
  void on_dropped(const EbpfEvent& event) override;
  void on_delivered(const EbpfEvent& event, const otlp::ebpf::InternTable& interned) override;
  // Pipeline side.
  void consume(std::span<const EbpfEvent> events, const otlp::ebpf::InternTable& interned) override;

  uint64_t emitted() const { return emitted_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t delivered() const { return delivered_; }
  const std::map<uint16_t, uint64_t>& dropped_by_cpu() const { return dropped_by_cpu_; }
  const std::array<uint64_t, otlp::ebpf::kEventTypeCount>& delivered_by_type() const {
    return delivered_by_type_;
  }
  const MultisetDigest& delivered_digest() const { return delivered_digest_; }
  // What the pipeline handed on.
  const MultisetDigest& output_digest() const { return output_digest_; }
  // Empty when the output and delivered multisets agree field by field; else ", fields that
  // differ: ..." naming them (appended to the digest check's message).
  std::string output_field_differences() const;
  const std::array<uint64_t, otlp::ebpf::kEventTypeCount>& output_by_type() const {
    return output_by_type_;
  }
  // Output events older than one already output (must equal the sorter's late count).
  uint64_t output_inversions() const { return output_inversions_; }
  const std::map<uint32_t, SyscallTruth>& syscalls() const { return syscalls_; }
  const MemoryTruth& memory() const { return memory_; }
  // Outstanding bytes per (pid, stack).
  const std::map<std::pair<uint32_t, uint32_t>, uint64_t>& outstanding() const;
  const NetworkTruth& network() const { return network_; }
  // (pid, user stack, kernel stack) -> samples
  const std::map<std::tuple<uint32_t, uint32_t, uint32_t>, uint64_t>& cpu_samples() const {
    return cpu_samples_;
  }

 private:
  void on_memory(const EbpfEvent& e);
  void on_network(const EbpfEvent& e, const otlp::ebpf::InternTable& interned);

  uint64_t emitted_ = 0;
  uint64_t dropped_ = 0;
  uint64_t delivered_ = 0;
  std::map<uint16_t, uint64_t> dropped_by_cpu_;
  std::array<uint64_t, otlp::ebpf::kEventTypeCount> delivered_by_type_{};
  MultisetDigest delivered_digest_;
  MultisetDigest output_digest_;
  FieldDigests delivered_fields_;
  FieldDigests output_fields_;
  std::array<uint64_t, otlp::ebpf::kEventTypeCount> output_by_type_{};
  uint64_t output_inversions_ = 0;
  uint64_t output_max_ts_ = 0;
  std::map<uint32_t, SyscallTruth> syscalls_;
  MemoryTruth memory_;
  struct LiveBlock {
    uint64_t size;
    uint32_t stack;
  };
  std::map<std::pair<uint32_t, uint64_t>, LiveBlock> live_;  // (pid, address)
  mutable std::map<std::pair<uint32_t, uint32_t>, uint64_t> outstanding_;
  NetworkTruth network_;
  std::map<uint64_t, std::deque<std::pair<std::string, std::string>>> pending_;  // socket
  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, uint64_t> cpu_samples_;
};

}  // namespace bpftape::sim
