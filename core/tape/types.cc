#include "core/tape/types.h"

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
    updates.push_back(p);
  }
  return updates;
}

}  // namespace otlp::ebpf::tape
