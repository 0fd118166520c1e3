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

#include <climits>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/outputs.h"
#include "cli/stop_signals.h"
#include "core/config.h"
#include "core/report/report.h"

#ifdef BPFTAPE_HAVE_BPF
#include "recorder/command_cgroup.h"
#include "recorder/held_command.h"
#include "recorder/live_options.h"
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

// What the flags ask for, checked before anything is created.
struct RecordPlan {
  EbpfConfig config;
  std::optional<uint64_t> duration_ns;
  record::LiveOptions live;
  std::optional<uint64_t> max_bytes;  // --max-size
  uint64_t otlp_interval_ns = 10'000'000'000;
  std::vector<std::string> command;
  std::string output;
};

// The flags as a plan; a ConfigError whose message names the flag (a usage error).
Result<RecordPlan> plan_from(const ParsedArgs& parsed) {
  auto config_error = [](std::string message) {
    return make_error(ErrorKind::ConfigError, std::move(message));
  };
  RecordPlan plan;
  EbpfConfig& config = plan.config;
  // Configuration: --env first, then explicit flags override it.
  if (auto env = parsed.get("env")) {
    auto recommended = create_recommended_config(*env);
    if (!recommended) return config_error("--env: " + recommended.error().message());
    config = *recommended;
    plan.duration_ns = static_cast<uint64_t>(
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
    BPFTAPE_ASSIGN_OR_RETURN(uint64_t hz,
                             parse_uint("sample-rate", *v, 1, EbpfConfig::kMaxSampleRate));
    config.sample_rate = static_cast<uint32_t>(hz);
  }
  if (auto v = parsed.get("duration")) {
    BPFTAPE_ASSIGN_OR_RETURN(plan.duration_ns, parse_duration_ns("duration", *v));
  }
  if (plan.duration_ns) config.duration = std::chrono::milliseconds(*plan.duration_ns / 1'000'000);
  BPFTAPE_RETURN_IF_ERROR(config.validate());

  record::LiveOptions& live = plan.live;
  live = record::live_options_from(config);
  live.symbolize = !parsed.has("no-symbols");
  if (auto v = parsed.get("bpf-stats")) {
    BPFTAPE_ASSIGN_OR_RETURN(live.bpf_stats, record::parse_bpf_stats_mode(*v));
  }
  if (auto v = parsed.get("ring-size")) {
    BPFTAPE_ASSIGN_OR_RETURN(uint64_t size, parse_size("ring-size", *v));
    BPFTAPE_ASSIGN_OR_RETURN(live.ring_bytes, record::checked_ring_bytes(size));
  }
  if (auto v = parsed.get("max-size")) {
    BPFTAPE_ASSIGN_OR_RETURN(uint64_t size, parse_size("max-size", *v));
    if (size < record::TapeBudget::kMinimumBytes) {
      return config_error(fmt::format("--max-size: at least {} (a tape's header, metadata, index "
                                      "and the frames still being written take that much)",
                                      format_bytes(record::TapeBudget::kMinimumBytes)));
    }
    plan.max_bytes = size;
  }
  if (auto v = parsed.get("otlp-interval")) {
    BPFTAPE_ASSIGN_OR_RETURN(plan.otlp_interval_ns, parse_duration_ns("otlp-interval", *v));
    if (plan.otlp_interval_ns < 100'000'000) {
      return config_error("--otlp-interval must be at least 100ms");
    }
  }
  for (const auto& list : parsed.all("pid")) {
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      if (comma == std::string::npos) comma = list.size();
      const std::string_view text = std::string_view(list).substr(pos, comma - pos);
      BPFTAPE_ASSIGN_OR_RETURN(uint64_t pid, parse_uint("pid", text, 1, INT32_MAX));
      BPFTAPE_RETURN_IF_ERROR(record::add_target_pid(pid, live.filter));
      pos = comma + 1;
    }
  }
  if (auto comm = parsed.get("comm")) {
    BPFTAPE_RETURN_IF_ERROR(record::set_target_comm(*comm, live.filter));
  }
  if (auto cgroup = parsed.get("cgroup")) {
    BPFTAPE_ASSIGN_OR_RETURN(live.filter.cgroup_id, record::cgroup_id_of(*cgroup));
  }
  plan.command = parsed.trailing();
  if (!plan.command.empty() && !live.filter.tgids.empty()) {
    return config_error("give either --pid or a command to run, not both");
  }
  plan.output = parsed.get("output").value_or("record.bpftape");
  return plan;
}

// Refuses (doctor's explanation, false) when this process cannot record here.
bool can_record() {
  const SystemSupportReport support = check_system_support();
  if (support.can_record()) return true;
  std::fprintf(stderr, "%s: this process cannot record live kernel events here.\n\n%s", kName,
               render_doctor_text(support).c_str());
  return false;
}

// Command cgroups of recorders that died (SIGKILL, a crash) before removing them.
void remove_stale_command_cgroups() {
  for (const auto& stale : record::remove_stale_command_cgroups()) {
    std::fprintf(stderr, "%s: removed %s, left behind by recorder pid %d (gone)%s\n", kName,
                 stale.path.c_str(), stale.recorder_pid,
                 stale.moved ? fmt::format("; {} processes still in it were moved to its parent",
                                           stale.moved).c_str()
                             : "");
  }
}

// Spawns `record -- COMMAND`, held until the probes are attached, and aims the probes at it:
// its cgroup (it and its children), or its pid where there is no cgroup.
Result<std::unique_ptr<record::HeldCommand>> spawn_command(RecordPlan& plan) {
  record::LiveOptions& live = plan.live;
  BPFTAPE_ASSIGN_OR_RETURN(
      auto held, record::HeldCommand::spawn(plan.command, /*own_cgroup=*/!live.filter.cgroup_id));
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
  return held;
}

// The outputs a recording feeds live (--report, output files, --digest): the aggregators,
// the pipeline over them, and the OTLP stream that exports while recording.
struct LiveOutputs {
  Tracers tracers;
  std::unique_ptr<Pipeline> pipeline;  // registers `tracers`: neither moves
  std::unique_ptr<OtlpStream> otlp_stream;
};

Result<void> open_live_outputs(OutputRequest& request, const tape::TapeMetadata& metadata,
                               LiveOutputs& outputs) {
  BPFTAPE_RETURN_IF_ERROR(open_outputs(request, outputs.tracers));
  PipelineOptions pipeline_options;
  pipeline_options.reorder_window_ns = kDefaultReorderWindowNs;
  BPFTAPE_ASSIGN_OR_RETURN(outputs.pipeline, Pipeline::create(pipeline_options));
  outputs.tracers.add_to(*outputs.pipeline);
  // OTLP to a collector or a file streams while recording; a pprof file alone waits for the end.
  if (!request.otlp.endpoint.empty() || !request.otlp.json_path.empty()) {
    request.otlp.resource.host_name = metadata.hostname;
    auto opened = OtlpStream::open(request.otlp);
    if (!opened) return make_error(opened.error().kind(), "otlp: " + opened.error().message());
    outputs.otlp_stream = std::move(*opened);
  }
  return {};
}

// The recorded command after the recording: stopped (with everything it started) when the
// recording ended for another reason than its exit, reaped; the summary's `command:` line.
std::string finish_command(record::HeldCommand& held) {
  if (held.exited()) {
    return fmt::format("pid {} {}", held.pid(), record::describe_wait_status(held.wait_status()));
  }
  const record::HeldCommand::StopOutcome stopped = held.stop();
  return fmt::format("stopped (pid {}) when the recording ended: SIGTERM to {} process{}{}; {}",
                     held.pid(), stopped.terminated, stopped.terminated == 1 ? "" : "es",
                     stopped.killed ? ", SIGKILL after 2 s" : "",
                     record::describe_wait_status(held.wait_status()));
}

// The live outputs at the end, with every symbol the tape holds: frames are named as a replay
// of the tape names them.
int emit_live_outputs(OutputRequest& request, LiveOutputs& outputs,
                      const record::LiveSource& source, const tape::TapeMetadata& metadata) {
  const record::NewSymbols& symbols = source.all_symbols();
  Symbolizer symbolizer(symbols.symbols, symbols.mappings);
  const RecordingContext recording = record::recording_context(source);
  RunFacts facts;
  facts.recording = RecordingInfo{"live", metadata.hostname, metadata.kernel_release,
                                  metadata.recording_id};
  facts.pipeline = outputs.pipeline->stats();
  facts.interned = &source.interned();
  facts.processes = &source.processes();
  facts.symbolizer = &symbolizer;
  facts.clock = recording.clock;
  facts.first_event_ns = recording.start_ns;
  facts.last_event_ns = recording.end_ns;
  facts.sample_hz = metadata.config.sample_rate;
  facts.otlp_stream = outputs.otlp_stream.get();
  return emit_outputs(kName, request, outputs.tracers, facts);
}

// The tape at plan.output, unpublished until the command has started (one that cannot start
// leaves none), with the --max-size budget the writer was configured for.
struct Tape {
  std::unique_ptr<tape::TapeWriter> writer;
  std::optional<record::TapeBudget> budget;
};

Result<Tape> open_tape(const RecordPlan& plan, const tape::TapeMetadata& metadata,
                       const InternTable& interned, bool force) {
  tape::WriterOptions writer_options;
  writer_options.overwrite = force;
  // The drain loop must not stall for a frame's compression while the rings fill.
  writer_options.background_compression = true;
  writer_options.defer_publish = true;
  Tape out;
  if (plan.max_bytes) {
    record::TapeBudget::configure(*plan.max_bytes, &writer_options);
    out.budget.emplace(*plan.max_bytes, writer_options);
  }
  // The writer's message names the file (and says --force when it exists).
  BPFTAPE_ASSIGN_OR_RETURN(
      out.writer, tape::TapeWriter::create(plan.output, metadata, interned, writer_options));
  return out;
}

// The end-of-recording summary (stderr, unless quiet) and the error, if any: the exit status.
int report_summary(const record::RecordSummary& summary, const std::string& output,
                   const std::string& command_line, bool quiet) {
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
  return status;
}

int record(const ParsedArgs& parsed, OutputRequest& request) {
  auto plan = plan_from(parsed);
  if (!plan) {
    std::fprintf(stderr, "%s: %s (see '%s --help')\n", kName, plan.error().message().c_str(),
                 kName);
    return kExitUsage;
  }
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "%s: %s\n", kName, message.c_str());
    return kExitFailure;
  };
  // Privileges before anything is created: doctor's words, exit 2.
  if (!can_record()) return kExitUsage;
  remove_stale_command_cgroups();
  // From here on SIGINT/SIGTERM end the recording (and a live OTLP export) cleanly.
  const std::atomic<int>& stop_signal = install_stop_signals();
  request.otlp.stop_requested = &stop_signal;

  // Owns the command's process and cgroup: every return below stops or abandons it and reaps it.
  std::unique_ptr<record::HeldCommand> held;
  if (!plan->command.empty()) {
    auto spawned = spawn_command(*plan);
    if (!spawned) return fail(spawned.error().message());
    held = std::move(*spawned);
  }
  auto source = record::LiveSource::create(plan->live);
  if (!source) {
    fail(source.error().message());
    return source.error().kind() == ErrorKind::InsufficientPermissions ? kExitUsage : kExitFailure;
  }
  const tape::TapeMetadata metadata = record::live_metadata(**source, plan->config, plan->command);

  LiveOutputs outputs;
  if (parsed.has("report") || request.writes_files() || request.digest) {
    auto opened = open_live_outputs(request, metadata, outputs);
    if (!opened) return fail(opened.error().message());
  }

  auto tape_file = open_tape(*plan, metadata, (*source)->interned(), parsed.has("force"));
  if (!tape_file) return fail(tape_file.error().message());
  if (held) {
    if (auto started = held->start(); !started) {
      tape_file->writer->discard();
      return fail(started.error().message());
    }
  }
  auto published = tape_file->writer->publish();
  if (!published) return fail(published.error().message());

  record::LiveSource& live = **source;
  record::TapeSink tape_sink(*tape_file->writer, tape_file->budget ? &*tape_file->budget : nullptr,
                             live.interned(), [&live] { return live.bpf_stats(); });
  std::optional<record::PipelineSink> pipeline_sink;
  if (outputs.pipeline) pipeline_sink.emplace(*outputs.pipeline, live);
  record::RecordLoopOptions loop;
  loop.duration_ns = plan->duration_ns;
  if (outputs.otlp_stream) {
    const Tracers& t = outputs.tracers;
    const AggregatorResults aggregates{nullptr, &t.network, &t.syscalls, &t.memory, &t.cpu};
    pipeline_sink->export_to(*outputs.otlp_stream, aggregates);
    loop.export_interval_ns = plan->otlp_interval_ns;
  }
  const bool quiet = parsed.has("quiet");
  StatusLine status_line(!quiet);
  loop.on_progress = [&](const record::RecordProgress& p) { status_line.show(p); };
  loop.stop_requested = [&]() -> std::string {
    if (int sig = stop_signal.load()) return sig == SIGINT ? "interrupted" : "terminated";
    if (held && held->exited()) return "command exited";
    return {};
  };
  const record::RecordSummary summary = record::run_recording(
      live, &tape_sink, pipeline_sink ? &*pipeline_sink : nullptr, loop);
  status_line.clear();
  // The signal that ended the recording must not cancel the final export; a new one does.
  rearm_stop_signals();
  // The recording is over for another reason than the command's exit: the command goes too.
  const std::string command_line = held ? finish_command(*held) : "";

  int status = report_summary(summary, plan->output, command_line, quiet);
  if (outputs.pipeline && !summary.error) {
    const int emitted = emit_live_outputs(request, outputs, live, metadata);
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
