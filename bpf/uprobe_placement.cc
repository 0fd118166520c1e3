#include "bpf/uprobe_placement.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "core/unique_fd.h"

namespace otlp::ebpf {
namespace {

struct Instruction {
  size_t length = 0;
  const char* mnemonic = "";
};

// The instructions x86-64 uprobes emulate (arch/x86/kernel/uprobes.c: push of a register,
// relative jmp/call/jcc); anything else is single-stepped out of line.
std::optional<Instruction> emulated_instruction(std::span<const uint8_t> code) {
  if (code.empty()) return std::nullopt;
  const uint8_t op = code[0];
  if (op >= 0x50 && op <= 0x57) return Instruction{1, "push"};
  if (op == 0x41 && code.size() >= 2 && code[1] >= 0x50 && code[1] <= 0x57) return Instruction{2, "push"};
  if (op == 0xe8 && code.size() >= 5) return Instruction{5, "call"};
  if (op == 0xe9 && code.size() >= 5) return Instruction{5, "jmp"};
  if (op == 0xeb && code.size() >= 2) return Instruction{2, "jmp"};
  if (op >= 0x70 && op <= 0x7f && code.size() >= 2) return Instruction{2, "jcc"};
  if (op == 0x0f && code.size() >= 6 && code[1] >= 0x80 && code[1] <= 0x8f) return Instruction{6, "jcc"};
  return std::nullopt;
}

// `test %rdi,%rdi` followed by `je`/`jz` (rel8 or rel32): the length of the two, else 0.
size_t null_check_of_rdi(std::span<const uint8_t> code) {
  if (code.size() < 5 || code[0] != 0x48 || code[1] != 0x85 || code[2] != 0xff) return 0;
  if (code[3] == 0x74) return 5;
  if (code.size() >= 9 && code[3] == 0x0f && code[4] == 0x84) return 9;
  return 0;
}

std::string first_bytes(std::span<const uint8_t> code) {
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(code.size(), 4); ++i) {
    out += fmt::format("{}{:02x}", i ? " " : "", code[i]);
  }
  return out.empty() ? "no code" : out;
}

struct ElfCloser {
  void operator()(Elf* elf) const { elf_end(elf); }
};

// Whether `name` is `symbol` or a versioned spelling of it ("free@@GLIBC_2.2.5").
bool names_symbol(std::string_view name, std::string_view symbol) {
  return name.starts_with(symbol) && (name.size() == symbol.size() || name[symbol.size()] == '@');
}

}  // namespace

UprobePlacement place_entry_uprobe(std::span<const uint8_t> prologue, bool null_first_argument_is_noop) {
  if (auto insn = emulated_instruction(prologue)) {
    return {0, true, fmt::format("entry ({}: emulated)", insn->mnemonic)};
  }
  if (null_first_argument_is_noop) {
    if (const size_t skip = null_check_of_rdi(prologue)) {
      if (auto insn = emulated_instruction(prologue.subspan(skip))) {
        return {skip, true, fmt::format("+{}, after the NULL check ({}: emulated)", skip, insn->mnemonic)};
      }
    }
  }
  return {0, false, fmt::format("entry ({}: single-stepped)", first_bytes(prologue))};
}

Result<std::vector<uint8_t>> read_function_prologue(const std::string& path, std::string_view symbol,
                                                    size_t bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error(ErrorKind::Io, "open " + path, errno);
  if (elf_version(EV_CURRENT) == EV_NONE) return make_error(ErrorKind::FormatError, "libelf: version mismatch");
  std::unique_ptr<Elf, ElfCloser> elf(elf_begin(fd.get(), ELF_C_READ, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) {
    return make_error(ErrorKind::FormatError, fmt::format("{}: not an ELF file", path));
  }
  // The symbol: .symtab first (it names local functions too), then .dynsym.
  std::optional<GElf_Sym> found;
  for (const Elf64_Word wanted : {SHT_SYMTAB, SHT_DYNSYM}) {
    Elf_Scn* scn = nullptr;
    while (!found && (scn = elf_nextscn(elf.get(), scn)) != nullptr) {
      GElf_Shdr shdr;
      if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != wanted || shdr.sh_entsize == 0) continue;
      Elf_Data* data = elf_getdata(scn, nullptr);
      if (data == nullptr) continue;
      const size_t count = shdr.sh_size / shdr.sh_entsize;
      for (size_t i = 0; i < count; ++i) {
        GElf_Sym sym;
        if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
        if (GELF_ST_TYPE(sym.st_info) != STT_FUNC && GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC) continue;
        if (sym.st_value == 0) continue;  // undefined (imported)
        const char* name = elf_strptr(elf.get(), shdr.sh_link, sym.st_name);
        if (name != nullptr && names_symbol(name, symbol)) {
          found = sym;
          break;
        }
      }
    }
    if (found) break;
  }
  if (!found) return make_error(ErrorKind::FormatError, fmt::format("{}: no function {}", path, symbol));
  // Its file offset: the loadable segment that maps its address.
  size_t segments = 0;
  if (elf_getphdrnum(elf.get(), &segments) != 0) {
    return make_error(ErrorKind::FormatError, fmt::format("{}: no program headers", path));
  }
  for (size_t i = 0; i < segments; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf.get(), static_cast<int>(i), &phdr) == nullptr || phdr.p_type != PT_LOAD) continue;
    if (found->st_value < phdr.p_vaddr || found->st_value >= phdr.p_vaddr + phdr.p_filesz) continue;
    const uint64_t offset = found->st_value - phdr.p_vaddr + phdr.p_offset;
    size_t want = bytes;
    if (found->st_size != 0) want = std::min<size_t>(want, found->st_size);
    want = std::min<uint64_t>(want, phdr.p_vaddr + phdr.p_filesz - found->st_value);
    std::vector<uint8_t> code(want);
    const ssize_t n = ::pread(fd.get(), code.data(), code.size(), static_cast<off_t>(offset));
    if (n < 0) return errno_error(ErrorKind::Io, "read " + path, errno);
    code.resize(static_cast<size_t>(n));
    return code;
  }
  return make_error(ErrorKind::FormatError,
                    fmt::format("{}: function {} is in no loadable segment", path, symbol));
}

}  // namespace otlp::ebpf
