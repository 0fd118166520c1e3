#include "core/system_support.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace otlp::ebpf {
namespace {

namespace fs = std::filesystem;

TEST(ParseKernelVersionTest, Forms) {
  EXPECT_EQ(parse_kernel_version("6.1.0-18-amd64"), std::make_pair(6, 1));
  EXPECT_EQ(parse_kernel_version("5.15.0-91-generic"), std::make_pair(5, 15));
  EXPECT_EQ(parse_kernel_version("4.19"), std::make_pair(4, 19));
  EXPECT_EQ(parse_kernel_version("garbage"), std::nullopt);
  EXPECT_EQ(parse_kernel_version("6"), std::nullopt);
  EXPECT_EQ(parse_kernel_version(""), std::nullopt);
}

// A fake /sys and /proc let us check the file-based probes both ways on one machine.
class FakeRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("bpftape-sys-" + std::to_string(getpid()));
    fs::create_directories(root_ / "sys");
    fs::create_directories(root_ / "proc/sys/kernel");
    std::ofstream(root_ / "proc/sys/kernel/perf_event_paranoid") << "2\n";
    std::ofstream(root_ / "proc/mounts") << "proc /proc proc rw 0 0\n";
    paths_.sys_root = (root_ / "sys").string();
    paths_.proc_root = (root_ / "proc").string();
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
  SystemPaths paths_;
};

TEST_F(FakeRootTest, EmptySysMeansNoBtfNoTracepointsNoTracefs) {
  auto report = check_system_support(paths_);
  EXPECT_EQ(report.find("btf")->status, CheckStatus::Missing);
  EXPECT_EQ(report.find("tracepoints")->status, CheckStatus::Missing);
  EXPECT_EQ(report.find("uprobes")->status, CheckStatus::Warn);
  EXPECT_EQ(report.find("kprobes")->status, CheckStatus::Warn);
  EXPECT_EQ(report.find("tracefs")->status, CheckStatus::Warn);
  EXPECT_FALSE(report.can_record());
  auto as_error = report.as_result();
  ASSERT_FALSE(as_error.has_value());
  EXPECT_NE(as_error.error().message().find("btf"), std::string::npos);
  EXPECT_FALSE(report.find("btf")->remedy.empty());
}

TEST_F(FakeRootTest, PresentFilesAreOk) {
  fs::create_directories(root_ / "sys/kernel/btf");
  std::ofstream(root_ / "sys/kernel/btf/vmlinux") << "x";
  for (const char* pmu : {"tracepoint", "uprobe", "kprobe"}) {
    fs::create_directories(root_ / "sys/bus/event_source/devices" / pmu);
  }
  std::ofstream(root_ / "proc/mounts", std::ios::app) << "tracefs /sys/kernel/tracing tracefs rw 0 0\n";
  auto report = check_system_support(paths_);
  for (const char* name : {"btf", "tracepoints", "uprobes", "kprobes", "tracefs"}) {
    EXPECT_EQ(report.find(name)->status, CheckStatus::Ok) << name;
    EXPECT_TRUE(report.find(name)->remedy.empty()) << name;
  }
}

TEST(SystemSupportTest, ReportsThisKernelRelease) {
  utsname uts{};
  ASSERT_EQ(uname(&uts), 0);
  auto report = check_system_support();
  EXPECT_EQ(report.kernel_release, uts.release);
  ASSERT_NE(report.find("kernel_version"), nullptr);
  EXPECT_NE(report.find("kernel_version")->detail.find(uts.release), std::string::npos);
}

TEST(SystemSupportTest, PrivilegeChecksAgreeWithOurUid) {
  auto report = check_system_support();
  // As root everything privilege-related works; as anyone else without capabilities, the BPF
  // syscall must be refused. Either way the report must say so.
  if (geteuid() == 0) {
    EXPECT_EQ(report.find("cap_bpf")->status, CheckStatus::Ok);
    EXPECT_EQ(report.find("bpf_syscall")->status, CheckStatus::Ok);
  } else {
    EXPECT_EQ(report.find("bpf_syscall")->status, CheckStatus::Missing);
    EXPECT_FALSE(report.can_record());
    EXPECT_EQ(report.as_result().error().kind(), ErrorKind::InsufficientPermissions);
  }
}

}  // namespace
}  // namespace otlp::ebpf
