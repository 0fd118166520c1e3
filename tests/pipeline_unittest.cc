#include "core/pipeline.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>

#include "core/tracers/syscall_aggregator.h"
#include "tests/test_events.h"

namespace otlp::ebpf {
namespace {

using testing::syscall_at;

std::vector<uint64_t> times(const std::vector<EbpfEvent>& events) {
  std::vector<uint64_t> out;
  for (const auto& e : events) out.push_back(e.timestamp_ns);
  return out;
}

TEST(SorterTest, ReordersWithinTheWindow) {
  Sorter sorter(100);
  std::vector<EbpfEvent> out;
  std::vector<EbpfEvent> in = {syscall_at(10), syscall_at(50), syscall_at(30), syscall_at(120),
                               syscall_at(20), syscall_at(300)};
  sorter.push(in, out);
  // 300 arrived: watermark 200 releases everything up to 200, in order.
  EXPECT_EQ(times(out), (std::vector<uint64_t>{10, 20, 30, 50, 120}));
  sorter.flush(out);
  EXPECT_EQ(times(out), (std::vector<uint64_t>{10, 20, 30, 50, 120, 300}));
  EXPECT_EQ(sorter.stats().late_events, 0u);
  EXPECT_EQ(sorter.stats().emitted, 6u);
}

TEST(SorterTest, LateEventsAreDeliveredAndCounted) {
  Sorter sorter(10);
  std::vector<EbpfEvent> out;
  std::vector<EbpfEvent> first = {syscall_at(100), syscall_at(200), syscall_at(60)};
  sorter.push(first, out);  // one batch is sorted as a whole: 60 is not late
  EXPECT_EQ(times(out), (std::vector<uint64_t>{60, 100}));
  std::vector<EbpfEvent> second = {syscall_at(50)};
  sorter.push(second, out);  // a later batch older than what was emitted: late
  sorter.flush(out);
  EXPECT_EQ(times(out), (std::vector<uint64_t>{60, 100, 50, 200}));
  EXPECT_EQ(sorter.stats().late_events, 1u);
}

TEST(SorterTest, EqualTimestampsKeepArrivalOrder) {
  Sorter sorter(1000);
  std::vector<EbpfEvent> out;
  std::vector<EbpfEvent> in = {syscall_at(5, 1), syscall_at(5, 2), syscall_at(5, 3)};
  sorter.push(in, out);
  sorter.flush(out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].pid, 1u);
  EXPECT_EQ(out[1].pid, 2u);
  EXPECT_EQ(out[2].pid, 3u);
}

TEST(SorterTest, ZeroWindowPassesThrough) {
  Sorter sorter(0);
  std::vector<EbpfEvent> out;
  std::vector<EbpfEvent> in = {syscall_at(1), syscall_at(2), syscall_at(2), syscall_at(1)};
  sorter.push(in, out);
  EXPECT_EQ(times(out), (std::vector<uint64_t>{1, 2, 2, 1}));
  EXPECT_EQ(sorter.stats().late_events, 1u);
  EXPECT_EQ(sorter.stats().max_held, 0u);
}

// Any arrival order, any window: the output is a permutation of the input, and the events
// emitted after a later one are exactly those counted late; displacement below the window
// means no late events at all.
RC_GTEST_PROP(SorterProperties, OrderedExceptCountedLateEvents, ()) {
  auto base = *rc::gen::container<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(1, 10000));
  std::sort(base.begin(), base.end());
  auto jitter = *rc::gen::inRange<uint64_t>(0, 500);
  auto window = *rc::gen::inRange<uint64_t>(0, 1000);
  std::vector<EbpfEvent> in;
  for (size_t i = 0; i < base.size(); ++i) {
    uint64_t shift = jitter ? *rc::gen::inRange<uint64_t>(0, jitter + 1) : 0;
    in.push_back(syscall_at(base[i] + shift, static_cast<uint32_t>(i + 1)));
  }
  Sorter sorter(window);
  std::vector<EbpfEvent> out;
  size_t i = 0;
  while (i < in.size()) {
    size_t n = *rc::gen::inRange<size_t>(1, in.size() - i + 1);
    sorter.push(std::span(in).subspan(i, n), out);
    i += n;
  }
  sorter.flush(out);
  RC_ASSERT(out.size() == in.size());
  auto by_pid = [](const EbpfEvent& a, const EbpfEvent& b) { return a.pid < b.pid; };
  auto sorted_out = out;
  std::sort(sorted_out.begin(), sorted_out.end(), by_pid);
  RC_ASSERT(sorted_out == in);  // pids are the input positions
  uint64_t max_seen = 0, out_of_order = 0;
  for (const auto& e : out) {
    if (e.timestamp_ns < max_seen) ++out_of_order;
    max_seen = std::max(max_seen, e.timestamp_ns);
  }
  RC_ASSERT(out_of_order == sorter.stats().late_events);
  if (jitter <= window) RC_ASSERT(sorter.stats().late_events == 0u);
}

// The documented semantics written the slow, obvious way: every held event carries its
// arrival number, and each batch ends by emitting the held events up to the watermark sorted
// by (timestamp, arrival). The Sorter's FIFO + heap (with bulk copies) must match it exactly.
struct ReferenceSorter {
  uint64_t window_ns;
  std::vector<std::pair<uint64_t, EbpfEvent>> held;  // (arrival, event)
  uint64_t arrivals = 0, newest = 0, last_emitted = 0, late = 0, max_held = 0;
  bool emitted_any = false;

  void emit_up_to(uint64_t watermark, std::vector<EbpfEvent>& out) {
    std::stable_sort(held.begin(), held.end(), [](const auto& a, const auto& b) {
      return a.second.timestamp_ns != b.second.timestamp_ns
                 ? a.second.timestamp_ns < b.second.timestamp_ns
                 : a.first < b.first;
    });
    size_t n = 0;
    while (n < held.size() && held[n].second.timestamp_ns <= watermark) {
      out.push_back(held[n].second);
      last_emitted = std::max(last_emitted, held[n].second.timestamp_ns);
      emitted_any = true;
      ++n;
    }
    held.erase(held.begin(), held.begin() + static_cast<ptrdiff_t>(n));
  }
  void push(std::span<const EbpfEvent> events, std::vector<EbpfEvent>& out) {
    for (const auto& e : events) {
      if (emitted_any && e.timestamp_ns < last_emitted) {
        ++late;
        out.push_back(e);
        continue;
      }
      newest = std::max(newest, e.timestamp_ns);
      if (window_ns == 0 && held.empty() && e.timestamp_ns == newest) {
        out.push_back(e);
        last_emitted = std::max(last_emitted, e.timestamp_ns);
        emitted_any = true;
        continue;
      }
      held.emplace_back(arrivals++, e);
    }
    max_held = std::max<uint64_t>(max_held, held.size());
    emit_up_to(newest > window_ns ? newest - window_ns : 0, out);
  }
};

// Exact equivalence with the reference, on streams with many equal timestamps (ties between
// FIFO and heap events), batches of any size and rings that wrap and grow (> 1024 held).
RC_GTEST_PROP(SorterProperties, MatchesTheReferenceSemanticsExactly, ()) {
  const auto count = *rc::gen::inRange<size_t>(0, 5000);
  const auto spread = *rc::gen::inRange<uint64_t>(1, 200);  // small: many ties
  const auto jitter = *rc::gen::inRange<uint64_t>(0, 300);
  const auto window = *rc::gen::element<uint64_t>(0, 1, 50, 400, 100000);
  std::vector<EbpfEvent> in;
  uint64_t t = 1;
  for (size_t i = 0; i < count; ++i) {
    t += *rc::gen::inRange<uint64_t>(0, spread) / 100;  // mostly +0: equal timestamps
    uint64_t back = jitter ? *rc::gen::inRange<uint64_t>(0, jitter + 1) : 0;
    in.push_back(syscall_at(t + 1000 - std::min<uint64_t>(back, 999), static_cast<uint32_t>(i + 1)));
  }
  Sorter sorter(window);
  ReferenceSorter reference{window, {}};
  std::vector<EbpfEvent> out, expected;
  size_t i = 0;
  while (i < in.size()) {
    size_t n = std::min(in.size() - i, *rc::gen::inRange<size_t>(1, 3000));
    sorter.push(std::span(in).subspan(i, n), out);
    reference.push(std::span(in).subspan(i, n), expected);
    RC_ASSERT(out == expected);
    i += n;
  }
  sorter.flush(out);
  reference.emit_up_to(UINT64_MAX, expected);
  RC_ASSERT(out == expected);
  RC_ASSERT(sorter.stats().late_events == reference.late);
  RC_ASSERT(sorter.stats().max_held == reference.max_held);
  RC_ASSERT(sorter.stats().pushed == in.size());
  RC_ASSERT(sorter.stats().emitted == in.size());
}

// An in-memory source: batches handed out in order.
class VectorSource : public EventSource {
 public:
  explicit VectorSource(std::vector<EventBatch> batches) : batches_(std::move(batches)) {}
  Result<bool> next(EventBatch& batch) override {
    batch.clear();
    if (index_ >= batches_.size()) return false;
    batch = batches_[index_++];
    return true;
  }
  const InternTable& interned() const override { return interned_; }
  const ProcessTable& processes() const override { return processes_; }
  ClockReference clock() const override { return {}; }
  std::string recording_id() const override { return "test"; }

 private:
  std::vector<EventBatch> batches_;
  size_t index_ = 0;
  InternTable interned_;
  ProcessTable processes_;
};

TEST(PipelineTest, EverySourceEventIsAccountedForAndLossesAreSummed) {
  std::vector<EventBatch> batches(2);
  batches[0].events = {syscall_at(10, 1), syscall_at(30, 2), syscall_at(20, 1)};
  batches[0].losses = {LossRecord{25, 1, 7}};
  batches[1].events = {syscall_at(40, 1), syscall_at(0, 1) /* invalid */, syscall_at(50, 3)};
  batches[1].losses = {LossRecord{45, 1, 3}, LossRecord{46, 0, 1}};
  VectorSource source(batches);
  PipelineOptions options;
  options.batch_size = 2;
  options.buffer_size = 4;
  options.reorder_window_ns = 100;
  options.filter = !EventFilter::by_pid(3);
  auto pipeline = Pipeline::create(options).value();
  SyscallAggregator syscalls;
  pipeline->add_aggregator(syscalls);
  ASSERT_TRUE(pipeline->run(source).has_value());
  auto s = pipeline->stats();
  EXPECT_EQ(s.batches, 2u);
  EXPECT_EQ(s.source_events, 6u);
  EXPECT_EQ(s.processor.received, 6u);
  EXPECT_EQ(s.processor.delivered, 4u);
  EXPECT_EQ(s.processor.filtered, 1u);
  EXPECT_EQ(s.processor.rejected, 1u);
  EXPECT_EQ(s.sorter.late_events, 0u);
  EXPECT_EQ(s.losses.records, 3u);
  EXPECT_EQ(s.losses.events_lost, 11u);
  EXPECT_EQ(s.losses.lost_by_cpu, (std::map<uint16_t, uint64_t>{{0, 1}, {1, 10}}));
  EXPECT_EQ(syscalls.stats().syscalls_traced, 4u);
  EXPECT_EQ(syscalls.pids(), (std::vector<uint32_t>{1, 2}));
}

TEST(PipelineTest, RejectsBadOptions) {
  PipelineOptions options;
  options.batch_size = 0;
  EXPECT_EQ(Pipeline::create(options).error().kind(), ErrorKind::ConfigError);
}

}  // namespace
}  // namespace otlp::ebpf
