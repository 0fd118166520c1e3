#include "core/tape/types.h"

namespace otlp::ebpf::tape {

ProcessInfo to_tape_process(const otlp::ebpf::ProcessInfo& p) {
  ProcessInfo out;
  out.pid = p.pid;
  out.ppid = p.ppid;
  out.comm = p.comm;
  out.exe = p.exe;
  if (!p.cmdline.empty()) out.cmdline = {p.cmdline};  // already joined: one element
  out.start_time_ns = p.start_ns;
  out.exit_time_ns = p.exit_ns;
  out.exit_code = p.exit_code;
  out.cgroup = p.cgroup;
  out.container_id = p.container_id;
  return out;
}

otlp::ebpf::ProcessInfo to_core_process(const ProcessInfo& p) {
  otlp::ebpf::ProcessInfo out;
  out.pid = p.pid;
  out.ppid = p.ppid;
  out.comm = p.comm;
  out.exe = p.exe;
  for (const auto& arg : p.cmdline) {
    if (!out.cmdline.empty()) out.cmdline += ' ';
    out.cmdline += arg;
  }
  out.start_ns = p.start_time_ns;
  out.exit_ns = p.exit_time_ns;
  out.exit_code = p.exit_code;
  out.cgroup = p.cgroup;
  out.container_id = p.container_id;
  return out;
}

}  // namespace otlp::ebpf::tape

namespace otlp::ebpf::tape {

std::vector<ProcessInfo> ProcessUpdateTracker::take_pending(const otlp::ebpf::ProcessTable& table) {
  std::vector<ProcessInfo> updates;
  // Called after every drained batch: a table that did not change costs nothing.
  if (table.version() == seen_version_) return updates;
  seen_version_ = table.version();
  for (const auto& p : table.all()) {
    auto [it, fresh] = written_.try_emplace({p.pid, p.start_ns}, p);
    if (!fresh) {
      if (it->second == p) continue;
      it->second = p;
    }
    updates.push_back(to_tape_process(p));
  }
  return updates;
}

}  // namespace otlp::ebpf::tape
