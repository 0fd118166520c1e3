// libFuzzer target for every consumer of a tape, through the CLI's own command functions:
// the input becomes a file (a memfd, read through /proc/self/fd/N as a path), then
//   info      bpftape info, info --json             (reader metadata, stats, summaries)
//   cat       bpftape cat, cat --json, cat --since  (event formatting, seek)
//   replay    bpftape replay, replay --json         (FileSource -> Pipeline -> tracers -> report)
//   simulate  bpftape simulate --from               (the capacity model)
// run on it; FUZZ_CONSUMERS (comma-separated, default all four) picks which. Output goes
// nowhere (run with -close_fd_mask=3). Any crash, sanitizer report, timeout or allocation over
// -malloc_limit_mb is a finding. Built and run by scripts/fuzz-tape (clang, ASan + UBSan).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace {

using bpftape::cli::Args;

struct Consumer {
  const char* name;
  int (*run)(const Args&);
  std::vector<std::vector<std::string>> flag_sets;  // each run with the tape's path appended
};

const std::vector<Consumer>& all_consumers() {
  static const std::vector<Consumer> consumers = {
      {"info", bpftape::cli::run_info, {{}, {"--json"}}},
      {"cat", bpftape::cli::run_cat, {{}, {"--json"}, {"--since", "1ms", "--until", "5ms"}}},
      {"replay", bpftape::cli::run_replay, {{"--threads", "1"}, {"--json", "--threads", "2"}}},
      {"simulate", bpftape::cli::run_capacity, {{}}},
  };
  return consumers;
}

std::vector<const Consumer*> selected;
int tape_fd = -1;
std::string tape_path;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* wanted = std::getenv("FUZZ_CONSUMERS");
  std::string list = wanted && *wanted ? wanted : "info,cat,replay,simulate";
  for (const auto& c : all_consumers()) {
    if (("," + list + ",").find("," + std::string(c.name) + ",") != std::string::npos) {
      selected.push_back(&c);
    }
  }
  if (selected.empty()) {
    std::fprintf(stderr, "FUZZ_CONSUMERS='%s' names none of info, cat, replay, simulate\n",
                 list.c_str());
    std::abort();
  }
  tape_fd = memfd_create("tape", MFD_CLOEXEC);
  if (tape_fd < 0) std::abort();
  tape_path = "/proc/self/fd/" + std::to_string(tape_fd);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (ftruncate(tape_fd, 0) != 0 || pwrite(tape_fd, data, size, 0) != static_cast<ssize_t>(size)) {
    std::abort();
  }
  for (const Consumer* c : selected) {
    for (const auto& flags : c->flag_sets) {
      Args args = flags;
      args.push_back(tape_path);
      const int status = c->run(args);
      if (status != 0 && status != 1) __builtin_trap();  // 2 is bad usage: the harness's bug
    }
  }
  return 0;
}
