// A small hand-built recording shared by the OTLP tests: an nginx server (pid 100) accepting
// a connection and answering GET /api/items with 200, a curl client (pid 200) whose POST /x
// gets a 503, syscalls, allocations and CPU samples. Every number is chosen so the expected
// OTLP values can be written down by hand.
#pragma once

#include <string>
#include <vector>

#include "core/event.h"
#include "core/intern_table.h"
#include "core/otlp/converter.h"
#include "core/process_table.h"
#include "core/tracers/cpu_aggregator.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/network_aggregator.h"
#include "core/tracers/syscall_aggregator.h"

namespace otlp::ebpf::testing {

// Monotonic 1'000'000'000 ns <-> Unix 1'700'000'000'000'000'000 ns.
inline constexpr uint64_t kMonoBase = 1'000'000'000;
inline constexpr uint64_t kUnixBase = 1'700'000'000'000'000'000;
inline uint64_t unix_at(uint64_t mono) { return kUnixBase + (mono - kMonoBase); }

struct Scenario {
  InternTable interned;
  ProcessTable processes;
  NetworkAggregator network;
  SyscallAggregator syscalls;
  MemoryAggregator memory;
  CpuAggregator cpu;
  std::vector<EbpfEvent> events;
  RecordingContext recording;

  Scenario();
  void feed() {
    network.consume(events, interned);
    syscalls.consume(events, interned);
    memory.consume(events, interned);
    cpu.consume(events, interned);
  }
  AggregatorResults results() const {
    return AggregatorResults{&processes, &network, &syscalls, &memory, &cpu};
  }
  // A converter with resource (host "web-1"), recording, tracer and meter.
  EbpfOtlpConverter converter(ResourceConfig resource = {.host_name = "web-1"}) const;

  EbpfEvent net(EbpfEventType type, uint64_t ts, uint32_t pid, uint64_t sock, bool server,
                NetDirection dir = NetDirection::None, uint32_t bytes = 0,
                std::string_view payload = {}, uint64_t duration = 0);
};

}  // namespace otlp::ebpf::testing
