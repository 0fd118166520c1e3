#include "recorder/drain_placement.h"

#include <algorithm>
#include <numeric>

namespace bpftape::record {

DrainPlacement::DrainPlacement(std::vector<int> allowed, const Options& options)
    : options_(options), allowed_(std::move(allowed)), current_(allowed_) {}

void DrainPlacement::count(uint16_t cpu, uint64_t records) {
  if (cpu >= records_.size()) records_.resize(cpu + 1u, 0);
  records_[cpu] += records;
}

std::optional<std::vector<int>> DrainPlacement::end_window(uint64_t now_ns) {
  if (!started_) {
    started_ = true;
    window_start_ns_ = now_ns;
    std::fill(records_.begin(), records_.end(), 0);
    return std::nullopt;
  }
  if (now_ns - window_start_ns_ < options_.window_ns) return std::nullopt;
  window_start_ns_ = now_ns;
  const uint64_t total = std::accumulate(records_.begin(), records_.end(), uint64_t{0});
  std::vector<int> next;
  if (total >= options_.min_records) {
    for (int cpu : allowed_) {
      const uint64_t n = static_cast<size_t>(cpu) < records_.size() ? records_[cpu] : 0;
      if (static_cast<double>(n) < options_.hot_share * static_cast<double>(total)) next.push_back(cpu);
    }
  }
  if (next.empty()) next = allowed_;  // quiet, or every CPU is busy: nowhere better to be
  std::fill(records_.begin(), records_.end(), 0);
  if (next == current_) return std::nullopt;
  current_ = next;
  return next;
}

}  // namespace bpftape::record
