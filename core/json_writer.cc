#include "core/json_writer.h"

#include "core/utf8.h"

#include <cmath>

#include <fmt/format.h>

namespace otlp::ebpf {
void append_json_string(std::string* out, std::string_view text) {
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  auto flush = [&](size_t end) { out->append(text.substr(run, end - run)); };
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      ++i;  // plain ASCII: stays in the run
      continue;
    }
    if (c >= 0x80) {
      size_t len = utf8_sequence_length(text, i);
      if (len > 0) {
        i += len;  // well-formed multi-byte sequence: stays in the run
        continue;
      }
    }
    flush(i);
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        *out += c >= 0x80 ? std::string("\\ufffd") : fmt::format("\\u{:04x}", c);
    }
    run = ++i;
  }
  flush(text.size());
  out->push_back('"');
}

void JsonWriter::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_in_scope_.back()) out_->push_back(',');
  first_in_scope_.back() = false;
}

JsonWriter& JsonWriter::begin_object() {
  separate();
  out_->push_back('{');
  first_in_scope_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  first_in_scope_.pop_back();
  out_->push_back('}');
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  separate();
  out_->push_back('[');
  first_in_scope_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  first_in_scope_.pop_back();
  out_->push_back(']');
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  separate();
  append_json_string(out_, name);
  out_->push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
  separate();
  append_json_string(out_, text);
  return *this;
}

JsonWriter& JsonWriter::value(bool b) {
  separate();
  *out_ += b ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::value(double d) {
  separate();
  if (!std::isfinite(d)) {
    *out_ += "null";
  } else {
    *out_ += fmt::format("{}", d);
  }
  return *this;
}

JsonWriter& JsonWriter::null() {
  separate();
  *out_ += "null";
  return *this;
}

}  // namespace otlp::ebpf
