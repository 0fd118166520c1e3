// `bpftape replay TAPE`: the tape through the same pipeline and tracers as the live recording,
// then the report and the requested outputs. `bpftape convert TAPE` writes the outputs only.
// Same tape + same flags -> byte-identical outputs (whatever --threads).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/event_selection.h"
#include "cli/otlp_options.h"
#include "cli/outputs.h"
#include "cli/stop_signals.h"
#include "core/pipeline.h"
#include "core/report/report.h"
#include "replayer/file_source.h"

namespace bpftape::cli {
namespace {

using namespace otlp::ebpf;

// "max", "1x", "10x", "0.5x"; 0 for max. Factors outside FileSourceOptions' bounds (0,
// negative, NaN, inf, 1e300) are usage errors.
Result<double> parse_speed(std::string_view text) {
  using replay::FileSourceOptions;
  if (text == "max") return 0.0;
  auto factor = text.ends_with("x")
                    ? parse_double("speed", text.substr(0, text.size() - 1),
                                   FileSourceOptions::kMinSpeed, FileSourceOptions::kMaxSpeed)
                    : Result<double>(0.0);
  if (!text.ends_with("x") || !factor) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("--speed: '{}' is not max or a factor from {}x to {}x, e.g. 1x, "
                                  "10x, 0.5x",
                                  text, FileSourceOptions::kMinSpeed,
                                  FileSourceOptions::kMaxSpeed));
  }
  return *factor;
}

// One line on stderr, rewritten in place, only on a terminal and only for runs over 1 s.
class Progress {
 public:
  explicit Progress(bool enabled, uint64_t total_bytes)
      : enabled_(enabled && isatty(STDERR_FILENO)), total_(total_bytes),
        start_(std::chrono::steady_clock::now()) {}
  void update(uint64_t bytes, uint64_t events) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - start_ < std::chrono::seconds(1) || now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\rreplaying: %3.0f%% of %s, %.1f M events/s   ",
                 total_ ? 100.0 * static_cast<double>(bytes) / static_cast<double>(total_) : 0.0,
                 format_bytes(total_).c_str(), static_cast<double>(events) / secs / 1e6);
    shown_ = true;
  }
  ~Progress() {
    if (shown_) std::fprintf(stderr, "\r%60s\r", "");
  }

 private:
  bool enabled_;
  uint64_t total_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_{};
  bool shown_ = false;
};

ArgParser make_parser(bool convert) {
  ArgParser parser(
      convert ? "bpftape convert" : "bpftape replay",
      convert ? "TAPE [--folded FILE] [--trace-json FILE] [selection...]"
              : "TAPE [--json] [--folded FILE] [--trace-json FILE] [selection...]",
      convert ? "Runs a tape through the pipeline and writes the requested outputs, without the\n"
                "report. Needs no root and no BPF."
              : "Runs a tape through exactly the pipeline and tracers a live recording uses, and\n"
                "prints the report: syscalls (counts, errors, latency percentiles), network\n"
                "(connections, HTTP requests), memory (outstanding bytes by stack), CPU (top\n"
                "functions) and losses. Needs no root and no BPF. The same tape and flags give\n"
                "byte-identical output on every run and machine.");
  parser.positionals(1, "TAPE          a .bpftape file (also a truncated one: its prefix is replayed)");
  add_output_options(parser, /*prints_report=*/!convert);
  parser.option("threads", 0, "N", "frame decode threads (default 2; results do not depend on it)")
      .option("speed", 0, "S",
              "max (default) or a factor of recorded time: 1x, 10x, 0.5x (from 0.001x to "
              "1000000x; a pause in the recording is waited out for at most 1s)")
      .option("reorder-window", 0, "D", "how far apart CPUs' events may arrive and still be put in "
                                        "order (default 100ms, as when recording)")
      .flag("strict", 0, "treat a truncated tape as an error (exit 1) instead of a warning")
      .flag("no-progress", 0, "no progress line on a terminal");
  EventSelection::add_options(parser);
  parser.epilog("exit status: 0 ok (a truncated tape is a warning unless --strict), 1 unreadable or "
                "corrupt tape, an output failed, or SIGINT/SIGTERM stopped the run, 2 bad usage");
  return parser;
}

int run(const Args& args, bool convert) {
  const char* name = convert ? "bpftape convert" : "bpftape replay";
  ArgParser parser = make_parser(convert);
  auto parsed = parse_or_exit(parser, args);
  if (!parsed) return parsed.error();
  auto usage = [&](const std::string& message) {
    std::fprintf(stderr, "%s: %s (see '%s --help')\n", name, message.c_str(), name);
    return kExitUsage;
  };
  if (parsed->positionals().empty()) return usage("missing TAPE");
  auto request = output_request_from(*parsed, /*print_report=*/!convert);
  if (!request) return usage(request.error().message());
  if (convert && !request->writes_files()) {
    return usage("nothing to write: give --folded, --trace-json, --pprof, --otlp-file or --otlp-endpoint");
  }
  auto selection = EventSelection::from(*parsed);
  if (!selection) return usage(selection.error().message());
  replay::FileSourceOptions source_options;
  source_options.since_ns = selection->since_ns;
  source_options.until_ns = selection->until_ns;
  if (auto v = parsed->get("threads")) {
    auto n = parse_uint("threads", *v, 1, 64);
    if (!n) return usage(n.error().message());
    source_options.decode_threads = static_cast<unsigned>(*n);
  }
  if (auto v = parsed->get("speed")) {
    auto s = parse_speed(*v);
    if (!s) return usage(s.error().message());
    source_options.speed = *s;
  }

  const std::string& path = parsed->positionals()[0];
  // SIGINT/SIGTERM end a paced replay (the pacing wait notices within 100 ms), the reading loop
  // (at the next batch) and the OTLP export (within a second, saying what was not sent).
  const std::atomic<int>& stop = install_stop_signals();
  source_options.stop_requested = &stop;
  request->otlp.stop_requested = &stop;
  auto opened = replay::FileSource::open(path, source_options);
  if (!opened) {
    std::fprintf(stderr, "%s: %s: %s\n", name, path.c_str(), opened.error().message().c_str());
    return kExitFailure;
  }
  replay::FileSource& source = **opened;

  Tracers tracers;
  if (auto opened_outputs = open_outputs(*request, tracers); !opened_outputs) {
    std::fprintf(stderr, "%s: %s\n", name, opened_outputs.error().message().c_str());
    return kExitFailure;
  }

  // The selection's time origin is the first event: known now with an index; otherwise from
  // the first batch, so the filter is installed lazily on first use.
  PipelineOptions pipeline_options;
  pipeline_options.reorder_window_ns = kDefaultReorderWindowNs;
  if (auto v = parsed->get("reorder-window")) {
    auto w = parse_duration_ns("reorder-window", *v);
    if (!w) return usage(w.error().message());
    pipeline_options.reorder_window_ns = *w;
  }
  std::optional<uint64_t> base = source.first_event_ns();
  auto make_filter = [&](uint64_t b) {
    return selection->filter(b, [&source](uint32_t pid) {
      const ProcessInfo* p = source.processes().latest(pid);
      return p ? p->comm : std::string();
    });
  };
  if (base) pipeline_options.filter = make_filter(*base);
  auto pipeline = Pipeline::create(pipeline_options);
  if (!pipeline) {
    std::fprintf(stderr, "%s: %s\n", name, pipeline.error().message().c_str());
    return kExitFailure;
  }
  tracers.add_to(**pipeline);

  Progress progress(!parsed->has("no-progress"), source.reader().file_size());
  EventBatch batch;
  uint64_t events = 0;
  uint64_t last_event_ns = 0;
  std::optional<EbpfError> error;
  for (;;) {
    auto more = source.next(batch);
    if (!more) {
      error = more.error();
      break;
    }
    if (!*more || stop.load() != 0) break;
    if (!base && source.first_event_ns()) {
      base = source.first_event_ns();  // no index: the origin is the first batch's oldest event
      (*pipeline)->set_filter(make_filter(*base));
    }
    events += batch.events.size();
    for (const auto& e : batch.events) last_event_ns = std::max(last_event_ns, e.timestamp_ns);
    if (auto r = (*pipeline)->process(batch, source.interned()); !r) {
      error = r.error();
      break;
    }
    progress.update(source.bytes_read(), events);
  }
  if (stop.load() != 0) {
    std::fprintf(stderr,
                 "%s: %s: stopped by %s after %llu events, before the end of the tape; no "
                 "outputs written\n",
                 name, path.c_str(), stop.load() == SIGINT ? "SIGINT" : "SIGTERM",
                 static_cast<unsigned long long>(events));
    return kExitFailure;
  }
  if (!error) {
    if (auto r = (*pipeline)->finish(source.interned()); !r) error = r.error();
  }
  if (error) {
    std::fprintf(stderr, "%s: %s: %s\n", name, path.c_str(), error->message().c_str());
    return kExitFailure;
  }

  const auto& reader = source.reader();
  const auto& md = reader.metadata();
  Symbolizer symbolizer(reader.symbols(), reader.mappings());
  const auto& warnings = reader.warnings();
  RunFacts facts;
  facts.recording = RecordingInfo{"tape " + path, md.hostname, md.kernel_release, md.recording_id};
  facts.pipeline = (*pipeline)->stats();
  facts.interned = &source.interned();
  facts.processes = &source.processes();
  facts.symbolizer = &symbolizer;
  facts.warnings = warnings;
  facts.clock = source.clock();
  facts.first_event_ns = source.first_event_ns().value_or(0);
  facts.last_event_ns = last_event_ns;
  facts.sample_hz = md.config.sample_rate;
  int status = emit_outputs(name, *request, tracers, facts);
  for (const auto& w : warnings) std::fprintf(stderr, "%s: warning: %s\n", name, w.c_str());
  if (!warnings.empty() && parsed->has("strict")) {
    std::fprintf(stderr, "%s: --strict: the tape is incomplete\n", name);
    status = kExitFailure;
  }
  return status;
}

}  // namespace

int run_replay(const Args& args) { return run(args, /*convert=*/false); }
int run_convert(const Args& args) { return run(args, /*convert=*/true); }

}  // namespace bpftape::cli
