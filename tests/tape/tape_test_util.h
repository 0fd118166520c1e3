// Helpers shared by the tape tests, benchmarks and fuzz-seed generator: realistic synthetic
// streams (seeded, deterministic), an in-memory ByteSink, and a temp directory.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/intern_table.h"
#include "core/tape/reader.h"
#include "core/tape/writer.h"
#include "tests/temp_dir.h"

namespace otlp::ebpf::tape::testing {

// `dd if=/dev/zero of=/dev/null bs=1`: alternating read(0)/write(1) returning 1, one thread,
// occasional CPU migration; durations and gaps ~N(300 ns, 50 ns) like the real thing.
inline std::vector<EbpfEvent> syscall_storm(size_t count, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> jitter(300.0, 50.0);
  auto ns = [&] { return static_cast<uint64_t>(std::max(50.0, std::round(jitter(rng)))); };
  std::vector<EbpfEvent> out;
  out.reserve(count);
  uint64_t ts = 1'000'000'000;
  uint16_t cpu = 1;
  for (size_t i = 0; i < count; ++i) {
    if (rng() % 100000 == 0) cpu ^= 1;  // migrations are rare
    uint64_t duration = ns();
    out.push_back(EbpfEvent::syscall_event(ts, 4242, 4242, cpu,
                                           SyscallData{static_cast<uint32_t>(i & 1), 0, 1,
                                                       duration}));
    ts += duration + ns();
  }
  return out;
}

// A mix of every payload kind over a few processes and CPUs, with interned stacks and strings.
inline std::vector<EbpfEvent> mixed_stream(size_t count, InternTable* interns, uint64_t seed = 2) {
  std::mt19937_64 rng(seed);
  std::vector<StackId> stacks;
  for (int s = 0; s < 200; ++s) {
    std::vector<uint64_t> frames(3 + rng() % 20);
    for (auto& f : frames) f = 0x400000 + (rng() % 4096) * 16;
    stacks.push_back(interns->intern_stack(frames));
  }
  std::vector<StringId> comms;
  for (const char* c : {"nginx", "postgres", "bash", "python3", "node"}) {
    comms.push_back(interns->intern_string(c));
  }
  SocketEndpoints ep;
  ep.family = SocketEndpoints::kInet;
  ep.local = {10, 0, 0, 1};
  ep.remote = {10, 0, 0, 2};
  auto ep_blob = ep.encode();
  StringId endpoints = interns->intern_string(std::string_view(ep_blob.data(), ep_blob.size()));
  std::vector<EbpfEvent> out;
  out.reserve(count);
  uint64_t ts = 5'000'000'000;
  uint64_t heap = 0x55550000'0000;
  for (size_t i = 0; i < count; ++i) {
    ts += 200 + rng() % 2000;
    uint32_t pid = 1000 + static_cast<uint32_t>(rng() % 5);
    uint32_t tid = pid + static_cast<uint32_t>(rng() % 3);
    uint16_t cpu = static_cast<uint16_t>(rng() % 4);
    switch (rng() % 10) {
      case 0:
      case 1:
        out.push_back(EbpfEvent::cpu_sample(ts, pid, tid, cpu,
                                            {stacks[rng() % stacks.size()],
                                             (rng() & 1) ? stacks[rng() % stacks.size()] : 0}));
        break;
      case 2: {
        uint64_t size = 16 << (rng() % 8);
        heap += size + 16;
        out.push_back(EbpfEvent::memory_event(EbpfEventType::MemoryAlloc, ts, pid, tid, cpu,
                                              {heap, size, 0, stacks[rng() % stacks.size()],
                                               MemoryOp::Malloc, {}}));
        break;
      }
      case 3:
        out.push_back(EbpfEvent::memory_event(EbpfEventType::MemoryFree, ts, pid, tid, cpu,
                                              {heap - (rng() % 64) * 32, 0, 0, 0, MemoryOp::Free,
                                               {}}));
        break;
      case 4: {
        NetworkData n{};
        n.socket_id = 0xffff888000000000ULL + (rng() % 16) * 0x100;
        n.bytes = static_cast<uint32_t>(rng() % 1500);
        n.endpoints = endpoints;
        n.local_port = 443;
        n.remote_port = static_cast<uint16_t>(40000 + rng() % 100);
        n.protocol = NetProtocol::Tcp;
        n.direction = (rng() & 1) ? NetDirection::Send : NetDirection::Receive;
        out.push_back(EbpfEvent::network_event(EbpfEventType::NetworkPacket, ts, pid, tid, cpu, n));
        break;
      }
      case 5:
        if (rng() % 20 == 0) {
          out.push_back(EbpfEvent::process_event(EbpfEventType::ProcessExec, ts, pid, pid, cpu,
                                                 {1, 0, 0, comms[rng() % comms.size()], 0}));
          break;
        }
        [[fallthrough]];
      default: {
        uint32_t nr = static_cast<uint32_t>(rng() % 300);
        int64_t ret = (rng() % 10 == 0) ? -11 : static_cast<int64_t>(rng() % 4096);
        out.push_back(EbpfEvent::syscall_event(ts, pid, tid, cpu,
                                               {nr, 0, ret, 100 + rng() % 5000}));
        break;
      }
    }
  }
  return out;
}

inline TapeMetadata test_metadata() {
  TapeMetadata m;
  m.tool_version = "test";
  m.hostname = "testhost";
  m.kernel_release = "6.1.0-test";
  m.boot_id = "00000000-1111-2222-3333-444444444444";
  m.cpu_count = 4;
  m.page_size = 4096;
  m.clock = {1'000'000'000, 1'700'000'000'000'000'000ULL};
  m.config = EbpfConfig{}.with_syscall_tracing(true);
  m.probes = {{"sys_exit", "raw_tracepoint", "sys_exit"}};
  m.recording_id = "test-recording";
  m.command = {"dd", "if=/dev/zero", "of=/dev/null", "bs=1"};
  return m;
}

// Writes `batches` to an in-memory tape.
inline std::vector<uint8_t> write_memory_tape(const std::vector<EventBatch>& batches,
                                              const InternTable& interns,
                                              WriterOptions options = {}, bool close = true) {
  std::vector<uint8_t> bytes;
  auto writer = TapeWriter::create(std::make_unique<MemorySink>(&bytes), test_metadata(),
                                   interns, options);
  if (!writer) throw std::runtime_error(writer.error().to_string());
  for (const auto& b : batches) {
    if (auto r = (*writer)->append(b); !r) throw std::runtime_error(r.error().to_string());
  }
  if (close) {
    if (auto r = (*writer)->close(); !r) throw std::runtime_error(r.error().to_string());
  } else {
    if (auto r = (*writer)->flush(); !r) throw std::runtime_error(r.error().to_string());
  }
  return bytes;
}

// Reads every batch; stops at the first error (returned in *error).
inline std::vector<EventBatch> read_all(TapeReader& reader, std::optional<EbpfError>* error) {
  std::vector<EventBatch> out;
  EventBatch batch;
  while (true) {
    auto more = reader.next(&batch);
    if (!more) {
      if (error) *error = more.error();
      break;
    }
    if (!*more) break;
    out.push_back(std::move(batch));
  }
  return out;
}

inline std::vector<EbpfEvent> flatten(const std::vector<EventBatch>& batches) {
  std::vector<EbpfEvent> out;
  for (const auto& b : batches) out.insert(out.end(), b.events.begin(), b.events.end());
  return out;
}


using otlp::ebpf::testing::TempDir;

}  // namespace otlp::ebpf::tape::testing
