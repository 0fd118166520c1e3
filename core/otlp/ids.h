// Deterministic OTLP trace and span ids. OpenTelemetry SDKs draw ids at random; a replay must
// give the same ids every time, so bpftape derives them from the recording id (bytes the
// recorder chose once, stored in the tape) and the identity of what the span describes:
// SHA-256 over a domain tag + recording id + fields, truncated. Collisions need a SHA-256
// collision on the truncated value: 2^-64 per pair for trace ids.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace otlp::ebpf {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

struct ConnectionIds {
  TraceId trace_id;
  SpanId span_id;
};

// A TCP connection's span: one trace per connection (its requests are children).
ConnectionIds connection_ids(std::string_view recording_id, uint64_t socket_id, uint64_t open_ns);
// The span of the `ordinal`-th request (0-based, in aggregator order) on a connection.
SpanId request_span_id(std::string_view recording_id, uint64_t socket_id, uint64_t open_ns,
                       uint64_t request_start_ns, uint64_t ordinal);
// A profile's 16-byte id: one per process per recording.
TraceId profile_id(std::string_view recording_id, uint32_t pid, uint64_t start_ns);

// Lower-case hex, the OTLP/JSON spelling of ids.
std::string to_hex(std::string_view bytes);
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& id) {
  return to_hex(std::string_view(reinterpret_cast<const char*>(id.data()), N));
}
template <size_t N>
std::string id_bytes(const std::array<uint8_t, N>& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), N);
}

}  // namespace otlp::ebpf
