// `bpftape record`: live kernel events into a tape (and, with --report, through the same
// pipeline and outputs as `bpftape replay`).
//
// Stop conditions: --duration, --max-size, the recorded command exiting, SIGINT/SIGTERM; each
// ends with a properly closed tape. SIGKILL leaves a tape readable up to the last periodic
// flush (1 s). Not privileged: doctor's explanation and exit 2, before anything is created.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/outputs.h"
#include "core/config.h"
#include "core/clock.h"
#include "core/report/report.h"

#ifdef BPFTAPE_HAVE_BPF
#include "recorder/procfs.h"
#include "recorder/recorder.h"
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
      .option("max-size", 0, "SIZE", "stop once the tape reaches SIZE (e.g. 100M, 2G)")
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
  parser.allow_trailing("COMMAND       run it and record it (and only it) until it exits");
  parser.epilog("exit status: 0 recorded (whatever the command's status), 1 the recording failed "
                "(I/O error, disk full: the tape so far stays readable), 2 bad usage or not "
                "privileged");
  return parser;
}


#ifdef BPFTAPE_HAVE_BPF

std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal.store(sig); }

// The cgroup v2 mount point, from /proc/self/mountinfo ("" if none).
std::string cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    // Fields: id parent major:minor root mount-point ...
    size_t pos = 0;
    for (int field = 0; field < 4; ++field) pos = line.find(' ', pos) + 1;
    return line.substr(pos, line.find(' ', pos) - pos);
  }
  return {};
}

// A cgroup v2 directory -> its id (the directory's inode number, what
// bpf_get_current_cgroup_id() returns).
Result<uint64_t> cgroup_id_of(const std::string& given) {
  std::string path = given;
  if (!path.starts_with("/sys/fs/cgroup")) {
    const std::string mount = cgroup2_mount();
    if (mount.empty()) {
      return make_error(ErrorKind::ConfigError, "--cgroup: this system has no cgroup v2 mount");
    }
    path = mount + (given.starts_with("/") ? "" : "/") + given;
  }
  struct statfs fs{};
  struct stat st{};
  if (statfs(path.c_str(), &fs) != 0 || stat(path.c_str(), &st) != 0) {
    return errno_error(ErrorKind::ConfigError, "--cgroup " + path, errno);
  }
  constexpr long kCgroup2Magic = 0x63677270;
  if (fs.f_type != kCgroup2Magic || !S_ISDIR(st.st_mode)) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("--cgroup: {} is not a cgroup v2 directory", path));
  }
  return static_cast<uint64_t>(st.st_ino);
}

// A fresh cgroup v2 for the recorded command, so that everything it forks, execs or
// double-forks is recorded (the pid filter would see the command's own process only), as
// `perf record -- CMD` follows children. Created inside the recorder's own cgroup
// with no controllers enabled, so the command's resource limits do not change.
// Lifetime: the destructor moves any process still in it back to the parent cgroup (the
// command outlived the recording) and removes it.
class CommandCgroup {
 public:
  static Result<std::unique_ptr<CommandCgroup>> create(pid_t pid) {
    const std::string mount = cgroup2_mount();
    if (mount.empty()) return make_error(ErrorKind::NotSupported, "no cgroup v2 hierarchy is mounted");
    std::ifstream self("/proc/self/cgroup");
    const std::string own((std::istreambuf_iterator<char>(self)), std::istreambuf_iterator<char>());
    const std::string parent = mount + record::cgroup_v2_path(own);
    const std::string path = fmt::format("{}/bpftape-record-{}", parent, pid);
    if (mkdir(path.c_str(), 0755) != 0) return errno_error(ErrorKind::Io, "mkdir " + path, errno);
    std::unique_ptr<CommandCgroup> cgroup(new CommandCgroup(parent, path));
    if (!write_pid(path + "/cgroup.procs", pid)) {
      return errno_error(ErrorKind::Io, "moving the command into " + path, errno);
    }
    BPFTAPE_ASSIGN_OR_RETURN(cgroup->id_, cgroup_id_of(path));
    return cgroup;
  }
  ~CommandCgroup() {
    std::ifstream procs(path_ + "/cgroup.procs");
    for (pid_t pid; procs >> pid;) write_pid(parent_ + "/cgroup.procs", pid);
    rmdir(path_.c_str());
  }
  uint64_t id() const { return id_; }

 private:
  CommandCgroup(std::string parent, std::string path) : parent_(std::move(parent)), path_(std::move(path)) {}
  static bool write_pid(const std::string& procs, pid_t pid) {
    const int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const std::string text = std::to_string(pid);
    const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    close(fd);
    return ok;
  }
  std::string parent_;
  std::string path_;
  uint64_t id_ = 0;
};

// The recorded command: forked at once but held on a pipe until the probes are attached, so
// its first instruction is recorded.
struct Child {
  pid_t pid = -1;
  int release_fd = -1;
  int status = 0;
  bool exited = false;
};

Result<Child> spawn_held(const std::vector<std::string>& command) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return errno_error(ErrorKind::Io, "pipe", errno);
  const pid_t pid = fork();
  if (pid < 0) return errno_error(ErrorKind::Io, "fork", errno);
  if (pid == 0) {
    close(fds[1]);
    char byte;
    if (read(fds[0], &byte, 1) != 1) _exit(126);  // the recorder gave up before starting us
    std::vector<char*> argv;
    for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "%s: cannot run '%s': %s\n", kName, argv[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[0]);
  return Child{pid, fds[1]};
}

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
    auto id = cgroup_id_of(*cgroup);
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

  std::unique_ptr<CommandCgroup> command_cgroup;  // outlives the recording (see its comment)
  Child child;
  if (!command.empty()) {
    auto spawned = spawn_held(command);
    if (!spawned) {
      std::fprintf(stderr, "%s: %s\n", kName, spawned.error().message().c_str());
      return kExitFailure;
    }
    child = *spawned;
    auto cgroup = live.filter.cgroup_id ? Result<std::unique_ptr<CommandCgroup>>(nullptr)
                                        : CommandCgroup::create(child.pid);
    if (cgroup && *cgroup) {
      command_cgroup = std::move(*cgroup);
      live.filter.cgroup_id = command_cgroup->id();
      // Uprobes on libc for the command's process alone: attaching them system-wide would
      // trap every allocation on the machine. Its children's allocations are not recorded.
      live.memory_pid = static_cast<int32_t>(child.pid);
    } else {
      if (!cgroup) {
        std::fprintf(stderr, "%s: recording the command's process only, not its children: %s\n", kName,
                     cgroup.error().message().c_str());
      }
      live.filter.tgids.push_back(static_cast<uint32_t>(child.pid));
    }
  }
  // From here on the child must be released or reaped on every path.
  auto abandon_child = [&]() {
    if (child.pid <= 0) return;
    close(child.release_fd);  // read() sees EOF: the child exits 126 without running
    waitpid(child.pid, nullptr, 0);
    child.pid = -1;
  };
  auto source = record::LiveSource::create(live);
  if (!source) {
    abandon_child();
    std::fprintf(stderr, "%s: %s\n", kName, source.error().message().c_str());
    return source.error().kind() == ErrorKind::InsufficientPermissions ? kExitUsage : kExitFailure;
  }
  tape::WriterOptions writer_options;
  writer_options.overwrite = parsed.has("force");
  // The drain loop must not stall for a frame's compression while the rings fill.
  writer_options.background_compression = true;
  const tape::TapeMetadata metadata = record::live_metadata(**source, config, command);
  auto writer = tape::TapeWriter::create(output, metadata, (*source)->interned(), writer_options);
  if (!writer) {
    abandon_child();
    // The writer's message names the file (and says --force when it exists).
    std::fprintf(stderr, "%s: %s\n", kName, writer.error().message().c_str());
    return kExitFailure;
  }

  Tracers tracers;
  std::unique_ptr<Pipeline> pipeline;
  const bool live_results = parsed.has("report") || request.writes_files() || request.digest;
  if (live_results) {
    if (auto r = open_outputs(request, tracers); !r) {
      abandon_child();
      std::fprintf(stderr, "%s: %s\n", kName, r.error().message().c_str());
      return kExitFailure;
    }
    PipelineOptions pipeline_options;
    pipeline_options.reorder_window_ns = kDefaultReorderWindowNs;
    auto created = Pipeline::create(pipeline_options);
    if (!created) {
      abandon_child();
      std::fprintf(stderr, "%s: %s\n", kName, created.error().message().c_str());
      return kExitFailure;
    }
    pipeline = std::move(*created);
    tracers.add_to(*pipeline);
  }
  // OTLP to a collector or a file streams while recording; a pprof file alone waits for the end.
  std::unique_ptr<otlp::ebpf::OtlpStream> otlp_stream;
  if (pipeline && (!request.otlp.endpoint.empty() || !request.otlp.json_path.empty())) {
    request.otlp.resource.host_name = metadata.hostname;
    auto opened = otlp::ebpf::OtlpStream::open(request.otlp);
    if (!opened) {
      abandon_child();
      std::fprintf(stderr, "%s: otlp: %s\n", kName, opened.error().message().c_str());
      return kExitFailure;
    }
    otlp_stream = std::move(*opened);
  }

  struct sigaction action{};
  action.sa_handler = on_signal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (child.pid > 0) {
    if (write(child.release_fd, "x", 1) != 1) {
      std::fprintf(stderr, "%s: could not start the command: %s\n", kName, std::strerror(errno));
    }
    close(child.release_fd);
  }
  const bool quiet = parsed.has("quiet");
  StatusLine status_line(!quiet);
  record::RecordLoopOptions loop;
  loop.duration_ns = duration_ns;
  loop.max_bytes = max_bytes;
  loop.on_progress = [&](const record::RecordProgress& p) { status_line.show(p); };
  loop.stop_requested = [&]() -> std::string {
    if (int sig = g_signal.load()) return sig == SIGINT ? "interrupted" : "terminated";
    if (child.pid > 0 && !child.exited && waitpid(child.pid, &child.status, WNOHANG) == child.pid) {
      child.exited = true;
      return "command exited";
    }
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
  if (child.pid > 0 && !child.exited) {
    // Stopped for another reason (signal, duration): the command keeps running, as with perf.
    std::fprintf(stderr, "%s: the command (pid %d) is still running\n", kName, child.pid);
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
    if (child.exited) {
      std::fprintf(stderr, "  command: %s\n",
                   WIFEXITED(child.status)
                       ? fmt::format("exited with status {}", WEXITSTATUS(child.status)).c_str()
                       : fmt::format("killed by signal {}", WTERMSIG(child.status)).c_str());
    }
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
