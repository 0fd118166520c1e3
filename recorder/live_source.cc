#include "recorder/live_source.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sched.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/sha256.h"
#include "recorder/procfs.h"

namespace bpftape::record {

using namespace otlp::ebpf;

namespace {

constexpr uint32_t kUretprobeSyscall = 335;  // x86_64


// Identity of this recording: host, boot and start instant, hashed (stable for the tape's
// life, distinct between recordings; OTLP ids are derived from it).
std::string make_recording_id(const ClockReference& clock) {
  utsname u{};
  uname(&u);
  Sha256 h;
  h.update(u.nodename);
  h.update_u64(clock.realtime_ns);
  h.update_u64(clock.monotonic_ns);
  h.update_u64(static_cast<uint64_t>(getpid()));
  return Sha256::hex(h.finish()).substr(0, 32);
}

}  // namespace

LiveOptions live_options_from(const EbpfConfig& config) {
  LiveOptions o;
  o.syscalls = config.enable_syscall_tracing;
  o.cpu = config.enable_cpu_profiling;
  o.network = config.enable_network_tracing;
  o.memory = config.enable_memory_tracing;
  o.sample_hz = config.sample_rate;
  return o;
}

LiveSource::LiveSource(const LiveOptions& options)
    : options_(options),
      clock_(ClockReference::now()),
      recording_id_(make_recording_id(clock_)),
      decoder_(interned_),
      drain_(decoder_, options.pacing),
      symbols_(SymbolCollector::Options{.proc_root = options.proc_root}) {}

LiveSource::~LiveSource() {
  stop();
  probes_.clear();
}

Result<std::unique_ptr<LiveSource>> LiveSource::create(const LiveOptions& options) {
  std::unique_ptr<LiveSource> source(new LiveSource(options));
  // Every probe shares the drain's consumer state: programs wake the loop only when it sleeps.
  BPFTAPE_ASSIGN_OR_RETURN(const int consumer_state_fd, source->drain_.create_consumer_state());
  auto probe_options = [&](uint32_t default_ring_bytes) -> Result<ProbeOptions> {
    ProbeOptions o;
    o.filter = options.filter;
    o.ring_bytes = options.ring_bytes ? options.ring_bytes : default_ring_bytes;
    o.consumer_state_fd = consumer_state_fd;
    BPFTAPE_RETURN_IF_ERROR(o.validate());
    return o;
  };

  // Load every probe first (BTF, verifier: the slow part), then attach them together, so early
  // events do not wait in the rings while later probes load. The process probe comes first:
  // forks and execs of the target are seen from the start.
  {
    BPFTAPE_ASSIGN_OR_RETURN(auto o, probe_options(transport::default_ring_bytes(transport::Ring::Process)));
    BPFTAPE_ASSIGN_OR_RETURN(auto probe, ProcessProbe::create(o));
    ProcessProbe* raw = probe.get();
    source->add_probe(std::move(probe), "process", [raw] { return raw->attach(); });
  }
  if (options.syscalls) {
    BPFTAPE_ASSIGN_OR_RETURN(auto o, probe_options(transport::default_ring_bytes(transport::Ring::Syscall)));
    BPFTAPE_ASSIGN_OR_RETURN(auto probe, SyscallProbe::create(o));
    SyscallProbe* raw = probe.get();
    if (options.memory) {
      // The memory tracer's uretprobes return through the uretprobe syscall (335, Linux >=
      // 6.11): bpftape's own probe effect, not the workload's behaviour.
      BPFTAPE_RETURN_IF_ERROR(raw->set_syscall_enabled(kUretprobeSyscall, false));
    }
    source->add_probe(std::move(probe), "syscall", [raw] { return raw->attach(); });
  }
  if (options.network) {
    BPFTAPE_ASSIGN_OR_RETURN(auto o, probe_options(transport::default_ring_bytes(transport::Ring::Network)));
    BPFTAPE_ASSIGN_OR_RETURN(auto probe, NetworkProbe::create(o, options.capture_payload));
    NetworkProbe* raw = probe.get();
    source->add_probe(std::move(probe), "network", [raw] { return raw->attach(); });
  }
  if (options.memory) {
    BPFTAPE_ASSIGN_OR_RETURN(auto o, probe_options(transport::default_ring_bytes(transport::Ring::Memory)));
    BPFTAPE_ASSIGN_OR_RETURN(auto probe, MemoryProbe::create(o));
    // One target process: attach the uprobes to it alone (no cost in other processes).
    std::optional<int32_t> pid = options.memory_pid;
    if (!pid && options.filter.tgids.size() == 1) pid = static_cast<int32_t>(options.filter.tgids[0]);
    MemoryProbe* raw = probe.get();
    source->add_probe(std::move(probe), "memory",
                      [raw, libc = options.libc, pid] { return raw->attach(libc, pid); });
  }
  if (options.cpu) {
    BPFTAPE_ASSIGN_OR_RETURN(auto o, probe_options(transport::default_ring_bytes(transport::Ring::CpuSample)));
    BPFTAPE_ASSIGN_OR_RETURN(auto probe, CpuSampleProbe::create(o));
    CpuSampleProbe* raw = probe.get();
    source->add_probe(std::move(probe), "cpu_sample",
                      [raw, hz = options.sample_hz] { return raw->attach(hz); });
    // kallsyms is large: read it now, not while the uprobes on libc would trap every one of
    // this process's allocations.
    if (options.symbolize) source->symbols_.preload_kernel_symbols();
  }
  for (auto& p : source->probes_) {
    BPFTAPE_RETURN_IF_ERROR(p.attach());
    BPFTAPE_RETURN_IF_ERROR(source->drain_.add_ring(p.probe->events_fd()));
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(p.probe->events_fd(), &info, &len) == 0) source->ring_bytes_ += info.max_entries;
  }
  // Run-time stats cost two clock reads per program run; they are how overhead is measured
  // rather than guessed, and BpfStatsSampler keeps them on only while that is cheap. Started
  // once every probe is attached (its thread reads the programs' run counts). Failure (old
  // kernel, no CAP_SYS_ADMIN) only loses that figure.
  LiveSource* raw = source.get();
  source->stats_sampler_ = std::make_unique<BpfStatsSampler>(
      BpfStatsSampler::Options{.mode = options.bpf_stats},
      [raw] { return raw->total_program_runs(); }, read_clock_ns(CLOCK_MONOTONIC));
  // Processes already running are named from /proc as their first event arrives (learn()).
  return source;
}

void LiveSource::add_probe(std::unique_ptr<KernelProbe> probe, std::string name,
                           std::function<Result<void>()> attach) {
  auto losses = std::make_unique<LossCounter>(probe->drops_fd());
  probes_.push_back(Probe{std::move(name), std::move(probe), std::move(losses), std::move(attach)});
}

void LiveSource::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& p : probes_) p.probe->detach();
  // No program runs from here on: the stats' time ends now, not when they are read.
  stopped_ns_ = read_clock_ns(CLOCK_MONOTONIC);
  if (stats_sampler_) stats_sampler_->stop(stopped_ns_);
}

Result<void> LiveSource::pause() {
  if (stopped_ || paused_) return {};
  for (auto& p : probes_) p.probe->detach();
  paused_ = true;
  return {};
}

Result<void> LiveSource::resume() {
  if (stopped_ || !paused_) return {};
  for (auto& p : probes_) BPFTAPE_RETURN_IF_ERROR(p.attach());
  paused_ = false;
  return {};
}

Result<void> LiveSource::set_syscall_traced(uint32_t nr, bool enabled) {
  for (auto& p : probes_) {
    if (auto* syscalls = dynamic_cast<SyscallProbe*>(p.probe.get())) {
      return syscalls->set_syscall_enabled(nr, enabled);
    }
  }
  return make_error(ErrorKind::NotSupported, "syscall tracing is not on in this source");
}

Result<bool> LiveSource::next(EventBatch& batch) {
  batch.events.clear();
  batch.losses.clear();
  // After stop(): no wakeups will come; just empty the rings.
  size_t records = 0;
  if (stopped_) {
    BPFTAPE_ASSIGN_OR_RETURN(records, drain_.drain(batch));
  } else {
    BPFTAPE_ASSIGN_OR_RETURN(records, drain_.paced_drain(batch));
  }
  const uint64_t now = read_clock_ns(CLOCK_MONOTONIC);
  // Loss counters are a map read (a syscall) per probe: read them every kLossCollectIntervalNs,
  // not every poll; and always while stopping, so the last losses make it into the tape.
  if (stopped_ || now - losses_collected_ns_ >= kLossCollectIntervalNs) {
    losses_collected_ns_ = now;
    for (auto& p : probes_) {
      const size_t before = batch.losses.size();
      BPFTAPE_ASSIGN_OR_RETURN(size_t n, p.losses->collect(now, batch.losses));
      for (size_t i = before; i < before + n; ++i) lost_ += batch.losses[i].count;
    }
  }
  if (stopped_ && records == 0 && batch.losses.empty()) return false;
  // One pass over the batch: delivery latency, records per CPU (placement) and per ring (what
  // sampled BPF stats are scaled by).
  DrainPlacement* placement = stopped_ ? nullptr : drain_placement();
  const bool measured = stats_sampler_ && stats_sampler_->on();
  for (const auto& e : batch.events) {
    latency_.record(now >= e.timestamp_ns ? now - e.timestamp_ns : 0);
    if (placement) placement->count(e.cpu);
    const transport::RingRoute route = transport::ring_route(e.event_type);
    if (route.footprint == 0) continue;  // came out of another event's record
    const size_t r = static_cast<size_t>(route.ring);
    ++ring_records_[r];
    if (measured) ++ring_records_measured_[r];
  }
  if (placement) move_off_busy_cpus(*placement, now);
  // Rings are per probe and CPUs interleave within one: order the batch (the pipeline's
  // sorter handles what still arrives late across batches).
  std::stable_sort(batch.events.begin(), batch.events.end(),
                   [](const EbpfEvent& a, const EbpfEvent& b) { return a.timestamp_ns < b.timestamp_ns; });
  events_ += batch.events.size();
  if (!batch.events.empty()) {
    if (first_event_ns_ == 0) first_event_ns_ = batch.events.front().timestamp_ns;
    last_event_ns_ = std::max(last_event_ns_, batch.events.back().timestamp_ns);
  }
  learn(batch);
  return true;
}

DrainPlacement* LiveSource::drain_placement() {
  if (!placement_tried_) {
    placement_tried_ = true;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return nullptr;  // keep the scheduler's choice
    std::vector<int> allowed;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) allowed.push_back(cpu);
    }
    if (allowed.size() < 2) return nullptr;  // nowhere else to go
    placement_ = std::make_unique<DrainPlacement>(std::move(allowed), DrainPlacement::Options{});
  }
  return placement_.get();
}

void LiveSource::move_off_busy_cpus(DrainPlacement& placement, uint64_t now) {
  if (auto cpus = placement.end_window(now)) {
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
    if (moved) ++placement_moves_;
  }
}

void LiveSource::learn_process(uint32_t pid) {
  if (pid == 0 || !known_pids_.insert(pid).second) return;
  // Stacks of this process may follow: snapshot its mappings while it still exists (a
  // short-lived one may be gone by the time its stacks are resolved).
  if (options_.symbolize && (options_.cpu || options_.memory)) symbols_.snapshot_maps(pid);
  if (processes_.latest(pid)) return;
  auto info = read_process(pid, options_.proc_root);
  if (info) {
    processes_.upsert(*info);
  } else {
    processes_.upsert(ProcessInfo{.pid = pid});  // gone already: at least its pid is known
  }
}

void LiveSource::learn(const EventBatch& batch) {
  for (const auto& e : batch.events) {
    switch (e.event_type) {
      case EbpfEventType::ProcessFork: {
        const auto& p = e.payload.process;
        learn_process(e.pid);
        const ProcessInfo* parent = processes_.latest(e.pid);
        ProcessInfo child{.pid = p.child_pid, .ppid = e.pid,
                          .comm = std::string(interned_.string(p.comm)),
                          .start_ns = e.timestamp_ns};
        if (parent) {
          child.exe = parent->exe;
          child.cmdline = parent->cmdline;
          child.cgroup = parent->cgroup;
          child.container_id = parent->container_id;
        }
        processes_.upsert(child);
        known_pids_.insert(p.child_pid);
        symbols_.forget_pid(p.child_pid);  // a reused pid: its old maps are stale
        break;
      }
      case EbpfEventType::ProcessExec: {
        learn_process(e.pid);
        const ProcessInfo* current = processes_.latest(e.pid);
        ProcessInfo updated = current ? *current : ProcessInfo{.pid = e.pid};
        updated.comm = std::string(interned_.string(e.payload.process.comm));
        updated.exe = std::string(interned_.string(e.payload.process.filename));
        updated.cmdline.clear();
        if (auto now = read_process(e.pid, options_.proc_root)) {
          // Still running: /proc has the resolved exe path and the new command line.
          if (!now->exe.empty()) updated.exe = now->exe;
          updated.cmdline = now->cmdline;
          updated.cgroup = now->cgroup;
          updated.container_id = now->container_id;
        }
        processes_.upsert(updated);
        symbols_.forget_pid(e.pid);
        if (options_.symbolize && (options_.cpu || options_.memory)) symbols_.snapshot_maps(e.pid);
        break;
      }
      case EbpfEventType::ProcessExit:
        learn_process(e.pid);
        processes_.mark_exit(e.pid, e.timestamp_ns, e.payload.process.exit_code);
        break;
      default:
        learn_process(e.pid);
        break;
    }
    if (!options_.symbolize) continue;
    StackId user = kNoId, kernel = kNoId;
    if (e.event_type == EbpfEventType::CpuSample) {
      user = e.payload.cpu_sample.user_stack;
      kernel = e.payload.cpu_sample.kernel_stack;
    } else if (e.event_type == EbpfEventType::MemoryAlloc) {
      user = e.payload.memory.stack;
    }
    if (user != kNoId && seen_stacks_.emplace(e.pid, user).second) {
      symbols_.add_user_frames(e.pid, interned_.stack(user), pending_symbols_);
    }
    if (kernel != kNoId && seen_stacks_.emplace(0, kernel).second) {
      symbols_.add_kernel_frames(interned_.stack(kernel), pending_symbols_);
    }
  }
}

std::vector<tape::ProcessInfo> LiveSource::take_process_updates() {
  return process_records_.take_pending(processes_);
}

NewSymbols LiveSource::take_symbols() {
  all_symbols_.mappings.insert(all_symbols_.mappings.end(), pending_symbols_.mappings.begin(),
                               pending_symbols_.mappings.end());
  all_symbols_.symbols.insert(all_symbols_.symbols.end(), pending_symbols_.symbols.begin(),
                              pending_symbols_.symbols.end());
  return std::exchange(pending_symbols_, NewSymbols{});
}

template <typename Fn>
void LiveSource::for_each_program_info(Fn&& fn) const {
  for (const auto& p : probes_) {
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, p.probe->object()) {
      const int fd = bpf_program__fd(prog);
      if (fd < 0) continue;  // not loaded (autoload off)
      bpf_prog_info info{};
      uint32_t len = sizeof(info);
      if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) fn(bpf_program__name(prog), info);
    }
  }
}

uint64_t LiveSource::total_program_runs() const {
  uint64_t runs = 0;
  for_each_program_info([&](const char*, const bpf_prog_info& info) { runs += info.run_cnt; });
  return runs;
}

tape::BpfStatsSnapshot LiveSource::bpf_stats() const {
  tape::BpfStatsSnapshot snapshot;
  snapshot.timestamp_ns = read_clock_ns(CLOCK_MONOTONIC);
  // Counters ran only part of the time (sampled): scale them to the whole recording, by the
  // records each program's ring delivered (BpfStatsSampler), else by time.
  const double time_scale =
      stats_sampler_ ? stats_sampler_->scale(stopped_ ? stopped_ns_ : snapshot.timestamp_ns) : 0.0;
  const bool exact = time_scale == 1.0;
  snapshot.sampled = stats_sampler_ && !exact;
  for_each_program_info([&](const char* name, const bpf_prog_info& info) {
    double scale = time_scale;
    if (auto ring = transport::ring_of_program(name); ring && !exact) {
      const size_t r = static_cast<size_t>(*ring);
      if (ring_records_measured_[r] != 0) {
        scale = static_cast<double>(ring_records_[r]) / static_cast<double>(ring_records_measured_[r]);
      }
    }
    auto scaled = [scale](uint64_t v) { return static_cast<uint64_t>(static_cast<double>(v) * scale + 0.5); };
    snapshot.programs.push_back(tape::BpfProgramStats{name, info.id, scaled(info.run_time_ns),
                                                      scaled(info.run_cnt), info.recursion_misses,
                                                      info.run_time_ns, info.run_cnt});
  });
  return snapshot;
}

std::vector<tape::ProbeInfo> LiveSource::probes() const {
  std::vector<tape::ProbeInfo> out;
  for (const auto& p : probes_) {
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, p.probe->object()) {
      if (bpf_program__fd(prog) < 0) continue;
      // Section names are "kind/target" ("raw_tp/sys_exit", "tp_btf/sched_process_exec",
      // "uprobe", "perf_event"): the attach kind and what it attaches to.
      std::string_view section = bpf_program__section_name(prog);
      const size_t slash = section.find('/');
      out.push_back(tape::ProbeInfo{
          bpf_program__name(prog), std::string(section.substr(0, slash)),
          slash == std::string_view::npos ? std::string() : std::string(section.substr(slash + 1))});
    }
  }
  return out;
}

LiveSource::Stats LiveSource::stats() const {
  return Stats{events_,
               lost_,
               drain_.decode_errors(),
               stats_sampler_ && stats_sampler_->available(),
               stats_sampler_ ? stats_sampler_->measured_share(stopped_ ? stopped_ns_ : read_clock_ns(CLOCK_MONOTONIC)) : 0.0,
               ring_bytes_,
               interned_.memory_bytes(),
               first_event_ns_,
               last_event_ns_,
               drain_.paced_drains(),
               drain_.sleeps(),
               drain_.wakeups(),
               placement_moves_};
}

}  // namespace bpftape::record
