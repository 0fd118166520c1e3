// Command-line parsing shared by every bpftape subcommand, so that all of them accept the same
// forms (--name value, --name=value, -n value, `--` ends options) and fail the same way:
// one line naming the bad argument and pointing at --help.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace bpftape::cli {

struct OptionSpec {
  std::string long_name;  // without dashes, e.g. "json"
  char short_name = 0;    // 0: none
  std::string value_name; // empty: a flag without a value
  std::string help;
};

class ParsedArgs {
 public:
  bool has(std::string_view name) const { return values_.contains(std::string(name)); }
  // Last value given for the option (options may repeat; see all()).
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }
  // Everything after a literal `--` (e.g. the command for `record -- ./prog args`).
  const std::vector<std::string>& trailing() const { return trailing_; }
  bool help_requested() const { return help_; }

 private:
  friend class ArgParser;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positionals_;
  std::vector<std::string> trailing_;
  bool help_ = false;
};

class ArgParser {
 public:
  // `command`: "bpftape doctor"; `usage`: "[--json]"; `summary`: one paragraph.
  ArgParser(std::string command, std::string usage, std::string summary);

  ArgParser& flag(std::string long_name, char short_name, std::string help);
  ArgParser& option(std::string long_name, char short_name, std::string value_name,
                    std::string help);
  // Upper bound on positional arguments (default 0).
  ArgParser& positionals(size_t max, std::string description);
  ArgParser& allow_trailing(std::string description);
  ArgParser& epilog(std::string text);

  // args excludes the program and subcommand names. Errors are ConfigError with a message
  // like "bpftape doctor: unknown option '--jsn' (see 'bpftape doctor --help')".
  otlp::ebpf::Result<ParsedArgs> parse(const std::vector<std::string>& args) const;
  std::string help_text() const;

 private:
  const OptionSpec* find_long(std::string_view name) const;
  const OptionSpec* find_short(char c) const;
  otlp::ebpf::EbpfError usage_error(std::string_view what) const;

  std::string command_;
  std::string usage_;
  std::string summary_;
  std::string epilog_;
  std::vector<OptionSpec> options_;
  size_t max_positionals_ = 0;
  std::string positional_description_;
  bool allow_trailing_ = false;
  std::string trailing_description_;
};

// The start of every subcommand: parses `args`; on a usage error prints it to stderr and
// yields kExitUsage, on --help prints the help to stdout and yields kExitOk. Otherwise the
// parsed arguments.
std::expected<ParsedArgs, int> parse_or_exit(const ArgParser& parser,
                                             const std::vector<std::string>& args);

// Value parsers for option arguments. Errors are ConfigErrors naming the option and the value.
// "10s", "250ms", "1.5s", "100us", "5000ns", "2m", "1h"; a bare number is seconds.
otlp::ebpf::Result<uint64_t> parse_duration_ns(std::string_view option, std::string_view text);
// Decimal integer in [min, max].
otlp::ebpf::Result<uint64_t> parse_uint(std::string_view option, std::string_view text,
                                        uint64_t min, uint64_t max);
// Bytes: "4096", "512K", "100M", "2G" (binary units), > 0.
otlp::ebpf::Result<uint64_t> parse_size(std::string_view option, std::string_view text);
// Finite decimal number in [min, max].
otlp::ebpf::Result<double> parse_double(std::string_view option, std::string_view text,
                                        double min, double max);

// Exit codes shared by all subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and failed (bad input, I/O, checks)
inline constexpr int kExitUsage = 2;    // wrong flags or arguments; not privileged to record

}  // namespace bpftape::cli
