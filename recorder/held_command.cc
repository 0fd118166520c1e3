#include "recorder/held_command.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

extern char** environ;

namespace bpftape::record {

using otlp::ebpf::ErrorKind;
using otlp::ebpf::Result;
using otlp::ebpf::UniqueFd;

namespace {

otlp::ebpf::EbpfError cannot_run(const std::string& name, std::string_view why) {
  return otlp::ebpf::EbpfError(ErrorKind::ConfigError,
                               fmt::format("cannot run '{}': {}", name, why));
}

// execve's verdict on `path` without running it: 0 when it would start, else the errno a
// shell reports (ENOENT, EACCES, EISDIR, ENOTDIR, ...).
int runnable(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return errno;
  if (S_ISDIR(st.st_mode)) return EISDIR;
  if (!S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) return EACCES;
  return 0;
}

// Reads exactly `size` bytes unless EOF or an error comes first; how many were read.
size_t read_fully(int fd, void* buf, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = read(fd, static_cast<char*>(buf) + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace

Result<std::string> resolve_command(const std::string& name, const char* search_path) {
  if (name.empty()) return std::unexpected(cannot_run(name, "command not found"));
  if (name.find('/') != std::string::npos) {
    if (const int err = runnable(name)) return std::unexpected(cannot_run(name, strerror(err)));
    return name;
  }
  const std::string_view path = search_path ? search_path : "/bin:/usr/bin";
  bool denied = false;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t colon = path.find(':', pos);
    if (colon == std::string_view::npos) colon = path.size();
    const std::string_view dir = path.substr(pos, colon - pos);
    const std::string candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, name);
    const int err = runnable(candidate);
    if (err == 0) return candidate;
    denied |= err == EACCES;  // as execvp: keep looking, report EACCES if nothing runs
    pos = colon + 1;
  }
  return std::unexpected(cannot_run(name, denied ? "Permission denied" : "command not found"));
}

Result<std::unique_ptr<HeldCommand>> HeldCommand::spawn(const std::vector<std::string>& argv,
                                                        bool own_cgroup) {
  if (argv.empty()) return otlp::ebpf::make_error(ErrorKind::ConfigError, "no command to run");
  BPFTAPE_ASSIGN_OR_RETURN(const std::string path, resolve_command(argv[0], getenv("PATH")));
  // Everything the child needs is built before fork(): between fork and exec it only makes
  // system calls (the recorder may have threads; malloc there could deadlock).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // execvp's fallback for a file the kernel does not recognise (ENOEXEC): a script without a
  // #! line runs under /bin/sh.
  std::vector<char*> shell_args{const_cast<char*>("/bin/sh"), const_cast<char*>(path.c_str())};
  shell_args.insert(shell_args.end(), args.begin() + 1, args.end());

  std::unique_ptr<HeldCommand> command(new HeldCommand());
  command->name_ = argv[0];
  if (own_cgroup) {
    auto cgroup = CommandCgroup::create();
    if (cgroup) {
      command->cgroup_ = std::move(*cgroup);
    } else {
      command->cgroup_warning_ = cgroup.error().message();
    }
  }
  int release[2], status[2];
  if (pipe2(release, O_CLOEXEC) != 0) return otlp::ebpf::errno_error(ErrorKind::Io, "pipe", errno);
  UniqueFd release_read(release[0]);
  command->release_.reset(release[1]);
  if (pipe2(status, O_CLOEXEC) != 0) return otlp::ebpf::errno_error(ErrorKind::Io, "pipe", errno);
  command->exec_status_.reset(status[0]);
  UniqueFd status_write(status[1]);

  const pid_t pid = fork();
  if (pid < 0) return otlp::ebpf::errno_error(ErrorKind::Io, "fork", errno);
  if (pid == 0) {
    // The recorder's stop handlers and its ignored SIGPIPE are not the command's business.
    for (int sig : {SIGINT, SIGTERM, SIGPIPE}) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    close(release[1]);  // else the child holds the pipe open and never sees EOF
    close(status[0]);
    char byte;
    if (read_fully(release[0], &byte, 1) != 1) _exit(126);  // the recorder gave up: never ran
    execve(path.c_str(), args.data(), environ);
    if (errno == ENOEXEC) execve(shell_args[0], shell_args.data(), environ);
    const int err = errno;
    (void)!write(status[1], &err, sizeof(err));
    _exit(127);
  }
  command->pid_ = pid;
  if (command->cgroup_) {
    if (auto added = command->cgroup_->add(pid); !added) {
      command->cgroup_warning_ = added.error().message();
      command->cgroup_.reset();
    }
  }
  return command;
}

HeldCommand::~HeldCommand() {
  if (pid_ <= 0 || reaped_) return;
  if (!started_) {
    release_.reset();  // EOF: the child exits 126 without running anything
    waitpid(pid_, &status_, 0);
    reaped_ = true;
    return;
  }
  stop();
}

Result<void> HeldCommand::start() {
  if (started_ || pid_ <= 0)
    return otlp::ebpf::make_error(ErrorKind::ConfigError, "already started");
  started_ = true;
  const bool released = write(release_.get(), "x", 1) == 1;
  const int release_errno = errno;
  release_.reset();
  if (!released) {
    waitpid(pid_, &status_, 0);
    reaped_ = true;
    return otlp::ebpf::errno_error(ErrorKind::Io, "starting the command", release_errno);
  }
  int err = 0;
  const size_t n = read_fully(exec_status_.get(), &err, sizeof(err));
  exec_status_.reset();
  if (n == 0) return {};  // the close-on-exec pipe closed: execve succeeded
  waitpid(pid_, &status_, 0);
  reaped_ = true;
  return std::unexpected(cannot_run(name_, n == sizeof(err) ? strerror(err) : "execve failed"));
}

bool HeldCommand::exited() {
  if (reaped_) return true;
  if (pid_ <= 0) return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return reaped_;
}

bool HeldCommand::gone() { return exited() && (!cgroup_ || cgroup_->empty()); }

HeldCommand::StopOutcome HeldCommand::stop(std::chrono::milliseconds grace) {
  StopOutcome outcome;
  if (pid_ <= 0 || !started_ || exited()) {
    if (!started_ && pid_ > 0 && !reaped_) {
      release_.reset();
      waitpid(pid_, &status_, 0);
      reaped_ = true;
    }
    return outcome;
  }
  outcome.terminated = cgroup_ ? cgroup_->signal_all(SIGTERM) : (kill(pid_, SIGTERM) == 0);
  // Polled: a child's exit could be awaited with a pidfd, but the cgroup's other processes
  // are not our children; 10 ms steps cost nothing next to the grace period.
  constexpr auto kStep = std::chrono::milliseconds(10);
  for (auto waited = std::chrono::milliseconds(0); !gone() && waited < grace; waited += kStep) {
    std::this_thread::sleep_for(kStep);
  }
  if (!gone()) {
    outcome.killed = true;
    if (cgroup_) {
      cgroup_->signal_all(SIGKILL);
    } else {
      kill(pid_, SIGKILL);
    }
  }
  if (!reaped_) {
    while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  // SIGKILLed processes leave at once unless stuck in the kernel (D state): bounded wait.
  for (int i = 0; cgroup_ && i < 500 && !cgroup_->empty(); ++i) std::this_thread::sleep_for(kStep);
  return outcome;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return fmt::format("killed by signal {} (SIG{})", WTERMSIG(status), name ? name : "?");
  }
  return fmt::format("wait status {:#x}", status);
}

}  // namespace bpftape::record
