#include "core/clock.h"

#include <time.h>

namespace otlp::ebpf {

uint64_t read_clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

ClockReference ClockReference::now() {
  uint64_t before = read_clock_ns(CLOCK_MONOTONIC);
  uint64_t real = read_clock_ns(CLOCK_REALTIME);
  uint64_t after = read_clock_ns(CLOCK_MONOTONIC);
  return ClockReference{before + (after - before) / 2, real};
}

}  // namespace otlp::ebpf
