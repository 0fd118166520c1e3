#include "core/otlp/converter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/otlp/ids.h"
#include "core/otlp/otlp_json.h"
#include "core/otlp/resource.h"
#include "tests/otlp/otlp_test_util.h"
#include "tests/otlp/scenario.h"

namespace otlp::ebpf::testing {
namespace {

using ::testing::ElementsAre;
using trace_pb_span = otlp_proto::trace::v1::Span;

class ConverterTest : public ::testing::Test {
 protected:
  void SetUp() override { s.feed(); }
  TraceRequest traces(ResourceConfig rc = {.host_name = "web-1"}) {
    auto r = s.converter(rc).convert_traces(s.results());
    EXPECT_TRUE(r.has_value()) << r.error().to_string();
    return *r;
  }
  MetricsRequest metrics() {
    auto r = s.converter().convert_metrics(s.results());
    EXPECT_TRUE(r.has_value()) << r.error().to_string();
    return *r;
  }
  Scenario s;
};

TEST_F(ConverterTest, ResourcesArePerProcessWithSemanticConventionAttributes) {
  TraceRequest t = traces();
  ASSERT_EQ(t.resource_spans_size(), 2);  // pid 100 then pid 200
  const auto& attrs = t.resource_spans(0).resource().attributes();
  EXPECT_EQ(str_attr(attrs, "service.name"), "nginx");
  EXPECT_EQ(str_attr(attrs, "host.name"), "web-1");
  EXPECT_EQ(str_attr(attrs, "os.type"), "linux");
  EXPECT_EQ(int_attr(attrs, "process.pid"), 100);
  EXPECT_EQ(int_attr(attrs, "process.parent_pid"), 1);
  EXPECT_EQ(str_attr(attrs, "process.executable.name"), "nginx");
  EXPECT_EQ(str_attr(attrs, "process.executable.path"), "/usr/sbin/nginx");
  EXPECT_EQ(str_attr(attrs, "process.command_line"), "nginx -g daemon off;");
  EXPECT_EQ(int_attr(t.resource_spans(1).resource().attributes(), "process.pid"), 200);
  EXPECT_EQ(t.resource_spans(0).scope_spans(0).scope().name(), "bpftape");
}

TEST_F(ConverterTest, ServiceNameOverrideAndCommandLineRedaction) {
  TraceRequest t = traces({.service_name = "checkout", .host_name = "web-1",
                           .redact_command_line = true});
  for (const auto& rs : t.resource_spans()) {
    EXPECT_EQ(str_attr(rs.resource().attributes(), "service.name"), "checkout");
    EXPECT_EQ(find_attr(rs.resource().attributes(), "process.command_line"), nullptr);
  }
}

TEST_F(ConverterTest, ServerConnectionSpan) {
  TraceRequest t = traces();
  const auto& spans = t.resource_spans(0).scope_spans(0).spans();
  ASSERT_EQ(spans.size(), 2);  // connection, then its request
  const trace_pb_span& c = spans[0];
  EXPECT_EQ(c.name(), "tcp accept");
  EXPECT_EQ(c.kind(), trace_pb_span::SPAN_KIND_SERVER);
  EXPECT_EQ(c.start_time_unix_nano(), unix_at(kMonoBase + 2'000'000));
  EXPECT_EQ(c.end_time_unix_nano(), unix_at(kMonoBase + 5'000'000));
  EXPECT_TRUE(c.parent_span_id().empty());
  const auto& a = c.attributes();
  EXPECT_EQ(str_attr(a, "network.transport"), "tcp");
  EXPECT_EQ(str_attr(a, "network.type"), "ipv4");
  EXPECT_EQ(str_attr(a, "network.peer.address"), "10.0.0.7");
  EXPECT_EQ(int_attr(a, "network.peer.port"), 51000);
  EXPECT_EQ(str_attr(a, "network.local.address"), "10.0.0.2");
  EXPECT_EQ(int_attr(a, "network.local.port"), 80);
  EXPECT_EQ(str_attr(a, "server.address"), "10.0.0.2");
  EXPECT_EQ(int_attr(a, "server.port"), 80);
  EXPECT_EQ(str_attr(a, "client.address"), "10.0.0.7");
  EXPECT_EQ(int_attr(a, "client.port"), 51000);
  EXPECT_EQ(str_attr(a, "network.protocol.name"), "http");
  EXPECT_EQ(str_attr(a, "bpftape.socket.id"), "0xa1");
  EXPECT_EQ(int_attr(a, "bpftape.network.bytes_received"), 120);
  EXPECT_EQ(int_attr(a, "bpftape.network.bytes_sent"), 900);
  EXPECT_EQ(find_attr(a, "bpftape.connection.open_at_end"), nullptr);
}

TEST_F(ConverterTest, ServerRequestSpanIsChildOfItsConnection) {
  TraceRequest t = traces();
  const auto& spans = t.resource_spans(0).scope_spans(0).spans();
  const trace_pb_span& c = spans[0];
  const trace_pb_span& r = spans[1];
  EXPECT_EQ(r.name(), "GET");  // no route is known: the method alone (semantic conventions)
  EXPECT_EQ(r.kind(), trace_pb_span::SPAN_KIND_SERVER);
  EXPECT_EQ(r.trace_id(), c.trace_id());
  EXPECT_EQ(r.parent_span_id(), c.span_id());
  EXPECT_NE(r.span_id(), c.span_id());
  EXPECT_EQ(r.start_time_unix_nano(), unix_at(kMonoBase + 3'000'000));
  EXPECT_EQ(r.end_time_unix_nano(), unix_at(kMonoBase + 3'500'000));  // 0.5 ms latency
  const auto& a = r.attributes();
  EXPECT_EQ(str_attr(a, "http.request.method"), "GET");
  EXPECT_EQ(str_attr(a, "url.path"), "/api/items");  // query string dropped by the parser
  EXPECT_EQ(int_attr(a, "http.response.status_code"), 200);
  EXPECT_EQ(str_attr(a, "server.address"), "10.0.0.2");
  EXPECT_EQ(int_attr(a, "server.port"), 80);
  EXPECT_EQ(str_attr(a, "client.address"), "10.0.0.7");
  EXPECT_EQ(str_attr(a, "network.peer.address"), "10.0.0.7");
  EXPECT_EQ(int_attr(a, "thread.id"), 101);
  EXPECT_EQ(int_attr(a, "http.request.size"), 120);
  EXPECT_EQ(int_attr(a, "http.response.size"), 900);
  EXPECT_EQ(r.status().code(), otlp_proto::trace::v1::Status::STATUS_CODE_UNSET);
}

TEST_F(ConverterTest, ClientSpansStillOpenConnectionAndErrorStatus) {
  TraceRequest t = traces();
  const auto& spans = t.resource_spans(1).scope_spans(0).spans();
  ASSERT_EQ(spans.size(), 2);
  const trace_pb_span& c = spans[0];
  EXPECT_EQ(c.name(), "tcp connect");
  EXPECT_EQ(c.kind(), trace_pb_span::SPAN_KIND_CLIENT);
  // Open when the recording ended: the span ends at the recording's end.
  EXPECT_EQ(c.end_time_unix_nano(), unix_at(s.recording.end_ns));
  EXPECT_TRUE(find_attr(c.attributes(), "bpftape.connection.open_at_end")->bool_value());
  EXPECT_EQ(str_attr(c.attributes(), "server.address"), "10.0.0.2");
  EXPECT_EQ(int_attr(c.attributes(), "server.port"), 8080);
  EXPECT_EQ(find_attr(c.attributes(), "client.address"), nullptr);
  EXPECT_EQ(int_attr(c.attributes(), "bpftape.tcp.retransmits"), 1);

  const trace_pb_span& r = spans[1];
  EXPECT_EQ(r.name(), "POST");
  EXPECT_EQ(r.kind(), trace_pb_span::SPAN_KIND_CLIENT);
  EXPECT_EQ(r.parent_span_id(), c.span_id());
  EXPECT_EQ(int_attr(r.attributes(), "http.response.status_code"), 503);
  EXPECT_EQ(r.status().code(), otlp_proto::trace::v1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(str_attr(r.attributes(), "error.type"), "503");
  EXPECT_EQ(r.end_time_unix_nano() - r.start_time_unix_nano(), 1'900'000u);
}

// A request whose bytes the kernel never showed (its payload, no packet) and that got no
// answer: its sizes are unknown, so left out rather than exported as 0.
TEST_F(ConverterTest, UnknownHttpSizesAreLeftOut) {
  Scenario quiet;
  quiet.events = {
      quiet.net(EbpfEventType::TcpAccept, kMonoBase + 1'000'000, 100, 0xC3, true),
      quiet.net(EbpfEventType::NetworkPayload, kMonoBase + 2'000'000, 100, 0xC3, true,
                NetDirection::Receive, 0, "GET /slow HTTP/1.1\r\n"),
      quiet.net(EbpfEventType::TcpClose, kMonoBase + 3'000'000, 100, 0xC3, true)};
  quiet.feed();
  auto t = quiet.converter().convert_traces(quiet.results());
  ASSERT_TRUE(t.has_value()) << t.error().to_string();
  const auto& spans = t->resource_spans(0).scope_spans(0).spans();
  ASSERT_EQ(spans.size(), 2);
  const auto& a = spans[1].attributes();
  EXPECT_EQ(spans[1].name(), "GET");
  EXPECT_EQ(find_attr(a, "http.request.size"), nullptr);
  EXPECT_EQ(find_attr(a, "http.response.size"), nullptr);
  EXPECT_TRUE(find_attr(a, "bpftape.http.response_missing")->bool_value());
}

TEST_F(ConverterTest, IdsAreDerivedFromRecordingIdAndConnection) {
  TraceRequest t = traces();
  const trace_pb_span& c = t.resource_spans(0).scope_spans(0).spans(0);
  ConnectionIds expected = connection_ids("rec-0001", 0xA1, kMonoBase + 2'000'000);
  EXPECT_EQ(c.trace_id(), id_bytes(expected.trace_id));
  EXPECT_EQ(c.span_id(), id_bytes(expected.span_id));
  EXPECT_EQ(c.trace_id().size(), 16u);
  EXPECT_EQ(c.span_id().size(), 8u);
  // Another recording id: other ids; the two connections never share a trace.
  EXPECT_NE(connection_ids("rec-0002", 0xA1, kMonoBase + 2'000'000).trace_id, expected.trace_id);
  EXPECT_NE(t.resource_spans(1).scope_spans(0).spans(0).trace_id(), c.trace_id());
}

TEST_F(ConverterTest, ConvertingTwiceIsByteIdentical) {
  EbpfOtlpConverter a = s.converter();
  EbpfOtlpConverter b = s.converter();
  auto t1 = a.convert_traces(s.results());
  auto t2 = b.convert_traces(s.results());
  auto m1 = a.convert_metrics(s.results());
  auto m2 = b.convert_metrics(s.results());
  ASSERT_TRUE(t1 && t2 && m1 && m2);
  EXPECT_EQ(serialize_deterministic(*t1), serialize_deterministic(*t2));
  EXPECT_EQ(to_otlp_json(*t1), to_otlp_json(*t2));
  EXPECT_EQ(serialize_deterministic(*m1), serialize_deterministic(*m2));
  EXPECT_EQ(to_otlp_json(*m1), to_otlp_json(*m2));
  // And a fresh scenario built the same way converts to the same bytes.
  Scenario again;
  again.feed();
  auto t3 = again.converter().convert_traces(again.results());
  ASSERT_TRUE(t3);
  EXPECT_EQ(serialize_deterministic(*t1), serialize_deterministic(*t3));
}

TEST_F(ConverterTest, ArenaVariantsGiveTheSameBytes) {
  EbpfOtlpConverter c = s.converter();
  google::protobuf::Arena arena;
  auto t = c.convert_traces(s.results(), &arena);
  auto m = c.convert_metrics(s.results(), &arena);
  ASSERT_TRUE(t && m);
  EXPECT_EQ((*t)->GetArena(), &arena);
  EXPECT_EQ(serialize_deterministic(**t), serialize_deterministic(*c.convert_traces(s.results())));
  EXPECT_EQ(serialize_deterministic(**m), serialize_deterministic(*c.convert_metrics(s.results())));
  EbpfOtlpConverter unconfigured;
  EXPECT_FALSE(unconfigured.convert_traces(s.results(), &arena));
  EXPECT_FALSE(unconfigured.convert_metrics(s.results(), nullptr));  // no leak on error (ASan)
}

TEST_F(ConverterTest, SyscallMetrics) {
  MetricsRequest m = metrics();
  const auto* nginx = find_resource(m.resource_metrics(), 100);
  ASSERT_NE(nginx, nullptr);
  const auto* count = find_metric(*nginx, "bpftape.syscall.count");
  ASSERT_NE(count, nullptr);
  ASSERT_TRUE(count->has_sum());
  EXPECT_TRUE(count->sum().is_monotonic());
  EXPECT_EQ(count->sum().aggregation_temporality(),
            otlp_proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  ASSERT_EQ(count->sum().data_points_size(), 2);
  // by count desc: read (3) then write (1)
  EXPECT_EQ(str_attr(count->sum().data_points(0).attributes(), "bpftape.syscall.name"), "read");
  EXPECT_EQ(count->sum().data_points(0).as_int(), 3);
  EXPECT_EQ(str_attr(count->sum().data_points(1).attributes(), "bpftape.syscall.name"), "write");
  EXPECT_EQ(count->sum().data_points(1).as_int(), 1);
  EXPECT_EQ(count->sum().data_points(0).start_time_unix_nano(), unix_at(s.recording.start_ns));
  EXPECT_EQ(count->sum().data_points(0).time_unix_nano(), unix_at(s.recording.end_ns));

  const auto* errors = find_metric(*nginx, "bpftape.syscall.errors");
  ASSERT_NE(errors, nullptr);
  EXPECT_EQ(errors->sum().data_points(0).as_int(), 1);  // the EAGAIN read
  EXPECT_EQ(errors->sum().data_points(1).as_int(), 0);

  const auto* hist = find_metric(*nginx, "bpftape.syscall.duration");
  ASSERT_NE(hist, nullptr);
  EXPECT_EQ(hist->unit(), "s");
  const auto& p = hist->histogram().data_points(0);  // read: 1000, 2000, 3000 ns
  EXPECT_EQ(p.count(), 3u);
  EXPECT_DOUBLE_EQ(p.sum(), 6e-6);
  EXPECT_DOUBLE_EQ(p.min(), 1e-6);
  EXPECT_DOUBLE_EQ(p.max(), 3e-6);
  ASSERT_EQ(p.bucket_counts_size(), p.explicit_bounds_size() + 1);
  uint64_t total = 0;
  for (uint64_t c : p.bucket_counts()) total += c;
  EXPECT_EQ(total, 3u);
  // Each value lands in the bucket (bounds[i-1], bounds[i]] OTLP defines.
  for (double v : {1e-6, 2e-6, 3e-6}) {
    int i = 0;
    while (i < p.explicit_bounds_size() && p.explicit_bounds(i) < v) ++i;
    EXPECT_GE(p.bucket_counts(i), 1u) << "no count in the bucket holding " << v;
  }
  for (int i = 1; i < p.explicit_bounds_size(); ++i) {
    EXPECT_LT(p.explicit_bounds(i - 1), p.explicit_bounds(i));
  }
}

TEST_F(ConverterTest, NetworkMemoryCpuAndHttpMetrics) {
  MetricsRequest m = metrics();
  // Host resource first: memory totals and idle CPU.
  const auto& host = m.resource_metrics(0);
  EXPECT_EQ(find_attr(host.resource().attributes(), "process.pid"), nullptr);
  EXPECT_EQ(str_attr(host.resource().attributes(), "service.name"), "bpftape");
  EXPECT_EQ(find_metric(host, "bpftape.memory.allocations")->sum().data_points(0).as_int(), 2);
  EXPECT_EQ(find_metric(host, "bpftape.memory.allocated")->sum().data_points(0).as_int(), 4196);
  EXPECT_EQ(find_metric(host, "bpftape.memory.freed")->sum().data_points(0).as_int(), 100);
  EXPECT_EQ(find_metric(host, "bpftape.memory.outstanding")->gauge().data_points(0).as_int(), 4096);
  EXPECT_EQ(find_metric(host, "bpftape.cpu.idle_samples")->sum().data_points(0).as_int(), 2);

  const auto* nginx = find_resource(m.resource_metrics(), 100);
  const auto* io = find_metric(*nginx, "process.network.io");
  ASSERT_NE(io, nullptr);
  EXPECT_EQ(io->unit(), "By");
  EXPECT_EQ(str_attr(io->sum().data_points(0).attributes(), "network.io.direction"), "transmit");
  EXPECT_EQ(io->sum().data_points(0).as_int(), 900);
  EXPECT_EQ(io->sum().data_points(1).as_int(), 120);
  const auto* conns = find_metric(*nginx, "bpftape.network.connections");
  ASSERT_EQ(conns->sum().data_points_size(), 1);
  EXPECT_EQ(str_attr(conns->sum().data_points(0).attributes(), "bpftape.connection.role"), "server");
  EXPECT_EQ(find_metric(*nginx, "bpftape.cpu.samples")->sum().data_points(0).as_int(), 4);
  const auto* http = find_metric(*nginx, "http.server.request.duration");
  ASSERT_NE(http, nullptr);
  const auto& hp = http->histogram().data_points(0);
  EXPECT_EQ(hp.count(), 1u);
  EXPECT_DOUBLE_EQ(hp.sum(), 0.0005);
  EXPECT_EQ(hp.bucket_counts(0), 1u);  // <= 5 ms
  EXPECT_EQ(str_attr(hp.attributes(), "http.request.method"), "GET");
  EXPECT_EQ(int_attr(hp.attributes(), "http.response.status_code"), 200);

  const auto* curl = find_resource(m.resource_metrics(), 200);
  ASSERT_NE(curl, nullptr);
  EXPECT_EQ(find_metric(*curl, "bpftape.process.memory.outstanding")->gauge().data_points(0).as_int(),
            4096);
  EXPECT_EQ(find_metric(*curl, "bpftape.tcp.retransmits")->sum().data_points(0).as_int(), 1);
  EXPECT_NE(find_metric(*curl, "http.client.request.duration"), nullptr);
  EXPECT_EQ(find_metric(*curl, "http.server.request.duration"), nullptr);
  // host 7 (6 memory + idle), nginx 12 (2+2+2 syscall, 2 io, connections, retransmits,
  // http, cpu), curl 7 (2 io, connections, retransmits, http, 2 memory).
  EXPECT_EQ(count_items(m).metric_points, 26u);
}

TEST(ConverterPidReuseTest, SpansOfAReusedPidGetTheirIncarnationsResource) {
  Scenario s;  // its events are not fed: only the two connections below
  s.processes.upsert(ProcessInfo{.pid = 300, .comm = "old", .exe = "/bin/old",
                                 .start_ns = kMonoBase + 100});
  s.processes.upsert(ProcessInfo{.pid = 300, .comm = "new", .exe = "/bin/new",
                                 .start_ns = kMonoBase + 5'000'000});
  std::vector<EbpfEvent> events = {
      s.net(EbpfEventType::TcpConnect, kMonoBase + 1'000'000, 300, 0xD1, false),
      s.net(EbpfEventType::TcpClose, kMonoBase + 2'000'000, 300, 0xD1, false),
      s.net(EbpfEventType::TcpConnect, kMonoBase + 6'000'000, 300, 0xD2, false),
      s.net(EbpfEventType::TcpClose, kMonoBase + 7'000'000, 300, 0xD2, false),
  };
  s.network.consume(events, s.interned);
  auto t = s.converter().convert_traces(s.results());
  ASSERT_TRUE(t);
  ASSERT_EQ(t->resource_spans_size(), 2);
  EXPECT_EQ(str_attr(t->resource_spans(0).resource().attributes(), "process.executable.name"), "old");
  EXPECT_EQ(str_attr(t->resource_spans(1).resource().attributes(), "process.executable.name"), "new");
  EXPECT_EQ(t->resource_spans(0).scope_spans(0).spans_size(), 1);
  EXPECT_EQ(t->resource_spans(1).scope_spans(0).spans_size(), 1);
}

TEST_F(ConverterTest, AnOutputIsRequired) {
  EbpfOtlpConverter c;
  EXPECT_FALSE(c.is_configured());
  auto r = c.convert_traces(s.results());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::ConfigError);
  EXPECT_THAT(r.error().message(), ::testing::HasSubstr("with_tracer()"));
  c.with_resource({}).with_recording(s.recording);
  EXPECT_FALSE(c.is_configured());  // no output yet
  c.with_meter();
  EXPECT_TRUE(c.is_configured());
  auto t = c.convert_traces(s.results());
  ASSERT_FALSE(t);
  EXPECT_THAT(t.error().message(), ::testing::HasSubstr("with_tracer()"));
  EXPECT_TRUE(c.convert_metrics(s.results()));
}

// The seeds' sequence: new() -> with_tracer() -> with_meter() is configured and converts
// events of this machine's clock to their Unix times.
TEST_F(ConverterTest, SeedsSequenceNewWithTracerWithMeterIsConfigured) {
  EbpfOtlpConverter c;
  EXPECT_FALSE(c.is_configured());
  c.with_tracer().with_meter();
  EXPECT_TRUE(c.is_configured());
  EbpfOtlpConverter tracer_only;
  EXPECT_TRUE(tracer_only.with_tracer().is_configured());
  const ClockReference now = ClockReference::now();
  auto batch = c.convert_events_batch(s.events, s.interned);
  ASSERT_TRUE(batch) << batch.error().to_string();
  ASSERT_EQ(batch->first.size(), 1u);
  // The clock read by new() maps the events' monotonic time near their Unix time (the
  // scenario's events are at kMonoBase; within a day of now).
  const OtlpSpan& span = batch->first[0];
  const uint64_t expected = now.to_unix_ns(kMonoBase);
  const uint64_t day = 86'400'000'000'000;
  EXPECT_LT(span.start_time_unix_nano() > expected ? span.start_time_unix_nano() - expected
                                                   : expected - span.start_time_unix_nano(),
            day);
  EXPECT_EQ(batch->second, s.events.size());
  auto metrics = c.convert_metrics(c.event_results(&s.processes));
  ASSERT_TRUE(metrics) << metrics.error().to_string();
  EXPECT_GT(count_items(*metrics).metric_points, 0u);
}

TEST_F(ConverterTest, EventLevelApiGivesTheSameConnectionSpanAsTheAggregation) {
  EbpfOtlpConverter c = s.converter();
  auto batch = c.convert_events_batch(s.events, s.interned);
  ASSERT_TRUE(batch) << batch.error().to_string();
  auto& [spans, metric_events] = *batch;
  ASSERT_EQ(spans.size(), 1u);  // only the server connection closed
  TraceRequest t = traces();
  EXPECT_EQ(serialize_deterministic(spans[0]),
            serialize_deterministic(t.resource_spans(0).scope_spans(0).spans(0)));
  EXPECT_EQ(metric_events, s.events.size());  // no process events in the scenario
  // The converter's own aggregations give the same metrics as the scenario's.
  auto own = c.convert_metrics(c.event_results(&s.processes));
  auto ref = c.convert_metrics(s.results());
  ASSERT_TRUE(own && ref);
  EXPECT_EQ(serialize_deterministic(*own), serialize_deterministic(*ref));
}

TEST_F(ConverterTest, SingleEventConversion) {
  EbpfOtlpConverter c = s.converter();
  // A close with no earlier event: opened `duration` before it, role unknown.
  EbpfEvent close = s.net(EbpfEventType::TcpClose, kMonoBase + 9'000'000, 300, 0xC3, false,
                          NetDirection::None, 0, {}, 1'000'000);
  auto span = c.convert_event_to_span(close, s.interned);
  ASSERT_TRUE(span);
  ASSERT_TRUE(span->has_value());
  EXPECT_EQ((*span)->name(), "tcp connection");
  EXPECT_EQ((*span)->kind(), trace_pb_span::SPAN_KIND_INTERNAL);
  EXPECT_EQ((*span)->start_time_unix_nano(), unix_at(kMonoBase + 8'000'000));
  // A syscall completes no span; it feeds the metrics.
  EbpfEvent sc = EbpfEvent::syscall_event(kMonoBase + 10, 7, 7, 0, {0, 0, 1, 10});
  auto none = c.convert_event_to_span(sc, s.interned);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(c.convert_event_to_metric(sc, s.interned));
  EXPECT_THAT(c.event_results().syscalls->pids(), ElementsAre(7u));
}

}  // namespace
}  // namespace otlp::ebpf::testing

namespace otlp::ebpf::testing {
namespace {

TEST(Utf8Test, InvalidSequencesBecomeReplacementCharacters) {

  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(to_valid_utf8("nginx"), "nginx");
  EXPECT_EQ(to_valid_utf8("caf\xC3\xA9"), "caf\xC3\xA9");               // é
  EXPECT_EQ(to_valid_utf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");     // U+1F600
  EXPECT_EQ(to_valid_utf8("a\xFF" "b"), "a" + fffd + "b");
  EXPECT_EQ(to_valid_utf8("\xC0\x80"), fffd + fffd);                    // overlong NUL
  EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"), fffd + fffd + fffd);         // surrogate D800
  EXPECT_EQ(to_valid_utf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // > U+10FFFF
  EXPECT_EQ(to_valid_utf8("x\xE2\x82"), "x" + fffd + fffd);            // truncated
}

}  // namespace
}  // namespace otlp::ebpf::testing
