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
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
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
  size_t memory_bytes() const { return bytes_; }

 private:
  struct ViewHash {
    size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
  };
  std::deque<std::string> string_storage_;        // deque: elements never relocate
  std::vector<std::string_view> strings_;         // id-1 -> bytes
  std::unordered_map<std::string_view, StringId, ViewHash> string_ids_;
  std::deque<std::vector<uint64_t>> stack_storage_;
  std::vector<std::span<const uint64_t>> stacks_;  // id-1 -> frames
  // Keyed by the frames' bytes, so equal stacks share one id.
  std::unordered_map<std::string_view, StackId, ViewHash> stack_ids_;
  size_t bytes_ = 0;
};

}  // namespace otlp::ebpf
