#include "tracers/tracers.h"

#include <time.h>

#include <algorithm>
#include <chrono>

#include "core/tracers/syscall_names.h"

namespace otlp::ebpf {

namespace {

TracerRequest request_for(const EbpfConfig& config, bool cpu, bool syscalls, bool network,
                          bool memory) {
  return TracerRequest{.config = config, .cpu = cpu, .syscalls = syscalls, .network = network,
                       .memory = memory};
}

// The payload kind a tracer's samples have (what max_samples counts).
PayloadKind sample_kind(const TracerRequest& r) {
  if (r.cpu) return PayloadKind::CpuSample;
  if (r.syscalls) return PayloadKind::Syscall;
  if (r.network) return PayloadKind::Network;
  return PayloadKind::Memory;
}

// A recorded stream's task filter, applied where a live one is applied in the kernel.
EventFilter pipeline_filter(const TaskFilter& f) {
  EventFilter filter = f.tgids.empty() ? EventFilter::all() : EventFilter::by_pids(f.tgids);
  if (f.tid != 0) {
    const uint32_t tid = f.tid;
    filter = filter && EventFilter::predicate([tid](const EbpfEvent& e) { return e.tid == tid; });
  }
  return filter;
}

}  // namespace

// The one aggregator the pipeline feeds: passes the first max_samples samples (and the
// events between them) on to the tracer's aggregator, keeps them for stop() without the
// disabled syscalls, and counts what came after the cut.
class SourceTracer::Gate : public Aggregator {
 public:
  Gate(Aggregator& next, std::vector<EbpfEvent>& kept, PayloadKind kind, size_t max_samples,
       const std::bitset<SyscallAggregator::kMaxSyscalls>& disabled)
      : next_(next), kept_(kept), kind_(kind), budget_(max_samples), disabled_(disabled) {}

  void consume(std::span<const EbpfEvent> events, const InternTable& interned) override {
    size_t cut = 0;
    for (; cut < events.size() && budget_ > 0; ++cut) {
      const EbpfEvent& e = events[cut];
      const bool disabled = is_disabled(e);
      if (payload_kind(e.event_type) == kind_ && !disabled) --budget_;
      if (!disabled) kept_.push_back(e);
    }
    // Events between the last sample and the end of the batch, once the budget is spent, are
    // after the cut: the stream ends there.
    not_kept_ += events.size() - cut;
    if (cut != 0) next_.consume(events.first(cut), interned);
  }
  void consume_losses(std::span<const LossRecord> losses) override {
    next_.consume_losses(losses);
  }
  bool exhausted() const { return budget_ == 0; }
  uint64_t not_kept() const { return not_kept_; }

 private:
  bool is_disabled(const EbpfEvent& e) const {
    if (payload_kind(e.event_type) != PayloadKind::Syscall) return false;
    const uint32_t nr = e.payload.syscall.nr;
    return nr < disabled_.size() && disabled_.test(nr);
  }

  Aggregator& next_;
  std::vector<EbpfEvent>& kept_;
  PayloadKind kind_;
  size_t budget_;
  const std::bitset<SyscallAggregator::kMaxSyscalls>& disabled_;
  uint64_t not_kept_ = 0;
};

SourceTracer::SourceTracer(EbpfConfig config, std::unique_ptr<SourceProvider> provider,
                           TracerRequest request, Aggregator& aggregator)
    : config_(std::move(config)), provider_(std::move(provider)), request_(std::move(request)),
      aggregator_(aggregator) {}

SourceTracer::~SourceTracer() = default;

SourceTracer& SourceTracer::with_filter(TaskFilter filter) {
  request_.filter = std::move(filter);
  return *this;
}

Result<void> SourceTracer::start() {
  if (running_) return make_error(ErrorKind::ConfigError, "already running: stop() first");
  if (!provider_) return make_error(ErrorKind::ConfigError, "no source provider: pass one");
  BPFTAPE_RETURN_IF_ERROR(config_.validate());
  request_.config = config_;
  BPFTAPE_ASSIGN_OR_RETURN(source_, provider_->open(request_));
  PipelineOptions options;
  options.reorder_window_ns = source_->reorder_window_ns();
  if (!source_->live()) options.filter = pipeline_filter(request_.filter);
  BPFTAPE_ASSIGN_OR_RETURN(pipeline_, Pipeline::create(std::move(options)));
  if (request_.syscalls) {
    for (uint32_t nr = 0; nr < disabled_syscalls_.size(); ++nr) {
      if (disabled_syscalls_.test(nr)) BPFTAPE_RETURN_IF_ERROR(source_->set_syscall_traced(nr, false));
    }
  }
  events_.clear();
  thread_error_.reset();
  gate_ = std::make_unique<Gate>(aggregator_, events_, sample_kind(request_), config_.max_samples,
                                 disabled_syscalls_);
  pipeline_->add_aggregator(*gate_);
  stop_requested_ = false;
  stream_done_ = false;
  consumer_cpu_ns_ = 0;
  started_ns_ = read_clock_ns(CLOCK_MONOTONIC);
  stopped_ns_ = 0;
  first_event_ns_ = last_event_ns_ = 0;
  running_ = true;
  thread_ = std::thread([this] { run(); });
  return {};
}

uint64_t SourceTracer::duration_ns() const {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(config_.duration).count());
}

bool SourceTracer::is_running() const { return running_ && !stream_done_; }

Result<void> SourceTracer::consume(const EventBatch& batch) {
  const bool first_batch = first_event_ns_ == 0;
  for (const EbpfEvent& e : batch.events) {
    if (first_event_ns_ == 0 || e.timestamp_ns < first_event_ns_) first_event_ns_ = e.timestamp_ns;
    last_event_ns_ = std::max(last_event_ns_, e.timestamp_ns);
  }
  if (first_batch && first_event_ns_ != 0 && !source_->live()) {
    // A recorded stream's duration is exact: events from first + duration on are filtered
    // (the pipeline counts them); end_if_bounded() only stops reading.
    const uint64_t until = saturating_add(first_event_ns_, duration_ns());
    pipeline_->set_filter(pipeline_filter(request_.filter) &&
                          EventFilter::by_time(first_event_ns_, until));
  }
  BPFTAPE_RETURN_IF_ERROR(pipeline_->process(batch, source_->interned()));
  end_if_bounded();
  return {};
}

void SourceTracer::end_if_bounded() {
  if (source_->ended()) return;
  bool due = gate_->exhausted();
  // Live: wall time since start(); recorded: event time since the first event.
  const uint64_t origin = source_->live() ? started_ns_ : first_event_ns_;
  const uint64_t now = source_->now_ns().value_or(last_event_ns_);
  if (origin != 0 && now >= origin && now - origin >= duration_ns()) due = true;
  if (due) source_->end();
}

void SourceTracer::run() {
  EventBatch batch;
  while (!stop_requested_) {
    // Other threads touch the source and the pipeline only under mutex_ (lock_for_control).
    while (control_waiting_.load() > 0) std::this_thread::yield();
    std::lock_guard lock(mutex_);
    Result<bool> more = source_->next(batch);
    Result<void> consumed;
    if (more && *more) {
      consumed = consume(batch);
    } else if (more) {
      consumed = pipeline_->advance_to(UINT64_MAX, source_->interned());
    }
    if (!more || !consumed) {
      thread_error_ = more ? consumed.error() : more.error();
      break;
    }
    consumer_cpu_ns_ = read_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    if (!*more) break;  // the end of the stream: stop() finishes the pipeline
    // An idle live source returns empty batches: the duration is checked on those too.
    if (batch.empty()) end_if_bounded();
  }
  stream_done_ = true;
}

std::unique_lock<std::mutex> SourceTracer::lock_for_control() const {
  ++control_waiting_;
  if (source_) source_->interrupt_wait();
  std::unique_lock lock(mutex_);
  --control_waiting_;
  return lock;
}

Result<void> SourceTracer::sync() const {
  // Logically const: it only brings the aggregation up to what the source already produced.
  auto* self = const_cast<SourceTracer*>(this);
  if (!running_ || stream_done_ || thread_error_) return {};
  if (source_->live()) {
    // The drain thread used the interrupt lock_for_control() sent; this one makes the wait
    // below end at once, after draining everything the rings hold.
    source_->interrupt_wait();
    EventBatch batch;
    BPFTAPE_ASSIGN_OR_RETURN(bool more, source_->next(batch));
    if (more) BPFTAPE_RETURN_IF_ERROR(self->consume(batch));
  }
  return self->pipeline_->advance_to(source_->now_ns().value_or(last_event_ns_),
                                     source_->interned());
}

Result<void> SourceTracer::pause() {
  if (!running_) return make_error(ErrorKind::ConfigError, "not running: start() first");
  auto lock = lock_for_control();
  return source_->pause();
}

Result<void> SourceTracer::resume() {
  if (!running_) return make_error(ErrorKind::ConfigError, "not running: start() first");
  auto lock = lock_for_control();
  return source_->resume();
}

Result<void> SourceTracer::set_syscall_enabled(uint32_t nr, bool enabled) {
  auto lock = lock_for_control();
  if (nr < disabled_syscalls_.size()) disabled_syscalls_.set(nr, !enabled);
  if (running_ && !source_->ended()) return source_->set_syscall_traced(nr, enabled);
  return {};
}

Result<void> SourceTracer::finish() {
  if (!running_) return {};
  stop_requested_ = true;
  source_->interrupt_wait();  // the thread sees stop_requested_ within a drain
  thread_.join();
  running_ = false;
  stopped_ns_ = read_clock_ns(CLOCK_MONOTONIC);
  std::lock_guard lock(mutex_);
  if (thread_error_) return std::unexpected(*thread_error_);
  // Live: detach, then deliver what the rings still hold. Recorded: read on to the end (or
  // until duration or max_samples end the stream).
  if (source_->live()) source_->end();
  EventBatch batch;
  for (;;) {
    BPFTAPE_ASSIGN_OR_RETURN(bool more, source_->next(batch));
    if (!more) break;
    BPFTAPE_RETURN_IF_ERROR(consume(batch));
  }
  return pipeline_->finish(source_->interned());
}

uint64_t SourceTracer::events_not_kept() const {
  auto lock = lock_for_control();
  return gate_ ? gate_->not_kept() : 0;
}

EbpfOverheadMetrics SourceTracer::get_overhead() const {
  auto lock = lock_for_control();
  EbpfOverheadMetrics m;
  if (!source_ || !source_->live()) return m;
  const uint64_t end = stopped_ns_ ? stopped_ns_ : read_clock_ns(CLOCK_MONOTONIC);
  m.wall_ns = end - started_ns_;
  m.consumer_cpu_ns = consumer_cpu_ns_;
  source_->add_overhead(m);
  m.cpu_percent = m.wall_ns ? 100.0 * static_cast<double>(m.bpf_run_time_ns + m.consumer_cpu_ns) /
                                  static_cast<double>(m.wall_ns)
                            : 0.0;
  return m;
}

const InternTable* SourceTracer::interned() const { return source_ ? &source_->interned() : nullptr; }

Result<std::vector<EbpfEvent>> EventTracer::stop() {
  BPFTAPE_RETURN_IF_ERROR(finish());
  return take_events();
}

EbpfCpuProfiler::~EbpfCpuProfiler() { (void)finish(); }

EbpfCpuProfiler::EbpfCpuProfiler(EbpfConfig config, std::unique_ptr<SourceProvider> provider)
    : SourceTracer(config, std::move(provider), request_for(config, true, false, false, false),
                   cpu_) {}

Result<PprofProfile> EbpfCpuProfiler::stop() {
  BPFTAPE_RETURN_IF_ERROR(finish());
  if (!source()) return make_error(ErrorKind::ConfigError, "never started");
  const Symbolizer symbolizer = source()->symbolizer();
  ProfileOptions options;
  options.sample_hz = config().sample_rate;
  options.symbolizer = [&symbolizer](uint32_t pid, uint64_t address, bool) -> std::optional<ResolvedFrame> {
    Frame f = symbolizer.resolve(pid, address);
    if (!f.symbolized) return std::nullopt;
    return ResolvedFrame{f.function, f.module, 0};
  };
  EbpfOtlpConverter converter;
  converter.with_resource(ResourceConfig{})
      .with_recording(RecordingContext{source()->recording_id(), source()->clock(),
                                       first_event_ns(), last_event_ns()});
  BPFTAPE_ASSIGN_OR_RETURN(auto profile, converter.convert_profile_to_otlp(
                                             cpu_, source()->interned(), &source()->processes(),
                                             options));
  return std::move(profile.pprof);
}

EbpfSyscallTracer::~EbpfSyscallTracer() { (void)finish(); }

EbpfSyscallTracer::EbpfSyscallTracer(EbpfConfig config, std::unique_ptr<SourceProvider> provider)
    : EventTracer(config, std::move(provider), request_for(config, false, true, false, false),
                   syscalls_) {}

Result<void> EbpfSyscallTracer::filter_syscall(std::string_view name, bool enabled) {
  const std::optional<uint32_t> nr = syscall_number(name);
  // The aggregator's switch checks the name and gives the error for an unknown one.
  BPFTAPE_RETURN_IF_ERROR(current([&] { return syscalls_.filter_syscall(name, enabled); }));
  if (!nr) return {};
  return set_syscall_enabled(*nr, enabled);
}

EbpfNetworkTracer::~EbpfNetworkTracer() { (void)finish(); }

EbpfNetworkTracer::EbpfNetworkTracer(EbpfConfig config, std::unique_ptr<SourceProvider> provider)
    : EventTracer(config, std::move(provider), request_for(config, false, false, true, false),
                   network_) {}

EbpfMemoryTracer::~EbpfMemoryTracer() { (void)finish(); }

EbpfMemoryTracer::EbpfMemoryTracer(EbpfConfig config, std::unique_ptr<SourceProvider> provider)
    : EventTracer(config, std::move(provider), request_for(config, false, false, false, true),
                   memory_) {}

}  // namespace otlp::ebpf
