// Runs a program and captures its exit status and output, for tests that exercise the CLI
// binary as a user would. Header-only so any test binary can use it.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace otlp::ebpf::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when the child did not exit normally
  std::string out;     // stdout
  std::string err;     // stderr
};

inline std::string drain_fd(int fd) {
  std::string text;
  std::array<char, 4096> buf;
  ssize_t n;
  while ((n = read(fd, buf.data(), buf.size())) > 0) text.append(buf.data(), n);
  return text;
}

// argv[0] is the program path. stderr goes to a temp file so large outputs cannot deadlock.
inline CommandResult run_command(const std::vector<std::string>& argv) {
  CommandResult result;
  int out_pipe[2];
  if (pipe(out_pipe) != 0) return result;
  FILE* err_file = tmpfile();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(fileno(err_file), 2);
    close(out_pipe[0]);
    close(out_pipe[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  result.out = drain_fd(out_pipe[0]);
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  rewind(err_file);
  result.err = drain_fd(fileno(err_file));
  fclose(err_file);
  return result;
}

// The same, as user `nobody` with no capabilities (via setpriv from util-linux). Only
// meaningful as root; callers skip otherwise.
inline CommandResult run_command_unprivileged(const std::vector<std::string>& argv) {
  std::vector<std::string> wrapped = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                                      "--clear-groups",   "--inh-caps=-all", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return run_command(wrapped);
}

}  // namespace otlp::ebpf::testing
