#include "recorder/symbol_collector.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/clock.h"

namespace bpftape::record {

namespace {

// Maps are re-read on a miss (a library loaded since: ld.so right after exec, dlopen) at most
// this often per process.
constexpr uint64_t kMapsRereadIntervalNs = 10'000'000;


bool parse_hex(std::string_view text, uint64_t& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Next space-separated field of `line` from `pos`.
std::string_view next_field(std::string_view line, size_t& pos) {
  while (pos < line.size() && line[pos] == ' ') ++pos;
  const size_t start = pos;
  while (pos < line.size() && line[pos] != ' ') ++pos;
  return line.substr(start, pos - start);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::vector<ProcMapping> parse_proc_maps(std::string_view text) {
  // "start-end perms offset dev inode   path" (path may contain spaces; " (deleted)" suffix).
  std::vector<ProcMapping> out;
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    std::string_view line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;

    size_t pos = 0;
    std::string_view range = next_field(line, pos);
    std::string_view perms = next_field(line, pos);
    std::string_view offset = next_field(line, pos);
    next_field(line, pos);  // device
    std::string_view inode = next_field(line, pos);
    const size_t dash = range.find('-');
    ProcMapping m;
    if (dash == std::string_view::npos || perms.size() < 3 || !parse_hex(range.substr(0, dash), m.start) ||
        !parse_hex(range.substr(dash + 1), m.end) || !parse_hex(offset, m.file_offset) || m.end <= m.start) {
      continue;
    }
    auto [ptr, ec] = std::from_chars(inode.data(), inode.data() + inode.size(), m.inode);
    if (ec != std::errc()) continue;
    m.executable = perms[2] == 'x';
    while (pos < line.size() && line[pos] == ' ') ++pos;
    m.path = std::string(line.substr(pos));
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const ProcMapping& a, const ProcMapping& b) { return a.start < b.start; });
  return out;
}

SymbolCollector::SymbolCollector(Options options) : options_(std::move(options)) {}

SymbolCollector::Process& SymbolCollector::process(uint32_t pid) {
  auto [it, inserted] = processes_.try_emplace(pid);
  if (inserted) read_maps(pid, it->second);
  return it->second;
}

void SymbolCollector::read_maps(uint32_t pid, Process& p) {
  p.read_at_ns = otlp::ebpf::read_clock_ns(CLOCK_MONOTONIC);
  auto mappings = parse_proc_maps(slurp(fmt::format("{}/{}/maps", options_.proc_root, pid)));
  // A process that exited reads as empty: keep what was seen while it lived.
  if (!mappings.empty()) p.mappings = std::move(mappings);
}

const ProcMapping* SymbolCollector::mapping_at(const Process& p, uint64_t address) const {
  auto it = std::upper_bound(p.mappings.begin(), p.mappings.end(), address,
                             [](uint64_t a, const ProcMapping& m) { return a < m.start; });
  if (it == p.mappings.begin()) return nullptr;
  const ProcMapping& m = *std::prev(it);
  return address < m.end ? &m : nullptr;
}

const ElfSymbols* SymbolCollector::elf_for(uint32_t pid, const ProcMapping& m) {
  if (m.inode == 0 || m.path.empty() || m.path.front() != '/') return nullptr;  // anon, [vdso]...
  // The exact mapped file first (works for deleted files and other mount namespaces), then
  // the path as the process sees it, then as we do.
  const std::string candidates[] = {
      fmt::format("{}/{}/map_files/{:x}-{:x}", options_.proc_root, pid, m.start, m.end),
      fmt::format("{}/{}/root{}", options_.proc_root, pid, m.path),
      m.path,
  };
  int fd = -1;
  for (const auto& path : candidates) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) break;
  }
  if (fd < 0) {
    ++stats_.elf_errors;
    return nullptr;
  }
  struct stat st{};
  if (fstat(fd, &st) != 0 || st.st_ino != m.inode) {
    // Not the file that is mapped (replaced on disk since): naming frames from it would lie.
    ::close(fd);
    ++stats_.elf_errors;
    return nullptr;
  }
  const std::pair<uint64_t, uint64_t> key{st.st_dev, st.st_ino};
  if (auto it = elf_by_file_.find(key); it != elf_by_file_.end()) {
    ::close(fd);
    return it->second.get();
  }
  if (elf_failed_.contains(key)) {
    ::close(fd);
    return nullptr;
  }
  auto elf = ElfSymbols::read(fd, options_.debug_root);
  ::close(fd);
  if (!elf) {
    elf_failed_.insert(key);
    ++stats_.elf_errors;
    return nullptr;
  }
  ++stats_.elf_files;
  return elf_by_file_.emplace(key, std::move(*elf)).first->second.get();
}

void SymbolCollector::add_user_frames(uint32_t pid, std::span<const uint64_t> frames, NewSymbols& out) {
  Process& p = process(pid);
  for (uint64_t address : frames) {
    if (address == 0 || !p.seen_frames.insert(address).second) continue;
    ++stats_.user_frames;
    const ProcMapping* m = mapping_at(p, address);
    if (!m && otlp::ebpf::read_clock_ns(CLOCK_MONOTONIC) - p.read_at_ns >= kMapsRereadIntervalNs) {
      read_maps(pid, p);  // loaded since the last read (dlopen)?
      m = mapping_at(p, address);
    }
    if (!m) {
      ++stats_.user_unmapped;
      continue;
    }
    const ElfSymbols* elf = elf_for(pid, *m);
    if (p.emitted_mappings.insert(m->start).second) {
      out.mappings.push_back(otlp::ebpf::tape::Mapping{pid, m->start, m->end, m->file_offset, m->path,
                                                       elf ? elf->build_id() : std::string()});
    }
    if (!elf) continue;
    const auto vaddr = elf->vaddr_of_file_offset(address - m->start + m->file_offset);
    if (!vaddr) continue;
    const ElfSymbols::Function* f = elf->function_at(*vaddr);
    if (!f) continue;
    ++stats_.user_named;
    // The function's start in this process's address space.
    const uint64_t start = address - (*vaddr - f->start);
    if (p.emitted_symbols.insert(start).second) {
      out.symbols.push_back(otlp::ebpf::tape::Symbol{pid, start, f->size, f->name});
    }
  }
}

void SymbolCollector::load_kallsyms() {
  kallsyms_loaded_ = true;
  std::ifstream in(options_.kallsyms);
  std::string line;
  bool any_address = false;
  while (std::getline(in, line)) {
    // "ffffffff81000000 T _text" or "ffffffffc0a01000 t fn\t[module]"
    size_t pos = 0;
    std::string_view view(line);
    std::string_view address_text = next_field(view, pos);
    std::string_view type = next_field(view, pos);
    while (pos < view.size() && view[pos] == ' ') ++pos;
    std::string_view rest = view.substr(pos);
    uint64_t address = 0;
    if (type.size() != 1 || !parse_hex(address_text, address)) continue;
    if (address != 0) any_address = true;
    const char t = type[0];
    if (t != 't' && t != 'T' && t != 'w' && t != 'W') continue;  // functions only
    std::string name;
    if (const size_t tab = rest.find('\t'); tab != std::string_view::npos) {
      // "fn\t[module]" -> "fn [module]"
      name = fmt::format("{} {}", rest.substr(0, tab), rest.substr(tab + 1));
    } else {
      name = std::string(rest);
    }
    kallsyms_.push_back(KernelSymbol{address, std::move(name)});
  }
  // Without privileges (kptr_restrict) every address reads 0: nothing to resolve with.
  if (!any_address) kallsyms_.clear();
  std::stable_sort(kallsyms_.begin(), kallsyms_.end(),
                   [](const KernelSymbol& a, const KernelSymbol& b) { return a.address < b.address; });
  stats_.kallsyms_available = !kallsyms_.empty();
}

void SymbolCollector::add_kernel_frames(std::span<const uint64_t> frames, NewSymbols& out) {
  if (!kallsyms_loaded_) load_kallsyms();
  for (uint64_t address : frames) {
    if (address == 0 || !kernel_seen_frames_.insert(address).second) continue;
    ++stats_.kernel_frames;
    auto it = std::upper_bound(kallsyms_.begin(), kallsyms_.end(), address,
                               [](uint64_t a, const KernelSymbol& s) { return a < s.address; });
    if (it == kallsyms_.begin()) continue;
    const KernelSymbol& s = *std::prev(it);
    // kallsyms has no sizes: a symbol ends where the next one starts; the last one is open.
    const uint64_t size = it == kallsyms_.end() ? 0 : it->address - s.address;
    ++stats_.kernel_named;
    if (kernel_emitted_.insert(s.address).second) {
      out.symbols.push_back(otlp::ebpf::tape::Symbol{0, s.address, size, s.name});
    }
  }
}

void SymbolCollector::forget_pid(uint32_t pid) { processes_.erase(pid); }

}  // namespace bpftape::record
