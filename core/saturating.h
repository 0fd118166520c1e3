// Saturating arithmetic for counters fed by untrusted input (tape loss counts, byte budgets):
// a total that cannot be represented stays at UINT64_MAX instead of wrapping to a small or
// plausible-looking number.
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

// `total += n`, saturating.
inline constexpr void saturating_accumulate(uint64_t& total, uint64_t n) {
  total = saturating_add(total, n);
}

}  // namespace otlp::ebpf
