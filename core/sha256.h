// SHA-256 (FIPS 180-4), small and self-contained: OTLP trace/span ids are derived from it, and
// the replayer's --digest reuses it. Not constant-time and not for secrets: it hashes
// recordings and ids, never keys. Part of bpftape_core.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace otlp::ebpf {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256() { reset(); }
  void reset();
  // Feeds bytes; may be called any number of times before finish().
  void update(const void* data, size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // Feeds an integer as 8 little-endian bytes (fixed width, so field boundaries are unambiguous).
  void update_u64(uint64_t value);
  // Pads, returns the digest and resets, so the object can hash again.
  Digest finish();

  static Digest hash(std::string_view bytes);
  // Lower-case hex of a digest (64 characters).
  static std::string hex(const Digest& digest);

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace otlp::ebpf
