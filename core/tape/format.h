// The byte layout around the Cap'n Proto messages of a .bpftape file: the fixed file header,
// frame headers, the trailer, the checksum, and the varint/zigzag primitives of the event
// columns. docs/tape.md is the prose version of this file; keep them in step.
//
// All integers are little-endian. Nothing here allocates.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace otlp::ebpf::tape {

// Version of the format. Adding fields or frame types bumps the minor (old readers skip
// them); anything else bumps the major, and readers refuse majors they do not know.
inline constexpr uint16_t kFormatMajor = 1;
// Minor 1: process records carry the cgroup path and container id.
// Minor 2: BPF stats say whether they were sampled, and carry the measured counters.
inline constexpr uint16_t kFormatMinor = 2;

// File header: 32 bytes at offset 0.
//   0  magic "BPFTAPE\0"       16 u32 max_frame_bytes (limit on any frame's raw and stored size)
//   8  u16 major, u16 minor    20 u32 flags (0)   24 u32 reserved (0)
//  12  u32 header size (32)    28 u32 crc32c of bytes 0..27
inline constexpr std::array<char, 8> kFileMagic{'B', 'P', 'F', 'T', 'A', 'P', 'E', '\0'};
inline constexpr size_t kFileHeaderSize = 32;

// Frame header: 20 bytes, followed by `stored_size` bytes of zstd data.
//   0 magic "BTFR"  4 u8 type  5 u8 encoding (1 = zstd)  6 u16 reserved (0)
//   8 u32 stored_size  12 u32 raw_size (Cap'n Proto message bytes)
//  16 u32 crc32c over bytes 0..15 of this header and the stored bytes
inline constexpr std::array<char, 4> kFrameMagic{'B', 'T', 'F', 'R'};
inline constexpr size_t kFrameHeaderSize = 20;
inline constexpr uint8_t kEncodingZstd = 1;

// Trailer: 16 bytes after the index frame: u64 offset of the index frame, magic "BTAPEEND".
// Present only on a tape whose writer closed it.
inline constexpr std::array<char, 8> kTrailerMagic{'B', 'T', 'A', 'P', 'E', 'E', 'N', 'D'};
inline constexpr size_t kTrailerSize = 16;

// Bounds on the header's max_frame_bytes. The upper one caps any allocation a reader makes
// for a frame whatever the file says (readers may set a lower cap, e.g. the fuzzer).
inline constexpr uint32_t kMinFrameLimit = 64 * 1024;
inline constexpr uint32_t kMaxFrameLimit = 256 * 1024 * 1024;

enum class FrameType : uint8_t {
  Metadata = 1,
  Interned = 2,
  Events = 3,
  Processes = 4,
  Symbols = 5,
  BpfStats = 6,
  Index = 7,
};
std::string_view frame_type_name(uint8_t type);

struct FileHeader {
  uint16_t major = kFormatMajor;
  uint16_t minor = kFormatMinor;
  uint32_t max_frame_bytes = 0;
};

struct FrameHeader {
  uint8_t type = 0;
  uint8_t encoding = kEncodingZstd;
  uint32_t stored_size = 0;
  uint32_t raw_size = 0;
  uint32_t crc = 0;
};

// CRC-32C (Castagnoli), the checksum of iSCSI/ext4/Btrfs: detects all burst errors up to 32
// bits. `crc` chains calls: crc32c(b, crc32c(a)) == crc32c(a ++ b).
uint32_t crc32c(std::span<const uint8_t> bytes, uint32_t crc = 0);

// ---- little-endian fixed-width access ----
inline void put_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void put_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void put_u64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint16_t get_u16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t get_u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t get_u64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
static_assert(std::endian::native == std::endian::little, "tape I/O assumes a little-endian host");

std::array<uint8_t, kFileHeaderSize> encode_file_header(const FileHeader& header);
// Fills `frame[0..16)` and the crc at [16..20) for the given payload.
std::array<uint8_t, kFrameHeaderSize> encode_frame_header(uint8_t type, uint32_t stored_size,
                                                          uint32_t raw_size,
                                                          std::span<const uint8_t> stored);

// ---- zigzag + LEB128 varints (the event columns) ----
inline uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t unzigzag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}
inline constexpr size_t kMaxVarintBytes = 10;

}  // namespace otlp::ebpf::tape
