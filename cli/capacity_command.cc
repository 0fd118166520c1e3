// `bpftape simulate --from TAPE`: the capacity and overhead model (simulator/capacity_model.h).
// A recorded tape's arrival pattern through a model of the kernel -> user transport, once per
// ring size asked for: predicted drops, ring fill, delivery latency, BPF and consumer CPU.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/args.h"
#include "core/utf8.h"
#include "cli/commands.h"
#include "cli/event_selection.h"
#include "core/json_writer.h"
#include "core/report/report.h"
#include "replayer/file_source.h"
#include "simulator/capacity_model.h"

namespace bpftape::cli {
namespace {

using otlp::ebpf::Result;
namespace transport = otlp::ebpf::transport;

constexpr const char* kName = "bpftape simulate --from";
// Fewer recorded drains than this say too little about the consumer: use --wake-latency's value.
constexpr size_t kMinDrainSamples = 20;

ArgParser make_parser() {
  ArgParser parser(
      kName, "TAPE [--ring-size SIZE[,SIZE...]] [--sample-rate HZ] [selection...] [--json]",
      "Capacity model: replays a recorded tape's arrival pattern through a model of the kernel\n"
      "-> user transport (one ring buffer per tracer, the records' sizes, the recorder's wakeup\n"
      "policy, a consumer paced as the recorder's drain loop) and predicts, for the\n"
      "ring sizes, sample rate and filters given, how many records each ring drops, how full it\n"
      "gets, the delivery latency, and the CPU the BPF programs (the tape's own BPF stats,\n"
      "scaled) and the recorder would use. Size a production config before deploying it.\n"
      "Predictions from a tape that already lost records are lower bounds: the lost records'\n"
      "arrivals are not in it. See docs/simulator.md.");
  parser.positionals(1, "TAPE          a recording (`bpftape record`)");
  parser.option("from", 0, "TAPE", "the recording to model (same as the positional TAPE)")
      .option("ring-size", 0, "SIZE[,SIZE...]",
              "ring buffer per tracer, as `record --ring-size` (power of two >= 4K); a list "
              "predicts each (default: the recorder's per-tracer sizes)")
      .option("sample-rate", 'F', "HZ", "CPU sampling rate to model (default: as recorded)")
      .option("tick", 0, "D", "the consumer's period while records stream (default 50us)")
      .option("lazy", 0, "D", "its period while records trickle, woken early only by a quarter-full ring (default 50ms)")
      .option("idle-timeout", 0, "D", "how long it sleeps at most when a record would wake it (default 100ms)")
      .option("wake-latency", 0, "D", "wakeup -> consumer draining (default: drawn from the tape's "
                                      "own drains, i.e. how long its batches waited; 20us for a tape "
                                      "with fewer than 20 drains)")
      .option("consumer-cost", 0, "NS", "recorder CPU per record in ns (default 250, measured here)")
      .option("drain-cost", 0, "NS", "recorder CPU per drain of the rings in ns, during which it "
                                     "does not drain (default 12000, measured here)")
      .flag("json", 0, "one JSON object on stdout");
  EventSelection::add_options(parser);
  parser.epilog("exit status: 0 ok, 1 unreadable tape, 2 bad usage");
  return parser;
}

Result<std::vector<uint64_t>> parse_ring_sizes(std::string_view text) {
  std::vector<uint64_t> sizes;
  for (size_t start = 0; start <= text.size();) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    BPFTAPE_ASSIGN_OR_RETURN(uint64_t size, parse_size("ring-size", text.substr(start, comma - start)));
    if (size < 4096 || (size & (size - 1)) != 0 || size > (1ull << 30)) {
      return otlp::ebpf::make_error(
          otlp::ebpf::ErrorKind::ConfigError,
          fmt::format("--ring-size: {} is not a power of two between 4K and 1G (as for record)", size));
    }
    sizes.push_back(size);
    start = comma + 1;
  }
  return sizes;
}

std::string percent(uint64_t part, uint64_t whole) {
  return whole ? fmt::format("{:.2f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole))
               : std::string("-");
}

std::string micros(uint64_t ns) { return fmt::format("{:.0f} us", static_cast<double>(ns) / 1e3); }

// "20 us", or for drawn latencies "drawn from 412 drains (p50 31 us, p99 640 us)".
std::string describe_wake_latency(const sim::TransportModel& m) {
  if (m.wake_latencies_ns.empty()) return micros(m.wake_latency_ns);
  std::vector<uint64_t> sorted = m.wake_latencies_ns;
  std::sort(sorted.begin(), sorted.end());
  auto at = [&](double q) { return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))]; };
  return fmt::format("drawn from the tape's {} drains (p50 {}, p99 {})", sorted.size(),
                     micros(at(0.5)), micros(at(0.99)));
}

struct Run {
  std::string label;  // "ring 64 KiB" or "default rings"
  sim::TransportModel model;
  sim::CapacityPrediction prediction;
};

void print_text(const std::string& path, uint64_t recorded_lost,
                const sim::ArrivalPattern& pattern, const std::vector<Run>& runs) {
  const auto& m = runs.front().model;
  std::printf("capacity model: %s (%.3f s of arrivals, %llu records; the tape lost %llu)\n",
              otlp::ebpf::terminal_safe(path).c_str(),
              static_cast<double>(pattern.last_ns() - pattern.first_ns()) / 1e9,
              static_cast<unsigned long long>(pattern.arrivals().size()),
              static_cast<unsigned long long>(recorded_lost));
  std::printf("consumer: tick %s while streaming, %s while lazy, idle timeout %s, "
              "%llu ns/record + %llu ns/drain; wake latency %s\n",
              micros(m.pacing.tick_ns).c_str(), micros(m.pacing.lazy_ns).c_str(),
              micros(m.pacing.idle_timeout_ns).c_str(),
              static_cast<unsigned long long>(m.consumer_ns_per_record),
              static_cast<unsigned long long>(m.consumer_ns_per_drain), describe_wake_latency(m).c_str());
  if (!pattern.has_bpf_costs()) {
    std::printf("BPF cost: the tape has no BPF run-time stats (simulated, or kernel.bpf_stats "
                "unavailable when recorded)\n");
  }
  if (recorded_lost) {
    std::printf("warning: the tape lost %llu records; their arrivals are missing, so predicted "
                "drops are lower bounds\n",
                static_cast<unsigned long long>(recorded_lost));
  }
  for (const auto& run : runs) {
    const auto& p = run.prediction;
    std::printf("\n%s: %llu of %llu records dropped (%s); delivery p50 %s, p99 %s; BPF %.2f%%, "
                "recorder %.2f%% of one CPU\n",
                run.label.c_str(), static_cast<unsigned long long>(p.dropped),
                static_cast<unsigned long long>(p.offered), percent(p.dropped, p.offered).c_str(),
                micros(p.delivery.percentile(0.5)).c_str(), micros(p.delivery.percentile(0.99)).c_str(),
                100 * p.bpf_cpu_share(), 100 * p.consumer_cpu_share());
    std::printf("  %-8s %12s %12s %9s %12s %10s\n", "ring", "size", "records", "dropped", "peak fill",
                "BPF CPU");
    for (size_t r = 0; r < transport::kRingCount; ++r) {
      const auto& ring = p.rings[r];
      if (ring.offered == 0) continue;
      std::printf("  %-8s %12s %12llu %9llu %12s %9.2f%%\n",
                  std::string(transport::ring_name(static_cast<transport::Ring>(r))).c_str(),
                  otlp::ebpf::format_bytes(ring.capacity_bytes).c_str(),
                  static_cast<unsigned long long>(ring.offered),
                  static_cast<unsigned long long>(ring.dropped),
                  percent(ring.peak_bytes, ring.capacity_bytes).c_str(),
                  p.duration_ns ? 100 * ring.bpf_ns / static_cast<double>(p.duration_ns) : 0.0);
    }
  }
}

void print_json(const std::string& path, uint64_t recorded_lost, const sim::ArrivalPattern& pattern,
                const std::vector<Run>& runs) {
  std::string out;
  otlp::ebpf::JsonWriter w(&out);
  w.begin_object()
      .field("tape", path)
      .field("arrival_ns", pattern.last_ns() - pattern.first_ns())
      .field("records", static_cast<uint64_t>(pattern.arrivals().size()))
      .field("recorded_lost", recorded_lost)
      .field("bpf_stats", pattern.has_bpf_costs());
  w.key("predictions").begin_array();
  for (const auto& run : runs) {
    const auto& p = run.prediction;
    const auto& m = run.model;
    w.begin_object()
        .field("label", run.label)
        .field("tick_ns", m.pacing.tick_ns)
        .field("lazy_ns", m.pacing.lazy_ns)
        .field("idle_timeout_ns", m.pacing.idle_timeout_ns)
        .field("wake_latency", describe_wake_latency(m))
        .field("consumer_ns_per_record", m.consumer_ns_per_record)
        .field("consumer_ns_per_drain", m.consumer_ns_per_drain)
        .field("offered", p.offered)
        .field("dropped", p.dropped)
        .field("bpf_wakeups", p.bpf_wakeups)
        .field("consumer_wakeups", p.consumer_wakeups)
        .field("streaming_drains", p.streaming_drains)
        .field("delivery_p50_ns", p.delivery.percentile(0.5))
        .field("delivery_p99_ns", p.delivery.percentile(0.99))
        .field("bpf_cpu_share", p.bpf_cpu_share())
        .field("consumer_cpu_share", p.consumer_cpu_share());
    w.key("rings").begin_array();
    for (size_t r = 0; r < transport::kRingCount; ++r) {
      const auto& ring = p.rings[r];
      if (ring.offered == 0) continue;
      w.begin_object()
          .field("ring", transport::ring_name(static_cast<transport::Ring>(r)))
          .field("capacity_bytes", ring.capacity_bytes)
          .field("offered", ring.offered)
          .field("dropped", ring.dropped)
          .field("peak_bytes", ring.peak_bytes)
          .field("bpf_ns", ring.bpf_ns)
          .end_object();
    }
    w.end_array().end_object();
  }
  w.end_array().end_object();
  std::printf("%s\n", out.c_str());
}

}  // namespace

int run_capacity(const Args& args) {
  ArgParser parser = make_parser();
  // `--from --help` would read "--help" as the tape: help wins wherever it appears.
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::fputs(parser.help_text().c_str(), stdout);
      return kExitOk;
    }
  }
  auto parsed = parse_or_exit(parser, args);
  if (!parsed) return parsed.error();
  auto usage = [](const std::string& message) {
    std::fprintf(stderr, "%s: %s (see 'bpftape simulate --from --help')\n", kName, message.c_str());
    return kExitUsage;
  };
  std::string path;
  if (auto v = parsed->get("from")) path = *v;
  if (!parsed->positionals().empty()) {
    if (!path.empty()) return usage("give the tape once: --from TAPE");
    path = parsed->positionals()[0];
  }
  if (path.empty()) return usage("missing TAPE");

  sim::TransportModel base;
  auto duration = [&](const char* name, uint64_t& into) -> bool {
    auto v = parsed->get(name);
    if (!v) return true;
    auto d = parse_duration_ns(name, *v);
    if (!d) return false;
    into = *d;
    return true;
  };
  for (auto [name, field] : {std::pair{"tick", &base.pacing.tick_ns},
                             std::pair{"lazy", &base.pacing.lazy_ns},
                             std::pair{"idle-timeout", &base.pacing.idle_timeout_ns},
                             std::pair{"wake-latency", &base.wake_latency_ns}}) {
    if (!duration(name, *field)) {
      return usage(parse_duration_ns(name, *parsed->get(name)).error().message());
    }
  }
  // At most an hour: the model doubles and adds these periods (ConsumerPacing's lazy period
  // doubles up to --lazy), which must stay far from 2^64.
  constexpr uint64_t kMaxPeriodNs = 3'600'000'000'000;
  for (auto [name, value] : {std::pair{"--tick", base.pacing.tick_ns},
                             std::pair{"--lazy", base.pacing.lazy_ns},
                             std::pair{"--idle-timeout", base.pacing.idle_timeout_ns},
                             std::pair{"--wake-latency", base.wake_latency_ns}}) {
    if (value == 0 && std::string_view(name) != "--wake-latency") {
      return usage(fmt::format("{} must be > 0", name));
    }
    if (value > kMaxPeriodNs) return usage(fmt::format("{} must be at most 1h", name));
  }
  if (auto v = parsed->get("consumer-cost")) {
    auto n = parse_uint("consumer-cost", *v, 1, 1'000'000'000);
    if (!n) return usage(n.error().message());
    base.consumer_ns_per_record = *n;
  }
  if (auto v = parsed->get("drain-cost")) {
    auto n = parse_uint("drain-cost", *v, 0, 1'000'000'000);
    if (!n) return usage(n.error().message());
    base.consumer_ns_per_drain = *n;
  }
  std::vector<uint64_t> ring_sizes;
  if (auto v = parsed->get("ring-size")) {
    auto sizes = parse_ring_sizes(*v);
    if (!sizes) return usage(sizes.error().message());
    ring_sizes = *sizes;
  }
  uint32_t sample_hz = 0;
  if (auto v = parsed->get("sample-rate")) {
    auto hz = parse_uint("sample-rate", *v, 1, otlp::ebpf::EbpfConfig::kMaxSampleRate);
    if (!hz) return usage(hz.error().message());
    sample_hz = static_cast<uint32_t>(*hz);
  }
  auto selection = EventSelection::from(*parsed);
  if (!selection) return usage(selection.error().message());

  replay::FileSourceOptions source_options;
  auto opened = replay::FileSource::open(path, source_options);
  if (!opened) {
    std::fprintf(stderr, "%s: %s: %s\n", kName, path.c_str(), opened.error().message().c_str());
    return kExitFailure;
  }
  replay::FileSource& source = **opened;
  const auto& md = source.reader().metadata();

  // Built at the first batch: the selection's times are offsets from the first event, as for
  // replay, and a tape without an index only knows it then.
  std::optional<sim::ArrivalPattern> pattern;
  otlp::ebpf::EventBatch batch;
  uint64_t recorded_lost = 0;
  for (;;) {
    auto more = source.next(batch);
    if (!more) {
      std::fprintf(stderr, "%s: %s: %s\n", kName, path.c_str(), more.error().message().c_str());
      return kExitFailure;
    }
    if (!*more) break;
    if (!pattern && source.first_event_ns()) {
      pattern.emplace(sim::ArrivalOptions{
          .recorded_sample_hz = md.config.enable_cpu_profiling ? md.config.sample_rate : 0,
          .sample_hz = sample_hz,
          .filter = selection->filter(*source.first_event_ns(), [&source](uint32_t pid) {
            const auto* p = source.processes().latest(pid);
            return p ? p->comm : std::string();
          })});
    }
    if (pattern) pattern->add_batch(batch);
    for (const auto& l : batch.losses) recorded_lost += l.count;
  }
  if (!pattern) {
    std::fprintf(stderr, "%s: %s: the tape has no events to model\n", kName, path.c_str());
    return kExitFailure;
  }
  for (const auto& w : source.reader().warnings()) {
    std::fprintf(stderr, "%s: warning: %s\n", kName, w.c_str());
  }
  if (const auto& stats = source.reader().bpf_stats(); !stats.empty()) {
    for (const auto& program : stats.back().programs) pattern->add_program_cost(program.name, program.run_time_ns);
  }
  pattern->finish();

  // The consumer's reaction time: measured by the recording itself unless given.
  if (!parsed->has("wake-latency") && pattern->drain_spans().size() >= kMinDrainSamples) {
    base.wake_latencies_ns = pattern->drain_spans();
  }
  std::vector<Run> runs;
  if (ring_sizes.empty()) {
    runs.push_back(Run{"default rings", base, {}});
  }
  for (uint64_t size : ring_sizes) {
    Run run{fmt::format("ring {}", otlp::ebpf::format_bytes(size)), base, {}};
    run.model.ring_bytes.fill(size);
    runs.push_back(std::move(run));
  }
  for (auto& run : runs) run.prediction = sim::predict(*pattern, run.model);

  if (parsed->has("json")) {
    print_json(path, recorded_lost, *pattern, runs);
  } else {
    print_text(path, recorded_lost, *pattern, runs);
  }
  return kExitOk;
}

}  // namespace bpftape::cli
