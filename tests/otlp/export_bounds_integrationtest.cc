// Issue 20, the OTLP export's bounds against FakeCollector on 127.0.0.1: one
// deadline for a run's whole export (OtlpOutput::export_deadline,
// --otlp-timeout), a stop request (OtlpOutput::stop_requested, SIGINT/SIGTERM)
// ending it at once, both saying what was not sent; messages for 429 and 500
// answers; the OTLP/JSON and pprof files written through OutputFile. Limits in
// here are hang guards (generous, far from what a pass takes), never timing
// checks.
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iterator>
#include <limits>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/otlp/exporter.h"
#include "core/otlp/output.h"
#include "core/otlp/pprof.h"
#include "tests/child_process.h"
#include "tests/otlp/fake_collector.h"
#include "tests/otlp/scenario.h"
#include "tests/temp_dir.h"

namespace otlp::ebpf::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// What the Scenario's three requests hold (exporter_integrationtest checks the
// counts).
constexpr const char *kAllUnsent =
    "not sent: 4 spans, 26 metric points, 6 profile samples (3 requests)";
constexpr auto kHangGuard = 20s;

std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

class ExportBounds : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(collector.ok()) << "cannot listen on 127.0.0.1";
    s.feed();
  }
  // Each attempt may take long, so that only the export's own bounds can end it
  // early.
  OtlpOutput output() {
    OtlpOutput out;
    out.endpoint = collector.endpoint();
    out.timeout = 2s;
    out.max_attempts = 2;
    return out;
  }
  Result<OtlpExportReport> export_now(const OtlpOutput &out) {
    return export_results(out, s.recording, s.results(), &s.interned);
  }
  FakeCollector collector;
  Scenario s;
};

TEST_F(ExportBounds, TheDeadlineEndsAnExportToACollectorThatNeverAnswers) {
  // Before: the deadline was not used; 3 requests x 2 attempts x 2 s went by,
  // and the error said to check that the collector was running.
  collector.set_fallback({.hang = true});
  OtlpOutput out = output();
  out.export_deadline = 500ms;
  const auto start = std::chrono::steady_clock::now();
  auto report = export_now(out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kHangGuard);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind(), ErrorKind::Io);
  EXPECT_THAT(
      report.error().message(),
      HasSubstr(
          "stopped at its 500 ms deadline (raise it with --otlp-timeout)"));
  EXPECT_THAT(report.error().message(), HasSubstr(kAllUnsent));
  EXPECT_THAT(report.error().message(),
              Not(HasSubstr("check that the collector is running")));
}

TEST_F(ExportBounds, ARetryAfterPastTheDeadlineIsNotWaitedFor) {
  // The traces request is told to come back in 20 s, after the 2 s deadline: it
  // is given up at once, and the other requests still go out.
  collector.script({{.status = 503, .headers = {{"Retry-After", "20"}}}});
  OtlpOutput out = output();
  out.export_deadline = 2s;
  auto report = export_now(out);
  ASSERT_FALSE(report);
  EXPECT_THAT(report.error().message(),
              HasSubstr("stopped at its 2 s deadline"));
  EXPECT_THAT(
      report.error().message(),
      HasSubstr(
          "not sent: 4 spans, 0 metric points, 0 profile samples (1 request)"));
  ASSERT_EQ(collector.requests().size(),
            3u); // traces once, then metrics and profiles
  EXPECT_EQ(collector.requests()[1].path, "/v1/metrics");
}

TEST_F(ExportBounds, AStopRequestEndsTheExportAndSaysWhatWasNotSent) {
  collector.set_fallback({.hang = true});
  std::atomic<int> stop{0};
  OtlpOutput out = output();
  out.timeout = 60s;
  out.stop_requested = &stop;
  std::optional<Result<OtlpExportReport>> report;
  std::thread exporting([&] { report.emplace(export_now(out)); });
  // The export is under way once the collector holds the first request.
  const bool started = ChildProcess::poll_until(
      [&] { return !collector.requests().empty(); }, kHangGuard);
  stop = SIGINT;
  const auto stopped_at = std::chrono::steady_clock::now();
  exporting.join();
  ASSERT_TRUE(started);
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, kHangGuard);
  ASSERT_TRUE(report.has_value());
  ASSERT_FALSE(*report);
  EXPECT_THAT(
      report->error().message(),
      HasSubstr("stopped by SIGINT/SIGTERM; " + std::string(kAllUnsent)));
  EXPECT_EQ(collector.requests().size(), 1u)
      << "requests after the stop were not tried";
}

TEST_F(ExportBounds, AStreamsFinishBoundsWhatItsIntervalsLeftQueued) {
  // `record`'s use: interval requests queue up behind a collector that never
  // answers; finish() (after the tape is done) ends within the deadline,
  // counting them as not sent.
  collector.set_fallback({.hang = true});
  OtlpOutput out = output();
  out.timeout = 60s;
  out.export_deadline = 500ms;
  auto stream = OtlpStream::open(out);
  ASSERT_TRUE(stream) << stream.error().to_string();
  ASSERT_TRUE((*stream)->export_interval(s.recording, s.results()));
  ASSERT_TRUE((*stream)->export_interval(s.recording, s.results()));
  const auto start = std::chrono::steady_clock::now();
  auto report = (*stream)->finish(s.recording, s.results(), &s.interned,
                                  {.sample_hz = 99});
  EXPECT_LT(std::chrono::steady_clock::now() - start, kHangGuard);
  ASSERT_FALSE(report);
  EXPECT_THAT(report.error().message(),
              HasSubstr("stopped at its 500 ms deadline"));
  // The first interval (the spans that ended, metrics), the second (metrics: no
  // span ended since) and the end (the other spans, metrics, the profile).
  EXPECT_THAT(report.error().message(), HasSubstr("(6 requests)"));
}

TEST_F(ExportBounds, AStreamDestroyedWithoutFinishStillEndsWithinTheDeadline) {
  // A recording that failed never calls finish(): the stream's destructor tries
  // what is queued, within the deadline. Before, it waited out every attempt
  // (here: a minute each).
  collector.set_fallback({.hang = true});
  EXPECT_TRUE(passes_in_child(
      [&] {
        OtlpOutput out = output();
        out.timeout = 60s;
        out.export_deadline = 500ms;
        auto stream = OtlpStream::open(out);
        if (!stream || !(*stream)->export_interval(s.recording, s.results()))
          return false;
        stream->reset();
        return true;
      },
      kHangGuard))
      << "~OtlpStream did not return";
}

// ---------------------------------------------------------------- messages

class ExporterMessages : public ExportBounds {
protected:
  Result<void> send_traces(int max_attempts = 2) {
    HttpExporterConfig c;
    c.endpoint = collector.endpoint();
    c.max_attempts = max_attempts;
    c.initial_backoff = 10ms;
    auto e = OtlpHttpExporter::create(c);
    EXPECT_TRUE(e);
    auto traces = s.converter().convert_traces(s.results());
    EXPECT_TRUE(traces);
    return (*e)->send(OtlpSignal::Traces, *traces);
  }
};

TEST_F(ExporterMessages, A429SaysTheCollectorIsThrottlingNotDown) {
  collector.script({{.status = 429, .headers = {{"Retry-After", "0"}}},
                    {.status = 429, .headers = {{"Retry-After", "0"}}}});
  auto r = send_traces();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("HTTP 429"));
  EXPECT_THAT(r.error().message(), HasSubstr("running but throttling"));
  EXPECT_THAT(r.error().message(), HasSubstr("Retry-After"));
  EXPECT_THAT(r.error().message(),
              Not(HasSubstr("check that the collector is running")));
}

TEST_F(ExporterMessages, A429WithoutRetryAfterSaysSo) {
  collector.script({{.status = 429}, {.status = 429}});
  auto r = send_traces();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(),
              HasSubstr("throttling this exporter (it sent no Retry-After)"));
}

TEST_F(ExporterMessages, A500ShowsItsStatusAndSaysThereWasNoBody) {
  // Before: "HTTP 500 ()".
  collector.script({{.status = 500}});
  auto r = send_traces();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("HTTP 500 Scripted, no body"));
  EXPECT_THAT(r.error().message(), HasSubstr("see its logs"));
  EXPECT_EQ(collector.requests().size(), 1u); // 500 is final in OTLP/HTTP
}

TEST_F(ExporterMessages, A500sBodyIsShownBoundedAndTerminalSafe) {
  std::string body = "disk full\x1b]0;PWN\x07\x1b[2J\nforged line";
  body += std::string(1000, 'x');
  collector.script({{.status = 500, .body = body}});
  auto r = send_traces();
  ASSERT_FALSE(r);
  const std::string &m = r.error().message();
  EXPECT_THAT(
      m,
      HasSubstr("HTTP 500 Scripted, body: 'disk full\\x1b]0;PWN\\x07\\x1b[2J\\nforged line"));
  EXPECT_EQ(m.find_first_of("\x1b\x07\n"), std::string::npos) << m;
  EXPECT_LT(m.size(), 600u) << "the body excerpt is bounded";
}

// ---------------------------------------------------------------- time

TEST(ExportTime, ClockConversionSaturatesInsteadOfWrapping) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const ClockReference hostile{.monotonic_ns = 10, .realtime_ns = kMax - 5};
  EXPECT_EQ(hostile.to_unix_ns(100), kMax); // wrapped to 84 before
  EXPECT_EQ(hostile.to_unix_ns(10), kMax - 5);
  EXPECT_EQ(hostile.to_unix_ns(0), kMax - 15);
  const ClockReference early{.monotonic_ns = kMax, .realtime_ns = 5};
  EXPECT_EQ(early.to_unix_ns(0), 0u);
}

TEST_F(ExportBounds, PprofTimesFromAHostileTapeStayNonNegative) {
  // A tape's clock reference near 2^64 made pprof's int64 time_nanos negative.
  TempDir dir;
  s.recording.clock = {.monotonic_ns = 0,
                       .realtime_ns = std::numeric_limits<uint64_t>::max()};
  s.recording.end_ns = std::numeric_limits<uint64_t>::max();
  OtlpOutput out;
  out.pprof_path = dir.file("run.pb.gz");
  auto written = export_now(out);
  ASSERT_TRUE(written) << written.error().to_string();
  auto raw = gzip_decompress(read_file(out.pprof_path));
  ASSERT_TRUE(raw);
  PprofProfile p;
  ASSERT_TRUE(p.ParseFromString(*raw));
  EXPECT_EQ(p.time_nanos(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(p.duration_nanos(), std::numeric_limits<int64_t>::max());
}

// ---------------------------------------------------------------- files

TEST_F(ExportBounds, OtlpJsonAndPprofFilesNeverReplaceAnExistingFileOrAnInput) {
  TempDir dir;
  const std::string json = dir.file("run.otlp.jsonl"),
                    pprof = dir.file("run.pb.gz");
  for (const auto &path : {json, pprof})
    std::ofstream(path) << "keep";
  OtlpOutput out;
  out.json_path = json;
  auto refused = export_now(out);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message(), HasSubstr(json));
  EXPECT_EQ(read_file(json), "keep");

  out = {};
  out.pprof_path = pprof;
  refused = export_now(out);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message(), HasSubstr(pprof));
  EXPECT_EQ(read_file(pprof), "keep");

  // --force replaces them, but never an input of the run.
  out = {};
  out.json_path = json;
  out.pprof_path = pprof;
  out.files.overwrite = true;
  out.files.inputs = {pprof};
  refused = export_now(out);
  ASSERT_FALSE(refused);
  EXPECT_EQ(read_file(pprof), "keep");
  out.files.inputs.clear();
  auto written = export_now(out);
  ASSERT_TRUE(written) << written.error().to_string();
  EXPECT_NE(read_file(json), "keep");
  EXPECT_NE(read_file(pprof), "keep");
}

TEST_F(ExportBounds, OtlpJsonAndPprofFilesAreOwnerOnly) {
  // They hold command lines and host names.
  TempDir dir;
  OtlpOutput out;
  out.json_path = dir.file("run.otlp.jsonl");
  out.pprof_path = dir.file("run.pb.gz");
  auto written = export_now(out);
  ASSERT_TRUE(written) << written.error().to_string();
  for (const auto &path : {out.json_path, out.pprof_path}) {
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
  }
}

TEST_F(ExportBounds, AFailedExportLeavesNoPartialOtlpJsonFile) {
  // export_results writes the file whole at the end: a conversion that fails
  // (profiles without the intern table) leaves nothing at the destination.
  TempDir dir;
  OtlpOutput out;
  out.json_path = dir.file("run.otlp.jsonl");
  auto failed =
      export_results(out, s.recording, s.results(), /*interned=*/nullptr);
  ASSERT_FALSE(failed);
  EXPECT_FALSE(std::filesystem::exists(out.json_path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()))
      << "no temporary file left behind";
}

} // namespace
} // namespace otlp::ebpf::testing
