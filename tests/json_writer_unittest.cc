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

// Text outputs (info, cat, reports, folded stacks) print tape strings through terminal_safe.
TEST(TerminalSafeTest, EscapesWhatATerminalWouldActOn) {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"nginx", "nginx"},
      {"", ""},
      {"\x1b]0;PWN\x07\x1b[2J", R"(\x1b]0;PWN\x07\x1b[2J)"},  // retitle + clear screen
      {"a\nb\tc\rd", R"(a\nb\tc\x0dd)"},
      {std::string("nul\0x", 5), R"(nul\x00x)"},
      {"del\x7f", R"(del\x7f)"},
      {"back\\slash", R"(back\\slash)"},
      {"\\x1b", R"(\\x1b)"},  // literal text stays distinguishable
      {std::string("csi\xc2\x9b") + "2J", R"(csi\xc2\x9b2J)"},  // C1 CSI as a code point
      {"nel\xc2\x85", R"(nel\xc2\x85)"},    // C1 NEL
      {"bad\xff\xc3", R"(bad\xff\xc3)"},    // not UTF-8, cut sequence
      {"\xe0\x80\xaf", R"(\xe0\x80\xaf)"},  // overlong
      {"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80"},
      {"\xc2\xa0nbsp", "\xc2\xa0nbsp"},                   // U+00A0: first printable after C1
      {"txt\xe2\x80\xaegpj.exe", R"(txt\u202egpj.exe)"},  // right-to-left override
      {"line\xe2\x80\xa8sep", R"(line\u2028sep)"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(terminal_safe(c.in), c.out) << c.out;
  }
  std::string out = "keep:";
  append_terminal_safe(&out, "\x1b");
  EXPECT_EQ(out, R"(keep:\x1b)");
}

TEST(TerminalSafeTest, NoByteOfTheOutputIsAControlCharacterOrInvalidUtf8) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (int b = 0x80; b < 0xA0; ++b) all += {static_cast<char>(0xC2), static_cast<char>(b)};
  std::string out = terminal_safe(all);
  for (unsigned char c : out) EXPECT_TRUE(c >= 0x20 && c != 0x7F) << static_cast<int>(c);
  EXPECT_EQ(to_valid_utf8(out), out);
  EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos);
}

}  // namespace
}  // namespace otlp::ebpf
