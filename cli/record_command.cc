// `bpftape record`: live kernel events into a tape (and, with --report, through the same
// pipeline and outputs as `bpftape replay`).
//
// Stop conditions: --duration, --max-size, the recorded command exiting, SIGINT/SIGTERM; each
// ends with a properly closed tape, and stops the recorded command if it is still running.
// SIGKILL leaves a tape readable up to the last periodic flush (1 s); the command's cgroup it
// leaves is removed by the next `record`. Not privileged: doctor's explanation and exit 2,
// before anything is created. A command that cannot start: exit 1 and no tape.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/outputs.h"
#include "cli/stop_signals.h"
#include "core/config.h"
#include "core/clock.h"
#include "core/report/report.h"

#ifdef BPFTAPE_HAVE_BPF
#include "recorder/command_cgroup.h"
#include "recorder/held_command.h"
#include "recorder/recorder.h"
#include "recorder/tape_budget.h"
#endif

namespace bpftape::cli {
namespace {

using namespace otlp::ebpf;

constexpr const char* kName = "bpftape record";

ArgParser make_parser() {
  ArgParser parser(
      kName, "[tracers] [target] [-o TAPE] [--duration D] [-- COMMAND [ARGS...]]",
      "Records live kernel events into a tape: CPU samples with symbolized user and kernel\n"
      "stacks, every syscall with its duration and result, TCP connections with bytes and\n"
      "HTTP requests, libc allocations with stacks, and process exec/fork/exit. Needs root\n"
      "(or CAP_BPF + CAP_PERFMON); `bpftape doctor` says what is missing. Replay the tape\n"
      "anywhere, without root, with `bpftape replay TAPE`.");
  parser.flag("cpu", 0, "sample CPU stacks (default when no tracer is chosen)")
      .flag("syscalls", 0, "every syscall with duration and return value")
      .flag("net", 0, "TCP connections, bytes, first payload bytes (HTTP/1.x recognised)")
      .flag("mem", 0, "libc malloc/calloc/realloc/free/mmap/munmap with stacks (leak report)")
      .flag("all", 'a', "all of the above")
      .option("pid", 'p', "PID[,PID...]", "record only these processes (up to 8)")
      .option("comm", 0, "NAME", "record only tasks with this exact name (<= 15 chars)")
      .option("cgroup", 0, "PATH", "record only tasks in this cgroup v2 (path under the cgroup2 "
                                   "mount, or absolute)")
      .option("output", 'o', "TAPE", "where to write (default record.bpftape)")
      .option("duration", 'd', "D", "stop after D (10s, 2m, ...; default: until Ctrl-C, the "
                                    "command exits, or --env's duration)")
      .option("max-size", 0, "SIZE", "stop before the tape would pass SIZE (e.g. 100M, 2G; at "
                                      "least 64K): the file never does, and ends a few frames "
                                      "short of it")
      .option("env", 0, "ENV", "production|staging|development|debug: the recommended sample "
                               "rate (19/49/99/199 Hz) and duration (300/120/60/30 s)")
      .option("sample-rate", 'F', "HZ", "CPU sampling frequency (default 99)")
      .option("ring-size", 0, "SIZE", "kernel ring buffer per tracer (default: 16M syscalls and "
                                       "memory, 4M network, 1M CPU samples and processes)")
      .flag("no-symbols", 0, "do not resolve stack frames at record time (addresses only)")
      .option("bpf-stats", 0, "MODE", "BPF programs' run time from kernel BPF stats, which cost two "
                                      "clock reads per program run: auto (default: on while that is "
                                      "cheap, else 1 s in every 10 s and scaled), full (always on: "
                                      "exact) or off")
      .option("otlp-interval", 0, "D", "with --otlp-endpoint/--otlp-file: export while recording, "
                                       "every D (default 10s): spans that ended, cumulative "
                                       "metrics; the rest and the profile at the end")
      .flag("report", 0, "also run the pipeline live and print the report at the end "
                         "(as `bpftape replay` would)")
      .flag("quiet", 'q', "no status line and no summary");
  add_output_options(parser, /*prints_report=*/true);
  parser.allow_trailing("COMMAND       run it and record it and its children (its own cgroup) "
                        "until it exits");
  parser.epilog("A COMMAND still running when the recording ends for another reason (--duration, "
                "--max-size,\nCtrl-C, SIGTERM, an error) is stopped with everything it started: "
                "SIGTERM, then SIGKILL\nafter 2 s. Unlike perf, which leaves it running: a "
                "command nobody records any more would\nrun on unwatched, often as root.\n\n"
                "exit status: 0 recorded (whatever the command's status), 1 the recording failed "
                "(the command\ncould not start: no tape is written; I/O error, disk full: the "
                "tape so far stays readable),\n2 bad usage or not privileged");
  return parser;
}


#ifdef BPFTAPE_HAVE_BPF

// On a terminal: one status line, rewritten about once a second.
class StatusLine {
 public:
  explicit StatusLine(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)) {}
  void show(const record::RecordProgress& p) {
    if (!enabled_) return;
    std::fprintf(stderr, "\rrecording %s  %.1f k events/s  %llu lost  tape %s        ",
                 format_duration_ns(p.elapsed_ns / 1'000'000'000 * 1'000'000'000).c_str(),
                 p.events_per_second / 1e3, static_cast<unsigned long long>(p.lost),
                 format_bytes(p.tape_bytes).c_str());
    shown_ = true;
  }
  void clear() {
    if (shown_) std::fprintf(stderr, "\r%70s\r", "");
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
};

int record(const ParsedArgs& parsed, OutputRequest& request) {
  auto usage = [](const std::string& message) {
    std::fprintf(stderr, "%s: %s (see '%s --help')\n", kName, message.c_str(), kName);
    return kExitUsage;
  };
  // Configuration: --env first, then explicit flags override it.
  EbpfConfig config;
  std::optional<uint64_t> duration_ns;
  if (auto env = parsed.get("env")) {
    auto recommended = create_recommended_config(*env);
    if (!recommended) return usage("--env: " + recommended.error().message());
    config = *recommended;
    duration_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(config.duration).count());
  }
  const bool all = parsed.has("all");
  config.enable_cpu_profiling = all || parsed.has("cpu");
  config.enable_syscall_tracing = all || parsed.has("syscalls");
  config.enable_network_tracing = all || parsed.has("net");
  config.enable_memory_tracing = all || parsed.has("mem");
  if (!config.enable_syscall_tracing && !config.enable_network_tracing &&
      !config.enable_memory_tracing) {
    config.enable_cpu_profiling = true;  // no tracer chosen: profile the CPU
  }
  if (auto v = parsed.get("sample-rate")) {
    auto hz = parse_uint("sample-rate", *v, 1, EbpfConfig::kMaxSampleRate);
    if (!hz) return usage(hz.error().message());
    config.sample_rate = static_cast<uint32_t>(*hz);
  }
  if (auto v = parsed.get("duration")) {
    auto d = parse_duration_ns("duration", *v);
    if (!d) return usage(d.error().message());
    duration_ns = *d;
  }
  if (duration_ns) config.duration = std::chrono::milliseconds(*duration_ns / 1'000'000);
  if (auto valid = config.validate(); !valid) return usage(valid.error().message());

  record::LiveOptions live = record::live_options_from(config);
  live.symbolize = !parsed.has("no-symbols");
  if (auto v = parsed.get("bpf-stats")) {
    auto mode = bpftape::record::parse_bpf_stats_mode(*v);
    if (!mode) return usage(mode.error().message());
    live.bpf_stats = *mode;
  }
  if (auto v = parsed.get("ring-size")) {
    auto size = parse_size("ring-size", *v);
    if (!size) return usage(size.error().message());
    if (*size < 4096 || *size > (1u << 30) || (*size & (*size - 1)) != 0) {
      return usage(fmt::format("--ring-size: {} must be a power of two between 4K and 1G", *v));
    }
    live.ring_bytes = static_cast<uint32_t>(*size);
  }
  std::optional<uint64_t> max_bytes;
  if (auto v = parsed.get("max-size")) {
    auto size = parse_size("max-size", *v);
    if (!size) return usage(size.error().message());
    if (*size < record::TapeBudget::kMinimumBytes) {
      return usage(fmt::format("--max-size: at least {} (a tape's header, metadata, index and the "
                               "frames still being written take that much)",
                               format_bytes(record::TapeBudget::kMinimumBytes)));
    }
    max_bytes = *size;
  }
  uint64_t otlp_interval_ns = 10'000'000'000;
  if (auto v = parsed.get("otlp-interval")) {
    auto d = parse_duration_ns("otlp-interval", *v);
    if (!d) return usage(d.error().message());
    if (*d < 100'000'000) return usage("--otlp-interval must be at least 100ms");
    otlp_interval_ns = *d;
  }
  for (const auto& list : parsed.all("pid")) {
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      if (comma == std::string::npos) comma = list.size();
      auto pid = parse_uint("pid", std::string_view(list).substr(pos, comma - pos), 1, INT32_MAX);
      if (!pid) return usage(pid.error().message());
      if (kill(static_cast<pid_t>(*pid), 0) != 0 && errno == ESRCH) {
        return usage(fmt::format("--pid: no process {}", *pid));
      }
      live.filter.tgids.push_back(static_cast<uint32_t>(*pid));
      pos = comma + 1;
    }
  }
  if (auto comm = parsed.get("comm")) {
    if (comm->empty() || comm->size() > 15) return usage("--comm: a task name has 1 to 15 characters");
    live.filter.comm = *comm;
  }
  if (auto cgroup = parsed.get("cgroup")) {
    auto id = record::cgroup_id_of(*cgroup);
    if (!id) return usage(id.error().message());
    live.filter.cgroup_id = *id;
  }
  const auto& command = parsed.trailing();
  if (!command.empty() && !live.filter.tgids.empty()) {
    return usage("give either --pid or a command to run, not both");
  }
  if (live.filter.tgids.size() + (command.empty() ? 0 : 1) > ProbeFilter::kMaxTgids) {
    return usage(fmt::format("--pid: at most {} processes", ProbeFilter::kMaxTgids));
  }
  const std::string output = parsed.get("output").value_or("record.bpftape");

  // Privileges before anything is created: doctor's words, exit 2.
  const SystemSupportReport support = check_system_support();
  if (!support.can_record()) {
    std::fprintf(stderr, "%s: this process cannot record live kernel events here.\n\n%s", kName,
                 render_doctor_text(support).c_str());
    return kExitUsage;
  }
  // Command cgroups of recorders that died (SIGKILL, a crash) before removing them.
  for (const auto& stale : record::remove_stale_command_cgroups()) {
    std::fprintf(stderr, "%s: removed %s, left behind by recorder pid %d (gone)%s\n", kName,
                 stale.path.c_str(), stale.recorder_pid,
                 stale.moved ? fmt::format("; {} processes still in it were moved to its parent",
                                           stale.moved).c_str()
                             : "");
  }
  // From here on SIGINT/SIGTERM end the recording (and a live OTLP export) cleanly.
  const std::atomic<int>& stop_signal = install_stop_signals();
  request.otlp.stop_requested = &stop_signal;

  // Owns the command's process and cgroup: every return below stops or abandons it and reaps it.
  std::unique_ptr<record::HeldCommand> held;
  if (!command.empty()) {
    auto spawned = record::HeldCommand::spawn(command, /*own_cgroup=*/!live.filter.cgroup_id);
    if (!spawned) {
      std::fprintf(stderr, "%s: %s\n", kName, spawned.error().message().c_str());
      return kExitFailure;
    }
    held = std::move(*spawned);
    if (!held->cgroup_warning().empty()) {
      std::fprintf(stderr, "%s: recording the command's process only, not its children: %s\n",
                   kName, held->cgroup_warning().c_str());
    }
    if (held->cgroup_id()) {
      live.filter.cgroup_id = held->cgroup_id();
      // Uprobes on libc for the command's process alone: attaching them system-wide would
      // trap every allocation on the machine. Its children's allocations are not recorded.
      live.memory_pid = static_cast<int32_t>(held->pid());
    } else {
      live.filter.tgids.push_back(static_cast<uint32_t>(held->pid()));
    }
  }
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "%s: %s\n", kName, message.c_str());
    return kExitFailure;
  };
  auto source = record::LiveSource::create(live);
  if (!source) {
    fail(source.error().message());
    return source.error().kind() == ErrorKind::InsufficientPermissions ? kExitUsage : kExitFailure;
  }
  const tape::TapeMetadata metadata = record::live_metadata(**source, config, command);

  Tracers tracers;
  std::unique_ptr<Pipeline> pipeline;
  const bool live_results = parsed.has("report") || request.writes_files() || request.digest;
  if (live_results) {
    if (auto r = open_outputs(request, tracers); !r) return fail(r.error().message());
    PipelineOptions pipeline_options;
    pipeline_options.reorder_window_ns = kDefaultReorderWindowNs;
    auto created = Pipeline::create(pipeline_options);
    if (!created) return fail(created.error().message());
    pipeline = std::move(*created);
    tracers.add_to(*pipeline);
  }
  // OTLP to a collector or a file streams while recording; a pprof file alone waits for the end.
  std::unique_ptr<otlp::ebpf::OtlpStream> otlp_stream;
  if (pipeline && (!request.otlp.endpoint.empty() || !request.otlp.json_path.empty())) {
    request.otlp.resource.host_name = metadata.hostname;
    auto opened = otlp::ebpf::OtlpStream::open(request.otlp);
    if (!opened) return fail("otlp: " + opened.error().message());
    otlp_stream = std::move(*opened);
  }

  tape::WriterOptions writer_options;
  writer_options.overwrite = parsed.has("force");
  // The drain loop must not stall for a frame's compression while the rings fill.
  writer_options.background_compression = true;
  // The tape appears once the command has started: one that cannot start leaves none.
  writer_options.defer_publish = true;
  std::optional<record::TapeBudget> budget;
  if (max_bytes) {
    record::TapeBudget::configure(*max_bytes, &writer_options);
    budget.emplace(*max_bytes, writer_options);
  }
  // The writer's message names the file (and says --force when it exists).
  auto writer = tape::TapeWriter::create(output, metadata, (*source)->interned(), writer_options);
  if (!writer) return fail(writer.error().message());
  if (held) {
    if (auto started = held->start(); !started) {
      (*writer)->discard();
      return fail(started.error().message());
    }
  }
  if (auto published = (*writer)->publish(); !published) return fail(published.error().message());

  const bool quiet = parsed.has("quiet");
  StatusLine status_line(!quiet);
  record::RecordLoopOptions loop;
  loop.duration_ns = duration_ns;
  loop.budget = budget ? &*budget : nullptr;
  loop.on_progress = [&](const record::RecordProgress& p) { status_line.show(p); };
  loop.stop_requested = [&]() -> std::string {
    if (int sig = stop_signal.load()) return sig == SIGINT ? "interrupted" : "terminated";
    if (held && held->exited()) return "command exited";
    return {};
  };
  if (otlp_stream) {
    loop.export_interval_ns = otlp_interval_ns;
    loop.on_export = [&]() -> Result<void> {
      const auto stats = (*source)->stats();
      if (stats.first_event_ns == 0) return {};  // nothing seen yet
      // A quiet stream does not move the sorter's window: the clock does.
      BPFTAPE_RETURN_IF_ERROR(
          pipeline->advance_to(read_clock_ns(CLOCK_MONOTONIC), (*source)->interned()));
      otlp::ebpf::RecordingContext recording{metadata.recording_id, (*source)->clock(),
                                             stats.first_event_ns, stats.last_event_ns};
      otlp::ebpf::AggregatorResults results{&(*source)->processes(), &tracers.network,
                                            &tracers.syscalls, &tracers.memory, &tracers.cpu};
      return otlp_stream->export_interval(recording, results);
    };
  }
  record::RecordSummary summary = record::run_recording(**source, writer->get(), pipeline.get(), loop);
  status_line.clear();
  // The signal that ended the recording must not cancel the final export; a new one does.
  rearm_stop_signals();
  // The recording is over for another reason than the command's exit: the command goes too.
  std::string command_line;
  if (held && !held->exited()) {
    const record::HeldCommand::StopOutcome stopped = held->stop();
    command_line = fmt::format("stopped (pid {}) when the recording ended: "
                               "SIGTERM to {} process{}{}",
                               held->pid(), stopped.terminated,
                               stopped.terminated == 1 ? "" : "es",
                               stopped.killed ? ", SIGKILL after 2 s" : "");
    command_line += "; " + record::describe_wait_status(held->wait_status());
  } else if (held) {
    command_line =
        fmt::format("pid {} {}", held->pid(), record::describe_wait_status(held->wait_status()));
  }

  int status = kExitOk;
  if (summary.error) {
    std::fprintf(stderr, "%s: %s: %s\n", kName, output.c_str(), summary.error->message().c_str());
    std::fprintf(stderr, "%s: the tape holds what was written before the error; "
                         "`bpftape info %s` shows how much\n", kName, output.c_str());
    status = kExitFailure;
  }
  if (!quiet) {
    std::fprintf(stderr, "%s: %s -> %s\n%s", kName, summary.stop_reason.c_str(), output.c_str(),
                 summary.describe().c_str());
    if (!command_line.empty()) std::fprintf(stderr, "  command: %s\n", command_line.c_str());
  }
  if (pipeline && !summary.error) {
    // Every symbol the recording wrote into the tape: frames are named as a replay names them.
    const record::NewSymbols& symbols = (*source)->all_symbols();
    Symbolizer symbolizer(symbols.symbols, symbols.mappings);
    RunFacts facts;
    facts.recording = RecordingInfo{"live", metadata.hostname, metadata.kernel_release,
                                    metadata.recording_id};
    facts.pipeline = pipeline->stats();
    facts.interned = &(*source)->interned();
    facts.processes = &(*source)->processes();
    facts.symbolizer = &symbolizer;
    facts.clock = (*source)->clock();
    facts.first_event_ns = (*source)->stats().first_event_ns;
    facts.last_event_ns = (*source)->stats().last_event_ns;
    facts.sample_hz = config.sample_rate;
    facts.otlp_stream = otlp_stream.get();
    const int emitted = emit_outputs(kName, request, tracers, facts);
    if (emitted != kExitOk) status = emitted;
  }
  return status;
}

#endif  // BPFTAPE_HAVE_BPF

}  // namespace

int run_record(const Args& args) {
  ArgParser parser = make_parser();
  auto parsed = parse_or_exit(parser, args);
  if (!parsed) return parsed.error();
  auto request = output_request_from(*parsed, /*print_report=*/parsed->has("report"));
  if (!request) {
    std::fprintf(stderr, "%s: %s (see '%s --help')\n", kName, request.error().message().c_str(), kName);
    return kExitUsage;
  }
#ifdef BPFTAPE_HAVE_BPF
  return record(*parsed, *request);
#else
  std::fprintf(stderr, "%s: not supported by this build: bpftape was built without BPF (libbpf, "
                       "clang or bpftool were missing at configure time; run scripts/setup)\n",
               kName);
  return kExitFailure;
#endif
}

}  // namespace bpftape::cli
