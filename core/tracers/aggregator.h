// The interface every tracer's aggregation implements. The pipeline calls consume() with the
// events the EventProcessor delivered (in order) and consume_losses() with the loss records of
// the same batches; the same aggregator code runs on live streams, tapes and simulations.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>

#include "core/event.h"
#include "core/intern_table.h"

namespace otlp::ebpf {

class Aggregator {
 public:
  virtual ~Aggregator() = default;
  // `interned` is the source's table: ids in `events` refer to it. Both are valid only
  // for the duration of the call; aggregators copy what they keep (strings by value).
  virtual void consume(std::span<const EbpfEvent> events, const InternTable& interned) = 0;
  virtual void consume_losses(std::span<const LossRecord> /*losses*/) {}
};

// Calls fn(event) for every event of a known type whose payload is of kind Kind
// (payload_kind(), event.h), in order. Tracers want one kind out of a stream that interleaves
// all of them (syscalls, mallocs, frees, packets): a branch per event on the type mispredicts
// on such a stream, so each block's matching events are first gathered without one (store
// every event's address, advance past it only when its type matches: a table lookup), then
// visited.
template <PayloadKind Kind, typename Fn>
inline void for_each_of_kind(std::span<const EbpfEvent> events, Fn&& fn) {
  static constexpr std::array<uint8_t, 256> kMatch = [] {
    std::array<uint8_t, 256> match{};
    for (size_t t = 0; t < kEventTypeCount; ++t) {
      match[t] = payload_kind(static_cast<EbpfEventType>(t)) == Kind;
    }
    return match;
  }();
  constexpr size_t kBlock = 256;  // 16 KiB of events: the second pass reads them from L1
  const EbpfEvent* at[kBlock];
  for (size_t base = 0; base < events.size(); base += kBlock) {
    const EbpfEvent* block = events.data() + base;
    const size_t m = std::min(kBlock, events.size() - base);
    size_t n = 0;
    size_t k = 0;
    for (; k + 4 <= m; k += 4) {
      at[n] = block + k;
      n += kMatch[static_cast<uint8_t>(block[k].event_type)];
      at[n] = block + k + 1;
      n += kMatch[static_cast<uint8_t>(block[k + 1].event_type)];
      at[n] = block + k + 2;
      n += kMatch[static_cast<uint8_t>(block[k + 2].event_type)];
      at[n] = block + k + 3;
      n += kMatch[static_cast<uint8_t>(block[k + 3].event_type)];
    }
    for (; k < m; ++k) {
      at[n] = block + k;
      n += kMatch[static_cast<uint8_t>(block[k].event_type)];
    }
    for (size_t j = 0; j < n; ++j) fn(*at[j]);
  }
}

}  // namespace otlp::ebpf
