// InternTable: the session-wide home of variable-size event data (strings, byte blobs, stacks).
//
// Ownership: one table per source (recorder, tape reader, simulator); it outlives every batch
// the source yields, and ids are only meaningful against the table of the source that made
// them. Ids are dense and assigned in insertion order starting at 1 (kNoId = 0 is "none"), so
// "everything added since id N" is a contiguous range — what the tape writes per frame.
// Views returned by string()/stack() stay valid for the table's lifetime (storage never moves).
// Not thread-safe: the source interns and the pipeline reads on the same thread (pull model).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/event.h"

namespace otlp::ebpf {

class InternTable {
 public:
  InternTable() = default;
  InternTable(const InternTable&) = delete;             // views point into this object
  InternTable& operator=(const InternTable&) = delete;

  // Returns the id of `bytes`, adding it if new. Any bytes: text, address blobs, payloads.
  StringId intern_string(std::string_view bytes);
  // Returns the id of the stack (frame addresses, innermost first), adding it if new.
  StackId intern_stack(std::span<const uint64_t> frames);

  bool has_string(StringId id) const { return id != kNoId && id <= strings_.size(); }
  bool has_stack(StackId id) const { return id != kNoId && id <= stacks_.size(); }
  // Empty view for kNoId or an unknown id; check has_*() where the difference matters.
  std::string_view string(StringId id) const;
  std::span<const uint64_t> stack(StackId id) const;

  // Number of entries; the largest valid id equals the count.
  uint32_t string_count() const { return static_cast<uint32_t>(strings_.size()); }
  uint32_t stack_count() const { return static_cast<uint32_t>(stacks_.size()); }
  // Bytes held (for memory accounting and bounded-memory checks).
  size_t memory_bytes() const;

 private:
  // Open-addressing index from content to id, one per kind. A slot is (32 bits of the content's
  // hash << 32 | id), 0 when empty (ids start at 1): a probe compares bytes only when the hash
  // bits match, and a new entry (the common case when a tape is read: every entry is new) costs
  // one hash and usually one slot. Linear probing, never erased; load <= 3/4.
  struct Index {
    std::vector<uint64_t> slots;
    size_t size = 0;
  };
  // The id of `bytes` (32-bit hash `h`) in `index`, whose ids' contents `views` holds; when
  // absent, calls `add()` (which appends the entry to `views`) and returns the new id.
  template <typename Views, typename Add>
  static uint32_t find_or_insert(Index& index, const Views& views, std::string_view bytes,
                                 uint32_t h, Add&& add);
  static void grow(Index& index);
  // Copies `bytes` into the arena (8-byte aligned, so stacks can be read as uint64_t).
  const char* store(std::string_view bytes);

  // Contents live in an arena of chunks that never move: views stay valid, and a table of many
  // small strings costs a few allocations instead of one per string.
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* chunk_pos_ = nullptr;
  size_t chunk_left_ = 0;
  size_t arena_bytes_ = 0;                         // sum of chunk sizes
  std::vector<std::string_view> strings_;          // id-1 -> bytes
  std::vector<std::span<const uint64_t>> stacks_;  // id-1 -> frames
  Index string_index_;
  Index stack_index_;  // keyed by the frames' bytes, so equal stacks share one id
};

}  // namespace otlp::ebpf
