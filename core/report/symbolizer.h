// Symbolizer: names stack frames from the symbols and mappings a tape carries (resolved at
// record time, so a tape symbolizes the same on any machine). A frame that no symbol covers
// keeps its module and offset ("libfoo.so+0x1a2b"), and one no mapping covers keeps its
// address: frames never vanish.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tape/types.h"

namespace otlp::ebpf {

struct Frame {
  std::string function;  // "main", "libc.so.6+0x2a1b0", or "0x7f12..." when nothing is known
  std::string module;    // mapping path (basename shown in reports); "[kernel]" for kernel
  uint64_t offset = 0;   // address - symbol start, or module offset when no symbol
  bool symbolized = false;
};

class Symbolizer {
 public:
  Symbolizer() = default;
  Symbolizer(const std::vector<tape::Symbol>& symbols, const std::vector<tape::Mapping>& mappings);

  // pid 0 / kernel addresses resolve against kernel symbols (pid 0 entries).
  Frame resolve(uint32_t pid, uint64_t address) const;
  // "function" for reports: the name, or the module+offset / address fallback.
  std::string name(uint32_t pid, uint64_t address) const { return resolve(pid, address).function; }
  bool empty() const { return symbols_.empty() && mappings_.empty(); }

 private:
  struct Sym {
    uint64_t start;
    uint64_t size;
    std::string name;
  };
  struct Map {
    uint64_t start;
    uint64_t end;
    uint64_t file_offset;
    std::string path;
  };
  static bool is_kernel_address(uint64_t address) { return address >= 0xffff800000000000ull; }
  std::map<uint32_t, std::vector<Sym>> symbols_;   // per pid, sorted by start
  std::map<uint32_t, std::vector<Map>> mappings_;  // per pid, sorted by start
};

}  // namespace otlp::ebpf
