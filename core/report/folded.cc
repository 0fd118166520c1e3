#include "core/report/folded.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace otlp::ebpf {
namespace {

// ';' separates frames and the last ' ' separates the count: neither may appear in a name.
std::string clean(std::string name) {
  std::replace(name.begin(), name.end(), ';', ':');
  std::replace(name.begin(), name.end(), ' ', '_');
  return name;
}

}  // namespace

std::string render_folded(const CpuAggregator& cpu, const InternTable& interned,
                          const ProcessTable& processes, const Symbolizer& symbolizer) {
  std::map<std::string, uint64_t> lines;  // ordered and merged: same folded stack adds up
  for (const auto& s : cpu.by_stack()) {
    const ProcessInfo* p = s.pid ? processes.latest(s.pid) : nullptr;
    std::string line = clean(s.pid == 0 ? "[idle]" : p && !p->comm.empty() ? p->comm
                                                                             : fmt::format("pid_{}", s.pid));
    // Stacks are stored innermost first; folded format wants outermost first.
    for (StackId id : {s.user_stack, s.kernel_stack}) {
      auto frames = interned.stack(id);
      for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
        line += ';';
        line += clean(symbolizer.name(s.pid, *it));
      }
    }
    lines[line] += s.count;
  }
  std::string out;
  for (const auto& [line, count] : lines) out += fmt::format("{} {}\n", line, count);
  return out;
}

}  // namespace otlp::ebpf
