#include "core/tracers/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace otlp::ebpf {

uint64_t LatencyHistogram::lower_bound(size_t bucket) {
  if (bucket < kLinearLimit) return bucket;
  size_t rel = bucket - kLinearLimit;
  unsigned exponent = static_cast<unsigned>(rel >> kSubBits) + kSubBits + 1;
  uint64_t sub = rel & ((1u << kSubBits) - 1);
  if (exponent >= 64) return UINT64_MAX;
  return (uint64_t{1} << exponent) + (sub << (exponent - kSubBits));
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.buckets_.size() > buckets_.size()) buckets_.resize(other.buckets_.size(), 0);
  for (size_t i = 0; i < other.buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  if (q <= 0.0) return min();  // p0 is the exact minimum, not its bucket's top
  q = std::min(q, 1.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      uint64_t upper = lower_bound(i + 1) - 1;  // inclusive top of the bucket
      return std::clamp(upper, min(), max_);
    }
  }
  return max_;
}

}  // namespace otlp::ebpf
