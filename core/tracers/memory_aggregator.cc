#include "core/tracers/memory_aggregator.h"

#include <algorithm>
#include <map>

namespace otlp::ebpf {

void MemoryAggregator::allocate(const EbpfEvent& e, uint64_t address, uint64_t size) {
  if (address == 0) return;  // failed allocation (NULL / MAP_FAILED normalised to 0)
  ++stats_.allocations;
  stats_.total_allocated += size;
  auto [it, inserted] = live_.try_emplace(Key{e.pid, address},
                                          Live{size, e.timestamp_ns, e.payload.memory.stack});
  if (!inserted) {
    // The same address handed out twice without a free we saw (the free was lost or not
    // traced): the old block is gone; account it as freed so outstanding bytes stay true.
    stats_.total_freed += it->second.size;
    stats_.active_bytes -= it->second.size;
    --stats_.active_allocations;
    ++stats_.unmatched_frees;
    it->second = Live{size, e.timestamp_ns, e.payload.memory.stack};
  }
  ++stats_.active_allocations;
  stats_.active_bytes += size;
}

void MemoryAggregator::release(uint32_t pid, uint64_t address) {
  if (address == 0) return;  // free(NULL) is a no-op
  auto it = live_.find(Key{pid, address});
  if (it == live_.end()) {
    ++stats_.unmatched_frees;
    return;
  }
  ++stats_.frees;
  stats_.total_freed += it->second.size;
  --stats_.active_allocations;
  stats_.active_bytes -= it->second.size;
  live_.erase(it);
}

void MemoryAggregator::consume(std::span<const EbpfEvent> events, const InternTable&) {
  for_each_of_kind<PayloadKind::Memory>(events, [this](const EbpfEvent& e) {
    const MemoryData& m = e.payload.memory;
    if (e.event_type == EbpfEventType::MemoryAlloc) {
      // realloc returns the block at m.address and gives back m.old_address.
      if (m.op == MemoryOp::Realloc && m.old_address != 0) release(e.pid, m.old_address);
      allocate(e, m.address, m.size);
    } else {
      release(e.pid, m.address);
    }
    // Blocks of an exited process stay outstanding on purpose: they are its leak report.
  });
}

std::vector<OutstandingByStack> MemoryAggregator::outstanding_by_stack() const {
  std::map<std::pair<uint32_t, StackId>, OutstandingByStack> groups;  // ordered: deterministic
  for (const auto& [key, live] : live_) {
    auto& g = groups[{key.pid, live.stack}];
    if (g.allocations == 0 || live.timestamp_ns < g.oldest_ns) g.oldest_ns = live.timestamp_ns;
    g.pid = key.pid;
    g.stack = live.stack;
    ++g.allocations;
    g.bytes += live.size;
  }
  std::vector<OutstandingByStack> out;
  for (auto& [key, g] : groups) out.push_back(g);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.bytes > b.bytes;
  });
  return out;
}

}  // namespace otlp::ebpf
