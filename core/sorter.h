// Sorter: restores timestamp order across per-CPU streams (Perfetto's sorter idea). Each CPU's
// ring buffer is in order, but CPUs drain at different times, so the merged stream is only
// ordered within some window. The sorter holds events for `window_ns` of stream time and emits
// them in (timestamp, arrival) order. An event older than what was already emitted is "late":
// it is still delivered (data is never thrown away) — immediately, out of order — and counted,
// so consumers can check "output is ordered except for exactly late_events events".
//
// Memory is bounded: at most max_held events are held (a window's worth of a live recording is
// far less). A stream that would make it hold more — a crafted tape with millions of events at
// one timestamp, or within one window — makes it emit its oldest events early (counted as
// forced_events); any event that then arrives older than those is late, as usual.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <queue>
#include <span>
#include <vector>

#include "core/event.h"

namespace otlp::ebpf {

struct SorterStats {
  uint64_t pushed = 0;
  uint64_t emitted = 0;
  uint64_t late_events = 0;        // emitted out of order (arrived after the window closed)
  uint64_t max_held = 0;           // peak number of events held (memory high-water mark)
  uint64_t forced_events = 0;      // emitted before their window closed: max_held was reached
};

// Default bound on the events a Sorter holds: 2^21 events, 128 MiB. A live recording at 5 M
// events/s holds ~0.5 M in a 100 ms window.
inline constexpr size_t kDefaultMaxHeldEvents = size_t{1} << 21;

class Sorter {
 public:
  // window_ns = 0: pass-through for streams that are already ordered (e.g. tapes), still
  // counting late events.
  // max_held >= 2 (a smaller value is raised to 2).
  explicit Sorter(uint64_t window_ns, size_t max_held = kDefaultMaxHeldEvents)
      : window_ns_(window_ns), max_held_(std::max<size_t>(2, max_held)) {}

  // Receives emitted events, in emission order, as consecutive spans that are valid only during
  // the call (they may point into the sorter's own storage: no copy on the way out).
  using Emit = std::function<void(std::span<const EbpfEvent>)>;

  // Adds one batch (e.g. one drain of every CPU); then emits every held event whose time is now
  // outside the window, in order. The vector form appends them to `out`.
  void push(std::span<const EbpfEvent> events, const Emit& emit);
  void push(std::span<const EbpfEvent> events, std::vector<EbpfEvent>& out) {
    push(events, append_to(out));
  }
  // Emits every held event with timestamp <= watermark_ns, in order. For live sources, where
  // the wall clock says a window has passed although no newer event came to say so; an event
  // older than what this released, arriving later, is then late.
  void release_up_to(uint64_t watermark_ns, const Emit& emit) { emit_up_to(watermark_ns, emit); }
  void release_up_to(uint64_t watermark_ns, std::vector<EbpfEvent>& out) {
    emit_up_to(watermark_ns, append_to(out));
  }
  // Emits everything still held, in order (end of stream).
  void flush(const Emit& emit) { emit_up_to(UINT64_MAX, emit); }
  void flush(std::vector<EbpfEvent>& out) { flush(append_to(out)); }

  const SorterStats& stats() const { return stats_; }
  uint64_t window_ns() const { return window_ns_; }
  size_t max_held_events() const { return max_held_; }

 private:
  struct Held {
    uint64_t timestamp_ns;
    uint64_t sequence;  // arrival order: ties keep it, so output is deterministic
    EbpfEvent event;
    bool operator>(const Held& o) const {
      return timestamp_ns != o.timestamp_ns ? timestamp_ns > o.timestamp_ns : sequence > o.sequence;
    }
  };

  // FIFO of the events that arrived in timestamp order: a ring of EbpfEvent whose capacity is
  // a power of two and only grows, so steady-state holding allocates nothing and a run of
  // events leaves in at most two memcpys.
  class Fifo {
   public:
    bool empty() const { return count_ == 0; }
    size_t size() const { return count_; }
    const EbpfEvent& front() const { return ring_[head_]; }
    const EbpfEvent& back() const { return ring_[(head_ + count_ - 1) & mask()]; }
    const EbpfEvent& at(size_t i) const { return ring_[(head_ + i) & mask()]; }
    void push_back(const EbpfEvent& e) { append(std::span<const EbpfEvent>(&e, 1)); }
    // Appends a run of events (in at most two copies).
    void append(std::span<const EbpfEvent> events);
    // Number of leading events with timestamp <= limit (the FIFO is ordered: binary search).
    size_t count_up_to(uint64_t limit) const;
    // Emits the first n events (at most two spans of the ring) and removes them; requires
    // n <= size().
    void emit_front(size_t n, const Emit& emit);  // (the caller flushes pending_ first)

   private:
    size_t mask() const { return ring_.size() - 1; }
    std::vector<EbpfEvent> ring_;
    size_t head_ = 0;
    size_t count_ = 0;
  };

  // Events leaving one at a time (late ones, the heap's) gather in pending_ and leave as one
  // span before the next run or at the end of the call: a consumer pays per span, not per event.
  void emit_one(const EbpfEvent& e) { pending_.push_back(e); }
  void flush_pending(const Emit& emit) {
    if (pending_.empty()) return;
    emit(pending_);
    pending_.clear();
  }
  static Emit append_to(std::vector<EbpfEvent>& out) {
    return [&out](std::span<const EbpfEvent> events) {
      out.insert(out.end(), events.begin(), events.end());
    };
  }
  // Emits, in (timestamp, arrival) order, every held event with timestamp <= watermark.
  void emit_up_to(uint64_t watermark, const Emit& emit);
  void note_emitted(size_t n, uint64_t newest_ts);
  size_t held_count() const { return in_order_.size() + heap_.size(); }
  // At max_held_: emits the oldest held events (whole timestamps at a time) until at most half
  // of max_held_ remain.
  void release_when_full(const Emit& emit);

  uint64_t window_ns_;
  size_t max_held_;
  // Held events: recorded streams arrive almost in order, so events not older than the newest
  // FIFO event go to the FIFO (O(1)); only the out-of-order ones pay for the heap. Emission
  // merges the two. No arrival numbers are needed for FIFO events: a FIFO event and a heap
  // event with equal timestamps always arrived in that order (the heap event was older than
  // the FIFO's back when it came, and the FIFO's back only grows until the heap event leaves),
  // so ties go to the FIFO.
  Fifo in_order_;
  std::priority_queue<Held, std::vector<Held>, std::greater<Held>> heap_;
  std::vector<EbpfEvent> pending_;  // see emit_one()
  uint64_t newest_ns_ = 0;         // largest timestamp pushed
  uint64_t last_emitted_ns_ = 0;   // largest timestamp emitted in order
  bool emitted_any_ = false;
  uint64_t sequence_ = 0;
  SorterStats stats_;
};

}  // namespace otlp::ebpf
