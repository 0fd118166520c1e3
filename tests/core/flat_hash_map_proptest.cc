// FlatHashMap behaves as std::unordered_map under any sequence of inserts, lookups and erases,
// whatever the hash (good, weak, or every key colliding).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/flat_hash_map.h"

namespace otlp::ebpf {
namespace {

struct ConstantHash {
  size_t operator()(uint64_t) const { return 0; }
};
struct FewBucketsHash {
  size_t operator()(uint64_t key) const { return key & 3; }
};

template <typename Hash>
void check_against_unordered_map() {
  // A small key space makes repeats, erases of present keys and collisions likely.
  const auto key_space = *rc::gen::inRange<uint64_t>(1, 64);
  // Up to ~500 operations: long enough for the table to grow and for runs to fill and drain.
  const auto ops = *rc::gen::scale(5, rc::gen::container<std::vector<std::pair<int, uint64_t>>>(
      rc::gen::pair(rc::gen::inRange(0, 4), rc::gen::inRange<uint64_t>(0, key_space))));
  FlatHashMap<uint64_t, uint64_t, Hash> map;
  std::unordered_map<uint64_t, uint64_t> model;
  uint64_t counter = 0;
  for (const auto& [op, key] : ops) {
    switch (op) {
      case 0: {  // try_emplace
        ++counter;
        auto [it, inserted] = map.try_emplace(key, counter);
        auto [mit, minserted] = model.try_emplace(key, counter);
        RC_ASSERT(inserted == minserted);
        RC_ASSERT(it->first == key);
        RC_ASSERT(it->second == mit->second);
        break;
      }
      case 1: {  // erase by key
        RC_ASSERT(map.erase(key) == model.erase(key));
        break;
      }
      case 2: {  // find, then erase through the iterator
        auto it = map.find(key);
        auto mit = model.find(key);
        RC_ASSERT((it == map.end()) == (mit == model.end()));
        if (it != map.end()) {
          RC_ASSERT(it->second == mit->second);
          map.erase(it);
          model.erase(mit);
        }
        break;
      }
      default: {  // update through operator[]
        map[key] += 7;
        model[key] += 7;
        break;
      }
    }
    RC_ASSERT(map.size() == model.size());
  }
  for (uint64_t key = 0; key <= key_space; ++key) {
    auto it = map.find(key);
    auto mit = model.find(key);
    RC_ASSERT((it == map.end()) == (mit == model.end()));
    if (it != map.end()) RC_ASSERT(it->second == mit->second);
  }
  std::vector<std::pair<uint64_t, uint64_t>> got;
  for (const auto& [key, value] : map) got.emplace_back(key, value);
  std::vector<std::pair<uint64_t, uint64_t>> want(model.begin(), model.end());
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  RC_ASSERT(got == want);  // iteration visits every entry exactly once
}

RC_GTEST_PROP(FlatHashMapProperties, MatchesUnorderedMap, ()) {
  check_against_unordered_map<std::hash<uint64_t>>();
}
RC_GTEST_PROP(FlatHashMapProperties, MatchesUnorderedMapWithWeakHash, ()) {
  check_against_unordered_map<FewBucketsHash>();
}
RC_GTEST_PROP(FlatHashMapProperties, MatchesUnorderedMapWhenEveryKeyCollides, ()) {
  check_against_unordered_map<ConstantHash>();
}

}  // namespace
}  // namespace otlp::ebpf
