// What a simulation runs: workloads, their parameters, the kernel->user transport model and
// the faults to inject. Everything not given is derived from the seed (swarm testing: each
// seed picks its own mix of fault rates when asked), and describe() prints every derived
// value so a run can be understood and reproduced from its log.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace bpftape::sim {

enum Workload : uint32_t {
  kWebServer = 1u << 0,  // TCP connections, HTTP/1.1 requests, accept/read/write/close
  kFileIo = 1u << 1,     // openat/read/write/fsync/close with some ENOENT
  kLeakyAllocator = 1u << 2,  // malloc/calloc/realloc/free, one stack leaks
  kCpuBound = 1u << 3,   // CPU samples over a known stack distribution (+ idle)
  kForkExec = 1u << 4,   // fork/exec/exit storm (pid churn)
  kAllWorkloads = (1u << 5) - 1,
};

enum Fault : uint32_t {
  kRingOverflow = 1u << 0,  // small per-CPU rings: events dropped, loss records emitted
  kReorder = 1u << 1,       // a CPU's drain deferred, sometimes beyond the reorder window
  kClockSkew = 1u << 2,     // per-CPU offset step, drift and jitter on timestamps
  kPidReuse = 1u << 3,      // a tiny pid space: new processes reuse recent pids
  kBurst = 1u << 4,         // the consumer stalls, rings fill up
  kTransportFaults = (1u << 5) - 1,  // the above: what the kernel -> user path does to events
  // Tape faults, applied to the written tape (simulator/sim_tape.h): --check also reads the
  // damaged copy back and checks what a reader recovers; -o writes the damaged tape.
  kTapeTruncate = 1u << 5,  // cut short at a seeded offset (a killed recorder, a full disk)
  kTapeCorrupt = 1u << 6,   // one to three bytes flipped at seeded offsets
  kTapeFaults = kTapeTruncate | kTapeCorrupt,
  kAllFaults = kTransportFaults | kTapeFaults,
};

struct SimOptions {
  uint64_t seed = 1;
  uint32_t workloads = kAllWorkloads;
  uint32_t faults = 0;
  bool swarm = false;            // pick fault classes and rates from the seed
  uint64_t duration_ns = 10'000'000'000;  // virtual time
  uint32_t cpus = 4;

  // Workload parameters (per second of virtual time).
  double web_requests_per_s = 2000;
  double web_requests_per_connection = 4;
  double web_latency_median_us = 400;
  uint32_t web_workers = 4;
  double fileio_ops_per_s = 1000;
  double allocations_per_s = 20000;
  double leak_probability = 0.02;  // of the leaking stack's allocations
  uint32_t sample_hz = 99;         // per CPU
  double forks_per_s = 100;

  // Transport: per-CPU ring capacity (events) and the consumer's poll interval.
  uint32_t ring_capacity = 1 << 16;
  uint64_t poll_interval_ns = 10'000'000;

  // Fault parameters (used when the fault is on; swarm mode derives them from the seed).
  uint32_t overflow_ring_capacity = 512;
  double reorder_defer_probability = 0.05;  // per CPU per poll
  uint32_t reorder_max_defer_polls = 3;
  int64_t skew_step_ns = 200'000;      // one CPU's clock steps by this much mid-run
  double skew_drift_ppm = 50;
  uint64_t skew_jitter_ns = 2'000;
  uint32_t pid_space = 64;             // pids cycle within [base, base + pid_space)
  double burst_probability = 0.02;     // per poll: the consumer stalls
  uint64_t burst_stall_ns = 100'000'000;

  // The reorder window the pipeline should use so that only injected "beyond the window"
  // reordering produces late events.
  uint64_t reorder_window_ns() const;

  // Applies swarm choices (when swarm) and checks ranges; call once before simulating.
  otlp::ebpf::Result<void> finalize();
  // Every parameter, one per line, "name = value" (logged at start).
  std::string describe() const;
  // The command line that reproduces this run.
  std::string reproduce_command() const;
};

// "web,fileio" / "all" / "mixed" -> bitmask; names: web, fileio, leak, cpu, forkexec.
otlp::ebpf::Result<uint32_t> parse_workloads(std::string_view text);
// "none" / "all" / "overflow,reorder,skew,pidreuse,burst" -> bitmask.
otlp::ebpf::Result<uint32_t> parse_faults(std::string_view text);
std::string workload_names(uint32_t workloads);
std::string fault_names(uint32_t faults);

}  // namespace bpftape::sim
