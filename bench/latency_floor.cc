// latency_floor [--seconds S] [--tick-us N] [--tsv]
//
// What delivery latency this machine allows a consumer at all, whatever the recorder does:
// the best p99 wait of an event arriving at a random time for (a) a consumer that wakes every
// N µs from clock_nanosleep (the recorder's streaming tick) and (b) a thread that spins reading
// the clock (it sees every instant it is not descheduled: interrupts, other tasks, the
// hypervisor). Each runs S seconds (default 2) in this thread; run it where the recorder's
// drain thread would run. With --tsv: two lines "tick\tP99_NS" and "spin\tP99_NS".
//
// The math: an event arriving uniformly in time waits until the consumer next looks; over
// intervals g_i between looks, the share of events waiting more than x is
// sum(max(0, g_i - x)) / sum(g_i). The p99 is the x where that share is 1 %.
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/clock.h"

namespace {

using otlp::ebpf::read_clock_ns;

// The p99 wait of a uniformly arriving event, given the intervals between the consumer's looks.
uint64_t p99_wait(std::vector<uint64_t> gaps) {
  std::sort(gaps.begin(), gaps.end(), std::greater<>());
  double total = 0;
  for (uint64_t g : gaps) total += static_cast<double>(g);
  const double budget = 0.01 * total;
  // Waits above x come from the gaps longer than x: sum over them of (g - x). Walk down the
  // sorted gaps until that sum would exceed the budget, then solve for x within the step.
  double sum = 0;
  for (size_t k = 0; k < gaps.size(); ++k) {
    const double next = k + 1 < gaps.size() ? static_cast<double>(gaps[k + 1]) : 0.0;
    sum += static_cast<double>(gaps[k]);  // the k+1 longest gaps, each contributing g - x
    const double at_next = sum - static_cast<double>(k + 1) * next;
    if (at_next >= budget) return static_cast<uint64_t>((sum - budget) / static_cast<double>(k + 1));
  }
  return 0;
}

// Only intervals longer than this are kept from the spin (the rest are the loop itself).
constexpr uint64_t kSpinNoiseNs = 1'000;

std::vector<uint64_t> tick_intervals(uint64_t seconds, uint64_t tick_ns) {
  std::vector<uint64_t> gaps;
  const timespec ts{0, static_cast<long>(tick_ns)};
  const uint64_t end = read_clock_ns(CLOCK_MONOTONIC) + seconds * 1'000'000'000u;
  uint64_t prev = read_clock_ns(CLOCK_MONOTONIC);
  while (prev < end) {
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
    const uint64_t t = read_clock_ns(CLOCK_MONOTONIC);
    gaps.push_back(t - prev);
    prev = t;
  }
  return gaps;
}

std::vector<uint64_t> spin_intervals(uint64_t seconds) {
  std::vector<uint64_t> gaps;
  uint64_t small = 0;  // the loop's own steps, summed: they count in the total time
  const uint64_t end = read_clock_ns(CLOCK_MONOTONIC) + seconds * 1'000'000'000u;
  uint64_t prev = read_clock_ns(CLOCK_MONOTONIC);
  while (prev < end) {
    const uint64_t t = read_clock_ns(CLOCK_MONOTONIC);
    if (t - prev > kSpinNoiseNs) {
      gaps.push_back(t - prev);
    } else {
      small += t - prev;
    }
    prev = t;
  }
  // Short steps as 1 µs gaps: right total time, and they never reach a p99 above 1 µs.
  for (uint64_t i = 0; i < small / kSpinNoiseNs; ++i) gaps.push_back(kSpinNoiseNs);
  return gaps;
}

int usage() {
  std::fprintf(stderr, "usage: latency_floor [--seconds S] [--tick-us N] [--tsv]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seconds = 2, tick_us = 50;
  bool tsv = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--tsv") == 0) {
      tsv = true;
    } else if ((std::strcmp(argv[i], "--seconds") == 0 || std::strcmp(argv[i], "--tick-us") == 0) &&
               i + 1 < argc) {
      char* rest = nullptr;
      const unsigned long long v = std::strtoull(argv[i + 1], &rest, 10);
      if (*rest != '\0' || v == 0 || v > 1'000'000) return usage();
      (std::strcmp(argv[i], "--seconds") == 0 ? seconds : tick_us) = v;
      ++i;
    } else {
      return usage();
    }
  }
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);  // as the recorder's drain thread
  const uint64_t tick = p99_wait(tick_intervals(seconds, tick_us * 1000));
  const uint64_t spin = p99_wait(spin_intervals(seconds));
  if (tsv) {
    std::printf("tick\t%llu\nspin\t%llu\n", static_cast<unsigned long long>(tick),
                static_cast<unsigned long long>(spin));
  } else {
    std::printf("best p99 delivery latency on this machine: %.1f us waking every %llu us, "
                "%.1f us spinning\n",
                static_cast<double>(tick) / 1e3, static_cast<unsigned long long>(tick_us),
                static_cast<double>(spin) / 1e3);
  }
  return 0;
}
