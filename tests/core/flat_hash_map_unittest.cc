#include "core/flat_hash_map.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace otlp::ebpf {
namespace {

// Every key lands on the same home slot: one long probe run, the worst case for erase.
struct CollidingHash {
  size_t operator()(uint64_t) const { return 0; }
};

template <typename Map>
std::vector<std::pair<uint64_t, int>> sorted_entries(const Map& map) {
  std::vector<std::pair<uint64_t, int>> out;
  for (const auto& [key, value] : map) out.emplace_back(key, value);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FlatHashMapTest, StartsEmpty) {
  FlatHashMap<uint64_t, int> map;
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.find(7), map.end());
  EXPECT_FALSE(map.contains(7));
  EXPECT_EQ(map.erase(7), 0u);
  EXPECT_EQ(map.begin(), map.end());
}

TEST(FlatHashMapTest, TryEmplaceKeepsTheFirstValue) {
  FlatHashMap<uint64_t, int> map;
  auto [it, inserted] = map.try_emplace(42, 1);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(it->first, 42u);
  EXPECT_EQ(it->second, 1);
  auto [again, inserted_again] = map.try_emplace(42, 2);
  EXPECT_FALSE(inserted_again);
  EXPECT_EQ(again->second, 1);
  EXPECT_EQ(again, it);
  EXPECT_EQ(map.size(), 1u);
  map[42] += 10;
  map[43] = 5;  // operator[] value-initializes a new entry
  EXPECT_EQ(map.find(42)->second, 11);
  EXPECT_EQ(map.find(43)->second, 5);
  EXPECT_EQ(map[44], 0);
  EXPECT_EQ(map.size(), 3u);
}

TEST(FlatHashMapTest, GrowsAndKeepsEveryEntry) {
  FlatHashMap<uint64_t, int> map;
  for (uint64_t k = 0; k < 10000; ++k) map.try_emplace(k * 16, static_cast<int>(k));
  EXPECT_EQ(map.size(), 10000u);
  EXPECT_GE(map.capacity() * 3, map.size() * 4);  // load <= 3/4
  EXPECT_EQ(std::has_single_bit(map.capacity()), true);
  for (uint64_t k = 0; k < 10000; ++k) {
    auto it = map.find(k * 16);
    ASSERT_NE(it, map.end()) << k;
    EXPECT_EQ(it->second, static_cast<int>(k));
  }
  EXPECT_EQ(map.find(8), map.end());
  EXPECT_EQ(static_cast<size_t>(std::distance(map.begin(), map.end())), map.size());
}

TEST(FlatHashMapTest, EraseInsideACollisionRunKeepsTheRestReachable) {
  FlatHashMap<uint64_t, int, CollidingHash> map;
  for (uint64_t k = 1; k <= 10; ++k) map.try_emplace(k, static_cast<int>(k));
  // Remove from the front, middle and end of the one run, then check everything else.
  EXPECT_EQ(map.erase(1), 1u);
  EXPECT_EQ(map.erase(5), 1u);
  EXPECT_EQ(map.erase(10), 1u);
  EXPECT_EQ(map.erase(5), 0u);
  EXPECT_EQ(map.size(), 7u);
  for (uint64_t k : {2, 3, 4, 6, 7, 8, 9}) {
    auto it = map.find(k);
    ASSERT_NE(it, map.end()) << k;
    EXPECT_EQ(it->second, static_cast<int>(k));
  }
  EXPECT_EQ(sorted_entries(map),
            (std::vector<std::pair<uint64_t, int>>{{2, 2}, {3, 3}, {4, 4}, {6, 6}, {7, 7},
                                                   {8, 8}, {9, 9}}));
}

// Keys >= 100 hash to a value whose home is the last slot of a 16-slot table; others to 0.
struct WrapHash {
  static size_t last_slot_hash() {
    size_t h = 0;
    while (((static_cast<uint64_t>(h) * 0x9E3779B97F4A7C15ull) >> 60) != 15) ++h;
    return h;
  }
  size_t operator()(uint64_t key) const {
    static const size_t wrap = last_slot_hash();
    return key >= 100 ? wrap : 0;
  }
};

TEST(FlatHashMapTest, RunsThatWrapAroundTheEndOfTheTable) {
  FlatHashMap<uint64_t, int, WrapHash> map;
  for (uint64_t k = 100; k < 105; ++k) map.try_emplace(k, static_cast<int>(k));  // 15, 0..3
  map.try_emplace(1, 1);  // home 0, lands after the wrapped run
  ASSERT_EQ(map.capacity(), 16u);
  EXPECT_EQ(map.erase(100), 1u);  // the hole at 15 is filled from slot 0, across the end
  EXPECT_EQ(map.erase(102), 1u);
  for (uint64_t k : {101, 103, 104, 1}) EXPECT_NE(map.find(k), map.end()) << k;
  EXPECT_EQ(map.find(100), map.end());
  EXPECT_EQ(map.find(102), map.end());
  EXPECT_EQ(map.size(), 4u);
}

TEST(FlatHashMapTest, DrainingAndRefillingStaysConsistent) {
  FlatHashMap<uint64_t, int> map;
  for (int round = 0; round < 5; ++round) {
    for (uint64_t k = 0; k < 1000; ++k) map.try_emplace(k * 7 + round, round);
    for (uint64_t k = 0; k < 1000; ++k) EXPECT_EQ(map.erase(k * 7 + round), 1u);
    EXPECT_TRUE(map.empty());
    EXPECT_EQ(map.begin(), map.end());
  }
  map.clear();
  EXPECT_EQ(map.capacity(), 0u);
  map.try_emplace(3, 3);
  EXPECT_EQ(map.find(3)->second, 3);
}

TEST(FlatHashMapTest, ReserveAvoidsGrowth) {
  FlatHashMap<uint64_t, int> map;
  map.reserve(1000);
  const size_t capacity = map.capacity();
  EXPECT_GE(capacity * 3, 1000u * 4);
  for (uint64_t k = 0; k < 1000; ++k) map.try_emplace(k, 0);
  EXPECT_EQ(map.capacity(), capacity);
}

TEST(FlatHashMapTest, HoldsNonTrivialValues) {
  FlatHashMap<uint64_t, std::string, CollidingHash> map;
  for (uint64_t k = 0; k < 50; ++k) map.try_emplace(k, std::string(k + 20, 'x'));
  for (uint64_t k = 0; k < 50; k += 2) map.erase(k);
  for (uint64_t k = 1; k < 50; k += 2) EXPECT_EQ(map.find(k)->second, std::string(k + 20, 'x'));
}

}  // namespace
}  // namespace otlp::ebpf
