// ProcessTracker: the recording's process table, learned from the events themselves: a pid
// first seen is read from /proc (processes that were running before the recording, details an
// event does not carry: command line, cgroup); fork, exec and exit events add incarnations,
// rename and end them. It also hands out the process records the tape still lacks
// (tape::ProcessUpdateTracker), and tells the symbol side (AddressSpaceWatcher) when a
// process's memory maps should be read while it still exists, or are stale.
//
// Not thread-safe: the drain thread feeds it every delivered event, in time order.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/intern_table.h"
#include "core/process_table.h"
#include "core/tape/types.h"

namespace bpftape::record {

// Told when processes come and go, for what depends on their address space (StackSymbols).
class AddressSpaceWatcher {
 public:
  virtual ~AddressSpaceWatcher() = default;
  // A process was first seen, or exec'd a new program: its stacks may follow, and it may be
  // gone before they are resolved.
  virtual void address_space_appeared(uint32_t pid) = 0;
  // What was known of the pid's address space is stale: it exec'd, or a fork reused the pid.
  virtual void address_space_replaced(uint32_t pid) = 0;
};

class ProcessTracker {
 public:
  // watcher: borrowed, may be null; must outlive the tracker.
  explicit ProcessTracker(std::string proc_root, AddressSpaceWatcher* watcher = nullptr)
      : proc_root_(std::move(proc_root)), watcher_(watcher) {}

  // Learns from one delivered event; `interned` holds its strings.
  void learn(const otlp::ebpf::EbpfEvent& event, const otlp::ebpf::InternTable& interned);
  const otlp::ebpf::ProcessTable& processes() const { return processes_; }
  // The process records not yet handed out in their current state (the tape writes them
  // before the events that need them); each call returns only what changed since the last.
  std::vector<otlp::ebpf::ProcessInfo> take_updates() {
    return updates_.take_pending(processes_);
  }

 private:
  // A pid seen for the first time: named from /proc (or by its pid alone when already gone).
  void learn_pid(uint32_t pid);

  std::string proc_root_;
  AddressSpaceWatcher* watcher_;
  otlp::ebpf::ProcessTable processes_;
  otlp::ebpf::tape::ProcessUpdateTracker updates_;
  std::set<uint32_t> known_pids_;  // read from /proc (or seen forking) once
  uint32_t last_pid_ = 0;          // the previous event's pid: known, skips the set lookup
};

}  // namespace bpftape::record
