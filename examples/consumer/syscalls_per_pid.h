// An aggregator bpftape does not have: syscalls and failed syscalls per process. Any class
// implementing otlp::ebpf::Aggregator receives the events bpftape's pipeline delivers — live,
// from a tape, or from a simulation.
#pragma once

#include <cstdint>
#include <map>

#include "core/tracers/aggregator.h"

namespace consumer {

struct ProcessSyscalls {
  uint64_t calls = 0;
  uint64_t errors = 0;  // returned -4095..-1 (a negated errno)
  bool operator==(const ProcessSyscalls&) const = default;
};

class SyscallsPerPid : public otlp::ebpf::Aggregator {
 public:
  void consume(std::span<const otlp::ebpf::EbpfEvent> events,
               const otlp::ebpf::InternTable& interned) override;

  const std::map<uint32_t, ProcessSyscalls>& by_pid() const { return by_pid_; }
  ProcessSyscalls total() const;

 private:
  std::map<uint32_t, ProcessSyscalls> by_pid_;
};

}  // namespace consumer
