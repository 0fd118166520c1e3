#include "simulator/check.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "core/tape/reader.h"
#include "core/tape/writer.h"
#include "core/tracers/cpu_aggregator.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/network_aggregator.h"
#include "core/tracers/syscall_aggregator.h"
#include "simulator/ground_truth.h"
#include "simulator/sim_source.h"
#include "simulator/sim_tape.h"

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
  for (const auto& [route, latency] : agg.route_latencies()) {
    answered[{route.method, route.path, route.status}] = latency.count();
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


// How one pass writes and reads the tape. Two passes differ in both: results must not.
struct TapeShape {
  uint32_t frame_bytes;
  unsigned decode_threads;
};
constexpr TapeShape kFirstPass{1u << 20, 2};
constexpr TapeShape kSecondPass{64u << 10, 1};

// One pass: the simulation written to an in-memory tape as `simulate -o` writes it, read back
// through the pipeline and the tracers, every result compared with the ground truth.
struct Pass {
  GroundTruth truth;
  SyscallAggregator syscalls;
  MemoryAggregator memory;
  NetworkAggregator network;
  CpuAggregator cpu;
  PipelineStats stats;
  WorldStats world;
  std::vector<uint8_t> tape;
  std::vector<EbpfEvent> read_back;  // every event, in tape order (kept for the tape faults)
};

Result<void> run_pass(const SimOptions& options, TapeShape shape, bool keep_events, Pass& pass) {
  SimSource source(options, &pass.truth);
  tape::WriterOptions writer_options;
  writer_options.frame_bytes = shape.frame_bytes;
  BPFTAPE_ASSIGN_OR_RETURN(auto writer,
                           tape::TapeWriter::create(std::make_unique<tape::MemorySink>(&pass.tape),
                                                    sim_tape_metadata(source), source.interned(),
                                                    writer_options));
  BPFTAPE_ASSIGN_OR_RETURN(SimTapeStats written, write_sim_tape(source, *writer));
  (void)written;  // the ground truth counts what matters
  BPFTAPE_RETURN_IF_ERROR(writer->close());
  pass.world = source.world().stats();

  tape::ReaderOptions reader_options;
  reader_options.decode_threads = shape.decode_threads;
  BPFTAPE_ASSIGN_OR_RETURN(auto reader, tape::TapeReader::open_memory(pass.tape, reader_options));
  PipelineOptions pipeline_options;
  pipeline_options.reorder_window_ns = options.reorder_window_ns();
  BPFTAPE_ASSIGN_OR_RETURN(auto pipeline, Pipeline::create(pipeline_options));
  for (Aggregator* a : std::initializer_list<Aggregator*>{&pass.syscalls, &pass.memory, &pass.network,
                                                          &pass.cpu, &pass.truth}) {
    pipeline->add_aggregator(*a);
  }
  EventBatch batch;
  for (;;) {
    BPFTAPE_ASSIGN_OR_RETURN(bool more, reader->next(&batch));
    if (!more) break;
    if (keep_events) pass.read_back.insert(pass.read_back.end(), batch.events.begin(), batch.events.end());
    BPFTAPE_RETURN_IF_ERROR(pipeline->process(batch, reader->interns()));
  }
  BPFTAPE_RETURN_IF_ERROR(pipeline->finish(reader->interns()));
  if (!reader->warnings().empty()) {
    return make_error(ErrorKind::FormatError, "the intact tape read back with a warning: " +
                                                  reader->warnings().front());
  }
  pass.stats = pipeline->stats();
  return {};
}

// Every oracle on one pass.
void check_pass(Checker& check, const SimOptions& options, const Pass& pass) {
  const GroundTruth& truth = pass.truth;
  const PipelineStats& stats = pass.stats;
  // Nothing lost silently, nothing duplicated.
  check.equal("emitted = delivered + lost", truth.delivered() + stats.losses.events_lost,
              truth.emitted());
  check.that(stats.losses.lost_by_cpu == truth.dropped_by_cpu(),
             "loss records per CPU differ from the events the rings dropped");
  check.equal("events the pipeline received", stats.processor.received, truth.delivered());
  check.equal("events delivered to the tracers", stats.processor.delivered, truth.delivered());
  check.equal("rejected events", stats.processor.rejected, uint64_t{0});
  check.that(truth.output_digest() == truth.delivered_digest(),
             "the multiset of events out of the pipeline differs from what the rings delivered" +
                 truth.output_field_differences());
  check.that(truth.output_by_type() == truth.delivered_by_type(), "event counts by type differ");
  // Time order: ordered except exactly the events the sorter counted late, and none unless
  // the reorder fault pushed a CPU beyond the window.
  check.equal("out-of-order output events", truth.output_inversions(), stats.sorter.late_events);
  if (!(options.faults & kReorder)) {
    check.equal("late events without the reorder fault", stats.sorter.late_events, uint64_t{0});
  }
  compare_syscalls(check, pass.syscalls, truth);
  compare_memory(check, pass.memory, truth);
  compare_network(check, pass.network, truth);
  compare_cpu(check, pass.cpu, truth);
}

// The tape faults: the intact tape damaged as the seed says, read back. A reader must recover
// a prefix of what was written — never more, never different — and say that something is
// wrong (an error naming where, or a warning), never crash or hang.
void check_damaged_tape(Checker& check, const SimOptions& options, const Pass& intact) {
  std::vector<uint8_t> bytes = intact.tape;
  const TapeDamage damage = damage_tape(options, bytes);
  auto reader = tape::TapeReader::open_memory(bytes, {});
  if (!reader) {
    check.that(!reader.error().message().empty(), "a damaged tape was refused without a message");
    return;  // refused outright (e.g. the metadata frame was hit): nothing recovered
  }
  EventBatch batch;
  std::vector<EbpfEvent> recovered;
  std::optional<EbpfError> error;
  for (;;) {
    auto more = (*reader)->next(&batch);
    if (!more) {
      error = more.error();
      break;
    }
    if (!*more) break;
    recovered.insert(recovered.end(), batch.events.begin(), batch.events.end());
  }
  const std::string what = damage.describe();
  check.that(recovered.size() <= intact.read_back.size(),
             fmt::format("tape faults ({}): {} events recovered, more than the {} written", what,
                         recovered.size(), intact.read_back.size()));
  check.that(std::equal(recovered.begin(), recovered.begin() + std::min(recovered.size(), intact.read_back.size()),
                        intact.read_back.begin()),
             fmt::format("tape faults ({}): the recovered events are not a prefix of the tape's", what));
  const bool said_so = error.has_value() || !(*reader)->warnings().empty();
  check.that(said_so || recovered.size() == intact.read_back.size(),
             fmt::format("tape faults ({}): {} of {} events recovered and no error or warning", what,
                         recovered.size(), intact.read_back.size()));
  if (damage.truncated && damage.flipped_offsets.empty()) {
    check.that(said_so, fmt::format("tape faults ({}): a truncated tape read without a warning", what));
  }
}

}  // namespace

CheckReport run_check(const SimOptions& options) {
  auto started = std::chrono::steady_clock::now();
  CheckReport report;
  Checker check(report);
  const bool tape_faults = (options.faults & kTapeFaults) != 0;
  auto first = std::make_unique<Pass>();
  if (auto ran = run_pass(options, kFirstPass, tape_faults, *first); !ran) {
    report.failures.push_back("pipeline failed: " + ran.error().to_string());
    return report;
  }
  report.world = first->world;
  report.pipeline = first->stats;
  report.emitted = first->truth.emitted();
  report.dropped = first->truth.dropped();
  report.delivered = first->truth.delivered();
  check_pass(check, options, *first);

  // Same seed, other frame size and decode thread count: the same results.
  auto second = std::make_unique<Pass>();
  if (auto ran = run_pass(options, kSecondPass, false, *second); !ran) {
    report.failures.push_back("pipeline failed (second pass): " + ran.error().to_string());
    return report;
  }
  check_pass(check, options, *second);
  check.that(second->truth.output_digest() == first->truth.output_digest() &&
                 second->stats.sorter.late_events == first->stats.sorter.late_events &&
                 second->truth.syscalls() == first->truth.syscalls() &&
                 second->stats.losses == first->stats.losses,
             "64 KiB frames and one decode thread give different results than 1 MiB frames and two");

  if (tape_faults) check_damaged_tape(check, options, *first);
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
