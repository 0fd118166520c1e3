// bpftape: record live kernel event streams to tapes, replay them, simulate them.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"

namespace {

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

}  // namespace

int main(int argc, char** argv) {
  using namespace bpftape::cli;
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
  for (const auto& command : all_commands()) {
    if (command.name == first) return command.run(Args(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "bpftape: unknown command '%s' (see 'bpftape --help')\n", argv[1]);
  return kExitUsage;
}
