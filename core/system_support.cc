#include "core/system_support.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace otlp::ebpf {
namespace {

constexpr int kMinKernelMajor = 5;
constexpr int kMinKernelMinor = 8;  // BPF ring buffer, CAP_BPF/CAP_PERFMON
constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

struct Capabilities {
  bool known = false;
  uint64_t effective = 0;
  bool has(int cap) const { return known && (effective >> cap) & 1; }
};

Capabilities read_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  Capabilities caps;
  if (syscall(SYS_capget, &header, data) == 0) {
    caps.known = true;
    caps.effective = static_cast<uint64_t>(data[0].effective) |
                     (static_cast<uint64_t>(data[1].effective) << 32);
  }
  return caps;
}

// Creates and closes a BPF map of `type`; returns 0 or the errno.
int try_create_map(bpf_map_type type, uint32_t key_size, uint32_t value_size,
                   uint32_t max_entries) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_type = type;
  attr.key_size = key_size;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
  if (fd < 0) return errno;
  close(static_cast<int>(fd));
  return 0;
}

// Opens a CPU-wide software cpu-clock event on CPU 0: what the CPU profiler needs.
int try_cpu_wide_perf_event() {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.freq = 1;
  attr.sample_freq = 99;
  attr.disabled = 1;
  long fd = syscall(SYS_perf_event_open, &attr, -1 /*any pid*/, 0 /*cpu 0*/, -1, 0);
  if (fd < 0) return errno;
  close(static_cast<int>(fd));
  return 0;
}

bool tracefs_mounted(const SystemPaths& paths) {
  std::ifstream mounts(paths.proc_root + "/mounts");
  std::string device, mount_point, fs_type;
  std::string rest;
  while (mounts >> device >> mount_point >> fs_type) {
    std::getline(mounts, rest);
    if (fs_type == "tracefs") return true;
  }
  return false;
}

const char* kPrivilegeRemedy = "run as root, or grant CAP_BPF,CAP_PERFMON (e.g. setcap "
                               "cap_bpf,cap_perfmon+ep $(which bpftape))";

SupportCheck check(std::string name, bool ok, std::string detail, std::string remedy,
                   bool required, CheckStatus failed_status = CheckStatus::Missing) {
  return SupportCheck{std::move(name), ok ? CheckStatus::Ok : failed_status, std::move(detail),
                      ok ? std::string() : std::move(remedy), required};
}

std::string errno_detail(int err) {
  return err == 0 ? "works" : fmt::format("failed: {}", std::strerror(err));
}

}  // namespace

std::optional<std::pair<int, int>> parse_kernel_version(std::string_view release) {
  int major = 0, minor = 0;
  auto* begin = release.data();
  auto* end = release.data() + release.size();
  auto [p1, ec1] = std::from_chars(begin, end, major);
  if (ec1 != std::errc() || p1 == end || *p1 != '.') return std::nullopt;
  auto [p2, ec2] = std::from_chars(p1 + 1, end, minor);
  if (ec2 != std::errc()) return std::nullopt;
  return std::make_pair(major, minor);
}

bool SystemSupportReport::can_record() const {
  for (const auto& c : checks) {
    if (c.required && c.status == CheckStatus::Missing) return false;
  }
  return true;
}

const SupportCheck* SystemSupportReport::find(std::string_view name) const {
  for (const auto& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Result<void> SystemSupportReport::as_result() const {
  for (const auto& c : checks) {
    if (!c.required || c.status != CheckStatus::Missing) continue;
    ErrorKind kind = ErrorKind::UnsupportedPlatform;
    if (c.name.starts_with("cap_") || c.name == "bpf_syscall") {
      kind = ErrorKind::InsufficientPermissions;
    } else if (c.name == "kernel_version" || c.name == "btf" || c.name == "ringbuf") {
      kind = ErrorKind::IncompatibleKernel;
    }
    return make_error(kind, fmt::format("{}: {}; {}", c.name, c.detail, c.remedy));
  }
  return {};
}

SystemSupportReport check_system_support(const SystemPaths& paths) {
  SystemSupportReport report;
  utsname uts{};
  if (uname(&uts) == 0) report.kernel_release = uts.release;
  auto& checks = report.checks;

  auto version = parse_kernel_version(report.kernel_release);
  bool new_enough = version && (version->first > kMinKernelMajor ||
                                (version->first == kMinKernelMajor &&
                                 version->second >= kMinKernelMinor));
  checks.push_back(check("kernel_version", new_enough,
                         fmt::format("{} (need >= {}.{})", report.kernel_release,
                                     kMinKernelMajor, kMinKernelMinor),
                         "upgrade to Linux 5.8 or newer (5.15+ recommended)", true));

  std::string btf_path = paths.sys_root + "/kernel/btf/vmlinux";
  checks.push_back(check("btf", exists(btf_path),
                         exists(btf_path) ? btf_path : btf_path + " not found",
                         "use a kernel built with CONFIG_DEBUG_INFO_BTF=y", true));

  Capabilities caps = read_capabilities();
  bool sys_admin = caps.has(kCapSysAdmin);
  auto cap_line = [&](std::string name, int cap, bool required) {
    bool has = caps.has(cap);
    std::string detail = has ? "present" : (caps.known ? "absent" : "unknown (capget failed)");
    // CAP_SYS_ADMIN implies the BPF and perfmon privileges on every kernel that has them.
    bool covered = has || (cap != kCapSysAdmin && sys_admin);
    if (!has && covered) detail += " (covered by CAP_SYS_ADMIN)";
    checks.push_back(check(std::move(name), covered, std::move(detail), kPrivilegeRemedy,
                           required));
  };
  cap_line("cap_bpf", kCapBpf, true);
  cap_line("cap_perfmon", kCapPerfmon, true);
  cap_line("cap_sys_admin", kCapSysAdmin, false);
  // Not required alone: CAP_BPF + CAP_PERFMON suffice, so missing SYS_ADMIN is only a warning.
  if (checks.back().status == CheckStatus::Missing) checks.back().status = CheckStatus::Warn;

  int bpf_err = try_create_map(BPF_MAP_TYPE_ARRAY, 4, 4, 1);
  checks.push_back(check("bpf_syscall", bpf_err == 0, errno_detail(bpf_err),
                         bpf_err == EPERM ? kPrivilegeRemedy
                                          : "kernel built without CONFIG_BPF_SYSCALL",
                         true));

  int ringbuf_err = try_create_map(BPF_MAP_TYPE_RINGBUF, 0, 0,
                                   static_cast<uint32_t>(sysconf(_SC_PAGESIZE)));
  checks.push_back(check("ringbuf", ringbuf_err == 0, errno_detail(ringbuf_err),
                         ringbuf_err == EPERM ? kPrivilegeRemedy
                                              : "BPF ring buffers need Linux 5.8+",
                         true));

  int perf_err = try_cpu_wide_perf_event();
  std::string paranoid = read_first_line(paths.proc_root + "/sys/kernel/perf_event_paranoid");
  checks.push_back(check("perf_event", perf_err == 0,
                         fmt::format("cpu-wide cpu-clock event {} (perf_event_paranoid={})",
                                     errno_detail(perf_err), paranoid),
                         "run as root or grant CAP_PERFMON (or lower "
                         "kernel.perf_event_paranoid to -1)",
                         true));

  std::string devices = paths.sys_root + "/bus/event_source/devices/";
  checks.push_back(check("tracepoints", exists(devices + "tracepoint"),
                         exists(devices + "tracepoint") ? "available" : "no tracepoint PMU",
                         "use a kernel built with CONFIG_TRACEPOINTS", true));
  checks.push_back(check("uprobes", exists(devices + "uprobe"),
                         exists(devices + "uprobe") ? "available" : "no uprobe PMU",
                         "memory tracing needs CONFIG_UPROBE_EVENTS; other tracers still work",
                         false, CheckStatus::Warn));
  checks.push_back(check("kprobes", exists(devices + "kprobe"),
                         exists(devices + "kprobe") ? "available"
                                                    : "kernel built without kprobes",
                         "not needed: bpftape traces network and syscalls through tracepoints",
                         false, CheckStatus::Warn));
  bool tracefs = tracefs_mounted(paths);
  checks.push_back(check("tracefs", tracefs, tracefs ? "mounted" : "not mounted",
                         "bpftape mounts it when run as root; or: mount -t tracefs tracefs "
                         "/sys/kernel/tracing",
                         false, CheckStatus::Warn));
  return report;
}

}  // namespace otlp::ebpf
