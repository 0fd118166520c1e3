// The interface every tracer's aggregation implements. The pipeline calls consume() with the
// events the EventProcessor delivered (in order) and consume_losses() with the loss records of
// the same batches; the same aggregator code runs on live streams, tapes and simulations.
#pragma once

#include <span>

#include "core/event.h"
#include "core/intern_table.h"

namespace otlp::ebpf {

class Aggregator {
 public:
  virtual ~Aggregator() = default;
  // `interned` is the source's table: ids in `events` refer to it. Both are valid only
  // for the duration of the call; aggregators copy what they keep (strings by value).
  virtual void consume(std::span<const EbpfEvent> events, const InternTable& interned) = 0;
  virtual void consume_losses(std::span<const LossRecord> /*losses*/) {}
};

}  // namespace otlp::ebpf
