// Round-trip properties: any valid batch sequence, any interned data, any frame size -> the
// reader returns the same events, losses and interned entries.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <capnp/message.h>

#include "core/tape/event_codec.h"
#include "core/tape/reader.h"
#include "core/tape/writer.h"
#include "tests/tape/tape_test_util.h"

namespace otlp::ebpf::tape {
namespace {

using namespace testing;

// Any event that passes validate_event and refers to ids in [0, strings] / [0, stacks];
// sometimes with non-zero reserved bytes (stored verbatim).
rc::Gen<EbpfEvent> arbitrary_event(uint32_t strings, uint32_t stacks) {
  return rc::gen::exec([=] {
    auto type = static_cast<EbpfEventType>(*rc::gen::inRange<int>(0, kEventTypeCount));
    bool idle = *rc::gen::weightedElement<bool>({{1, true}, {9, false}});
    uint32_t pid = idle ? 0 : *rc::gen::inRange<uint32_t>(1, UINT32_MAX);
    uint32_t tid = idle ? 0 : *rc::gen::oneOf(rc::gen::just(pid),
                                              rc::gen::inRange<uint32_t>(1, UINT32_MAX));
    uint64_t ts = *rc::gen::oneOf(rc::gen::inRange<uint64_t>(1, 1'000'000),
                                  rc::gen::inRange<uint64_t>(1, UINT64_MAX));
    EbpfEvent e = EbpfEvent::make(type, ts, pid, tid, *rc::gen::arbitrary<uint16_t>());
    e.flags = *rc::gen::weightedElement<uint8_t>({{9, 0}, {1, 0x5a}});
    // Every field of the type's table (core/payload_fields.h): interned ids within the
    // table, values its rule allows, anything else of its width.
    for (const PayloadField& f : payload_layout(payload_kind(type)).fields) {
      uint64_t value;
      if (f.interned() != InternKind::None) {
        value = *rc::gen::inRange<uint32_t>(
            0, (f.interned() == InternKind::String ? strings : stacks) + 1);
      } else if (f.rule == FieldRule::NamedValue) {
        std::vector<uint8_t> allowed;
        for (const auto& v : f.values) {
          if (v.only_for == kAnyEventType || v.only_for == static_cast<uint8_t>(type)) {
            allowed.push_back(v.value);
          }
        }
        value = *rc::gen::elementOf(allowed);
      } else if (f.rule == FieldRule::AtMost) {
        value = *rc::gen::inRange<uint64_t>(0, f.max + 1);
      } else {
        value = *rc::gen::arbitrary<uint64_t>();
      }
      set_field_bits(e, f, value);
    }
    if (*rc::gen::weightedElement<bool>({{19, false}, {1, true}})) {
      e.reserved = *rc::gen::inRange<uint32_t>(1, UINT32_MAX);  // stored verbatim
    }
    return e;
  });
}

struct Stream {
  std::vector<std::string> strings;
  std::vector<std::vector<uint64_t>> stacks;
  std::vector<EventBatch> batches;
};

rc::Gen<Stream> arbitrary_stream() {
  return rc::gen::exec([] {
    Stream s;
    s.strings = *rc::gen::container<std::vector<std::string>>(rc::gen::string<std::string>());
    s.stacks = *rc::gen::container<std::vector<std::vector<uint64_t>>>(
        rc::gen::container<std::vector<uint64_t>>(rc::gen::arbitrary<uint64_t>()));
    // Dedupe as the table will, so that ids stay dense.
    InternTable probe;
    for (const auto& str : s.strings) probe.intern_string(str);
    for (const auto& st : s.stacks) probe.intern_stack(st);
    const uint32_t nstr = probe.string_count(), nstk = probe.stack_count();
    auto loss = rc::gen::construct<LossRecord>(rc::gen::arbitrary<uint64_t>(),
                                               rc::gen::arbitrary<uint16_t>(),
                                               rc::gen::arbitrary<uint64_t>());
    s.batches = *rc::gen::container<std::vector<EventBatch>>(rc::gen::construct<EventBatch>(
        rc::gen::container<std::vector<EbpfEvent>>(arbitrary_event(nstr, nstk)),
        rc::gen::container<std::vector<LossRecord>>(loss)));
    // Empty batches carry nothing and are not written.
    std::erase_if(s.batches, [](const EventBatch& b) { return b.empty(); });
    return s;
  });
}

void check_round_trip(const Stream& s, const WriterOptions& options, bool same_batches) {
  InternTable interns;
  for (const auto& str : s.strings) interns.intern_string(str);
  for (const auto& st : s.stacks) interns.intern_stack(st);
  auto bytes = write_memory_tape(s.batches, interns, options);
  auto reader = TapeReader::open_memory(bytes);
  RC_ASSERT(reader.has_value());
  std::optional<EbpfError> error;
  auto got = read_all(**reader, &error);
  RC_ASSERT(!error.has_value());
  RC_ASSERT((*reader)->complete());
  if (same_batches) {
    RC_ASSERT(got == s.batches);
  } else {
    std::vector<LossRecord> want_losses, got_losses;
    for (const auto& b : s.batches) want_losses.insert(want_losses.end(), b.losses.begin(), b.losses.end());
    for (const auto& b : got) got_losses.insert(got_losses.end(), b.losses.begin(), b.losses.end());
    RC_ASSERT(flatten(got) == flatten(s.batches));
    RC_ASSERT(got_losses == want_losses);
  }
  const auto& back = (*reader)->interns();
  RC_ASSERT(back.string_count() == interns.string_count());
  RC_ASSERT(back.stack_count() == interns.stack_count());
  for (uint32_t id = 1; id <= interns.string_count(); ++id) {
    RC_ASSERT(back.string(id) == interns.string(id));
  }
  for (uint32_t id = 1; id <= interns.stack_count(); ++id) {
    auto a = back.stack(id), b = interns.stack(id);
    RC_ASSERT(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  }
}

RC_GTEST_PROP(TapeProperties, AnyStreamAnyFrameSizeRoundTrips, ()) {
  Stream s = *arbitrary_stream();
  WriterOptions options;
  options.frame_bytes = *rc::gen::inRange<uint32_t>(1024, 64 * 1024);
  options.frame_events = *rc::gen::inRange<uint32_t>(1, 500);
  // Tiny frames are the point, but each frame is one zstd compression: cap a case at ~500
  // frames so a large generated stream cannot take minutes (it did: seed 5132454540975388185).
  size_t events = 0;
  for (const auto& b : s.batches) events += b.events.size();
  options.frame_events = std::max<uint32_t>(options.frame_events, static_cast<uint32_t>(events / 500 + 1));
  options.max_frame_bytes = kMinFrameLimit * 2;
  options.zstd_level = *rc::gen::inRange(1, 6);
  check_round_trip(s, options, false);
}

RC_GTEST_PROP(TapeProperties, BatchesThatFitAFrameKeepTheirBoundaries, ()) {
  Stream s = *arbitrary_stream();
  check_round_trip(s, WriterOptions{}, true);
}

// The generic payload path (Events.extraColumns, encoded and decoded from the tables alone)
// carries any valid event of any kind, mixed with kinds in their fixed columns.
RC_GTEST_PROP(TapeProperties, GenericPayloadColumnsRoundTripAnyEvents, ()) {
  const auto events = *rc::gen::container<std::vector<EbpfEvent>>(arbitrary_event(50, 50));
  EventFrameEncoder encoder;
  for (size_t k = 0; k < kPayloadKindCount; ++k) {
    if (*rc::gen::arbitrary<bool>()) encoder.encode_generically(static_cast<PayloadKind>(k));
  }
  for (const auto& e : events) encoder.add_event(e);
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Events>();
  encoder.build(root);
  auto decoded = decode_events(root.asReader(), nullptr);
  RC_ASSERT(decoded.has_value());
  std::vector<EbpfEvent> got;
  for (const auto& b : decoded->batches) got.insert(got.end(), b.events.begin(), b.events.end());
  RC_ASSERT(got == events);
  InternRefs want;
  for (const auto& e : events) add_intern_refs(e, &want);
  RC_ASSERT(decoded->refs.max_string == want.max_string);
  RC_ASSERT(decoded->refs.max_stack == want.max_stack);
}

}  // namespace
}  // namespace otlp::ebpf::tape
