#include "core/event_processor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/test_events.h"

namespace otlp::ebpf {
namespace {

using testing::syscall_at;
using testing::syscalls;

// Collects what the sink receives, batch by batch.
struct RecordingSink {
  std::vector<std::vector<EbpfEvent>> batches;
  EventSink sink() {
    return [this](std::span<const EbpfEvent> events) -> Result<void> {
      batches.emplace_back(events.begin(), events.end());
      return {};
    };
  }
  std::vector<EbpfEvent> all() const {
    std::vector<EbpfEvent> out;
    for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
    return out;
  }
};

TEST(EventProcessorTest, CreateRejectsBadSizes) {
  EXPECT_EQ(EventProcessor::create(0).error().kind(), ErrorKind::ConfigError);
  EXPECT_EQ(EventProcessor::with_batch_size(10, 0).error().kind(), ErrorKind::ConfigError);
  auto too_big = EventProcessor::with_batch_size(10, 11);
  ASSERT_FALSE(too_big.has_value());
  EXPECT_NE(too_big.error().message().find("batch size 11"), std::string::npos);
  auto ok = EventProcessor::create(1000);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->buffer_size(), 1000u);
  EXPECT_EQ(ok->batch_size(), 1000u);  // min(buffer, default 1024)
  EXPECT_EQ(EventProcessor::with_batch_size(1000, 50)->batch_size(), 50u);
}

TEST(EventProcessorTest, FlushReturnsEventsInArrivalOrderOnce) {
  auto p = EventProcessor::create(100).value();
  for (const auto& e : syscalls(1, 10)) ASSERT_TRUE(p.process_event(e).has_value());
  EXPECT_EQ(p.buffered(), 10u);
  auto out = p.flush_events();
  EXPECT_EQ(out, syscalls(1, 10));
  EXPECT_TRUE(p.flush_events().empty());
  EXPECT_EQ(p.stats().delivered, 10u);
  EXPECT_EQ(p.stats().buffered, 0u);
}

TEST(EventProcessorTest, SinkGetsExactBatchesAndFlushDeliversTheRest) {
  RecordingSink rec;
  auto p = EventProcessor::with_batch_size(100, 4).value();
  p.set_sink(rec.sink());
  auto outcome = p.process_batch(syscalls(1, 10));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->accepted, 10u);
  ASSERT_EQ(rec.batches.size(), 2u);
  EXPECT_EQ(rec.batches[0].size(), 4u);
  EXPECT_EQ(rec.batches[1].size(), 4u);
  EXPECT_EQ(p.buffered(), 2u);
  ASSERT_TRUE(p.flush_to_sink().has_value());
  ASSERT_EQ(rec.batches.size(), 3u);
  EXPECT_EQ(rec.batches[2].size(), 2u);
  EXPECT_EQ(rec.all(), syscalls(1, 10));
  EXPECT_EQ(p.stats().batches_delivered, 3u);
}

TEST(EventProcessorTest, FullBufferWithoutSinkRefusesAndCounts) {
  auto p = EventProcessor::with_batch_size(3, 3).value();
  auto outcome = p.process_batch(syscalls(1, 5));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->accepted, 3u);
  EXPECT_EQ(outcome->rejected, 2u);
  EXPECT_EQ(p.stats().rejected_by_reason[static_cast<size_t>(RejectReason::BufferFull)], 2u);
  auto single = p.process_event(syscall_at(99));
  ASSERT_FALSE(single.has_value());
  EXPECT_EQ(single.error().kind(), ErrorKind::EventProcessingFailed);
  EXPECT_NE(single.error().message().find("buffer full"), std::string::npos);
  EXPECT_EQ(p.flush_events(), syscalls(1, 3));
}

TEST(EventProcessorTest, FullBufferWithSinkFlushesInsteadOfDropping) {
  RecordingSink rec;
  // batch == buffer: delivery happens exactly when the buffer fills.
  auto p = EventProcessor::with_batch_size(4, 4).value();
  p.set_sink(rec.sink());
  ASSERT_TRUE(p.process_batch(syscalls(1, 9)).has_value());
  EXPECT_EQ(p.stats().rejected, 0u);
  ASSERT_TRUE(p.flush_to_sink().has_value());
  EXPECT_EQ(rec.all(), syscalls(1, 9));
}

TEST(EventProcessorTest, SinkFailureKeepsEventsAndCountsOverflow) {
  int calls = 0;
  bool failing = true;
  std::vector<EbpfEvent> received;
  auto p = EventProcessor::with_batch_size(4, 2).value();
  p.set_sink([&](std::span<const EbpfEvent> events) -> Result<void> {
    ++calls;
    if (failing) return make_error(ErrorKind::Io, "disk full");
    received.insert(received.end(), events.begin(), events.end());
    return {};
  });
  auto outcome = p.process_batch(syscalls(1, 6));
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().message(), "disk full");
  // 4 buffered (room), 2 refused as BufferFull: all 6 accounted for.
  const auto& s = p.stats();
  EXPECT_EQ(s.received, 6u);
  EXPECT_EQ(s.accepted, 4u);
  EXPECT_EQ(s.rejected_by_reason[static_cast<size_t>(RejectReason::BufferFull)], 2u);
  EXPECT_EQ(calls, 1);  // no retry storm within one call
  failing = false;
  ASSERT_TRUE(p.flush_to_sink().has_value());
  EXPECT_EQ(received, syscalls(1, 4));
  EXPECT_EQ(p.stats().delivered, 4u);
}

TEST(EventProcessorTest, InvalidEventsAreRejectedWithReasonAndIdleIsKept) {
  auto p = EventProcessor::create(100).value();
  auto idle = EbpfEvent::cpu_sample(5, 0, 0, 0, CpuSampleData{});
  auto bad = syscall_at(0);  // zero timestamp
  ASSERT_TRUE(p.process_event(idle).has_value());
  auto r = p.process_event(bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("zero timestamp"), std::string::npos);
  EXPECT_EQ(p.stats().received, 2u);
  EXPECT_EQ(p.stats().accepted, 1u);
  EXPECT_EQ(p.stats().rejected, 1u);
  EXPECT_EQ(p.stats().rejected_by_reason[static_cast<size_t>(RejectReason::ZeroTimestamp)], 1u);
  EXPECT_EQ(p.flush_events(), std::vector<EbpfEvent>{idle});
}

TEST(EventProcessorTest, StreamFilterCountsFilteredEvents) {
  auto p = EventProcessor::create(100).value();
  p.set_filter(EventFilter::by_pid(7));
  std::vector<EbpfEvent> in = {syscall_at(1, 7), syscall_at(2, 8), syscall_at(3, 7)};
  auto outcome = p.process_batch(in);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->filtered, 1u);
  EXPECT_EQ(p.stats().filtered, 1u);
  EXPECT_EQ(p.flush_events(), (std::vector<EbpfEvent>{in[0], in[2]}));
}

TEST(EventProcessorTest, QueriesAreNonDestructiveAndCompose) {
  auto p = EventProcessor::create(100).value();
  auto mem = EbpfEvent::memory_event(EbpfEventType::MemoryAlloc, 4, 7, 7, 0,
                                     MemoryData{.size = 8, .op = MemoryOp::Malloc});
  std::vector<EbpfEvent> in = {syscall_at(1, 7), syscall_at(2, 8), syscall_at(3, 7), mem};
  ASSERT_TRUE(p.process_batch(in).has_value());
  EXPECT_EQ(p.filter_by_pid(7), (std::vector<EbpfEvent>{in[0], in[2], in[3]}));
  EXPECT_EQ(p.filter_by_type(EbpfEventType::MemoryAlloc), std::vector<EbpfEvent>{mem});
  auto both = EventFilter::by_pid(7) && EventFilter::by_type(EbpfEventType::Syscall);
  EXPECT_EQ(p.filter_events(both), (std::vector<EbpfEvent>{in[0], in[2]}));
  EXPECT_EQ(p.filter_events(!both), (std::vector<EbpfEvent>{in[1], in[3]}));
  EXPECT_EQ(p.filter_events([](const EbpfEvent& e) { return e.timestamp_ns > 2; }),
            (std::vector<EbpfEvent>{in[2], in[3]}));
  EXPECT_EQ(p.filter_events(EventFilter::by_time(2, 4)), (std::vector<EbpfEvent>{in[1], in[2]}));
  EXPECT_EQ(p.buffered(), 4u);
}

TEST(EventProcessorTest, ClearIsCounted) {
  auto p = EventProcessor::create(100).value();
  ASSERT_TRUE(p.process_batch(syscalls(1, 5)).has_value());
  p.clear();
  EXPECT_EQ(p.buffered(), 0u);
  EXPECT_EQ(p.stats().cleared, 5u);
  EXPECT_EQ(p.stats().accepted, p.stats().delivered + p.stats().cleared + p.stats().buffered);
}

TEST(AsyncEventProcessorTest, DeliversEverythingFromSeveralThreads) {
  std::mutex mu;
  std::vector<EbpfEvent> received;
  auto sink = [&](std::span<const EbpfEvent> events) -> Result<void> {
    std::lock_guard lock(mu);
    received.insert(received.end(), events.begin(), events.end());
    return {};
  };
  auto p = AsyncEventProcessor::create(256, 32, sink, {}, /*queue_capacity=*/64).value();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // pid = thread, ts = sequence: per-thread order is checkable.
        ASSERT_TRUE(p->process_event(syscall_at(i + 1, 1000 + t)).has_value());
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(p->close().has_value());
  ASSERT_EQ(received.size(), size_t{kThreads * kPerThread});
  std::vector<uint64_t> last(kThreads, 0);
  for (const auto& e : received) {
    size_t t = e.pid - 1000;
    EXPECT_EQ(e.timestamp_ns, last[t] + 1) << "thread " << t << " out of order";
    last[t] = e.timestamp_ns;
  }
  auto s = p->stats();
  EXPECT_EQ(s.received, size_t{kThreads * kPerThread});
  EXPECT_EQ(s.delivered, size_t{kThreads * kPerThread});
  // Closed: further submissions are refused, not silently dropped.
  EXPECT_FALSE(p->process_event(syscall_at(1)).has_value());
}

TEST(AsyncEventProcessorTest, FlushWithoutSinkReturnsEverythingSubmittedBefore) {
  auto p = AsyncEventProcessor::create(1000, 10).value();
  ASSERT_TRUE(p->process_batch(syscalls(1, 25)).has_value());
  auto flushed = p->flush_events();
  ASSERT_TRUE(flushed.has_value());
  EXPECT_EQ(*flushed, syscalls(1, 25));
  ASSERT_TRUE(p->process_event(syscall_at(50)).has_value());
  auto second = p->flush_events_async().get();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, std::vector<EbpfEvent>{syscall_at(50)});
}

TEST(AsyncEventProcessorTest, SinkErrorSticksAndIsReported) {
  auto p = AsyncEventProcessor::create(
               4, 2, [](std::span<const EbpfEvent>) -> Result<void> {
                 return make_error(ErrorKind::Io, "collector down");
               })
               .value();
  ASSERT_TRUE(p->process_batch(syscalls(1, 2)).has_value());
  auto flushed = p->flush_events();  // waits for the worker to have tried the sink
  ASSERT_FALSE(flushed.has_value());
  EXPECT_EQ(flushed.error().message(), "collector down");
  auto next = p->process_event(syscall_at(9));
  ASSERT_FALSE(next.has_value());
  EXPECT_EQ(next.error().message(), "collector down");
  auto closed = p->close();
  ASSERT_FALSE(closed.has_value());
  EXPECT_EQ(p->stats().delivered, 0u);
}

}  // namespace
}  // namespace otlp::ebpf
