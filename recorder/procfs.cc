#include "recorder/procfs.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace bpftape::record {

using otlp::ebpf::ErrorKind;

namespace {

// Whole file, or nullopt (with errno kept) when it cannot be opened.
std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string trim_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

}  // namespace

std::vector<std::string> command_line_arguments(std::string_view text) {
  std::vector<std::string> args;
  if (text.ends_with('\0')) text.remove_suffix(1);  // the terminator of the last argument
  if (text.empty()) return args;                   // a kernel thread, or a zombie
  for (;;) {
    const size_t end = text.find('\0');
    args.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return args;
}

std::string cgroup_v2_path(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.starts_with("0::")) return std::string(line.substr(3));
    pos = end + 1;
  }
  return {};
}

uint64_t stat_field(std::string_view stat, int field) {
  // "pid (comm) state ppid ...": comm may hold ") ", so fields are counted from the last ')',
  // which ends field 2.
  const size_t close = stat.rfind(')');
  if (field < 3 || close == std::string_view::npos) return 0;
  std::string_view rest = stat.substr(close + 1);
  for (int f = 3; f <= field; ++f) {
    const size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) return 0;
    rest = rest.substr(start);
    if (f == field) break;
    const size_t space = rest.find(' ');
    if (space == std::string_view::npos) return 0;
    rest = rest.substr(space);
  }
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  return ec == std::errc() ? value : 0;
}

uint32_t ppid_from_stat(std::string_view stat) {
  return static_cast<uint32_t>(stat_field(stat, 4));
}

otlp::ebpf::Result<otlp::ebpf::ProcessInfo> read_process(uint32_t pid, const std::string& proc_root) {
  const std::string dir = fmt::format("{}/{}", proc_root, pid);
  auto stat = slurp(dir + "/stat");
  if (!stat) {
    return otlp::ebpf::errno_error(ErrorKind::Io, fmt::format("read {}/stat", dir), errno);
  }
  otlp::ebpf::ProcessInfo info;
  info.pid = pid;
  info.ppid = ppid_from_stat(*stat);
  if (auto comm = slurp(dir + "/comm")) info.comm = trim_newline(std::move(*comm));
  char exe[PATH_MAX];
  const ssize_t n = ::readlink((dir + "/exe").c_str(), exe, sizeof(exe));
  if (n > 0) info.exe.assign(exe, static_cast<size_t>(n));
  if (auto cmdline = slurp(dir + "/cmdline")) info.cmdline = command_line_arguments(*cmdline);
  if (auto cgroup = slurp(dir + "/cgroup")) {
    info.cgroup = cgroup_v2_path(*cgroup);
    info.container_id = otlp::ebpf::container_id_from_cgroup(info.cgroup);
  }
  return info;
}

}  // namespace bpftape::record
