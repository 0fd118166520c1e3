// Properties of the conversion over generated inputs (RapidCheck).
#include <algorithm>
#include <vector>

#include <gtest/gtest.h>
#include <google/protobuf/stubs/logging.h>
#include <rapidcheck/gtest.h>

#include "core/otlp/converter.h"
#include "core/otlp/otlp_json.h"
#include "tests/otlp/otlp_test_util.h"

namespace otlp::ebpf::testing {
namespace {

EbpfOtlpConverter converter() {
  EbpfOtlpConverter c;
  c.with_resource({.host_name = "h"})
      .with_recording({.recording_id = "prop", .clock = {1, 1}, .start_ns = 1, .end_ns = 2})
      .with_meter();
  return c;
}

// The syscall latency histogram is re-expressed exactly: every duration lands, by OTLP's
// (bounds[i-1], bounds[i]] rule, in a bucket whose count accounts for it, and the counts add up.
RC_GTEST_PROP(ConverterProperties, SyscallHistogramBucketsHoldExactlyTheRecordedDurations,
              (const std::vector<uint32_t>& raw)) {
  std::vector<uint64_t> durations;
  for (uint32_t r : raw) durations.push_back(uint64_t{r} * (r % 7 + 1));  // up to ~30 s
  RC_PRE(!durations.empty());
  std::vector<EbpfEvent> events;
  uint64_t ts = 10;
  for (uint64_t d : durations) {
    events.push_back(EbpfEvent::syscall_event(ts++, 5, 5, 0, {0, 0, 0, d}));
  }
  InternTable interned;
  SyscallAggregator syscalls;
  syscalls.consume(events, interned);
  auto m = converter().convert_metrics({.syscalls = &syscalls});
  RC_ASSERT(m.has_value());
  const auto* rm = find_resource(m->resource_metrics(), 5);
  RC_ASSERT(rm != nullptr);
  const auto* hist = find_metric(*rm, "bpftape.syscall.duration");
  RC_ASSERT(hist != nullptr);
  const auto& p = hist->histogram().data_points(0);
  RC_ASSERT(p.count() == durations.size());
  RC_ASSERT(p.bucket_counts_size() == p.explicit_bounds_size() + 1);

  std::vector<uint64_t> expected(p.bucket_counts_size(), 0);
  for (uint64_t d : durations) {
    double seconds = static_cast<double>(d) / 1e9;
    auto it = std::lower_bound(p.explicit_bounds().begin(), p.explicit_bounds().end(), seconds);
    ++expected[it - p.explicit_bounds().begin()];
  }
  RC_ASSERT(std::vector<uint64_t>(p.bucket_counts().begin(), p.bucket_counts().end()) == expected);
  RC_ASSERT(p.min() == static_cast<double>(*std::min_element(durations.begin(), durations.end())) / 1e9);
  RC_ASSERT(p.max() == static_cast<double>(*std::max_element(durations.begin(), durations.end())) / 1e9);
}

// Counts libprotobuf's error log lines (it logs, rather than fails, when serializing a
// `string` field that is not UTF-8 — which a Go collector then rejects when parsing).
int& protobuf_errors() {
  static int count = 0;
  return count;
}
void count_errors(google::protobuf::LogLevel level, const char*, int, const std::string&) {
  if (level >= google::protobuf::LOGLEVEL_ERROR) ++protobuf_errors();
}

// Any bytes in strings (comm, command lines, paths from a tape) give valid protobuf (UTF-8
// strings), the same output twice, and never break the JSON string quoting.
RC_GTEST_PROP(ConverterProperties, ArbitraryProcessStringsConvertDeterministically,
              (const std::string& comm, const std::string& cmdline)) {
  ProcessTable processes;
  processes.upsert({.pid = 9, .comm = comm, .cmdline = {cmdline}});
  std::vector<EbpfEvent> events = {EbpfEvent::syscall_event(5, 9, 9, 0, {1, 0, 0, 100})};
  InternTable interned;
  SyscallAggregator syscalls;
  syscalls.consume(events, interned);
  AggregatorResults a{.processes = &processes, .syscalls = &syscalls};
  auto m1 = converter().convert_metrics(a);
  auto m2 = converter().convert_metrics(a);
  RC_ASSERT(m1.has_value() && m2.has_value());
  std::string j1 = to_otlp_json(*m1);
  RC_ASSERT(j1 == to_otlp_json(*m2));
  protobuf_errors() = 0;
  auto* previous = google::protobuf::SetLogHandler(count_errors);
  bool same = serialize_deterministic(*m1) == serialize_deterministic(*m2);
  google::protobuf::SetLogHandler(previous);
  RC_ASSERT(same);
  RC_ASSERT(protobuf_errors() == 0);  // every string field is valid UTF-8
  // Quotes balance outside escapes: the string literals all closed.
  size_t quotes = 0;
  for (size_t i = 0; i < j1.size(); ++i) {
    if (j1[i] == '\\') {
      ++i;
    } else if (j1[i] == '"') {
      ++quotes;
    }
  }
  RC_ASSERT(quotes % 2 == 0);
  for (char c : j1) RC_ASSERT(static_cast<unsigned char>(c) >= 0x20);  // controls escaped
}

}  // namespace
}  // namespace otlp::ebpf::testing
