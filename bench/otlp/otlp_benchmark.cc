// OTLP conversion throughput on fixed inputs: spans/s and metric points/s from aggregations,
// plus the encodings (protobuf, OTLP/JSON, gzip pprof). Inputs are generated from constants,
// so runs compare.
//
//   ninja -C build-otlp otlp_benchmark && build-otlp/bench/otlp_benchmark
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/otlp/converter.h"
#include "core/otlp/otlp_json.h"
#include "core/otlp/pprof.h"

namespace otlp::ebpf {
namespace {

// 2000 server connections, each with one HTTP request answered (4000 spans), spread over 50
// processes; 50 processes x 40 syscalls with latencies; 20k CPU samples over 500 stacks.
struct Fixture {
  InternTable interned;
  ProcessTable processes;
  NetworkAggregator network;
  SyscallAggregator syscalls;
  MemoryAggregator memory;
  CpuAggregator cpu;
  RecordingContext recording{"bench-recording", {1'000'000'000, 1'700'000'000'000'000'000},
                             1'000'000'000, 9'000'000'000};

  Fixture() {
    std::vector<EbpfEvent> events;
    SocketEndpoints ep;
    ep.family = SocketEndpoints::kInet;
    ep.local = {10, 0, 0, 1};
    ep.remote = {10, 0, 0, 2};
    auto enc = ep.encode();
    StringId endpoints = interned.intern_string(std::string_view(enc.data(), enc.size()));
    StringId get = interned.intern_string("GET /api/v1/items HTTP/1.1\r\n");
    StringId ok = interned.intern_string("HTTP/1.1 200 OK\r\n");
    for (uint32_t pid = 1000; pid < 1050; ++pid) {
      processes.upsert({.pid = pid, .ppid = 1, .comm = "worker", .exe = "/usr/bin/worker",
                        .cmdline = {"worker", "--id", std::to_string(pid)}});
    }
    uint64_t ts = 1'000'000'100;
    for (uint64_t i = 0; i < 2000; ++i) {
      uint32_t pid = 1000 + static_cast<uint32_t>(i % 50);
      NetworkData n{};
      n.socket_id = 0x1000 + i;
      n.endpoints = endpoints;
      n.local_port = 80;
      n.remote_port = static_cast<uint16_t>(30000 + i);
      n.protocol = NetProtocol::Tcp;
      events.push_back(EbpfEvent::network_event(EbpfEventType::TcpAccept, ts += 1000, pid, pid, 0, n));
      n.direction = NetDirection::Receive;
      n.payload = get;
      n.bytes = 200;
      events.push_back(EbpfEvent::network_event(EbpfEventType::NetworkPayload, ts += 1000, pid, pid, 0, n));
      n.direction = NetDirection::Send;
      n.payload = ok;
      n.bytes = 1500;
      events.push_back(EbpfEvent::network_event(EbpfEventType::NetworkPayload, ts += 50'000, pid, pid, 0, n));
      events.push_back(EbpfEvent::network_event(EbpfEventType::NetworkPacket, ts, pid, pid, 0, n));
      n.payload = kNoId;
      events.push_back(EbpfEvent::network_event(EbpfEventType::TcpClose, ts += 1000, pid, pid, 0, n));
    }
    for (uint32_t pid = 1000; pid < 1050; ++pid) {
      for (uint32_t nr = 0; nr < 40; ++nr) {
        for (uint64_t k = 0; k < 20; ++k) {
          events.push_back(EbpfEvent::syscall_event(ts += 10, pid, pid, 0,
                                                    {nr, 0, k % 7 ? 0 : -11, 100 + k * k * 37 + nr}));
        }
      }
    }
    std::vector<StackId> stacks;
    for (uint64_t s = 0; s < 500; ++s) {
      std::vector<uint64_t> frames;
      for (uint64_t d = 0; d < 16; ++d) frames.push_back(0x400000 + (s * 7 + d * 131) % 4096 * 16);
      stacks.push_back(interned.intern_stack(frames));
    }
    for (uint64_t i = 0; i < 20'000; ++i) {
      events.push_back(EbpfEvent::cpu_sample(ts += 10, 1000 + static_cast<uint32_t>(i % 50), 1, 0,
                                             {stacks[(i * 31) % stacks.size()], kNoId}));
    }
    network.consume(events, interned);
    syscalls.consume(events, interned);
    memory.consume(events, interned);
    cpu.consume(events, interned);
  }
  AggregatorResults results() const { return {&processes, &network, &syscalls, &memory, &cpu}; }
  EbpfOtlpConverter converter() const {
    EbpfOtlpConverter c;
    c.with_resource({.host_name = "bench"}).with_recording(recording).with_tracer().with_meter();
    return c;
  }
};

const Fixture& fixture() {
  static const Fixture f;  // built once, outside the timed loops
  return f;
}

void BM_ConvertTraces(benchmark::State& state) {
  const Fixture& f = fixture();
  EbpfOtlpConverter c = f.converter();
  uint64_t spans = 0;
  for (auto _ : state) {
    auto t = c.convert_traces(f.results());
    spans += count_items(*t).spans;
    benchmark::DoNotOptimize(t);
  }
  state.counters["spans/s"] = benchmark::Counter(static_cast<double>(spans), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ConvertTraces)->Unit(benchmark::kMillisecond);

// The arena variant: the whole message tree is allocated from, and freed with, one arena.
void BM_ConvertTracesArena(benchmark::State& state) {
  const Fixture& f = fixture();
  EbpfOtlpConverter c = f.converter();
  uint64_t spans = 0;
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto t = c.convert_traces(f.results(), &arena);
    spans += count_items(**t).spans;
    benchmark::DoNotOptimize(t);
  }
  state.counters["spans/s"] = benchmark::Counter(static_cast<double>(spans), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ConvertTracesArena)->Unit(benchmark::kMillisecond);

void BM_ConvertMetricsArena(benchmark::State& state) {
  const Fixture& f = fixture();
  EbpfOtlpConverter c = f.converter();
  uint64_t points = 0;
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto m = c.convert_metrics(f.results(), &arena);
    points += count_items(**m).metric_points;
    benchmark::DoNotOptimize(m);
  }
  state.counters["points/s"] = benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ConvertMetricsArena)->Unit(benchmark::kMillisecond);

void BM_ConvertMetrics(benchmark::State& state) {
  const Fixture& f = fixture();
  EbpfOtlpConverter c = f.converter();
  uint64_t points = 0;
  for (auto _ : state) {
    auto m = c.convert_metrics(f.results());
    points += count_items(*m).metric_points;
    benchmark::DoNotOptimize(m);
  }
  state.counters["points/s"] = benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ConvertMetrics)->Unit(benchmark::kMillisecond);

void BM_TracesToProtobuf(benchmark::State& state) {
  const Fixture& f = fixture();
  auto t = f.converter().convert_traces(f.results());
  uint64_t spans = count_items(*t).spans, bytes = 0, total = 0;
  for (auto _ : state) {
    std::string wire = serialize_deterministic(*t);
    bytes += wire.size();
    total += spans;
    benchmark::DoNotOptimize(wire);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["spans/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TracesToProtobuf)->Unit(benchmark::kMillisecond);

void BM_TracesToOtlpJson(benchmark::State& state) {
  const Fixture& f = fixture();
  auto t = f.converter().convert_traces(f.results());
  uint64_t spans = count_items(*t).spans, bytes = 0, total = 0;
  for (auto _ : state) {
    std::string json = to_otlp_json(*t);
    bytes += json.size();
    total += spans;
    benchmark::DoNotOptimize(json);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["spans/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TracesToOtlpJson)->Unit(benchmark::kMillisecond);

void BM_MetricsToOtlpJson(benchmark::State& state) {
  const Fixture& f = fixture();
  auto m = f.converter().convert_metrics(f.results());
  uint64_t points = count_items(*m).metric_points, total = 0;
  for (auto _ : state) {
    std::string json = to_otlp_json(*m);
    total += points;
    benchmark::DoNotOptimize(json);
  }
  state.counters["points/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MetricsToOtlpJson)->Unit(benchmark::kMillisecond);

void BM_ProfileToPprofGzip(benchmark::State& state) {
  const Fixture& f = fixture();
  EbpfOtlpConverter c = f.converter();
  uint64_t samples = 0;
  for (auto _ : state) {
    auto p = c.convert_profile_to_otlp(f.cpu, f.interned, &f.processes, {});
    auto gz = pprof_gzip(p->pprof);
    samples += p->samples;
    benchmark::DoNotOptimize(gz);
  }
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ProfileToPprofGzip)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace otlp::ebpf
