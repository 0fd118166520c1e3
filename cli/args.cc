#include "cli/args.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace bpftape::cli {

using otlp::ebpf::EbpfError;
using otlp::ebpf::ErrorKind;

std::expected<ParsedArgs, int> parse_or_exit(const ArgParser& parser,
                                             const std::vector<std::string>& args) {
  auto parsed = parser.parse(args);
  if (!parsed) {
    std::fprintf(stderr, "%s\n", parsed.error().message().c_str());
    return std::unexpected(kExitUsage);
  }
  if (parsed->help_requested()) {
    std::fputs(parser.help_text().c_str(), stdout);
    return std::unexpected(kExitOk);
  }
  return std::move(*parsed);
}

otlp::ebpf::Result<uint64_t> parse_uint(std::string_view option, std::string_view text,
                                        uint64_t min, uint64_t max) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    return otlp::ebpf::make_error(
        ErrorKind::ConfigError,
        fmt::format("--{}: '{}' is not a whole number in {}..{}", option, text, min, max));
  }
  return value;
}

otlp::ebpf::Result<uint64_t> parse_size(std::string_view option, std::string_view text) {
  uint64_t unit = 1;
  std::string_view digits = text;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K': case 'k': unit = 1ull << 10; break;
      case 'M': case 'm': unit = 1ull << 20; break;
      case 'G': case 'g': unit = 1ull << 30; break;
      default: break;
    }
    if (unit != 1) digits = text.substr(0, text.size() - 1);
  }
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || value == 0 ||
      value > (UINT64_MAX >> 30)) {
    return otlp::ebpf::make_error(
        ErrorKind::ConfigError,
        fmt::format("--{}: '{}' is not a size like 4096, 512K, 100M, 2G", option, text));
  }
  return value * unit;
}

otlp::ebpf::Result<double> parse_double(std::string_view option, std::string_view text,
                                        double min, double max) {
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || !std::isfinite(value) ||
      value < min || value > max) {
    return otlp::ebpf::make_error(
        ErrorKind::ConfigError,
        fmt::format("--{}: '{}' is not a number in {}..{}", option, text, min, max));
  }
  return value;
}

otlp::ebpf::Result<uint64_t> parse_duration_ns(std::string_view option, std::string_view text) {
  struct Unit {
    std::string_view suffix;
    uint64_t ns;
  };
  // Longest suffixes first so "ms" is not read as "m" + "s".
  constexpr Unit kUnits[] = {{"ns", 1},          {"us", 1'000},         {"ms", 1'000'000},
                             {"s", 1'000'000'000}, {"m", 60'000'000'000}, {"h", 3'600'000'000'000}};
  std::string_view number = text;
  uint64_t scale = 1'000'000'000;
  for (const auto& unit : kUnits) {
    if (text.size() > unit.suffix.size() && text.ends_with(unit.suffix)) {
      number = text.substr(0, text.size() - unit.suffix.size());
      scale = unit.ns;
      break;
    }
  }
  auto bad = [&] {
    return otlp::ebpf::make_error(
        ErrorKind::ConfigError,
        fmt::format("--{}: '{}' is not a duration (e.g. 10s, 250ms, 2m, 1h)", option, text));
  };
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc()) return bad();
  if (end != number.data() + number.size()) {
    // A fraction ("1.5s", "0.25"): exact enough in double for any realistic duration.
    double fractional = 0;
    auto [fend, fec] = std::from_chars(number.data(), number.data() + number.size(), fractional);
    if (fec != std::errc() || fend != number.data() + number.size() || fractional < 0 ||
        fractional * static_cast<double>(scale) > 1.8e19) {
      return bad();
    }
    return static_cast<uint64_t>(fractional * static_cast<double>(scale));
  }
  if (value > UINT64_MAX / scale) return bad();
  return value * scale;
}

std::optional<std::string> ParsedArgs::get(std::string_view name) const {
  auto it = values_.find(std::string(name));
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::all(std::string_view name) const {
  auto it = values_.find(std::string(name));
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

ArgParser::ArgParser(std::string command, std::string usage, std::string summary)
    : command_(std::move(command)), usage_(std::move(usage)), summary_(std::move(summary)) {
  flag("help", 'h', "show this help and exit");
}

ArgParser& ArgParser::flag(std::string long_name, char short_name, std::string help) {
  options_.push_back({std::move(long_name), short_name, "", std::move(help)});
  return *this;
}

ArgParser& ArgParser::option(std::string long_name, char short_name, std::string value_name,
                             std::string help) {
  options_.push_back({std::move(long_name), short_name, std::move(value_name), std::move(help)});
  return *this;
}

ArgParser& ArgParser::positionals(size_t max, std::string description) {
  max_positionals_ = max;
  positional_description_ = std::move(description);
  return *this;
}

ArgParser& ArgParser::allow_trailing(std::string description) {
  allow_trailing_ = true;
  trailing_description_ = std::move(description);
  return *this;
}

ArgParser& ArgParser::epilog(std::string text) {
  epilog_ = std::move(text);
  return *this;
}

const OptionSpec* ArgParser::find_long(std::string_view name) const {
  for (const auto& o : options_) {
    if (o.long_name == name) return &o;
  }
  return nullptr;
}

const OptionSpec* ArgParser::find_short(char c) const {
  for (const auto& o : options_) {
    if (o.short_name == c) return &o;
  }
  return nullptr;
}

EbpfError ArgParser::usage_error(std::string_view what) const {
  return EbpfError(ErrorKind::ConfigError,
                   fmt::format("{}: {} (see '{} --help')", command_, what, command_));
}

otlp::ebpf::Result<ParsedArgs> ArgParser::parse(const std::vector<std::string>& args) const {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      if (!allow_trailing_) return std::unexpected(usage_error("unexpected '--'"));
      parsed.trailing_.assign(args.begin() + static_cast<ptrdiff_t>(i) + 1, args.end());
      break;
    }
    const OptionSpec* spec = nullptr;
    std::optional<std::string> inline_value;
    std::string shown;
    if (arg.starts_with("--")) {
      std::string_view body = std::string_view(arg).substr(2);
      auto eq = body.find('=');
      std::string_view name = body.substr(0, eq);
      if (eq != std::string_view::npos) inline_value = std::string(body.substr(eq + 1));
      spec = find_long(name);
      shown = "--" + std::string(name);
    } else if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-') {
      spec = find_short(arg[1]);
      shown = arg;
    } else if (arg.size() > 2 && arg[0] == '-' && arg[1] != '-') {
      // -oFILE
      spec = find_short(arg[1]);
      shown = arg.substr(0, 2);
      if (spec && !spec->value_name.empty()) inline_value = arg.substr(2);
      else spec = nullptr;
    } else {
      if (parsed.positionals_.size() >= max_positionals_) {
        return std::unexpected(usage_error(
            max_positionals_ == 0 ? fmt::format("unexpected argument '{}'", arg)
                                  : fmt::format("too many arguments at '{}'", arg)));
      }
      parsed.positionals_.push_back(arg);
      continue;
    }
    if (!spec) return std::unexpected(usage_error(fmt::format("unknown option '{}'", shown)));
    if (spec->long_name == "help") {
      parsed.help_ = true;
      continue;
    }
    if (spec->value_name.empty()) {
      if (inline_value) {
        return std::unexpected(usage_error(fmt::format("option '{}' takes no value", shown)));
      }
      parsed.values_[spec->long_name].push_back("");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        return std::unexpected(
            usage_error(fmt::format("option '{}' needs a value ({})", shown, spec->value_name)));
      }
      inline_value = args[++i];
    }
    parsed.values_[spec->long_name].push_back(*inline_value);
  }
  return parsed;
}

std::string ArgParser::help_text() const {
  std::string out = fmt::format("usage: {} {}\n\n{}\n", command_, usage_, summary_);
  if (max_positionals_ > 0) out += fmt::format("\narguments:\n  {}\n", positional_description_);
  if (allow_trailing_) out += fmt::format("  -- ...        {}\n", trailing_description_);
  out += "\noptions:\n";
  for (const auto& o : options_) {
    std::string left = o.short_name ? fmt::format("-{}, --{}", o.short_name, o.long_name)
                                    : fmt::format("    --{}", o.long_name);
    if (!o.value_name.empty()) left += " " + o.value_name;
    out += fmt::format("  {:<28} {}\n", left, o.help);
  }
  if (!epilog_.empty()) out += "\n" + epilog_ + "\n";
  return out;
}

}  // namespace bpftape::cli
