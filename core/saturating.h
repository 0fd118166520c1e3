// Saturating arithmetic for values fed by untrusted input (tape timestamps, loss counts, byte
// budgets):
// a result that cannot be represented stays at the end of the range instead of wrapping to a
// small or plausible-looking number.
#pragma once

#include <cstdint>
#include <limits>

namespace otlp::ebpf {

inline constexpr uint64_t saturating_add(uint64_t a, uint64_t b) {
  uint64_t sum;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<uint64_t>::max() : sum;
}

inline constexpr uint64_t saturating_mul(uint64_t a, uint64_t b) {
  uint64_t product;
  return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<uint64_t>::max() : product;
}

// a - b, or 0 when b > a.
inline constexpr uint64_t saturating_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// For signed 64-bit fields (protobuf int64, std::chrono durations): above INT64_MAX saturates.
inline constexpr int64_t saturating_int64(uint64_t v) {
  return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(v);
}

// `total += n`, saturating.
inline constexpr void saturating_accumulate(uint64_t& total, uint64_t n) {
  total = saturating_add(total, n);
}

}  // namespace otlp::ebpf
