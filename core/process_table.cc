#include "core/process_table.h"

#include <algorithm>
#include <iterator>

namespace otlp::ebpf {
namespace {

void merge_known(ProcessInfo& into, const ProcessInfo& from) {
  if (from.ppid) into.ppid = from.ppid;
  if (!from.comm.empty()) into.comm = from.comm;
  if (!from.exe.empty()) into.exe = from.exe;
  if (!from.cmdline.empty()) into.cmdline = from.cmdline;
  if (!from.cgroup.empty()) into.cgroup = from.cgroup;
  if (!from.container_id.empty()) into.container_id = from.container_id;
  if (from.exit_ns) {
    into.exit_ns = from.exit_ns;
    into.exit_code = from.exit_code;
  }
}

// One pid's incarnation (by start time) started at or before `timestamp_ns`, the latest such;
// end() when every one started later. Const or not, as the map is.
template <typename Incarnations>
auto alive_at(Incarnations& incarnations, uint64_t timestamp_ns) {
  auto after = incarnations.upper_bound(timestamp_ns);
  return after == incarnations.begin() ? incarnations.end() : std::prev(after);
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

ProcessInfo& ProcessTable::find_or_insert(const ProcessInfo& info, bool& inserted) {
  auto [it, fresh] = by_pid_[info.pid].try_emplace(info.start_ns, info);
  inserted = fresh;
  return it->second;
}

void ProcessTable::upsert(const ProcessInfo& info) {
  ++version_;
  bool inserted = false;
  ProcessInfo& incarnation = find_or_insert(info, inserted);
  if (!inserted) merge_known(incarnation, info);
}

void ProcessTable::replace(const ProcessInfo& info) {
  ++version_;
  bool inserted = false;
  ProcessInfo& incarnation = find_or_insert(info, inserted);
  if (!inserted) incarnation = info;
}

void ProcessTable::mark_exit(uint32_t pid, uint64_t timestamp_ns, int32_t exit_code) {
  ++version_;
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) {
    upsert(ProcessInfo{.pid = pid, .exit_ns = timestamp_ns, .exit_code = exit_code});
    return;
  }
  auto alive = alive_at(it->second, timestamp_ns);
  if (alive == it->second.end()) return;  // every known incarnation started later
  alive->second.exit_ns = timestamp_ns;
  alive->second.exit_code = exit_code;
}

const ProcessInfo* ProcessTable::lookup(uint32_t pid, uint64_t timestamp_ns) const {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end() || it->second.empty()) return nullptr;
  auto alive = alive_at(it->second, timestamp_ns);
  return alive != it->second.end() ? &alive->second : &it->second.begin()->second;
}

const ProcessInfo* ProcessTable::latest(uint32_t pid) const {
  auto it = by_pid_.find(pid);
  return it == by_pid_.end() || it->second.empty() ? nullptr : &it->second.rbegin()->second;
}

std::vector<ProcessInfo> ProcessTable::all() const {
  std::vector<ProcessInfo> out;
  for (const auto& [pid, incarnations] : by_pid_) {
    for (const auto& [start, p] : incarnations) out.push_back(p);
  }
  return out;
}

size_t ProcessTable::size() const {
  size_t n = 0;
  for (const auto& [pid, incarnations] : by_pid_) n += incarnations.size();
  return n;
}

std::string command_line(const ProcessInfo& info) {
  std::string out;
  for (const auto& arg : info.cmdline) {
    if (!out.empty()) out += ' ';
    out += arg;
  }
  return out;
}

std::string container_id_from_cgroup(std::string_view path) {
  // Scan every 64-hex run that is a whole path component, or follows "docker-"/"cri-containerd-"
  // /"crio-"/"libpod-" and precedes ".scope"; the last one wins (innermost).
  std::string found;
  for (size_t i = 0; i + 64 <= path.size(); ++i) {
    if (!std::all_of(path.begin() + i, path.begin() + i + 64, is_hex)) continue;
    bool starts = i == 0 || path[i - 1] == '/' || path[i - 1] == '-';
    size_t end = i + 64;
    bool ends = end == path.size() || path[end] == '/' || path.substr(end).starts_with(".scope");
    if (starts && ends) {
      found = std::string(path.substr(i, 64));
      i = end - 1;
    }
  }
  return found;
}

}  // namespace otlp::ebpf
