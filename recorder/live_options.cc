#include "recorder/live_options.h"

#include <signal.h>

#include <cerrno>

#include <fmt/format.h>

namespace bpftape::record {

using namespace otlp::ebpf;

LiveOptions live_options_from(const EbpfConfig& config) {
  LiveOptions o;
  o.syscalls = config.enable_syscall_tracing;
  o.cpu = config.enable_cpu_profiling;
  o.network = config.enable_network_tracing;
  o.memory = config.enable_memory_tracing;
  o.sample_hz = config.sample_rate;
  return o;
}

Result<uint32_t> checked_ring_bytes(uint64_t bytes) {
  if (bytes < 4096 || bytes > (uint64_t{1} << 30) || (bytes & (bytes - 1)) != 0) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("--ring-size: {} must be a power of two between 4K and 1G",
                                  bytes));
  }
  return static_cast<uint32_t>(bytes);
}

Result<void> add_target_pid(uint64_t pid, ProbeFilter& filter) {
  if (pid == 0 || pid > INT32_MAX || (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) {
    return make_error(ErrorKind::ConfigError, fmt::format("--pid: no process {}", pid));
  }
  if (filter.tgids.size() >= ProbeFilter::kMaxTgids) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("--pid: at most {} processes", ProbeFilter::kMaxTgids));
  }
  filter.tgids.push_back(static_cast<uint32_t>(pid));
  return {};
}

Result<void> set_target_comm(std::string_view comm, ProbeFilter& filter) {
  if (comm.empty() || comm.size() > 15) {
    return make_error(ErrorKind::ConfigError, "--comm: a task name has 1 to 15 characters");
  }
  filter.comm = std::string(comm);
  return {};
}

}  // namespace bpftape::record
