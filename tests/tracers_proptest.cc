// Properties of the tracer aggregations.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>

#include "core/tracers/latency_histogram.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/syscall_aggregator.h"
#include "testing/generators.h"

namespace otlp::ebpf {
namespace {

// Percentiles are never below the exact value and at most one bucket (12.5%) above it.
RC_GTEST_PROP(LatencyHistogramProperties, PercentilesWithinOneBucket, ()) {
  auto values = *rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(
      rc::gen::inRange<uint64_t>(0, uint64_t{1} << 40)));
  auto q = *rc::gen::inRange(1, 101) / 100.0;
  LatencyHistogram h;
  for (auto v : values) h.record(v);
  std::sort(values.begin(), values.end());
  auto rank = static_cast<size_t>(std::ceil(q * values.size()));
  uint64_t exact = values[std::max<size_t>(rank, 1) - 1];
  uint64_t got = h.percentile(q);
  RC_ASSERT(got >= exact);
  RC_ASSERT(static_cast<double>(got) <= std::max(15.0, exact * 1.125));
  RC_ASSERT(h.min() == values.front());
  RC_ASSERT(h.max() == values.back());
}

// Aggregates depend on the event stream, never on how it was cut into batches.
RC_GTEST_PROP(AggregatorProperties, BatchBoundariesDoNotMatter, ()) {
  // The shared generators (testing/generators.h), as other projects use them.
  const auto events = *bpftape::testing::valid_stream(
      {EbpfEventType::Syscall, EbpfEventType::MemoryAlloc, EbpfEventType::MemoryFree});
  InternTable interned;
  SyscallAggregator whole_sys, split_sys;
  MemoryAggregator whole_mem, split_mem;
  whole_sys.consume(events, interned);
  whole_mem.consume(events, interned);
  for (const auto& part : *bpftape::testing::batches_of(events)) {
    split_sys.consume(part, interned);
    split_mem.consume(part, interned);
  }
  auto a = whole_sys.by_syscall(), b = split_sys.by_syscall();
  RC_ASSERT(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    RC_ASSERT(a[k].nr == b[k].nr);
    RC_ASSERT(a[k].count == b[k].count);
    RC_ASSERT(a[k].errors == b[k].errors);
    RC_ASSERT(a[k].latency == b[k].latency);
  }
  auto ma = whole_mem.stats(), mb = split_mem.stats();
  RC_ASSERT(ma.allocations == mb.allocations);
  RC_ASSERT(ma.active_bytes == mb.active_bytes);
  RC_ASSERT(ma.unmatched_frees == mb.unmatched_frees);
  // Conservation: allocated = freed + outstanding.
  RC_ASSERT(ma.total_allocated == ma.total_freed + ma.active_bytes);
  uint64_t leak_bytes = 0;
  for (const auto& g : whole_mem.outstanding_by_stack()) leak_bytes += g.bytes;
  RC_ASSERT(leak_bytes == ma.active_bytes);
}

}  // namespace
}  // namespace otlp::ebpf
