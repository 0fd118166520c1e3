#include "core/sorter.h"

#include <algorithm>

namespace otlp::ebpf {

void Sorter::emit(const EbpfEvent& e, std::vector<EbpfEvent>& out) {
  out.push_back(e);
  ++stats_.emitted;
  last_emitted_ns_ = std::max(last_emitted_ns_, e.timestamp_ns);
  emitted_any_ = true;
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
    if (window_ns_ == 0 && heap_.empty() && e.timestamp_ns == newest_ns_) {
      emit(e, out);  // pass-through fast path for ordered input
      continue;
    }
    heap_.push(Held{e.timestamp_ns, sequence_++, e});
  }
  stats_.max_held = std::max<uint64_t>(stats_.max_held, heap_.size());
  uint64_t watermark = newest_ns_ > window_ns_ ? newest_ns_ - window_ns_ : 0;
  while (!heap_.empty() && heap_.top().timestamp_ns <= watermark) {
    emit(heap_.top().event, out);
    heap_.pop();
  }
}

void Sorter::flush(std::vector<EbpfEvent>& out) {
  while (!heap_.empty()) {
    emit(heap_.top().event, out);
    heap_.pop();
  }
}

}  // namespace otlp::ebpf
