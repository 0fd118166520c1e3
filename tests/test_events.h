// Shared builders for tests that need plausible events.
#pragma once

#include <vector>

#include "core/event.h"

namespace otlp::ebpf::testing {

// A valid syscall event whose timestamp doubles as its identity in order checks.
inline EbpfEvent syscall_at(uint64_t ts, uint32_t pid = 100, uint32_t nr = 0) {
  return EbpfEvent::syscall_event(ts, pid, pid, 0, SyscallData{.nr = nr, .ret = 0, .duration_ns = 10});
}

inline std::vector<EbpfEvent> syscalls(uint64_t first_ts, size_t count, uint32_t pid = 100) {
  std::vector<EbpfEvent> out;
  for (size_t i = 0; i < count; ++i) out.push_back(syscall_at(first_ts + i, pid));
  return out;
}

}  // namespace otlp::ebpf::testing
