// A small streaming JSON writer for bpftape's machine-readable outputs (doctor --json,
// info --json, cat --json, reports). Appends to a caller-owned string; commas and escaping
// are handled here so no output path builds JSON by hand.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace otlp::ebpf {

// Appends `text` as a JSON string literal (quotes included). Invalid UTF-8 bytes become
// U+FFFD so the output is always valid JSON, whatever bytes a tape holds.
void append_json_string(std::string* out, std::string_view text);

class JsonWriter {
 public:
  // `out` must outlive the writer.
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
  JsonWriter& value(bool b);
  JsonWriter& value(double d);  // non-finite values are written as null
  template <typename Int>
    requires(std::is_integral_v<Int> && !std::is_same_v<Int, bool>)
  JsonWriter& value(Int i) {
    separate();
    *out_ += std::to_string(i);
    return *this;
  }
  JsonWriter& null();

  // key(name).value(v) in one call.
  template <typename T>
  JsonWriter& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

 private:
  void separate();
  std::string* out_;
  std::vector<bool> first_in_scope_{true};
  bool after_key_ = false;
};

}  // namespace otlp::ebpf
