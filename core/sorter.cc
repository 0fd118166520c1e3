#include "core/sorter.h"

#include <algorithm>

namespace otlp::ebpf {

void Sorter::emit(const EbpfEvent& e, std::vector<EbpfEvent>& out) {
  out.push_back(e);
  ++stats_.emitted;
  last_emitted_ns_ = std::max(last_emitted_ns_, e.timestamp_ns);
  emitted_any_ = true;
}

void Sorter::hold(const EbpfEvent& e) {
  Held held{e.timestamp_ns, sequence_++, e};
  if (in_order_.empty() || e.timestamp_ns >= in_order_.back().timestamp_ns) {
    in_order_.push_back(held);
  } else {
    heap_.push(held);
  }
}

const Sorter::Held& Sorter::next_held() const {
  if (heap_.empty()) return in_order_.front();
  if (in_order_.empty()) return heap_.top();
  return heap_.top() > in_order_.front() ? in_order_.front() : heap_.top();
}

void Sorter::pop_next_held() {
  if (!heap_.empty() && (in_order_.empty() || !(heap_.top() > in_order_.front()))) {
    heap_.pop();
  } else {
    in_order_.pop_front();
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
      emit(e, out);  // pass-through fast path for ordered input
      continue;
    }
    hold(e);
  }
  stats_.max_held = std::max<uint64_t>(stats_.max_held, held_count());
  uint64_t watermark = newest_ns_ > window_ns_ ? newest_ns_ - window_ns_ : 0;
  while (held_count() > 0 && next_held().timestamp_ns <= watermark) {
    emit(next_held().event, out);
    pop_next_held();
  }
}

void Sorter::flush(std::vector<EbpfEvent>& out) {
  while (held_count() > 0) {
    emit(next_held().event, out);
    pop_next_held();
  }
}

}  // namespace otlp::ebpf
