// Fixed inputs for the tracer benchmarks and the instruction-budget driver: a seeded simulation
// run through the real pipeline (Sorter -> EventProcessor), the delivered batches kept in
// memory. Aggregators then see exactly what they see in `bpftape simulate`/`replay`, and the
// cost of making the input stays outside whatever is measured.
#pragma once

#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "core/pipeline.h"
#include "core/tracers/aggregator.h"
#include "simulator/sim_source.h"

namespace bpftape::bench {

// An aggregator that keeps copies of what the pipeline delivers, batch by batch.
class CaptureAggregator final : public otlp::ebpf::Aggregator {
 public:
  void consume(std::span<const otlp::ebpf::EbpfEvent> events,
               const otlp::ebpf::InternTable&) override {
    batches.emplace_back(events.begin(), events.end());
    event_count += events.size();
  }
  void consume_losses(std::span<const otlp::ebpf::LossRecord> l) override {
    losses.insert(losses.end(), l.begin(), l.end());
  }
  std::vector<std::vector<otlp::ebpf::EbpfEvent>> batches;
  std::vector<otlp::ebpf::LossRecord> losses;
  uint64_t event_count = 0;
};

// The delivered stream of one simulation. `source` stays alive: the events' string and stack
// ids refer to its InternTable, and OTLP conversion names processes from its ProcessTable.
struct DeliveredStream {
  std::unique_ptr<sim::SimSource> source;
  CaptureAggregator delivered;

  const otlp::ebpf::InternTable& interned() const { return source->interned(); }

  // Feeds every delivered batch (and the losses) to `a`, as the pipeline would.
  void replay_into(otlp::ebpf::Aggregator& a) const {
    for (const auto& batch : delivered.batches) a.consume(batch, interned());
    a.consume_losses(delivered.losses);
  }
};

// `options` need not be finalize()d. Throws on failure (benchmark setup, not a product path).
inline std::unique_ptr<DeliveredStream> deliver_simulation(sim::SimOptions options) {
  if (auto r = options.finalize(); !r) throw std::runtime_error(r.error().to_string());
  auto stream = std::make_unique<DeliveredStream>();
  stream->source = std::make_unique<sim::SimSource>(options, nullptr);
  otlp::ebpf::PipelineOptions pipeline_options;
  pipeline_options.reorder_window_ns = options.reorder_window_ns();
  auto pipeline = otlp::ebpf::Pipeline::create(pipeline_options);
  if (!pipeline) throw std::runtime_error(pipeline.error().to_string());
  (*pipeline)->add_aggregator(stream->delivered);
  if (auto r = (*pipeline)->run(*stream->source); !r) {
    throw std::runtime_error(r.error().to_string());
  }
  return stream;
}

}  // namespace bpftape::bench
