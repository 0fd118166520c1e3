// The cgroup v2 a recorded command runs in (`bpftape record -- CMD`), so that everything it
// forks, execs or double-forks is recorded (a pid filter sees the command's own process only)
// and can be stopped together, as `perf record -- CMD` follows children.
//
// Where: a child of the recorder's own cgroup, named `bpftape-record-<recorder pid>-<recorder
// start time>` (the start time in clock ticks after boot, field 22 of /proc/PID/stat), with no
// controllers enabled, so the command's resource limits do not change. The name says whose it
// is: a cgroup whose recorder is gone (SIGKILLed, crashed) is stale, and the next `record`
// removes it (remove_stale_command_cgroups).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace bpftape::record {

// The cgroup v2 mount point, from /proc/self/mountinfo ("" if none).
std::string cgroup2_mount();

// A cgroup v2 directory (absolute, or relative to the cgroup2 mount) -> its id: the directory's
// inode number, what bpf_get_current_cgroup_id() returns. ConfigError when it is not one.
otlp::ebpf::Result<uint64_t> cgroup_id_of(const std::string& path);

// Owns one command cgroup. Lifetime: the destructor moves any process still in it to the parent
// cgroup and removes the directory; stop_all() first if they must not survive.
class CommandCgroup {
 public:
  // Creates the cgroup (empty) inside this process's own cgroup. NotSupported when no cgroup v2
  // is mounted; Io when it cannot be created (not root, a read-only or delegated hierarchy).
  static otlp::ebpf::Result<std::unique_ptr<CommandCgroup>> create();
  ~CommandCgroup();
  CommandCgroup(const CommandCgroup&) = delete;
  CommandCgroup& operator=(const CommandCgroup&) = delete;

  otlp::ebpf::Result<void> add(pid_t pid);
  uint64_t id() const { return id_; }
  const std::string& path() const { return path_; }
  std::vector<pid_t> pids() const;  // what cgroup.procs lists now
  bool empty() const { return pids().empty(); }
  // Sends `sig` to every process in the cgroup. SIGKILL uses cgroup.kill (Linux >= 5.14), which
  // also catches processes forking meanwhile; elsewhere (and for other signals) every pid in
  // cgroup.procs, repeated while new ones appear. Returns how many processes were signalled
  // (cgroup.kill: how many were there just before).
  size_t signal_all(int sig);

 private:
  CommandCgroup(std::string parent, std::string path)
      : parent_(std::move(parent)), path_(std::move(path)) {}
  std::string parent_;
  std::string path_;
  uint64_t id_ = 0;
};

// One stale cgroup that remove_stale_command_cgroups() removed.
struct RemovedCgroup {
  std::string path;
  pid_t recorder_pid = 0;  // whose it was
  size_t moved = 0;        // processes still in it, moved to the parent cgroup (they keep running)
};

// Removes the command cgroups in `parent` (default: this process's own cgroup) whose recorder
// is gone: no process with that pid, or one started at another time (the pid was reused).
// Processes still in one are moved to `parent` first. Best effort: a directory that cannot be
// removed is left (and not reported).
std::vector<RemovedCgroup> remove_stale_command_cgroups(const std::string& parent = "");

// This process's cgroup v2 directory (mount + the "0::" path of /proc/self/cgroup); "" if none.
std::string own_cgroup_dir();

// The directory name of the command cgroup of recorder `pid` started at `start_ticks`.
std::string command_cgroup_name(pid_t pid, uint64_t start_ticks);

// A process's start time in clock ticks after boot (field 22 of /proc/PID/stat); 0 when the
// process is gone or the file is malformed.
uint64_t process_start_ticks(pid_t pid, const std::string& proc_root = "/proc");

}  // namespace bpftape::record
