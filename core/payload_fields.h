// The payload field tables: one table per payload kind, the single description of a payload's
// layout from which everything that used to spell it out again is derived - payload_size(),
// validate_event()'s per-field rules (and their branch-free forms in EventProcessor's batch
// path and the tape decoder), interned-reference collection, the tape codec's canonical form
// and generic columns, `bpftape cat` (text and JSON) and the simulator's event digest.
// docs/adding-a-tracer.md says how a new event kind gets its table.
//
// Everything here is constexpr: a loop over a kind's fields is unrolled at compile time
// (for_each_field), so derived code compiles to the loads and compares that hand-written code
// had. Included at the end of core/event.h (validate_event lives here); include event.h.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

#include "core/event.h"

namespace otlp::ebpf {

static_assert(std::endian::native == std::endian::little,
              "payload fields are read as the low bytes of a 64-bit value");

// How `bpftape cat` shows a field (text line and --json).
enum class FieldFormat : uint8_t {
  Decimal,    // the number (signed fields as signed)
  Hex,        // 0x... (addresses, socket ids); a string in JSON
  Enum,       // text: the value's name from PayloadField::values; JSON: the number
  StringId,   // interned string: the string itself (terminal-safe in text)
  StackId,    // interned stack: text "N frames"; JSON an array of 0x... frame addresses
  Endpoints,  // interned SocketEndpoints blob: text "local->remote"; JSON local_address and
              // remote_address (nothing when the blob is not a valid SocketEndpoints)
  BlobLength,  // interned byte string shown by its length only (it may be binary)
  SyscallNumber  // text: the syscall's name (syscall_display_name); JSON: the number, plus
                 // "name" with the name (core/tracers/syscall_names.h: x86_64)
};

// What kind of interned entry a field refers to (the tape checks that it is defined first).
enum class InternKind : uint8_t { None, String, Stack };

// The validity rule of a field, checked by validate_event.
enum class FieldRule : uint8_t {
  None,
  AtMost,     // value <= PayloadField::max
  NamedValue  // value is one of PayloadField::values valid for the event type (1-byte fields)
};

inline constexpr uint8_t kAnyEventType = 0xff;

struct EnumValueName {
  uint8_t value;
  std::string_view name;
  // The event type this value belongs to (e.g. MemoryOp::Free only in MemoryFree events), or
  // kAnyEventType.
  uint8_t only_for = kAnyEventType;
};

struct PayloadField {
  std::string_view name;  // snake_case, the key `bpftape cat --json` prints
  uint8_t offset;         // in the payload (EbpfEvent::payload)
  uint8_t width;          // bytes: 1, 2, 4 or 8
  bool is_signed;         // two's complement (tape: zigzag)
  FieldFormat format = FieldFormat::Decimal;
  // The Events column of the fixed encoding (tape.capnp), for documentation and the codec's
  // round-trip test; empty for kinds stored only in Events.extraColumns.
  std::string_view column = {};
  FieldRule rule = FieldRule::None;
  uint64_t max = 0;                                   // FieldRule::AtMost
  RejectReason reason = RejectReason::UnknownType;    // why a broken rule rejects the event
  std::span<const EnumValueName> values = {};         // FieldFormat::Enum, FieldRule::NamedValue
  std::string_view text_label = {};  // cat's text line, when it uses a shorter label than name
  bool zero_is_absent = false;       // 0 means "not there": cat's text line omits the field

  constexpr std::string_view label() const { return text_label.empty() ? name : text_label; }
  constexpr InternKind interned() const {
    switch (format) {
      case FieldFormat::StringId:
      case FieldFormat::Endpoints:
      case FieldFormat::BlobLength: return InternKind::String;
      case FieldFormat::StackId: return InternKind::Stack;
      default: return InternKind::None;
    }
  }
  // The value's name in `values`, empty when it has none.
  constexpr std::string_view value_name(uint64_t value) const {
    for (const auto& v : values) {
      if (v.value == value) return v.name;
    }
    return {};
  }
};

struct PayloadLayout {
  std::string_view name;  // snake_case kind name
  size_t size;            // sizeof the payload struct: payload_size()
  // true: the tape stores the kind in its own columns of Events (the five original kinds, whose
  // encoding is fixed by the format); false: in Events.extraColumns, derived from the table.
  bool fixed_columns;
  std::span<const PayloadField> fields;
};

// `.offset`, `.width` and `.is_signed` of a payload struct member, so that a table cannot
// disagree with the struct it describes.
#define BPFTAPE_PAYLOAD_FIELD(Struct, member)                                      \
  .offset = offsetof(Struct, member), .width = sizeof(Struct::member),             \
  .is_signed = std::is_signed_v<decltype(Struct::member)>

namespace payload_tables {

inline constexpr EnumValueName kMemoryOps[] = {
    {static_cast<uint8_t>(MemoryOp::Malloc), "malloc",
     static_cast<uint8_t>(EbpfEventType::MemoryAlloc)},
    {static_cast<uint8_t>(MemoryOp::Calloc), "calloc",
     static_cast<uint8_t>(EbpfEventType::MemoryAlloc)},
    {static_cast<uint8_t>(MemoryOp::Realloc), "realloc",
     static_cast<uint8_t>(EbpfEventType::MemoryAlloc)},
    {static_cast<uint8_t>(MemoryOp::Mmap), "mmap",
     static_cast<uint8_t>(EbpfEventType::MemoryAlloc)},
    {static_cast<uint8_t>(MemoryOp::Free), "free",
     static_cast<uint8_t>(EbpfEventType::MemoryFree)},
    {static_cast<uint8_t>(MemoryOp::Munmap), "munmap",
     static_cast<uint8_t>(EbpfEventType::MemoryFree)},
};
inline constexpr EnumValueName kNetProtocols[] = {
    {static_cast<uint8_t>(NetProtocol::Unknown), "unknown"},
    {static_cast<uint8_t>(NetProtocol::Tcp), "tcp"},
    {static_cast<uint8_t>(NetProtocol::Udp), "udp"},
};
inline constexpr EnumValueName kNetDirections[] = {
    {static_cast<uint8_t>(NetDirection::None), "none"},
    {static_cast<uint8_t>(NetDirection::Send), "send"},
    {static_cast<uint8_t>(NetDirection::Receive), "receive"},
};

// Field order is the order `bpftape cat` prints them in (and the field index of the tape's
// generic columns): append only for a kind that is stored in extraColumns.
inline constexpr PayloadField kCpuSample[] = {
    {.name = "user_stack", BPFTAPE_PAYLOAD_FIELD(CpuSampleData, user_stack),
     .format = FieldFormat::StackId, .column = "cpuUserStack"},
    {.name = "kernel_stack", BPFTAPE_PAYLOAD_FIELD(CpuSampleData, kernel_stack),
     .format = FieldFormat::StackId, .column = "cpuKernelStack"},
};
inline constexpr PayloadField kSyscall[] = {
    {.name = "nr", BPFTAPE_PAYLOAD_FIELD(SyscallData, nr), .format = FieldFormat::SyscallNumber,
     .column = "sysNr", .rule = FieldRule::AtMost, .max = kMaxSyscallNr,
     .reason = RejectReason::SyscallNumber, .text_label = "syscall"},
    {.name = "ret", BPFTAPE_PAYLOAD_FIELD(SyscallData, ret), .column = "sysRet"},
    {.name = "duration_ns", BPFTAPE_PAYLOAD_FIELD(SyscallData, duration_ns),
     .column = "sysDuration"},
};
inline constexpr PayloadField kMemory[] = {
    {.name = "op", BPFTAPE_PAYLOAD_FIELD(MemoryData, op), .format = FieldFormat::Enum,
     .column = "memOp", .rule = FieldRule::NamedValue, .reason = RejectReason::MemoryOpMismatch,
     .values = kMemoryOps},
    {.name = "address", BPFTAPE_PAYLOAD_FIELD(MemoryData, address), .format = FieldFormat::Hex,
     .column = "memAddress"},
    {.name = "size", BPFTAPE_PAYLOAD_FIELD(MemoryData, size), .column = "memSize"},
    {.name = "old_address", BPFTAPE_PAYLOAD_FIELD(MemoryData, old_address),
     .format = FieldFormat::Hex, .column = "memOldAddress", .text_label = "old",
     .zero_is_absent = true},
    {.name = "stack", BPFTAPE_PAYLOAD_FIELD(MemoryData, stack), .format = FieldFormat::StackId,
     .column = "memStack"},
};
inline constexpr PayloadField kProcess[] = {
    {.name = "parent_pid", BPFTAPE_PAYLOAD_FIELD(ProcessData, parent_pid),
     .column = "procParent", .text_label = "parent"},
    {.name = "child_pid", BPFTAPE_PAYLOAD_FIELD(ProcessData, child_pid), .column = "procChild",
     .text_label = "child", .zero_is_absent = true},
    {.name = "exit_code", BPFTAPE_PAYLOAD_FIELD(ProcessData, exit_code),
     .column = "procExitCode"},
    {.name = "process_comm", BPFTAPE_PAYLOAD_FIELD(ProcessData, comm),
     .format = FieldFormat::StringId, .column = "procComm", .text_label = "comm"},
    {.name = "filename", BPFTAPE_PAYLOAD_FIELD(ProcessData, filename),
     .format = FieldFormat::StringId, .column = "procFilename", .text_label = "file",
     .zero_is_absent = true},
};
inline constexpr PayloadField kNetwork[] = {
    {.name = "socket", BPFTAPE_PAYLOAD_FIELD(NetworkData, socket_id), .format = FieldFormat::Hex,
     .column = "netSocket"},
    {.name = "bytes", BPFTAPE_PAYLOAD_FIELD(NetworkData, bytes), .column = "netBytes"},
    {.name = "duration_ns", BPFTAPE_PAYLOAD_FIELD(NetworkData, duration_ns),
     .column = "netDuration", .zero_is_absent = true},
    {.name = "protocol", BPFTAPE_PAYLOAD_FIELD(NetworkData, protocol), .format = FieldFormat::Enum,
     .column = "netSmall", .rule = FieldRule::NamedValue,
     .reason = RejectReason::NetworkDirection, .values = kNetProtocols},
    {.name = "direction", BPFTAPE_PAYLOAD_FIELD(NetworkData, direction),
     .format = FieldFormat::Enum, .column = "netSmall", .rule = FieldRule::NamedValue,
     .reason = RejectReason::NetworkDirection, .values = kNetDirections},
    {.name = "local_port", BPFTAPE_PAYLOAD_FIELD(NetworkData, local_port),
     .column = "netLocalPort"},
    {.name = "remote_port", BPFTAPE_PAYLOAD_FIELD(NetworkData, remote_port),
     .column = "netRemotePort"},
    {.name = "tcp_state", BPFTAPE_PAYLOAD_FIELD(NetworkData, tcp_state), .column = "netSmall"},
    {.name = "endpoints", BPFTAPE_PAYLOAD_FIELD(NetworkData, endpoints),
     .format = FieldFormat::Endpoints, .column = "netEndpoints", .zero_is_absent = true},
    {.name = "payload_bytes", BPFTAPE_PAYLOAD_FIELD(NetworkData, payload),
     .format = FieldFormat::BlobLength, .column = "netPayload", .zero_is_absent = true},
};

}  // namespace payload_tables

// Indexed by PayloadKind.
inline constexpr std::array<PayloadLayout, kPayloadKindCount> kPayloadLayouts{{
    {"cpu_sample", sizeof(CpuSampleData), true, payload_tables::kCpuSample},
    {"syscall", sizeof(SyscallData), true, payload_tables::kSyscall},
    {"memory", sizeof(MemoryData), true, payload_tables::kMemory},
    {"process", sizeof(ProcessData), true, payload_tables::kProcess},
    {"network", sizeof(NetworkData), true, payload_tables::kNetwork},
}};

constexpr const PayloadLayout& payload_layout(PayloadKind kind) {
  return kPayloadLayouts[static_cast<size_t>(kind)];
}

// ---- Checks of the tables themselves (compile time) ----

namespace payload_tables {

consteval bool fields_are_well_formed(const PayloadLayout& layout) {
  uint64_t used = 0;  // bit i: payload byte i belongs to a field
  for (const PayloadField& f : layout.fields) {
    if (f.name.empty()) return false;
    if (f.width != 1 && f.width != 2 && f.width != 4 && f.width != 8) return false;
    if (f.offset % f.width != 0 || f.offset + f.width > layout.size) return false;
    const uint64_t bytes = ((uint64_t{1} << f.width) - 1) << f.offset;
    if (used & bytes) return false;  // overlapping fields
    used |= bytes;
    if (f.interned() != InternKind::None && (f.width != 4 || f.is_signed)) return false;
    if (f.rule == FieldRule::NamedValue && (f.width != 1 || f.values.empty())) return false;
    if (f.format == FieldFormat::Enum && f.values.empty()) return false;
    if (layout.fixed_columns == f.column.empty()) return false;
  }
  return layout.size <= kPayloadSize && layout.fields.size() <= 64;
}

consteval bool tables_are_well_formed() {
  for (const auto& layout : kPayloadLayouts) {
    if (!fields_are_well_formed(layout)) return false;
  }
  return true;
}
static_assert(tables_are_well_formed(),
              "a payload field table is malformed (overlap, width, interned id width, rule)");

}  // namespace payload_tables

// ---- Compile-time iteration ----

template <PayloadKind K, size_t I>
inline constexpr const PayloadField& kPayloadField = payload_layout(K).fields[I];

// f(field) for every field of kind K, unrolled: `field` is a constant, so its offset and width
// fold into the loads.
template <PayloadKind K, typename F>
constexpr void for_each_field(F&& f) {
  [&]<size_t... I>(std::index_sequence<I...>) {
    (f(kPayloadField<K, I>), ...);
  }(std::make_index_sequence<payload_layout(K).fields.size()>{});
}

// f(std::integral_constant<PayloadKind, kind>{}): the kind as a compile-time constant.
template <typename F>
constexpr void visit_payload_kind(PayloadKind kind, F&& f) {
  [&]<size_t... K>(std::index_sequence<K...>) {
    (void)((static_cast<size_t>(kind) == K
                ? (f(std::integral_constant<PayloadKind, static_cast<PayloadKind>(K)>{}), true)
                : false) ||
           ...);
  }(std::make_index_sequence<kPayloadKindCount>{});
}

// ---- Field values ----

// The field's bytes, zero-extended (signed fields: their two's complement bits).
inline uint64_t field_bits(const EbpfEvent& e, const PayloadField& f) {
  uint64_t v = 0;
  std::memcpy(&v, e.payload.raw.data() + f.offset, f.width);
  return v;
}
// The field's value, sign-extended when the field is signed.
inline int64_t field_signed(const EbpfEvent& e, const PayloadField& f) {
  const unsigned unused = 64 - 8u * f.width;
  return static_cast<int64_t>(field_bits(e, f) << unused) >> unused;
}
// Stores the low `width` bytes of `bits`.
inline void set_field_bits(EbpfEvent& e, const PayloadField& f, uint64_t bits) {
  std::memcpy(e.payload.raw.data() + f.offset, &bits, f.width);
}
// Whether `value` (as field_bits or, for signed fields, field_signed would give it) fits.
constexpr bool field_fits(const PayloadField& f, uint64_t bits_or_signed) {
  if (f.width == 8) return true;
  if (!f.is_signed) return (bits_or_signed >> (8 * f.width)) == 0;
  const int64_t v = static_cast<int64_t>(bits_or_signed);
  const int64_t half = int64_t{1} << (8 * f.width - 1);
  return v >= -half && v < half;
}

// Bytes of the payload that belong to a field of the kind: 0xff, others 0.
constexpr std::array<uint8_t, kPayloadSize> field_byte_mask(PayloadKind kind) {
  std::array<uint8_t, kPayloadSize> mask{};
  for (const PayloadField& f : payload_layout(kind).fields) {
    for (unsigned b = 0; b < f.width; ++b) mask[f.offset + b] = 0xff;
  }
  return mask;
}

// Raises refs to the interned ids the event refers to.
inline void add_field_intern_refs(const EbpfEvent& e, uint32_t* max_string, uint32_t* max_stack) {
  if (!is_known_event_type(static_cast<uint8_t>(e.event_type))) return;
  visit_payload_kind(payload_kind(e.event_type), [&](auto kind) {
    for_each_field<decltype(kind)::value>([&](const PayloadField& f) {
      if (f.interned() == InternKind::String) {
        *max_string = std::max(*max_string, static_cast<uint32_t>(field_bits(e, f)));
      } else if (f.interned() == InternKind::Stack) {
        *max_stack = std::max(*max_stack, static_cast<uint32_t>(field_bits(e, f)));
      }
    });
  });
}

// ---- Validity rules ----

namespace payload_rules {

// Every field that has a rule, over all kinds: a "slot".
struct Slot {
  PayloadKind kind;
  uint8_t field;
};
consteval size_t slot_count() {
  size_t n = 0;
  for (const auto& layout : kPayloadLayouts) {
    for (const auto& f : layout.fields) n += f.rule != FieldRule::None;
  }
  return n;
}
inline constexpr size_t kSlotCount = slot_count();
consteval std::array<Slot, kSlotCount> make_slots() {
  std::array<Slot, kSlotCount> slots{};
  size_t n = 0;
  for (size_t k = 0; k < kPayloadKindCount; ++k) {
    const auto& fields = kPayloadLayouts[k].fields;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].rule != FieldRule::None) {
        slots[n++] = {static_cast<PayloadKind>(k), static_cast<uint8_t>(i)};
      }
    }
  }
  return slots;
}
inline constexpr std::array<Slot, kSlotCount> kSlots = make_slots();

template <size_t S>
inline constexpr const PayloadField& kSlotField = payload_layout(kSlots[S].kind).fields[kSlots[S].field];

// Event types are clamped to kEventTypeCount (a row for every unknown type: it accepts
// anything, the type check refuses the event).
inline constexpr size_t kTypeRows = kEventTypeCount + 1;

// AtMost slots: the largest value each type accepts (types of another kind: any value).
template <size_t S>
consteval std::array<uint64_t, kTypeRows> make_max() {
  std::array<uint64_t, kTypeRows> max{};
  for (size_t t = 0; t < kTypeRows; ++t) {
    const bool applies =
        t < kEventTypeCount && payload_kind(static_cast<EbpfEventType>(t)) == kSlots[S].kind;
    max[t] = applies ? kSlotField<S>.max : ~uint64_t{0};
  }
  return max;
}
template <size_t S>
inline constexpr std::array<uint64_t, kTypeRows> kMax = make_max<S>();

// NamedValue slots (1-byte fields): 1 where the type refuses the byte value.
template <size_t S>
consteval std::array<std::array<uint8_t, 256>, kTypeRows> make_refused() {
  std::array<std::array<uint8_t, 256>, kTypeRows> refused{};
  for (size_t t = 0; t < kTypeRows; ++t) {
    const bool applies =
        t < kEventTypeCount && payload_kind(static_cast<EbpfEventType>(t)) == kSlots[S].kind;
    if (!applies) continue;
    refused[t].fill(1);
    for (const auto& v : kSlotField<S>.values) {
      if (v.only_for == kAnyEventType || v.only_for == t) refused[t][v.value] = 0;
    }
  }
  return refused;
}
template <size_t S>
inline constexpr std::array<std::array<uint8_t, 256>, kTypeRows> kRefused = make_refused<S>();

// 1 when slot S's rule refuses the event (type row `row`). Branch-free.
template <size_t S>
inline unsigned slot_broken(const EbpfEvent& e, size_t row) {
  constexpr const PayloadField& f = kSlotField<S>;
  const uint64_t v = field_bits(e, f);
  if constexpr (f.rule == FieldRule::AtMost) {
    return v > kMax<S>[row];
  } else {
    return kRefused<S>[row][v];
  }
}

}  // namespace payload_rules

// Whether every per-field rule holds for the event. Branch-free: every rule field is read
// whatever the type (the payload is 40 plain bytes) and per-type tables make the rules of
// other kinds accept anything, so a stream mixing types mispredicts nothing. Used by
// EventProcessor's batch path and by validate_event.
inline bool payload_rules_hold(const EbpfEvent& e) {
  const size_t row = std::min<size_t>(static_cast<uint8_t>(e.event_type), kEventTypeCount);
  return [&]<size_t... S>(std::index_sequence<S...>) {
    return (0u | ... | payload_rules::slot_broken<S>(e, row)) == 0;
  }(std::make_index_sequence<payload_rules::kSlotCount>{});
}

// The same for an event whose kind K is known at compile time (the tape decoder): only K's
// rules, and the type must be a known type of kind K.
template <PayloadKind K>
inline bool payload_rules_hold_for(const EbpfEvent& e) {
  const size_t row = static_cast<uint8_t>(e.event_type);
  return [&]<size_t... S>(std::index_sequence<S...>) {
    return (0u | ... |
            (payload_rules::kSlots[S].kind == K ? payload_rules::slot_broken<S>(e, row) : 0u)) ==
           0;
  }(std::make_index_sequence<payload_rules::kSlotCount>{});
}

// The reason of the first broken rule (in table order); nullopt when all hold.
inline std::optional<RejectReason> broken_payload_rule(const EbpfEvent& e) {
  const size_t row = std::min<size_t>(static_cast<uint8_t>(e.event_type), kEventTypeCount);
  std::optional<RejectReason> reason;
  [&]<size_t... S>(std::index_sequence<S...>) {
    (void)((payload_rules::slot_broken<S>(e, row)
                ? (reason = payload_rules::kSlotField<S>.reason, true)
                : false) ||
           ...);
  }(std::make_index_sequence<payload_rules::kSlotCount>{});
  return reason;
}

// The header rules of validate_event, branch-free: known type, non-zero timestamp, pid 0
// exactly with tid 0.
inline bool header_rules_hold(const EbpfEvent& e) {
  return ((static_cast<uint8_t>(e.event_type) >= kEventTypeCount) | (e.timestamp_ns == 0) |
          ((e.pid == 0) ^ (e.tid == 0))) == 0;
}

// std::nullopt when the event is valid, else why not. Cheap: a few compares and table loads,
// no allocation. Inline: the tape writer checks every event it is given.
inline std::optional<RejectReason> validate_event(const EbpfEvent& event) {
  if (!is_known_event_type(static_cast<uint8_t>(event.event_type))) {
    return RejectReason::UnknownType;
  }
  if (event.timestamp_ns == 0) return RejectReason::ZeroTimestamp;
  if (event.pid == 0) {
    if (event.tid != 0) return RejectReason::IdleTaskThread;
  } else if (event.tid == 0) {
    return RejectReason::MissingThread;
  }
  if (payload_rules_hold(event)) [[likely]] return std::nullopt;
  return broken_payload_rule(event);
}

}  // namespace otlp::ebpf
