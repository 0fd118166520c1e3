// ChildProcess: a program run in the background, for CLI tests that must signal
// it while it runs, or must not hang the test when the program hangs;
// passes_in_child: the same for a piece of this test's own code. Header-only,
// like run_command.h.
//
//   ChildProcess child({kBinary, "replay", tape, "--speed", "1x"});
//   ... wait for something the child does ...
//   child.signal(SIGINT);
//   auto result = child.wait(std::chrono::seconds(20));  // hang guard, not a
//   timing check EXPECT_FALSE(result.timed_out);
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace otlp::ebpf::testing {

struct ChildResult {
  int exit_code = -1;  // -1 when the child did not exit normally
  int term_signal = 0; // the signal that ended it, if one did
  bool timed_out =
      false; // wait()'s limit passed and the child was killed (SIGKILL)
  std::string out;
  std::string err;
};

class ChildProcess {
public:
  // argv[0] is the program path. stdout and stderr go to temporary files (no
  // pipe to fill).
  explicit ChildProcess(const std::vector<std::string> &argv)
      : out_(std::tmpfile()), err_(std::tmpfile()) {
    if (out_ == nullptr || err_ == nullptr || argv.empty())
      return;
    // Built before fork(): the child of a threaded process (a FakeCollector
    // serves on one) must not allocate.
    std::vector<char *> args;
    for (const auto &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    const int out_fd = fileno(out_), err_fd = fileno(err_);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out_fd, 1);
      dup2(err_fd, 2);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ChildProcess(const ChildProcess &) = delete;
  ChildProcess &operator=(const ChildProcess &) = delete;
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr)
      std::fclose(out_);
    if (err_ != nullptr)
      std::fclose(err_);
  }

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void signal(int sig) const {
    if (pid_ > 0 && !reaped_)
      kill(pid_, sig);
  }

  // True once the child has `path` open (a sign it got that far), polled every
  // 10 ms for at most `limit`.
  bool wait_until_open(const std::string &path,
                       std::chrono::milliseconds limit) const {
    std::error_code ec;
    const auto want = std::filesystem::weakly_canonical(path, ec);
    return poll_until(
        [&] {
          const std::string fds = "/proc/" + std::to_string(pid_) + "/fd";
          for (const auto &fd : std::filesystem::directory_iterator(fds, ec)) {
            std::error_code link_ec;
            if (std::filesystem::read_symlink(fd.path(), link_ec) == want)
              return true;
          }
          return false;
        },
        limit);
  }

  // Waits for the child to exit; after `limit`, kills it (SIGKILL) and says so
  // (timed_out).
  ChildResult wait(std::chrono::milliseconds limit) {
    ChildResult result;
    if (pid_ <= 0)
      return result;
    int status = 0;
    const bool exited = poll_until(
        [&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, limit);
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      result.timed_out = true;
    }
    reaped_ = true;
    if (WIFEXITED(status))
      result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status))
      result.term_signal = WTERMSIG(status);
    result.out = contents(out_);
    result.err = contents(err_);
    return result;
  }

  // Polls `done` every 10 ms until it holds (true) or `limit` passes (false).
  static bool poll_until(const std::function<bool()> &done,
                         std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (done())
        return true;
      if (std::chrono::steady_clock::now() >= end)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

private:
  static std::string contents(std::FILE *f) {
    std::string text;
    if (f == nullptr)
      return text;
    std::rewind(f);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
      text.append(buf, n);
    return text;
  }

  std::FILE *out_;
  std::FILE *err_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Runs `check` in a forked child; true when it returned true within `limit`.
// After the limit the child is killed and false returned: code that may loop
// forever fails a test instead of hanging it. `check` runs in a copy of this
// process: its effects do not come back.
inline bool
passes_in_child(const std::function<bool()> &check,
                std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const pid_t pid = fork();
  if (pid == 0)
    _exit(check() ? 0 : 1);
  if (pid < 0)
    return false;
  int status = 0;
  if (!ChildProcess::poll_until(
          [&] { return waitpid(pid, &status, WNOHANG) == pid; }, limit)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

} // namespace otlp::ebpf::testing
