// SymbolCollector: names stack frames at record time, while the processes and files they
// point into still exist, and hands out what a tape needs to name them anywhere later:
// per-process mappings (path, file offset, build id) and the symbols the frames hit.
//
// User frames: /proc/PID/maps finds the mapping; the mapped file is opened through
// /proc/PID/map_files/ (the exact file, also when deleted or in another mount namespace, e.g. a
// container), else /proc/PID/root/PATH, and its ELF symbols name the frame (recorder/elf_symbols.h).
// Kernel frames: /proc/kallsyms (needs root for real addresses: kptr_restrict).
// A frame no symbol covers keeps its mapping, so readers show module+offset; a frame outside
// every mapping keeps its address. Nothing is dropped.
//
// Each symbol and mapping is emitted once per process (pid 0: kernel). Not thread-safe: the
// StackSymbols calls it from the draining thread. ELF files are parsed once per (device, inode)
// and shared between processes; a pid is forgotten (maps re-read) on exec or pid reuse.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/tape/types.h"
#include "recorder/elf_symbols.h"

namespace bpftape::record {

// Symbols and mappings learned since the last hand-off (what the next tape frame carries).
struct NewSymbols {
  std::vector<otlp::ebpf::tape::Mapping> mappings;
  std::vector<otlp::ebpf::tape::Symbol> symbols;
  bool empty() const { return mappings.empty() && symbols.empty(); }
};

// One line of /proc/PID/maps.
struct ProcMapping {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t file_offset = 0;
  bool executable = false;
  uint64_t inode = 0;
  std::string path;  // "" for anonymous memory; "[vdso]", "[heap]"... for the kernel's names
};
// Parses the text of /proc/PID/maps; malformed lines are skipped.
std::vector<ProcMapping> parse_proc_maps(std::string_view text);

class SymbolCollector {
 public:
  struct Options {
    std::string proc_root = "/proc";
    std::string kallsyms = "/proc/kallsyms";
    std::string debug_root = "/usr/lib/debug";  // separate debug files by build id
  };
  struct Stats {
    uint64_t user_frames = 0;      // distinct (pid, address) frames looked at
    uint64_t user_named = 0;       // ... that a symbol covers
    uint64_t user_unmapped = 0;    // ... outside every mapping (process gone, JIT...)
    uint64_t kernel_frames = 0;
    uint64_t kernel_named = 0;
    uint64_t elf_files = 0;        // ELF files parsed
    uint64_t elf_errors = 0;       // files that could not be opened or parsed
    bool kallsyms_available = false;
  };

  explicit SymbolCollector(Options options);

  // Resolves every frame of a user stack of `pid`; appends what is new to `out`.
  void add_user_frames(uint32_t pid, std::span<const uint64_t> frames, NewSymbols& out);
  // Resolves kernel frames against /proc/kallsyms (read on first use); appends what is new.
  void add_kernel_frames(std::span<const uint64_t> frames, NewSymbols& out);
  // Reads the process's mappings now (kept until forget_pid or a newer successful read), so
  // frames of a process that exits before its stacks are resolved can still be named.
  void snapshot_maps(uint32_t pid) { process(pid); }
  // Reads /proc/kallsyms now rather than at the first kernel frame.
  void preload_kernel_symbols() {
    if (!kallsyms_loaded_) load_kallsyms();
  }
  // The process's address space changed (exec) or the pid now names another process.
  void forget_pid(uint32_t pid);

  const Stats& stats() const { return stats_; }

 private:
  struct KernelSymbol {
    uint64_t address;
    std::string name;
  };
  struct Process {
    std::vector<ProcMapping> mappings;  // sorted by start
    uint64_t read_at_ns = 0;
    std::set<uint64_t> emitted_mappings;  // by start
    std::set<uint64_t> emitted_symbols;   // by absolute start
    std::set<uint64_t> seen_frames;
  };
  Process& process(uint32_t pid);
  void read_maps(uint32_t pid, Process& p);
  const ProcMapping* mapping_at(const Process& p, uint64_t address) const;
  // Parsed symbols of the file behind `m` in `pid` (cached by device+inode); nullptr if none.
  const ElfSymbols* elf_for(uint32_t pid, const ProcMapping& m);
  void load_kallsyms();

  Options options_;
  Stats stats_;
  std::map<uint32_t, Process> processes_;
  std::map<std::pair<uint64_t, uint64_t>, std::unique_ptr<ElfSymbols>> elf_by_file_;  // (dev, ino)
  std::set<std::pair<uint64_t, uint64_t>> elf_failed_;
  bool kallsyms_loaded_ = false;
  std::vector<KernelSymbol> kallsyms_;  // text symbols, sorted by address
  std::set<uint64_t> kernel_seen_frames_;
  std::set<uint64_t> kernel_emitted_;
};

}  // namespace bpftape::record
