#include "cli/commands.h"

#include <array>

namespace bpftape::cli {

std::span<const Command> all_commands() {
  static constexpr std::array kCommands{
      Command{"doctor", "check whether this machine can record (kernel, BTF, privileges)",
              run_doctor},
      Command{"record", "record live kernel events into a tape (root; see doctor)", run_record},
      Command{"info", "describe a tape: metadata, time range, events by type, losses, size",
              run_info},
      Command{"cat", "print a tape's events, one per line (--json), with filters", run_cat},
      Command{"replay", "run a tape through the pipeline and print the report (no root needed)",
              run_replay},
      Command{"convert", "run a tape through the pipeline and write outputs (folded, trace JSON)",
              run_convert},
      Command{"simulate", "run seeded workloads and faults through the pipeline (--check: vs ground truth)",
              run_simulate},
  };
  return kCommands;
}

}  // namespace bpftape::cli
