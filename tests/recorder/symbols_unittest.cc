// Record-time symbolization without root: ELF symbol tables of real files (this test binary, a
// stripped copy with a build-id debug file), /proc/PID/maps parsing, kallsyms fixtures, and
// the collector's promise that frames never vanish (unnamed frames keep their mapping).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "core/report/symbolizer.h"
#include "recorder/elf_symbols.h"
#include "recorder/procfs.h"
#include "recorder/symbol_collector.h"
#include "tests/recorder/fake_files.h"
#include "tests/temp_dir.h"

extern "C" __attribute__((noinline)) int bpftape_symbols_test_target(int x) {
  asm volatile("" ::: "memory");
  return x * 3 + 1;
}

namespace bpftape::record {
namespace {

using otlp::ebpf::ErrorKind;
using ::testing::HasSubstr;
using otlp::ebpf::testing::TempDir;
using bpftape::record::testing::write_file;

std::unique_ptr<ElfSymbols> read_elf(const std::string& path, const std::string& debug_root = "") {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  auto elf = ElfSymbols::read(fd, debug_root);
  ::close(fd);
  EXPECT_TRUE(elf) << path << ": " << elf.error().to_string();
  return elf ? std::move(*elf) : nullptr;
}

uint64_t target_address() { return reinterpret_cast<uint64_t>(&bpftape_symbols_test_target); }

// Names `address` of this process through the collector and the tape-side Symbolizer, the way
// a recording and a later replay do.
std::string name_in_this_process(uint64_t address, SymbolCollector::Options options = {}) {
  SymbolCollector collector(std::move(options));
  NewSymbols out;
  const uint64_t frames[] = {address};
  collector.add_user_frames(static_cast<uint32_t>(getpid()), frames, out);
  otlp::ebpf::Symbolizer symbolizer(out.symbols, out.mappings);
  return symbolizer.name(static_cast<uint32_t>(getpid()), address);
}

TEST(ElfSymbols, NamesAFunctionOfThisBinaryAndItsBuildId) {
  auto elf = read_elf("/proc/self/exe");
  ASSERT_TRUE(elf);
  EXPECT_GT(elf->function_count(), 100u);
  EXPECT_EQ(elf->build_id().size(), 20u) << "GCC on Debian links with --build-id (SHA-1)";
  // Runtime address -> file offset (through our own maps) -> the ELF's virtual address.
  std::ifstream maps_file("/proc/self/maps");
  const std::string maps_text((std::istreambuf_iterator<char>(maps_file)), std::istreambuf_iterator<char>());
  const uint64_t address = target_address();
  std::optional<uint64_t> vaddr;
  for (const auto& m : parse_proc_maps(maps_text)) {
    if (address >= m.start && address < m.end) vaddr = elf->vaddr_of_file_offset(address - m.start + m.file_offset);
  }
  ASSERT_TRUE(vaddr);
  const ElfSymbols::Function* f = elf->function_at(*vaddr);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->name, "bpftape_symbols_test_target");
  EXPECT_EQ(f->start, *vaddr) << "the function pointer is the function's first byte";
  ASSERT_GT(f->size, 0u);
  EXPECT_EQ(elf->function_at(f->start + f->size - 1), f);
  EXPECT_NE(elf->function_at(f->start + f->size), f);
}

TEST(ElfSymbols, DemanglesCxxNames) {
  EXPECT_EQ(demangle("_ZN3foo3barEv"), "foo::bar()");
  EXPECT_EQ(demangle("main"), "main");
  EXPECT_EQ(demangle("_Znot_really_mangled"), "_Znot_really_mangled");
}

TEST(ElfSymbols, NotAnElfFileIsAFormatError) {
  TempDir dir;
  write_file(dir.file("text"), "#!/bin/sh\necho hello\n");
  const int fd = ::open(dir.file("text").c_str(), O_RDONLY);
  auto elf = ElfSymbols::read(fd, "");
  ::close(fd);
  ASSERT_FALSE(elf);
  EXPECT_EQ(elf.error().kind(), ErrorKind::FormatError);
}

TEST(ElfSymbols, TruncatedElfIsAnErrorOrEmptyNeverACrash) {
  TempDir dir;
  std::ifstream in("/proc/self/exe", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t size : {size_t{16}, size_t{64}, size_t{700}, bytes.size() / 2}) {
    const std::string path = dir.file("cut" + std::to_string(size));
    write_file(path, bytes.substr(0, size));
    const int fd = ::open(path.c_str(), O_RDONLY);
    auto elf = ElfSymbols::read(fd, "");
    ::close(fd);
    if (elf) {
      EXPECT_EQ((*elf)->function_at(target_address()), nullptr) << size;
    }
  }
}

TEST(ElfSymbols, StrippedFileIsNamedFromItsBuildIdDebugFile) {
  if (std::system("command -v objcopy >/dev/null") != 0) GTEST_SKIP() << "objcopy (binutils) missing";
  TempDir dir;
  const std::string stripped = dir.file("stripped");
  const std::string debug = dir.file("debugfile");
  // This binary by name: in the shell, /proc/self/exe would be objcopy.
  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  ASSERT_EQ(std::system(("objcopy --only-keep-debug " + self + " " + debug).c_str()), 0);
  ASSERT_EQ(std::system(("objcopy --strip-all " + self + " " + stripped).c_str()), 0);

  auto plain = read_elf(stripped);
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->from_debug_file());
  const std::string id = [&] {
    std::string hex;
    for (unsigned char c : plain->build_id()) hex += fmt::format("{:02x}", c);
    return hex;
  }();
  ASSERT_EQ(id.size(), 40u);
  const std::string debug_root = dir.file("debug");
  std::filesystem::create_directories(debug_root + "/.build-id/" + id.substr(0, 2));
  std::filesystem::copy_file(debug, debug_root + "/.build-id/" + id.substr(0, 2) + "/" + id.substr(2) + ".debug");

  auto with_debug = read_elf(stripped, debug_root);
  ASSERT_TRUE(with_debug);
  EXPECT_TRUE(with_debug->from_debug_file());
  EXPECT_GT(with_debug->function_count(), plain->function_count())
      << "the debug file's .symtab has the static functions .dynsym lacks";
}

TEST(ProcMaps, ParsesPathsWithSpacesDeletedFilesAndAnonymousMemory) {
  const auto maps = parse_proc_maps(
      "7f0000001000-7f0000002000 r-xp 00001000 08:01 1234   /opt/my app/lib x.so\n"
      "55550000-55551000 r-xp 00000000 08:01 99 /tmp/gone (deleted)\n"
      "7ffd0000-7ffd2000 rw-p 00000000 00:00 0 \n"
      "garbage line\n"
      "7fff0000-7fff1000 r-xp 00000000 00:00 0 [vdso]");
  ASSERT_EQ(maps.size(), 4u);
  EXPECT_EQ(maps[0].start, 0x55550000u);  // sorted by start
  EXPECT_EQ(maps[0].path, "/tmp/gone (deleted)");
  EXPECT_EQ(maps[1].path, "");
  EXPECT_FALSE(maps[1].executable);
  EXPECT_EQ(maps[2].path, "[vdso]");
  EXPECT_EQ(maps[3].path, "/opt/my app/lib x.so");
  EXPECT_EQ(maps[3].file_offset, 0x1000u);
  EXPECT_EQ(maps[3].inode, 1234u);
  EXPECT_TRUE(maps[3].executable);
}

TEST(SymbolCollector, NamesAFrameOfThisProcessAsAReplayWould) {
  EXPECT_EQ(name_in_this_process(target_address()), "bpftape_symbols_test_target");
  EXPECT_EQ(name_in_this_process(target_address() + 4), "bpftape_symbols_test_target");
}

TEST(SymbolCollector, NamesLibcFunctionsThroughTheSharedLibrary) {
  EXPECT_EQ(name_in_this_process(reinterpret_cast<uint64_t>(&::getppid)), "getppid");
}

TEST(SymbolCollector, EmitsEachMappingAndSymbolOnce) {
  SymbolCollector collector({});
  NewSymbols out;
  const uint64_t frames[] = {target_address(), target_address() + 1, target_address()};
  collector.add_user_frames(static_cast<uint32_t>(getpid()), frames, out);
  collector.add_user_frames(static_cast<uint32_t>(getpid()), frames, out);
  EXPECT_EQ(out.symbols.size(), 1u);
  EXPECT_EQ(out.mappings.size(), 1u);
  EXPECT_EQ(out.mappings[0].build_id.size(), 20u);
  EXPECT_EQ(collector.stats().user_frames, 2u);
  EXPECT_EQ(collector.stats().user_named, 2u);
  EXPECT_EQ(collector.stats().elf_files, 1u);
}

TEST(SymbolCollector, UnnamedFramesKeepTheirMappingOrAddress) {
  TempDir dir;
  // A fake process whose one executable mapping is a file without symbols.
  write_file(dir.file("proc/4242/maps"), "400000-401000 r-xp 00000000 00:00 77 /nonexistent/app\n");
  SymbolCollector collector({.proc_root = dir.file("proc"), .kallsyms = "/nonexistent", .debug_root = ""});
  NewSymbols out;
  const uint64_t frames[] = {0x400123, 0x900000};
  collector.add_user_frames(4242, frames, out);
  ASSERT_EQ(out.mappings.size(), 1u);
  EXPECT_TRUE(out.symbols.empty());
  EXPECT_EQ(collector.stats().user_unmapped, 1u);
  EXPECT_EQ(collector.stats().elf_errors, 1u);
  otlp::ebpf::Symbolizer symbolizer(out.symbols, out.mappings);
  EXPECT_EQ(symbolizer.name(4242, 0x400123), "app+0x123");
  EXPECT_EQ(symbolizer.name(4242, 0x900000), "0x900000");
}

TEST(SymbolCollector, ForgetPidRereadsTheAddressSpace) {
  TempDir dir;
  const std::string maps = dir.file("proc/7/maps");
  write_file(maps, "400000-401000 r-xp 00000000 00:00 1 /a\n");
  SymbolCollector collector({.proc_root = dir.file("proc"), .kallsyms = "", .debug_root = ""});
  NewSymbols out;
  const uint64_t frame[] = {0x400010};
  collector.add_user_frames(7, frame, out);
  write_file(maps, "400000-401000 r-xp 00000000 00:00 2 /b\n");  // exec'd another program
  collector.forget_pid(7);
  collector.add_user_frames(7, frame, out);
  ASSERT_EQ(out.mappings.size(), 2u);
  EXPECT_EQ(out.mappings[0].path, "/a");
  EXPECT_EQ(out.mappings[1].path, "/b");
}

TEST(SymbolCollector, KernelFramesFromKallsymsWithModulesAndSizes) {
  TempDir dir;
  write_file(dir.file("kallsyms"),
             "ffffffff81000000 T _text\n"
             "ffffffff81000100 t do_one\n"
             "ffffffff81000200 D some_data\n"
             "ffffffff81000300 T do_two\n"
             "ffffffffc0001000 t mod_fn\t[mymod]\n");
  SymbolCollector collector({.kallsyms = dir.file("kallsyms")});
  NewSymbols out;
  const uint64_t frames[] = {0xffffffff81000150, 0xffffffff81000250, 0xffffffffc0001010, 0xffffffff81000150};
  collector.add_kernel_frames(frames, out);
  EXPECT_TRUE(collector.stats().kallsyms_available);
  EXPECT_EQ(collector.stats().kernel_frames, 3u);
  otlp::ebpf::Symbolizer symbolizer(out.symbols, out.mappings);
  EXPECT_EQ(symbolizer.name(123, 0xffffffff81000150), "do_one");
  EXPECT_EQ(symbolizer.name(123, 0xffffffff81000250), "do_one") << "data symbols do not end functions";
  EXPECT_EQ(symbolizer.name(123, 0xffffffffc0001010), "mod_fn [mymod]");
  ASSERT_EQ(out.symbols.size(), 2u);
  EXPECT_EQ(out.symbols[0].size, 0x200u);  // up to do_two
  EXPECT_EQ(out.symbols[0].pid, 0u);
}

TEST(SymbolCollector, RestrictedKallsymsNamesNothingAndSaysSo) {
  TempDir dir;
  write_file(dir.file("kallsyms"), "0000000000000000 T _text\n0000000000000000 t do_one\n");
  SymbolCollector collector({.kallsyms = dir.file("kallsyms")});
  NewSymbols out;
  const uint64_t frames[] = {0xffffffff81000150};
  collector.add_kernel_frames(frames, out);
  EXPECT_FALSE(collector.stats().kallsyms_available);
  EXPECT_TRUE(out.symbols.empty());
  EXPECT_EQ(collector.stats().kernel_named, 0u);
}

TEST(Procfs, ReadsThisProcess) {
  auto info = read_process(static_cast<uint32_t>(getpid()));
  ASSERT_TRUE(info) << info.error().to_string();
  EXPECT_EQ(info->ppid, static_cast<uint32_t>(getppid()));
  EXPECT_THAT(info->exe, HasSubstr("symbols_unittest"));
  ASSERT_FALSE(info->cmdline.empty());
  EXPECT_THAT(info->cmdline[0], HasSubstr("symbols_unittest"));
}

TEST(Procfs, GoneProcessIsAnIoError) {
  TempDir dir;
  auto info = read_process(1, dir.path());
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().kind(), ErrorKind::Io);
}

TEST(Procfs, StatAndCgroupParsing) {
  EXPECT_EQ(ppid_from_stat("123 (a) b) c) S 77 123 123 0"), 77u);
  EXPECT_EQ(ppid_from_stat("garbage"), 0u);
  EXPECT_EQ(cgroup_v2_path("1:name=systemd:/x\n0::/system.slice/foo.service\n"), "/system.slice/foo.service");
  EXPECT_EQ(cgroup_v2_path("1:cpu:/x\n"), "");
}

}  // namespace
}  // namespace bpftape::record
