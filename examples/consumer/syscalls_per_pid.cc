#include "syscalls_per_pid.h"

namespace consumer {

void SyscallsPerPid::consume(std::span<const otlp::ebpf::EbpfEvent> events,
                             const otlp::ebpf::InternTable& /*interned*/) {
  otlp::ebpf::for_each_of_kind<otlp::ebpf::PayloadKind::Syscall>(
      events, [this](const otlp::ebpf::EbpfEvent& event) {
        ProcessSyscalls& process = by_pid_[event.pid];
        ++process.calls;
        const int64_t ret = event.payload.syscall.ret;
        if (ret < 0 && ret >= -4095) ++process.errors;
      });
}

ProcessSyscalls SyscallsPerPid::total() const {
  ProcessSyscalls sum;
  for (const auto& [pid, process] : by_pid_) {
    sum.calls += process.calls;
    sum.errors += process.errors;
  }
  return sum;
}

}  // namespace consumer
