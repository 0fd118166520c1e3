#include "core/json_writer.h"

#include <gtest/gtest.h>

#include <limits>

#include "core/utf8.h"

namespace otlp::ebpf {
namespace {

TEST(JsonWriterTest, NestedStructuresGetCommasRight) {
  std::string out;
  JsonWriter json(&out);
  json.begin_object()
      .field("a", 1)
      .field("b", "x")
      .key("list")
      .begin_array()
      .value(true)
      .value(false)
      .null()
      .begin_object()
      .end_object()
      .end_array()
      .field("neg", int64_t{-5})
      .field("big", std::numeric_limits<uint64_t>::max())
      .end_object();
  EXPECT_EQ(out, R"({"a":1,"b":"x","list":[true,false,null,{}],"neg":-5,"big":18446744073709551615})");
}

TEST(JsonWriterTest, EscapesControlAndQuoteCharacters) {
  std::string out;
  append_json_string(&out, std::string("q\"b\\n\n\t\x01\x7f", 9));
  EXPECT_EQ(out, R"("q\"b\\n\n\t\u0001\u007f")");
}

TEST(JsonWriterTest, InvalidUtf8BecomesReplacementCharacter) {
  std::string out;
  append_json_string(&out, "ok \xc3\xa9 bad \xff \xe2\x82");  // é valid; 0xff and a cut sequence not
  EXPECT_EQ(out, "\"ok \xc3\xa9 bad \\ufffd \\ufffd\\ufffd\"");
}

TEST(JsonWriterTest, NonFiniteDoublesAreNull) {
  std::string out;
  JsonWriter json(&out);
  json.begin_array().value(1.5).value(std::numeric_limits<double>::infinity()).end_array();
  EXPECT_EQ(out, "[1.5,null]");
}

}  // namespace
}  // namespace otlp::ebpf

namespace otlp::ebpf {
namespace {

TEST(JsonWriterTest, RejectsSurrogatesOverlongsAndOutOfRangeCodePoints) {
  struct Case { std::string in; std::string out; };
  const Case cases[] = {
      {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},           // UTF-16 surrogate D800
      {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},           // overlong '/' (3 bytes)
      {"\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},  // overlong '/' (4 bytes)
      {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},  // U+110000
      {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},            // U+1F600 stays
      {"ab\"c", "\"ab\\\"c\""},
  };
  for (const auto& c : cases) {
    std::string out;
    append_json_string(&out, c.in);
    EXPECT_EQ(out, c.out);
  }
  EXPECT_EQ(to_valid_utf8("ok\xed\xa0\x80"), "ok\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

}  // namespace
}  // namespace otlp::ebpf
