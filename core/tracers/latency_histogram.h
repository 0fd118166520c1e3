// A log-linear histogram of nanosecond durations (HdrHistogram-style, 3 sub-bucket bits:
// <= 12.5% relative error), exact count/sum/min/max, deterministic percentiles.
// Buckets grow on demand, so a histogram of sub-microsecond syscalls stays ~1 KB.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace otlp::ebpf {

class LatencyHistogram {
 public:
  // Inline: the syscall tracer records one value per syscall event.
  void record(uint64_t value_ns) {
    const size_t b = bucket_of(value_ns);
    if (b >= buckets_.size()) [[unlikely]] buckets_.resize(b + 1, 0);
    ++buckets_[b];
    ++count_;
    sum_ += value_ns;
    min_ = std::min(min_, value_ns);
    max_ = std::max(max_, value_ns);
  }
  void merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // The smallest bucket upper bound at or below which a fraction q (0..1) of values fall,
  // clamped to [min, max]: p50/p99 for reports.
  uint64_t percentile(double q) const;

  // Bucket i holds values in [lower_bound(i), lower_bound(i+1)).
  static uint64_t lower_bound(size_t bucket);
  static size_t bucket_of(uint64_t value_ns) {
    if (value_ns < kLinearLimit) return static_cast<size_t>(value_ns);
    const unsigned exponent = 63 - static_cast<unsigned>(std::countl_zero(value_ns));  // >= kSubBits + 1
    const uint64_t sub = (value_ns >> (exponent - kSubBits)) & ((1u << kSubBits) - 1);
    return kLinearLimit + (exponent - kSubBits - 1) * (1u << kSubBits) + sub;
  }
  const std::vector<uint64_t>& buckets() const { return buckets_; }

  bool operator==(const LatencyHistogram&) const = default;

 private:
  static constexpr unsigned kSubBits = 3;                         // 8 sub-buckets per power of two
  static constexpr uint64_t kLinearLimit = 1u << (kSubBits + 1);  // values < 16: own bucket

  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace otlp::ebpf
