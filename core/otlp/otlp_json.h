// OTLP/JSON: the protobuf JSON mapping with OTLP's deviations (OTLP specification, "JSON
// Protobuf Encoding"): trace/span ids as hex strings (not base64), enums as integers,
// lowerCamelCase keys, 64-bit integers as decimal strings, default values omitted.
// protobuf's own JsonStringFormat cannot do hex ids, so this walks the message by reflection and
// writes through JsonWriter. Output order is field-number order: deterministic.
#pragma once

#include <string>

#include <google/protobuf/message.h>

namespace otlp::ebpf {

// Appends the OTLP/JSON object for `message` to *out (no trailing newline).
void append_otlp_json(const google::protobuf::Message& message, std::string* out);
inline std::string to_otlp_json(const google::protobuf::Message& message) {
  std::string out;
  append_otlp_json(message, &out);
  return out;
}

// Protobuf wire bytes with deterministic serialization (map fields sorted; no map fields exist
// in these schemas today, but the guarantee must not depend on that).
std::string serialize_deterministic(const google::protobuf::Message& message);

}  // namespace otlp::ebpf
