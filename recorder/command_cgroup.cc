#include "recorder/command_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/unique_fd.h"
#include "recorder/procfs.h"

namespace bpftape::record {

using otlp::ebpf::ErrorKind;
using otlp::ebpf::Result;
using otlp::ebpf::UniqueFd;

namespace {

constexpr std::string_view kPrefix = "bpftape-record-";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Writes `text` to a cgroup control file in one write(), as the kernel wants.
bool write_control(const std::string& path, const std::string& text) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return false;
  return write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

std::vector<pid_t> read_pids(const std::string& procs) {
  std::ifstream in(procs);
  std::vector<pid_t> pids;
  for (pid_t pid; in >> pid;) pids.push_back(pid);
  return pids;
}

// Moves every process of `dir` to `parent`, then removes `dir`; how many were moved. A process
// forking meanwhile can leave one behind: a few rounds, then rmdir reports EBUSY.
size_t evacuate_and_remove(const std::string& dir, const std::string& parent) {
  size_t moved = 0;
  for (int round = 0; round < 8; ++round) {
    const std::vector<pid_t> pids = read_pids(dir + "/cgroup.procs");
    if (pids.empty()) break;
    for (pid_t pid : pids) moved += write_control(parent + "/cgroup.procs", std::to_string(pid));
  }
  rmdir(dir.c_str());
  return moved;
}

// "<pid>-<start ticks>" after the prefix -> both; false for anything else (names of older
// versions, `bpftape-record-<command pid>`, say nothing about their recorder).
bool parse_name(std::string_view name, pid_t* pid, uint64_t* start) {
  if (!name.starts_with(kPrefix)) return false;
  name.remove_prefix(kPrefix.size());
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos) return false;
  auto [p, e1] = std::from_chars(name.data(), name.data() + dash, *pid);
  auto [q, e2] = std::from_chars(name.data() + dash + 1, name.data() + name.size(), *start);
  return e1 == std::errc() && p == name.data() + dash && e2 == std::errc() &&
         q == name.data() + name.size() && *pid > 0;
}

}  // namespace

std::string cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    // Fields: id parent major:minor root mount-point ...
    size_t pos = 0;
    for (int field = 0; field < 4; ++field) pos = line.find(' ', pos) + 1;
    return line.substr(pos, line.find(' ', pos) - pos);
  }
  return {};
}

Result<uint64_t> cgroup_id_of(const std::string& given) {
  std::string path = given;
  if (!path.starts_with("/sys/fs/cgroup")) {
    const std::string mount = cgroup2_mount();
    if (mount.empty()) {
      return otlp::ebpf::make_error(ErrorKind::ConfigError,
                                    "--cgroup: this system has no cgroup v2 mount");
    }
    path = mount + (given.starts_with("/") ? "" : "/") + given;
  }
  struct statfs fs {};
  struct stat st {};
  if (statfs(path.c_str(), &fs) != 0 || stat(path.c_str(), &st) != 0) {
    return otlp::ebpf::errno_error(ErrorKind::ConfigError, "--cgroup " + path, errno);
  }
  constexpr long kCgroup2Magic = 0x63677270;
  if (fs.f_type != kCgroup2Magic || !S_ISDIR(st.st_mode)) {
    return otlp::ebpf::make_error(ErrorKind::ConfigError,
                                  fmt::format("--cgroup: {} is not a cgroup v2 directory", path));
  }
  return static_cast<uint64_t>(st.st_ino);
}

std::string own_cgroup_dir() {
  const std::string mount = cgroup2_mount();
  if (mount.empty()) return {};
  const std::string own = cgroup_v2_path(read_text("/proc/self/cgroup"));
  if (own.empty()) return {};
  return own == "/" ? mount : mount + own;
}

std::string command_cgroup_name(pid_t pid, uint64_t start_ticks) {
  return fmt::format("{}{}-{}", kPrefix, pid, start_ticks);
}

uint64_t process_start_ticks(pid_t pid, const std::string& proc_root) {
  return stat_field(read_text(fmt::format("{}/{}/stat", proc_root, pid)), 22);
}

Result<std::unique_ptr<CommandCgroup>> CommandCgroup::create() {
  const std::string parent = own_cgroup_dir();
  if (parent.empty()) {
    return otlp::ebpf::make_error(ErrorKind::NotSupported, "no cgroup v2 hierarchy is mounted");
  }
  const pid_t self = getpid();
  const std::string path = parent + "/" + command_cgroup_name(self, process_start_ticks(self));
  if (mkdir(path.c_str(), 0755) != 0) {
    return otlp::ebpf::errno_error(ErrorKind::Io, "mkdir " + path, errno);
  }
  std::unique_ptr<CommandCgroup> cgroup(new CommandCgroup(parent, path));
  BPFTAPE_ASSIGN_OR_RETURN(cgroup->id_, cgroup_id_of(path));
  return cgroup;
}

CommandCgroup::~CommandCgroup() { evacuate_and_remove(path_, parent_); }

Result<void> CommandCgroup::add(pid_t pid) {
  if (!write_control(path_ + "/cgroup.procs", std::to_string(pid))) {
    return otlp::ebpf::errno_error(ErrorKind::Io, fmt::format("moving pid {} into {}", pid, path_),
                                   errno);
  }
  return {};
}

std::vector<pid_t> CommandCgroup::pids() const { return read_pids(path_ + "/cgroup.procs"); }

size_t CommandCgroup::signal_all(int sig) {
  if (sig == SIGKILL) {
    const size_t there = pids().size();
    if (write_control(path_ + "/cgroup.kill", "1")) return there;
  }
  // Without cgroup.kill a process may fork between reading the list and the signal: repeat
  // while the list shows processes not signalled yet (bounded: a fork bomb outruns anything).
  std::vector<pid_t> signalled;
  for (int round = 0; round < 16; ++round) {
    bool fresh = false;
    for (pid_t pid : pids()) {
      if (std::find(signalled.begin(), signalled.end(), pid) != signalled.end()) continue;
      kill(pid, sig);
      signalled.push_back(pid);
      fresh = true;
    }
    if (!fresh) break;
  }
  return signalled.size();
}

std::vector<RemovedCgroup> remove_stale_command_cgroups(const std::string& given_parent) {
  const std::string parent = given_parent.empty() ? own_cgroup_dir() : given_parent;
  std::vector<RemovedCgroup> removed;
  if (parent.empty()) return removed;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(parent.c_str()), closedir);
  if (!dir) return removed;
  std::vector<std::string> names;
  while (const dirent* entry = readdir(dir.get())) {
    if (entry->d_type == DT_DIR) names.emplace_back(entry->d_name);
  }
  for (const std::string& name : names) {
    pid_t pid = 0;
    uint64_t start = 0;
    if (!parse_name(name, &pid, &start)) continue;
    if (process_start_ticks(pid) == start) continue;  // its recorder is alive
    const std::string path = parent + "/" + name;
    const size_t moved = evacuate_and_remove(path, parent);
    if (access(path.c_str(), F_OK) != 0) removed.push_back(RemovedCgroup{path, pid, moved});
  }
  return removed;
}

}  // namespace bpftape::record
