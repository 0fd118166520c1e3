// `bpftape simulate`: seeded workloads and faults on a virtual clock, run through the same
// pipeline as a recording; --check compares every result with the ground truth.
#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <cstdio>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/pipeline.h"
#include "core/tape/writer.h"
#include "simulator/check.h"
#include "simulator/sim_source.h"
#include "simulator/sim_tape.h"

namespace bpftape::cli {
namespace {

using otlp::ebpf::Result;

ArgParser make_parser() {
  ArgParser parser(
      "bpftape simulate", "[--seed N] [--scenario LIST] [--faults LIST] [--duration D] [--check]",
      "Runs seeded workload models on a virtual clock and feeds their events through the same\n"
      "pipeline as a live recording or a tape. One seed decides everything: the same seed and\n"
      "flags give the same events on every run. Faults are injected the way the kernel shows\n"
      "them (ring overflow -> loss records, late CPU drains, clock skew, pid reuse, consumer\n"
      "stalls). With --check, every pipeline result is compared with the ground truth and a\n"
      "failure prints the seed and the command that reproduces it.");
  parser.option("seed", 0, "N", "the seed (default 1)")
      .option("scenario", 0, "LIST",
              "workloads: web, fileio, leak, cpu, forkexec, comma-separated, or mixed "
              "(default mixed)")
      .option("faults", 0, "LIST",
              "overflow, reorder, skew, pidreuse, burst (the kernel -> user path), truncate, "
              "corrupt (the tape: -o writes it damaged, --check also checks what a reader "
              "recovers), comma-separated; all; none (default); or swarm (the seed picks "
              "classes and rates)")
      .option("duration", 0, "D", "virtual time to simulate, e.g. 10s, 500ms, 1h (default 10s)")
      .option("cpus", 0, "N", "simulated CPUs (default 4)")
      .option("web-rps", 0, "N", "web requests per second (default 2000)")
      .option("fileio-ops", 0, "N", "file I/O syscalls per second (default 1000)")
      .option("alloc-rate", 0, "N", "allocations per second (default 20000)")
      .option("fork-rate", 0, "N", "forks per second (default 100)")
      .option("sample-rate", 0, "HZ", "CPU samples per second per CPU (default 99)")
      .option("leak-probability", 0, "P", "share of the leaking call site's blocks never freed (default 0.02)")
      .option("ring-capacity", 0, "N", "events per per-CPU ring buffer (default 65536)")
      .option("poll-interval", 0, "D", "how often the consumer drains the rings (default 10ms)")
      .option("output", 'o', "FILE", "write the simulated stream to a tape, as a recording would")
      .flag("force", 'f', "overwrite FILE if it exists")
      .option("frame-bytes", 0, "N", "tape frame size (default 1 MiB); results must not depend on it")
      .flag("check", 0, "compare every pipeline result with the ground truth; exit 1 on any difference")
      .flag("quiet", 'q', "print only failures and the final line")
      .epilog("bpftape simulate --from TAPE [...]: the capacity model instead: predicted drops and\n"
              "overhead of a recording for other ring sizes, sample rates and filters (its own\n"
              "flags: 'bpftape simulate --from TAPE --help')\n"
              "exit status: 0 ok, 1 a --check oracle disagreed, 2 bad usage");
  return parser;
}

Result<sim::SimOptions> options_from(const ParsedArgs& args) {
  sim::SimOptions o;
  if (auto v = args.get("seed")) {
    BPFTAPE_ASSIGN_OR_RETURN(o.seed, parse_uint("seed", *v, 0, UINT64_MAX));
  }
  if (auto v = args.get("scenario")) {
    BPFTAPE_ASSIGN_OR_RETURN(o.workloads, sim::parse_workloads(*v));
  }
  if (auto v = args.get("faults")) {
    if (*v == "swarm") {
      o.swarm = true;
    } else {
      BPFTAPE_ASSIGN_OR_RETURN(o.faults, sim::parse_faults(*v));
    }
  }
  if (auto v = args.get("duration")) {
    BPFTAPE_ASSIGN_OR_RETURN(o.duration_ns, parse_duration_ns("duration", *v));
  }
  if (auto v = args.get("cpus")) {
    BPFTAPE_ASSIGN_OR_RETURN(uint64_t cpus, parse_uint("cpus", *v, 1, 1024));
    o.cpus = static_cast<uint32_t>(cpus);
  }
  if (auto v = args.get("web-rps")) {
    BPFTAPE_ASSIGN_OR_RETURN(o.web_requests_per_s, parse_double("web-rps", *v, 1e-3, 1e8));
  }
  if (auto v = args.get("fileio-ops")) {
    BPFTAPE_ASSIGN_OR_RETURN(o.fileio_ops_per_s, parse_double("fileio-ops", *v, 1e-3, 1e8));
  }
  if (auto v = args.get("alloc-rate")) {
    BPFTAPE_ASSIGN_OR_RETURN(o.allocations_per_s, parse_double("alloc-rate", *v, 1e-3, 1e8));
  }
  if (auto v = args.get("fork-rate")) {
    BPFTAPE_ASSIGN_OR_RETURN(o.forks_per_s, parse_double("fork-rate", *v, 1e-3, 1e8));
  }
  if (auto v = args.get("leak-probability")) {
    BPFTAPE_ASSIGN_OR_RETURN(o.leak_probability, parse_double("leak-probability", *v, 0, 1));
  }
  if (auto v = args.get("sample-rate")) {
    BPFTAPE_ASSIGN_OR_RETURN(uint64_t hz, parse_uint("sample-rate", *v, 1, 10000));
    o.sample_hz = static_cast<uint32_t>(hz);
  }
  if (auto v = args.get("ring-capacity")) {
    BPFTAPE_ASSIGN_OR_RETURN(uint64_t cap, parse_uint("ring-capacity", *v, 1, 1u << 30));
    o.ring_capacity = static_cast<uint32_t>(cap);
  }
  if (auto v = args.get("poll-interval")) {
    BPFTAPE_ASSIGN_OR_RETURN(o.poll_interval_ns, parse_duration_ns("poll-interval", *v));
  }
  BPFTAPE_RETURN_IF_ERROR(o.finalize());
  return o;
}

// Without --check: generate and count (the simulator's own throughput), and write the tape.
int run_generate(const sim::SimOptions& options, const std::optional<std::string>& output,
                 bool force, uint32_t frame_bytes) {
  auto started = std::chrono::steady_clock::now();
  sim::SimSource source(options, nullptr);
  uint64_t events = 0, lost = 0;
  if (output) {
    // Into memory first when the tape faults will damage it; else straight to the file.
    std::vector<uint8_t> bytes;
    const bool damaged = (options.faults & sim::kTapeFaults) != 0;
    otlp::ebpf::tape::WriterOptions writer_options;
    writer_options.overwrite = force;
    if (frame_bytes) writer_options.frame_bytes = frame_bytes;
    auto fail = [&](const otlp::ebpf::EbpfError& e) {
      std::fprintf(stderr, "bpftape simulate: %s: %s\n", output->c_str(), e.message().c_str());
      return kExitFailure;
    };
    // The file is created first, so that a bad path fails before the work; it appears at its
    // name only once complete.
    otlp::ebpf::OutputFileOptions file_options;
    file_options.overwrite = force;
    auto file = otlp::ebpf::tape::open_file_sink(*output, file_options);
    if (!file) return fail(file.error());
    std::unique_ptr<otlp::ebpf::tape::ByteSink> sink;
    if (damaged) {
      sink = std::make_unique<otlp::ebpf::tape::MemorySink>(&bytes);
    } else {
      sink = std::move(*file);
      writer_options.defer_publish = true;
    }
    auto writer = otlp::ebpf::tape::TapeWriter::create(std::move(sink), sim::sim_tape_metadata(source),
                                                       source.interned(), writer_options);
    if (!writer) return fail(writer.error());
    auto written = sim::write_sim_tape(source, **writer);
    if (!written) return fail(written.error());
    if (auto r = (*writer)->close(); !r) return fail(r.error());
    events = written->events;
    lost = written->lost;
    if (damaged) {
      const sim::TapeDamage damage = sim::damage_tape(options, bytes);
      if (auto r = (*file)->write(bytes); !r) return fail(r.error());
      if (auto r = (*file)->close(); !r) return fail(r.error());
      std::printf("tape faults: %s\n", damage.describe().c_str());
    }
  } else {
    otlp::ebpf::EventBatch batch;
    for (;;) {
      auto more = source.next(batch);
      if (!more || !*more) break;
      events += batch.events.size();
      for (const auto& l : batch.losses) lost += l.count;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto& s = source.world().stats();
  std::printf("generated %llu events (%llu delivered, %llu lost in rings) in %.3f s: %.2f M events/s, "
              "virtual/real time %.0fx\n",
              static_cast<unsigned long long>(s.emitted), static_cast<unsigned long long>(events),
              static_cast<unsigned long long>(lost), seconds, s.emitted / seconds / 1e6,
              options.duration_ns / 1e9 / seconds);
  return kExitOk;
}

}  // namespace

int run_simulate(const Args& args) {
  for (const auto& arg : args) {
    if (arg == "--from" || arg.starts_with("--from=")) return run_capacity(args);
  }
  ArgParser parser = make_parser();
  auto parsed = parse_or_exit(parser, args);
  if (!parsed) return parsed.error();
  auto options = options_from(*parsed);
  if (!options) {
    std::fprintf(stderr, "bpftape simulate: %s\n", options.error().message().c_str());
    return kExitUsage;
  }
  bool quiet = parsed->has("quiet");
  if (!quiet) std::printf("bpftape simulate\n%s", options->describe().c_str());
  uint32_t frame_bytes = 0;
  if (auto v = parsed->get("frame-bytes")) {
    auto n = parse_uint("frame-bytes", *v, 4096, 16u << 20);
    if (!n) {
      std::fprintf(stderr, "bpftape simulate: %s\n", n.error().message().c_str());
      return kExitUsage;
    }
    frame_bytes = static_cast<uint32_t>(*n);
  }
  if (!parsed->has("check")) {
    return run_generate(*options, parsed->get("output"), parsed->has("force"), frame_bytes);
  }
  if (parsed->has("output")) {
    std::fprintf(stderr, "bpftape simulate: use --check or -o, not both (check a tape with 'bpftape replay')\n");
    return kExitUsage;
  }

  sim::CheckReport report = sim::run_check(*options);
  std::fputs(report.summary().c_str(), report.ok() ? stdout : stderr);
  if (!report.ok()) {
    std::fprintf(stderr, "check FAILED for seed %llu; reproduce with:\n  %s\n",
                 static_cast<unsigned long long>(options->seed),
                 options->reproduce_command().c_str());
    return kExitFailure;
  }
  std::printf("check passed: every pipeline result matches the ground truth\n");
  return kExitOk;
}

}  // namespace bpftape::cli
