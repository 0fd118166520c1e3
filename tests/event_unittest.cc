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
