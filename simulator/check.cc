#include "simulator/check.h"

#include <chrono>

#include <fmt/format.h>

#include "core/tracers/cpu_aggregator.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/network_aggregator.h"
#include "core/tracers/syscall_aggregator.h"
#include "simulator/ground_truth.h"
#include "simulator/sim_source.h"

namespace bpftape::sim {
namespace {

using namespace otlp::ebpf;

class Checker {
 public:
  explicit Checker(CheckReport& report) : report_(report) {}
  template <typename A, typename B>
  void equal(std::string_view what, const A& actual, const B& expected) {
    if (!(actual == expected)) {
      report_.failures.push_back(fmt::format("{}: pipeline says {}, ground truth says {}", what,
                                             actual, expected));
    }
  }
  void that(bool ok, std::string message) {
    if (!ok) report_.failures.push_back(std::move(message));
  }

 private:
  CheckReport& report_;
};

void compare_syscalls(Checker& check, const SyscallAggregator& agg, const GroundTruth& truth) {
  std::map<uint32_t, SyscallTruth> actual;
  for (const auto& row : agg.by_syscall()) {
    actual[row.nr] = SyscallTruth{row.count, row.errors, row.latency.sum()};
  }
  check.equal("syscall kinds", actual.size(), truth.syscalls().size());
  for (const auto& [nr, want] : truth.syscalls()) {
    auto it = actual.find(nr);
    SyscallTruth got = it == actual.end() ? SyscallTruth{} : it->second;
    check.equal(fmt::format("syscall {} count", nr), got.count, want.count);
    check.equal(fmt::format("syscall {} errors", nr), got.errors, want.errors);
    check.equal(fmt::format("syscall {} total duration", nr), got.duration_sum, want.duration_sum);
  }
}

void compare_memory(Checker& check, const MemoryAggregator& agg, const GroundTruth& truth) {
  auto got = agg.stats();
  const auto& want = truth.memory();
  check.equal("allocations", got.allocations, want.allocations);
  check.equal("matched frees", got.frees, want.frees);
  check.equal("unmatched frees", got.unmatched_frees, want.unmatched_frees);
  check.equal("bytes allocated", got.total_allocated, want.total_allocated);
  check.equal("bytes freed", got.total_freed, want.total_freed);
  check.equal("outstanding bytes", got.active_bytes, want.active_bytes);
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> outstanding;
  for (const auto& g : agg.outstanding_by_stack()) outstanding[{g.pid, g.stack}] = g.bytes;
  check.that(outstanding == truth.outstanding(),
             fmt::format("outstanding bytes by stack differ ({} groups vs {} expected)",
                         outstanding.size(), truth.outstanding().size()));
}

void compare_network(Checker& check, const NetworkAggregator& agg, const GroundTruth& truth) {
  const auto& got = agg.stats();
  const auto& want = truth.network();
  check.equal("tcp connections", got.tcp_connections, want.tcp_connections);
  check.equal("packets", got.packets_captured, want.packets);
  check.equal("bytes sent", got.bytes_sent, want.bytes_sent);
  check.equal("bytes received", got.bytes_received, want.bytes_received);
  check.equal("connections closed", got.connections_closed, want.closed);
  check.equal("http requests", got.http_requests, want.http_requests);
  std::map<std::tuple<std::string, std::string, int>, uint64_t> answered;
  for (const auto& r : agg.http_requests()) {
    if (r.status != 0) ++answered[{r.method, r.path, r.status}];
  }
  check.that(answered == want.answered,
             fmt::format("answered HTTP requests by (method, path, status) differ ({} vs {} kinds)",
                         answered.size(), want.answered.size()));
}

void compare_cpu(Checker& check, const CpuAggregator& agg, const GroundTruth& truth) {
  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, uint64_t> got;
  for (const auto& s : agg.by_stack()) got[{s.pid, s.user_stack, s.kernel_stack}] = s.count;
  check.that(got == truth.cpu_samples(),
             fmt::format("CPU samples by stack differ ({} stacks vs {} expected)", got.size(),
                         truth.cpu_samples().size()));
}

}  // namespace

CheckReport run_check(const SimOptions& options) {
  auto started = std::chrono::steady_clock::now();
  CheckReport report;
  Checker check(report);
  GroundTruth truth;
  SimSource source(options, &truth);
  PipelineOptions pipeline_options;
  pipeline_options.reorder_window_ns = options.reorder_window_ns();
  auto pipeline = Pipeline::create(pipeline_options);
  if (!pipeline) {
    report.failures.push_back(pipeline.error().to_string());
    return report;
  }
  SyscallAggregator syscalls;
  MemoryAggregator memory;
  NetworkAggregator network;
  CpuAggregator cpu;
  for (Aggregator* a : std::initializer_list<Aggregator*>{&syscalls, &memory, &network, &cpu, &truth}) {
    (*pipeline)->add_aggregator(*a);
  }
  if (auto ran = (*pipeline)->run(source); !ran) {
    report.failures.push_back("pipeline failed: " + ran.error().to_string());
    return report;
  }
  const PipelineStats stats = (*pipeline)->stats();
  report.world = source.world().stats();
  report.pipeline = stats;
  report.emitted = truth.emitted();
  report.dropped = truth.dropped();
  report.delivered = truth.delivered();

  // Nothing lost silently, nothing duplicated.
  check.equal("emitted = delivered + lost", truth.delivered() + stats.losses.events_lost,
              truth.emitted());
  check.that(stats.losses.lost_by_cpu == truth.dropped_by_cpu(),
             "loss records per CPU differ from the events the rings dropped");
  check.equal("events the pipeline received", stats.processor.received, truth.delivered());
  check.equal("events delivered to the tracers", stats.processor.delivered, truth.delivered());
  check.equal("rejected events", stats.processor.rejected, uint64_t{0});
  check.that(truth.output_digest() == truth.delivered_digest(),
             "the multiset of events out of the pipeline differs from what the rings delivered");
  check.that(truth.output_by_type() == truth.delivered_by_type(), "event counts by type differ");
  // Time order: ordered except exactly the events the sorter counted late, and none unless
  // the reorder fault pushed a CPU beyond the window.
  check.equal("out-of-order output events", truth.output_inversions(), stats.sorter.late_events);
  if (!(options.faults & kReorder)) {
    check.equal("late events without the reorder fault", stats.sorter.late_events, uint64_t{0});
  }
  compare_syscalls(check, syscalls, truth);
  compare_memory(check, memory, truth);
  compare_network(check, network, truth);
  compare_cpu(check, cpu, truth);
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

std::string CheckReport::summary() const {
  std::string out = fmt::format(
      "{} events emitted, {} delivered, {} lost in rings ({} loss records), {} late, "
      "{} polls ({} stalled, {} deferred drains), {:.2f} s\n",
      emitted, delivered, dropped, pipeline.losses.records, pipeline.sorter.late_events,
      world.polls, world.stalled_polls, world.deferred_drains, seconds);
  for (const auto& f : failures) out += "  FAILED: " + f + "\n";
  return out;
}

}  // namespace bpftape::sim
