#include "recorder/recorder.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/report/report.h"

namespace bpftape::record {

using namespace otlp::ebpf;

namespace {

using Clock = std::chrono::steady_clock;

uint64_t ns_since(Clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

struct ResourceUsage {
  uint64_t cpu_ns = 0;  // user + system
  uint64_t peak_rss_bytes = 0;
};

ResourceUsage resource_usage() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return {};
  auto ns = [](const timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(tv.tv_usec) * 1000ull;
  };
  return {ns(usage.ru_utime) + ns(usage.ru_stime), static_cast<uint64_t>(usage.ru_maxrss) * 1024};
}

std::string read_first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

RecordSummary run_recording(LiveSource& source, TapeSink* tape, PipelineSink* pipeline,
                            const RecordLoopOptions& options) {
  RecordSummary summary;
  const auto start = Clock::now();
  const ResourceUsage at_start = resource_usage();
  auto last_flush = start;
  auto last_stats = start;
  auto last_progress = start;
  auto last_export = start;
  auto last_check = start;
  constexpr auto kCheckInterval = std::chrono::milliseconds(5);
  uint64_t events_at_last_progress = 0;
  auto due = [](Clock::time_point now, Clock::time_point& last, uint64_t interval_ns) {
    if (now - last < std::chrono::nanoseconds(interval_ns)) return false;
    last = now;
    return true;
  };
  Delivery delivery;

  // The tape first: a delivery it cuts (--max-size) reaches the pipeline cut; once it is full
  // nothing more reaches either, and the recording stops.
  auto deliver = [&]() -> Result<void> {
    if (tape) {
      if (tape->full()) return {};
      BPFTAPE_RETURN_IF_ERROR(tape->consume(delivery));
      if (tape->full()) {
        if (summary.stop_reason.empty()) summary.stop_reason = "max size reached";
        source.stop();
        if (delivery.batch.empty()) return {};
      }
    }
    if (pipeline) BPFTAPE_RETURN_IF_ERROR(pipeline->consume(delivery));
    return {};
  };

  auto loop = [&]() -> Result<void> {
    for (;;) {
      BPFTAPE_ASSIGN_OR_RETURN(bool more, source.next(delivery));
      if (!more) return {};
      BPFTAPE_RETURN_IF_ERROR(deliver());
      if (source.stopped()) continue;  // draining what is left

      // Under load next() returns every few tens of µs: the checks below (a waitpid, the
      // flush timer, progress) run every kCheckInterval, not per delivery.
      const auto now = Clock::now();
      if (now - last_check < kCheckInterval) continue;
      last_check = now;
      const uint64_t elapsed = ns_since(start);
      if (tape && due(now, last_flush, options.flush_interval_ns)) {
        BPFTAPE_RETURN_IF_ERROR(tape->flush());
      }
      if (tape && due(now, last_stats, options.bpf_stats_interval_ns)) {
        BPFTAPE_RETURN_IF_ERROR(tape->write_bpf_stats(source.bpf_stats()));
      }
      if (pipeline && pipeline->exports() && due(now, last_export, options.export_interval_ns)) {
        BPFTAPE_RETURN_IF_ERROR(pipeline->export_interval());
      }
      if (options.on_progress && now - last_progress >= std::chrono::seconds(1)) {
        const auto stats = source.stats();
        const double secs = std::chrono::duration<double>(now - last_progress).count();
        options.on_progress(RecordProgress{
            elapsed, stats.events, stats.lost,
            static_cast<double>(stats.events - events_at_last_progress) / secs,
            tape ? tape->bytes_written() : 0});
        last_progress = now;
        events_at_last_progress = stats.events;
      }
      std::string reason;
      if (options.duration_ns && elapsed >= *options.duration_ns) {
        reason = "duration reached";
      } else if (options.stop_requested) {
        reason = options.stop_requested();
      }
      if (!reason.empty()) {
        summary.stop_reason = reason;
        source.stop();
      }
    }
  };

  auto result = loop();
  if (!result) {
    summary.error = result.error();
    if (summary.stop_reason.empty()) summary.stop_reason = "error";
    source.stop();
  }
  // The tape's end, also after an error: a failed write leaves the writer failed (close
  // reports it again), anything else still closes the tape properly.
  if (tape) {
    auto closed = tape->close(source.bpf_stats());
    if (!closed && !summary.error) summary.error = closed.error();
    summary.tape_bytes = tape->bytes_written();
  }
  if (pipeline && !summary.error) {
    if (auto r = pipeline->finish(); !r) summary.error = r.error();
  }

  summary.elapsed_ns = ns_since(start);
  const auto stats = source.stats();
  summary.events = stats.events;
  summary.lost = stats.lost;
  summary.decode_errors = stats.decode_errors;
  summary.symbols = source.symbol_stats();
  for (const auto& p : source.uprobe_placements()) {
    summary.uprobe_placements.push_back(p.function + ": " + p.placement.description);
  }
  summary.bpf_stats_available = stats.bpf_stats_enabled;
  summary.bpf_stats_share = stats.bpf_stats_share;
  for (const auto& p : source.bpf_stats().programs) {
    summary.bpf_run_time_ns += p.run_time_ns;
    summary.bpf_run_count += p.run_count;
  }
  const auto& latency = source.delivery_latency();
  summary.latency_p50_ns = latency.percentile(0.50);
  summary.latency_p99_ns = latency.percentile(0.99);
  summary.latency_max_ns = latency.max();
  summary.drains = stats.drains;
  summary.sleeps = stats.sleeps;
  summary.wakeups = stats.wakeups;
  summary.placement_moves = stats.placement_moves;
  const ResourceUsage at_end = resource_usage();
  summary.setup_cpu_ns = at_start.cpu_ns;
  summary.recorder_cpu_ns = at_end.cpu_ns - at_start.cpu_ns;
  summary.peak_rss_bytes = at_end.peak_rss_bytes;
  return summary;
}

std::string RecordSummary::describe() const {
  const double secs = static_cast<double>(elapsed_ns) / 1e9;
  std::string out = fmt::format("recorded {} events in {} ({}), {} lost", events,
                                format_duration_ns(elapsed_ns), stop_reason, lost);
  if (tape_bytes) {
    out += fmt::format(", tape {} ({:.1f} B/event)", format_bytes(tape_bytes),
                       events ? static_cast<double>(tape_bytes) / static_cast<double>(events) : 0.0);
  }
  out += "\n";
  if (bpf_stats_available) {
    out += fmt::format("  BPF programs: {} CPU over {} runs ({:.2f}% of one CPU, {} per run){}\n",
                       format_duration_ns(bpf_run_time_ns), bpf_run_count,
                       secs > 0 ? 100.0 * static_cast<double>(bpf_run_time_ns) / 1e9 / secs : 0.0,
                       format_duration_ns(bpf_run_count ? bpf_run_time_ns / bpf_run_count : 0),
                       bpf_stats_share < 1.0
                           ? fmt::format(", scaled from the {:.1f}% of the time kernel BPF stats ran",
                                         100.0 * bpf_stats_share)
                           : "");
  } else {
    out += "  BPF programs: run time unknown (kernel BPF stats off, or they could not be enabled)\n";
  }
  out += fmt::format("  recorder: {} CPU ({:.2f}% of one CPU) after {} to set up, peak RSS {}\n",
                     format_duration_ns(recorder_cpu_ns),
                     secs > 0 ? 100.0 * static_cast<double>(recorder_cpu_ns) / 1e9 / secs : 0.0,
                     format_duration_ns(setup_cpu_ns), format_bytes(peak_rss_bytes));
  out += fmt::format("  delivery latency (kernel -> recorder): p50 {}, p99 {}, max {}\n",
                     format_duration_ns(latency_p50_ns), format_duration_ns(latency_p99_ns),
                     format_duration_ns(latency_max_ns));
  out += fmt::format("  drain loop: {} drains, {} of them asleep ({} woken by a record); moved off busy CPUs {} times\n",
                     drains, sleeps, wakeups, placement_moves);
  if (symbols.user_frames || symbols.kernel_frames) {
    out += fmt::format("  stack frames named: user {} of {}", symbols.user_named, symbols.user_frames);
    if (symbols.user_unmapped) out += fmt::format(" ({} in no mapping: process gone)", symbols.user_unmapped);
    out += fmt::format(", kernel {} of {}{}\n", symbols.kernel_named, symbols.kernel_frames,
                       symbols.kernel_frames && !symbols.kallsyms_available
                           ? " (/proc/kallsyms shows no addresses: kptr_restrict)" : "");
  }
  if (!uprobe_placements.empty()) {
    out += fmt::format("  memory probes: {}\n", fmt::join(uprobe_placements, "; "));
  }
  if (decode_errors) out += fmt::format("  {} malformed BPF records skipped\n", decode_errors);
  return out;
}

tape::TapeMetadata live_metadata(const LiveSource& source, const EbpfConfig& config,
                                 std::vector<std::string> command) {
  tape::TapeMetadata md;
  md.tool_version = BPFTAPE_VERSION;
  utsname u{};
  if (uname(&u) == 0) {
    md.hostname = u.nodename;
    md.kernel_release = u.release;
  }
  md.boot_id = read_first_line("/proc/sys/kernel/random/boot_id");
  md.cpu_count = static_cast<uint32_t>(sysconf(_SC_NPROCESSORS_ONLN));
  md.page_size = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  md.clock = source.clock();
  md.config = config;
  md.probes = source.probes();
  md.recording_id = source.recording_id();
  md.command = std::move(command);
  return md;
}

}  // namespace bpftape::record
