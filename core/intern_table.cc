#include "core/intern_table.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>

namespace otlp::ebpf {
namespace {

constexpr size_t kChunkSize = 64 * 1024;
constexpr size_t kMinSlots = 1024;

std::string_view frames_as_bytes(std::span<const uint64_t> frames) {
  return std::string_view(reinterpret_cast<const char*>(frames.data()),
                          frames.size() * sizeof(uint64_t));
}
std::string_view as_bytes(std::string_view s) { return s; }
std::string_view as_bytes(std::span<const uint64_t> frames) { return frames_as_bytes(frames); }

// 32 bits of hash: what a slot keeps, so growing rehashes from the slots alone.
uint32_t hash32(std::string_view bytes) {
  const uint64_t h = std::hash<std::string_view>{}(bytes);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

// Slot index for a hash in a table of `slots` (a power of two): Fibonacci hashing, top bits.
size_t home(uint64_t h32, size_t slots) {
  return static_cast<size_t>((h32 * 0x9E3779B97F4A7C15ull) >> (64 - std::countr_zero(slots)));
}

}  // namespace

template <typename Views, typename Add>
uint32_t InternTable::find_or_insert(Index& index, const Views& views, std::string_view bytes,
                                     uint32_t h, Add&& add) {
  if ((index.size + 1) * 4 > index.slots.size() * 3) grow(index);
  const uint64_t tag = uint64_t{h} << 32;
  const size_t mask = index.slots.size() - 1;
  size_t i = home(h, index.slots.size());
  for (;; i = (i + 1) & mask) {
    const uint64_t slot = index.slots[i];
    if (slot == 0) break;
    if ((slot & ~uint64_t{0xFFFFFFFF}) == tag) {
      const auto id = static_cast<uint32_t>(slot);
      if (as_bytes(views[id - 1]) == bytes) return id;
    }
  }
  add();  // appends the new entry to `views`
  const auto id = static_cast<uint32_t>(views.size());
  index.slots[i] = tag | id;
  ++index.size;
  return id;
}

void InternTable::grow(Index& index) {
  // The home comes from the 32 hash bits the slot keeps: no content is read or rehashed.
  std::vector<uint64_t> old;
  old.swap(index.slots);
  index.slots.assign(std::max(kMinSlots, old.size() * 2), 0);
  const size_t mask = index.slots.size() - 1;
  for (uint64_t slot : old) {
    if (slot == 0) continue;
    size_t i = home(slot >> 32, index.slots.size());
    while (index.slots[i] != 0) i = (i + 1) & mask;
    index.slots[i] = slot;
  }
}

const char* InternTable::store(std::string_view bytes) {
  const size_t need = (bytes.size() + 7) & ~size_t{7};  // keep the next entry 8-byte aligned
  if (need > chunk_left_) {
    const size_t size = std::max(kChunkSize, need);
    chunks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    chunk_pos_ = chunks_.back().get();
    chunk_left_ = size;
    arena_bytes_ += size;
  }
  char* out = chunk_pos_;
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  chunk_pos_ += need;
  chunk_left_ -= need;
  return out;
}

StringId InternTable::intern_string(std::string_view bytes) {
  return find_or_insert(string_index_, strings_, bytes, hash32(bytes), [&] {
    strings_.emplace_back(store(bytes), bytes.size());
  });
}

StackId InternTable::intern_stack(std::span<const uint64_t> frames) {
  const std::string_view bytes = frames_as_bytes(frames);
  return find_or_insert(stack_index_, stacks_, bytes, hash32(bytes), [&] {
    stacks_.emplace_back(reinterpret_cast<const uint64_t*>(store(bytes)), frames.size());
  });
}

std::string_view InternTable::string(StringId id) const {
  return has_string(id) ? strings_[id - 1] : std::string_view();
}

std::span<const uint64_t> InternTable::stack(StackId id) const {
  return has_stack(id) ? stacks_[id - 1] : std::span<const uint64_t>();
}

size_t InternTable::memory_bytes() const {
  return arena_bytes_ + strings_.capacity() * sizeof(std::string_view) +
         stacks_.capacity() * sizeof(std::span<const uint64_t>) +
         (string_index_.slots.capacity() + stack_index_.slots.capacity()) * sizeof(uint64_t);
}

}  // namespace otlp::ebpf
