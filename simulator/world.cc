#include "simulator/world.h"

#include <algorithm>

namespace bpftape::sim {

World::World(const SimOptions& options, FateObserver* observer)
    : options_(options),
      observer_(observer),
      start_ns_(kBootOffsetNs),
      now_(kBootOffsetNs),
      next_poll_(kBootOffsetNs + options.poll_interval_ns),
      ring_capacity_((options.faults & kRingOverflow) ? options.overflow_ring_capacity
                                                      : options.ring_capacity),
      cpus_(options.cpus),
      burst_rng_(options.seed, "fault/burst"),
      reorder_rng_(options.seed, "fault/reorder"),
      skew_rng_(options.seed, "fault/skew"),
      next_pid_(0),
      // 2026-01-01T00:00:00Z at the start of virtual time: fixed, so outputs are reproducible.
      clock_{kBootOffsetNs, 1'767'225'600'000'000'000ull} {
  if (options_.faults & kClockSkew) {
    for (auto& cpu : cpus_) {
      cpu.drift_ppm = (skew_rng_.uniform() * 2 - 1) * options_.skew_drift_ppm;
    }
  }
  populate_workloads(*this);
}

World::~World() = default;

Rng& World::rng(std::string_view stream) {
  for (auto& [name, rng] : rngs_) {
    if (name == stream) return *rng;
  }
  rngs_.emplace_back(std::string(stream), std::make_unique<Rng>(options_.seed, stream));
  return *rngs_.back().second;
}

uint32_t World::allocate_pid() {
  constexpr uint32_t kFirstPid = 1000;
  bool reuse = options_.faults & kPidReuse;
  // With reuse, at most pid_space tries find a free pid; when every pid in the space is live,
  // grow past it (a real kernel would fail fork with EAGAIN; models must not stall).
  for (uint32_t tries = 0; tries <= options_.pid_space; ++tries) {
    uint32_t n = next_pid_++;
    uint32_t pid = kFirstPid + (reuse ? n % options_.pid_space : n);
    if (live_pids_.insert(pid).second) return pid;
  }
  uint32_t pid = kFirstPid + options_.pid_space + next_pid_++;
  live_pids_.insert(pid);
  return pid;
}

void World::add_actor(std::unique_ptr<Actor> actor, uint64_t first_time) {
  actors_.push_back(std::move(actor));
  if (first_time < end_ns()) {
    agenda_.push(Scheduled{std::max(first_time, now_), sequence_++,
                           static_cast<uint32_t>(actors_.size() - 1)});
  }
}

uint64_t World::skewed(uint16_t cpu_index, uint64_t ts) {
  const Cpu& cpu = cpus_[cpu_index];
  double since_start = static_cast<double>(ts - start_ns_);
  auto drift = static_cast<int64_t>(since_start * cpu.drift_ppm * 1e-6);
  int64_t offset = drift;
  // CPU 0's clock steps half way through the run.
  if (cpu_index == 0 && ts >= start_ns_ + options_.duration_ns / 2) offset += options_.skew_step_ns;
  if (options_.skew_jitter_ns) offset += static_cast<int64_t>(skew_rng_.below(options_.skew_jitter_ns + 1));
  int64_t result = static_cast<int64_t>(ts) + offset;
  return result > 0 ? static_cast<uint64_t>(result) : 1;
}

void World::stamp(uint16_t cpu_index, EbpfEvent& event) {
  event.cpu = cpu_index;
  if (options_.faults & kClockSkew) event.timestamp_ns = skewed(cpu_index, event.timestamp_ns);
}

void World::emit(uint16_t cpu_index, const EbpfEvent& event) {
  ++stats_.emitted;
  cpu_index = static_cast<uint16_t>(cpu_index % cpus_.size());
  Cpu& cpu = cpus_[cpu_index];
  if (cpu.ring.size() < ring_capacity_) {
    stamp(cpu_index, cpu.ring.emplace_back(event));  // in place: no copy through the stack
    return;
  }
  EbpfEvent e = event;
  stamp(cpu_index, e);
  ++cpu.lost_since_drain;  // what the BPF side counts when bpf_ringbuf_reserve fails
  ++stats_.dropped;
  if (observer_) observer_->on_dropped(e);
}

void World::run_until(uint64_t time) {
  while (!agenda_.empty() && agenda_.top().time <= time) {
    // The entry stays on top while its actor runs: actors it adds are scheduled no earlier
    // and with a later sequence, so they go below it.
    const uint32_t actor = agenda_.top().actor;
    now_ = agenda_.top().time;
    ++stats_.activations;
    uint64_t again = actors_[actor]->act(*this, now_);
    if (again != Actor::kDone && again < end_ns()) {
      agenda_.replace_top(Scheduled{std::max(again, now_), sequence_++, actor});
    } else {
      agenda_.pop();
    }
  }
}

void World::poll(EventBatch& batch, bool final_drain) {
  ++stats_.polls;
  if (!final_drain && (options_.faults & kBurst)) {
    if (now_ < stall_until_ || burst_rng_.chance(options_.burst_probability)) {
      if (now_ >= stall_until_) stall_until_ = now_ + options_.burst_stall_ns;
      ++stats_.stalled_polls;
      return;
    }
  }
  for (size_t i = 0; i < cpus_.size(); ++i) {
    Cpu& cpu = cpus_[i];
    if (!final_drain && (options_.faults & kReorder)) {
      if (cpu.deferred_polls > 0) {
        --cpu.deferred_polls;
        ++stats_.deferred_drains;
        continue;
      }
      if (reorder_rng_.chance(options_.reorder_defer_probability)) {
        cpu.deferred_polls =
            static_cast<uint32_t>(reorder_rng_.between(1, options_.reorder_max_defer_polls)) - 1;
        ++stats_.deferred_drains;
        continue;
      }
    }
    if (cpu.lost_since_drain) {
      batch.losses.push_back(
          otlp::ebpf::LossRecord{now_, static_cast<uint16_t>(i), cpu.lost_since_drain});
      cpu.lost_since_drain = 0;
    }
    batch.events.insert(batch.events.end(), cpu.ring.begin(), cpu.ring.end());
    if (observer_) {
      for (const auto& e : cpu.ring) observer_->on_delivered(e, interned_);
    }
    stats_.delivered += cpu.ring.size();
    cpu.ring.clear();
  }
}

bool World::next_batch(EventBatch& batch) {
  batch.clear();
  while (!finished_) {
    if (next_poll_ >= end_ns()) {
      run_until(end_ns());
      now_ = end_ns();
      poll(batch, /*final_drain=*/true);
      finished_ = true;
      return !batch.empty();
    }
    run_until(next_poll_);
    now_ = next_poll_;
    poll(batch, /*final_drain=*/false);
    next_poll_ += options_.poll_interval_ns;
    if (!batch.empty()) return true;
  }
  return false;
}

}  // namespace bpftape::sim
