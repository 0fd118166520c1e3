// `bpftape doctor`: the system-support report, for people and (with --json) for machines.
#include <cstdio>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/json_writer.h"
#include "core/system_support.h"

namespace bpftape::cli {
namespace {

using otlp::ebpf::CheckStatus;
using otlp::ebpf::JsonWriter;
using otlp::ebpf::SystemSupportReport;

std::string_view status_word(CheckStatus status) {
  switch (status) {
    case CheckStatus::Ok: return "ok";
    case CheckStatus::Warn: return "warn";
    case CheckStatus::Missing: return "missing";
  }
  return "?";
}

}  // namespace

std::string render_doctor_text(const SystemSupportReport& report) {
  std::string out = fmt::format("bpftape doctor: kernel {}\n", report.kernel_release);
  std::vector<std::string_view> blocking;
  size_t warnings = 0;
  for (const auto& c : report.checks) {
    out += fmt::format("  {:<8} {:<15} {}\n", status_word(c.status), c.name, c.detail);
    if (!c.remedy.empty()) out += fmt::format("  {:<8} {:<15} -> {}\n", "", "", c.remedy);
    if (c.status == CheckStatus::Missing && c.required) blocking.push_back(c.name);
    if (c.status != CheckStatus::Ok && !(c.status == CheckStatus::Missing && c.required)) {
      ++warnings;
    }
  }
  if (blocking.empty()) {
    out += fmt::format("verdict: recording works on this machine ({} warning{})\n", warnings,
                       warnings == 1 ? "" : "s");
  } else {
    out += fmt::format("verdict: recording will NOT work: {} (replay and simulate still work "
                       "without privileges)\n",
                       fmt::join(blocking, ", "));
  }
  return out;
}

namespace {

std::string render_json(const SystemSupportReport& report) {
  std::string out;
  JsonWriter json(&out);
  json.begin_object()
      .field("kernel_release", report.kernel_release)
      .field("can_record", report.can_record())
      .key("checks")
      .begin_array();
  for (const auto& c : report.checks) {
    json.begin_object()
        .field("name", c.name)
        .field("status", status_word(c.status))
        .field("required", c.required)
        .field("detail", c.detail)
        .field("remedy", c.remedy)
        .end_object();
  }
  json.end_array().end_object();
  out += '\n';
  return out;
}

}  // namespace

int run_doctor(const Args& args) {
  ArgParser parser("bpftape doctor", "[--json]",
                   "Checks whether this machine can record live kernel events: kernel version, "
                   "BTF, privileges\n(CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN), the bpf syscall, "
                   "ring buffers, perf events,\ntracepoints, uprobes, kprobes and tracefs. Each "
                   "line says ok, warn or missing and what to do.");
  parser.flag("json", 0, "print the report as one JSON object")
      .epilog("exit status: 0 when recording works, 1 when a required check is missing, "
              "2 on bad usage");
  auto parsed = parse_or_exit(parser, args);
  if (!parsed) return parsed.error();
  SystemSupportReport report = otlp::ebpf::check_system_support();
  std::string text = parsed->has("json") ? render_json(report) : render_doctor_text(report);
  std::fputs(text.c_str(), stdout);
  return report.can_record() ? kExitOk : kExitFailure;
}

}  // namespace bpftape::cli
