#include "core/otlp/otlp_json.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/otlp/exporter.h"
#include "tests/otlp/otlp_test_util.h"
#include "tests/otlp/scenario.h"

namespace otlp::ebpf::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The string value of the first `"key":"..."` in `json` ("" when absent).
std::string string_field(const std::string& json, const std::string& key) {
  std::string open = "\"" + key + "\":\"";
  size_t at = json.find(open);
  if (at == std::string::npos) return {};
  at += open.size();
  return json.substr(at, json.find('"', at) - at);
}

bool is_lower_hex(const std::string& s, size_t length) {
  return s.size() == length && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A span with every kind of field the JSON mapping treats specially.
TraceRequest golden_request() {
  TraceRequest req;
  auto* rs = req.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("process.pid");
  kv->mutable_value()->set_int_value(42);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("bpftape");
  auto* span = ss->add_spans();
  span->set_trace_id(std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", 16));
  span->set_span_id(std::string("\xaa\xbb\xcc\xdd\xee\xff\x00\x11", 8));
  span->set_parent_span_id(std::string("\x00\x00\x00\x00\x00\x00\x00\x01", 8));
  span->set_name("GET /a\"b");
  span->set_kind(otlp_proto::trace::v1::Span::SPAN_KIND_SERVER);
  span->set_start_time_unix_nano(1700000000000000001ull);
  span->set_end_time_unix_nano(18446744073709551615ull);  // uint64 max survives as a string
  auto* a = span->add_attributes();
  a->set_key("blob");
  a->mutable_value()->set_bytes_value("hi");
  auto* d = span->add_attributes();
  d->set_key("ratio");
  d->mutable_value()->set_double_value(0.25);
  auto* z = span->add_attributes();
  z->set_key("zero");
  z->mutable_value()->set_int_value(0);  // set oneof member: present even though 0
  span->mutable_status()->set_code(otlp_proto::trace::v1::Status::STATUS_CODE_ERROR);
  return req;
}

TEST(OtlpJsonTest, GoldenSpan) {
  EXPECT_EQ(
      to_otlp_json(golden_request()),
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"process.pid","value":{"intValue":"42"}}]},)"
      R"("scopeSpans":[{"scope":{"name":"bpftape"},"spans":[{)"
      R"("traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"aabbccddeeff0011",)"
      R"("parentSpanId":"0000000000000001","name":"GET /a\"b","kind":2,)"
      R"("startTimeUnixNano":"1700000000000000001","endTimeUnixNano":"18446744073709551615",)"
      R"("attributes":[{"key":"blob","value":{"bytesValue":"aGk="}},)"
      R"({"key":"ratio","value":{"doubleValue":0.25}},{"key":"zero","value":{"intValue":"0"}}],)"
      R"("status":{"code":2}}]}]}]})");
}

TEST(OtlpJsonTest, ConvertedOutputFollowsOtlpJsonRules) {
  Scenario s;
  s.feed();
  auto t = s.converter().convert_traces(s.results());
  auto m = s.converter().convert_metrics(s.results());
  ASSERT_TRUE(t && m);
  std::string tj = to_otlp_json(*t);
  std::string mj = to_otlp_json(*m);
  // Ids are lower-case hex of the right length, never base64.
  EXPECT_TRUE(is_lower_hex(string_field(tj, "traceId"), 32)) << string_field(tj, "traceId");
  EXPECT_TRUE(is_lower_hex(string_field(tj, "spanId"), 16)) << string_field(tj, "spanId");
  EXPECT_THAT(tj, HasSubstr(R"("parentSpanId":")"));
  // 64-bit integers are strings, enums integers, keys lowerCamelCase.
  EXPECT_THAT(tj, HasSubstr(R"("startTimeUnixNano":")" +
                            std::to_string(unix_at(kMonoBase + 2'000'000)) + "\""));
  EXPECT_THAT(tj, HasSubstr(R"("key":"process.pid","value":{"intValue":"100"}})"));
  EXPECT_THAT(tj, HasSubstr(R"("kind":2)"));
  EXPECT_THAT(tj, Not(HasSubstr("_unix_nano")));
  EXPECT_THAT(tj, Not(HasSubstr("SPAN_KIND")));
  EXPECT_THAT(mj, HasSubstr(R"("asInt":"3")"));
  EXPECT_THAT(mj, HasSubstr(R"("aggregationTemporality":2)"));
  EXPECT_THAT(mj, HasSubstr(R"("isMonotonic":true)"));
  EXPECT_THAT(mj, HasSubstr(R"("count":"3")"));         // fixed64 histogram count
  EXPECT_THAT(mj, HasSubstr(R"("bucketCounts":[")"));    // repeated fixed64: strings
  EXPECT_THAT(mj, HasSubstr(R"("explicitBounds":[)"));
  EXPECT_THAT(mj, Not(HasSubstr("\n")));                 // one request per line
}

TEST(OtlpJsonTest, FileWriterWritesOneRequestPerLine) {
  std::string path = temp_path("otlp_json_writer_test.jsonl");
  {
    auto w = OtlpJsonFileWriter::open(path, {.overwrite = true}, /*live=*/false);
    ASSERT_TRUE(w) << w.error().to_string();
    ASSERT_TRUE(w->write(golden_request()));
    ASSERT_TRUE(w->write(golden_request()));
    EXPECT_EQ(w->lines(), 2u);
    ASSERT_TRUE(w->close());
    EXPECT_FALSE(w->write(golden_request()));  // after close: an error, not a crash
  }
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(line, to_otlp_json(golden_request()));
    ++lines;
  }
  EXPECT_EQ(lines, 2);
  std::remove(path.c_str());
  auto bad = OtlpJsonFileWriter::open("/nonexistent-dir/x.jsonl", {}, /*live=*/false);
  ASSERT_FALSE(bad);  // OutputFile's checks: the directory must exist
  EXPECT_THAT(bad.error().message(), HasSubstr("/nonexistent-dir/x.jsonl"));
}

}  // namespace
}  // namespace otlp::ebpf::testing
