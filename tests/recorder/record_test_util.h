// Shared pieces of the `bpftape record` end-to-end tests: the binaries under test and a shell
// command runner.
#pragma once

#include <string>

#include "tests/run_command.h"

namespace bpftape::record::testing {

inline const std::string kBpftape = BPFTAPE_BINARY;
inline const std::string kWorkload = BPFTAPE_WORKLOAD;

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout, then stderr
};

// A shell command line (redirections, `sh -c` workloads) through the tests' one runner.
inline RunResult run(const std::string& command) {
  auto r = otlp::ebpf::testing::run_command({"/bin/sh", "-c", command});
  return {r.exit_code, r.out + r.err};
}

}  // namespace bpftape::record::testing
