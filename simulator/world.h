// The simulated machine: a single-threaded discrete-event loop on a virtual clock.
//
// Actors (workload threads, samplers, spawners) run at scheduled virtual times and emit
// events into the ring buffer of their CPU, exactly as BPF programs would. A modelled consumer
// drains the rings every poll interval into EventBatches — that is where the kernel's faults
// appear: a full ring drops events and reports a loss record; a CPU drained late arrives
// reordered; a stalled consumer lets rings overflow. Clock skew is applied at emission, the
// way a CPU's clock would stamp the event.
//
// Everything emitted is reported to an observer (the ground truth) with its fate: dropped in
// the ring, or delivered in a batch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/event.h"
#include "core/intern_table.h"
#include "core/process_table.h"
#include "simulator/rng.h"
#include "simulator/sim_options.h"

namespace bpftape::sim {

using otlp::ebpf::EbpfEvent;
using otlp::ebpf::EventBatch;

class World;

// One simulated activity. act() runs at the time it was scheduled for; it emits events and
// returns the next time it wants to run, or kDone.
class Actor {
 public:
  static constexpr uint64_t kDone = UINT64_MAX;
  virtual ~Actor() = default;
  virtual uint64_t act(World& world, uint64_t now) = 0;
};

// Sees every event the moment its fate is known (the ground truth's input).
class FateObserver {
 public:
  virtual ~FateObserver() = default;
  virtual void on_dropped(const EbpfEvent& event) = 0;
  virtual void on_delivered(const EbpfEvent& event, const otlp::ebpf::InternTable& interned) = 0;
};

struct WorldStats {
  uint64_t emitted = 0;
  uint64_t dropped = 0;
  uint64_t delivered = 0;
  uint64_t polls = 0;
  uint64_t stalled_polls = 0;   // consumer stalled (burst fault)
  uint64_t deferred_drains = 0; // a CPU left undrained for a poll (reorder fault)
  uint64_t activations = 0;
};

// A min-heap (by operator<) with four children per node: half the depth of a binary heap,
// and replace_top() does in one sift-down what a pop and a push (std::priority_queue) do in
// two — the common case of the simulator's queues, where what ran is rescheduled. Give it
// unique keys and it pops in the same order as any priority queue.
template <typename T>
class QuadHeap {
 public:
  bool empty() const { return heap_.empty(); }
  const T& top() const { return heap_.front(); }
  void push(const T& entry) {
    size_t hole = heap_.size();
    heap_.push_back(entry);
    while (hole > 0) {
      size_t parent = (hole - 1) / 4;
      if (!(entry < heap_[parent])) break;
      heap_[hole] = heap_[parent];
      hole = parent;
    }
    heap_[hole] = entry;
  }
  void pop() {
    T last = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) sift_down(last);
  }
  void replace_top(const T& entry) { sift_down(entry); }

 private:
  // Moves the hole at the top down to where `entry` belongs and puts it there.
  void sift_down(const T& entry) {
    const size_t size = heap_.size();
    size_t hole = 0;
    while (true) {
      size_t first = 4 * hole + 1;
      if (first >= size) break;
      size_t least = first;
      size_t end = std::min(first + 4, size);
      for (size_t child = first + 1; child < end; ++child) {
        if (heap_[child] < heap_[least]) least = child;
      }
      if (!(heap_[least] < entry)) break;
      heap_[hole] = heap_[least];
      hole = least;
    }
    heap_[hole] = entry;
  }
  std::vector<T> heap_;
};

class World {
 public:
  // Options must have been finalize()d. The observer (may be null) must outlive the world.
  World(const SimOptions& options, FateObserver* observer);
  ~World();

  // Runs the simulation up to the next consumer poll that delivers something and fills
  // `batch` (cleared first) with what it drained. Returns false once the run is over and
  // every ring has been drained.
  bool next_batch(EventBatch& batch);

  // ---- For actors ----
  // Emits an event on `cpu` (its timestamp is the true virtual time; skew is applied here).
  void emit(uint16_t cpu, const EbpfEvent& event);
  // The actor first runs at `first_time`, or now if that has passed (time never goes back).
  void add_actor(std::unique_ptr<Actor> actor, uint64_t first_time);
  Rng& rng(std::string_view stream);  // the named stream, created on first use
  otlp::ebpf::InternTable& interned() { return interned_; }
  otlp::ebpf::ProcessTable& processes() { return processes_; }
  // Function symbols of the modelled programs (what a recorder resolves from ELF files).
  struct SymbolDef {
    uint32_t pid;  // 0: kernel
    uint64_t address;
    uint64_t size;
    std::string name;
  };
  void add_symbol(uint32_t pid, uint64_t address, uint64_t size, std::string name) {
    symbols_.push_back(SymbolDef{pid, address, size, std::move(name)});
  }
  const std::vector<SymbolDef>& symbols() const { return symbols_; }
  // A pid (or tid) not in use: cycles through a small space when the pid-reuse fault is on,
  // skipping live ones as the kernel does. release_pid() when the process exits.
  uint32_t allocate_pid();
  void release_pid(uint32_t pid) { live_pids_.erase(pid); }
  const SimOptions& options() const { return options_; }
  uint64_t end_ns() const { return start_ns_ + options_.duration_ns; }
  uint64_t start_ns() const { return start_ns_; }

  const WorldStats& stats() const { return stats_; }
  otlp::ebpf::ClockReference clock() const { return clock_; }

  // Virtual time starts here (a plausible monotonic clock: ~1 h after boot).
  static constexpr uint64_t kBootOffsetNs = 3'600'000'000'000;

 private:
  struct Scheduled {
    uint64_t time;
    uint64_t sequence;  // FIFO among equal times: deterministic
    uint32_t actor;
    bool operator<(const Scheduled& o) const {
      return time != o.time ? time < o.time : sequence < o.sequence;
    }
  };
  struct Cpu {
    std::vector<EbpfEvent> ring;
    uint64_t lost_since_drain = 0;
    uint32_t deferred_polls = 0;  // remaining polls this CPU is left undrained
    int64_t skew_offset_ns = 0;
    double drift_ppm = 0;
  };
  void run_until(uint64_t time);
  void poll(EventBatch& batch, bool final_drain);
  // What the CPU's BPF program writes: its CPU number and its clock's (skewed) timestamp.
  void stamp(uint16_t cpu, EbpfEvent& event);
  uint64_t skewed(uint16_t cpu, uint64_t ts);

  SimOptions options_;
  FateObserver* observer_;
  uint64_t start_ns_;
  uint64_t now_;
  uint64_t next_poll_;
  uint64_t stall_until_ = 0;
  bool finished_ = false;
  uint32_t ring_capacity_;
  std::vector<std::unique_ptr<Actor>> actors_;
  QuadHeap<Scheduled> agenda_;  // the actors waiting to run
  uint64_t sequence_ = 0;
  std::vector<Cpu> cpus_;
  std::vector<std::pair<std::string, std::unique_ptr<Rng>>> rngs_;
  // One stream per fault class: switching one off leaves the others' decisions unchanged.
  Rng burst_rng_;
  Rng reorder_rng_;
  Rng skew_rng_;
  uint32_t next_pid_;
  std::unordered_set<uint32_t> live_pids_;
  otlp::ebpf::InternTable interned_;
  otlp::ebpf::ProcessTable processes_;
  std::vector<SymbolDef> symbols_;
  otlp::ebpf::ClockReference clock_;
  WorldStats stats_;
};

// Adds the actors of every workload selected in the options (workloads.cc).
void populate_workloads(World& world);

}  // namespace bpftape::sim
