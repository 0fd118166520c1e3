// EbpfLoader + ProbeManager + MapsManager on the live kernel: the generic path (any object from
// memory), exercised with bpftape's own objects and a test-only tracepoint object.
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bpf/ebpf_loader.h"
#include "bpf/maps_manager.h"
#include "bpf/probe_manager.h"
#include "tests/kernel/live_test_util.h"

namespace otlp::ebpf::testing {
namespace {

using ::testing::HasSubstr;

std::vector<std::byte> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

template <typename T>
std::span<const std::byte> as_bytes(const T& value) {
  return std::as_bytes(std::span(&value, 1));
}

template <typename T>
T from_bytes(const Bytes& bytes, size_t offset = 0) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

void expect_all_attached(const ProbeManager& probes, bool attached, size_t count) {
  const auto list = probes.list_probes();
  ASSERT_EQ(list.size(), count);
  for (const auto& p : list) EXPECT_EQ(p.attached, attached) << p.name << " " << p.target;
}

TEST(LoaderLivetest, EachBuiltinObjectLoadsAndAttachesThroughTheGenericPath) {
  BPFTAPE_REQUIRE_LIVE();
  for (auto name : builtin_bpf_object_names()) {
    SCOPED_TRACE(std::string(name));
    auto bytes = builtin_bpf_object(name);
    ASSERT_TRUE(bytes);
    EbpfLoader loader;
    auto loaded = loader.load(*bytes, name);
    ASSERT_TRUE(loaded) << loaded.error().to_string();
    ASSERT_TRUE(loader.is_loaded());
    ProbeManager probes;
    size_t expected = 0;
    if (name == "syscall") {
      ASSERT_TRUE(probes.attach_raw_tracepoint("bt_sys_enter", "sys_enter", &loader));
      ASSERT_TRUE(probes.attach_raw_tracepoint("bt_sys_exit", "sys_exit", &loader));
      expected = 2;
    } else if (name == "cpu_sample") {
      auto r = probes.attach_perf_event("bt_cpu_sample", PerfEventSpec{.sample_freq_hz = 49}, &loader);
      ASSERT_TRUE(r) << r.error().to_string();
      expected = 1;
    } else if (name == "memory") {
      auto r = probes.attach_uprobe("bt_malloc_enter", "libc.so.6", "malloc", std::nullopt, &loader);
      ASSERT_TRUE(r) << r.error().to_string();
      r = probes.attach_uprobe("bt_malloc_exit", "libc.so.6", "malloc", std::nullopt, &loader);
      ASSERT_TRUE(r) << r.error().to_string();
      expected = 2;
    } else {
      for (const auto& program : loader.program_names()) {
        auto r = probes.attach_auto(program, &loader);
        ASSERT_TRUE(r) << r.error().to_string();
        ++expected;
      }
    }
    expect_all_attached(probes, true, expected);
    loader.unload();
    EXPECT_FALSE(loader.is_loaded());
    expect_all_attached(probes, false, expected);  // unload detached everything
    loader.unload();                               // idempotent
    EXPECT_FALSE(loader.is_loaded());
  }
}

TEST(LoaderLivetest, KprobeAttachSaysTheKernelLacksKprobes) {
  BPFTAPE_REQUIRE_LIVE();
  if (std::filesystem::exists("/sys/bus/event_source/devices/kprobe")) {
    GTEST_SKIP() << "this kernel has kprobes; the no-kprobe message cannot be observed here";
  }
  EbpfLoader loader;
  ASSERT_TRUE(loader.load(*builtin_bpf_object("syscall"), "syscall"));
  ProbeManager probes;
  auto r = probes.attach_kprobe("bt_sys_enter", "do_sys_openat2", &loader);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::AttachFailed);
  EXPECT_THAT(r.error().message(), HasSubstr("this kernel has no kprobes"));
  EXPECT_TRUE(probes.list_probes().empty()) << "a failed attach registers nothing";
}

// The tracepoint object counts syscalls of target_pid per number: exact count through maps.
TEST(LoaderLivetest, RegisteredTracepointAttachesLaterAndMapsCountExactly) {
  BPFTAPE_REQUIRE_LIVE();
  constexpr int kCalls = 321;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(fds[1]);
    char byte;
    if (read(fds[0], &byte, 1) != 1) _exit(2);
    for (int i = 0; i < kCalls; ++i) syscall(SYS_getppid);
    _exit(0);
  }
  close(fds[0]);

  ProbeManager probes;
  // No object yet: registration only.
  ASSERT_TRUE(probes.attach_tracepoint("count_syscalls", "raw_syscalls", "sys_enter"));
  expect_all_attached(probes, false, 1);

  EbpfLoader loader;
  const auto bytes = read_file(BPFTAPE_TEST_BPF_OBJECT);
  ASSERT_FALSE(bytes.empty()) << BPFTAPE_TEST_BPF_OBJECT;
  auto loaded = loader.load(bytes, "tracepoint_test");
  ASSERT_TRUE(loaded) << loaded.error().to_string();

  MapsManager maps;
  ASSERT_TRUE(maps.register_map("target_pid", MapType::Array, 4, 4));
  ASSERT_TRUE(maps.register_map("counts", MapType::Hash, 4, 8));
  ASSERT_TRUE(maps.register_map("hits", MapType::PerCpuArray, 4, 8));
  const uint32_t zero = 0, target = static_cast<uint32_t>(child);
  ASSERT_TRUE(maps.write_map("target_pid", as_bytes(zero), as_bytes(target), &loader));
  auto back = maps.read_map("target_pid", as_bytes(zero), &loader);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(from_bytes<uint32_t>(*back), target);

  auto attached = probes.attach_registered(loader);  // mounts tracefs if needed
  ASSERT_TRUE(attached) << attached.error().to_string();
  expect_all_attached(probes, true, 1);

  ASSERT_EQ(write(fds[1], "x", 1), 1);
  close(fds[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);

  const uint32_t getppid_nr = SYS_getppid;
  auto count = maps.read_map("counts", as_bytes(getppid_nr), &loader);
  ASSERT_TRUE(count) << count.error().to_string();
  EXPECT_EQ(from_bytes<uint64_t>(*count), static_cast<uint64_t>(kCalls));

  // Per-CPU: one 8-byte slot per possible CPU; their sum counts every traced syscall.
  auto hits = maps.read_map("hits", as_bytes(zero), &loader);
  ASSERT_TRUE(hits) << hits.error().to_string();
  ASSERT_EQ(hits->size() % 8, 0u);
  uint64_t total_hits = 0;
  for (size_t off = 0; off < hits->size(); off += 8) total_hits += from_bytes<uint64_t>(*hits, off);
  uint64_t total_counts = 0;
  size_t keys = 0;
  auto visited = maps.for_each("counts", &loader, [&](auto key, auto value) {
    ASSERT_EQ(key.size(), 4u);
    uint64_t v;
    std::memcpy(&v, value.data(), 8);
    total_counts += v;
    ++keys;
  });
  ASSERT_TRUE(visited) << visited.error().to_string();
  EXPECT_EQ(*visited, keys);
  EXPECT_EQ(total_hits, total_counts);
  EXPECT_GE(total_counts, static_cast<uint64_t>(kCalls));

  // Per-CPU write of one value replicates it to every CPU.
  const uint64_t seven = 7;
  ASSERT_TRUE(maps.write_map("hits", as_bytes(zero), as_bytes(seven), &loader));
  hits = maps.read_map("hits", as_bytes(zero), &loader);
  for (size_t off = 0; off < hits->size(); off += 8) EXPECT_EQ(from_bytes<uint64_t>(*hits, off), 7u);

  // Hash round trip + delete.
  const uint32_t key = 100000;
  const uint64_t value = 0x1122334455667788ull;
  ASSERT_TRUE(maps.write_map("counts", as_bytes(key), as_bytes(value), &loader));
  EXPECT_EQ(from_bytes<uint64_t>(*maps.read_map("counts", as_bytes(key), &loader)), value);
  ASSERT_TRUE(maps.delete_map("counts", as_bytes(key), &loader));
  auto gone = maps.read_map("counts", as_bytes(key), &loader);
  ASSERT_FALSE(gone);
  EXPECT_THAT(gone.error().message(), HasSubstr("no entry"));

  // Checks against the kernel's map.
  ASSERT_TRUE(maps.register_map("counts_as_array", MapType::Array, 4, 8));
  auto unknown = maps.read_map("counts_as_array", as_bytes(zero), &loader);
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message(), HasSubstr("no such map"));
  MapsManager wrong;
  ASSERT_TRUE(wrong.register_map("counts", MapType::Array, 4, 8));
  auto mistyped = wrong.read_map("counts", as_bytes(zero), &loader);
  ASSERT_FALSE(mistyped);
  EXPECT_THAT(mistyped.error().message(), HasSubstr("kernel map has type hash"));
  ASSERT_TRUE(wrong.register_map("target_pid", MapType::Array, 4, 8));
  auto missized = wrong.read_map("target_pid", as_bytes(zero), &loader);
  ASSERT_FALSE(missized);
  EXPECT_THAT(missized.error().message(), HasSubstr("kernel map has 4 and 4"));

  ASSERT_TRUE(probes.detach("count_syscalls"));
  EXPECT_TRUE(probes.list_probes().empty());
  EXPECT_FALSE(probes.detach("count_syscalls"));
}

TEST(LoaderLivetest, LoadRejectsInvalidObjectsBeforeTheKernel) {
  BPFTAPE_REQUIRE_LIVE();
  EbpfLoader loader;
  auto bytes = *builtin_bpf_object("syscall");
  std::vector<std::byte> copy(bytes.begin(), bytes.end());
  copy[18] = std::byte{62};  // e_machine = EM_X86_64
  copy[19] = std::byte{0};
  auto r = loader.load(copy);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::FormatError);
  EXPECT_THAT(r.error().message(), HasSubstr("not EM_BPF"));
  EXPECT_FALSE(loader.is_loaded());
}

TEST(LoaderLivetest, UnprivilegedUserGetsPermissionErrorsThatSayWhatToDo) {
  BPFTAPE_REQUIRE_LIVE();
  if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "setpriv (util-linux) missing";
  const std::string command = std::string("/usr/bin/setpriv --reuid=nobody --regid=nogroup "
                                          "--clear-groups --inh-caps=-all ") +
                              BPFTAPE_UNPRIVILEGED_HELPER + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  std::array<char, 512> buf;
  while (fgets(buf.data(), buf.size(), pipe)) output += buf.data();
  const int status = pclose(pipe);
  ASSERT_EQ(status, 0) << output;
  const std::string kind(error_kind_name(ErrorKind::InsufficientPermissions));
  EXPECT_THAT(output, HasSubstr("check_system_support: " + kind));
  EXPECT_THAT(output, HasSubstr("loader_load: " + kind));
  EXPECT_THAT(output, HasSubstr("syscall_probe: " + kind));
  EXPECT_THAT(output, HasSubstr("run as root or grant CAP_BPF,CAP_PERFMON"));
}

}  // namespace
}  // namespace otlp::ebpf::testing
