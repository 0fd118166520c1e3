#include "testing/generators.h"

#include <algorithm>
#include <utility>

namespace bpftape::testing {

using otlp::ebpf::EbpfEvent;
using otlp::ebpf::EbpfEventType;

namespace {

std::vector<EbpfEventType> all_types_if_empty(std::vector<EbpfEventType> types) {
  if (!types.empty()) return types;
  for (size_t t = 0; t < otlp::ebpf::kEventTypeCount; ++t) {
    types.push_back(static_cast<EbpfEventType>(t));
  }
  return types;
}

// Drawn inside rc::gen::exec. The timestamp is the caller's.
EbpfEvent draw_valid_event(EbpfEventType type, uint64_t ts) {
  using namespace otlp::ebpf;
  const uint32_t pid = *rc::gen::element<uint32_t>(0, 1, 2, 3, 4242);
  const uint32_t tid = pid == 0 ? 0 : pid + *rc::gen::inRange<uint32_t>(0, 3);
  const auto cpu = *rc::gen::inRange<uint16_t>(0, 4);
  auto slot_address = [] { return *rc::gen::inRange<uint64_t>(1, 17) * 16; };
  switch (payload_kind(type)) {
    case PayloadKind::CpuSample:
      return EbpfEvent::cpu_sample(ts, pid, tid, cpu, CpuSampleData{kNoId, kNoId});
    case PayloadKind::Syscall: {
      const uint32_t nr = *rc::gen::weightedOneOf<uint32_t>(
          {{9, rc::gen::inRange<uint32_t>(0, 20)}, {1, rc::gen::inRange<uint32_t>(0, kMaxSyscallNr + 1)}});
      // Successes, errno failures (-4095..-1) and large non-error returns (mmap addresses).
      const int64_t ret = *rc::gen::weightedOneOf<int64_t>(
          {{6, rc::gen::inRange<int64_t>(0, 4096)},
           {3, rc::gen::inRange<int64_t>(-4095, 0)},
           {1, rc::gen::element<int64_t>(-4096, int64_t{1} << 40)}});
      return EbpfEvent::syscall_event(
          ts, pid, tid, cpu,
          SyscallData{.nr = nr, .ret = ret, .duration_ns = *rc::gen::inRange<uint64_t>(0, 100'000)});
    }
    case PayloadKind::Memory: {
      if (type == EbpfEventType::MemoryFree) {
        return EbpfEvent::memory_event(
            type, ts, pid, tid, cpu,
            MemoryData{.address = slot_address(),
                       .op = *rc::gen::element(MemoryOp::Free, MemoryOp::Munmap)});
      }
      const MemoryOp op =
          *rc::gen::element(MemoryOp::Malloc, MemoryOp::Calloc, MemoryOp::Realloc, MemoryOp::Mmap);
      return EbpfEvent::memory_event(
          type, ts, pid, tid, cpu,
          MemoryData{.address = slot_address(),
                     .size = *rc::gen::inRange<uint64_t>(0, 4096),
                     .old_address = op == MemoryOp::Realloc && *rc::gen::arbitrary<bool>() ? slot_address() : 0,
                     .op = op});
    }
    case PayloadKind::Process:
      return EbpfEvent::process_event(
          type, ts, pid, tid, cpu,
          ProcessData{.parent_pid = 1,
                      .child_pid = type == EbpfEventType::ProcessFork ? *rc::gen::inRange<uint32_t>(5, 100) : 0,
                      .exit_code = type == EbpfEventType::ProcessExit ? *rc::gen::inRange<int32_t>(0, 256) : 0});
    case PayloadKind::Network: {
      const auto protocol = *rc::gen::element(NetProtocol::Tcp, NetProtocol::Udp, NetProtocol::Unknown);
      const auto direction = *rc::gen::element(NetDirection::Send, NetDirection::Receive, NetDirection::None);
      return EbpfEvent::network_event(
          type, ts, pid, tid, cpu,
          NetworkData{.socket_id = *rc::gen::inRange<uint64_t>(1, 9),
                      .duration_ns = type == EbpfEventType::TcpClose ? *rc::gen::inRange<uint64_t>(0, 1'000'000) : 0,
                      .bytes = *rc::gen::inRange<uint32_t>(0, 1500),
                      .local_port = *rc::gen::inRange<uint16_t>(1, 65535),
                      .remote_port = *rc::gen::inRange<uint16_t>(1, 65535),
                      .protocol = protocol,
                      .direction = direction});
    }
  }
  return EbpfEvent::make(type, ts, pid, tid, cpu);
}

}  // namespace

rc::Gen<EbpfEvent> valid_event(std::vector<EbpfEventType> types) {
  return rc::gen::exec([types = all_types_if_empty(std::move(types))] {
    return draw_valid_event(*rc::gen::elementOf(types),
                            *rc::gen::inRange<uint64_t>(1, 1'000'001));
  });
}

rc::Gen<std::vector<EbpfEvent>> valid_stream(std::vector<EbpfEventType> types) {
  return rc::gen::exec([types = all_types_if_empty(std::move(types))] {
    // The gaps between events (their count follows RapidCheck's size): some 0, as equal
    // timestamps are common in real streams.
    const auto gaps = *rc::gen::container<std::vector<uint64_t>>(rc::gen::weightedOneOf<uint64_t>(
        {{1, rc::gen::just<uint64_t>(0)}, {3, rc::gen::inRange<uint64_t>(1, 1000)}}));
    std::vector<EbpfEvent> events;
    events.reserve(gaps.size());
    uint64_t ts = 1;
    for (uint64_t gap : gaps) {
      events.push_back(draw_valid_event(*rc::gen::elementOf(types), ts));
      ts += gap;
    }
    return events;
  });
}

rc::Gen<std::vector<std::vector<EbpfEvent>>> batches_of(std::vector<EbpfEvent> events) {
  return rc::gen::exec([events = std::move(events)] {
    std::vector<std::vector<EbpfEvent>> batches;
    size_t i = 0;
    while (i < events.size()) {
      const size_t n = *rc::gen::inRange<size_t>(1, events.size() - i + 1);
      batches.emplace_back(events.begin() + static_cast<std::ptrdiff_t>(i),
                           events.begin() + static_cast<std::ptrdiff_t>(i + n));
      i += n;
    }
    return batches;
  });
}

rc::Gen<otlp::ebpf::EventBatch> valid_batch(std::vector<EbpfEventType> types) {
  return rc::gen::exec([types = std::move(types)] {
    otlp::ebpf::EventBatch batch;
    batch.events = *valid_stream(types);
    const uint64_t last_ts = batch.events.empty() ? 1 : batch.events.back().timestamp_ns;
    const auto losses = *rc::gen::weightedOneOf<size_t>(
        {{3, rc::gen::just<size_t>(0)}, {1, rc::gen::inRange<size_t>(1, 4)}});
    for (size_t i = 0; i < losses; ++i) {
      batch.losses.push_back(otlp::ebpf::LossRecord{
          .timestamp_ns = *rc::gen::inRange<uint64_t>(1, last_ts + 1),
          .cpu = *rc::gen::inRange<uint16_t>(0, 4),
          .count = *rc::gen::inRange<uint64_t>(1, 10'000)});
    }
    return batch;
  });
}

rc::Gen<sim::SimOptions> small_simulation() {
  return rc::gen::exec([] {
    sim::SimOptions options;
    options.seed = *rc::gen::arbitrary<uint64_t>();
    options.workloads = *rc::gen::inRange<uint32_t>(1, sim::kAllWorkloads + 1);
    options.duration_ns = *rc::gen::inRange<uint64_t>(1, 201) * 1'000'000;
    options.cpus = *rc::gen::inRange<uint32_t>(1, 5);
    // A tenth of the defaults: a run is a few thousand events, many runs fit in a test.
    options.web_requests_per_s = 200;
    options.fileio_ops_per_s = 100;
    options.allocations_per_s = 2000;
    options.forks_per_s = 10;
    return options;
  });
}

}  // namespace bpftape::testing
