#include "recorder/probe_set.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <time.h>

#include "core/clock.h"

namespace bpftape::record {

using namespace otlp::ebpf;

namespace {

constexpr uint32_t kUretprobeSyscall = 335;  // x86_64

// Calls fn(bpf_program*) for every loaded program of `object` (autoload off: not loaded).
template <typename Fn>
void for_each_loaded_program(bpf_object* object, Fn&& fn) {
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, object) {
    if (bpf_program__fd(prog) < 0) continue;
    fn(prog);
  }
}

}  // namespace

tape::BpfStatsSnapshot scaled_bpf_stats(std::span<const tape::BpfProgramStats> counted,
                                        double time_scale, bool sampled, const RingRecordCounts& rings,
                                        uint64_t timestamp_ns) {
  tape::BpfStatsSnapshot snapshot;
  snapshot.timestamp_ns = timestamp_ns;
  const bool exact = time_scale == 1.0;
  snapshot.sampled = sampled && !exact;
  for (tape::BpfProgramStats p : counted) {
    double scale = time_scale;
    if (auto ring = transport::ring_of_program(p.name); ring && !exact) {
      const size_t r = static_cast<size_t>(*ring);
      if (rings.measured[r] != 0) {
        scale = static_cast<double>(rings.delivered[r]) / static_cast<double>(rings.measured[r]);
      }
    }
    auto scaled = [scale](uint64_t v) {
      return static_cast<uint64_t>(static_cast<double>(v) * scale + 0.5);
    };
    p.run_time_ns = scaled(p.measured_run_time_ns);
    p.run_count = scaled(p.measured_run_count);
    snapshot.programs.push_back(std::move(p));
  }
  return snapshot;
}

tape::ProbeInfo probe_info(std::string_view program, std::string_view section) {
  const size_t slash = section.find('/');
  return tape::ProbeInfo{
      std::string(program), std::string(section.substr(0, slash)),
      slash == std::string_view::npos ? std::string() : std::string(section.substr(slash + 1))};
}

ProbeSet::~ProbeSet() { stop(); }

Result<std::unique_ptr<ProbeSet>> ProbeSet::load(const LiveOptions& options,
                                                 int consumer_state_fd) {
  std::unique_ptr<ProbeSet> set(new ProbeSet());
  auto probe_options = [&](transport::Ring ring) -> Result<ProbeOptions> {
    ProbeOptions o;
    o.filter = options.filter;
    o.ring_bytes = options.ring_bytes ? options.ring_bytes : transport::default_ring_bytes(ring);
    o.consumer_state_fd = consumer_state_fd;
    BPFTAPE_RETURN_IF_ERROR(o.validate());
    return o;
  };
  // The process probe comes first: forks and execs of the target are seen from the start.
  {
    BPFTAPE_ASSIGN_OR_RETURN(auto o, probe_options(transport::Ring::Process));
    BPFTAPE_ASSIGN_OR_RETURN(auto probe, ProcessProbe::create(o));
    ProcessProbe* raw = probe.get();
    set->add(std::move(probe), [raw] { return raw->attach(); });
  }
  if (options.syscalls) {
    BPFTAPE_ASSIGN_OR_RETURN(auto o, probe_options(transport::Ring::Syscall));
    BPFTAPE_ASSIGN_OR_RETURN(auto probe, SyscallProbe::create(o));
    SyscallProbe* raw = probe.get();
    if (options.memory) {
      // The memory tracer's uretprobes return through the uretprobe syscall (335, Linux >=
      // 6.11): bpftape's own probe effect, not the workload's behaviour.
      BPFTAPE_RETURN_IF_ERROR(raw->set_syscall_enabled(kUretprobeSyscall, false));
    }
    set->syscalls_ = raw;
    set->add(std::move(probe), [raw] { return raw->attach(); });
  }
  if (options.network) {
    BPFTAPE_ASSIGN_OR_RETURN(auto o, probe_options(transport::Ring::Network));
    BPFTAPE_ASSIGN_OR_RETURN(auto probe, NetworkProbe::create(o, options.capture_payload));
    NetworkProbe* raw = probe.get();
    set->add(std::move(probe), [raw] { return raw->attach(); });
  }
  if (options.memory) {
    BPFTAPE_ASSIGN_OR_RETURN(auto o, probe_options(transport::Ring::Memory));
    BPFTAPE_ASSIGN_OR_RETURN(auto probe, MemoryProbe::create(o));
    // One target process: attach the uprobes to it alone (no cost in other processes).
    std::optional<int32_t> pid = options.memory_pid;
    if (!pid && options.filter.tgids.size() == 1) {
      pid = static_cast<int32_t>(options.filter.tgids[0]);
    }
    MemoryProbe* raw = probe.get();
    set->memory_ = raw;
    set->add(std::move(probe), [raw, libc = options.libc, pid] { return raw->attach(libc, pid); });
  }
  if (options.cpu) {
    BPFTAPE_ASSIGN_OR_RETURN(auto o, probe_options(transport::Ring::CpuSample));
    BPFTAPE_ASSIGN_OR_RETURN(auto probe, CpuSampleProbe::create(o));
    CpuSampleProbe* raw = probe.get();
    set->add(std::move(probe), [raw, hz = options.sample_hz] { return raw->attach(hz); });
  }
  return set;
}

void ProbeSet::add(std::unique_ptr<KernelProbe> probe, std::function<Result<void>()> attach) {
  auto losses = std::make_unique<LossCounter>(probe->drops_fd());
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(probe->events_fd(), &info, &len) == 0) ring_bytes_ += info.max_entries;
  probes_.push_back(Probe{std::move(probe), std::move(losses), std::move(attach)});
}

Result<void> ProbeSet::start(BpfStatsMode mode) {
  for (auto& p : probes_) BPFTAPE_RETURN_IF_ERROR(p.attach());
  // Run-time stats cost two clock reads per program run; they are how overhead is measured
  // rather than guessed, and BpfStatsSampler keeps them on only while that is cheap. Started
  // once every probe is attached (its thread reads the programs' run counts). Failure (old
  // kernel, no CAP_SYS_ADMIN) only loses that figure.
  stats_sampler_ = std::make_unique<BpfStatsSampler>(
      BpfStatsSampler::Options{.mode = mode}, [this] { return total_program_runs(); },
      read_clock_ns(CLOCK_MONOTONIC));
  return {};
}

std::vector<int> ProbeSet::ring_fds() const {
  std::vector<int> fds;
  for (const auto& p : probes_) fds.push_back(p.probe->events_fd());
  return fds;
}

void ProbeSet::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& p : probes_) p.probe->detach();
  // No program runs from here on: the stats' time ends now, not when they are read.
  stopped_ns_ = read_clock_ns(CLOCK_MONOTONIC);
  if (stats_sampler_) stats_sampler_->stop(stopped_ns_);
}

Result<void> ProbeSet::pause() {
  if (stopped_ || paused_) return {};
  for (auto& p : probes_) p.probe->detach();
  paused_ = true;
  return {};
}

Result<void> ProbeSet::resume() {
  if (stopped_ || !paused_) return {};
  for (auto& p : probes_) BPFTAPE_RETURN_IF_ERROR(p.attach());
  paused_ = false;
  return {};
}

Result<void> ProbeSet::set_syscall_traced(uint32_t nr, bool enabled) {
  if (!syscalls_) {
    return make_error(ErrorKind::NotSupported, "syscall tracing is not on in this source");
  }
  return syscalls_->set_syscall_enabled(nr, enabled);
}

Result<void> ProbeSet::collect_losses(uint64_t now_ns, std::vector<LossRecord>& out) {
  if (!stopped_ && now_ns - losses_collected_ns_ < kLossCollectIntervalNs) return {};
  losses_collected_ns_ = now_ns;
  for (auto& p : probes_) {
    const size_t before = out.size();
    BPFTAPE_ASSIGN_OR_RETURN(size_t n, p.losses->collect(now_ns, out));
    for (size_t i = before; i < before + n; ++i) lost_ += out[i].count;
  }
  return {};
}

std::vector<tape::BpfProgramStats> ProbeSet::program_counters() const {
  std::vector<tape::BpfProgramStats> out;
  for (const auto& p : probes_) {
    for_each_loaded_program(p.probe->object(), [&](bpf_program* prog) {
      bpf_prog_info info{};
      uint32_t len = sizeof(info);
      if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) != 0) return;
      out.push_back(tape::BpfProgramStats{.name = bpf_program__name(prog),
                                          .program_id = info.id,
                                          .recursion_misses = info.recursion_misses,
                                          .measured_run_time_ns = info.run_time_ns,
                                          .measured_run_count = info.run_cnt});
    });
  }
  return out;
}

uint64_t ProbeSet::total_program_runs() const {
  uint64_t runs = 0;
  for (const auto& p : program_counters()) runs += p.measured_run_count;
  return runs;
}

uint64_t ProbeSet::now_or_stopped_ns() const {
  return stopped_ ? stopped_ns_ : read_clock_ns(CLOCK_MONOTONIC);
}

tape::BpfStatsSnapshot ProbeSet::bpf_stats() const {
  const uint64_t now = read_clock_ns(CLOCK_MONOTONIC);
  // Counters ran only part of the time (sampled): scale them to the whole recording.
  const double time_scale =
      stats_sampler_ ? stats_sampler_->scale(stopped_ ? stopped_ns_ : now) : 0.0;
  return scaled_bpf_stats(program_counters(), time_scale, stats_sampler_ != nullptr,
                          ring_records_, now);
}

double ProbeSet::bpf_stats_share() const {
  return stats_sampler_ ? stats_sampler_->measured_share(now_or_stopped_ns()) : 0.0;
}

std::vector<tape::ProbeInfo> ProbeSet::probes() const {
  std::vector<tape::ProbeInfo> out;
  for (const auto& p : probes_) {
    for_each_loaded_program(p.probe->object(), [&](bpf_program* prog) {
      out.push_back(probe_info(bpf_program__name(prog), bpf_program__section_name(prog)));
    });
  }
  return out;
}

}  // namespace bpftape::record
