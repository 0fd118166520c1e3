// Where an entry uprobe goes in a function so that the kernel can emulate the instruction it
// replaces instead of single-stepping it out of line.
//
// A uprobe hit costs one trap when the kernel emulates the probed instruction (x86-64: push of a
// register, jmp, call, jcc) and two traps plus an out-of-line step otherwise — measured on this
// kind of VM as ~35x the cost. glibc 2.36's `free` starts with `test %rdi,%rdi; je`, which
// cannot be emulated: every free() of a traced program paid the slow path. Since free(NULL) is
// a no-op, the probe can go after that NULL check, on the `push` that follows: both its entry
// and return probe (the return address is still at the top of the stack there) then cost what
// malloc's do, and free(NULL) costs nothing at all.
//
// Only that one pattern is skipped, and only where the caller says that a NULL first argument
// makes the call a no-op: any other prologue keeps the probe at the entry (correct, slower),
// and the placement says why.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace otlp::ebpf {

struct UprobePlacement {
  uint64_t offset = 0;    // from the function's first byte
  bool emulated = false;  // the probed instruction is one the kernel emulates (one trap)
  // What was decided, e.g. "+9, after the NULL check (push: emulated)" or
  // "entry (mov: single-stepped)".
  std::string description;
};

// Longest prologue place_entry_uprobe() looks at.
inline constexpr size_t kPrologueBytes = 32;

// Pure: the placement for a function whose first bytes are `prologue` (fewer than
// kPrologueBytes when the function is shorter). `null_first_argument_is_noop`: a call with a NULL
// first argument does nothing the tracer must see (free), so a leading NULL check of %rdi may be
// stepped over.
UprobePlacement place_entry_uprobe(std::span<const uint8_t> prologue, bool null_first_argument_is_noop);

// The first `bytes` bytes of the function `symbol` in the ELF file at `path` (its .symtab, else
// .dynsym; versioned names such as "free@@GLIBC_2.2.5" match "free"). Fewer when the symbol's
// size says the function is shorter. FormatError when there is no such function.
Result<std::vector<uint8_t>> read_function_prologue(const std::string& path, std::string_view symbol,
                                                    size_t bytes = kPrologueBytes);

}  // namespace otlp::ebpf
