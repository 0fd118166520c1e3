#include "recorder/tracers.h"

#include <time.h>

#include "core/report/symbolizer.h"

namespace otlp::ebpf {

namespace {


bpftape::record::LiveOptions options_for(const EbpfConfig& config, bool cpu, bool syscalls,
                                         bool network, bool memory) {
  bpftape::record::LiveOptions o = bpftape::record::live_options_from(config);
  o.cpu = cpu;
  o.syscalls = syscalls;
  o.network = network;
  o.memory = memory;
  return o;
}

}  // namespace

// Keeps delivered events for stop(), up to config.max_samples.
class LiveTracer::Collector : public Aggregator {
 public:
  Collector(std::vector<EbpfEvent>& events, uint64_t& not_kept, size_t max)
      : events_(events), not_kept_(not_kept), max_(max) {}
  void consume(std::span<const EbpfEvent> events, const InternTable&) override {
    const size_t room = max_ > events_.size() ? max_ - events_.size() : 0;
    const size_t kept = std::min(room, events.size());
    events_.insert(events_.end(), events.begin(), events.begin() + static_cast<ptrdiff_t>(kept));
    not_kept_ += events.size() - kept;
  }

 private:
  std::vector<EbpfEvent>& events_;
  uint64_t& not_kept_;
  size_t max_;
};

LiveTracer::LiveTracer(EbpfConfig config, bpftape::record::LiveOptions options, Aggregator& aggregator)
    : config_(std::move(config)), options_(std::move(options)), aggregator_(aggregator) {}

LiveTracer::~LiveTracer() = default;

LiveTracer& LiveTracer::with_filter(ProbeFilter filter) {
  options_.filter = std::move(filter);
  return *this;
}

Result<void> LiveTracer::start() {
  if (running_) return make_error(ErrorKind::ConfigError, "already running: stop() first");
  BPFTAPE_RETURN_IF_ERROR(config_.validate());
  BPFTAPE_ASSIGN_OR_RETURN(source_, bpftape::record::LiveSource::create(options_));
  BPFTAPE_ASSIGN_OR_RETURN(pipeline_, Pipeline::create(PipelineOptions{}));
  events_.clear();
  not_kept_ = 0;
  thread_error_.reset();
  collector_ = std::make_unique<Collector>(events_, not_kept_, config_.max_samples);
  pipeline_->add_aggregator(aggregator_);
  pipeline_->add_aggregator(*collector_);
  stop_requested_ = false;
  consumer_cpu_ns_ = 0;
  started_ns_ = read_clock_ns(CLOCK_MONOTONIC);
  stopped_ns_ = 0;
  running_ = true;
  thread_ = std::thread([this] { run(); });
  return {};
}

Result<void> LiveTracer::consume(const EventBatch& batch) {
  std::lock_guard lock(mutex_);
  return pipeline_->process(batch, source_->interned());
}

void LiveTracer::run() {
  EventBatch batch;
  while (!stop_requested_) {
    // Other threads touch the source and the pipeline only under mutex_ (lock_for_control).
    while (control_waiting_.load() > 0) std::this_thread::yield();
    Result<bool> more = [&] {
      std::lock_guard lock(mutex_);
      return source_->next(batch);
    }();
    Result<void> consumed;
    if (more && *more) consumed = consume(batch);
    if (!more || !consumed) {
      std::lock_guard lock(mutex_);
      thread_error_ = more ? consumed.error() : more.error();
      break;
    }
    consumer_cpu_ns_ = read_clock_ns(CLOCK_THREAD_CPUTIME_ID);
  }
}

std::unique_lock<std::mutex> LiveTracer::lock_for_control() const {
  ++control_waiting_;
  if (source_) source_->interrupt_wait();
  std::unique_lock lock(mutex_);
  --control_waiting_;
  return lock;
}

Result<void> LiveTracer::pause() {
  if (!running_) return make_error(ErrorKind::ConfigError, "not running: start() first");
  auto lock = lock_for_control();
  return source_->pause();
}

Result<void> LiveTracer::resume() {
  if (!running_) return make_error(ErrorKind::ConfigError, "not running: start() first");
  auto lock = lock_for_control();
  return source_->resume();
}

Result<void> LiveTracer::finish() {
  if (!running_) return {};
  stop_requested_ = true;
  source_->interrupt_wait();  // the thread sees stop_requested_ within a drain
  thread_.join();
  running_ = false;
  stopped_ns_ = read_clock_ns(CLOCK_MONOTONIC);
  std::lock_guard lock(mutex_);
  if (thread_error_) return std::unexpected(*thread_error_);
  source_->stop();
  EventBatch batch;
  for (;;) {
    BPFTAPE_ASSIGN_OR_RETURN(bool more, source_->next(batch));
    if (!more) break;
    BPFTAPE_RETURN_IF_ERROR(pipeline_->process(batch, source_->interned()));
  }
  return pipeline_->finish(source_->interned());
}

EbpfOverheadMetrics LiveTracer::get_overhead() const {
  auto lock = lock_for_control();
  EbpfOverheadMetrics m;
  if (!source_) return m;
  const uint64_t end = stopped_ns_ ? stopped_ns_ : read_clock_ns(CLOCK_MONOTONIC);
  m.wall_ns = end - started_ns_;
  for (const auto& p : source_->bpf_stats().programs) m.bpf_run_time_ns += p.run_time_ns;
  m.consumer_cpu_ns = consumer_cpu_ns_;
  const auto stats = source_->stats();
  m.bpf_stats_available = stats.bpf_stats_enabled;
  m.cpu_percent = m.wall_ns ? 100.0 * static_cast<double>(m.bpf_run_time_ns + m.consumer_cpu_ns) /
                                  static_cast<double>(m.wall_ns)
                            : 0.0;
  m.memory_bytes = stats.ring_bytes + stats.interned_bytes;
  m.event_latency_us = source_->delivery_latency().percentile(0.99) / 1000;
  return m;
}

const InternTable* LiveTracer::interned() const { return source_ ? &source_->interned() : nullptr; }

EbpfCpuProfiler::~EbpfCpuProfiler() { (void)finish(); }

EbpfCpuProfiler::EbpfCpuProfiler(EbpfConfig config)
    : LiveTracer(config, options_for(config, true, false, false, false), cpu_) {}

Result<PprofProfile> EbpfCpuProfiler::stop() {
  BPFTAPE_RETURN_IF_ERROR(finish());
  if (!source_) return make_error(ErrorKind::ConfigError, "never started");
  (void)source_->take_symbols();  // moves the last ones into all_symbols()
  const auto& all = source_->all_symbols();
  Symbolizer symbolizer(all.symbols, all.mappings);
  ProfileOptions options;
  options.sample_hz = config().sample_rate;
  options.symbolizer = [&symbolizer](uint32_t pid, uint64_t address, bool) -> std::optional<ResolvedFrame> {
    Frame f = symbolizer.resolve(pid, address);
    if (!f.symbolized) return std::nullopt;
    return ResolvedFrame{f.function, f.module, 0};
  };
  const auto stats = source_->stats();
  EbpfOtlpConverter converter;
  converter.with_resource(ResourceConfig{})
      .with_recording(RecordingContext{source_->recording_id(), source_->clock(), stats.first_event_ns,
                                       stats.last_event_ns});
  BPFTAPE_ASSIGN_OR_RETURN(auto profile, converter.convert_profile_to_otlp(cpu_, source_->interned(),
                                                                          &source_->processes(), options));
  return std::move(profile.pprof);
}

EbpfSyscallTracer::~EbpfSyscallTracer() { (void)finish(); }

EbpfSyscallTracer::EbpfSyscallTracer(EbpfConfig config)
    : LiveTracer(config, options_for(config, false, true, false, false), syscalls_) {}

Result<std::vector<EbpfEvent>> EbpfSyscallTracer::stop() {
  BPFTAPE_RETURN_IF_ERROR(finish());
  return take_events();
}

Result<void> EbpfSyscallTracer::filter_syscall(std::string_view name, bool enabled) {
  return locked([&] { return syscalls_.filter_syscall(name, enabled); });
}

EbpfNetworkTracer::~EbpfNetworkTracer() { (void)finish(); }

EbpfNetworkTracer::EbpfNetworkTracer(EbpfConfig config)
    : LiveTracer(config, options_for(config, false, false, true, false), network_) {}

Result<std::vector<EbpfEvent>> EbpfNetworkTracer::stop() {
  BPFTAPE_RETURN_IF_ERROR(finish());
  return take_events();
}

EbpfMemoryTracer::~EbpfMemoryTracer() { (void)finish(); }

EbpfMemoryTracer::EbpfMemoryTracer(EbpfConfig config)
    : LiveTracer(config, options_for(config, false, false, false, true), memory_) {}

Result<std::vector<EbpfEvent>> EbpfMemoryTracer::stop() {
  BPFTAPE_RETURN_IF_ERROR(finish());
  return take_events();
}

}  // namespace otlp::ebpf
