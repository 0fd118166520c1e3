// SimSource: a simulation as an EventSource, so it goes through exactly the pipeline a tape
// or a live recording does.
#pragma once

#include <memory>

#include "core/event_source.h"
#include "simulator/world.h"

namespace bpftape::sim {

class SimSource : public otlp::ebpf::EventSource {
 public:
  // `options` must be finalize()d; `observer` (may be null) must outlive the source.
  SimSource(const SimOptions& options, FateObserver* observer)
      : world_(options, observer) {}

  otlp::ebpf::Result<bool> next(otlp::ebpf::EventBatch& batch) override {
    return world_.next_batch(batch);
  }
  const otlp::ebpf::InternTable& interned() const override {
    return const_cast<World&>(world_).interned();
  }
  const otlp::ebpf::ProcessTable& processes() const override {
    return const_cast<World&>(world_).processes();
  }
  otlp::ebpf::ClockReference clock() const override { return world_.clock(); }
  std::string recording_id() const override;

  const World& world() const { return world_; }

 private:
  World world_;
};

}  // namespace bpftape::sim
