// Crafted tapes for the hostile-input tests: what an adversary can put in a file that is
// checksum-valid frame by frame (decompression bombs, millions of events at one timestamp,
// huge interned data, times near 2^64, lying or damaged indexes, duplicated frames, terminal
// control bytes in strings). Built by code, frame by frame, so each one is small to keep and
// fast to make. Used by the reader/sorter unit tests and by the CLI test that runs every tape
// consumer on each of them under a memory limit.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/tape/format.h"
#include "core/tape/types.h"

namespace otlp::ebpf::tape {
class EventFrameEncoder;
}  // namespace otlp::ebpf::tape

namespace otlp::ebpf::tape::hostile {

// Assembles a tape frame by frame, without the writer's rules: any frame, any order, any
// index. Starts with a valid file header and metadata frame.
class TapeBuilder {
 public:
  explicit TapeBuilder(uint32_t max_frame_bytes = 64u << 20);

  // Appends an events frame holding `events` (one batch) and `losses`; returns its offset.
  uint64_t events(std::span<const EbpfEvent> events, std::span<const LossRecord> losses = {});
  // Appends an events frame of `count` copies of `event` (one batch), without a vector of them.
  uint64_t repeated_event(const EbpfEvent& event, uint32_t count);
  // Appends an Interned frame continuing the ids so far.
  uint64_t interned(const std::vector<std::string>& strings,
                    const std::vector<std::vector<uint64_t>>& stacks = {});
  // Appends a copy of the frame at `offset` (its bytes, unchanged); returns the copy's offset.
  uint64_t copy_frame(uint64_t offset);
  // Appends the index of every frame so far (after `edit`, which may lie) and the trailer.
  void close(const std::function<void(TapeIndex&)>& edit = {});

  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t>& mutable_bytes() { return bytes_; }
  const std::vector<IndexEntry>& entries() const { return entries_; }
  uint64_t index_offset() const { return index_offset_; }

 private:
  uint64_t events_frame(EventFrameEncoder& encoder);
  uint64_t append_frame(uint8_t type, std::span<const uint8_t> raw, IndexEntry entry);

  std::vector<uint8_t> bytes_;
  std::vector<IndexEntry> entries_;
  uint64_t event_count_ = 0;
  uint64_t loss_count_ = 0;
  uint32_t strings_ = 0;
  uint32_t stacks_ = 0;
  uint64_t index_offset_ = 0;
};

// One crafted tape and what it attacks; made on demand (the bombs take a second or two).
struct HostileTape {
  std::string name;  // file name stem, e.g. "event-bomb"
  std::string what;
  std::function<std::vector<uint8_t>()> make;
};

// Frames of highly compressible events: `frames` x `events_per_frame` syscall events at one
// timestamp (a few KB on disk, GBs decoded).
std::vector<uint8_t> event_bomb(unsigned frames, uint32_t events_per_frame);
// One frame claiming `events` events (hundreds of MB decoded from a few KB).
std::vector<uint8_t> single_frame_bomb(uint32_t events);
// Interned frames each holding one string of `string_bytes` zero bytes (distinct by a last
// byte): tiny on disk, kept for the whole read.
std::vector<uint8_t> interned_bomb(unsigned frames, uint32_t string_bytes);
// Events with timestamps near 2^64, and one frame whose times wrap from near 2^64 to near 0.
std::vector<uint8_t> wrapped_times();
// A closed tape whose index is checksum-valid but says every events frame is `shift_ns` later
// than it is.
std::vector<uint8_t> index_with_wrong_times(uint64_t shift_ns);
// A closed tape with one bit of the index frame's magic flipped (every event intact).
std::vector<uint8_t> index_bad_magic();
// A closed tape with one bit of the trailer's magic flipped.
std::vector<uint8_t> damaged_trailer();
// A closed tape whose index lists the same frame twice.
std::vector<uint8_t> index_duplicate_offsets();
// An events frame repeated right after itself; `close`: with an index that lists both.
std::vector<uint8_t> duplicated_events_frame(bool close);
// Two loss records of UINT64_MAX - 1 events each.
std::vector<uint8_t> huge_loss_counts();
// Terminal escapes and newlines in the hostname, command, comm, exe and cmdline.
std::vector<uint8_t> control_bytes();

// Every tape above (with sizes that exceed the default limits where that is the attack).
std::vector<HostileTape> all_hostile_tapes();
// The one named `name` (throws std::out_of_range when there is none).
HostileTape hostile_tape(const std::string& name);

// The syscall events the small tapes above carry (timestamps from `first_ns`, 1 us apart).
std::vector<EbpfEvent> plain_events(size_t count, uint64_t first_ns = 1'000'000'000);

}  // namespace otlp::ebpf::tape::hostile
