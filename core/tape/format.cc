#include "core/tape/format.h"

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

}  // namespace

uint32_t crc32c(std::span<const uint8_t> bytes, uint32_t crc) {
  crc = ~crc;
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
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
  return ~crc;
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
