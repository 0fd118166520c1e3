#include "core/tape/format.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace otlp::ebpf::tape {
namespace {

// Slice-by-8 tables for the reflected Castagnoli polynomial, built at compile time.
struct Crc32cTables {
  uint32_t t[8][256];
  constexpr Crc32cTables() : t{} {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? 0x82F63B78u : 0u);
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
  }
};
constexpr Crc32cTables kCrc;

uint32_t crc32c_table(const uint8_t* p, size_t n, uint32_t crc) {
  while (n >= 8) {
    uint64_t word = get_u64(p) ^ crc;
    crc = kCrc.t[7][word & 0xff] ^ kCrc.t[6][(word >> 8) & 0xff] ^
          kCrc.t[5][(word >> 16) & 0xff] ^ kCrc.t[4][(word >> 24) & 0xff] ^
          kCrc.t[3][(word >> 32) & 0xff] ^ kCrc.t[2][(word >> 40) & 0xff] ^
          kCrc.t[1][(word >> 48) & 0xff] ^ kCrc.t[0][word >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ kCrc.t[0][(crc ^ *p++) & 0xff];
  return crc;
}

#if defined(__x86_64__)
// SSE4.2's crc32 instruction computes exactly this polynomial, 8 bytes per instruction: the
// checksum of every frame read or written costs ~0.2 instructions per byte instead of ~4.
[[gnu::target("sse4.2")]] uint32_t crc32c_sse42(const uint8_t* p, size_t n, uint32_t crc) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) c = _mm_crc32_u64(c, get_u64(p));
  crc = static_cast<uint32_t>(c);
  for (; n > 0; --n) crc = _mm_crc32_u8(crc, *p++);
  return crc;
}
bool have_sse42() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return have;
}
#endif

}  // namespace

uint32_t crc32c(std::span<const uint8_t> bytes, uint32_t crc) {
#if defined(__x86_64__)
  if (have_sse42()) return ~crc32c_sse42(bytes.data(), bytes.size(), ~crc);
#endif
  return ~crc32c_table(bytes.data(), bytes.size(), ~crc);
}

std::string_view frame_type_name(uint8_t type) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::Metadata: return "metadata";
    case FrameType::Interned: return "interned";
    case FrameType::Events: return "events";
    case FrameType::Processes: return "processes";
    case FrameType::Symbols: return "symbols";
    case FrameType::BpfStats: return "bpf-stats";
    case FrameType::Index: return "index";
  }
  return "unknown";
}

std::array<uint8_t, kFileHeaderSize> encode_file_header(const FileHeader& header) {
  std::array<uint8_t, kFileHeaderSize> out{};
  std::memcpy(out.data(), kFileMagic.data(), kFileMagic.size());
  put_u16(out.data() + 8, header.major);
  put_u16(out.data() + 10, header.minor);
  put_u32(out.data() + 12, kFileHeaderSize);
  put_u32(out.data() + 16, header.max_frame_bytes);
  put_u32(out.data() + 28, crc32c(std::span(out.data(), 28)));
  return out;
}

std::array<uint8_t, kFrameHeaderSize> encode_frame_header(uint8_t type, uint32_t stored_size,
                                                          uint32_t raw_size,
                                                          std::span<const uint8_t> stored) {
  std::array<uint8_t, kFrameHeaderSize> out{};
  std::memcpy(out.data(), kFrameMagic.data(), kFrameMagic.size());
  out[4] = type;
  out[5] = kEncodingZstd;
  put_u32(out.data() + 8, stored_size);
  put_u32(out.data() + 12, raw_size);
  put_u32(out.data() + 16, crc32c(stored, crc32c(std::span(out.data(), 16))));
  return out;
}

}  // namespace otlp::ebpf::tape
