#include "simulator/sim_options.h"

#include <array>

#include <fmt/format.h>

#include "simulator/rng.h"

namespace bpftape::sim {
namespace {

using otlp::ebpf::ErrorKind;
using otlp::ebpf::make_error;

struct Named {
  std::string_view name;
  uint32_t bit;
};

constexpr std::array<Named, 5> kWorkloadNames{{{"web", kWebServer},
                                               {"fileio", kFileIo},
                                               {"leak", kLeakyAllocator},
                                               {"cpu", kCpuBound},
                                               {"forkexec", kForkExec}}};
constexpr std::array<Named, 7> kFaultNames{{{"overflow", kRingOverflow},
                                            {"reorder", kReorder},
                                            {"skew", kClockSkew},
                                            {"pidreuse", kPidReuse},
                                            {"burst", kBurst},
                                            {"truncate", kTapeTruncate},
                                            {"corrupt", kTapeCorrupt}}};

template <size_t N>
otlp::ebpf::Result<uint32_t> parse_set(std::string_view text, const std::array<Named, N>& names,
                                       uint32_t all, std::string_view what,
                                       std::string_view all_word) {
  if (text == "all" || text == all_word) return all;
  if (text == "none") return 0u;
  uint32_t bits = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma == std::string_view::npos ? text.npos
                                                                                : comma - start);
    bool found = false;
    for (const auto& n : names) {
      if (n.name == item) {
        bits |= n.bit;
        found = true;
      }
    }
    if (!found) {
      std::string valid;
      for (const auto& n : names) valid += std::string(valid.empty() ? "" : ", ") + std::string(n.name);
      return make_error(ErrorKind::ConfigError,
                        fmt::format("unknown {} '{}': use {}, all or none", what, item, valid));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return bits;
}

template <size_t N>
std::string names_of(uint32_t bits, const std::array<Named, N>& names) {
  std::string out;
  for (const auto& n : names) {
    if (bits & n.bit) out += std::string(out.empty() ? "" : ",") + std::string(n.name);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

otlp::ebpf::Result<uint32_t> parse_workloads(std::string_view text) {
  return parse_set(text, kWorkloadNames, kAllWorkloads, "scenario", "mixed");
}

otlp::ebpf::Result<uint32_t> parse_faults(std::string_view text) {
  return parse_set(text, kFaultNames, kAllFaults, "fault", "all");
}

std::string workload_names(uint32_t workloads) { return names_of(workloads, kWorkloadNames); }
std::string fault_names(uint32_t faults) { return names_of(faults, kFaultNames); }

uint64_t SimOptions::reorder_window_ns() const {
  // Covers one poll of cross-CPU skew, a CPU's skew step and jitter; deferrals beyond the
  // window are what the reorder fault injects on purpose.
  uint64_t window = 2 * poll_interval_ns;
  if (faults & kClockSkew) {
    window += static_cast<uint64_t>(skew_step_ns < 0 ? -skew_step_ns : skew_step_ns) +
              2 * skew_jitter_ns +
              static_cast<uint64_t>(skew_drift_ppm * 1e-6 * static_cast<double>(duration_ns));
  }
  return window;
}

otlp::ebpf::Result<void> SimOptions::finalize() {
  if (swarm) {
    // Swarm testing: each seed enables a random subset of fault classes at random rates.
    Rng rng(seed, "swarm");
    faults = static_cast<uint32_t>(rng.below(kTransportFaults + 1));
    overflow_ring_capacity = static_cast<uint32_t>(rng.between(64, 4096));
    reorder_defer_probability = 0.01 + rng.uniform() * 0.2;
    reorder_max_defer_polls = static_cast<uint32_t>(rng.between(1, 10));
    skew_step_ns = static_cast<int64_t>(rng.between(0, 2'000'000)) - 1'000'000;
    skew_drift_ppm = rng.uniform() * 200;
    skew_jitter_ns = rng.between(0, 20'000);
    pid_space = static_cast<uint32_t>(rng.between(8, 256));
    burst_probability = rng.uniform() * 0.1;
    burst_stall_ns = rng.between(10'000'000, 500'000'000);
    // Tape faults from a stream of their own: adding them left every seed's transport faults
    // as they were (kept regression seeds still mean the same run).
    Rng tape_rng(seed, "swarm/tape");
    faults |= static_cast<uint32_t>(tape_rng.below(4)) * kTapeTruncate;
  }
  auto bad = [](std::string what) { return make_error(ErrorKind::ConfigError, std::move(what)); };
  if (workloads == 0) return bad("no workload selected: use --scenario with at least one of web, fileio, leak, cpu, forkexec");
  if (cpus == 0 || cpus > 1024) return bad(fmt::format("cpus {} is out of range: use 1..1024", cpus));
  if (duration_ns == 0) return bad("duration must be more than 0");
  // Keeps every simulated timestamp (boot offset + duration + stalls and skews) far from 2^64.
  constexpr uint64_t kMaxDurationNs = 100ull * 24 * 3600 * 1'000'000'000;
  if (duration_ns > kMaxDurationNs) {
    return bad("duration is too long: use at most 100 days (2400h)");
  }
  if (poll_interval_ns == 0) return bad("poll interval must be more than 0");
  if (ring_capacity == 0 || overflow_ring_capacity == 0) return bad("ring capacity must be at least 1 event");
  if (web_workers == 0) return bad("web workers must be at least 1");
  if (pid_space < 4) return bad("pid space must be at least 4");
  for (double rate : {web_requests_per_s, fileio_ops_per_s, allocations_per_s, forks_per_s,
                      web_requests_per_connection, web_latency_median_us}) {
    if (!(rate > 0) || rate > 1e8) return bad(fmt::format("rate {} is out of range: use (0, 1e8]", rate));
  }
  if (sample_hz == 0 || sample_hz > 10000) return bad(fmt::format("sample rate {} Hz is out of range: use 1..10000", sample_hz));
  if (leak_probability < 0 || leak_probability > 1) return bad("leak probability must be in [0, 1]");
  return {};
}

std::string SimOptions::describe() const {
  std::string out;
  auto line = [&](std::string_view name, auto value) { out += fmt::format("  {} = {}\n", name, value); };
  line("seed", seed);
  line("scenario", workload_names(workloads));
  line("faults", fault_names(faults) + (swarm ? " (swarm)" : ""));
  line("duration_ns", duration_ns);
  line("cpus", cpus);
  line("web_requests_per_s", web_requests_per_s);
  line("web_requests_per_connection", web_requests_per_connection);
  line("web_latency_median_us", web_latency_median_us);
  line("web_workers", web_workers);
  line("fileio_ops_per_s", fileio_ops_per_s);
  line("allocations_per_s", allocations_per_s);
  line("leak_probability", leak_probability);
  line("sample_hz", sample_hz);
  line("forks_per_s", forks_per_s);
  line("ring_capacity", (faults & kRingOverflow) ? overflow_ring_capacity : ring_capacity);
  line("poll_interval_ns", poll_interval_ns);
  line("reorder_window_ns", reorder_window_ns());
  if (faults & kReorder) {
    line("reorder_defer_probability", reorder_defer_probability);
    line("reorder_max_defer_polls", reorder_max_defer_polls);
  }
  if (faults & kClockSkew) {
    line("skew_step_ns", skew_step_ns);
    line("skew_drift_ppm", skew_drift_ppm);
    line("skew_jitter_ns", skew_jitter_ns);
  }
  if (faults & kPidReuse) line("pid_space", pid_space);
  if (faults & kBurst) {
    line("burst_probability", burst_probability);
    line("burst_stall_ns", burst_stall_ns);
  }
  return out;
}

std::string SimOptions::reproduce_command() const {
  std::string cmd = fmt::format("bpftape simulate --seed {} --scenario {} --duration {}ns --cpus {}",
                                seed, workload_names(workloads), duration_ns, cpus);
  cmd += swarm ? " --faults swarm" : fmt::format(" --faults {}", fault_names(faults));
  return cmd + " --check";
}

}  // namespace bpftape::sim
