// The OTLP/HTTP exporter against FakeCollector on 127.0.0.1 (no other network).
#include "core/otlp/exporter.h"

#include <cstdio>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/otlp/otlp_json.h"
#include "core/otlp/output.h"
#include "core/otlp/pprof.h"
#include "tests/otlp/fake_collector.h"
#include "tests/otlp/otlp_test_util.h"
#include "tests/otlp/scenario.h"

namespace otlp::ebpf::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

class ExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(collector.ok()) << "cannot listen on 127.0.0.1";
    s.feed();
    auto t = s.converter().convert_traces(s.results());
    ASSERT_TRUE(t);
    traces = std::move(*t);
  }
  HttpExporterConfig config() {
    HttpExporterConfig c;
    c.endpoint = collector.endpoint();
    c.timeout = 5s;
    c.initial_backoff = 10ms;
    c.max_backoff = 50ms;
    return c;
  }
  std::unique_ptr<OtlpHttpExporter> exporter(HttpExporterConfig c) {
    auto e = OtlpHttpExporter::create(std::move(c));
    EXPECT_TRUE(e) << e.error().to_string();
    return e ? std::move(*e) : nullptr;
  }
  FakeCollector collector;
  Scenario s;
  TraceRequest traces;
};

TEST_F(ExporterTest, PostsGzippedProtobufWithHeaders) {
  HttpExporterConfig c = config();
  c.endpoint += "/";  // a trailing slash must not double up in the path
  c.headers = {{"x-tenant", "team-a"}, {"authorization", "Bearer t0k3n"}};
  auto e = exporter(c);
  ASSERT_TRUE(e);
  auto r = e->send(OtlpSignal::Traces, traces);
  ASSERT_TRUE(r) << r.error().to_string();

  auto got = collector.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].path, "/v1/traces");
  EXPECT_EQ(got[0].headers["content-type"], "application/x-protobuf");
  EXPECT_EQ(got[0].headers["content-encoding"], "gzip");
  EXPECT_EQ(got[0].headers["x-tenant"], "team-a");
  EXPECT_EQ(got[0].headers["authorization"], "Bearer t0k3n");
  EXPECT_EQ(got[0].headers.count("expect"), 0u);
  auto raw = gzip_decompress(got[0].body);
  ASSERT_TRUE(raw) << raw.error().to_string();
  TraceRequest decoded;
  ASSERT_TRUE(decoded.ParseFromString(*raw));
  EXPECT_EQ(serialize_deterministic(decoded), serialize_deterministic(traces));
  EXPECT_EQ(e->stats().requests_sent, 1u);
  EXPECT_EQ(e->stats().retries, 0u);
}

TEST_F(ExporterTest, SignalPathsAndUncompressedBodies) {
  HttpExporterConfig c = config();
  c.gzip = false;
  auto e = exporter(c);
  ASSERT_TRUE(e);
  auto m = s.converter().convert_metrics(s.results());
  ASSERT_TRUE(m);
  ASSERT_TRUE(e->send(OtlpSignal::Metrics, *m));
  ASSERT_TRUE(e->send(OtlpSignal::Profiles, ProfilesRequest()));
  auto got = collector.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].path, "/v1/metrics");
  EXPECT_EQ(got[0].headers.count("content-encoding"), 0u);
  MetricsRequest decoded;
  ASSERT_TRUE(decoded.ParseFromString(got[0].body));
  EXPECT_EQ(decoded.resource_metrics_size(), m->resource_metrics_size());
  EXPECT_EQ(got[1].path, "/v1development/profiles");
}

TEST_F(ExporterTest, RetriesA503HonouringRetryAfter) {
  collector.script({{.status = 503, .headers = {{"Retry-After", "1"}}}, {.status = 200}});
  auto e = exporter(config());
  ASSERT_TRUE(e);
  auto r = e->send(OtlpSignal::Traces, traces);
  ASSERT_TRUE(r) << r.error().to_string();
  auto got = collector.requests();
  ASSERT_EQ(got.size(), 2u);
  // Retry-After: 1 (seconds) wins over the 10 ms backoff.
  EXPECT_GE(got[1].at - got[0].at, 900ms);
  EXPECT_EQ(got[0].body, got[1].body);
  EXPECT_EQ(e->stats().retries, 1u);
  EXPECT_EQ(e->stats().requests_sent, 1u);
  EXPECT_EQ(e->stats().requests_failed, 0u);
}

TEST_F(ExporterTest, RetriesEachTransientStatusWithBackoff) {
  collector.script({{.status = 429}, {.status = 502}, {.status = 504}, {.status = 200}});
  auto e = exporter(config());
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->send(OtlpSignal::Traces, traces));
  auto got = collector.requests();
  ASSERT_EQ(got.size(), 4u);
  // 10 ms, 20 ms, 40 ms: doubling.
  EXPECT_GE(got[1].at - got[0].at, 9ms);
  EXPECT_GE(got[3].at - got[2].at, 38ms);
  EXPECT_EQ(e->stats().retries, 3u);
}

TEST_F(ExporterTest, A400IsNotRetried) {
  collector.script({{.status = 400, .body = "bad span"}});
  auto e = exporter(config());
  ASSERT_TRUE(e);
  auto r = e->send(OtlpSignal::Traces, traces);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Io);
  EXPECT_THAT(r.error().message(), HasSubstr("HTTP 400"));
  EXPECT_THAT(r.error().message(), HasSubstr("bad span"));
  EXPECT_EQ(collector.requests().size(), 1u);
  EXPECT_EQ(e->stats().requests_failed, 1u);
  EXPECT_EQ(e->stats().retries, 0u);
}

TEST_F(ExporterTest, GivesUpOnExhaustedRetries) {
  collector.script({{.status = 503}, {.status = 503}, {.status = 503}});
  HttpExporterConfig c = config();
  c.max_attempts = 3;
  auto e = exporter(c);
  ASSERT_TRUE(e);
  auto r = e->send(OtlpSignal::Traces, traces);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("after 3 attempts"));
  EXPECT_THAT(r.error().message(), HasSubstr("HTTP 503"));
  EXPECT_EQ(collector.requests().size(), 3u);
}

TEST_F(ExporterTest, DeadEndpointIsAClearErrorAfterBoundedRetries) {
  HttpExporterConfig c = config();
  c.endpoint = "http://127.0.0.1:" + std::to_string(dead_port());
  c.max_attempts = 3;
  auto e = exporter(c);
  ASSERT_TRUE(e);
  auto start = std::chrono::steady_clock::now();
  auto r = e->send(OtlpSignal::Traces, traces);
  ASSERT_FALSE(r);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_THAT(r.error().message(), HasSubstr("after 3 attempts"));
  EXPECT_THAT(r.error().message(), HasSubstr("connect"));
  EXPECT_THAT(r.error().message(), HasSubstr(c.endpoint + "/v1/traces"));
  EXPECT_EQ(e->stats().retries, 2u);
  EXPECT_EQ(e->stats().requests_failed, 1u);
}

TEST_F(ExporterTest, BoundedQueueCountsDrops) {
  HttpExporterConfig c = config();
  c.queue_capacity = 2;
  auto e = exporter(c);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->enqueue(OtlpSignal::Traces, traces, 4));
  EXPECT_TRUE(e->enqueue(OtlpSignal::Traces, traces, 4));
  EXPECT_FALSE(e->enqueue(OtlpSignal::Traces, traces, 4));
  EXPECT_FALSE(e->enqueue(OtlpSignal::Metrics, MetricsRequest(), 7));
  EXPECT_EQ(e->queued(), 2u);
  EXPECT_EQ(e->stats().dropped_requests, 2u);
  EXPECT_EQ(e->stats().dropped_items, 11u);
  EXPECT_TRUE(collector.requests().empty());  // nothing sent before flush
  ASSERT_TRUE(e->flush());
  EXPECT_EQ(e->queued(), 0u);
  EXPECT_EQ(collector.requests().size(), 2u);
  EXPECT_EQ(e->stats().requests_sent, 2u);
  // Room again after the flush.
  EXPECT_TRUE(e->enqueue(OtlpSignal::Traces, traces, 4));
}

TEST_F(ExporterTest, FlushTriesEveryRequestAndReportsTheFirstError) {
  collector.script({{.status = 400}, {.status = 200}});
  auto e = exporter(config());
  ASSERT_TRUE(e);
  e->enqueue(OtlpSignal::Traces, traces, 4);
  e->enqueue(OtlpSignal::Metrics, MetricsRequest(), 1);
  auto r = e->flush();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("traces"));
  EXPECT_EQ(collector.requests().size(), 2u);
  EXPECT_EQ(e->stats().requests_sent, 1u);
  EXPECT_EQ(e->stats().requests_failed, 1u);
}

TEST_F(ExporterTest, PartialSuccessIsCounted) {
  otlp_proto::collector::trace::v1::ExportTraceServiceResponse resp;
  resp.mutable_partial_success()->set_rejected_spans(2);
  resp.mutable_partial_success()->set_error_message("too old");
  collector.script({{.status = 200, .body = resp.SerializeAsString()}});
  auto e = exporter(config());
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->send(OtlpSignal::Traces, traces));
  EXPECT_EQ(e->stats().rejected_items, 2u);
}

TEST(ExporterConfigTest, RejectsUnusableConfigurations) {
  EXPECT_FALSE(OtlpHttpExporter::create({.endpoint = "localhost:4318"}));
  EXPECT_FALSE(OtlpHttpExporter::create({.endpoint = "ftp://x"}));
  EXPECT_FALSE(OtlpHttpExporter::create({.endpoint = "http://x", .max_attempts = 0}));
  auto bad_header = OtlpHttpExporter::create(
      {.endpoint = "http://x", .headers = {{"evil\r\nX-Injected", "1"}}});
  ASSERT_FALSE(bad_header);
  EXPECT_EQ(bad_header.error().kind(), ErrorKind::ConfigError);
}

TEST(OtlpHeadersTest, ParsesKeyValueListWithPercentDecoding) {
  auto h = parse_otlp_headers(" authorization = Bearer%20abc , x-tenant=a=b,,");
  ASSERT_TRUE(h) << h.error().to_string();
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0], (std::pair<std::string, std::string>{"authorization", "Bearer abc"}));
  EXPECT_EQ((*h)[1], (std::pair<std::string, std::string>{"x-tenant", "a=b"}));
  auto bad = parse_otlp_headers("novalue");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("novalue"));
}

// A signal with nothing in it is neither written nor sent: no `{}` line, no empty request.
TEST_F(ExporterTest, EmptySignalsAreNotExported) {
  OtlpOutput out;
  out.endpoint = collector.endpoint();
  out.json_path = temp_path("empty_signals_test.jsonl");
  AggregatorResults results = s.results();
  results.network = nullptr;  // no spans
  results.cpu = nullptr;      // no profile
  auto report = export_results(out, s.recording, results, &s.interned);
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->spans, 0u);
  EXPECT_EQ(report->json_lines, 1u);
  EXPECT_EQ(report->exporter.requests_sent, 1u);
  auto got = collector.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].path, "/v1/metrics");
  std::ifstream json(out.json_path);
  std::string line;
  size_t lines = 0;
  while (std::getline(json, line)) {
    ++lines;
    EXPECT_THAT(line, HasSubstr(R"({"resourceMetrics":)"));
  }
  EXPECT_EQ(lines, 1u);
}

TEST_F(ExporterTest, ExportResultsSendsEverySignalAndWritesFiles) {
  OtlpOutput out;
  out.endpoint = collector.endpoint();
  out.headers = {{"x-run", "1"}};
  out.json_path = temp_path("export_results_test.jsonl");
  out.pprof_path = temp_path("export_results_test.pb.gz");
  out.resource.host_name = "web-1";
  auto report = export_results(out, s.recording, s.results(), &s.interned);
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->spans, 4u);
  EXPECT_EQ(report->metric_points, 26u);
  EXPECT_EQ(report->profile_samples, 6u);
  EXPECT_EQ(report->json_lines, 3u);
  EXPECT_EQ(report->exporter.requests_sent, 3u);
  auto got = collector.requests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].path, "/v1/traces");
  EXPECT_EQ(got[1].path, "/v1/metrics");
  EXPECT_EQ(got[2].path, "/v1development/profiles");
  EXPECT_EQ(got[2].headers["x-run"], "1");

  std::ifstream json(out.json_path);
  std::string line;
  std::getline(json, line);
  EXPECT_THAT(line, HasSubstr(R"({"resourceSpans":)"));
  std::getline(json, line);
  EXPECT_THAT(line, HasSubstr(R"({"resourceMetrics":)"));
  std::getline(json, line);
  EXPECT_THAT(line, HasSubstr(R"({"resourceProfiles":)"));

  std::ifstream pprof(out.pprof_path, std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(pprof)), std::istreambuf_iterator<char>());
  auto raw = gzip_decompress(gz);
  ASSERT_TRUE(raw);
  PprofProfile p;
  ASSERT_TRUE(p.ParseFromString(*raw));
  EXPECT_EQ(p.sample_size(), 3);
  std::remove(out.json_path.c_str());
  std::remove(out.pprof_path.c_str());
}

TEST_F(ExporterTest, ExportResultsReportsAnUnreachableCollector) {
  OtlpOutput out;
  out.endpoint = "http://127.0.0.1:" + std::to_string(dead_port());
  out.max_attempts = 1;
  auto report = export_results(out, s.recording, s.results(), &s.interned);
  ASSERT_FALSE(report);
  EXPECT_THAT(report.error().message(), HasSubstr("check that the collector is running"));
}

}  // namespace
}  // namespace otlp::ebpf::testing
