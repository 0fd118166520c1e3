#include "recorder/live_source.h"

#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "core/clock.h"
#include "core/sha256.h"

namespace bpftape::record {

using namespace otlp::ebpf;

namespace {

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

LiveSource::LiveSource(const LiveOptions& options)
    : clock_(ClockReference::now()),
      recording_id_(make_recording_id(clock_)),
      decoder_(interned_),
      drain_(decoder_, options.pacing),
      symbols_(StackSymbols::Options{.symbolize = options.symbolize,
                                     .stacks = options.resolves_stacks(),
                                     .collector = {.proc_root = options.proc_root}}),
      processes_(options.proc_root, &symbols_) {}

LiveSource::~LiveSource() = default;

Result<std::unique_ptr<LiveSource>> LiveSource::create(const LiveOptions& options) {
  std::unique_ptr<LiveSource> source(new LiveSource(options));
  // Every probe shares the drain's consumer state: programs wake the loop only when it sleeps.
  BPFTAPE_ASSIGN_OR_RETURN(const int consumer_state_fd, source->drain_.create_consumer_state());
  // Load every probe first (BTF, verifier: the slow part), then attach them together, so early
  // events do not wait in the rings while later probes load.
  BPFTAPE_ASSIGN_OR_RETURN(source->probes_, ProbeSet::load(options, consumer_state_fd));
  // kallsyms is large: read it now, not while the uprobes on libc would trap every one of
  // this process's allocations.
  if (options.cpu && options.symbolize) source->symbols_.preload_kernel_symbols();
  BPFTAPE_RETURN_IF_ERROR(source->probes_->start(options.bpf_stats));
  for (int fd : source->probes_->ring_fds()) BPFTAPE_RETURN_IF_ERROR(source->drain_.add_ring(fd));
  // Processes already running are named from /proc as their first event arrives.
  return source;
}

Result<bool> LiveSource::next(Delivery& delivery) {
  BPFTAPE_ASSIGN_OR_RETURN(bool more, next(delivery.batch));
  delivery.processes = processes_.take_updates();
  delivery.symbols = symbols_.take();
  return more;
}

Result<bool> LiveSource::next(EventBatch& batch) {
  batch.events.clear();
  batch.losses.clear();
  const bool stopped = probes_->stopped();
  // After stop(): no wakeups will come; just empty the rings.
  size_t records = 0;
  if (stopped) {
    BPFTAPE_ASSIGN_OR_RETURN(records, drain_.drain(batch));
  } else {
    BPFTAPE_ASSIGN_OR_RETURN(records, drain_.paced_drain(batch));
  }
  const uint64_t now = read_clock_ns(CLOCK_MONOTONIC);
  BPFTAPE_RETURN_IF_ERROR(probes_->collect_losses(now, batch.losses));
  if (stopped && records == 0 && batch.losses.empty()) return false;
  // One pass over the batch: delivery latency, records per CPU (placement) and per ring (what
  // sampled BPF stats are scaled by).
  DrainPlacement* placement = stopped ? nullptr : placement_.policy();
  const bool stats_on = probes_->stats_on();
  RingRecordCounts& ring_records = probes_->ring_records();
  for (const auto& e : batch.events) {
    latency_.record(now >= e.timestamp_ns ? now - e.timestamp_ns : 0);
    if (placement) placement->count(e.cpu);
    ring_records.count(e.event_type, stats_on);
  }
  if (placement) placement_.end_window(*placement, now);
  // Rings are per probe and CPUs interleave within one: order the batch (the pipeline's
  // sorter handles what still arrives late across batches).
  std::stable_sort(batch.events.begin(), batch.events.end(),
                   [](const EbpfEvent& a, const EbpfEvent& b) {
                     return a.timestamp_ns < b.timestamp_ns;
                   });
  events_ += batch.events.size();
  if (!batch.events.empty()) {
    if (first_event_ns_ == 0) first_event_ns_ = batch.events.front().timestamp_ns;
    last_event_ns_ = std::max(last_event_ns_, batch.events.back().timestamp_ns);
  }
  // Per event, in time order: an exec between two samples changes how the second is named.
  for (const auto& e : batch.events) {
    processes_.learn(e, interned_);
    symbols_.learn(e, interned_);
  }
  return true;
}

LiveSource::Stats LiveSource::stats() const {
  return Stats{events_,
               probes_->lost(),
               drain_.decode_errors(),
               probes_->bpf_stats_available(),
               probes_->bpf_stats_share(),
               probes_->ring_bytes(),
               interned_.memory_bytes(),
               first_event_ns_,
               last_event_ns_,
               drain_.paced_drains(),
               drain_.sleeps(),
               drain_.wakeups(),
               placement_.moves()};
}

}  // namespace bpftape::record
