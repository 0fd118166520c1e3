#include "simulator/capacity_model.h"

#include <algorithm>
#include <deque>
#include <limits>

#include "core/clock.h"
#include "simulator/rng.h"

namespace bpftape::sim {

using otlp::ebpf::EbpfEvent;
using otlp::ebpf::EbpfEventType;
using otlp::ebpf::saturating_add;
using otlp::ebpf::saturating_mul;
using otlp::ebpf::saturating_sub;

void ArrivalPattern::push(uint64_t timestamp_ns, uint16_t cpu, transport::RingRoute route) {
  arrivals_.push_back(Arrival{timestamp_ns, route.footprint, cpu, route.ring});
  ++offered_[index(route.ring)];
}

void ArrivalPattern::add(const EbpfEvent& event) {
  const transport::RingRoute route = transport::ring_route(event.event_type);
  if (route.footprint != 0) add_arrival(event, route);
}

void ArrivalPattern::add_arrival(const EbpfEvent& event, transport::RingRoute route) {
  ++recorded_[index(route.ring)];
  if (!options_.filter.matches(event)) return;
  const bool resample = event.event_type == EbpfEventType::CpuSample && options_.sample_hz != 0 &&
                        options_.recorded_sample_hz != 0 &&
                        options_.sample_hz != options_.recorded_sample_hz;
  if (!resample) {
    push(event.timestamp_ns, event.cpu, route);
    return;
  }
  // Each recorded sample stands for 1/recorded_hz of this CPU's time: emit sample_hz /
  // recorded_hz samples for it, carrying the remainder, spaced at the new period.
  if (sample_credit_.size() <= event.cpu) sample_credit_.resize(event.cpu + 1u, 0);
  uint64_t& credit = sample_credit_[event.cpu];
  credit += options_.sample_hz;
  const uint64_t period_ns = 1'000'000'000ull / options_.sample_hz;
  for (uint64_t k = 0; credit >= options_.recorded_sample_hz; ++k) {
    credit -= options_.recorded_sample_hz;
    push(saturating_add(event.timestamp_ns, saturating_mul(k, period_ns)), event.cpu, route);
  }
}

void ArrivalPattern::add_batch(const otlp::ebpf::EventBatch& batch) {
  uint64_t first = UINT64_MAX, last = 0;
  size_t arrivals = 0;
  for (const auto& e : batch.events) {
    const transport::RingRoute route = transport::ring_route(e.event_type);
    if (route.footprint == 0) continue;
    add_arrival(e, route);
    first = std::min(first, e.timestamp_ns);
    last = std::max(last, e.timestamp_ns);
    ++arrivals;
  }
  if (arrivals >= 2) drain_spans_.push_back(last - first);
}

void ArrivalPattern::add_program_cost(std::string_view program, uint64_t run_time_ns) {
  if (auto ring = transport::ring_of_program(program)) {
    bpf_ns_[index(*ring)] = saturating_add(bpf_ns_[index(*ring)], run_time_ns);
    has_bpf_costs_ = true;
  }
}

void ArrivalPattern::finish() {
  // Stable: records of one CPU keep their ring order when timestamps tie.
  std::stable_sort(arrivals_.begin(), arrivals_.end(), [](const Arrival& a, const Arrival& b) {
    return a.timestamp_ns < b.timestamp_ns;
  });
}

namespace {

// Also where every time saturates: a time computed past the end of the uint64 range (only
// from a tape whose timestamps lie near 2^64) is one that never comes, so the consumer stops
// there instead of wrapping around to the past and running forever.
constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

// The consumer, the recorder's drain loop (RingBufferDrain::paced_drain): it waits as
// transport::ConsumerPacing says — asleep until a program's wakeup (after the scheduler's
// latency) or the idle timeout; one streaming tick; or one lazy period, cut short by a wakeup
// once wakeup_bytes wait. Then it drains records in arrival order at a fixed cost each until
// every ring is empty (records arriving meanwhile join the same pass, as ring_buffer__consume
// loops until the rings are empty), processes the batch for a fixed time per drain, and asks
// the pacing how to wait next. A wakeup that comes while it is awake makes the next asleep
// wait end at once (epoll remembers).
class Consumer {
 public:
  // Periods of 0 would let empty drains repeat without time moving (a lazy period that
  // doubles from 0 stays 0): the model takes them as 1 ns.
  static transport::ConsumerPacing::Options at_least_1ns(transport::ConsumerPacing::Options o) {
    for (uint64_t* period :
         {&o.tick_ns, &o.max_tick_ns, &o.lazy_min_ns, &o.lazy_ns, &o.idle_timeout_ns}) {
      *period = std::max<uint64_t>(*period, 1);
    }
    return o;
  }

  using Wait = transport::ConsumerPacing::Wait;

  Consumer(const TransportModel& model, CapacityPrediction& out, uint64_t start_ns)
      : model_(model), out_(out), pacing_(at_least_1ns(model.pacing)), clock_(start_ns),
        latency_rng_(1, "capacity/wake-latency") {
    begin_wait(start_ns);
  }

  struct Queued {
    uint64_t timestamp_ns;
    uint32_t footprint;
    transport::Ring ring;
  };

  // What the programs see when they submit (bt_submit's consumer mode).
  bool asleep() const { return state_ == State::Waiting && wait_ == Wait::Asleep && wake_at_ == kNever; }
  bool polling() const { return state_ == State::Waiting && wait_ == Wait::Lazy; }

  // Runs the consumer up to time t (exclusive of arrivals at t). Bounded: every pass of the
  // loop drains a record, or moves the consumer's time forward by at least 1 ns to a state
  // that leads to sleep after a few empty drains (ConsumerPacing), and a sleep with nothing to
  // do skips to t at once; at kNever it stops.
  void advance(uint64_t t, std::array<uint64_t, transport::kRingCount>& used) {
    for (;;) {
      switch (state_) {
        case State::Waiting: {
          if (queue_.empty() && wake_at_ == kNever && wait_ == Wait::Asleep && timer_at_ <= t) {
            // Idle: timeouts with nothing to drain change nothing; skip them.
            const uint64_t period = std::max<uint64_t>(pacing_.options().idle_timeout_ns, 1);
            timer_at_ = saturating_add(timer_at_,
                                       saturating_mul((t - timer_at_) / period + 1, period));
          }
          const uint64_t start = std::min(wake_at_, timer_at_);
          if (start == kNever || start > t) return;
          start_drain(start);
          break;
        }
        case State::Draining:
          while (!queue_.empty() && saturating_add(clock_, model_.consumer_ns_per_record) <= t) {
            const Queued& q = queue_.front();
            clock_ = saturating_add(clock_, model_.consumer_ns_per_record);
            out_.consumer_busy_ns =
                saturating_add(out_.consumer_busy_ns, model_.consumer_ns_per_record);
            used[static_cast<size_t>(q.ring)] -= q.footprint;
            out_.delivery.record(saturating_sub(clock_, q.timestamp_ns));
            queue_.pop_front();
            ++drained_;
          }
          if (!queue_.empty()) return;  // still draining at t
          state_ = State::Processing;
          clock_ = saturating_add(clock_, model_.consumer_ns_per_drain);
          out_.consumer_busy_ns =
              saturating_add(out_.consumer_busy_ns, model_.consumer_ns_per_drain);
          break;
        case State::Processing:
          if (clock_ > t) return;
          // The first drain's rate is taken over an idle timeout, as the recorder takes it.
          pacing_.after_drain(drained_, last_drain_end_ == kNever
                                            ? pacing_.options().idle_timeout_ns
                                            : saturating_sub(clock_, last_drain_end_));
          last_drain_end_ = clock_;
          begin_wait(clock_);
          break;
      }
    }
  }

  void enqueue(const Queued& q) { queue_.push_back(q); }

  // A program asked for a wakeup at t: a waiting consumer starts after the wake latency; an
  // awake one finds epoll ready when it next sleeps.
  void wake(uint64_t t) {
    if (state_ != State::Waiting) {
      wakeup_pending_ = true;
      return;
    }
    if (wake_at_ != kNever) return;  // already going to drain
    wake_at_ = std::min(timer_at_, saturating_add(t, draw_latency()));
  }

  // Drains what is left (end of the recording: the recorder empties the rings on stop).
  void drain_all(std::array<uint64_t, transport::kRingCount>& used) {
    if (queue_.empty()) return;
    const uint64_t start = std::min(wake_at_, timer_at_);
    const uint64_t last = queue_.back().timestamp_ns;
    // Long enough for the consumer to start and consume every queued record (or, for a tape
    // that ends near 2^64, until time saturates: what is still queued then is never delivered).
    const uint64_t consume_ns = saturating_mul(queue_.size(), model_.consumer_ns_per_record);
    advance(saturating_add(saturating_add(std::max({start, last, clock_}), consume_ns),
                           model_.consumer_ns_per_drain),
            used);
  }

 private:
  enum class State { Waiting, Draining, Processing };

  // How late the consumer runs after being made runnable: one of the tape's own drain spans
  // (how long its batches waited), else the fixed wake latency.
  uint64_t draw_latency() {
    const auto& samples = model_.wake_latencies_ns;
    return samples.empty() ? model_.wake_latency_ns : samples[latency_rng_.below(samples.size())];
  }

  void begin_wait(uint64_t at) {
    state_ = State::Waiting;
    wait_ = pacing_.next_wait();
    // A streaming tick comes no earlier than the tick, and no earlier than the scheduler lets
    // the consumer run: the recording's drain spans are the interval between its drains while
    // it streamed. The lazy period and the idle timeout are long enough to take as exact.
    // At least 1 ns, so that a model with zero-length waits still moves forward.
    const uint64_t wait = wait_ == Wait::Streaming ? std::max(pacing_.wait_ns(), draw_latency())
                                                   : pacing_.wait_ns();
    timer_at_ = saturating_add(at, std::max<uint64_t>(wait, 1));
    wake_at_ = kNever;
    // An asleep wait re-checks the rings first, and epoll reports a wakeup that came while the
    // consumer was awake: either way it drains again at once.
    if (wait_ == Wait::Asleep && (wakeup_pending_ || !queue_.empty())) wake_at_ = at;
    wakeup_pending_ = false;
  }

  void start_drain(uint64_t at) {
    if (wait_ == Wait::Streaming) ++out_.streaming_drains;
    state_ = State::Draining;
    clock_ = at;
    wake_at_ = kNever;
    drained_ = 0;
    ++out_.consumer_wakeups;
  }

  const TransportModel& model_;
  CapacityPrediction& out_;
  transport::ConsumerPacing pacing_;
  std::deque<Queued> queue_;
  State state_ = State::Waiting;
  Wait wait_ = Wait::Asleep;
  bool wakeup_pending_ = false;  // a program asked for a wakeup while the consumer was awake
  uint64_t clock_ = 0;      // draining/processing: how far the consumer has got
  uint64_t wake_at_ = kNever;
  uint64_t timer_at_ = kNever;
  size_t drained_ = 0;      // records consumed by the current drain
  uint64_t last_drain_end_ = kNever;
  Rng latency_rng_;  // fixed seed: the same inputs give the same prediction
};

}  // namespace

CapacityPrediction predict(const ArrivalPattern& pattern, const TransportModel& model) {
  CapacityPrediction out;
  const auto& arrivals = pattern.arrivals();
  std::array<uint64_t, transport::kRingCount> used{};
  std::array<uint64_t, transport::kRingCount> wakeup_bytes{};
  for (size_t r = 0; r < transport::kRingCount; ++r) {
    out.rings[r].capacity_bytes = model.ring_bytes[r];
    wakeup_bytes[r] = transport::effective_wakeup_bytes(model.wakeup_bytes, model.ring_bytes[r]);
  }
  Consumer consumer(model, out, pattern.first_ns());

  for (const auto& a : arrivals) {
    consumer.advance(a.timestamp_ns, used);
    const size_t r = static_cast<size_t>(a.ring);
    RingPrediction& ring = out.rings[r];
    ++ring.offered;
    if (used[r] + a.footprint > model.ring_bytes[r]) {
      ++ring.dropped;  // bpf_ringbuf_reserve failed; the program counts a drop
      continue;
    }
    used[r] += a.footprint;
    ring.peak_bytes = std::max(ring.peak_bytes, used[r]);
    consumer.enqueue({a.timestamp_ns, a.footprint, a.ring});
    // bt_submit: wake an asleep consumer (once), a polling one once wakeup_bytes wait.
    if (consumer.asleep() || (consumer.polling() && used[r] >= wakeup_bytes[r])) {
      ++out.bpf_wakeups;
      consumer.wake(a.timestamp_ns);
    }
  }
  consumer.drain_all(used);

  out.duration_ns = pattern.last_ns() - pattern.first_ns();
  for (size_t r = 0; r < transport::kRingCount; ++r) {
    RingPrediction& ring = out.rings[r];
    const auto id = static_cast<transport::Ring>(r);
    out.offered += ring.offered;
    out.dropped += ring.dropped;
    // The programs run for every offered record, kept or dropped: scale the recorded cost by
    // the records offered under the model's options.
    if (pattern.recorded_records(id) != 0) {
      ring.bpf_ns = static_cast<double>(pattern.recorded_bpf_ns(id)) *
                    static_cast<double>(ring.offered) /
                    static_cast<double>(pattern.recorded_records(id));
    }
    out.bpf_ns += ring.bpf_ns;
  }
  return out;
}

}  // namespace bpftape::sim
