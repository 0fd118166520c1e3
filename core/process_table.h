// ProcessTable: what is known about each process a recording saw — the recorder fills it from
// /proc and exec/fork/exit events, the tape stores it, readers rebuild it. Outputs use it to
// name processes (report, OTLP resource attributes, pprof).
//
// Pids are reused by the kernel, so a pid maps to a sequence of incarnations ordered by start
// time; lookup(pid, t) returns the incarnation alive at time t.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace otlp::ebpf {

struct ProcessInfo {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  std::string comm;          // kernel task name (<= 15 chars)
  std::string exe;           // executable path; empty when unknown
  std::string cmdline;       // arguments joined by spaces; empty when unknown or redacted
  std::string cgroup;        // cgroup v2 path, e.g. "/system.slice/nginx.service"
  std::string container_id;  // derived from the cgroup path when it names one; else empty
  uint64_t start_ns = 0;     // CLOCK_MONOTONIC; 0 when it started before the recording
  uint64_t exit_ns = 0;      // 0 while alive (or not seen exiting)
  int32_t exit_code = 0;

  bool operator==(const ProcessInfo&) const = default;
};

class ProcessTable {
 public:
  // Adds a new incarnation, or updates the latest incarnation of info.pid when it has the
  // same start_ns (fields that are empty/zero in `info` do not overwrite known values).
  void upsert(const ProcessInfo& info);
  // Marks the incarnation alive at `timestamp_ns` as exited.
  void mark_exit(uint32_t pid, uint64_t timestamp_ns, int32_t exit_code);

  // The incarnation alive at `timestamp_ns` (the latest one started at or before it).
  const ProcessInfo* lookup(uint32_t pid, uint64_t timestamp_ns) const;
  // The latest incarnation, whatever the time.
  const ProcessInfo* latest(uint32_t pid) const;
  // Every incarnation, by pid then start time: deterministic order for outputs and tapes.
  std::vector<ProcessInfo> all() const;
  size_t size() const;
  // Grows with every upsert()/mark_exit(): readers that mirror the table skip unchanged ones.
  uint64_t version() const { return version_; }

 private:
  std::map<uint32_t, std::vector<ProcessInfo>> by_pid_;  // each vector sorted by start_ns
  uint64_t version_ = 0;
};

// "…/docker-<64 hex>.scope" or "…/<64 hex>" (docker, containerd, cri-o, podman layouts)
// -> the 64-hex container id; empty when the path names none.
std::string container_id_from_cgroup(std::string_view cgroup_path);

}  // namespace otlp::ebpf
