// The subcommands of `bpftape`. Each is a function from its arguments (after the subcommand
// name) to an exit code; it prints its own output and errors. main() only dispatches.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/system_support.h"

namespace bpftape::cli {

using Args = std::vector<std::string>;

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(const Args& args);
};

// Every subcommand, in the order `bpftape --help` lists them.
std::span<const Command> all_commands();

int run_doctor(const Args& args);
int run_info(const Args& args);
int run_cat(const Args& args);
int run_simulate(const Args& args);
// `simulate --from TAPE`: the capacity model (run_simulate dispatches to it).
int run_capacity(const Args& args);
int run_replay(const Args& args);
int run_convert(const Args& args);
int run_record(const Args& args);

// `bpftape doctor`'s text, also what `bpftape record` prints when it cannot record.
std::string render_doctor_text(const otlp::ebpf::SystemSupportReport& report);

}  // namespace bpftape::cli
