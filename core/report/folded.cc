#include "core/report/folded.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/utf8.h"

namespace otlp::ebpf {
namespace {

// A frame name is one field of a line "frame;frame;... count": terminal_safe turns newlines,
// tabs and every other control character into visible escapes (so a name can neither start a
// line nor hide in one), then ';' (the frame separator) becomes ':' and ' ' (before the count)
// becomes '_', so a name cannot add frames or forge a count.
std::string clean(std::string_view name) {
  std::string text = terminal_safe(name);
  std::replace(text.begin(), text.end(), ';', ':');
  std::replace(text.begin(), text.end(), ' ', '_');
  return text;
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
