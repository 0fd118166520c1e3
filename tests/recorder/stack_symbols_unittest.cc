// StackSymbols over a fake /proc and kallsyms: a process's maps are snapshotted when it appears
// (only when stacks are expected), so a process gone before its stacks are resolved is still
// named; take() hands out what is new once, all() keeps everything handed out; symbolization
// off names nothing.
#include "recorder/stack_symbols.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/recorder/fake_files.h"
#include "tests/temp_dir.h"

namespace bpftape::record {
namespace {

using namespace otlp::ebpf;
using otlp::ebpf::testing::TempDir;

using bpftape::record::testing::write_file;

class StackSymbolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_.file("proc/7/maps"), "400000-401000 r-xp 00000000 00:00 1 /app\n");
    write_file(dir_.file("kallsyms"), "ffffffff81000000 T _text\nffffffff81000100 t do_one\n");
  }
  StackSymbols::Options options(bool symbolize, bool stacks) {
    return {.symbolize = symbolize,
            .stacks = stacks,
            .collector = {.proc_root = dir_.file("proc"), .kallsyms = dir_.file("kallsyms"),
                          .debug_root = ""}};
  }
  // A CPU sample of pid 7 with one user and one kernel frame.
  EbpfEvent sample() {
    const uint64_t user[] = {0x400010};
    const uint64_t kernel[] = {0xffffffff81000150};
    return EbpfEvent::cpu_sample(1, 7, 7, 0,
                                 CpuSampleData{.user_stack = interned_.intern_stack(user),
                                               .kernel_stack = interned_.intern_stack(kernel)});
  }

  TempDir dir_;
  InternTable interned_;
};

TEST_F(StackSymbolsTest, AProcessGoneBeforeItsStacksIsNamedFromTheSnapshotTakenWhenItAppeared) {
  StackSymbols symbols(options(/*symbolize=*/true, /*stacks=*/true));
  symbols.address_space_appeared(7);
  std::filesystem::remove_all(dir_.file("proc/7"));  // exited
  symbols.learn(sample(), interned_);
  const NewSymbols learned = symbols.take();
  ASSERT_EQ(learned.mappings.size(), 1u);
  EXPECT_EQ(learned.mappings[0].path, "/app");
  ASSERT_EQ(learned.symbols.size(), 1u);  // the kernel frame
  EXPECT_EQ(learned.symbols[0].name, "do_one");
  EXPECT_EQ(symbols.stats().user_unmapped, 0u);
}

TEST_F(StackSymbolsTest, WithoutStacksNoSnapshotIsTaken) {
  StackSymbols symbols(options(/*symbolize=*/true, /*stacks=*/false));
  symbols.address_space_appeared(7);
  std::filesystem::remove_all(dir_.file("proc/7"));
  symbols.learn(sample(), interned_);
  EXPECT_TRUE(symbols.take().mappings.empty());
  EXPECT_EQ(symbols.stats().user_unmapped, 1u);
}

TEST_F(StackSymbolsTest, TakeHandsOutWhatIsNewOnceAndAllKeepsEverything) {
  StackSymbols symbols(options(/*symbolize=*/true, /*stacks=*/true));
  symbols.learn(sample(), interned_);
  const NewSymbols first = symbols.take();
  EXPECT_EQ(first.mappings.size(), 1u);
  EXPECT_EQ(first.symbols.size(), 1u);
  symbols.learn(sample(), interned_);  // the same stacks again: nothing new
  EXPECT_TRUE(symbols.take().empty());
  EXPECT_EQ(symbols.all().mappings, first.mappings);
  EXPECT_EQ(symbols.all().symbols, first.symbols);
}

TEST_F(StackSymbolsTest, SymbolizationOffNamesNothing) {
  StackSymbols symbols(options(/*symbolize=*/false, /*stacks=*/true));
  symbols.address_space_appeared(7);
  symbols.learn(sample(), interned_);
  EXPECT_TRUE(symbols.take().empty());
  EXPECT_EQ(symbols.stats().user_frames, 0u);
  EXPECT_EQ(symbols.stats().kernel_frames, 0u);
}

}  // namespace
}  // namespace bpftape::record
