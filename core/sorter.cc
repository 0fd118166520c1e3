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
  for (const auto& e : events) {
    ++stats_.pushed;
    if (emitted_any_ && e.timestamp_ns < last_emitted_ns_) {
      ++stats_.late_events;  // its window already closed: deliver now, out of order
      out.push_back(e);
      ++stats_.emitted;
      continue;
    }
    if (window_ns_ == 0 && heap_.empty()) {
      emit(e, out);  // pass-through fast path
      newest_ns_ = std::max(newest_ns_, e.timestamp_ns);
      continue;
    }
    heap_.push(Held{e.timestamp_ns, sequence_++, e});
    newest_ns_ = std::max(newest_ns_, e.timestamp_ns);
    stats_.max_held = std::max<uint64_t>(stats_.max_held, heap_.size());
    uint64_t watermark = newest_ns_ > window_ns_ ? newest_ns_ - window_ns_ : 0;
    while (!heap_.empty() && heap_.top().timestamp_ns <= watermark) {
      emit(heap_.top().event, out);
      heap_.pop();
    }
  }
}

void Sorter::flush(std::vector<EbpfEvent>& out) {
  while (!heap_.empty()) {
    emit(heap_.top().event, out);
    heap_.pop();
  }
}

}  // namespace otlp::ebpf
