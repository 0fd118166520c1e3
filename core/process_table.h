// ProcessTable: what is known about each process a recording saw — the recorder fills it from
// /proc and exec/fork/exit events, the tape stores it, readers rebuild it. Outputs use it to
// name processes (report, OTLP resource attributes, pprof).
//
// Pids are reused by the kernel, so a pid maps to a sequence of incarnations ordered by start
// time; lookup(pid, t) returns the incarnation alive at time t. The live recorder, the
// simulator and the tape reader all fill this one type, so a replay answers lookup()/latest()
// as the live run did.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace otlp::ebpf {

// One incarnation of a process: the type core, the tape (its Processes frames store every
// field), the recorder and the outputs share.
struct ProcessInfo {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  std::string comm;          // kernel task name (<= 15 chars)
  std::string exe;           // executable path; empty when unknown
  // The arguments (argv), kept apart so that one containing a space survives a tape; empty
  // when unknown or redacted. command_line() joins them for display.
  std::vector<std::string> cmdline;
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
  // Sets the incarnation (info.pid, info.start_ns) to exactly `info`, adding it when new: for
  // records that carry an incarnation's whole state (a tape's Processes frames).
  void replace(const ProcessInfo& info);
  // Marks the incarnation alive at `timestamp_ns` as exited.
  void mark_exit(uint32_t pid, uint64_t timestamp_ns, int32_t exit_code);

  // The incarnation alive at `timestamp_ns` (the latest one started at or before it; the
  // earliest when all started later). Pointers handed out stay valid as long as the table.
  const ProcessInfo* lookup(uint32_t pid, uint64_t timestamp_ns) const;
  // The latest incarnation, whatever the time.
  const ProcessInfo* latest(uint32_t pid) const;
  // Every incarnation, by pid then start time: deterministic order for outputs and tapes.
  std::vector<ProcessInfo> all() const;
  size_t size() const;
  // Grows with every upsert()/mark_exit(): readers that mirror the table skip unchanged ones.
  uint64_t version() const { return version_; }

 private:
  // One pid's incarnations by start_ns. A map, not a sorted vector: a tape may list them in
  // any order, and each insert stays O(log n) (a hostile tape cannot make reading quadratic);
  // pointers handed out stay valid across inserts.
  using Incarnations = std::map<uint64_t, ProcessInfo>;

  // The incarnation of info.pid that started at info.start_ns, inserted as `info` when new.
  ProcessInfo& find_or_insert(const ProcessInfo& info, bool& inserted);

  std::map<uint32_t, Incarnations> by_pid_;
  uint64_t version_ = 0;
};

// The arguments joined by single spaces, for display (a report, an OTLP attribute): lossy, an
// argument that contains a space reads as two. Empty when the command line is unknown.
std::string command_line(const ProcessInfo& info);

// "…/docker-<64 hex>.scope" or "…/<64 hex>" (docker, containerd, cri-o, podman layouts)
// -> the 64-hex container id; empty when the path names none.
std::string container_id_from_cgroup(std::string_view cgroup_path);

}  // namespace otlp::ebpf
