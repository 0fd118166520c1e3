// BpfStatsSampler: kernel BPF run-time stats (BPF_ENABLE_STATS), on only as much as they
// are affordable.
//
// Why: while the stats are on, every BPF program run reads the clock twice (sched_clock
// around the run, in __bpf_prog_run). On the development VM a clock read is ~120 ns, so the
// `dd` storm's 8 M program runs per 4 M syscalls cost ~2 s more: measuring the overhead cost
// about half of the overhead it measured. Turning them on or off is expensive too (a static
// key flip: text patching on every CPU, 11-17 ms of kernel time each here), so they cannot be
// toggled often. Policy, in a thread of its own so no flip ever stalls the drain loop:
//  - on, measuring the programs' run rate over each window (1 s);
//  - while that rate keeps the stats' cost under cost_budget of a CPU (at stats_ns_per_run per
//    run), they stay on (exact) and the next window is measured at once;
//  - once it does not, they go off until the next period (one window in every 10 s), and the
//    counters are scaled, as perf scales multiplexed counters: by the records their ring
//    delivered over those delivered while the stats ran (ProbeSet counts both; activity, not
//    time, is what a program's runs follow: a storm that fills 7 s of a recording whose
//    windows saw 0.5 s of it is scaled right), or by elapsed over measured time for programs
//    without a ring.
// The per-run average is exact either way; sampled totals are estimates (summary and tape say
// so). If the stats are already on when the recording starts (kernel.bpf_stats_enabled set by
// an administrator or another tool), the counters run anyway: full, scale 1.
// Modes: Auto (the policy above, default), Full (always on), Off.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>

#include "core/error.h"

namespace bpftape::record {

enum class BpfStatsMode : uint8_t { Auto, Full, Off };
otlp::ebpf::Result<BpfStatsMode> parse_bpf_stats_mode(std::string_view text);

// Time the counters were on, kept by whoever turns them on and off. Thread-safe.
class StatsClock {
 public:
  explicit StatsClock(uint64_t start_ns) : start_ns_(start_ns) {}
  void turned_on(uint64_t now_ns);
  void turned_off(uint64_t now_ns);
  // Counters ran `on` of `elapsed` ns up to now_ns.
  uint64_t on_ns(uint64_t now_ns) const;
  uint64_t elapsed_ns(uint64_t now_ns) const { return now_ns - start_ns_; }
  // elapsed / on (1 when they ran all the time; 0 before they ran at all).
  double scale(uint64_t now_ns) const;

 private:
  mutable std::mutex mutex_;
  uint64_t start_ns_;
  uint64_t on_since_ns_ = 0;
  bool on_ = false;
  uint64_t total_on_ns_ = 0;
};

class BpfStatsSampler {
 public:
  struct Options {
    BpfStatsMode mode = BpfStatsMode::Auto;
    uint64_t window_ns = 1'000'000'000;
    uint64_t period_ns = 10'000'000'000;
    // The policy's inputs: what one run costs with the stats on (two clock reads; measured
    // ~240 ns on the development VM, where clock reads trap) and the share of one CPU the
    // stats may cost before they are sampled instead.
    uint64_t stats_ns_per_run = 250;
    double cost_budget = 0.005;
  };

  // total_runs: the summed run count of the recorder's programs (read from the sampler's
  // thread; must stay callable until stop()).
  BpfStatsSampler(const Options& options, std::function<uint64_t()> total_runs, uint64_t now_ns);
  ~BpfStatsSampler();  // stop()s
  BpfStatsSampler(const BpfStatsSampler&) = delete;
  BpfStatsSampler& operator=(const BpfStatsSampler&) = delete;

  // Stats off for good; the recording's time ends at now_ns. Joins the thread.
  void stop(uint64_t now_ns);
  bool available() const { return available_; }
  // Whether the counters run right now (the drain loop tags what it drains with this).
  bool on() const { return on_.load(std::memory_order_relaxed); }
  // Multiply the counters by this for the whole recording (1: exact; 0: never measured).
  double scale(uint64_t now_ns) const;
  // Share of the recording the counters ran.
  double measured_share(uint64_t now_ns) const;

  // The policy alone: keep the stats on at `runs_per_second`?
  static bool affordable(const Options& options, double runs_per_second);

 private:
  void run();
  bool turn_on(uint64_t now_ns);
  void turn_off(uint64_t now_ns);

  Options options_;
  std::function<uint64_t()> total_runs_;
  StatsClock clock_;
  int fd_ = -1;  // stats on while open; touched by the thread only (and stop() after joining)
  std::atomic<bool> on_{false};
  bool available_ = false;
  bool external_ = false;  // already on when we started: nothing to toggle
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t stop_ns_ = 0;
};

}  // namespace bpftape::record
