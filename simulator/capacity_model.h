// Capacity and overhead model (`bpftape simulate --from TAPE`): replays a recorded tape's
// arrival pattern through a model of the kernel -> user transport (core/transport.h: one ring
// per probe, record sizes, the bt_submit wakeup policy, a consumer paced as the recorder's
// drain loop is: transport::ConsumerPacing) and predicts, for other ring sizes, sample rates and filters, how many
// records each ring would drop, how full it gets, the delivery latency, and the CPU the BPF
// programs and the consumer would use — so a production config can be sized before it is
// deployed. See docs/simulator.md ("Capacity model") for the assumptions and how it was checked
// against live recordings.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/event_processor.h"
#include "core/tracers/latency_histogram.h"
#include "core/transport.h"

namespace bpftape::sim {

namespace transport = otlp::ebpf::transport;

// How recorded events become arrivals at the rings.
struct ArrivalOptions {
  // CPU sampling: the rate the tape was recorded at and the rate to model (0: as recorded).
  // Lower rates keep an evenly spread subset of each CPU's samples; higher ones add samples
  // spaced at the new period after each recorded one.
  uint32_t recorded_sample_hz = 0;
  uint32_t sample_hz = 0;
  // Events it rejects never reach a ring (the recorder filters targets inside the programs).
  otlp::ebpf::EventFilter filter;
};

// A tape's events as ring arrivals, in time order. Fill with add(), then finish().
class ArrivalPattern {
 public:
  struct Arrival {
    uint64_t timestamp_ns;
    uint32_t footprint;  // ring bytes (transport::ring_footprint); > 0
    uint16_t cpu;
    transport::Ring ring;
  };

  explicit ArrivalPattern(ArrivalOptions options) : options_(std::move(options)) {}

  // One recorded event; any order (finish() sorts). Events that do not occupy ring space of
  // their own (NetworkPayload) are not arrivals.
  void add(const otlp::ebpf::EbpfEvent& event);
  // A recorded batch: its events (add()), and its span as a sample of how long the consumer
  // took to drain. A recorder batch is one drain of the rings, so every record in it waited at
  // least from the batch's first timestamp to its last: the spans are the recording's own
  // measure of the consumer's reaction time (wakeup policy wait + scheduler latency).
  void add_batch(const otlp::ebpf::EventBatch& batch);
  // A BPF program's cumulative run time (kernel BPF stats, from the tape); programs that are
  // not bpftape's are ignored.
  void add_program_cost(std::string_view program, uint64_t run_time_ns);
  void finish();

  const std::vector<Arrival>& arrivals() const { return arrivals_; }
  // Records per ring as recorded, and as offered under the options (after filter/rate).
  uint64_t recorded_records(transport::Ring ring) const { return recorded_[index(ring)]; }
  uint64_t offered_records(transport::Ring ring) const { return offered_[index(ring)]; }
  // BPF run time per ring as recorded; has_bpf_costs() is false for tapes without BPF stats
  // (simulated tapes, recordings on kernels without kernel.bpf_stats_enabled support).
  uint64_t recorded_bpf_ns(transport::Ring ring) const { return bpf_ns_[index(ring)]; }
  bool has_bpf_costs() const { return has_bpf_costs_; }
  // Spans of the recorded batches with at least two arrivals, in recording order.
  const std::vector<uint64_t>& drain_spans() const { return drain_spans_; }
  uint64_t first_ns() const { return arrivals_.empty() ? 0 : arrivals_.front().timestamp_ns; }
  uint64_t last_ns() const { return arrivals_.empty() ? 0 : arrivals_.back().timestamp_ns; }

 private:
  static size_t index(transport::Ring ring) { return static_cast<size_t>(ring); }
  // A recorded event that occupies ring space (route.footprint > 0).
  void add_arrival(const otlp::ebpf::EbpfEvent& event, transport::RingRoute route);
  void push(uint64_t timestamp_ns, uint16_t cpu, transport::RingRoute route);

  ArrivalOptions options_;
  std::vector<Arrival> arrivals_;
  std::vector<uint64_t> drain_spans_;
  std::vector<uint64_t> sample_credit_;  // per CPU: rate conversion accumulator (Bresenham)
  std::array<uint64_t, transport::kRingCount> recorded_{};
  std::array<uint64_t, transport::kRingCount> offered_{};
  std::array<uint64_t, transport::kRingCount> bpf_ns_{};
  bool has_bpf_costs_ = false;
};

// The transport to model. Defaults are the recorder's (core/transport.h) and, for the consumer,
// what was measured on the development VM (docs/simulator.md).
struct TransportModel {
  std::array<uint64_t, transport::kRingCount> ring_bytes = {
      transport::kDefaultRingBytes[0], transport::kDefaultRingBytes[1],
      transport::kDefaultRingBytes[2], transport::kDefaultRingBytes[3],
      transport::kDefaultRingBytes[4]};
  uint64_t wakeup_bytes = transport::kDefaultWakeupBytes;
  transport::ConsumerPacing::Options pacing;
  // From a program's wakeup to the consumer draining. Each wakeup draws one of
  // `wake_latencies_ns` (the tape's drain spans, ArrivalPattern::drain_spans) with a fixed-seed
  // generator; when that is empty, every wakeup takes wake_latency_ns. Timer wakeups (ticks,
  // lazy periods, the idle timeout) are taken as exact.
  std::vector<uint64_t> wake_latencies_ns;
  uint64_t wake_latency_ns = 20'000;
  // Consumer CPU per record (ring read, decode, encoding; compression is on another thread)
  // and per drain (the loop around it: epoll, sorting the batch, process bookkeeping, timers),
  // during which it does not drain. Measured on the development VM: a 200 k-syscall recording
  // took 244 ms of recorder CPU over 16 k drains.
  uint64_t consumer_ns_per_record = 250;
  uint64_t consumer_ns_per_drain = 12'000;
};

struct RingPrediction {
  uint64_t capacity_bytes = 0;
  uint64_t offered = 0;   // records the programs tried to submit
  uint64_t dropped = 0;   // reservations that failed: the ring was full
  uint64_t peak_bytes = 0;
  double bpf_ns = 0;      // predicted BPF program run time for this ring's programs
};

struct CapacityPrediction {
  std::array<RingPrediction, transport::kRingCount> rings;
  uint64_t duration_ns = 0;     // first to last arrival
  uint64_t offered = 0;
  uint64_t dropped = 0;
  uint64_t bpf_wakeups = 0;     // wakeups the programs issued
  uint64_t consumer_wakeups = 0;  // times the consumer started draining (wakeup or timer)
  uint64_t streaming_drains = 0;  // ... of them after a streaming tick
  uint64_t consumer_busy_ns = 0;
  double bpf_ns = 0;            // 0 without BPF stats in the tape
  otlp::ebpf::LatencyHistogram delivery;  // arrival -> consumed, per delivered record

  // Shares of one CPU over the recording's duration.
  double bpf_cpu_share() const { return duration_ns ? bpf_ns / static_cast<double>(duration_ns) : 0; }
  double consumer_cpu_share() const {
    return duration_ns ? static_cast<double>(consumer_busy_ns) / static_cast<double>(duration_ns) : 0;
  }
};

// Runs `pattern` (finished) through `model`. Deterministic: same inputs, same prediction.
CapacityPrediction predict(const ArrivalPattern& pattern, const TransportModel& model);

}  // namespace bpftape::sim
