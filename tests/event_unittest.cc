#include "core/event.h"

#include <gtest/gtest.h>

#include "core/intern_table.h"

namespace otlp::ebpf {
namespace {

TEST(EbpfEventTest, LayoutIsPinned) {
  EXPECT_EQ(sizeof(EbpfEvent), 64u);
  EXPECT_EQ(offsetof(EbpfEvent, timestamp_ns), 0u);
  EXPECT_EQ(offsetof(EbpfEvent, pid), 8u);
  EXPECT_EQ(offsetof(EbpfEvent, tid), 12u);
  EXPECT_EQ(offsetof(EbpfEvent, cpu), 16u);
  EXPECT_EQ(offsetof(EbpfEvent, event_type), 18u);
  EXPECT_EQ(offsetof(EbpfEvent, payload), 24u);
}

TEST(EbpfEventTest, BuildersSetHeaderAndPayload) {
  auto e = EbpfEvent::syscall_event(1000, 42, 43, 3, SyscallData{.nr = 39, .ret = -2, .duration_ns = 250});
  EXPECT_EQ(e.event_type, EbpfEventType::Syscall);
  EXPECT_EQ(e.timestamp(), std::chrono::nanoseconds(1000));
  EXPECT_EQ(e.pid, 42u);
  EXPECT_EQ(e.tid, 43u);
  EXPECT_EQ(e.cpu, 3);
  EXPECT_EQ(e.payload.syscall.nr, 39u);
  EXPECT_EQ(e.payload.syscall.ret, -2);
  EXPECT_EQ(e.payload.syscall.duration_ns, 250u);
  // data() is the typed payload's bytes.
  ASSERT_EQ(e.data().size(), sizeof(SyscallData));
  SyscallData copy;
  std::memcpy(&copy, e.data().data(), sizeof(copy));
  EXPECT_EQ(copy.duration_ns, 250u);
}

TEST(EbpfEventTest, EqualInputsGiveByteEqualEvents) {
  auto a = EbpfEvent::memory_event(EbpfEventType::MemoryAlloc, 5, 1, 1, 0,
                                   MemoryData{.address = 0x1000, .size = 64, .op = MemoryOp::Malloc});
  auto b = EbpfEvent::memory_event(EbpfEventType::MemoryAlloc, 5, 1, 1, 0,
                                   MemoryData{.address = 0x1000, .size = 64, .op = MemoryOp::Malloc});
  EXPECT_EQ(a, b);
  b.payload.memory.size = 65;
  EXPECT_NE(a, b);
}

TEST(EbpfEventTest, TypeNamesRoundTrip) {
  for (size_t i = 0; i < kEventTypeCount; ++i) {
    auto type = static_cast<EbpfEventType>(i);
    EXPECT_EQ(parse_event_type(event_type_name(type)), type);
  }
  EXPECT_EQ(parse_event_type("cpu_sample"), EbpfEventType::CpuSample);
  EXPECT_EQ(parse_event_type("tcp_close"), EbpfEventType::TcpClose);
  EXPECT_EQ(parse_event_type("nonsense"), std::nullopt);
  EXPECT_EQ(event_type_name(static_cast<EbpfEventType>(200)), "Unknown");
}

TEST(ValidateEventTest, AcceptsTheIdleTask) {
  // Idle CPU samples are real: pid 0 / tid 0 must pass.
  auto idle = EbpfEvent::cpu_sample(77, 0, 0, 1, CpuSampleData{});
  EXPECT_EQ(validate_event(idle), std::nullopt);
}

TEST(ValidateEventTest, RejectsEachInvalidShapeWithItsReason) {
  auto base = EbpfEvent::syscall_event(10, 5, 6, 0, SyscallData{.nr = 1});
  EXPECT_EQ(validate_event(base), std::nullopt);

  auto unknown = base;
  unknown.event_type = static_cast<EbpfEventType>(kEventTypeCount);
  EXPECT_EQ(validate_event(unknown), RejectReason::UnknownType);

  auto zero_ts = base;
  zero_ts.timestamp_ns = 0;
  EXPECT_EQ(validate_event(zero_ts), RejectReason::ZeroTimestamp);

  auto idle_with_tid = base;
  idle_with_tid.pid = 0;
  EXPECT_EQ(validate_event(idle_with_tid), RejectReason::IdleTaskThread);

  auto no_tid = base;
  no_tid.tid = 0;
  EXPECT_EQ(validate_event(no_tid), RejectReason::MissingThread);

  auto bad_nr = base;
  bad_nr.payload.syscall.nr = 5000;
  EXPECT_EQ(validate_event(bad_nr), RejectReason::SyscallNumber);

  auto free_as_malloc = EbpfEvent::memory_event(EbpfEventType::MemoryFree, 1, 1, 1, 0,
                                                MemoryData{.op = MemoryOp::Malloc});
  EXPECT_EQ(validate_event(free_as_malloc), RejectReason::MemoryOpMismatch);
  auto alloc_as_free = EbpfEvent::memory_event(EbpfEventType::MemoryAlloc, 1, 1, 1, 0,
                                               MemoryData{.op = MemoryOp::Munmap});
  EXPECT_EQ(validate_event(alloc_as_free), RejectReason::MemoryOpMismatch);

  auto bad_direction = EbpfEvent::network_event(EbpfEventType::NetworkPacket, 1, 1, 1, 0,
                                                NetworkData{.direction = static_cast<NetDirection>(7)});
  EXPECT_EQ(validate_event(bad_direction), RejectReason::NetworkDirection);
  auto bad_protocol = EbpfEvent::network_event(EbpfEventType::NetworkPacket, 1, 1, 1, 0,
                                               NetworkData{.protocol = static_cast<NetProtocol>(1)});
  EXPECT_EQ(validate_event(bad_protocol), RejectReason::NetworkDirection);
}

// The byte values each rule field accepts, over all 256, for every type of its kind: exactly
// the values the event model defines (the tables must not widen or narrow them).
TEST(ValidateEventTest, RuleFieldsAcceptExactlyTheirNamedValues) {
  auto accepted = [](EbpfEventType type, size_t offset) {
    std::vector<int> values;
    for (int v = 0; v < 256; ++v) {
      EbpfEvent e = EbpfEvent::make(type, 10, 5, 6);
      e.payload.raw[offset] = static_cast<std::byte>(v);
      if (type == EbpfEventType::MemoryFree && offset != offsetof(MemoryData, op)) {
        e.payload.memory.op = MemoryOp::Free;
      }
      const bool valid = !validate_event(e).has_value();
      // The branch-free form (EventProcessor's batch path) agrees, value by value.
      EXPECT_EQ(valid, header_rules_hold(e) && payload_rules_hold(e))
          << event_type_name(type) << " byte " << offset << " = " << v;
      if (valid) values.push_back(v);
    }
    return values;
  };
  using V = std::vector<int>;
  EXPECT_EQ(accepted(EbpfEventType::MemoryAlloc, offsetof(MemoryData, op)), (V{0, 1, 2, 3}));
  EXPECT_EQ(accepted(EbpfEventType::MemoryFree, offsetof(MemoryData, op)), (V{4, 5}));
  for (auto type : {EbpfEventType::NetworkPacket, EbpfEventType::TcpConnect,
                    EbpfEventType::TcpAccept, EbpfEventType::TcpClose,
                    EbpfEventType::TcpRetransmit, EbpfEventType::NetworkPayload}) {
    EXPECT_EQ(accepted(type, offsetof(NetworkData, protocol)), (V{0, 6, 17}));
    EXPECT_EQ(accepted(type, offsetof(NetworkData, direction)), (V{0, 1, 2}));
    EXPECT_EQ(accepted(type, offsetof(NetworkData, tcp_state)).size(), 256u);
  }
  // Bytes that are rule fields of another kind constrain nothing here.
  EXPECT_EQ(accepted(EbpfEventType::CpuSample, offsetof(MemoryData, op)).size(), 256u);
  EXPECT_EQ(accepted(EbpfEventType::ProcessExec, offsetof(NetworkData, protocol)).size(), 256u);

  auto syscall = EbpfEvent::syscall_event(10, 5, 6, 0, SyscallData{.nr = kMaxSyscallNr});
  EXPECT_EQ(validate_event(syscall), std::nullopt);
  syscall.payload.syscall.nr = kMaxSyscallNr + 1;
  EXPECT_EQ(validate_event(syscall), RejectReason::SyscallNumber);
  EXPECT_FALSE(payload_rules_hold(syscall));
  // The same number in a process event's first field is a parent pid: no rule.
  auto process = EbpfEvent::process_event(EbpfEventType::ProcessExit, 10, 5, 6, 0,
                                          ProcessData{.parent_pid = kMaxSyscallNr + 1});
  EXPECT_EQ(validate_event(process), std::nullopt);
}

TEST(PayloadFieldsTest, TablesDescribeThePayloadStructs) {
  EXPECT_EQ(payload_size(EbpfEventType::CpuSample), sizeof(CpuSampleData));
  EXPECT_EQ(payload_size(EbpfEventType::Syscall), sizeof(SyscallData));
  EXPECT_EQ(payload_size(EbpfEventType::MemoryFree), sizeof(MemoryData));
  EXPECT_EQ(payload_size(EbpfEventType::ProcessFork), sizeof(ProcessData));
  EXPECT_EQ(payload_size(EbpfEventType::TcpClose), sizeof(NetworkData));
  // Values read back through the table are the struct's members (signed ones sign-extended).
  auto e = EbpfEvent::syscall_event(10, 5, 6, 0, SyscallData{.nr = 59, .ret = -13,
                                                            .duration_ns = 1234});
  const auto& fields = payload_layout(PayloadKind::Syscall).fields;
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[0].name, "nr");
  EXPECT_EQ(field_bits(e, fields[0]), 59u);
  EXPECT_EQ(field_signed(e, fields[1]), -13);
  EXPECT_EQ(field_bits(e, fields[2]), 1234u);
  auto p = EbpfEvent::process_event(EbpfEventType::ProcessExit, 10, 5, 6, 0,
                                    ProcessData{.exit_code = -9});
  const auto& exit_code = payload_layout(PayloadKind::Process).fields[2];
  EXPECT_EQ(exit_code.name, "exit_code");
  EXPECT_EQ(field_signed(p, exit_code), -9);
  EXPECT_EQ(field_bits(p, exit_code), 0xfffffff7u);
  // Interned references are what the formats say.
  std::vector<std::string_view> interned;
  for (const auto& layout : kPayloadLayouts) {
    for (const auto& f : layout.fields) {
      if (f.interned() != InternKind::None) interned.push_back(f.name);
    }
  }
  EXPECT_EQ(interned, (std::vector<std::string_view>{"user_stack", "kernel_stack", "stack",
                                                     "process_comm", "filename", "endpoints",
                                                     "payload_bytes"}));
}

TEST(InternTableTest, EqualContentSharesOneIdAndIdsAreDense) {
  InternTable table;
  EXPECT_EQ(table.string_count(), 0u);
  StringId a = table.intern_string("nginx");
  StringId b = table.intern_string("curl");
  StringId a2 = table.intern_string(std::string("ngi") + "nx");
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  EXPECT_EQ(a2, a);
  EXPECT_EQ(table.string(a), "nginx");
  EXPECT_EQ(table.string(b), "curl");
  EXPECT_EQ(table.string(kNoId), "");
  EXPECT_FALSE(table.has_string(3));
  EXPECT_EQ(table.string(3), "");

  // Binary blobs with NULs are kept whole.
  std::string blob("a\0b", 3);
  StringId c = table.intern_string(blob);
  EXPECT_EQ(table.string(c), blob);

  const uint64_t s1[] = {0x10, 0x20, 0x30};
  const uint64_t s2[] = {0x10, 0x20};
  StackId x = table.intern_stack(s1);
  StackId y = table.intern_stack(s2);
  EXPECT_EQ(table.intern_stack(s1), x);
  EXPECT_NE(x, y);
  ASSERT_EQ(table.stack(x).size(), 3u);
  EXPECT_EQ(table.stack(x)[2], 0x30u);
  EXPECT_TRUE(table.stack(kNoId).empty());
  EXPECT_GT(table.memory_bytes(), 0u);
}

TEST(InternTableTest, ViewsStayValidWhileTheTableGrows) {
  InternTable table;
  StringId first = table.intern_string("first-string-long-enough-to-avoid-sso-xxxxxxxx");
  std::string_view view = table.string(first);
  for (int i = 0; i < 10000; ++i) table.intern_string("s" + std::to_string(i));
  EXPECT_EQ(view, "first-string-long-enough-to-avoid-sso-xxxxxxxx");
  EXPECT_EQ(table.string_count(), 10001u);
}

TEST(SocketEndpointsTest, EncodeDecodeAndFormat) {
  SocketEndpoints ep;
  ep.family = SocketEndpoints::kInet;
  ep.local = {127, 0, 0, 1};
  ep.remote = {10, 1, 2, 3};
  auto encoded = ep.encode();
  auto decoded = SocketEndpoints::decode(std::string_view(encoded.data(), encoded.size()));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, ep);
  EXPECT_EQ(SocketEndpoints::format_address(ep.family, ep.local), "127.0.0.1");
  EXPECT_EQ(SocketEndpoints::format_address(ep.family, ep.remote), "10.1.2.3");
  std::array<uint8_t, 16> v6{};
  v6[15] = 1;
  EXPECT_EQ(SocketEndpoints::format_address(SocketEndpoints::kInet6, v6), "::1");
  EXPECT_FALSE(SocketEndpoints::decode("short").has_value());
  std::string bad_family(SocketEndpoints::kEncodedSize, '\0');
  bad_family[0] = 99;
  EXPECT_FALSE(SocketEndpoints::decode(bad_family).has_value());
}

}  // namespace
}  // namespace otlp::ebpf
