#include "core/otlp/ids.h"

#include <algorithm>

#include "core/sha256.h"

namespace otlp::ebpf {
namespace {

// Every hash starts with a distinct tag (NUL-terminated) and the length-prefixed recording
// id, so no two kinds of id, and no two recordings, can feed the same bytes to SHA-256.
Sha256 seeded(std::string_view tag, std::string_view recording_id) {
  Sha256 h;
  h.update(tag);
  h.update("\0", 1);
  h.update_u64(recording_id.size());
  h.update(recording_id);
  return h;
}

// OTLP treats all-zero ids as invalid; a digest prefix of zeros is astronomically unlikely,
// but the output must never be invalid, so force one bit.
template <size_t N>
std::array<uint8_t, N> take(const Sha256::Digest& d, size_t offset) {
  std::array<uint8_t, N> id;
  std::copy_n(d.begin() + offset, N, id.begin());
  if (std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; })) id[N - 1] = 1;
  return id;
}

}  // namespace

ConnectionIds connection_ids(std::string_view recording_id, uint64_t socket_id, uint64_t open_ns) {
  Sha256 h = seeded("bpftape.connection", recording_id);
  h.update_u64(socket_id);
  h.update_u64(open_ns);
  Sha256::Digest d = h.finish();
  return {take<16>(d, 0), take<8>(d, 16)};
}

SpanId request_span_id(std::string_view recording_id, uint64_t socket_id, uint64_t open_ns,
                       uint64_t request_start_ns, uint64_t ordinal) {
  Sha256 h = seeded("bpftape.http_request", recording_id);
  h.update_u64(socket_id);
  h.update_u64(open_ns);
  h.update_u64(request_start_ns);
  h.update_u64(ordinal);
  return take<8>(h.finish(), 0);
}

TraceId profile_id(std::string_view recording_id, uint32_t pid, uint64_t start_ns) {
  Sha256 h = seeded("bpftape.profile", recording_id);
  h.update_u64(pid);
  h.update_u64(start_ns);
  return take<16>(h.finish(), 0);
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto b = static_cast<uint8_t>(c);
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace otlp::ebpf
