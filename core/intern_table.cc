#include "core/intern_table.h"

namespace otlp::ebpf {
namespace {

std::string_view frames_as_bytes(std::span<const uint64_t> frames) {
  return std::string_view(reinterpret_cast<const char*>(frames.data()),
                          frames.size() * sizeof(uint64_t));
}

}  // namespace

StringId InternTable::intern_string(std::string_view bytes) {
  if (auto it = string_ids_.find(bytes); it != string_ids_.end()) return it->second;
  const std::string& stored = string_storage_.emplace_back(bytes);
  std::string_view view(stored);
  strings_.push_back(view);
  auto id = static_cast<StringId>(strings_.size());
  string_ids_.emplace(view, id);
  bytes_ += sizeof(std::string) + stored.capacity() + 2 * sizeof(std::string_view) + 16;
  return id;
}

StackId InternTable::intern_stack(std::span<const uint64_t> frames) {
  if (auto it = stack_ids_.find(frames_as_bytes(frames)); it != stack_ids_.end()) {
    return it->second;
  }
  const auto& stored = stack_storage_.emplace_back(frames.begin(), frames.end());
  std::span<const uint64_t> view(stored);
  stacks_.push_back(view);
  auto id = static_cast<StackId>(stacks_.size());
  stack_ids_.emplace(frames_as_bytes(view), id);
  bytes_ += sizeof(stored) + stored.capacity() * sizeof(uint64_t) + 48;
  return id;
}

std::string_view InternTable::string(StringId id) const {
  return has_string(id) ? strings_[id - 1] : std::string_view();
}

std::span<const uint64_t> InternTable::stack(StackId id) const {
  return has_stack(id) ? stacks_[id - 1] : std::span<const uint64_t>();
}

}  // namespace otlp::ebpf
