// Properties of EventProcessor and AsyncEventProcessor over arbitrary event streams.
// A failure prints RapidCheck's RC_PARAMS="reproduce=..." line; rerun the binary with it.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <thread>

#include "core/event_processor.h"

namespace otlp::ebpf {

// Shown by RapidCheck when a counterexample is printed.
void showValue(const EbpfEvent& e, std::ostream& os) {
  os << event_type_name(e.event_type) << "{ts=" << e.timestamp_ns << " pid=" << e.pid
     << " tid=" << e.tid << "}";
}

namespace {

// Mostly valid events of every type, with a few invalid ones (zero timestamp, idle task with
// a thread, missing thread, inconsistent memory op) so rejection paths are exercised too.
rc::Gen<EbpfEvent> arbitrary_event() {
  return rc::gen::exec([] {
    auto type = static_cast<EbpfEventType>(*rc::gen::inRange<int>(0, kEventTypeCount));
    uint64_t ts = *rc::gen::weightedOneOf<uint64_t>(
        {{19, rc::gen::inRange<uint64_t>(1, 1'000'000)}, {1, rc::gen::just<uint64_t>(0)}});
    uint32_t pid = *rc::gen::elementOf(std::vector<uint32_t>{0, 1, 2, 3, 4242});
    uint32_t tid = pid == 0 ? 0 : pid + *rc::gen::inRange<uint32_t>(0, 3);
    if (*rc::gen::inRange(0, 40) == 0) tid = pid == 0 ? 7 : 0;  // invalid pairing
    auto cpu = *rc::gen::inRange<uint16_t>(0, 4);
    switch (payload_kind(type)) {
      case PayloadKind::CpuSample:
        return EbpfEvent::cpu_sample(ts, pid, tid, cpu, CpuSampleData{*rc::gen::inRange(0u, 5u), 0});
      case PayloadKind::Syscall:
        return EbpfEvent::syscall_event(
            ts, pid, tid, cpu,
            SyscallData{.nr = *rc::gen::inRange(0u, 500u), .ret = *rc::gen::inRange<int64_t>(-5, 5),
                        .duration_ns = *rc::gen::inRange<uint64_t>(0, 10000)});
      case PayloadKind::Memory: {
        bool is_free = type == EbpfEventType::MemoryFree;
        MemoryOp op = is_free ? MemoryOp::Free : MemoryOp::Malloc;
        if (*rc::gen::inRange(0, 30) == 0) op = is_free ? MemoryOp::Malloc : MemoryOp::Free;
        return EbpfEvent::memory_event(type, ts, pid, tid, cpu,
                                       MemoryData{.address = *rc::gen::inRange<uint64_t>(1, 1 << 20),
                                                  .size = *rc::gen::inRange<uint64_t>(0, 4096),
                                                  .op = op});
      }
      case PayloadKind::Process:
        return EbpfEvent::process_event(type, ts, pid, tid, cpu, ProcessData{.parent_pid = 1});
      case PayloadKind::Network:
        return EbpfEvent::network_event(
            type, ts, pid, tid, cpu,
            NetworkData{.bytes = *rc::gen::inRange(0u, 1500u), .protocol = NetProtocol::Tcp,
                        .direction = NetDirection::Send});
    }
    return EbpfEvent::make(type, ts, pid, tid, cpu);
  });
}

rc::Gen<std::vector<EbpfEvent>> arbitrary_events() {
  return rc::gen::container<std::vector<EbpfEvent>>(arbitrary_event());
}

std::vector<EbpfEvent> valid_only(const std::vector<EbpfEvent>& events) {
  std::vector<EbpfEvent> out;
  std::copy_if(events.begin(), events.end(), std::back_inserter(out),
               [](const EbpfEvent& e) { return !validate_event(e).has_value(); });
  return out;
}

// A random filter built from the primitive filters and the combinators.
rc::Gen<std::pair<EventFilter, std::string>> arbitrary_filter(int depth = 2) {
  return rc::gen::exec([depth]() -> std::pair<EventFilter, std::string> {
    int choice = *rc::gen::inRange(0, depth > 0 ? 6 : 3);
    switch (choice) {
      case 0: {
        auto pid = *rc::gen::elementOf(std::vector<uint32_t>{0, 1, 2, 3, 4242});
        return {EventFilter::by_pid(pid), "pid=" + std::to_string(pid)};
      }
      case 1: {
        auto type = static_cast<EbpfEventType>(*rc::gen::inRange<int>(0, kEventTypeCount));
        return {EventFilter::by_type(type), "type=" + std::string(event_type_name(type))};
      }
      case 2: {
        auto cut = *rc::gen::inRange<uint64_t>(0, 1'000'000);
        return {EventFilter::predicate([cut](const EbpfEvent& e) { return e.timestamp_ns < cut; }),
                "ts<" + std::to_string(cut)};
      }
      case 3: {
        auto [a, sa] = *arbitrary_filter(depth - 1);
        auto [b, sb] = *arbitrary_filter(depth - 1);
        return {a && b, "(" + sa + " && " + sb + ")"};
      }
      case 4: {
        auto [a, sa] = *arbitrary_filter(depth - 1);
        auto [b, sb] = *arbitrary_filter(depth - 1);
        return {a || b, "(" + sa + " || " + sb + ")"};
      }
      default: {
        auto [a, sa] = *arbitrary_filter(depth - 1);
        return {!a, "!" + sa};
      }
    }
  });
}

// Events as raw bytes may carry anything: unknown types, and in the payload syscall numbers,
// memory ops, protocols and directions out of range, whatever the type. Values near the edges
// of what validate_event accepts are drawn more often than the rest.
rc::Gen<EbpfEvent> arbitrary_raw_event() {
  return rc::gen::exec([] {
    auto byte = [] {
      return *rc::gen::weightedOneOf<uint8_t>(
          {{3, rc::gen::elementOf(std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 16, 17,
                                                       18, 31, 32, 38, 255})},
           {1, rc::gen::arbitrary<uint8_t>()}});
    };
    EbpfEvent e = EbpfEvent::make(static_cast<EbpfEventType>(*rc::gen::inRange<int>(0, 16)),
                                  *rc::gen::elementOf(std::vector<uint64_t>{0, 1, 77, UINT64_MAX}),
                                  *rc::gen::elementOf(std::vector<uint32_t>{0, 1, 4242}),
                                  *rc::gen::elementOf(std::vector<uint32_t>{0, 1, 4243}));
    for (auto& b : e.payload.raw) b = static_cast<std::byte>(byte());
    // Syscall numbers around kMaxSyscallNr (the first 4 payload bytes, little-endian).
    if (*rc::gen::arbitrary<bool>()) {
      e.payload.syscall.nr = *rc::gen::elementOf(
          std::vector<uint32_t>{0, 1, kMaxSyscallNr - 1, kMaxSyscallNr, kMaxSyscallNr + 1, UINT32_MAX});
    }
    return e;
  });
}

// The batch fast path and admit() agree with validate_event on every event: exactly the valid
// ones are accepted, in order, and each rejected one is counted under validate_event's reason.
RC_GTEST_PROP(EventProcessorProperties, BatchValidationMatchesValidateEvent, ()) {
  auto events = *rc::gen::container<std::vector<EbpfEvent>>(arbitrary_raw_event());
  auto p = EventProcessor::create(events.size() + 1).value();
  const auto outcome = p.process_batch(events);
  RC_ASSERT(outcome.has_value());
  std::array<uint64_t, kRejectReasonCount> by_reason{};
  for (const auto& e : events) {
    if (auto reason = validate_event(e)) ++by_reason[static_cast<size_t>(*reason)];
  }
  const auto valid = valid_only(events);
  RC_ASSERT(outcome->accepted == valid.size());
  RC_ASSERT(outcome->rejected == events.size() - valid.size());
  RC_ASSERT(p.stats().rejected_by_reason == by_reason);
  RC_ASSERT(p.flush_events() == valid);
}

// Any stream, any buffer and batch size, flushes at random points: every valid event comes out
// exactly once, in order, and the sink only ever sees full batches.
RC_GTEST_PROP(EventProcessorProperties, EverythingComesOutOnceInOrder, ()) {
  auto events = *arbitrary_events();
  auto buffer_size = *rc::gen::inRange<size_t>(1, 64);
  auto batch_size = *rc::gen::inRange<size_t>(1, buffer_size + 1);
  auto p = EventProcessor::with_batch_size(buffer_size, batch_size).value();
  std::vector<EbpfEvent> out;
  size_t sink_calls = 0;
  p.set_sink([&](std::span<const EbpfEvent> batch) -> Result<void> {
    RC_ASSERT(batch.size() == batch_size);
    ++sink_calls;
    out.insert(out.end(), batch.begin(), batch.end());
    return {};
  });
  size_t i = 0;
  while (i < events.size()) {
    size_t chunk = *rc::gen::inRange<size_t>(1, events.size() - i + 1);
    if (*rc::gen::arbitrary<bool>()) {
      RC_ASSERT(p.process_batch(std::span(events).subspan(i, chunk)).has_value());
    } else {
      for (size_t k = i; k < i + chunk; ++k) (void)p.process_event(events[k]);
    }
    i += chunk;
    if (*rc::gen::inRange(0, 4) == 0) {
      auto flushed = p.flush_events();  // bypasses the sink, keeps order
      out.insert(out.end(), flushed.begin(), flushed.end());
    }
  }
  auto rest = p.flush_events();
  out.insert(out.end(), rest.begin(), rest.end());
  RC_ASSERT(out == valid_only(events));
  const auto& s = p.stats();
  RC_ASSERT(s.received == events.size());
  RC_ASSERT(s.received == s.accepted + s.filtered + s.rejected);
  RC_ASSERT(s.accepted == s.delivered + s.cleared + s.buffered);
  RC_ASSERT(s.rejected_by_reason[static_cast<size_t>(RejectReason::BufferFull)] == 0u);
  RC_ASSERT(s.batches_delivered == sink_calls);
}

// Queries return exactly the matching buffered events, in order; combinators behave as the
// boolean operators they are named after; stream filters count what they exclude.
RC_GTEST_PROP(EventProcessorProperties, FiltersReturnExactlyTheMatches, ()) {
  auto events = valid_only(*arbitrary_events());
  auto p = EventProcessor::create(events.size() + 1).value();
  RC_ASSERT(p.process_batch(events).has_value());
  auto [f, fs] = *arbitrary_filter();
  auto [g, gs] = *arbitrary_filter();
  RC_LOG() << "f = " << fs << ", g = " << gs << "\n";
  auto expect = [&](auto pred) {
    std::vector<EbpfEvent> want;
    std::copy_if(events.begin(), events.end(), std::back_inserter(want), pred);
    return want;
  };
  RC_ASSERT(p.filter_events(f) == expect([&](const EbpfEvent& e) { return f.matches(e); }));
  RC_ASSERT(p.filter_events(f && g) ==
            expect([&](const EbpfEvent& e) { return f.matches(e) && g.matches(e); }));
  RC_ASSERT(p.filter_events(f || g) ==
            expect([&](const EbpfEvent& e) { return f.matches(e) || g.matches(e); }));
  RC_ASSERT(p.filter_events(!f) == expect([&](const EbpfEvent& e) { return !f.matches(e); }));
  auto pid = *rc::gen::elementOf(std::vector<uint32_t>{0, 1, 2, 3, 4242});
  auto type = static_cast<EbpfEventType>(*rc::gen::inRange<int>(0, kEventTypeCount));
  RC_ASSERT(p.filter_by_pid(pid) == expect([&](const EbpfEvent& e) { return e.pid == pid; }));
  RC_ASSERT(p.filter_by_type(type) ==
            expect([&](const EbpfEvent& e) { return e.event_type == type; }));
  // Composition: filtering the result of one query by another == the conjunction.
  auto by_pid_then_type = p.filter_by_pid(pid);
  std::erase_if(by_pid_then_type, [&](const EbpfEvent& e) { return e.event_type != type; });
  RC_ASSERT(by_pid_then_type ==
            p.filter_events(EventFilter::by_pid(pid) && EventFilter::by_type(type)));
  RC_ASSERT(p.buffered() == events.size());  // queries never consume

  // The same filter as a stream filter: kept + filtered == all.
  auto q = EventProcessor::create(events.size() + 1).value();
  q.set_filter(f);
  RC_ASSERT(q.process_batch(events).has_value());
  RC_ASSERT(q.flush_events() == expect([&](const EbpfEvent& e) { return f.matches(e); }));
  RC_ASSERT(q.stats().filtered + q.stats().accepted == events.size());
}

// N producer threads: the sink sees the same multiset, each producer's events in its order.
RC_GTEST_PROP(AsyncEventProcessorProperties, ProducersLoseAndDuplicateNothing, ()) {
  auto threads = *rc::gen::inRange(1, 5);
  auto batch_size = *rc::gen::inRange<size_t>(1, 50);
  auto queue_capacity = *rc::gen::inRange<size_t>(1, 200);
  std::vector<std::vector<EbpfEvent>> inputs;
  for (int t = 0; t < threads; ++t) inputs.push_back(valid_only(*arbitrary_events()));
  std::mutex mu;
  std::vector<EbpfEvent> out;
  auto p = AsyncEventProcessor::create(
               batch_size * 4, batch_size,
               [&](std::span<const EbpfEvent> batch) -> Result<void> {
                 std::lock_guard lock(mu);
                 out.insert(out.end(), batch.begin(), batch.end());
                 return {};
               },
               {}, queue_capacity)
               .value();
  std::vector<std::thread> producers;
  std::atomic<int> failures{0};
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([&, t] {
      const auto& mine = inputs[t];
      for (size_t i = 0; i < mine.size(); i += 3) {  // mix single events and small batches
        bool ok = (i % 2 == 0)
                      ? p->process_event(mine[i]).has_value() &&
                            p->process_batch(std::span(mine).subspan(i + 1, std::min<size_t>(2, mine.size() - i - 1))).has_value()
                      : p->process_batch(std::span(mine).subspan(i, std::min<size_t>(3, mine.size() - i))).has_value();
        if (!ok) ++failures;
      }
    });
  }
  for (auto& th : producers) th.join();
  RC_ASSERT(p->close().has_value());
  RC_ASSERT(failures.load() == 0);
  std::vector<EbpfEvent> want;
  for (const auto& in : inputs) want.insert(want.end(), in.begin(), in.end());
  auto key = [](const EbpfEvent& a, const EbpfEvent& b) {
    return std::memcmp(&a, &b, sizeof(EbpfEvent)) < 0;
  };
  auto got = out;
  std::sort(want.begin(), want.end(), key);
  std::sort(got.begin(), got.end(), key);
  RC_ASSERT(got == want);
  // Per-producer order: each input is a subsequence of the output.
  for (const auto& in : inputs) {
    size_t k = 0;
    for (const auto& e : out) {
      if (k < in.size() && e == in[k]) ++k;
    }
    RC_ASSERT(k == in.size());
  }
}

// process_batch copies runs of admissible events in one go; it must be indistinguishable from
// the same events handed over one at a time: the same sink calls (sizes and contents), the
// same buffered events and the same stats, with or without a filter and invalid events.
RC_GTEST_PROP(EventProcessorProperties, BatchEqualsEventByEvent, ()) {
  const auto buffer_size = *rc::gen::inRange<size_t>(1, 64);
  const auto batch_size = *rc::gen::inRange<size_t>(1, buffer_size + 1);
  const bool with_sink = *rc::gen::arbitrary<bool>();
  const bool with_filter = *rc::gen::arbitrary<bool>();
  const auto filter = with_filter ? (*arbitrary_filter()).first : EventFilter::all();
  const auto events = *arbitrary_events();
  struct Run {
    EventProcessor processor;
    std::vector<std::vector<EbpfEvent>> sink_calls;
  };
  auto make = [&] {
    auto run = std::make_unique<Run>(Run{EventProcessor::with_batch_size(buffer_size, batch_size).value(), {}});
    run->processor.set_filter(filter);
    if (with_sink) {
      run->processor.set_sink([calls = &run->sink_calls](std::span<const EbpfEvent> batch) -> Result<void> {
        calls->emplace_back(batch.begin(), batch.end());
        return {};
      });
    }
    return run;
  };
  auto batched = make(), one_by_one = make();
  // A few calls, so that runs start with a partly filled buffer.
  size_t i = 0;
  while (i < events.size()) {
    size_t n = *rc::gen::inRange<size_t>(1, events.size() - i + 1);
    (void)batched->processor.process_batch(std::span(events).subspan(i, n));
    for (size_t k = i; k < i + n; ++k) (void)one_by_one->processor.process_event(events[k]);
    i += n;
  }
  RC_ASSERT(batched->sink_calls == one_by_one->sink_calls);
  RC_ASSERT(batched->processor.stats() == one_by_one->processor.stats());
  auto a = batched->processor.buffered_events(), b = one_by_one->processor.buffered_events();
  RC_ASSERT(std::equal(a.begin(), a.end(), b.begin(), b.end()));
}

// ---- Stateful test: EventProcessor against a model ----

struct Model {
  size_t buffer_size = 0;
  size_t batch_size = 0;
  std::deque<EbpfEvent> buffered;
  std::vector<EbpfEvent> delivered;  // via sink or flush_events, in order
  uint64_t rejected = 0;
  uint64_t cleared = 0;
};

struct Sut {
  EventProcessor processor;
  std::vector<EbpfEvent> delivered;
  bool has_sink = false;
};

using Command = rc::state::Command<Model, Sut>;

// Model of one event entering: the same rules the contract in event_processor.h states.
void model_admit(Model& m, bool has_sink, const EbpfEvent& e) {
  if (has_sink && m.buffered.size() >= m.buffer_size) {
    m.delivered.insert(m.delivered.end(), m.buffered.begin(), m.buffered.end());
    m.buffered.clear();
  }
  if (validate_event(e) || m.buffered.size() >= m.buffer_size) {
    ++m.rejected;
    return;
  }
  m.buffered.push_back(e);
  if (has_sink && m.buffered.size() >= m.batch_size) {
    size_t n = m.buffered.size() - m.buffered.size() % m.batch_size;
    m.delivered.insert(m.delivered.end(), m.buffered.begin(), m.buffered.begin() + n);
    m.buffered.erase(m.buffered.begin(), m.buffered.begin() + n);
  }
}

void check_matches(const Model& m, const Sut& s) {
  const auto& st = s.processor.stats();
  RC_ASSERT(st.buffered == m.buffered.size());
  RC_ASSERT(st.rejected == m.rejected);
  RC_ASSERT(st.cleared == m.cleared);
  RC_ASSERT(s.delivered == m.delivered);
  auto buf = s.processor.buffered_events();
  RC_ASSERT(std::equal(buf.begin(), buf.end(), m.buffered.begin(), m.buffered.end()));
}

template <bool kWithSink>
struct ProcessEvent : Command {
  EbpfEvent event = *arbitrary_event();
  void apply(Model& m) const override { model_admit(m, kWithSink, event); }
  void run(const Model& m, Sut& s) const override {
    (void)s.processor.process_event(event);
    Model next = m;
    apply(next);
    check_matches(next, s);
  }
  void show(std::ostream& os) const override { os << "process_event("; showValue(event, os); os << ")"; }
};

template <bool kWithSink>
struct ProcessBatch : Command {
  std::vector<EbpfEvent> events = *rc::gen::resize(20, arbitrary_events());
  void apply(Model& m) const override {
    for (const auto& e : events) model_admit(m, kWithSink, e);
  }
  void run(const Model& m, Sut& s) const override {
    RC_ASSERT(s.processor.process_batch(events).has_value());
    Model next = m;
    apply(next);
    check_matches(next, s);
  }
  void show(std::ostream& os) const override { os << "process_batch(" << events.size() << " events)"; }
};

struct FlushEvents : Command {
  void apply(Model& m) const override {
    m.delivered.insert(m.delivered.end(), m.buffered.begin(), m.buffered.end());
    m.buffered.clear();
  }
  void run(const Model& m, Sut& s) const override {
    auto out = s.processor.flush_events();
    s.delivered.insert(s.delivered.end(), out.begin(), out.end());
    Model next = m;
    apply(next);
    check_matches(next, s);
  }
  void show(std::ostream& os) const override { os << "flush_events()"; }
};

struct Clear : Command {
  void apply(Model& m) const override {
    m.cleared += m.buffered.size();
    m.buffered.clear();
  }
  void run(const Model& m, Sut& s) const override {
    s.processor.clear();
    Model next = m;
    apply(next);
    check_matches(next, s);
  }
  void show(std::ostream& os) const override { os << "clear()"; }
};

template <bool kWithSink>
void run_stateful() {
  Model model;
  model.buffer_size = *rc::gen::inRange<size_t>(1, 32);
  model.batch_size = *rc::gen::inRange<size_t>(1, model.buffer_size + 1);
  Sut sut{EventProcessor::with_batch_size(model.buffer_size, model.batch_size).value(), {},
          kWithSink};
  if (kWithSink) {
    sut.processor.set_sink([&sut](std::span<const EbpfEvent> batch) -> Result<void> {
      sut.delivered.insert(sut.delivered.end(), batch.begin(), batch.end());
      return {};
    });
  }
  rc::state::check(model, sut,
                   rc::state::gen::execOneOfWithArgs<ProcessEvent<kWithSink>,
                                                     ProcessBatch<kWithSink>, FlushEvents, Clear>());
}

RC_GTEST_PROP(EventProcessorStateful, MatchesModelWithSink, ()) { run_stateful<true>(); }
RC_GTEST_PROP(EventProcessorStateful, MatchesModelWithoutSink, ()) { run_stateful<false>(); }

}  // namespace
}  // namespace otlp::ebpf
