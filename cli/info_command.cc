// `bpftape info FILE`: what a tape holds — recording metadata, time range, events by type,
// per-CPU losses, processes, completeness, and how well it compressed. Works on truncated
// tapes (it reads every frame, so the figures are exact either way).
#include <time.h>

#include <array>
#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/json_writer.h"
#include "core/report/report.h"
#include "core/tape/reader.h"
#include "core/saturating.h"
#include "core/utf8.h"

namespace bpftape::cli {
namespace {

using otlp::ebpf::EbpfEventType;
using otlp::ebpf::JsonWriter;
using otlp::ebpf::kEventTypeCount;
using otlp::ebpf::terminal_safe;
using otlp::ebpf::tape::TapeReader;

struct Summary {
  uint64_t events = 0;
  std::array<uint64_t, kEventTypeCount> by_type{};
  uint64_t first_ns = UINT64_MAX;
  uint64_t last_ns = 0;
  struct CpuLoss {
    uint64_t records = 0;
    uint64_t lost = 0;
    uint64_t first_ns = 0;
  };
  std::map<uint16_t, CpuLoss> losses;
  std::optional<otlp::ebpf::EbpfError> error;
};

Summary summarize(TapeReader& reader) {
  Summary s;
  otlp::ebpf::EventBatch batch;
  while (true) {
    auto more = reader.next(&batch);
    if (!more) {
      s.error = more.error();
      break;
    }
    if (!*more) break;
    for (const auto& e : batch.events) {
      ++s.events;
      ++s.by_type[static_cast<size_t>(e.event_type)];  // valid: the reader checked the type
      s.first_ns = std::min(s.first_ns, e.timestamp_ns);
      s.last_ns = std::max(s.last_ns, e.timestamp_ns);
    }
    for (const auto& l : batch.losses) {
      auto& c = s.losses[l.cpu];
      if (c.records++ == 0) c.first_ns = l.timestamp_ns;
      otlp::ebpf::saturating_accumulate(c.lost, l.count);
    }
  }
  if (s.events == 0) s.first_ns = 0;
  return s;
}

// Unix time of a monotonic timestamp through the recording's clock reference, as UTC text.
std::string wall_clock(const otlp::ebpf::tape::TapeMetadata& m, uint64_t mono_ns) {
  if (m.clock.realtime_ns == 0) return "unknown (no clock reference)";
  int64_t unix_ns = static_cast<int64_t>(m.clock.realtime_ns) +
                    (static_cast<int64_t>(mono_ns) - static_cast<int64_t>(m.clock.monotonic_ns));
  time_t secs = static_cast<time_t>(unix_ns / 1'000'000'000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char text[64];
  strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09}Z", text, unix_ns % 1'000'000'000);
}

std::string config_text(const otlp::ebpf::EbpfConfig& c) {
  std::vector<std::string> on;
  if (c.enable_cpu_profiling) on.push_back(fmt::format("cpu profiling at {} Hz", c.sample_rate));
  if (c.enable_syscall_tracing) on.push_back("syscalls");
  if (c.enable_network_tracing) on.push_back("network");
  if (c.enable_memory_tracing) on.push_back("memory");
  return fmt::format("{}; duration {} ms, max samples {}",
                     on.empty() ? std::string("nothing enabled") : fmt::format("{}", fmt::join(on, ", ")),
                     c.duration.count(), c.max_samples);
}

// The recording's last kernel BPF stats reading (cumulative, so the last one covers it all).
const otlp::ebpf::tape::BpfStatsSnapshot* last_bpf_stats(const TapeReader& r) {
  return r.bpf_stats().empty() ? nullptr : &r.bpf_stats().back();
}

double share(uint64_t part, uint64_t whole) {
  return whole ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

std::string bpf_stats_text(const otlp::ebpf::tape::BpfStatsSnapshot* stats, uint16_t format_minor) {
  if (stats == nullptr) {
    return "bpf programs: no kernel BPF stats in this tape (simulated, recorded with "
           "--bpf-stats off, or the kernel could not count)\n";
  }
  std::string out = fmt::format(
      "bpf programs: {}\n",
      stats->sampled      ? "kernel BPF stats, sampled: run time and runs are estimates for the "
                            "whole recording, scaled from the share counted"
      : format_minor < 2  ? "kernel BPF stats (tapes before format 1.2 do not say whether they "
                            "were sampled)"
                          : "kernel BPF stats, counted throughout");
  for (const auto& p : stats->programs) {
    out += fmt::format("  {:<24} {:>12} runs  {:>10}  {:>6.0f} ns/run", terminal_safe(p.name),
                       p.run_count, otlp::ebpf::format_duration_ns(p.run_time_ns),
                       share(p.run_time_ns, p.run_count));
    if (stats->sampled) {
      out += fmt::format("  ({:.1f}% of runs counted)", 100.0 * share(p.measured_run_count, p.run_count));
    }
    if (p.recursion_misses) out += fmt::format("  {} recursion misses", p.recursion_misses);
    out += '\n';
  }
  return out;
}

// Arguments joined by spaces, each made safe for a terminal.
std::string safe_join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    otlp::ebpf::append_terminal_safe(&out, w);
  }
  return out;
}

// Every string from the tape (and the file name) goes through terminal_safe: a tape is data
// from another machine, and its names must not drive the reader's terminal.
void render_text(const std::string& path, TapeReader& r, const Summary& s) {
  const auto& m = r.metadata();
  const auto& st = r.stats();
  std::string out;
  out += fmt::format("file:         {} ({} bytes, format {}.{}, {})\n", terminal_safe(path),
                     r.file_size(), m.format_major, m.format_minor,
                     r.complete() ? "complete" : "INCOMPLETE: no index, recovered by scanning");
  out += fmt::format("recorded on:  {} (kernel {}, {} CPUs, page size {}), boot id {}\n",
                     terminal_safe(m.hostname), terminal_safe(m.kernel_release), m.cpu_count,
                     m.page_size, terminal_safe(m.boot_id));
  out += fmt::format("recorded by:  bpftape {}{}\n", terminal_safe(m.tool_version),
                     m.recording_id.empty() ? "" : ", recording " + terminal_safe(m.recording_id));
  if (!m.command.empty()) out += fmt::format("command:      {}\n", safe_join(m.command));
  out += fmt::format("config:       {}\n", config_text(m.config));
  for (const auto& p : m.probes) {
    out += fmt::format("probe:        {} ({} {})\n", terminal_safe(p.name), terminal_safe(p.kind),
                       terminal_safe(p.target));
  }
  if (s.events > 0) {
    double secs = static_cast<double>(s.last_ns - s.first_ns) / 1e9;
    out += fmt::format("time range:   {} .. {} ns (monotonic)\n", s.first_ns, s.last_ns);
    out += fmt::format("              {} .. {}\n", wall_clock(m, s.first_ns),
                       wall_clock(m, s.last_ns));
    out += fmt::format("duration:     {:.6f} s\n", secs);
  }
  out += fmt::format("events:       {}\n", s.events);
  for (size_t t = 0; t < kEventTypeCount; ++t) {
    if (s.by_type[t] == 0) continue;
    out += fmt::format("  {:<15} {:>12}  {:5.1f}%\n",
                       otlp::ebpf::event_type_name(static_cast<EbpfEventType>(t)), s.by_type[t],
                       100.0 * static_cast<double>(s.by_type[t]) / static_cast<double>(s.events));
  }
  uint64_t lost = 0;
  for (const auto& [cpu, c] : s.losses) lost += c.lost;
  out += fmt::format("lost events:  {}{}\n", lost, lost ? " (ring buffer overflow, per CPU:)" : "");
  for (const auto& [cpu, c] : s.losses) {
    out += fmt::format("  cpu {:<4} {:>10} lost in {} records, first at {} ns\n", cpu, c.lost,
                       c.records, c.first_ns);
  }
  out += fmt::format("processes:    {}\n", r.processes().size());
  size_t shown = 0;
  for (const auto& p : r.processes().all()) {
    if (++shown > 20) {
      out += fmt::format("  ... {} more (bpftape info --json lists all)\n",
                         r.processes().size() - 20);
      break;
    }
    out += fmt::format("  {:>7} ppid {:>7} {:<16} {}\n", p.pid, p.ppid, terminal_safe(p.comm),
                       p.cmdline.empty() ? terminal_safe(p.exe) : safe_join(p.cmdline));
  }
  if (!r.mappings().empty() || !r.symbols().empty()) {
    out += fmt::format("symbols:      {} mappings, {} symbols\n", r.mappings().size(),
                       r.symbols().size());
  }
  out += bpf_stats_text(last_bpf_stats(r), m.format_minor);
  out += fmt::format("interned:     {} strings, {} stacks\n", r.interns().string_count(),
                     r.interns().stack_count());
  out += fmt::format("frames:       {} ({} with events)\n", st.frames, st.event_frames);
  if (s.events > 0) {
    out += fmt::format("compression:  {:.1f} bytes/event on disk; {:.1f}x smaller than 64-byte "
                       "events in memory; zstd {:.1f}x over the encoded columns\n",
                       static_cast<double>(r.file_size()) / static_cast<double>(s.events),
                       64.0 * static_cast<double>(s.events) / static_cast<double>(r.file_size()),
                       st.stored_bytes ? static_cast<double>(st.raw_bytes) /
                                             static_cast<double>(st.stored_bytes)
                                       : 0.0);
  }
  std::fputs(out.c_str(), stdout);
}

void render_json(const std::string& path, TapeReader& r, const Summary& s) {
  const auto& m = r.metadata();
  const auto& st = r.stats();
  std::string out;
  JsonWriter j(&out);
  j.begin_object()
      .field("file", path)
      .field("file_bytes", r.file_size())
      .field("format", fmt::format("{}.{}", m.format_major, m.format_minor))
      .field("complete", r.complete());
  j.key("warnings").begin_array();
  for (const auto& w : r.warnings()) j.value(w);
  j.end_array();
  j.field("error", s.error ? s.error->to_string() : std::string());
  j.field("hostname", m.hostname)
      .field("kernel_release", m.kernel_release)
      .field("boot_id", m.boot_id)
      .field("cpu_count", m.cpu_count)
      .field("page_size", m.page_size)
      .field("tool_version", m.tool_version)
      .field("recording_id", m.recording_id);
  j.key("command").begin_array();
  for (const auto& a : m.command) j.value(a);
  j.end_array();
  j.key("clock").begin_object()
      .field("monotonic_ns", m.clock.monotonic_ns)
      .field("realtime_ns", m.clock.realtime_ns)
      .end_object();
  j.key("config").begin_object()
      .field("cpu_profiling", m.config.enable_cpu_profiling)
      .field("syscall_tracing", m.config.enable_syscall_tracing)
      .field("network_tracing", m.config.enable_network_tracing)
      .field("memory_tracing", m.config.enable_memory_tracing)
      .field("sample_rate_hz", m.config.sample_rate)
      .field("duration_ms", static_cast<int64_t>(m.config.duration.count()))
      .field("max_samples", m.config.max_samples)
      .end_object();
  j.key("probes").begin_array();
  for (const auto& p : m.probes) {
    j.begin_object().field("name", p.name).field("kind", p.kind).field("target", p.target).end_object();
  }
  j.end_array();
  j.field("first_timestamp_ns", s.first_ns)
      .field("last_timestamp_ns", s.last_ns)
      .field("duration_ns", s.last_ns - s.first_ns)
      .field("events", s.events);
  j.key("events_by_type").begin_object();
  for (size_t t = 0; t < kEventTypeCount; ++t) {
    if (s.by_type[t]) j.field(otlp::ebpf::event_type_name(static_cast<EbpfEventType>(t)), s.by_type[t]);
  }
  j.end_object();
  j.key("losses").begin_array();
  for (const auto& [cpu, c] : s.losses) {
    j.begin_object().field("cpu", cpu).field("lost", c.lost).field("records", c.records)
        .field("first_timestamp_ns", c.first_ns).end_object();
  }
  j.end_array();
  j.key("processes").begin_array();
  for (const auto& p : r.processes().all()) {
    j.begin_object().field("pid", p.pid).field("ppid", p.ppid).field("comm", p.comm)
        .field("exe", p.exe).key("cmdline").begin_array();
    for (const auto& a : p.cmdline) j.value(a);
    j.end_array().field("start_time_ns", p.start_ns).field("exit_time_ns", p.exit_ns)
        .field("exit_code", p.exit_code).end_object();
  }
  j.end_array();
  if (const auto* stats = last_bpf_stats(r)) {
    j.key("bpf_stats").begin_object().field("timestamp_ns", stats->timestamp_ns)
        .field("sampled", stats->sampled).key("programs").begin_array();
    for (const auto& p : stats->programs) {
      j.begin_object().field("name", p.name).field("program_id", p.program_id)
          .field("run_time_ns", p.run_time_ns).field("run_count", p.run_count)
          .field("recursion_misses", p.recursion_misses)
          .field("measured_run_time_ns", p.measured_run_time_ns)
          .field("measured_run_count", p.measured_run_count).end_object();
    }
    j.end_array().end_object();
  } else {
    j.key("bpf_stats").null();
  }
  j.field("mappings", r.mappings().size())
      .field("symbols", r.symbols().size())
      .field("interned_strings", r.interns().string_count())
      .field("interned_stacks", r.interns().stack_count())
      .field("frames", st.frames)
      .field("event_frames", st.event_frames)
      .field("raw_bytes", st.raw_bytes)
      .field("stored_bytes", st.stored_bytes)
      .field("bytes_per_event", s.events ? static_cast<double>(r.file_size()) /
                                               static_cast<double>(s.events)
                                         : 0.0)
      .field("compression_ratio_vs_memory",
             s.events ? 64.0 * static_cast<double>(s.events) / static_cast<double>(r.file_size())
                      : 0.0)
      .end_object();
  out += '\n';
  std::fputs(out.c_str(), stdout);
}

}  // namespace

int run_info(const Args& args) {
  ArgParser parser("bpftape info", "FILE [--json]",
                   "Describes a tape: where and how it was recorded, its time range and "
                   "duration, events by type,\nper-CPU losses, processes, the BPF programs' run "
                   "time (kernel BPF stats; sampled or counted),\nwhether it is complete, "
                   "and its size per event. A tape whose recorder was killed is read up\nto its "
                   "last whole frame, with a warning.");
  parser.flag("json", 0, "print one JSON object")
      .positionals(1, "FILE: the .bpftape file")
      .epilog("exit status: 0 when the tape was read (warnings included), 1 when it is "
              "unreadable or damaged, 2 on bad usage");
  auto parsed = parser.parse(args);
  if (!parsed) {
    std::fprintf(stderr, "%s\n", parsed.error().message().c_str());
    return kExitUsage;
  }
  if (parsed->help_requested()) {
    std::fputs(parser.help_text().c_str(), stdout);
    return kExitOk;
  }
  if (parsed->positionals().size() != 1) {
    std::fprintf(stderr, "bpftape info: expected one FILE (see 'bpftape info --help')\n");
    return kExitUsage;
  }
  const std::string& path = parsed->positionals()[0];
  otlp::ebpf::tape::ReaderOptions options;
  options.decode_threads = 2;
  auto reader = TapeReader::open(path, options);
  if (!reader) {
    std::fprintf(stderr, "bpftape info: %s: %s\n", path.c_str(),
                 reader.error().to_string().c_str());
    return kExitFailure;
  }
  Summary summary = summarize(**reader);
  if (parsed->has("json")) {
    render_json(path, **reader, summary);
  } else {
    render_text(path, **reader, summary);
  }
  for (const auto& w : (*reader)->warnings()) {
    std::fprintf(stderr, "bpftape info: warning: %s\n", w.c_str());
  }
  if (summary.error) {
    std::fprintf(stderr, "bpftape info: %s: %s (figures above cover the frames before it)\n",
                 path.c_str(), summary.error->to_string().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace bpftape::cli
