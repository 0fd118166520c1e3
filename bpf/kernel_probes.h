// Typed owners of bpftape's own BPF programs (one skeleton each), for the recorder.
//
// Phases: create() opens the skeleton, writes the tunables into rodata (filter, ring size,
// probe options), and loads it (verifier); attach() attaches; the destructor detaches and frees
// everything (RAII, skeleton destroyed last). events_fd()/drops_fd() feed RingBufferDrain and
// LossCounter and stay valid for the probe's lifetime.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/uprobe_placement.h"
#include "core/error.h"
#include "core/transport.h"

struct bpf_object;

namespace otlp::ebpf {

// The ELF bytes of one of bpftape's own BPF objects, embedded at build time: "syscall",
// "cpu_sample", "process", "network" or "memory". Static storage (valid for the program's
// lifetime). For EbpfLoader::load (generic path) and tests; the typed probes below use them too.
Result<std::span<const std::byte>> builtin_bpf_object(std::string_view probe);
std::vector<std::string_view> builtin_bpf_object_names();

// Which tasks the programs record; set before load (rodata), so the verifier prunes unused
// checks. The recording process itself is never traced.
struct ProbeFilter {
  std::vector<uint32_t> tgids;  // at most kMaxTgids; empty: all processes
  uint32_t tid = 0;             // 0: any thread
  std::string comm;             // exact task comm (<= 15 chars); empty: any
  uint64_t cgroup_id = 0;       // cgroup v2 id (inode of the cgroup dir); 0: any
  static constexpr size_t kMaxTgids = 8;
};

struct ProbeOptions {
  ProbeFilter filter;
  uint32_t self_tgid = static_cast<uint32_t>(::getpid());  // excluded from every program
  uint32_t ring_bytes = 8u << 20;     // per program; power of two >= 4096
  // The consumer-state map (bt_consumer_state, made by RingBufferDrain::create_consumer_state)
  // to share with the other probes of one consumer; -1: the object keeps its own, which stays
  // BT_CONSUMER_POLLING: records then wake the consumer once wakeup_bytes wait (at most a quarter of
  // the ring: transport::effective_wakeup_bytes), else it drains on its own timer. See
  // bt_submit in common.bpf.h. The fd is borrowed: it only has to stay open until create().
  int consumer_state_fd = -1;
  uint64_t wakeup_bytes = transport::kDefaultWakeupBytes;

  Result<void> validate() const;
};

// Common part: the loaded object and its attachments.
class KernelProbe {
 public:
  virtual ~KernelProbe();
  KernelProbe(const KernelProbe&) = delete;
  KernelProbe& operator=(const KernelProbe&) = delete;

  int events_fd() const;  // BPF_MAP_TYPE_RINGBUF of records
  int drops_fd() const;   // per-CPU u64 reservation failures
  bpf_object* object() const;  // borrowed, valid for the probe's lifetime
  bool attached() const;
  void detach();

  struct State;  // opaque: the skeleton and its links (kernel_probes.cc)

 protected:
  explicit KernelProbe(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Every syscall with its duration (raw tracepoints sys_enter/sys_exit, task-storage pairing).
class SyscallProbe : public KernelProbe {
 public:
  static Result<std::unique_ptr<SyscallProbe>> create(const ProbeOptions& options);
  Result<void> attach();
  // Per-syscall switch (the syscall_enabled map); takes effect at once. All are on after create.
  Result<void> set_syscall_enabled(uint32_t nr, bool enabled);
  Result<void> set_all_syscalls_enabled(bool enabled);

 private:
  using KernelProbe::KernelProbe;
};

// Software cpu-clock sampling on every online CPU with user + kernel stacks.
class CpuSampleProbe : public KernelProbe {
 public:
  static Result<std::unique_ptr<CpuSampleProbe>> create(const ProbeOptions& options,
                                                        bool include_idle = false);
  Result<void> attach(uint32_t sample_freq_hz, std::optional<int32_t> pid = std::nullopt);

 private:
  using KernelProbe::KernelProbe;
};

// exec / fork / exit (BTF tracepoints).
class ProcessProbe : public KernelProbe {
 public:
  static Result<std::unique_ptr<ProcessProbe>> create(const ProbeOptions& options);
  Result<void> attach();

 private:
  using KernelProbe::KernelProbe;
};

// TCP lifecycle, socket bytes, first payload bytes, retransmits (tracepoints only).
class NetworkProbe : public KernelProbe {
 public:
  static Result<std::unique_ptr<NetworkProbe>> create(const ProbeOptions& options,
                                                      bool capture_payload = true);
  Result<void> attach();

 private:
  using KernelProbe::KernelProbe;
};

// libc malloc/calloc/realloc/free/mmap/munmap through uprobes + uretprobes.
class MemoryProbe : public KernelProbe {
 public:
  static Result<std::unique_ptr<MemoryProbe>> create(const ProbeOptions& options,
                                                     bool capture_stacks = true);
  // libc: a path or library name (see ProbeManager::resolve_binary); pid: one process or all.
  // Each function's probes go where the kernel can emulate the probed instruction when there
  // is such a place (bpf/uprobe_placement.h: free's after its NULL check).
  Result<void> attach(const std::string& libc = "libc.so.6",
                      std::optional<int32_t> pid = std::nullopt);

  // Where each allocator function was probed by the last attach(), e.g.
  // {"free", {9, true, "+9, after the NULL check (push: emulated)"}}: the record summary and
  // doctor show it, since a single-stepped probe costs ~35x an emulated one.
  struct Placement {
    std::string function;
    UprobePlacement placement;
  };
  const std::vector<Placement>& placements() const { return placements_; }

 private:
  using KernelProbe::KernelProbe;
  std::vector<Placement> placements_;
};

}  // namespace otlp::ebpf
