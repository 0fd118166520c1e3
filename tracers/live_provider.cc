// The kernel as a TracerSource: recorder::LiveSource with the tracer's probes. Built only with
// BPF (no_live_provider.cc stands in otherwise).
#include <time.h>

#include "recorder/live_source.h"
#include "tracers/source.h"

namespace otlp::ebpf {
namespace {

using bpftape::record::LiveSource;

class LiveTracerSource : public TracerSource {
 public:
  explicit LiveTracerSource(std::unique_ptr<LiveSource> source) : source_(std::move(source)) {}

  Result<bool> next(EventBatch& batch) override { return source_->next(batch); }
  const InternTable& interned() const override { return source_->interned(); }
  const ProcessTable& processes() const override { return source_->processes(); }
  ClockReference clock() const override { return source_->clock(); }
  std::string recording_id() const override { return source_->recording_id(); }
  std::string_view kind() const override { return "live source"; }
  bool live() const override { return true; }
  std::optional<uint64_t> now_ns() const override { return read_clock_ns(CLOCK_MONOTONIC); }
  void end() override {
    ended_ = true;
    source_->stop();
  }
  void interrupt_wait() override { source_->interrupt_wait(); }
  Result<void> pause() override { return source_->pause(); }
  Result<void> resume() override { return source_->resume(); }
  Result<void> set_syscall_traced(uint32_t nr, bool enabled) override {
    return source_->set_syscall_traced(nr, enabled);
  }
  void add_overhead(EbpfOverheadMetrics& m) const override {
    for (const auto& p : source_->bpf_stats().programs) m.bpf_run_time_ns += p.run_time_ns;
    const auto stats = source_->stats();
    m.bpf_stats_available = stats.bpf_stats_enabled;
    m.memory_bytes = stats.ring_bytes + stats.interned_bytes;
    m.event_latency_us = source_->delivery_latency().percentile(0.99) / 1000;
  }
  Symbolizer symbolizer() override {
    (void)source_->take_symbols();  // moves the last ones into all_symbols()
    const auto& all = source_->all_symbols();
    return Symbolizer(all.symbols, all.mappings);
  }

 private:
  std::unique_ptr<LiveSource> source_;
};

class LiveProvider : public SourceProvider {
 public:
  Result<std::unique_ptr<TracerSource>> open(const TracerRequest& request) override {
    bpftape::record::LiveOptions o = bpftape::record::live_options_from(request.config);
    o.cpu = request.cpu;
    o.syscalls = request.syscalls;
    o.network = request.network;
    o.memory = request.memory;
    o.filter = ProbeFilter{.tgids = request.filter.tgids,
                           .tid = request.filter.tid,
                           .comm = request.filter.comm,
                           .cgroup_id = request.filter.cgroup_id};
    BPFTAPE_ASSIGN_OR_RETURN(auto source, LiveSource::create(o));
    return std::make_unique<LiveTracerSource>(std::move(source));
  }
};

}  // namespace

std::unique_ptr<SourceProvider> live_provider() { return std::make_unique<LiveProvider>(); }

}  // namespace otlp::ebpf
