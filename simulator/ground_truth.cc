#include "simulator/ground_truth.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/payload_fields.h"

namespace bpftape::sim {

using otlp::ebpf::EbpfEventType;
using otlp::ebpf::MemoryOp;
using otlp::ebpf::NetDirection;
using otlp::ebpf::PayloadKind;
using otlp::ebpf::PayloadField;
using otlp::ebpf::kPayloadLayouts;

namespace {

uint64_t mix(uint64_t h) {  // splitmix64 finaliser
  h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
  h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

}  // namespace

void MultisetDigest::add(const EbpfEvent& event) {
  uint64_t words[sizeof(EbpfEvent) / 8];
  std::memcpy(words, &event, sizeof(event));
  uint64_t a = 0x243F6A8885A308D3ull, b = 0x13198A2E03707344ull;
  for (uint64_t w : words) {
    a = mix(a ^ w);
    b = mix(b + w * 0x9E3779B97F4A7C15ull);
  }
  ++count;
  sum += a;
  sum_sq += b;
}

namespace {

// Index of each kind's first field in FieldDigests::sums_ (after the header's).
constexpr std::array<size_t, otlp::ebpf::kPayloadKindCount + 1> kFieldBase = [] {
  std::array<size_t, otlp::ebpf::kPayloadKindCount + 1> base{};
  base[0] = 1;
  for (size_t k = 0; k < otlp::ebpf::kPayloadKindCount; ++k) {
    base[k + 1] = base[k] + kPayloadLayouts[k].fields.size();
  }
  return base;
}();

}  // namespace

FieldDigests::FieldDigests() : sums_(kFieldBase.back()) {}

void FieldDigests::add(const EbpfEvent& e) {
  const uint64_t type = static_cast<uint64_t>(e.event_type) << 56;
  auto add_value = [&](Sums& s, uint64_t salt, uint64_t value) {
    s.sum += mix(mix(type ^ salt) ^ value);
    s.sum_sq += mix(mix(type + salt) + value * 0x9E3779B97F4A7C15ull);
  };
  uint64_t header[3];
  std::memcpy(header, &e, sizeof(header));  // timestamp, pid/tid, cpu/type/flags/reserved
  add_value(sums_[0], 0, mix(header[0]) ^ mix(header[1] + 1) ^ mix(header[2] + 2));
  if (!otlp::ebpf::is_known_event_type(static_cast<uint8_t>(e.event_type))) return;
  const auto kind = static_cast<size_t>(otlp::ebpf::payload_kind(e.event_type));
  const auto& fields = kPayloadLayouts[kind].fields;
  for (size_t i = 0; i < fields.size(); ++i) {
    add_value(sums_[kFieldBase[kind] + i], i + 1, otlp::ebpf::field_bits(e, fields[i]));
  }
}

std::vector<std::string> FieldDigests::differing(const FieldDigests& other) const {
  std::vector<std::string> names;
  if (!(sums_[0] == other.sums_[0])) names.emplace_back("header");
  for (size_t k = 0; k < otlp::ebpf::kPayloadKindCount; ++k) {
    const auto& fields = kPayloadLayouts[k].fields;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (!(sums_[kFieldBase[k] + i] == other.sums_[kFieldBase[k] + i])) {
        names.push_back(fmt::format("{}.{}", kPayloadLayouts[k].name, fields[i].name));
      }
    }
  }
  return names;
}

std::string GroundTruth::output_field_differences() const {
  const auto names = output_fields_.differing(delivered_fields_);
  if (names.empty()) return {};
  return fmt::format(", fields that differ: {}", fmt::join(names, ", "));
}

void GroundTruth::on_dropped(const EbpfEvent& e) {
  ++emitted_;
  ++dropped_;
  ++dropped_by_cpu_[e.cpu];
}

void GroundTruth::on_delivered(const EbpfEvent& e, const otlp::ebpf::InternTable&) {
  ++emitted_;
  ++delivered_;
  ++delivered_by_type_[static_cast<size_t>(e.event_type)];
  delivered_digest_.add(e);
  delivered_fields_.add(e);
}

void GroundTruth::consume(std::span<const EbpfEvent> events,
                          const otlp::ebpf::InternTable& interned) {
  for (const auto& e : events) {
    output_digest_.add(e);
    output_fields_.add(e);
    ++output_by_type_[static_cast<size_t>(e.event_type)];
    if (e.timestamp_ns < output_max_ts_) ++output_inversions_;
    output_max_ts_ = std::max(output_max_ts_, e.timestamp_ns);
    switch (payload_kind(e.event_type)) {
    case PayloadKind::Syscall: {
      auto& s = syscalls_[e.payload.syscall.nr];
      ++s.count;
      s.duration_sum += e.payload.syscall.duration_ns;
      if (e.payload.syscall.ret < 0 && e.payload.syscall.ret >= -4095) ++s.errors;
      break;
    }
    case PayloadKind::Memory: on_memory(e); break;
    case PayloadKind::Network: on_network(e, interned); break;
    case PayloadKind::CpuSample:
      ++cpu_samples_[{e.pid, e.payload.cpu_sample.user_stack, e.payload.cpu_sample.kernel_stack}];
      break;
    case PayloadKind::Process: break;
    }
  }
}

void GroundTruth::on_memory(const EbpfEvent& e) {
  const auto& m = e.payload.memory;
  auto release = [&](uint64_t address) {
    if (address == 0) return;
    auto it = live_.find({e.pid, address});
    if (it == live_.end()) {
      ++memory_.unmatched_frees;
      return;
    }
    ++memory_.frees;
    memory_.total_freed += it->second.size;
    memory_.active_bytes -= it->second.size;
    live_.erase(it);
  };
  if (e.event_type == EbpfEventType::MemoryFree) {
    release(m.address);
    return;
  }
  if (m.op == MemoryOp::Realloc) release(m.old_address);
  if (m.address == 0) return;
  ++memory_.allocations;
  memory_.total_allocated += m.size;
  auto key = std::make_pair(e.pid, m.address);
  if (auto it = live_.find(key); it != live_.end()) {
    // Allocated again without a delivered free: the earlier block is gone.
    ++memory_.unmatched_frees;
    memory_.total_freed += it->second.size;
    memory_.active_bytes -= it->second.size;
    live_.erase(it);
  }
  live_[key] = LiveBlock{m.size, m.stack};
  memory_.active_bytes += m.size;
}

const std::map<std::pair<uint32_t, uint32_t>, uint64_t>& GroundTruth::outstanding() const {
  outstanding_.clear();
  for (const auto& [key, block] : live_) outstanding_[{key.first, block.stack}] += block.size;
  return outstanding_;
}

void GroundTruth::on_network(const EbpfEvent& e, const otlp::ebpf::InternTable& interned) {
  const auto& n = e.payload.network;
  switch (e.event_type) {
    case EbpfEventType::TcpAccept:
    case EbpfEventType::TcpConnect: ++network_.tcp_connections; break;
    case EbpfEventType::TcpClose:
      ++network_.closed;
      pending_.erase(n.socket_id);
      break;
    case EbpfEventType::NetworkPacket:
      ++network_.packets;
      (n.direction == NetDirection::Send ? network_.bytes_sent : network_.bytes_received) += n.bytes;
      break;
    case EbpfEventType::NetworkPayload: {
      // The simulator writes exactly "METHOD PATH HTTP/1.1..." or "HTTP/1.1 NNN ...".
      std::string_view text = interned.string(n.payload);
      if (text.starts_with("HTTP/1.1 ")) {
        auto& queue = pending_[n.socket_id];
        if (queue.empty()) break;
        int status = std::stoi(std::string(text.substr(9, 3)));
        auto [method, path] = queue.front();
        queue.pop_front();
        ++network_.answered[{method, path, status}];
      } else {
        size_t sp1 = text.find(' ');
        size_t sp2 = text.find(' ', sp1 + 1);
        pending_[n.socket_id].emplace_back(std::string(text.substr(0, sp1)),
                                           std::string(text.substr(sp1 + 1, sp2 - sp1 - 1)));
        ++network_.http_requests;
      }
      break;
    }
    default: break;
  }
}

}  // namespace bpftape::sim
