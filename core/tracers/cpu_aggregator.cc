#include "core/tracers/cpu_aggregator.h"

#include <algorithm>

namespace otlp::ebpf {

void CpuAggregator::consume(std::span<const EbpfEvent> events, const InternTable&) {
  for (const auto& e : events) {
    if (e.event_type != EbpfEventType::CpuSample) continue;
    const CpuSampleData& s = e.payload.cpu_sample;
    ++stats_.samples;
    if (e.pid == 0) ++stats_.idle_samples;
    if (s.kernel_stack != kNoId) ++stats_.kernel_samples;
    if (s.user_stack != kNoId) ++stats_.user_samples;
    ++counts_[{e.pid, s.user_stack, s.kernel_stack}];
  }
}

CpuStats CpuAggregator::stats() const {
  CpuStats out = stats_;
  out.distinct_stacks = counts_.size();
  return out;
}

std::vector<StackSamples> CpuAggregator::by_stack() const {
  std::vector<StackSamples> out;
  out.reserve(counts_.size());
  for (const auto& [key, count] : counts_) {
    out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), count});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const StackSamples& a, const StackSamples& b) { return a.count > b.count; });
  return out;
}

std::map<uint32_t, uint64_t> CpuAggregator::by_pid() const {
  std::map<uint32_t, uint64_t> out;
  for (const auto& [key, count] : counts_) out[std::get<0>(key)] += count;
  return out;
}

}  // namespace otlp::ebpf
