// Memory aggregation: allocation/free accounting per process and address, and the leak
// report (outstanding bytes by allocating stack).
#pragma once

#include <cstdint>
#include <vector>

#include "core/flat_hash_map.h"
#include "core/tracers/aggregator.h"

namespace otlp::ebpf {

// The seeds' MemoryStats, plus what bpftape adds.
struct MemoryStats {
  uint64_t allocations = 0;
  uint64_t frees = 0;               // frees that matched a live allocation
  uint64_t total_allocated = 0;     // bytes
  uint64_t total_freed = 0;         // bytes
  uint64_t active_allocations = 0;  // allocated and not yet freed
  uint64_t active_bytes = 0;
  uint64_t unmatched_frees = 0;     // free of an address we never saw allocated (e.g.
                                    // allocated before recording started); not an error
};

struct OutstandingByStack {
  uint32_t pid = 0;
  StackId stack = kNoId;  // id in the source's InternTable
  uint64_t allocations = 0;
  uint64_t bytes = 0;
  uint64_t oldest_ns = 0;  // timestamp of the oldest outstanding allocation
};

class MemoryAggregator : public Aggregator {
 public:
  void consume(std::span<const EbpfEvent> events, const InternTable& interned) override;

  MemoryStats stats() const { return stats_; }
  // Outstanding allocations grouped by (pid, stack), largest bytes first, then pid, stack.
  std::vector<OutstandingByStack> outstanding_by_stack() const;

 private:
  struct Key {
    uint32_t pid = 0;
    uint64_t address = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    // FlatHashMap mixes the bits (Fibonacci hashing): combining is enough here.
    size_t operator()(const Key& k) const { return k.address ^ (uint64_t{k.pid} << 32); }
  };
  struct Live {
    uint64_t size = 0;
    uint64_t timestamp_ns = 0;
    StackId stack = kNoId;
  };
  void allocate(const EbpfEvent& e, uint64_t address, uint64_t size);
  void release(uint32_t pid, uint64_t address);

  // One entry per outstanding block: an open-addressing table (no heap node per malloc).
  // Its iteration order never reaches an output (outstanding_by_stack groups into a map).
  FlatHashMap<Key, Live, KeyHash> live_;
  MemoryStats stats_;
};

}  // namespace otlp::ebpf
