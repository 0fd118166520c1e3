#include "core/sorter.h"

#include <algorithm>

namespace otlp::ebpf {

void Sorter::Fifo::append(std::span<const EbpfEvent> events) {
  if (count_ + events.size() > ring_.size()) {
    // Grow: unroll the ring into a buffer at least twice the size (at least 1024 events).
    size_t size = std::max<size_t>(1024, ring_.size() * 2);
    while (size < count_ + events.size()) size *= 2;
    std::vector<EbpfEvent> grown(size);
    for (size_t i = 0; i < count_; ++i) grown[i] = ring_[(head_ + i) & mask()];
    ring_.swap(grown);
    head_ = 0;
  }
  const size_t tail = (head_ + count_) & mask();
  const size_t first = std::min(events.size(), ring_.size() - tail);  // up to the ring's end
  std::copy_n(events.begin(), first, ring_.begin() + static_cast<ptrdiff_t>(tail));
  std::copy(events.begin() + static_cast<ptrdiff_t>(first), events.end(), ring_.begin());
  count_ += events.size();
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

void Sorter::Fifo::emit_front(size_t n, const Emit& emit) {
  const size_t first = std::min(n, ring_.size() - head_);  // up to the end of the ring
  emit(std::span<const EbpfEvent>(ring_.data() + head_, first));
  if (n > first) emit(std::span<const EbpfEvent>(ring_.data(), n - first));
  head_ = (head_ + n) & mask();
  count_ -= n;
}

void Sorter::note_emitted(size_t n, uint64_t newest_ts) {
  stats_.emitted += n;
  last_emitted_ns_ = std::max(last_emitted_ns_, newest_ts);
  emitted_any_ = true;
}

void Sorter::emit_up_to(uint64_t watermark, const Emit& emit) {
  while (held_count() > 0) {
    uint64_t limit = watermark;
    if (!heap_.empty()) {
      const Held& top = heap_.top();
      if (in_order_.empty() || top.timestamp_ns < in_order_.front().timestamp_ns) {
        if (top.timestamp_ns > watermark) break;
        note_emitted(1, top.timestamp_ns);
        emit_one(top.event);
        heap_.pop();
        continue;
      }
      limit = std::min(limit, top.timestamp_ns);  // ties go to the FIFO (see in_order_)
    }
    // The FIFO run that comes before the heap's top, as one span (two where the ring wraps).
    const size_t n = in_order_.count_up_to(limit);
    if (n == 0) break;
    const uint64_t newest = in_order_.at(n - 1).timestamp_ns;
    flush_pending(emit);
    in_order_.emit_front(n, emit);
    note_emitted(n, newest);
  }
  flush_pending(emit);
}

void Sorter::release_when_full(const Emit& emit) {
  if (held_count() < max_held_) return;
  stats_.max_held = std::max<uint64_t>(stats_.max_held, held_count());
  const uint64_t before = stats_.emitted;
  while (held_count() > max_held_ / 2) {
    uint64_t oldest = in_order_.empty() ? UINT64_MAX : in_order_.front().timestamp_ns;
    if (!heap_.empty()) oldest = std::min(oldest, heap_.top().timestamp_ns);
    emit_up_to(oldest, emit);
  }
  stats_.forced_events += stats_.emitted - before;
}

void Sorter::push(std::span<const EbpfEvent> events, const Emit& emit) {
  // The whole batch goes in before the watermark moves: a batch is one drain of every CPU, so
  // CPU 1's oldest events must not be judged late because CPU 0's newest came first in it.
  size_t i = 0;
  while (i < events.size()) {
    const EbpfEvent& e = events[i];
    const bool late = emitted_any_ && e.timestamp_ns < last_emitted_ns_;
    if (!late && window_ns_ != 0 &&
        (in_order_.empty() || e.timestamp_ns >= in_order_.back().timestamp_ns)) {
      // A run of events in time order (how recorded streams mostly arrive): none of it is late
      // (each is at least e's time) and all of it joins the FIFO, in one copy.
      // At most up to max_held_ events at once: the FIFO never grows past it.
      const size_t end = i + std::max<size_t>(1, max_held_ - std::min(max_held_, held_count()));
      size_t j = i + 1;
      while (j < events.size() && j < end && events[j].timestamp_ns >= events[j - 1].timestamp_ns) {
        ++j;
      }
      in_order_.append(events.subspan(i, j - i));
      stats_.pushed += j - i;
      newest_ns_ = std::max(newest_ns_, events[j - 1].timestamp_ns);
      i = j;
      release_when_full(emit);
      continue;
    }
    if (!late && window_ns_ == 0 && held_count() == 0 && e.timestamp_ns >= newest_ns_) {
      // Pass-through for ordered input without a window: the run leaves as it came.
      size_t j = i + 1;
      while (j < events.size() && events[j].timestamp_ns >= events[j - 1].timestamp_ns) ++j;
      stats_.pushed += j - i;
      newest_ns_ = events[j - 1].timestamp_ns;
      note_emitted(j - i, newest_ns_);
      flush_pending(emit);
      emit(events.subspan(i, j - i));
      i = j;
      continue;
    }
    ++i;
    ++stats_.pushed;
    if (late) {
      ++stats_.late_events;  // its window already closed: deliver now, out of order
      ++stats_.emitted;
      emit_one(e);
      continue;
    }
    newest_ns_ = std::max(newest_ns_, e.timestamp_ns);
    if (in_order_.empty() || e.timestamp_ns >= in_order_.back().timestamp_ns) {
      in_order_.push_back(e);
    } else {
      heap_.push(Held{e.timestamp_ns, sequence_++, e});
    }
    release_when_full(emit);
  }
  stats_.max_held = std::max<uint64_t>(stats_.max_held, held_count());
  emit_up_to(newest_ns_ > window_ns_ ? newest_ns_ - window_ns_ : 0, emit);
}

}  // namespace otlp::ebpf
