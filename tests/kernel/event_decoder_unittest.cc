// EventDecoder on hand-built records: no kernel, no root.
#include "bpf/event_decoder.h"

#include <cstring>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

extern "C" {
#include "bpf/cpu_sample.h"
#include "bpf/memory.h"
#include "bpf/network.h"
#include "bpf/process.h"
#include "bpf/syscall.h"
}

namespace otlp::ebpf {
namespace {

using ::testing::HasSubstr;

bt_record_header header(uint8_t kind, uint32_t aux) {
  bt_record_header h{};
  h.ts_ns = 123456789;
  h.pid = 42;
  h.tid = 43;
  h.kind = kind;
  h.version = BT_RECORD_VERSION;
  h.cpu = 1;
  h.aux = aux;
  return h;
}

template <typename T>
std::span<const std::byte> bytes_of(const T& record) {
  return std::as_bytes(std::span(&record, 1));
}

class EventDecoderTest : public ::testing::Test {
 protected:
  InternTable table;
  EventDecoder decoder{table};
  std::vector<EbpfEvent> out;
};

TEST_F(EventDecoderTest, SyscallRecordBecomesOneSyscallEvent) {
  bt_syscall_record rec{};
  rec.hdr = header(BT_REC_SYSCALL, 39);
  rec.ret = -2;
  rec.duration_ns = 1500;
  ASSERT_EQ(decoder.decode(bytes_of(rec), out).value(), 1u);
  ASSERT_EQ(out.size(), 1u);
  const auto expected = EbpfEvent::syscall_event(123456789, 42, 43, 1,
                                                 SyscallData{.nr = 39, .reserved = 0, .ret = -2,
                                                             .duration_ns = 1500});
  EXPECT_EQ(out[0], expected);
  EXPECT_EQ(decoder.stats().events, 1u);
}

TEST_F(EventDecoderTest, ProcessRecordsInternCommAndFilename) {
  bt_process_record rec{};
  rec.hdr = header(BT_REC_PROCESS, BT_PROC_EXEC);
  rec.parent_pid = 7;
  std::strcpy(rec.comm, "true");
  std::strcpy(rec.filename, "/bin/true");
  ASSERT_TRUE(decoder.decode(bytes_of(rec), out));
  rec.hdr = header(BT_REC_PROCESS, BT_PROC_EXIT);
  rec.exit_code = 256;
  ASSERT_TRUE(decoder.decode(bytes_of(rec), out));
  rec.hdr = header(BT_REC_PROCESS, BT_PROC_FORK);
  rec.child_pid = 99;
  ASSERT_TRUE(decoder.decode(bytes_of(rec), out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].event_type, EbpfEventType::ProcessExec);
  EXPECT_EQ(table.string(out[0].payload.process.filename), "/bin/true");
  EXPECT_EQ(table.string(out[0].payload.process.comm), "true");
  EXPECT_EQ(out[0].payload.process.parent_pid, 7u);
  EXPECT_EQ(out[1].event_type, EbpfEventType::ProcessExit);
  EXPECT_EQ(out[1].payload.process.exit_code, 256);
  EXPECT_EQ(out[1].payload.process.filename, kNoId);
  EXPECT_EQ(out[1].payload.process.comm, out[0].payload.process.comm);  // interned once
  EXPECT_EQ(out[2].event_type, EbpfEventType::ProcessFork);
  EXPECT_EQ(out[2].payload.process.child_pid, 99u);
}

TEST_F(EventDecoderTest, ProcessCommWithoutTerminatorIsBounded) {
  bt_process_record rec{};
  rec.hdr = header(BT_REC_PROCESS, BT_PROC_EXIT);
  std::memset(rec.comm, 'a', sizeof(rec.comm));  // no NUL: must stop at 16
  ASSERT_TRUE(decoder.decode(bytes_of(rec), out));
  EXPECT_EQ(table.string(out[0].payload.process.comm), std::string(16, 'a'));
}

TEST_F(EventDecoderTest, MemoryRecordsMapOpsToAllocAndFreeWithStacks) {
  bt_memory_record rec{};
  rec.hdr = header(BT_REC_MEMORY, BT_MEM_REALLOC);
  rec.address = 0x2000;
  rec.old_address = 0x1000;
  rec.size = 4096;
  rec.stack_depth = 3;
  rec.stack[0] = 0x401000;
  rec.stack[1] = 0x401100;
  rec.stack[2] = 0x401200;
  rec.stack[3] = 0xdead;  // beyond depth: ignored
  ASSERT_TRUE(decoder.decode(bytes_of(rec), out));
  rec.hdr = header(BT_REC_MEMORY, BT_MEM_MUNMAP);
  rec.stack_depth = 0;
  ASSERT_TRUE(decoder.decode(bytes_of(rec), out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event_type, EbpfEventType::MemoryAlloc);
  EXPECT_EQ(out[0].payload.memory.op, MemoryOp::Realloc);
  EXPECT_EQ(out[0].payload.memory.old_address, 0x1000u);
  const auto frames = table.stack(out[0].payload.memory.stack);
  EXPECT_EQ(std::vector<uint64_t>(frames.begin(), frames.end()),
            (std::vector<uint64_t>{0x401000, 0x401100, 0x401200}));
  EXPECT_EQ(out[1].event_type, EbpfEventType::MemoryFree);
  EXPECT_EQ(out[1].payload.memory.op, MemoryOp::Munmap);
  EXPECT_EQ(out[1].payload.memory.stack, kNoId);
  EXPECT_FALSE(validate_event(out[0]).has_value());
  EXPECT_FALSE(validate_event(out[1]).has_value());
}

TEST_F(EventDecoderTest, StackDepthBeyondTheArrayIsClamped) {
  bt_memory_record rec{};
  rec.hdr = header(BT_REC_MEMORY, BT_MEM_MALLOC);
  rec.stack_depth = 1000;
  ASSERT_TRUE(decoder.decode(bytes_of(rec), out));
  EXPECT_EQ(table.stack(out[0].payload.memory.stack).size(), size_t{BT_MEM_STACK_DEPTH});
}

TEST_F(EventDecoderTest, CpuSampleInternsBothStacksAndSharesEqualOnes) {
  auto rec = std::make_unique<bt_cpu_sample_record>();
  std::memset(rec.get(), 0, sizeof(*rec));
  rec->hdr = header(BT_REC_CPU_SAMPLE, 0);
  rec->user_depth = 2;
  rec->user_stack[0] = 0x10;
  rec->user_stack[1] = 0x20;
  rec->kernel_depth = 0;
  ASSERT_TRUE(decoder.decode(bytes_of(*rec), out));
  ASSERT_TRUE(decoder.decode(bytes_of(*rec), out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NE(out[0].payload.cpu_sample.user_stack, kNoId);
  EXPECT_EQ(out[0].payload.cpu_sample.user_stack, out[1].payload.cpu_sample.user_stack);
  EXPECT_EQ(out[0].payload.cpu_sample.kernel_stack, kNoId);
  EXPECT_EQ(table.stack_count(), 1u);
}

TEST_F(EventDecoderTest, SocketIoWithPayloadYieldsPacketAndPayloadEvents) {
  bt_net_io_record rec{};
  rec.hdr = header(BT_REC_NET_IO, BT_NET_SEND);
  rec.socket_id = 77;
  rec.ep.family = 2;
  rec.ep.protocol = 6;
  rec.ep.local_port = 40000;
  rec.ep.remote_port = 80;
  const uint8_t local[4] = {127, 0, 0, 1}, remote[4] = {10, 0, 0, 2};
  std::memcpy(rec.ep.local_addr, local, 4);
  std::memcpy(rec.ep.remote_addr, remote, 4);
  rec.bytes = 500;
  const std::string request = "GET / HTTP/1.1\r\n";
  rec.payload_len = request.size();
  std::memcpy(rec.payload, request.data(), request.size());
  ASSERT_EQ(decoder.decode(bytes_of(rec), out).value(), 2u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event_type, EbpfEventType::NetworkPacket);
  EXPECT_EQ(out[0].payload.network.bytes, 500u);
  EXPECT_EQ(out[0].payload.network.direction, NetDirection::Send);
  EXPECT_EQ(out[0].payload.network.protocol, NetProtocol::Tcp);
  EXPECT_EQ(out[0].payload.network.payload, kNoId);
  auto ep = SocketEndpoints::decode(table.string(out[0].payload.network.endpoints));
  ASSERT_TRUE(ep);
  EXPECT_EQ(SocketEndpoints::format_address(ep->family, ep->local), "127.0.0.1");
  EXPECT_EQ(SocketEndpoints::format_address(ep->family, ep->remote), "10.0.0.2");
  EXPECT_EQ(out[1].event_type, EbpfEventType::NetworkPayload);
  EXPECT_EQ(table.string(out[1].payload.network.payload), request);
  EXPECT_EQ(out[1].payload.network.bytes, 500u);  // the full length, not the captured part
  EXPECT_EQ(out[1].payload.network.remote_port, 80);
}

TEST_F(EventDecoderTest, TcpCloseCarriesLifetimeAndTotalBytes) {
  bt_tcp_record rec{};
  rec.hdr = header(BT_REC_TCP_STATE, BT_TCP_CLOSE);
  rec.socket_id = 5;
  rec.ep.family = 10;
  rec.ep.remote_addr[15] = 1;  // ::1
  rec.duration_ns = 999;
  rec.bytes_sent = 100;
  rec.bytes_received = 23;
  rec.old_state = 8;
  ASSERT_TRUE(decoder.decode(bytes_of(rec), out));
  EXPECT_EQ(out[0].event_type, EbpfEventType::TcpClose);
  EXPECT_EQ(out[0].payload.network.duration_ns, 999u);
  EXPECT_EQ(out[0].payload.network.bytes, 123u);
  EXPECT_EQ(out[0].payload.network.tcp_state, 8);
  auto ep = SocketEndpoints::decode(table.string(out[0].payload.network.endpoints));
  ASSERT_TRUE(ep);
  EXPECT_EQ(SocketEndpoints::format_address(ep->family, ep->remote), "::1");
}

TEST_F(EventDecoderTest, MalformedRecordsAreErrorsAndLeaveOutputUnchanged) {
  bt_syscall_record rec{};
  rec.hdr = header(BT_REC_SYSCALL, 1);
  auto short_record = decoder.decode(bytes_of(rec).first(30), out);
  ASSERT_FALSE(short_record);
  EXPECT_EQ(short_record.error().kind(), ErrorKind::FormatError);
  EXPECT_THAT(short_record.error().message(), HasSubstr("expected 40"));

  rec.hdr.version = BT_RECORD_VERSION + 1;
  auto wrong_version = decoder.decode(bytes_of(rec), out);
  ASSERT_FALSE(wrong_version);
  EXPECT_THAT(wrong_version.error().message(), HasSubstr("different builds"));

  rec.hdr = header(200, 0);
  auto unknown = decoder.decode(bytes_of(rec), out);
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message(), HasSubstr("unknown kind 200"));

  bt_memory_record mem{};
  mem.hdr = header(BT_REC_MEMORY, 17);
  EXPECT_FALSE(decoder.decode(bytes_of(mem), out));
  EXPECT_FALSE(decoder.decode(std::span<const std::byte>(), out));

  EXPECT_TRUE(out.empty());
  EXPECT_EQ(decoder.stats().malformed, 5u);
  EXPECT_EQ(decoder.stats().records, 5u);
}

}  // namespace
}  // namespace otlp::ebpf
