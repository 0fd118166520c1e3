#include "recorder/process_tracker.h"

#include "recorder/procfs.h"

namespace bpftape::record {

using namespace otlp::ebpf;

void ProcessTracker::learn_pid(uint32_t pid) {
  if (pid == 0 || pid == last_pid_) return;
  if (!known_pids_.insert(pid).second) {
    last_pid_ = pid;
    return;
  }
  last_pid_ = pid;
  if (watcher_) watcher_->address_space_appeared(pid);
  if (processes_.latest(pid)) return;
  auto info = read_process(pid, proc_root_);
  if (info) {
    processes_.upsert(*info);
  } else {
    processes_.upsert(ProcessInfo{.pid = pid});  // gone already: at least its pid is known
  }
}

void ProcessTracker::learn(const EbpfEvent& e, const InternTable& interned) {
  learn_pid(e.pid);
  switch (e.event_type) {
    case EbpfEventType::ProcessFork: {
      const auto& p = e.payload.process;
      const ProcessInfo* parent = processes_.latest(e.pid);
      ProcessInfo child{.pid = p.child_pid, .ppid = e.pid,
                        .comm = std::string(interned.string(p.comm)),
                        .start_ns = e.timestamp_ns};
      if (parent) {
        child.exe = parent->exe;
        child.cmdline = parent->cmdline;
        child.cgroup = parent->cgroup;
        child.container_id = parent->container_id;
      }
      processes_.upsert(child);
      known_pids_.insert(p.child_pid);
      if (watcher_) watcher_->address_space_replaced(p.child_pid);  // a reused pid: stale maps
      break;
    }
    case EbpfEventType::ProcessExec: {
      const ProcessInfo* current = processes_.latest(e.pid);
      ProcessInfo updated = current ? *current : ProcessInfo{.pid = e.pid};
      updated.comm = std::string(interned.string(e.payload.process.comm));
      updated.exe = std::string(interned.string(e.payload.process.filename));
      updated.cmdline.clear();
      if (auto now = read_process(e.pid, proc_root_)) {
        // Still running: /proc has the resolved exe path and the new command line.
        if (!now->exe.empty()) updated.exe = now->exe;
        updated.cmdline = now->cmdline;
        updated.cgroup = now->cgroup;
        updated.container_id = now->container_id;
      }
      processes_.upsert(updated);
      if (watcher_) {
        watcher_->address_space_replaced(e.pid);
        watcher_->address_space_appeared(e.pid);
      }
      break;
    }
    case EbpfEventType::ProcessExit:
      processes_.mark_exit(e.pid, e.timestamp_ns, e.payload.process.exit_code);
      break;
    default:
      break;
  }
}

}  // namespace bpftape::record
