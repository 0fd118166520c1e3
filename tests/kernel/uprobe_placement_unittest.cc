// Where the memory probe's uprobes go: the pure decision on prologue bytes (glibc 2.36's own
// prologues as fixtures), and reading a function's prologue out of an ELF file.
#include "bpf/uprobe_placement.h"

#include <gtest/gtest.h>

#include <vector>

// A function of this binary to read back: external linkage keeps it in the symbol table.
extern "C" [[gnu::noinline]] int bpftape_prologue_fixture(int x) { return x * 3 + 1; }

namespace otlp::ebpf {
namespace {

// Debian 12 glibc 2.36, `objdump -d libc.so.6`.
const std::vector<uint8_t> kFree = {0x48, 0x85, 0xff,                    // test %rdi,%rdi
                                    0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00,  // je  <ret>
                                    0x55,                                // push %rbp
                                    0x48, 0x8d, 0x77, 0xf0};             // lea -0x10(%rdi),%rsi
const std::vector<uint8_t> kMalloc = {0x41, 0x54, 0x55, 0x53};           // push %r12 ...
const std::vector<uint8_t> kMmap = {0x41, 0x89, 0xca,                    // mov %ecx,%r10d
                                    0x41, 0xf7, 0xc1, 0xff, 0x0f, 0x00, 0x00};

TEST(UprobePlacementTest, AnEmulatedEntryStaysAtTheEntry) {
  const UprobePlacement p = place_entry_uprobe(kMalloc, false);
  EXPECT_EQ(p.offset, 0u);
  EXPECT_TRUE(p.emulated);
  EXPECT_EQ(p.description, "entry (push: emulated)");
}

TEST(UprobePlacementTest, FreesNullCheckIsSteppedOverOnlyWhenNullIsANoop) {
  const UprobePlacement after = place_entry_uprobe(kFree, true);
  EXPECT_EQ(after.offset, 9u);
  EXPECT_TRUE(after.emulated);
  EXPECT_EQ(after.description, "+9, after the NULL check (push: emulated)");

  // realloc(NULL, n) allocates: its NULL check must not be skipped.
  const UprobePlacement entry = place_entry_uprobe(kFree, false);
  EXPECT_EQ(entry.offset, 0u);
  EXPECT_FALSE(entry.emulated);
  EXPECT_EQ(entry.description, "entry (48 85 ff 0f: single-stepped)");
}

TEST(UprobePlacementTest, AShortJeFormAndItsFallbacks) {
  // test %rdi,%rdi; je rel8; push %rbx
  EXPECT_EQ(place_entry_uprobe(std::vector<uint8_t>{0x48, 0x85, 0xff, 0x74, 0x10, 0x53}, true).offset, 5u);
  // ... followed by an instruction that cannot be emulated: the entry, single-stepped.
  const UprobePlacement mov = place_entry_uprobe(std::vector<uint8_t>{0x48, 0x85, 0xff, 0x74, 0x10, 0x48, 0x89, 0xfb}, true);
  EXPECT_EQ(mov.offset, 0u);
  EXPECT_FALSE(mov.emulated);
  // A NULL check of another register is not free's: the entry.
  EXPECT_EQ(place_entry_uprobe(std::vector<uint8_t>{0x48, 0x85, 0xf6, 0x74, 0x10, 0x53}, true).offset, 0u);
  // Truncated prologues never read past their end.
  EXPECT_FALSE(place_entry_uprobe(std::vector<uint8_t>{0x48, 0x85, 0xff, 0x0f, 0x84}, true).emulated);
  EXPECT_FALSE(place_entry_uprobe(std::vector<uint8_t>{}, true).emulated);
  EXPECT_FALSE(place_entry_uprobe(kMmap, false).emulated);
}

TEST(UprobePlacementTest, BranchesAndCallsAreEmulated) {
  EXPECT_TRUE(place_entry_uprobe(std::vector<uint8_t>{0xe9, 1, 2, 3, 4}, false).emulated);   // jmp rel32
  EXPECT_TRUE(place_entry_uprobe(std::vector<uint8_t>{0xeb, 0x10}, false).emulated);         // jmp rel8
  EXPECT_TRUE(place_entry_uprobe(std::vector<uint8_t>{0xe8, 1, 2, 3, 4}, false).emulated);   // call
  EXPECT_TRUE(place_entry_uprobe(std::vector<uint8_t>{0x0f, 0x85, 1, 2, 3, 4}, false).emulated);  // jne
  EXPECT_FALSE(place_entry_uprobe(std::vector<uint8_t>{0xe8, 1, 2}, false).emulated);        // cut short
  EXPECT_FALSE(place_entry_uprobe(std::vector<uint8_t>{0xf3, 0x0f, 0x1e, 0xfa}, false).emulated);  // endbr64
}

TEST(UprobePlacementTest, ReadsAFunctionsFirstBytesFromAnElfFile) {
  // This test binary's own function: its bytes in the file are its bytes in memory.
  const auto self = read_function_prologue("/proc/self/exe", "bpftape_prologue_fixture", 4);
  ASSERT_TRUE(self.has_value()) << self.error().to_string();
  ASSERT_EQ(self->size(), 4u);
  const auto* in_memory = reinterpret_cast<const uint8_t*>(&bpftape_prologue_fixture);
  EXPECT_EQ(*self, std::vector<uint8_t>(in_memory, in_memory + 4));

  const auto missing = read_function_prologue("/proc/self/exe", "no_such_function_here");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind(), ErrorKind::FormatError);
  EXPECT_FALSE(read_function_prologue("/nonexistent/lib.so", "free").has_value());
  const auto not_elf = read_function_prologue("/proc/self/status", "free");
  ASSERT_FALSE(not_elf.has_value());
  EXPECT_EQ(not_elf.error().kind(), ErrorKind::FormatError);
}

}  // namespace
}  // namespace otlp::ebpf
