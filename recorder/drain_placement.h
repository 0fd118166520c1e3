// DrainPlacement: keeps the recorder's threads (the drain thread above all) off the CPUs whose
// tasks it is busy recording.
//
// Why: while records stream, the drain thread wakes thousands of times a second. Where the
// scheduler sees no cache shared between CPUs (VMs without cache topology, like the
// development VM: no LLC sched domain, so select_idle_sibling never looks at the other CPU),
// a woken thread stays on its previous CPU even when the traced task is running there — it
// then preempts the task it records at every tick (measured: `dd` preempted ~16 k times in
// 2 s, its slowdown 1.5x -> 3x, depending only on where the thread happened to start).
// The records say which CPUs the traced work runs on, so the recorder can do better than
// guess: per window it counts records per CPU; while the rate is high it restricts the thread
// to the CPUs (of those it was allowed at start: a user's taskset is respected) that produced
// less than hot_share of them; if that leaves none, or the rate drops, it allows them all again.
// DrainPlacement is the pure policy (no syscalls); DrainThreadPlacement applies its answers to
// the recorder's threads with sched_setaffinity.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace bpftape::record {

class DrainPlacement {
 public:
  struct Options {
    uint64_t window_ns = 50'000'000;
    uint64_t min_records = 5'000;  // per window (100 k/s): below, placement does not matter
    double hot_share = 0.25;        // a CPU with this share of the records is "busy recording"
  };

  // allowed: the CPUs the thread may use at all (its affinity at start), ascending.
  DrainPlacement(std::vector<int> allowed, const Options& options);

  void count(uint16_t cpu, uint64_t records = 1);
  // Ends the window at `now_ns` if it has lasted window_ns (the first call starts it): the CPUs
  // the thread should run on from now, or nullopt when that does not change.
  std::optional<std::vector<int>> end_window(uint64_t now_ns);
  const std::vector<int>& current() const { return current_; }

 private:
  Options options_;
  std::vector<int> allowed_;
  std::vector<int> current_;
  std::vector<uint64_t> records_;  // per CPU number, this window
  uint64_t window_start_ns_ = 0;
  bool started_ = false;
};

// DrainPlacement applied to this process: the policy is made on first use from the affinity
// of the thread that drains (the one calling policy()), and its answers move every thread of
// the recorder. Used from the drain thread only.
class DrainThreadPlacement {
 public:
  // The policy for the calling thread; null when there is nowhere else to go (one CPU) or its
  // affinity cannot be read (the scheduler's choice is kept).
  DrainPlacement* policy();
  // Ends the policy's window at now_ns; when it answers, moves every thread of the recorder.
  void end_window(DrainPlacement& policy, uint64_t now_ns);
  uint64_t moves() const { return moves_; }  // affinity changes made

 private:
  std::unique_ptr<DrainPlacement> policy_;
  bool tried_ = false;
  uint64_t moves_ = 0;
};

}  // namespace bpftape::record
