#include "core/otlp/otlp_json.h"

#include <cmath>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/reflection.h>

#include "core/json_writer.h"
#include "core/otlp/ids.h"

namespace otlp::ebpf {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Byte fields OTLP encodes as hex: trace/span ids wherever they occur (spans, links, exemplars,
// profile links), and the profile id, which the collector's pdata also writes as hex.
bool is_hex_id(const FieldDescriptor* field) {
  const std::string& n = field->name();
  return n == "trace_id" || n == "span_id" || n == "parent_span_id" || n == "profile_id";
}

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                 uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 |
                 (rest == 2 ? uint32_t(uint8_t(bytes[i + 1])) << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void write_double(JsonWriter& w, double d) {
  // proto3 JSON spells non-finite doubles as strings; JsonWriter would write null.
  if (std::isnan(d)) {
    w.value("NaN");
  } else if (std::isinf(d)) {
    w.value(d > 0 ? "Infinity" : "-Infinity");
  } else {
    w.value(d);
  }
}

void write_message(JsonWriter& w, const Message& m);

// One value of `field` (element `index` when repeated, -1 otherwise).
void write_value(JsonWriter& w, const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      w.value(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      w.value(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:  // 64-bit integers are strings in proto3 JSON
      w.value(std::to_string(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f)));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      w.value(std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f)));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      write_double(w, rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      write_double(w, rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      w.value(rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f));
      break;
    case FieldDescriptor::CPPTYPE_ENUM:  // OTLP/JSON: enums as integers, not names
      w.value(rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f));
      break;
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                                 : r->GetStringReference(m, f, &scratch);
      if (f->type() != FieldDescriptor::TYPE_BYTES) {
        w.value(s);
      } else if (is_hex_id(f)) {
        w.value(to_hex(s));
      } else {
        w.value(base64(s));
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      write_message(w, rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
      break;
  }
}

void write_message(JsonWriter& w, const Message& m) {
  const Reflection* r = m.GetReflection();
  // ListFields: fields that are set (non-default for proto3 scalars, present for oneofs and
  // messages), in field-number order.
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  w.begin_object();
  for (const FieldDescriptor* f : fields) {
    w.key(f->json_name());
    if (f->is_repeated()) {
      w.begin_array();
      for (int i = 0, n = r->FieldSize(m, f); i < n; ++i) write_value(w, m, f, i);
      w.end_array();
    } else {
      write_value(w, m, f, -1);
    }
  }
  w.end_object();
}

}  // namespace

void append_otlp_json(const google::protobuf::Message& message, std::string* out) {
  JsonWriter w(out);
  write_message(w, message);
}

std::string serialize_deterministic(const google::protobuf::Message& message) {
  std::string out;
  {  // the streams must be destroyed (unused buffer handed back) before `out` is complete
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&cos);
  }
  return out;
}

}  // namespace otlp::ebpf
