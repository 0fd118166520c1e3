#include "core/report/symbolizer.h"

#include <algorithm>

#include <fmt/format.h>

namespace otlp::ebpf {
namespace {

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The entry whose start is the greatest <= address, or nullptr.
template <typename T>
const T* floor_entry(const std::vector<T>& sorted, uint64_t address) {
  auto it = std::upper_bound(sorted.begin(), sorted.end(), address,
                             [](uint64_t a, const T& e) { return a < e.start; });
  return it == sorted.begin() ? nullptr : &*std::prev(it);
}

}  // namespace

Symbolizer::Symbolizer(const std::vector<tape::Symbol>& symbols,
                       const std::vector<tape::Mapping>& mappings) {
  for (const auto& s : symbols) symbols_[s.pid].push_back(Sym{s.address, s.size, s.name});
  for (const auto& m : mappings) mappings_[m.pid].push_back(Map{m.start, m.end, m.file_offset, m.path});
  for (auto& [pid, v] : symbols_) {
    std::stable_sort(v.begin(), v.end(), [](const Sym& a, const Sym& b) { return a.start < b.start; });
  }
  for (auto& [pid, v] : mappings_) {
    std::stable_sort(v.begin(), v.end(), [](const Map& a, const Map& b) { return a.start < b.start; });
  }
}

Frame Symbolizer::resolve(uint32_t pid, uint64_t address) const {
  uint32_t owner = is_kernel_address(address) ? 0 : pid;
  Frame frame;
  frame.module = owner == 0 && is_kernel_address(address) ? "[kernel]" : "";
  if (auto it = mappings_.find(owner); it != mappings_.end()) {
    if (const Map* m = floor_entry(it->second, address); m && address < m->end) {
      frame.module = m->path;
      frame.offset = address - m->start + m->file_offset;
    }
  }
  if (auto it = symbols_.find(owner); it != symbols_.end()) {
    // A size of 0 means "unknown size": it covers up to the next symbol.
    if (const Sym* s = floor_entry(it->second, address); s && (s->size == 0 || address < s->start + s->size)) {
      frame.function = s->name;
      frame.offset = address - s->start;
      frame.symbolized = true;
      return frame;
    }
  }
  frame.function = frame.module.empty() || frame.module == "[kernel]"
                       ? fmt::format("0x{:x}", address)
                       : fmt::format("{}+0x{:x}", basename_of(frame.module), frame.offset);
  return frame;
}

}  // namespace otlp::ebpf
