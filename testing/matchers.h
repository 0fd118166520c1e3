// GoogleTest matchers for what a replay or a simulation produced (docs/harness.md). Each
// explains a mismatch with the values it saw, e.g. "read: 404 calls, 0 errors".
#pragma once

#include <gmock/gmock.h>

#include <cstdint>
#include <ostream>
#include <string>

#include "core/pipeline.h"
#include "core/tracers/syscall_aggregator.h"

namespace bpftape::testing {

// PipelineStats: every event the source produced reached the aggregators, in time order —
// none rejected as invalid, filtered out, late (beyond the reorder window) or lost before
// user space (loss records).
::testing::Matcher<const otlp::ebpf::PipelineStats&> DeliveredEverything();

// SyscallStats (SyscallAggregator::stats()) field by field: events aggregated, distinct
// syscall numbers, errno failures. Plain numbers match by equality.
::testing::Matcher<const otlp::ebpf::SyscallStats&> SyscallStatsAre(
    ::testing::Matcher<uint64_t> syscalls_traced, ::testing::Matcher<uint64_t> unique_syscalls,
    ::testing::Matcher<uint64_t> errors);

// SyscallAggregator: the calls and errors of syscall `name` ("openat", or "syscall_<nr>"),
// all processes together. A name no table knows never matches (and says so).
::testing::Matcher<const otlp::ebpf::SyscallAggregator&> CountsSyscall(
    std::string name, ::testing::Matcher<uint64_t> calls,
    ::testing::Matcher<uint64_t> errors = ::testing::_);

// JSON text (a report from replay_report_json(), `bpftape replay --json`, an OTLP/JSON line):
// the value at `path` — object keys and array indexes joined by dots,
// "syscalls.top.0.name" — matches `value` as text: a string without its quotes, a number as
// written by a person ("1884", "0.5"; integers beyond 2^53 lose precision, JSON numbers are
// doubles here), true/false/null, an object or array as compact JSON. Text that is not JSON,
// or a path that is not there, never matches and says why.
::testing::Matcher<const std::string&> HasJsonField(std::string path,
                                                    ::testing::Matcher<std::string> value);
// Integer convenience: HasJsonField("syscalls.calls", 1884).
inline ::testing::Matcher<const std::string&> HasJsonField(std::string path, int64_t value) {
  return HasJsonField(std::move(path), ::testing::Eq(std::to_string(value)));
}

}  // namespace bpftape::testing

// Readable values in GoogleTest's failure messages (found by argument-dependent lookup).
namespace otlp::ebpf {
void PrintTo(const SyscallStats& stats, std::ostream* os);
void PrintTo(const PipelineStats& stats, std::ostream* os);
}  // namespace otlp::ebpf
