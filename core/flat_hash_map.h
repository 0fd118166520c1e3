// FlatHashMap: an open-addressing hash map (linear probing, backward-shift deletion) for the
// aggregators' hot per-event lookups, where std::unordered_map pays one heap node per entry and
// a pointer chase per lookup.
//
// - Entries live in one array of slots (key, value) plus one byte of occupancy per slot; the
//   capacity is a power of two, the load stays <= 3/4 (growth doubles and rehashes).
// - Erase shifts the following entries of the probe run back into the hole (no tombstones), so
//   lookups never slow down after many erases and a table that drains is as fast as a new one.
// - The slot index is the top bits of hash * 2^64/phi (Fibonacci hashing): a weak Hash (e.g.
//   aligned addresses, identity on small integers) still spreads over the table.
// - Iteration order depends on the hashes and the history of the table: never let it reach an
//   output. Callers that report from the map aggregate into ordered containers or sort.
// - Any insert (try_emplace, operator[]) may rehash and erase moves entries: both invalidate
//   iterators, pointers and references into the map.
// Key and Value must be default-constructible and movable; empty slots hold default values.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <utility>
#include <vector>

namespace otlp::ebpf {

template <typename Key, typename Value, typename Hash = std::hash<Key>,
          typename KeyEqual = std::equal_to<Key>>
class FlatHashMap {
 public:
  // Field names as std::pair's, so `for (auto& [key, value] : map)` and `it->second` read the
  // same as with the standard maps.
  struct Slot {
    Key first{};
    Value second{};
  };

  template <bool Const>
  class Iter {
   public:
    using MapPtr = std::conditional_t<Const, const FlatHashMap*, FlatHashMap*>;
    using iterator_category = std::forward_iterator_tag;
    using value_type = Slot;
    using difference_type = std::ptrdiff_t;
    using reference = std::conditional_t<Const, const Slot&, Slot&>;
    using pointer = std::conditional_t<Const, const Slot*, Slot*>;

    Iter() = default;
    Iter(MapPtr map, size_t index) : map_(map), index_(index) { skip_empty(); }
    operator Iter<true>() const  // NOLINT(google-explicit-constructor): as std's iterators
      requires(!Const)
    {
      return Iter<true>(map_, index_);
    }

    reference operator*() const { return map_->slots_[index_]; }
    pointer operator->() const { return &map_->slots_[index_]; }
    Iter& operator++() {
      ++index_;
      skip_empty();
      return *this;
    }
    Iter operator++(int) {
      Iter old = *this;
      ++*this;
      return old;
    }
    bool operator==(const Iter& o) const { return index_ == o.index_; }

   private:
    friend class FlatHashMap;
    void skip_empty() {
      while (index_ < map_->used_.size() && !map_->used_[index_]) ++index_;
    }
    MapPtr map_ = nullptr;
    size_t index_ = 0;
  };
  using iterator = Iter<false>;
  using const_iterator = Iter<true>;

  FlatHashMap() = default;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return used_.size(); }

  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, capacity()); }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, capacity()); }

  iterator find(const Key& key) {
    const size_t i = find_index(key);
    return iterator(this, i);
  }
  const_iterator find(const Key& key) const {
    const size_t i = find_index(key);
    return const_iterator(this, i);
  }
  bool contains(const Key& key) const { return find_index(key) != capacity(); }

  // Inserts (key, value) when key is absent; either way returns the entry and whether it was
  // inserted. Like std::unordered_map::try_emplace, `value` is untouched when key is present.
  template <typename... Args>
  std::pair<iterator, bool> try_emplace(const Key& key, Args&&... args) {
    if ((size_ + 1) * 4 > capacity() * 3) grow();
    size_t i = home(key);
    while (used_[i]) {
      if (equal_(slots_[i].first, key)) return {iterator(this, i), false};
      i = (i + 1) & mask_;
    }
    used_[i] = 1;
    slots_[i].first = key;
    slots_[i].second = Value(std::forward<Args>(args)...);
    ++size_;
    return {iterator(this, i), true};
  }
  Value& operator[](const Key& key) { return try_emplace(key).first->second; }

  // Removes the entry `it` points at (which must be valid). Later entries of its probe run
  // move back one by one to close the gap, so every lookup stays a single run scan.
  void erase(const_iterator it) {
    size_t hole = it.index_;
    size_t j = hole;
    for (;;) {
      j = (j + 1) & mask_;
      if (!used_[j]) break;
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j]: moving
      // it before its home would make it unreachable.
      const size_t h = home(slots_[j].first);
      const bool home_in_between = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (home_in_between) continue;
      slots_[hole] = std::move(slots_[j]);
      hole = j;
    }
    used_[hole] = 0;
    slots_[hole] = Slot{};
    --size_;
  }
  // Removes key if present; returns the number of entries removed (0 or 1).
  size_t erase(const Key& key) {
    const size_t i = find_index(key);
    if (i == capacity()) return 0;
    erase(const_iterator(this, i));
    return 1;
  }

  void clear() {
    slots_.clear();
    used_.clear();
    mask_ = 0;
    shift_ = 64;
    size_ = 0;
  }
  // Makes room for n entries without growing.
  void reserve(size_t n) {
    size_t want = kMinCapacity;
    while (want * 3 < n * 4) want *= 2;
    if (want > capacity()) rehash(want);
  }

 private:
  static constexpr size_t kMinCapacity = 16;

  size_t home(const Key& key) const {
    // Fibonacci hashing: the top log2(capacity) bits of the product.
    return static_cast<size_t>((static_cast<uint64_t>(hash_(key)) * 0x9E3779B97F4A7C15ull) >>
                               shift_);
  }
  // Index of key's slot, or capacity() when absent.
  size_t find_index(const Key& key) const {
    if (size_ == 0) return capacity();
    for (size_t i = home(key);; i = (i + 1) & mask_) {
      if (!used_[i]) return capacity();
      if (equal_(slots_[i].first, key)) return i;
    }
  }
  void grow() { rehash(capacity() == 0 ? kMinCapacity : capacity() * 2); }
  void rehash(size_t new_capacity) {
    std::vector<Slot> old_slots(new_capacity);
    std::vector<uint8_t> old_used(new_capacity, 0);
    old_slots.swap(slots_);
    old_used.swap(used_);
    mask_ = new_capacity - 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(new_capacity));
    for (size_t k = 0; k < old_used.size(); ++k) {
      if (!old_used[k]) continue;
      size_t i = home(old_slots[k].first);
      while (used_[i]) i = (i + 1) & mask_;
      used_[i] = 1;
      slots_[i] = std::move(old_slots[k]);
    }
  }

  std::vector<Slot> slots_;
  std::vector<uint8_t> used_;  // 1 where slots_ holds an entry
  size_t mask_ = 0;            // capacity - 1
  unsigned shift_ = 64;        // 64 - log2(capacity)
  size_t size_ = 0;
  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] KeyEqual equal_;
};

}  // namespace otlp::ebpf
