// The tape codec against the payload field tables (core/payload_fields.h): every field of every
// table survives the codec - through the fixed columns of the original kinds and through the
// generic extraColumns path - so that a field added to a table but not to the codec fails here.
#include <capnp/message.h>
#include <capnp/schema.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "core/payload_fields.h"
#include "core/tape/event_codec.h"

namespace otlp::ebpf::tape {
namespace {

using ::testing::HasSubstr;

// A valid event of `type`: payload fields zero, except that fields with named values hold the
// first one the type accepts (a MemoryFree's op must be free or munmap).
EbpfEvent base_event(EbpfEventType type, uint64_t ts) {
  EbpfEvent e = EbpfEvent::make(type, ts, 4242, 4243, 3);
  for (const PayloadField& f : payload_layout(payload_kind(type)).fields) {
    if (f.rule != FieldRule::NamedValue) continue;
    for (const auto& v : f.values) {
      if (v.only_for == kAnyEventType || v.only_for == static_cast<uint8_t>(type)) {
        set_field_bits(e, f, v.value);
        break;
      }
    }
  }
  return e;
}

// A value for field `f` of an event of `type` that is valid, not zero, and as wide as the field
// allows (so that a codec that narrows or drops the field loses it). `salt` varies the values
// of different fields of one event.
uint64_t telling_value(const PayloadField& f, EbpfEventType type, unsigned salt) {
  if (!f.values.empty()) {
    // The last named value this type accepts that is not 0 (0 reads like a dropped field).
    uint64_t pick = 0;
    for (const auto& v : f.values) {
      const bool fits_type = v.only_for == kAnyEventType || v.only_for == static_cast<uint8_t>(type);
      if (fits_type && v.value != 0) pick = v.value;
    }
    if (pick != 0 || f.rule == FieldRule::NamedValue) return pick;
  }
  if (f.rule == FieldRule::AtMost) return f.max - salt % 2;
  if (f.is_signed) {
    // The most negative value the field holds: every byte of it is used.
    return static_cast<uint64_t>(std::numeric_limits<int64_t>::min() >> (64 - 8 * f.width)) +
           salt;
  }
  const uint64_t all_ones = f.width == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * f.width)) - 1;
  return all_ones - salt;
}

// One event per type of every kind with all its fields set, plus one per (type, field) with
// only that field set.
std::vector<EbpfEvent> events_setting_every_field() {
  std::vector<EbpfEvent> events;
  uint64_t ts = 1'000'000'000;
  for (size_t t = 0; t < kEventTypeCount; ++t) {
    const auto type = static_cast<EbpfEventType>(t);
    const auto& fields = payload_layout(payload_kind(type)).fields;
    EbpfEvent all = base_event(type, ts += 1000);
    for (size_t i = 0; i < fields.size(); ++i) {
      set_field_bits(all, fields[i], telling_value(fields[i], type, static_cast<unsigned>(i)));
      EbpfEvent one = base_event(type, ts += 1000);
      set_field_bits(one, fields[i], telling_value(fields[i], type, 0));
      events.push_back(one);
    }
    events.push_back(all);
  }
  for (const auto& e : events) EXPECT_EQ(validate_event(e), std::nullopt) << event_type_name(e.event_type);
  return events;
}

struct Encoded {
  capnp::MallocMessageBuilder message;
  schema::Events::Builder root = message.initRoot<schema::Events>();
};

void encode(const std::vector<EbpfEvent>& events, EventFrameEncoder* encoder, Encoded* out) {
  for (const auto& e : events) encoder->add_event(e);
  encoder->build(out->root);
}

std::vector<EbpfEvent> decode_all(schema::Events::Reader in) {
  auto decoded = decode_events(in, nullptr);
  EXPECT_TRUE(decoded.has_value()) << decoded.error().to_string();
  std::vector<EbpfEvent> events;
  if (!decoded) return events;
  for (const auto& batch : decoded->batches) {
    events.insert(events.end(), batch.events.begin(), batch.events.end());
  }
  return events;
}

// Compares field by field first, so that a failure names the field the codec lost.
void expect_same_fields(const std::vector<EbpfEvent>& got, const std::vector<EbpfEvent>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t n = 0; n < want.size(); ++n) {
    const auto kind = payload_kind(want[n].event_type);
    for (const PayloadField& f : payload_layout(kind).fields) {
      EXPECT_EQ(field_bits(got[n], f), field_bits(want[n], f))
          << "event " << n << " (" << event_type_name(want[n].event_type) << ") field "
          << f.name;
    }
    EXPECT_TRUE(got[n] == want[n]) << "event " << n;
  }
}

TEST(PayloadCodec, EveryTableFieldRoundTripsThroughTheFixedColumns) {
  const auto events = events_setting_every_field();
  EventFrameEncoder encoder;
  Encoded encoded;
  encode(events, &encoder, &encoded);
  auto in = encoded.root.asReader();
  // Through the columns, not stored whole: a field the columns do not carry is lost.
  EXPECT_EQ(in.getVerbatimEvents().size(), 0u);
  EXPECT_FALSE(in.hasExtraColumns()) << "the original kinds keep their fixed encoding";
  expect_same_fields(decode_all(in), events);
}

TEST(PayloadCodec, EveryFixedKindFieldNamesAnEventsColumn) {
  auto events_schema = capnp::Schema::from<schema::Events>();
  for (const auto& layout : kPayloadLayouts) {
    for (const auto& f : layout.fields) {
      if (!layout.fixed_columns) continue;
      const std::string column(f.column);
      EXPECT_NE(events_schema.findFieldByName(column.c_str()), nullptr)
          << layout.name << "." << f.name << " names column '" << f.column << "'";
    }
  }
}

TEST(PayloadCodec, EveryTableFieldRoundTripsThroughTheGenericColumns) {
  const auto events = events_setting_every_field();
  EventFrameEncoder encoder;
  for (size_t k = 0; k < kPayloadKindCount; ++k) {
    encoder.encode_generically(static_cast<PayloadKind>(k));
  }
  Encoded encoded;
  encode(events, &encoder, &encoded);
  auto in = encoded.root.asReader();
  EXPECT_EQ(in.getVerbatimEvents().size(), 0u);
  // The fixed payload columns are empty: the payloads are only in extraColumns.
  EXPECT_EQ(in.getSysNr().size() + in.getMemAddress().size() + in.getNetSocket().size() +
                in.getProcComm().size() + in.getCpuUserStack().size(),
            0u);
  size_t columns = 0;
  for (const auto& layout : kPayloadLayouts) columns += layout.fields.size();
  EXPECT_EQ(in.getExtraColumns().size(), columns);
  expect_same_fields(decode_all(in), events);
}

TEST(PayloadCodec, GenericAndFixedKindsMixInOneFrame) {
  const auto events = events_setting_every_field();
  EventFrameEncoder encoder;
  encoder.encode_generically(PayloadKind::Memory);
  encoder.encode_generically(PayloadKind::Network);
  Encoded encoded;
  encode(events, &encoder, &encoded);
  auto in = encoded.root.asReader();
  EXPECT_GT(in.getSysNr().size(), 0u);
  EXPECT_EQ(in.getMemAddress().size(), 0u);
  EXPECT_EQ(in.getExtraColumns().size(),
            payload_layout(PayloadKind::Memory).fields.size() +
                payload_layout(PayloadKind::Network).fields.size());
  expect_same_fields(decode_all(in), events);

  // The encoder is reused frame after frame: clear() forgets the generic columns' contents.
  encoder.clear();
  Encoded again;
  encode(events, &encoder, &again);
  expect_same_fields(decode_all(again.root.asReader()), events);
}

// Rebuilds `in` with its extra columns replaced by `columns` (kind, field, data).
struct ExtraColumn {
  unsigned kind;
  unsigned field;
  std::vector<uint8_t> data;
};
void replace_extra_columns(Encoded* encoded, const std::vector<ExtraColumn>& columns) {
  auto list = encoded->root.initExtraColumns(static_cast<unsigned>(columns.size()));
  for (unsigned i = 0; i < columns.size(); ++i) {
    list[i].setKind(static_cast<uint8_t>(columns[i].kind));
    list[i].setField(static_cast<uint8_t>(columns[i].field));
    list[i].setData(kj::arrayPtr(columns[i].data.data(), columns[i].data.size()));
  }
}

std::string decode_error(const Encoded& encoded) {
  auto decoded = decode_events(const_cast<Encoded&>(encoded).root.asReader(), nullptr);
  return decoded ? std::string("decoded") : decoded.error().message();
}

TEST(PayloadCodec, MalformedGenericColumnsAreFormatErrorsNamingTheColumn) {
  // One syscall event, stored generically: nr, ret, duration_ns.
  const std::vector<EbpfEvent> one = {
      EbpfEvent::syscall_event(1'000'000, 7, 7, 0, SyscallData{3, 0, -2, 500})};
  auto build = [&](Encoded* encoded) {
    EventFrameEncoder encoder;
    encoder.encode_generically(PayloadKind::Syscall);
    encode(one, &encoder, encoded);
  };
  const unsigned syscall = static_cast<unsigned>(PayloadKind::Syscall);
  {
    Encoded e;
    build(&e);
    replace_extra_columns(&e, {{syscall, 0, {3}}, {syscall, 1, {3}}});  // duration_ns missing
    EXPECT_THAT(decode_error(e), HasSubstr("extra column for syscall field duration_ns is "
                                           "malformed (ends inside a value)"));
  }
  {
    Encoded e;
    build(&e);
    replace_extra_columns(&e, {{syscall, 0, {3}}, {syscall, 1, {3}}, {syscall, 2, {0x80, 1}},
                               {syscall, 2, {1}}});
    EXPECT_THAT(decode_error(e), HasSubstr("extra column for syscall field duration_ns is "
                                           "repeated"));
  }
  {
    Encoded e;
    build(&e);
    replace_extra_columns(&e, {{kPayloadKindCount, 0, {1}}});
    EXPECT_THAT(decode_error(e), HasSubstr("names no payload field"));
  }
  {
    Encoded e;
    build(&e);
    replace_extra_columns(&e, {{syscall, 9, {1}}});
    EXPECT_THAT(decode_error(e), HasSubstr("payload kind 1 field 9 names no payload field"));
  }
  {
    Encoded e;
    build(&e);
    // nr = 2^32: too wide for the 32-bit field.
    replace_extra_columns(&e, {{syscall, 0, {0x80, 0x80, 0x80, 0x80, 0x10}},
                               {syscall, 1, {3}},
                               {syscall, 2, {1}}});
    EXPECT_THAT(decode_error(e), HasSubstr("syscall field nr value 4294967296 out of range"));
  }
  {
    Encoded e;
    build(&e);
    // nr = 1024 fits the field but breaks its rule (validate_event, from the same table).
    replace_extra_columns(&e, {{syscall, 0, {0x80, 0x08}}, {syscall, 1, {3}}, {syscall, 2, {1}}});
    EXPECT_THAT(decode_error(e), HasSubstr("is invalid: syscall number out of range"));
  }
  {
    Encoded e;
    build(&e);
    replace_extra_columns(&e, {{syscall, 0, {3}}, {syscall, 1, {3}}, {syscall, 2, {1, 1}}});
    EXPECT_THAT(decode_error(e), HasSubstr("field duration_ns is malformed (1 bytes left over)"));
  }
}

TEST(PayloadCodec, UnknownEventTypesStayAnError) {
  // A type this reader does not know (e.g. a newer tracer's) is refused whatever extraColumns
  // hold: the reader cannot know its payload kind.
  Encoded e;
  EventFrameEncoder encoder;
  encode({EbpfEvent::syscall_event(1'000'000, 7, 7, 0, SyscallData{3, 0, 1, 500})}, &encoder, &e);
  const uint8_t unknown = kEventTypeCount;
  e.root.setTypes(kj::arrayPtr(&unknown, 1));
  EXPECT_THAT(decode_error(e), HasSubstr("event 0 has unknown type 13"));
}

TEST(PayloadCodec, InternedReferencesComeFromTheTables) {
  // Every field marked as interned raises the frame's refs, whichever path stored it.
  for (bool generic : {false, true}) {
    for (size_t t = 0; t < kEventTypeCount; ++t) {
      const auto type = static_cast<EbpfEventType>(t);
      const auto kind = payload_kind(type);
      for (const PayloadField& f : payload_layout(kind).fields) {
        if (f.interned() == InternKind::None) continue;
        EbpfEvent e = base_event(type, 1'000'000);
        set_field_bits(e, f, 77);
        EventFrameEncoder encoder;
        if (generic) encoder.encode_generically(kind);
        Encoded encoded;
        encode({e}, &encoder, &encoded);
        auto decoded = decode_events(encoded.root.asReader(), nullptr);
        ASSERT_TRUE(decoded.has_value()) << decoded.error().to_string();
        const bool is_string = f.interned() == InternKind::String;
        EXPECT_EQ(decoded->refs.max_string, is_string ? 77u : 0u) << f.name;
        EXPECT_EQ(decoded->refs.max_stack, is_string ? 0u : 77u) << f.name;
        InternRefs refs;
        add_intern_refs(e, &refs);
        EXPECT_EQ(refs.max_string, decoded->refs.max_string) << f.name;
        EXPECT_EQ(refs.max_stack, decoded->refs.max_stack) << f.name;
      }
    }
  }
}

}  // namespace
}  // namespace otlp::ebpf::tape
