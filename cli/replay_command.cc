// `bpftape replay TAPE`: the tape through the same pipeline and tracers as the live recording,
// then the report and the requested outputs. `bpftape convert TAPE` writes the outputs only.
// Same tape + same flags -> byte-identical outputs (whatever --threads).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/event_selection.h"
#include "cli/otlp_options.h"
#include "core/sha256.h"
#include "core/pipeline.h"
#include "core/report/folded.h"
#include "core/report/report.h"
#include "core/report/trace_json.h"
#include "replayer/file_source.h"

namespace bpftape::cli {
namespace {

using namespace otlp::ebpf;

// "max", "1x", "10x", "0.5x"
Result<double> parse_speed(std::string_view text) {
  if (text == "max") return 0.0;
  if (!text.ends_with("x")) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("--speed: '{}' is not max or a factor like 1x, 10x, 0.5x", text));
  }
  return parse_double("speed", text.substr(0, text.size() - 1), 1e-3, 1e6);
}

Result<void> write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return errno_error(ErrorKind::Io, "open " + path, errno);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return errno_error(ErrorKind::Io, "write " + path, errno);
  return {};
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
  if (!convert) {
    parser.flag("json", 0, "print the report as one JSON object")
        .option("top", 0, "N", "rows per report table (default 10)");
  }
  parser.option("folded", 0, "FILE", "write CPU stacks in folded format (flamegraph.pl input)")
      .option("trace-json", 0, "FILE", "write Chrome trace-event JSON (Perfetto UI, chrome://tracing)")
      .option("threads", 0, "N", "frame decode threads (default 2; results do not depend on it)")
      .option("speed", 0, "S", "max (default) or a factor of recorded time: 1x, 10x, 0.5x")
      .option("reorder-window", 0, "D", "how far apart CPUs' events may arrive and still be put in "
                                        "order (default 100ms, as when recording)")
      .flag("digest", 0, "print one SHA-256 over every result (report JSON and output files)")
      .flag("strict", 0, "treat a truncated tape as an error (exit 1) instead of a warning")
      .flag("no-progress", 0, "no progress line on a terminal");
  add_otlp_options(parser);
  EventSelection::add_options(parser);
  parser.epilog("exit status: 0 ok (a truncated tape is a warning unless --strict), 1 unreadable or "
                "corrupt tape or an output failed, 2 bad usage");
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
  auto otlp_output = otlp_output_from(*parsed);
  if (!otlp_output) return usage(otlp_output.error().message());
  if (convert && !parsed->has("folded") && !parsed->has("trace-json") && !wants_otlp(*otlp_output)) {
    return usage("nothing to write: give --folded, --trace-json, --pprof, --otlp-file or --otlp-endpoint");
  }
  auto selection = EventSelection::from(*parsed);
  if (!selection) return usage(selection.error().message());
  replay::FileSourceOptions source_options;
  source_options.since_ns = selection->since_ns;
  source_options.until_ns = selection->until_ns;
  size_t top = 10;
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
  if (auto v = parsed->get("top")) {
    auto n = parse_uint("top", *v, 1, 100000);
    if (!n) return usage(n.error().message());
    top = *n;
  }

  const std::string& path = parsed->positionals()[0];
  auto opened = replay::FileSource::open(path, source_options);
  if (!opened) {
    std::fprintf(stderr, "%s: %s: %s\n", name, path.c_str(), opened.error().message().c_str());
    return kExitFailure;
  }
  replay::FileSource& source = **opened;

  SyscallAggregator syscalls;
  NetworkAggregator network;
  MemoryAggregator memory;
  CpuAggregator cpu;
  std::unique_ptr<TraceJsonWriter> trace;
  if (auto file = parsed->get("trace-json")) {
    auto w = TraceJsonWriter::open(*file);
    if (!w) {
      std::fprintf(stderr, "%s: %s\n", name, w.error().message().c_str());
      return kExitFailure;
    }
    trace = std::move(*w);
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
  for (Aggregator* a : std::initializer_list<Aggregator*>{&syscalls, &network, &memory, &cpu}) {
    (*pipeline)->add_aggregator(*a);
  }
  if (trace) (*pipeline)->add_aggregator(*trace);

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
    if (!*more) break;
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
  if (!error) {
    if (auto r = (*pipeline)->finish(source.interned()); !r) error = r.error();
  }
  if (error) {
    std::fprintf(stderr, "%s: %s: %s\n", name, path.c_str(), error->message().c_str());
    return kExitFailure;
  }

  const auto& reader = source.reader();
  Symbolizer symbolizer(reader.symbols(), reader.mappings());
  int status = kExitOk;
  if (auto file = parsed->get("folded")) {
    if (auto r = write_file(*file, render_folded(cpu, source.interned(), source.processes(), symbolizer)); !r) {
      std::fprintf(stderr, "%s: %s\n", name, r.error().message().c_str());
      status = kExitFailure;
    }
  }
  if (trace) {
    if (auto r = trace->finish(&network, source.processes()); !r) {
      std::fprintf(stderr, "%s: %s\n", name, r.error().message().c_str());
      status = kExitFailure;
    }
  }
  if (wants_otlp(*otlp_output)) {
    const auto& md = reader.metadata();
    otlp_output->resource.host_name = md.hostname;
    otlp_output->profile.sample_hz = md.config.sample_rate;
    otlp_output->profile.symbolizer = [&symbolizer](uint32_t pid, uint64_t address,
                                                   bool) -> std::optional<ResolvedFrame> {
      Frame f = symbolizer.resolve(pid, address);
      if (!f.symbolized) return std::nullopt;  // the converter keeps the address
      return ResolvedFrame{f.function, f.module, 0};
    };
    RecordingContext recording{md.recording_id, source.clock(), source.first_event_ns().value_or(0),
                               last_event_ns};
    AggregatorResults results{&source.processes(), &network, &syscalls, &memory, &cpu};
    auto exported = export_results(*otlp_output, recording, results, &source.interned());
    if (!exported) {
      std::fprintf(stderr, "%s: otlp: %s\n", name, exported.error().message().c_str());
      status = kExitFailure;
    } else {
      std::fprintf(stderr, "%s: %s\n", name, describe_export(*otlp_output, *exported).c_str());
      if (exported->exporter.requests_failed || exported->exporter.dropped_requests) status = kExitFailure;
    }
  }
  const auto& warnings = reader.warnings();
  ReportInputs inputs;
  {
    const auto& md = reader.metadata();
    inputs.recording = RecordingInfo{"tape " + path, md.hostname, md.kernel_release, md.recording_id};
    inputs.pipeline = (*pipeline)->stats();
    inputs.syscalls = &syscalls;
    inputs.network = &network;
    inputs.memory = &memory;
    inputs.cpu = &cpu;
    inputs.interned = &source.interned();
    inputs.processes = &source.processes();
    inputs.symbolizer = &symbolizer;
    inputs.warnings = warnings;
    inputs.top = top;
  }
  std::string report_json = render_report_json(inputs);
  if (!convert) {
    std::string out = parsed->has("json") ? report_json : render_report_text(inputs);
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  if (parsed->has("digest")) {
    // One hash over everything this run produced, in a fixed order; file contents, not names.
    Sha256 digest;
    ReportInputs placeless = inputs;  // the digest must not depend on where the tape lies
    placeless.recording.source = "tape";
    digest.update(render_report_json(placeless));
    for (const char* option : {"folded", "trace-json", "pprof", "otlp-file"}) {
      auto file = parsed->get(option);
      if (!file) continue;
      std::ifstream in(*file, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      digest.update(option);
      digest.update_u64(bytes.size());
      digest.update(bytes);
    }
    std::printf("digest: sha256:%s\n", Sha256::hex(digest.finish()).c_str());
  }
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
