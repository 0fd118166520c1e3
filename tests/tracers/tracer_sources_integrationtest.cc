// The seeds' tracers over a tape and a simulation: the same results as a plain replay of the
// tape through the Pipeline, and as the simulator's ground truth; the live-only operations
// say NotSupported; duration, max_samples and filter_syscall hold exactly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "core/pipeline.h"
#include "core/tracers/syscall_names.h"
#include "replayer/file_source.h"
#include "simulator/ground_truth.h"
#include "simulator/sim_source.h"
#include "tracers/tracers.h"

namespace otlp::ebpf {
namespace {

std::string trace(const std::string& name) {
  return std::string(BPFTAPE_SOURCE_DIR) + "/traces/" + name;
}

// Large enough that no shipped tape or test simulation reaches it.
constexpr size_t kNoLimit = 100'000'000;

// `bpftape replay`'s way: the tape through one Pipeline into `aggregator` (+ a filter).
void replay(const std::string& tape, Aggregator& aggregator, EventFilter filter = {}) {
  auto source = bpftape::replay::FileSource::open(tape, {});
  ASSERT_TRUE(source) << source.error().to_string();
  auto pipeline = Pipeline::create(PipelineOptions{.reorder_window_ns = kDefaultReorderWindowNs,
                                                   .filter = std::move(filter)});
  ASSERT_TRUE(pipeline);
  (*pipeline)->add_aggregator(aggregator);
  auto ran = (*pipeline)->run(**source);
  ASSERT_TRUE(ran) << ran.error().to_string();
}

// Collects delivered events, in order.
struct EventList : Aggregator {
  std::vector<EbpfEvent> events;
  void consume(std::span<const EbpfEvent> e, const InternTable&) override {
    events.insert(events.end(), e.begin(), e.end());
  }
};

void expect_same(const std::vector<SyscallSummary>& a, const std::vector<SyscallSummary>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].nr, b[i].nr);
    EXPECT_EQ(a[i].count, b[i].count) << syscall_display_name(a[i].nr);
    EXPECT_EQ(a[i].errors, b[i].errors) << syscall_display_name(a[i].nr);
  }
}

uint64_t of_kind(const std::vector<EbpfEvent>& events, PayloadKind kind) {
  uint64_t n = 0;
  for (const auto& e : events) n += payload_kind(e.event_type) == kind;
  return n;
}

// Runs `tracer` over its whole stream (start(), then stop()).
template <typename Tracer>
void run_to_end(Tracer& tracer) {
  auto started = tracer.start();
  ASSERT_TRUE(started) << started.error().to_string();
  auto stopped = tracer.stop();
  ASSERT_TRUE(stopped) << stopped.error().to_string();
}

// A tracer's config (CPU profiling stays on, as by default), without a sample limit.
EbpfConfig config_for(bool memory, bool network) {
  return EbpfConfig{}.with_memory_tracing(memory).with_network_tracing(network).with_max_samples(kNoLimit);
}

EbpfConfig syscalls_config() {
  return EbpfConfig{}.with_cpu_profiling(false).with_syscall_tracing(true).with_max_samples(kNoLimit);
}

TEST(TracerOverTape, SyscallTracerEqualsAPlainReplay) {
  SyscallAggregator reference;
  EventList reference_events;
  replay(trace("compile.bpftape"), reference);
  replay(trace("compile.bpftape"), reference_events);

  EbpfSyscallTracer tracer(syscalls_config(), tape_provider(trace("compile.bpftape")));
  ASSERT_TRUE(tracer.start());
  auto events = tracer.stop();
  ASSERT_TRUE(events) << events.error().to_string();
  EXPECT_FALSE(tracer.is_running());
  expect_same(tracer.by_syscall(), reference.by_syscall());
  EXPECT_EQ(tracer.get_stats().syscalls_traced, reference.stats().syscalls_traced);
  EXPECT_GT(reference.stats().syscalls_traced, 1000u);
  EXPECT_EQ(events->size(), reference_events.events.size());
  EXPECT_EQ(tracer.events_not_kept(), 0u);
}

TEST(TracerOverTape, LiveOnlyOperationsSaySo) {
  EbpfSyscallTracer tracer(syscalls_config(), tape_provider(trace("compile.bpftape")));
  ASSERT_TRUE(tracer.start());
  auto paused = tracer.pause();
  ASSERT_FALSE(paused);
  EXPECT_EQ(paused.error().kind(), ErrorKind::NotSupported);
  EXPECT_THAT(paused.error().message(), ::testing::HasSubstr("live"));
  EXPECT_EQ(tracer.resume().error().kind(), ErrorKind::NotSupported);
  ASSERT_TRUE(tracer.stop());
  const EbpfOverheadMetrics overhead = tracer.get_overhead();
  EXPECT_EQ(overhead.wall_ns, 0u);
  EXPECT_EQ(overhead.cpu_percent, 0.0);
  // A comm filter needs the kernel.
  EbpfSyscallTracer by_comm(syscalls_config(), tape_provider(trace("compile.bpftape")));
  by_comm.with_filter(TaskFilter{.comm = "cc1plus"});
  auto started = by_comm.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().kind(), ErrorKind::NotSupported);
  // A missing tape is a clear error at start().
  EbpfSyscallTracer missing(syscalls_config(), tape_provider("/nonexistent/x.bpftape"));
  EXPECT_FALSE(missing.start());
}

TEST(TracerOverTape, FilterSyscallFiltersStatsAndReturnedEvents) {
  SyscallAggregator reference;
  replay(trace("compile.bpftape"), reference);
  const uint32_t readlink = *syscall_number("readlink");
  uint64_t readlinks = 0;
  for (const auto& s : reference.by_syscall()) {
    if (s.nr == readlink) readlinks = s.count;
  }
  ASSERT_GT(readlinks, 0u);
  EbpfSyscallTracer tracer(syscalls_config(), tape_provider(trace("compile.bpftape")));
  ASSERT_TRUE(tracer.filter_syscall("readlink", false));
  ASSERT_TRUE(tracer.start());
  auto events = tracer.stop();
  ASSERT_TRUE(events);
  for (const auto& e : *events) {
    if (e.event_type == EbpfEventType::Syscall) {
      ASSERT_NE(e.payload.syscall.nr, readlink);
    }
  }
  EXPECT_EQ(of_kind(*events, PayloadKind::Syscall), reference.stats().syscalls_traced - readlinks);
  EXPECT_EQ(tracer.get_stats().filtered_out, readlinks);
}

TEST(TracerOverTape, MaxSamplesCutsAggregationAndEventsAtTheSameEvent) {
  EventList reference;
  replay(trace("compile.bpftape"), reference);
  EbpfSyscallTracer tracer(syscalls_config().with_max_samples(100),
                           tape_provider(trace("compile.bpftape")));
  ASSERT_TRUE(tracer.start());
  auto events = tracer.stop();
  ASSERT_TRUE(events);
  EXPECT_EQ(of_kind(*events, PayloadKind::Syscall), 100u);
  EXPECT_EQ(tracer.get_stats().syscalls_traced, 100u);
  EXPECT_GT(tracer.events_not_kept(), 0u);
  // The first events of the stream, in order: the cut is after the 100th syscall.
  ASSERT_LE(events->size(), reference.events.size());
  for (size_t i = 0; i < events->size(); ++i) {
    ASSERT_EQ((*events)[i], reference.events[i]) << i;
  }
}

TEST(TracerOverTape, DurationIsEventTimeFromTheFirstEvent) {
  // The tracer's origin: the oldest event of the tape's first batch.
  auto source = bpftape::replay::FileSource::open(trace("compile.bpftape"), {});
  ASSERT_TRUE(source);
  EventBatch first;
  ASSERT_TRUE(*(*source)->next(first));
  uint64_t origin = UINT64_MAX;
  for (const auto& e : first.events) origin = std::min(origin, e.timestamp_ns);
  constexpr uint64_t kDurationNs = 50'000'000;
  SyscallAggregator reference;
  replay(trace("compile.bpftape"), reference, EventFilter::by_time(origin, origin + kDurationNs));
  SyscallAggregator whole;
  replay(trace("compile.bpftape"), whole);

  EbpfSyscallTracer tracer(syscalls_config().with_duration(std::chrono::milliseconds(50)),
                           tape_provider(trace("compile.bpftape")));
  ASSERT_TRUE(tracer.start());
  auto events = tracer.stop();
  ASSERT_TRUE(events);
  for (const auto& e : *events) {
    ASSERT_GE(e.timestamp_ns, origin);
    ASSERT_LT(e.timestamp_ns, origin + kDurationNs);
  }
  expect_same(tracer.by_syscall(), reference.by_syscall());
  EXPECT_LT(reference.stats().syscalls_traced, whole.stats().syscalls_traced);
}

TEST(TracerOverTape, CpuProfilerEqualsAPlainReplayAndNamesFrames) {
  CpuAggregator reference;
  replay(trace("compile.bpftape"), reference);
  EbpfCpuProfiler profiler(EbpfConfig{}.with_sample_rate(499).with_max_samples(kNoLimit),
                           tape_provider(trace("compile.bpftape")));
  ASSERT_TRUE(profiler.start());
  auto profile = profiler.stop();
  ASSERT_TRUE(profile) << profile.error().to_string();
  EXPECT_EQ(profiler.get_stats().samples, reference.stats().samples);
  int64_t samples = 0;
  for (const auto& s : profile->sample()) samples += s.value(0);
  EXPECT_EQ(static_cast<uint64_t>(samples), reference.stats().samples);
  EXPECT_GT(profile->function_size(), 0) << "the tape's symbol tables name frames";
}

TEST(TracerOverTape, MemoryAndNetworkTracersEqualAPlainReplay) {
  MemoryAggregator memory;
  replay(trace("leak.bpftape"), memory);
  EbpfMemoryTracer mem_tracer(config_for(true, false), tape_provider(trace("leak.bpftape")));
  run_to_end(mem_tracer);
  EXPECT_EQ(mem_tracer.get_stats().allocations, memory.stats().allocations);
  EXPECT_EQ(mem_tracer.get_stats().frees, memory.stats().frees);
  EXPECT_EQ(mem_tracer.get_stats().active_bytes, memory.stats().active_bytes);
  EXPECT_GE(memory.stats().allocations, 2000u);

  NetworkAggregator network;
  replay(trace("http-loopback.bpftape"), network);
  EbpfNetworkTracer net_tracer(config_for(false, true), tape_provider(trace("http-loopback.bpftape")));
  run_to_end(net_tracer);
  const NetworkStats got = net_tracer.get_stats(), want = network.stats();
  EXPECT_EQ(got.packets_captured, want.packets_captured);
  EXPECT_EQ(got.bytes_captured, want.bytes_captured);
  EXPECT_EQ(got.tcp_connections, want.tcp_connections);
  EXPECT_EQ(got.http_requests, want.http_requests);
  EXPECT_EQ(net_tracer.http_requests().size(), network.http_requests().size());
  EXPECT_GE(want.http_requests, 200u);
}

// ---- simulation, against the simulator's ground truth

bpftape::sim::SimOptions simulation() {
  bpftape::sim::SimOptions o;
  o.seed = 20261203;
  o.duration_ns = 1'000'000'000;
  o.workloads = bpftape::sim::kAllWorkloads;
  return o;
}

// The ground truth of simulation(): its oracle fed by a pipeline over the same seed.
void ground_truth(bpftape::sim::GroundTruth& truth) {
  bpftape::sim::SimOptions o = simulation();
  ASSERT_TRUE(o.finalize());
  bpftape::sim::SimSource source(o, &truth);
  auto pipeline = Pipeline::create(PipelineOptions{.reorder_window_ns = o.reorder_window_ns()});
  ASSERT_TRUE(pipeline);
  (*pipeline)->add_aggregator(truth);
  ASSERT_TRUE((*pipeline)->run(source));
}

TEST(TracerOverSimulation, EveryTracerMatchesTheGroundTruth) {
  bpftape::sim::GroundTruth truth;
  ground_truth(truth);

  EbpfSyscallTracer syscalls(syscalls_config(), simulation_provider(simulation()));
  ASSERT_TRUE(syscalls.start());
  auto events = syscalls.stop();
  ASSERT_TRUE(events) << events.error().to_string();
  const auto summaries = syscalls.by_syscall();
  ASSERT_EQ(summaries.size(), truth.syscalls().size());
  for (const auto& s : summaries) {
    const auto& t = truth.syscalls().at(s.nr);
    EXPECT_EQ(s.count, t.count) << syscall_display_name(s.nr);
    EXPECT_EQ(s.errors, t.errors) << syscall_display_name(s.nr);
  }
  EXPECT_EQ(of_kind(*events, PayloadKind::Syscall),
            truth.output_by_type()[static_cast<size_t>(EbpfEventType::Syscall)]);

  EbpfMemoryTracer memory(config_for(true, false), simulation_provider(simulation()));
  run_to_end(memory);
  const MemoryStats m = memory.get_stats();
  EXPECT_EQ(m.allocations, truth.memory().allocations);
  EXPECT_EQ(m.frees, truth.memory().frees);
  EXPECT_EQ(m.unmatched_frees, truth.memory().unmatched_frees);
  EXPECT_EQ(m.total_allocated, truth.memory().total_allocated);
  EXPECT_EQ(m.active_bytes, truth.memory().active_bytes);

  EbpfCpuProfiler cpu(config_for(false, false), simulation_provider(simulation()));
  run_to_end(cpu);
  uint64_t samples = 0;
  for (const auto& [key, n] : truth.cpu_samples()) samples += n;
  EXPECT_EQ(cpu.get_stats().samples, samples);
  EXPECT_GT(samples, 0u);

  EbpfNetworkTracer network(config_for(false, true), simulation_provider(simulation()));
  run_to_end(network);
  const NetworkStats n = network.get_stats();
  EXPECT_EQ(n.tcp_connections, truth.network().tcp_connections);
  EXPECT_EQ(n.packets_captured, truth.network().packets);
  EXPECT_EQ(n.bytes_sent, truth.network().bytes_sent);
  EXPECT_EQ(n.bytes_received, truth.network().bytes_received);
  EXPECT_EQ(n.http_requests, truth.network().http_requests);
}

TEST(TracerOverSimulation, SameSeedSameResultsAndPauseIsNotSupported) {
  EbpfSyscallTracer a(syscalls_config(), simulation_provider(simulation()));
  EbpfSyscallTracer b(syscalls_config(), simulation_provider(simulation()));
  ASSERT_TRUE(a.start());
  EXPECT_EQ(a.pause().error().kind(), ErrorKind::NotSupported);
  ASSERT_TRUE(b.start());
  auto ea = a.stop();
  auto eb = b.stop();
  ASSERT_TRUE(ea && eb);
  EXPECT_EQ(*ea, *eb);
  // Restartable: a second start() runs the same simulation again.
  ASSERT_TRUE(a.start());
  auto again = a.stop();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *ea);
}

}  // namespace
}  // namespace otlp::ebpf
