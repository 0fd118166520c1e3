// bpftape: record live kernel event streams to tapes, replay them, simulate them.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"

namespace {

using bpftape::cli::kExitFailure;
using bpftape::cli::kExitOk;
using bpftape::cli::kExitUsage;

// Standard output. A command's results are worthless if they did not arrive, so a failed write
// on stdout (a full disk, a closed descriptor) fails every command, however it printed. stdio
// keeps only a flag for such a failure (glibc also drops the buffer, so a later fflush
// succeeds), and errno says something else by the time the command returns; so stdout is a
// stdio stream of our own over fd 1 that remembers the first failed write's errno. glibc
// documents stdout as a variable that may be assigned.
struct StdoutWrites {
  int error = 0;  // errno of the first failed write; 0 while every write succeeded
  // The stream stdout was before: code that reaches it rather than ours (seen under GCC's
  // AddressSanitizer, whose stdio interceptors keep their own reference) is checked too.
  FILE* original = nullptr;
};

ssize_t write_stdout(void* cookie, const char* data, size_t size) {
  auto* state = static_cast<StdoutWrites*>(cookie);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(STDOUT_FILENO, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (state->error == 0) state->error = n < 0 ? errno : EIO;
      break;  // a short count marks the stream as failed; it must not be negative
    }
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

// Process-wide: stdout is process-wide. Lives until exit, after main's last flush.
StdoutWrites* watch_stdout() {
  static StdoutWrites state;
  state.original = stdout;
  FILE* stream =
      fopencookie(&state, "w", cookie_io_functions_t{nullptr, write_stdout, nullptr, nullptr});
  if (stream == nullptr) return nullptr;  // keep the plain stdout: failures still flag it
  // As stdio does for fd 1: line by line to a terminal, in blocks otherwise.
  std::setvbuf(stream, nullptr, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, BUFSIZ);
  stdout = stream;
  return &state;
}

// After the command: flushes stdout and turns a failed write into exit status 1 with a message.
// A reader that went away (EPIPE: `bpftape cat t | head -1`) is not an error worth a message:
// the process ends by SIGPIPE, quietly, as every Unix filter does (status 141 in a shell), also
// for commands that ignore SIGPIPE while they run (record, OTLP exports). Commands that keep the
// default disposition already ended at the first write into the closed pipe.
int finish_stdout(const StdoutWrites* state, std::string_view command, int status) {
  bool flushed = std::fflush(stdout) == 0;
  int flush_errno = errno;
  bool failed = !flushed || std::ferror(stdout);
  if (state != nullptr && state->original != nullptr && state->original != stdout) {
    errno = 0;
    const bool original_flushed = std::fflush(state->original) == 0;
    if (!original_flushed && flushed) flush_errno = errno != 0 ? errno : EIO;
    flushed = flushed && original_flushed;
    failed = failed || !original_flushed || std::ferror(state->original);
  }
  if (!failed) return status;
  int error = state != nullptr && state->error != 0 ? state->error : flushed ? EIO : flush_errno;
  if (error == EPIPE) {
    signal(SIGPIPE, SIG_DFL);
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigprocmask(SIG_UNBLOCK, &pipe_only, nullptr);
    raise(SIGPIPE);
    return kExitFailure;  // not reached unless SIGPIPE is blocked
  }
  std::fprintf(stderr, "%.*s: writing to standard output: %s\n", static_cast<int>(command.size()),
               command.data(), std::strerror(error));
  return status == kExitOk ? kExitFailure : status;
}

void print_help() {
  std::printf(
      "usage: bpftape [--version] [--help] <command> [<args>]\n\n"
      "bpftape records live kernel event streams (CPU samples, syscalls, network, memory,\n"
      "process lifecycle) into compact tapes, and replays them through the same pipeline.\n\n"
      "commands:\n");
  for (const auto& command : bpftape::cli::all_commands()) {
    std::printf("  %-10.*s %.*s\n", static_cast<int>(command.name.size()), command.name.data(),
                static_cast<int>(command.summary.size()), command.summary.data());
  }
  std::printf("\n'bpftape <command> --help' explains each command.\n");
}

const bpftape::cli::Command* find_command(std::string_view name) {
  for (const auto& command : bpftape::cli::all_commands()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

// `bpftape`, `bpftape --help`, `bpftape --version`, `bpftape <unknown>`.
int run_without_command(int argc, char** argv) {
  if (argc < 2) {
    print_help();
    return kExitUsage;
  }
  std::string_view first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    print_help();
    return kExitOk;
  }
  if (first == "--version" || first == "-V") {
    std::printf("bpftape %s\n", BPFTAPE_VERSION);
    return kExitOk;
  }
  std::fprintf(stderr, "bpftape: unknown command '%s' (see 'bpftape --help')\n", argv[1]);
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  const StdoutWrites* writes = watch_stdout();
  const bpftape::cli::Command* command = argc >= 2 ? find_command(argv[1]) : nullptr;
  int status = command ? command->run(bpftape::cli::Args(argv + 2, argv + argc))
                       : run_without_command(argc, argv);
  return finish_stdout(writes, command ? "bpftape " + std::string(command->name) : "bpftape",
                       status);
}
