// LiveOptions: what a LiveSource records (tracers, target filter, rings, pacing, BPF stats,
// symbolization), and the checks that turn `record`'s flag values into them, so every front end
// (the CLI, the seeds' tracer API) builds the same options by the same rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bpf/kernel_probes.h"
#include "core/config.h"
#include "core/error.h"
#include "core/transport.h"
#include "recorder/bpf_stats_sampler.h"

namespace bpftape::record {

struct LiveOptions {
  // Which tracers; the process probe (exec/fork/exit) always runs, it names processes.
  bool syscalls = false;
  bool cpu = false;
  bool network = false;
  bool memory = false;
  uint32_t sample_hz = 99;        // CPU sampling frequency
  otlp::ebpf::ProbeFilter filter; // which tasks (load-time, in the BPF programs)
  // Kernel ring buffer per probe; 0 sizes each for its event rate
  // (transport::default_ring_bytes). Rings are mapped into the recorder and count twice in its
  // RSS (the data pages are mapped twice).
  uint32_t ring_bytes = 0;
  // How the drain loop waits (transport::ConsumerPacing): asleep in epoll until a program wakes
  // it (once per sleep) or idle_timeout_ns passes; ticking every tick_ns while records stream.
  otlp::ebpf::transport::ConsumerPacing::Options pacing;
  // Kernel BPF run-time stats: on while affordable, else sampled and scaled (Auto, default),
  // all the time, or never (BpfStatsSampler explains why).
  BpfStatsMode bpf_stats = BpfStatsMode::Auto;
  std::string libc = "libc.so.6";  // for the memory probe's uprobes
  // The one process the memory probe's uprobes attach to; unset: the filter's only pid if it
  // has exactly one, else every process (each allocation on the machine then traps).
  std::optional<int32_t> memory_pid;
  bool capture_payload = true;     // first bytes of socket I/O (HTTP recognition)
  bool symbolize = true;           // resolve stack frames at record time
  std::string proc_root = "/proc";

  // Whether stack frames will be resolved: symbolization on and a tracer that captures stacks.
  bool resolves_stacks() const { return symbolize && (cpu || memory); }
};

// Which tracers an EbpfConfig asks for, with the filter left empty.
LiveOptions live_options_from(const otlp::ebpf::EbpfConfig& config);

// The rules `record`'s flags are checked by (the CLI parses the text, these check the values);
// each error is a ConfigError naming the flag.
// `--ring-size`: a power of two between 4 KiB and 1 GiB (the kernel's ring buffer rule, and a
// bound on the recorder's RSS).
otlp::ebpf::Result<uint32_t> checked_ring_bytes(uint64_t bytes);
// `--pid`: appends a running process to filter.tgids (at most ProbeFilter::kMaxTgids).
otlp::ebpf::Result<void> add_target_pid(uint64_t pid, otlp::ebpf::ProbeFilter& filter);
// `--comm`: a task name as the kernel keeps it (1 to 15 characters).
otlp::ebpf::Result<void> set_target_comm(std::string_view comm, otlp::ebpf::ProbeFilter& filter);

}  // namespace bpftape::record
