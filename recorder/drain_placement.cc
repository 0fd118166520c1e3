#include "recorder/drain_placement.h"

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <numeric>

namespace bpftape::record {

DrainPlacement::DrainPlacement(std::vector<int> allowed, const Options& options)
    : options_(options), allowed_(std::move(allowed)), current_(allowed_) {}

void DrainPlacement::count(uint16_t cpu, uint64_t records) {
  if (cpu >= records_.size()) records_.resize(cpu + 1u, 0);
  records_[cpu] += records;
}

std::optional<std::vector<int>> DrainPlacement::end_window(uint64_t now_ns) {
  if (!started_) {
    started_ = true;
    window_start_ns_ = now_ns;
    std::fill(records_.begin(), records_.end(), 0);
    return std::nullopt;
  }
  if (now_ns - window_start_ns_ < options_.window_ns) return std::nullopt;
  window_start_ns_ = now_ns;
  const uint64_t total = std::accumulate(records_.begin(), records_.end(), uint64_t{0});
  std::vector<int> next;
  if (total >= options_.min_records) {
    for (int cpu : allowed_) {
      const uint64_t n = static_cast<size_t>(cpu) < records_.size() ? records_[cpu] : 0;
      if (static_cast<double>(n) < options_.hot_share * static_cast<double>(total)) next.push_back(cpu);
    }
  }
  if (next.empty()) next = allowed_;  // quiet, or every CPU is busy: nowhere better to be
  std::fill(records_.begin(), records_.end(), 0);
  if (next == current_) return std::nullopt;
  current_ = next;
  return next;
}

DrainPlacement* DrainThreadPlacement::policy() {
  if (!tried_) {
    tried_ = true;
    cpu_set_t set;
    CPU_ZERO(&set);
    // Unreadable: keep the scheduler's choice.
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return nullptr;
    std::vector<int> allowed;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) allowed.push_back(cpu);
    }
    if (allowed.size() < 2) return nullptr;  // nowhere else to go
    policy_ = std::make_unique<DrainPlacement>(std::move(allowed), DrainPlacement::Options{});
  }
  return policy_.get();
}

void DrainThreadPlacement::end_window(DrainPlacement& policy, uint64_t now_ns) {
  auto cpus = policy.end_window(now_ns);
  if (!cpus) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : *cpus) CPU_SET(cpu, &set);
  // Every thread of the recorder, not only this one: the tape's compression thread, the BPF
  // stats thread and the OTLP sender preempt the traced task just the same. Best effort: a
  // refusal (cpuset changes under us) only keeps the scheduler's choice.
  bool moved = false;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const pid_t tid = static_cast<pid_t>(std::strtol(task.path().filename().c_str(), nullptr, 10));
    if (tid > 0 && sched_setaffinity(tid, sizeof(set), &set) == 0) moved = true;
  }
  if (moved) ++moves_;
}

}  // namespace bpftape::record
