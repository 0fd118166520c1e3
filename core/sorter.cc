#include "core/sorter.h"

#include <algorithm>

namespace otlp::ebpf {

void Sorter::Fifo::push_back(const EbpfEvent& e) {
  if (count_ == ring_.size()) {
    // Grow: unroll the ring into a buffer twice the size (at least 1024 events).
    std::vector<EbpfEvent> grown(std::max<size_t>(1024, ring_.size() * 2));
    for (size_t i = 0; i < count_; ++i) grown[i] = ring_[(head_ + i) & mask()];
    ring_.swap(grown);
    head_ = 0;
  }
  ring_[(head_ + count_) & mask()] = e;
  ++count_;
}

size_t Sorter::Fifo::count_up_to(uint64_t limit) const {
  size_t lo = 0, hi = count_;  // invariant: [0, lo) are <= limit, [hi, count_) are > limit
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ring_[(head_ + mid) & mask()].timestamp_ns <= limit) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void Sorter::Fifo::move_front_to(size_t n, std::vector<EbpfEvent>& out) {
  const size_t first = std::min(n, ring_.size() - head_);  // up to the end of the ring
  out.insert(out.end(), ring_.begin() + static_cast<ptrdiff_t>(head_),
             ring_.begin() + static_cast<ptrdiff_t>(head_ + first));
  out.insert(out.end(), ring_.begin(), ring_.begin() + static_cast<ptrdiff_t>(n - first));
  head_ = (head_ + n) & mask();
  count_ -= n;
}

void Sorter::note_emitted(size_t n, uint64_t newest_ts) {
  stats_.emitted += n;
  last_emitted_ns_ = std::max(last_emitted_ns_, newest_ts);
  emitted_any_ = true;
}

void Sorter::emit_up_to(uint64_t watermark, std::vector<EbpfEvent>& out) {
  while (held_count() > 0) {
    uint64_t limit = watermark;
    if (!heap_.empty()) {
      const Held& top = heap_.top();
      if (in_order_.empty() || top.timestamp_ns < in_order_.front().timestamp_ns) {
        if (top.timestamp_ns > watermark) return;
        out.push_back(top.event);
        note_emitted(1, top.timestamp_ns);
        heap_.pop();
        continue;
      }
      limit = std::min(limit, top.timestamp_ns);  // ties go to the FIFO (see in_order_)
    }
    // The FIFO run that comes before the heap's top, as one copy.
    const size_t n = in_order_.count_up_to(limit);
    if (n == 0) return;
    in_order_.move_front_to(n, out);
    note_emitted(n, out.back().timestamp_ns);
  }
}

void Sorter::push(std::span<const EbpfEvent> events, std::vector<EbpfEvent>& out) {
  // The whole batch goes in before the watermark moves: a batch is one drain of every CPU, so
  // CPU 1's oldest events must not be judged late because CPU 0's newest came first in it.
  for (const auto& e : events) {
    ++stats_.pushed;
    if (emitted_any_ && e.timestamp_ns < last_emitted_ns_) {
      ++stats_.late_events;  // its window already closed: deliver now, out of order
      out.push_back(e);
      ++stats_.emitted;
      continue;
    }
    newest_ns_ = std::max(newest_ns_, e.timestamp_ns);
    if (window_ns_ == 0 && held_count() == 0 && e.timestamp_ns == newest_ns_) {
      out.push_back(e);  // pass-through fast path for ordered input
      note_emitted(1, e.timestamp_ns);
      continue;
    }
    if (in_order_.empty() || e.timestamp_ns >= in_order_.back().timestamp_ns) {
      in_order_.push_back(e);
    } else {
      heap_.push(Held{e.timestamp_ns, sequence_++, e});
    }
  }
  stats_.max_held = std::max<uint64_t>(stats_.max_held, held_count());
  emit_up_to(newest_ns_ > window_ns_ ? newest_ns_ - window_ns_ : 0, out);
}

void Sorter::flush(std::vector<EbpfEvent>& out) { emit_up_to(UINT64_MAX, out); }

}  // namespace otlp::ebpf
