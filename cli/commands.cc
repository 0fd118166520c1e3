#include "cli/commands.h"

#include <array>

namespace bpftape::cli {

std::span<const Command> all_commands() {
  static constexpr std::array kCommands{
      Command{"doctor", "check whether this machine can record (kernel, BTF, privileges)",
              run_doctor},
  };
  return kCommands;
}

}  // namespace bpftape::cli
