#include "bpf/kernel_probes.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "bpf/libbpf_raii.h"
#include "bpf/probe_manager.h"
#include "cpu_sample.skel.h"
#include "memory.skel.h"
#include "network.skel.h"
#include "process.skel.h"
#include "syscall.skel.h"

extern "C" {
#include "bpf/syscall.h"
}

namespace otlp::ebpf {

// Type-erased skeleton: the object pointer plus the skeleton's own destroy function.
struct KernelProbe::State {
  void* skeleton = nullptr;
  void (*destroy)(void*) = nullptr;
  bpf_object* object = nullptr;
  bpf_map* events = nullptr;
  bpf_map* drops = nullptr;
  std::vector<BpfLinkPtr> links;

  ~State() {
    links.clear();  // detach before the object goes away
    if (skeleton) destroy(skeleton);
  }
};

namespace {

template <typename Skel>
void destroy_skeleton(void* skel) {
  Skel::destroy(static_cast<Skel*>(skel));
}

// Writes the shared tunables (bpf/common.bpf.h) into a skeleton's rodata.
template <typename Rodata>
void apply_common(Rodata* ro, const ProbeOptions& options) {
  const ProbeFilter& f = options.filter;
  ro->self_tgid = options.self_tgid;
  ro->filter_tgid_count = static_cast<uint32_t>(f.tgids.size());
  for (size_t i = 0; i < f.tgids.size(); ++i) ro->filter_tgids[i] = f.tgids[i];
  ro->filter_tid = f.tid;
  ro->filter_cgroup_id = f.cgroup_id;
  ro->filter_comm_set = f.comm.empty() ? 0 : 1;
  std::memset(ro->filter_comm, 0, sizeof(ro->filter_comm));
  std::memcpy(ro->filter_comm, f.comm.data(), f.comm.size());
  ro->filter_active = (!f.tgids.empty() || f.tid || f.cgroup_id || !f.comm.empty()) ? 1 : 0;
  ro->wakeup_bytes = transport::effective_wakeup_bytes(options.wakeup_bytes, options.ring_bytes);
}

std::unexpected<EbpfError> load_error(const char* probe, int err, const std::vector<char>& log) {
  std::string verifier(log.data(), strnlen(log.data(), log.size()));
  if (verifier.size() > 2000) verifier = "..." + verifier.substr(verifier.size() - 2000);
  if (err == EPERM || err == EACCES) {
    return make_error(ErrorKind::InsufficientPermissions,
                      fmt::format("loading the {} BPF program: {} (run as root or grant "
                                  "CAP_BPF,CAP_PERFMON)", probe, std::strerror(err)));
  }
  return make_error(ErrorKind::LoadFailed,
                    fmt::format("loading the {} BPF program failed: {}{}{}", probe,
                                std::strerror(err), verifier.empty() ? "" : "\nverifier log:\n",
                                verifier));
}

std::unexpected<EbpfError> attach_failed(const std::string& what, int err) {
  const ErrorKind kind = (err == EPERM || err == EACCES) ? ErrorKind::InsufficientPermissions
                                                         : ErrorKind::AttachFailed;
  return make_error(kind, fmt::format("attaching {}: {}{}", what, std::strerror(err),
                                      kind == ErrorKind::InsufficientPermissions
                                          ? " (run as root or grant CAP_BPF,CAP_PERFMON)"
                                          : ""));
}

// open -> configure (rodata) -> load. `configure` sets probe-specific tunables.
template <typename Skel, typename Configure>
Result<std::unique_ptr<KernelProbe::State>> open_and_load(const char* probe,
                                                               const ProbeOptions& options,
                                                               Configure configure) {
  BPFTAPE_RETURN_IF_ERROR(options.validate());
  // The verifier log of a failed program lands here; needed until load returns.
  std::vector<char> log(256 * 1024, 0);
  LIBBPF_OPTS(bpf_object_open_opts, opts, .kernel_log_buf = log.data(),
              .kernel_log_size = log.size(), .kernel_log_level = 0);
  auto state = std::make_unique<KernelProbe::State>();
  Skel* skel = Skel::open(&opts);
  if (skel == nullptr) {
    return make_error(ErrorKind::LoadFailed, fmt::format("opening the {} BPF object: {}", probe,
                                                         std::strerror(errno)));
  }
  state->skeleton = skel;
  state->destroy = &destroy_skeleton<Skel>;
  state->object = skel->obj;
  state->events = skel->maps.events;
  state->drops = skel->maps.drops;
  apply_common(skel->rodata, options);
  if (bpf_map__set_max_entries(skel->maps.events, options.ring_bytes) != 0) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("ring size {} rejected: {}", options.ring_bytes,
                                  std::strerror(errno)));
  }
  if (options.consumer_state_fd >= 0 &&
      bpf_map__reuse_fd(skel->maps.consumer_state, options.consumer_state_fd) != 0) {
    return errno_error(ErrorKind::LoadFailed,
                       fmt::format("sharing the consumer-state map with the {} BPF object", probe),
                       errno);
  }
  configure(skel);
  if (Skel::load(skel) != 0) return load_error(probe, errno, log);
  return state;
}

}  // namespace

namespace {
template <typename Skel>
std::span<const std::byte> elf_of() {
  size_t size = 0;
  const void* data = Skel::elf_bytes(&size);
  return {static_cast<const std::byte*>(data), size};
}
}  // namespace

std::vector<std::string_view> builtin_bpf_object_names() {
  return {"syscall", "cpu_sample", "process", "network", "memory"};
}

Result<std::span<const std::byte>> builtin_bpf_object(std::string_view probe) {
  if (probe == "syscall") return elf_of<syscall_bpf>();
  if (probe == "cpu_sample") return elf_of<cpu_sample_bpf>();
  if (probe == "process") return elf_of<process_bpf>();
  if (probe == "network") return elf_of<network_bpf>();
  if (probe == "memory") return elf_of<memory_bpf>();
  return make_error(ErrorKind::ConfigError,
                    fmt::format("no built-in BPF object '{}' (syscall, cpu_sample, process, "
                                "network, memory)", probe));
}

Result<void> ProbeOptions::validate() const {
  if (filter.tgids.size() > ProbeFilter::kMaxTgids) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("the pid filter holds at most {} processes, got {}",
                                  ProbeFilter::kMaxTgids, filter.tgids.size()));
  }
  if (filter.comm.size() >= BT_COMM_LEN) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("comm filter '{}' is longer than the kernel's {} characters",
                                  filter.comm, BT_COMM_LEN - 1));
  }
  if (ring_bytes < 4096 || (ring_bytes & (ring_bytes - 1)) != 0) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("ring size {} must be a power of two >= 4096 bytes", ring_bytes));
  }
  return {};
}

KernelProbe::KernelProbe(std::unique_ptr<State> state) : state_(std::move(state)) {}
KernelProbe::~KernelProbe() = default;
int KernelProbe::events_fd() const { return bpf_map__fd(state_->events); }
int KernelProbe::drops_fd() const { return bpf_map__fd(state_->drops); }
bpf_object* KernelProbe::object() const { return state_->object; }
bool KernelProbe::attached() const { return !state_->links.empty(); }
void KernelProbe::detach() { state_->links.clear(); }

namespace {
// Attaches every program of the object as its SEC() says (raw_tp/, tp_btf/).
Result<void> attach_all(KernelProbe::State& state, const char* probe);
}  // namespace

// --- syscall ---

Result<std::unique_ptr<SyscallProbe>> SyscallProbe::create(const ProbeOptions& options) {
  BPFTAPE_ASSIGN_OR_RETURN(auto state,
                           open_and_load<syscall_bpf>("syscall", options, [](syscall_bpf*) {}));
  std::unique_ptr<SyscallProbe> probe(new SyscallProbe(std::move(state)));
  BPFTAPE_RETURN_IF_ERROR(probe->set_all_syscalls_enabled(true));
  return probe;
}

Result<void> SyscallProbe::attach() { return attach_all(*state_, "syscall"); }

Result<void> SyscallProbe::set_syscall_enabled(uint32_t nr, bool enabled) {
  if (nr >= BT_MAX_SYSCALLS) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("syscall number {} is beyond the {}-entry table", nr,
                                  BT_MAX_SYSCALLS));
  }
  auto* skel = static_cast<syscall_bpf*>(state_->skeleton);
  const uint8_t value = enabled ? 1 : 0;
  if (bpf_map__update_elem(skel->maps.syscall_enabled, &nr, sizeof(nr), &value, sizeof(value),
                           BPF_ANY) != 0) {
    return errno_error(ErrorKind::MapOperationFailed, "updating syscall_enabled", errno);
  }
  return {};
}

Result<void> SyscallProbe::set_all_syscalls_enabled(bool enabled) {
  for (uint32_t nr = 0; nr < BT_MAX_SYSCALLS; ++nr) {
    BPFTAPE_RETURN_IF_ERROR(set_syscall_enabled(nr, enabled));
  }
  return {};
}

// --- cpu sampling ---

Result<std::unique_ptr<CpuSampleProbe>> CpuSampleProbe::create(const ProbeOptions& options,
                                                               bool include_idle) {
  BPFTAPE_ASSIGN_OR_RETURN(auto state, open_and_load<cpu_sample_bpf>(
                                           "cpu_sample", options, [&](cpu_sample_bpf* skel) {
                                             skel->rodata->include_idle = include_idle ? 1 : 0;
                                           }));
  return std::unique_ptr<CpuSampleProbe>(new CpuSampleProbe(std::move(state)));
}

Result<void> CpuSampleProbe::attach(uint32_t sample_freq_hz, std::optional<int32_t> pid) {
  auto* skel = static_cast<cpu_sample_bpf*>(state_->skeleton);
  std::vector<BpfLinkPtr> links;
  BPFTAPE_RETURN_IF_ERROR(
      attach_cpu_clock_sampling(skel->progs.bt_cpu_sample, sample_freq_hz, pid, "/sys", links));
  for (auto& link : links) state_->links.push_back(std::move(link));
  return {};
}

// --- process ---

Result<std::unique_ptr<ProcessProbe>> ProcessProbe::create(const ProbeOptions& options) {
  BPFTAPE_ASSIGN_OR_RETURN(auto state,
                           open_and_load<process_bpf>("process", options, [](process_bpf*) {}));
  return std::unique_ptr<ProcessProbe>(new ProcessProbe(std::move(state)));
}

Result<void> ProcessProbe::attach() { return attach_all(*state_, "process"); }

// --- network ---

Result<std::unique_ptr<NetworkProbe>> NetworkProbe::create(const ProbeOptions& options,
                                                           bool capture_payload) {
  BPFTAPE_ASSIGN_OR_RETURN(auto state, open_and_load<network_bpf>(
                                           "network", options, [&](network_bpf* skel) {
                                             skel->rodata->capture_payload = capture_payload ? 1 : 0;
                                           }));
  return std::unique_ptr<NetworkProbe>(new NetworkProbe(std::move(state)));
}

Result<void> NetworkProbe::attach() { return attach_all(*state_, "network"); }

// --- memory ---

Result<std::unique_ptr<MemoryProbe>> MemoryProbe::create(const ProbeOptions& options,
                                                         bool capture_stacks) {
  BPFTAPE_ASSIGN_OR_RETURN(auto state, open_and_load<memory_bpf>(
                                           "memory", options, [&](memory_bpf* skel) {
                                             skel->rodata->capture_stacks = capture_stacks ? 1 : 0;
                                           }));
  return std::unique_ptr<MemoryProbe>(new MemoryProbe(std::move(state)));
}

Result<void> MemoryProbe::attach(const std::string& libc, std::optional<int32_t> pid) {
  BPFTAPE_ASSIGN_OR_RETURN(std::string path, ProbeManager::resolve_binary(libc, pid));
  auto* skel = static_cast<memory_bpf*>(state_->skeleton);
  struct Hook {
    const char* symbol;
    bpf_program* enter;
    bpf_program* exit;
    bool null_first_argument_is_noop;  // free(NULL) does nothing: its NULL check may be skipped
  };
  const Hook hooks[] = {
      {"malloc", skel->progs.bt_malloc_enter, skel->progs.bt_malloc_exit, false},
      {"calloc", skel->progs.bt_calloc_enter, skel->progs.bt_calloc_exit, false},
      {"realloc", skel->progs.bt_realloc_enter, skel->progs.bt_realloc_exit, false},
      {"free", skel->progs.bt_free_enter, skel->progs.bt_free_exit, true},
      {"mmap", skel->progs.bt_mmap_enter, skel->progs.bt_mmap_exit, false},
      {"munmap", skel->progs.bt_munmap_enter, skel->progs.bt_munmap_exit, false},
  };
  std::vector<BpfLinkPtr> links;  // all or nothing: a half-attached allocator probe miscounts
  std::vector<Placement> placements;
  for (const Hook& hook : hooks) {
    // An unreadable prologue keeps the entry: correct, only slower.
    UprobePlacement placement{0, false, "entry (prologue not readable)"};
    if (auto prologue = read_function_prologue(path, hook.symbol)) {
      placement = place_entry_uprobe(*prologue, hook.null_first_argument_is_noop);
    }
    // The return probe goes on the same instruction as the entry probe: one breakpoint serves
    // both, and before any push the return address is still at the top of the stack, where the
    // kernel takes it from.
    for (const bool ret : {false, true}) {
      LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret, .func_name = hook.symbol);
      bpf_link* link = bpf_program__attach_uprobe_opts(ret ? hook.exit : hook.enter, pid.value_or(-1),
                                                       path.c_str(), placement.offset, &opts);
      if (link == nullptr) {
        return attach_failed(fmt::format("{} {}:{}+{}", ret ? "uretprobe" : "uprobe", path,
                                         hook.symbol, placement.offset), errno);
      }
      links.emplace_back(link);
    }
    placements.push_back(Placement{hook.symbol, std::move(placement)});
  }
  placements_ = std::move(placements);
  for (auto& link : links) state_->links.push_back(std::move(link));
  return {};
}

namespace {
Result<void> attach_all(KernelProbe::State& state, const char* probe) {
  if (!state.links.empty()) {
    return make_error(ErrorKind::AttachFailed,
                      fmt::format("the {} probe is already attached", probe));
  }
  std::vector<BpfLinkPtr> links;
  bpf_program* prog;
  bpf_object__for_each_program(prog, state.object) {
    bpf_link* link = bpf_program__attach(prog);
    if (link == nullptr) {
      return attach_failed(fmt::format("{} ({})", bpf_program__name(prog),
                                       bpf_program__section_name(prog)), errno);
    }
    links.emplace_back(link);
  }
  state.links = std::move(links);
  return {};
}
}  // namespace

}  // namespace otlp::ebpf
