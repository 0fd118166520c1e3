// ClockReference: one simultaneous reading of CLOCK_MONOTONIC and CLOCK_REALTIME, taken when a
// recording starts and stored in the tape. Events carry monotonic time (what the kernel's
// bpf_ktime_get_ns returns); outputs that need wall time (OTLP) convert with this, so a replay
// on another machine, years later, gives the same Unix timestamps.
#pragma once

#include <time.h>

#include <cstdint>

#include "core/saturating.h"  // timestamps from tapes are untrusted: arithmetic on them saturates

namespace otlp::ebpf {

struct ClockReference {
  uint64_t monotonic_ns = 0;
  uint64_t realtime_ns = 0;  // Unix epoch nanoseconds at the same instant

  // Unix nanoseconds for a monotonic timestamp, saturating: 0 for times before the epoch,
  // UINT64_MAX for times after 2554 (both only from a tape's clock reference or events that
  // lie).
  uint64_t to_unix_ns(uint64_t monotonic) const {
    if (monotonic >= monotonic_ns) return saturating_add(realtime_ns, monotonic - monotonic_ns);
    return saturating_sub(realtime_ns, monotonic_ns - monotonic);
  }

  // Reads both clocks now, bracketing the realtime read by two monotonic reads and using
  // their midpoint, so the pair is consistent to within the read cost (~tens of ns).
  static ClockReference now();

  bool operator==(const ClockReference&) const = default;
};

// The clock's current value in nanoseconds (CLOCK_MONOTONIC: the kernel's event timestamps;
// CLOCK_THREAD_CPUTIME_ID: this thread's CPU time). Only live code reads clocks: the pipeline
// never does (its time comes from the events).
uint64_t read_clock_ns(clockid_t clock);

}  // namespace otlp::ebpf
