// The command `bpftape record -- CMD ARGS` runs: forked at once, held before execve until the
// probes are attached (so its first instruction is recorded), then started; stopped when the
// recording ends for another reason than its exit.
//
// execvp's PATH search runs here, in the parent, before the fork: the child makes exactly one
// execve (execvp in the child tried every PATH directory in turn, and the recording showed each
// failed attempt). A name that cannot be found or run fails before anything is forked, with a
// shell's words for it; an execve that still fails (a binary for another architecture, E2BIG)
// is reported by start() through a close-on-exec pipe: EOF there means the exec succeeded.
//
// Stopping: SIGTERM to the command and, when it runs in its own cgroup, to everything in that
// cgroup; SIGKILL to whatever is left after a grace period (kStopGrace). The command stays in
// the recorder's process group, so at a terminal it can read input and Ctrl-C reaches it too,
// as under perf; without a cgroup only the command's own process is signalled.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"
#include "recorder/command_cgroup.h"

namespace bpftape::record {

// Where execvp would find `name`: `name` itself when it holds a '/', else the first directory
// of `search_path` (PATH; nullptr means execvp's default "/bin:/usr/bin"; an empty entry is
// the current directory) holding an executable regular file of that name. The error, when none
// does, is what a shell prints: "command not found" (a shell exits 127), or "Permission denied"
// when only files without execute permission were found (126).
otlp::ebpf::Result<std::string> resolve_command(const std::string& name, const char* search_path);

class HeldCommand {
 public:
  // Between SIGTERM and SIGKILL when the command is stopped: time for it to flush and exit.
  static constexpr std::chrono::milliseconds kStopGrace{2000};

  // Resolves argv[0] against $PATH (an error here: nothing was forked) and forks the child,
  // held. With `own_cgroup` the child is moved into a fresh CommandCgroup before it runs; when
  // that is not possible it runs without one and cgroup_warning() says why.
  static otlp::ebpf::Result<std::unique_ptr<HeldCommand>> spawn(
      const std::vector<std::string>& argv, bool own_cgroup);
  // Not started: the child exits without running anything. Started and still running: stop().
  // Either way the child is reaped, and the cgroup is removed (processes still in it after the
  // command's own exit are moved to the parent cgroup and keep running).
  ~HeldCommand();
  HeldCommand(const HeldCommand&) = delete;
  HeldCommand& operator=(const HeldCommand&) = delete;

  pid_t pid() const { return pid_; }
  uint64_t cgroup_id() const { return cgroup_ ? cgroup_->id() : 0; }  // 0: no cgroup of its own
  const std::string& cgroup_warning() const { return cgroup_warning_; }

  // Lets the command run and waits until its execve succeeded or failed. A failure (the
  // child is reaped) says "cannot run 'CMD': why". Once.
  otlp::ebpf::Result<void> start();
  // Non-blocking: whether the command's process has exited (it is reaped then).
  bool exited();
  // Its wait status, once exited() is true.
  int wait_status() const { return status_; }

  struct StopOutcome {
    size_t terminated = 0;  // processes sent SIGTERM
    bool killed = false;    // something was still there after the grace period: SIGKILL
  };
  // Ends the command (and its cgroup's processes) as described above, and reaps it. No-op
  // (nothing signalled) when it has exited or was never started.
  StopOutcome stop(std::chrono::milliseconds grace = kStopGrace);

 private:
  HeldCommand() = default;
  // Whether the command and everything in its cgroup are gone (reaping the command).
  bool gone();

  pid_t pid_ = -1;
  otlp::ebpf::UniqueFd release_;      // parent -> child: one byte lets it exec; EOF: it exits
  otlp::ebpf::UniqueFd exec_status_;  // child -> parent: errno of a failed execve; EOF: exec'd
  std::unique_ptr<CommandCgroup> cgroup_;
  std::string cgroup_warning_;
  std::string name_;  // argv[0] as given, for messages
  bool started_ = false;
  bool reaped_ = false;
  int status_ = 0;
};

// "exited with status N" / "killed by signal N (SIGNAME)" for a wait status.
std::string describe_wait_status(int status);

}  // namespace bpftape::record
