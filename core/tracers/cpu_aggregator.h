// CPU-sample aggregation: sample counts by (process, user stack, kernel stack). Symbolizing
// the stacks into a profile happens downstream; this keeps ids into the source's InternTable.
#pragma once

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "core/tracers/aggregator.h"

namespace otlp::ebpf {

struct CpuStats {
  uint64_t samples = 0;
  uint64_t idle_samples = 0;    // pid 0: the CPU had nothing to run
  uint64_t kernel_samples = 0;  // samples with a kernel stack
  uint64_t user_samples = 0;    // samples with a user stack
  uint64_t distinct_stacks = 0;
};

struct StackSamples {
  uint32_t pid = 0;
  StackId user_stack = kNoId;
  StackId kernel_stack = kNoId;
  uint64_t count = 0;
};

class CpuAggregator : public Aggregator {
 public:
  void consume(std::span<const EbpfEvent> events, const InternTable& interned) override;

  CpuStats stats() const;
  // Most samples first; ties by (pid, user, kernel): deterministic.
  std::vector<StackSamples> by_stack() const;
  // Samples per pid, ascending pid.
  std::map<uint32_t, uint64_t> by_pid() const;

 private:
  // Ordered map: cheap enough at profiling rates (99 Hz x CPUs) and deterministic.
  std::map<std::tuple<uint32_t, StackId, StackId>, uint64_t> counts_;
  CpuStats stats_;
};

}  // namespace otlp::ebpf
