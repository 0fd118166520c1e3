// Sorter: restores timestamp order across per-CPU streams (Perfetto's sorter idea). Each CPU's
// ring buffer is in order, but CPUs drain at different times, so the merged stream is only
// ordered within some window. The sorter holds events for `window_ns` of stream time and emits
// them in (timestamp, arrival) order. An event older than what was already emitted is "late":
// it is still delivered (data is never thrown away) — immediately, out of order — and counted,
// so consumers can check "output is ordered except for exactly late_events events".
#pragma once

#include <cstdint>
#include <deque>
#include <queue>
#include <vector>

#include "core/event.h"

namespace otlp::ebpf {

struct SorterStats {
  uint64_t pushed = 0;
  uint64_t emitted = 0;
  uint64_t late_events = 0;        // emitted out of order (arrived after the window closed)
  uint64_t max_held = 0;           // peak number of events held (memory high-water mark)
};

class Sorter {
 public:
  // window_ns = 0: pass-through for streams that are already ordered (e.g. tapes), still
  // counting late events.
  explicit Sorter(uint64_t window_ns) : window_ns_(window_ns) {}

  // Adds one batch (e.g. one drain of every CPU); then appends to `out` every held event whose
  // time is now outside the window, in order.
  void push(std::span<const EbpfEvent> events, std::vector<EbpfEvent>& out);
  // Appends everything still held, in order (end of stream).
  void flush(std::vector<EbpfEvent>& out);

  const SorterStats& stats() const { return stats_; }
  uint64_t window_ns() const { return window_ns_; }

 private:
  struct Held {
    uint64_t timestamp_ns;
    uint64_t sequence;  // arrival order: ties keep it, so output is deterministic
    EbpfEvent event;
    bool operator>(const Held& o) const {
      return timestamp_ns != o.timestamp_ns ? timestamp_ns > o.timestamp_ns : sequence > o.sequence;
    }
  };
  void emit(const EbpfEvent& e, std::vector<EbpfEvent>& out);
  void hold(const EbpfEvent& e);
  // The held event that comes next in (timestamp, arrival) order; requires held_count() > 0.
  const Held& next_held() const;
  void pop_next_held();
  size_t held_count() const { return in_order_.size() + heap_.size(); }

  uint64_t window_ns_;
  // Held events: recorded streams arrive almost in order, so events not older than the newest
  // held one go to a FIFO (O(1)); only the out-of-order ones pay for the heap. Emission merges
  // the two by (timestamp, arrival).
  std::deque<Held> in_order_;
  std::priority_queue<Held, std::vector<Held>, std::greater<Held>> heap_;
  uint64_t newest_ns_ = 0;         // largest timestamp pushed
  uint64_t last_emitted_ns_ = 0;   // largest timestamp emitted in order
  bool emitted_any_ = false;
  uint64_t sequence_ = 0;
  SorterStats stats_;
};

}  // namespace otlp::ebpf
