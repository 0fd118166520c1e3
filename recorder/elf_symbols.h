// ElfSymbols: the function symbols, loadable segments and GNU build id of one ELF file, read
// once with elfutils' libelf (the library libbpf itself uses) and kept sorted for lookups.
//
// Record-time symbolization needs three questions answered about a mapped file:
//   which virtual address does file offset X load at   (PT_LOAD segments)
//   which function covers virtual address V             (.symtab, else .dynsym)
//   which build of the file is it                       (NT_GNU_BUILD_ID)
// A stripped file without .symtab is looked up in /usr/lib/debug/.build-id/ (Debian's -dbgsym
// packages) before falling back to its .dynsym.
//
// Untrusted input: every table is read through libelf's bounds-checked accessors; a malformed
// file is an error (FormatError), never a crash.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace bpftape::record {

class ElfSymbols {
 public:
  struct Function {
    uint64_t start = 0;  // virtual address (st_value)
    uint64_t size = 0;   // unsized symbols (assembly) get the distance to the next function
    std::string name;    // demangled
  };

  // Reads the ELF file open at `fd` (not closed, not kept). `debug_root` is where
  // .build-id/xx/yyyy.debug files are looked for ("" to never look).
  static otlp::ebpf::Result<std::unique_ptr<ElfSymbols>> read(int fd,
                                                               const std::string& debug_root = "/usr/lib/debug");

  // The virtual address file offset `offset` is loaded at, or nullopt when no PT_LOAD segment
  // holds that offset.
  std::optional<uint64_t> vaddr_of_file_offset(uint64_t offset) const;
  // The function covering `vaddr`, or nullptr. Size 0 only for an unsized symbol outside every
  // segment: it covers up to the next function.
  const Function* function_at(uint64_t vaddr) const;

  const std::string& build_id() const { return build_id_; }  // raw bytes; empty if none
  size_t function_count() const { return functions_.size(); }
  bool from_debug_file() const { return from_debug_file_; }

 private:
  struct Segment {
    uint64_t file_offset;
    uint64_t file_size;
    uint64_t vaddr;
    uint64_t memory_size;
  };
  std::optional<uint64_t> segment_end(uint64_t vaddr) const;
  std::vector<Segment> segments_;
  std::vector<Function> functions_;  // sorted by start, one per start address
  std::string build_id_;
  bool from_debug_file_ = false;
};

// Demangles an Itanium C++ ABI name ("_ZN3foo3barEv" -> "foo::bar()"); other names unchanged.
std::string demangle(const std::string& name);

}  // namespace bpftape::record
