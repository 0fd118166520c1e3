#include "recorder/elf_symbols.h"

#include <cxxabi.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace bpftape::record {

using otlp::ebpf::ErrorKind;
using otlp::ebpf::make_error;
using otlp::ebpf::Result;

namespace {

struct ElfCloser {
  void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfPtr = std::unique_ptr<Elf, ElfCloser>;

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

Result<ElfPtr> open_elf(int fd) {
  if (elf_version(EV_CURRENT) == EV_NONE) {
    return make_error(ErrorKind::Io, fmt::format("libelf: {}", elf_errmsg(-1)));
  }
  ElfPtr elf(elf_begin(fd, ELF_C_READ_MMAP, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) {
    return make_error(ErrorKind::FormatError, "not an ELF file");
  }
  return elf;
}

// The NT_GNU_BUILD_ID note's bytes, from any SHT_NOTE section; empty if none.
std::string read_build_id(Elf* elf) {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data) continue;
    size_t offset = 0, name_offset = 0, desc_offset = 0;
    GElf_Nhdr note;
    while ((offset = gelf_getnote(data, offset, &note, &name_offset, &desc_offset)) > 0) {
      const char* bytes = static_cast<const char*>(data->d_buf);
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
          std::memcmp(bytes + name_offset, "GNU", 4) == 0) {
        return std::string(bytes + desc_offset, note.n_descsz);
      }
    }
  }
  return {};
}

// Appends the defined function symbols of every section of `type` (SHT_SYMTAB / SHT_DYNSYM).
// Returns false if the file has no such section.
bool read_functions(Elf* elf, uint32_t type, std::vector<ElfSymbols::Function>& out) {
  bool found = false;
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != type || shdr.sh_entsize == 0) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data) continue;
    found = true;
    const size_t count = shdr.sh_size / shdr.sh_entsize;
    for (size_t i = 0; i < count; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(data, static_cast<int>(i), &sym)) break;
      const int kind = GELF_ST_TYPE(sym.st_info);
      if ((kind != STT_FUNC && kind != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF || sym.st_value == 0) {
        continue;
      }
      const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
      if (!name || !*name) continue;
      out.push_back(ElfSymbols::Function{sym.st_value, sym.st_size, name});
    }
  }
  return found;
}

std::string hex(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

}  // namespace

std::string demangle(const std::string& name) {
  if (!name.starts_with("_Z")) return name;
  int status = 0;
  char* demangled = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (status != 0 || !demangled) return name;
  std::string out(demangled);
  std::free(demangled);
  return out;
}

Result<std::unique_ptr<ElfSymbols>> ElfSymbols::read(int fd, const std::string& debug_root) {
  BPFTAPE_ASSIGN_OR_RETURN(ElfPtr elf, open_elf(fd));
  auto result = std::unique_ptr<ElfSymbols>(new ElfSymbols());

  size_t phnum = 0;
  if (elf_getphdrnum(elf.get(), &phnum) != 0) {
    return make_error(ErrorKind::FormatError, fmt::format("bad program headers: {}", elf_errmsg(-1)));
  }
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr phdr;
    if (!gelf_getphdr(elf.get(), static_cast<int>(i), &phdr) || phdr.p_type != PT_LOAD) continue;
    result->segments_.push_back(Segment{phdr.p_offset, phdr.p_filesz, phdr.p_vaddr, phdr.p_memsz});
  }
  result->build_id_ = read_build_id(elf.get());

  std::vector<Function> functions;
  if (!read_functions(elf.get(), SHT_SYMTAB, functions)) {
    // Stripped: the full table may be in a separate debug file named by the build id.
    bool from_debug = false;
    if (!debug_root.empty() && result->build_id_.size() >= 2) {
      const std::string id = hex(result->build_id_);
      const std::string path = fmt::format("{}/.build-id/{}/{}.debug", debug_root, id.substr(0, 2), id.substr(2));
      FdCloser debug{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
      if (debug.fd >= 0) {
        if (auto debug_elf = open_elf(debug.fd)) {
          from_debug = read_functions(debug_elf->get(), SHT_SYMTAB, functions) && !functions.empty();
        }
      }
    }
    result->from_debug_file_ = from_debug;
    if (!from_debug) {
      functions.clear();
      read_functions(elf.get(), SHT_DYNSYM, functions);
    }
  }
  // One function per start address: prefer a sized symbol, then the shorter (unversioned,
  // unaliased) name, so the choice does not depend on table order.
  std::sort(functions.begin(), functions.end(), [](const Function& a, const Function& b) {
    if (a.start != b.start) return a.start < b.start;
    if ((a.size == 0) != (b.size == 0)) return a.size != 0;
    if (a.name.size() != b.name.size()) return a.name.size() < b.name.size();
    return a.name < b.name;
  });
  functions.erase(std::unique(functions.begin(), functions.end(),
                              [](const Function& a, const Function& b) { return a.start == b.start; }),
                  functions.end());
  // Sizes are explicit from here on: a tape's reader only has the symbols that were hit, so an
  // unsized one must not stretch to whatever symbol happens to follow it there.
  for (size_t i = 0; i < functions.size(); ++i) {
    Function& f = functions[i];
    f.name = demangle(f.name);
    if (f.size != 0) continue;
    if (i + 1 < functions.size()) {
      f.size = functions[i + 1].start - f.start;
    } else if (auto end = result->segment_end(f.start)) {
      f.size = *end - f.start;
    }
  }
  result->functions_ = std::move(functions);
  return result;
}

std::optional<uint64_t> ElfSymbols::vaddr_of_file_offset(uint64_t offset) const {
  for (const auto& s : segments_) {
    if (offset >= s.file_offset && offset < s.file_offset + s.file_size) {
      return offset - s.file_offset + s.vaddr;
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> ElfSymbols::segment_end(uint64_t vaddr) const {
  for (const auto& s : segments_) {
    if (vaddr >= s.vaddr && vaddr < s.vaddr + s.memory_size) return s.vaddr + s.memory_size;
  }
  return std::nullopt;
}

const ElfSymbols::Function* ElfSymbols::function_at(uint64_t vaddr) const {
  auto it = std::upper_bound(functions_.begin(), functions_.end(), vaddr,
                             [](uint64_t v, const Function& f) { return v < f.start; });
  if (it == functions_.begin()) return nullptr;
  const Function& f = *std::prev(it);
  if (f.size != 0 && vaddr - f.start >= f.size) return nullptr;
  return &f;
}

}  // namespace bpftape::record
