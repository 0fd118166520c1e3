#include "recorder/bpf_stats_sampler.h"

#include <bpf/bpf.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include <fmt/format.h>

#include "core/clock.h"

namespace bpftape::record {

using otlp::ebpf::ErrorKind;
using otlp::ebpf::make_error;
using otlp::ebpf::read_clock_ns;

otlp::ebpf::Result<BpfStatsMode> parse_bpf_stats_mode(std::string_view text) {
  if (text == "auto") return BpfStatsMode::Auto;
  if (text == "full") return BpfStatsMode::Full;
  if (text == "off") return BpfStatsMode::Off;
  return make_error(ErrorKind::ConfigError,
                    fmt::format("--bpf-stats: '{}' is not auto, full or off", text));
}

void StatsClock::turned_on(uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  if (on_) return;
  on_ = true;
  on_since_ns_ = now_ns;
}

void StatsClock::turned_off(uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  if (!on_) return;
  on_ = false;
  total_on_ns_ += now_ns - on_since_ns_;
}

uint64_t StatsClock::on_ns(uint64_t now_ns) const {
  std::lock_guard lock(mutex_);
  return total_on_ns_ + (on_ && now_ns > on_since_ns_ ? now_ns - on_since_ns_ : 0);
}

double StatsClock::scale(uint64_t now_ns) const {
  const uint64_t on = on_ns(now_ns);
  return on ? static_cast<double>(elapsed_ns(now_ns)) / static_cast<double>(on) : 0.0;
}

namespace {

// kernel.bpf_stats_enabled reads 1 while anyone holds the stats on (the sysctl or an fd).
bool stats_already_on() {
  std::ifstream in("/proc/sys/kernel/bpf_stats_enabled");
  int value = 0;
  return (in >> value) && value != 0;
}

}  // namespace

bool BpfStatsSampler::affordable(const Options& options, double runs_per_second) {
  return runs_per_second * static_cast<double>(options.stats_ns_per_run) <=
         options.cost_budget * 1e9;
}

BpfStatsSampler::BpfStatsSampler(const Options& options, std::function<uint64_t()> total_runs,
                                 uint64_t now_ns)
    : options_(options), total_runs_(std::move(total_runs)), clock_(now_ns) {
  if (options_.mode == BpfStatsMode::Off) return;
  if (stats_already_on()) {
    // Someone else keeps them on: they count all the time whatever we do.
    external_ = true;
    available_ = true;
    on_ = true;
    clock_.turned_on(now_ns);
    return;
  }
  available_ = turn_on(now_ns);
  if (available_ && options_.mode == BpfStatsMode::Auto) thread_ = std::thread([this] { run(); });
}

BpfStatsSampler::~BpfStatsSampler() { stop(read_clock_ns(CLOCK_MONOTONIC)); }

bool BpfStatsSampler::turn_on(uint64_t now_ns) {
  if (fd_ >= 0) return true;
  fd_ = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd_ < 0) return false;
  clock_.turned_on(now_ns);
  on_ = true;
  return true;
}

void BpfStatsSampler::turn_off(uint64_t now_ns) {
  if (fd_ < 0) return;
  close(fd_);
  fd_ = -1;
  on_ = false;
  clock_.turned_off(now_ns);
}

void BpfStatsSampler::run() {
  // Each window measures the run rate with the stats on. Affordable: stay on, and measure the
  // next window at once (a storm that starts later is caught within a window). Not: off until
  // the next period's window.
  auto until = [](uint64_t ns) {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns));
  };
  std::unique_lock lock(mutex_);
  uint64_t window_start = read_clock_ns(CLOCK_MONOTONIC);
  for (;;) {
    const uint64_t runs_before = total_runs_();
    if (!turn_on(window_start)) return;  // the kernel refused now: keep what we have
    if (wake_.wait_until(lock, until(window_start + options_.window_ns), [&] { return stopping_; })) {
      return;
    }
    const uint64_t now = read_clock_ns(CLOCK_MONOTONIC);
    const double rate = static_cast<double>(total_runs_() - runs_before) * 1e9 /
                        static_cast<double>(std::max<uint64_t>(1, now - window_start));
    if (affordable(options_, rate)) {
      window_start = now;
      continue;
    }
    turn_off(now);
    const uint64_t next = window_start + options_.period_ns;
    if (wake_.wait_until(lock, until(next), [&] { return stopping_; })) return;
    window_start = read_clock_ns(CLOCK_MONOTONIC);
  }
}

void BpfStatsSampler::stop(uint64_t now_ns) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    stop_ns_ = now_ns;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  turn_off(now_ns);
  if (external_) clock_.turned_off(now_ns);
}

double BpfStatsSampler::scale(uint64_t now_ns) const {
  if (!available_) return 0.0;
  return clock_.scale(stopping_ ? stop_ns_ : now_ns);
}

double BpfStatsSampler::measured_share(uint64_t now_ns) const {
  if (!available_) return 0.0;
  const uint64_t end = stopping_ ? stop_ns_ : now_ns;
  const uint64_t elapsed = clock_.elapsed_ns(end);
  return elapsed ? static_cast<double>(clock_.on_ns(end)) / static_cast<double>(elapsed) : 1.0;
}

}  // namespace bpftape::record
