// InternTable against a model: the first occurrence of some bytes gets the next dense id, a
// repeat gets the same id back, and every view stays valid and equal to what was interned while
// the table grows (its arena and index reallocate, the stored bytes never move).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/intern_table.h"

namespace otlp::ebpf {
namespace {

RC_GTEST_PROP(InternTableProperties, IdsAreDenseStableAndContentAddressed, ()) {
  // Few distinct short strings (many repeats), plus long ones that span arena chunks.
  const auto strings = *rc::gen::scale(
      10, rc::gen::container<std::vector<std::string>>(rc::gen::weightedOneOf<std::string>(
              {{19, rc::gen::container<std::string>(rc::gen::inRange<char>('a', 'd'))},
               {1, rc::gen::map(rc::gen::inRange<size_t>(0, 100000),
                                [](size_t n) { return std::string(n, 'x'); })}})));
  const auto stacks = *rc::gen::scale(
      5, rc::gen::container<std::vector<std::vector<uint64_t>>>(
             rc::gen::container<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(0, 3))));
  InternTable table;
  std::map<std::string, StringId> string_model;
  std::map<std::vector<uint64_t>, StackId> stack_model;
  std::vector<std::string_view> views;
  std::vector<std::string> expected;
  size_t s = 0, k = 0;
  while (s < strings.size() || k < stacks.size()) {
    if (s < strings.size()) {
      const std::string& bytes = strings[s++];
      auto [it, fresh] = string_model.try_emplace(bytes, string_model.size() + 1);
      const StringId id = table.intern_string(bytes);
      RC_ASSERT(id == it->second);
      RC_ASSERT(table.string_count() == string_model.size());
      if (fresh) {
        views.push_back(table.string(id));
        expected.push_back(bytes);
      }
    }
    if (k < stacks.size()) {
      const auto& frames = stacks[k++];
      auto [it, fresh] = stack_model.try_emplace(frames, stack_model.size() + 1);
      const StackId id = table.intern_stack(frames);
      RC_ASSERT(id == it->second);
      RC_ASSERT(table.stack_count() == stack_model.size());
      auto got = table.stack(id);
      RC_ASSERT(std::vector<uint64_t>(got.begin(), got.end()) == frames);
    }
  }
  for (size_t i = 0; i < views.size(); ++i) {
    RC_ASSERT(views[i] == expected[i]);  // views taken early are still valid
    RC_ASSERT(table.string(static_cast<StringId>(i + 1)).data() == views[i].data());
  }
  RC_ASSERT(!table.has_string(table.string_count() + 1));
  RC_ASSERT(table.string(kNoId).empty());
}

TEST(InternTableTest, ManyDistinctEntriesKeepTheirIds) {
  InternTable table;
  for (uint32_t i = 0; i < 100000; ++i) {
    ASSERT_EQ(table.intern_string("payload-" + std::to_string(i)), i + 1);
  }
  for (uint32_t i = 0; i < 100000; i += 997) {
    EXPECT_EQ(table.intern_string("payload-" + std::to_string(i)), i + 1);
    EXPECT_EQ(table.string(i + 1), "payload-" + std::to_string(i));
  }
  std::vector<uint64_t> frames = {1, 2, 3};
  EXPECT_EQ(table.intern_stack(frames), 1u);
  EXPECT_EQ(table.intern_stack(std::vector<uint64_t>{}), 2u);  // the empty stack is an entry
  EXPECT_EQ(table.intern_stack(std::vector<uint64_t>{}), 2u);
  EXPECT_EQ(table.intern_string(""), 100001u);
  EXPECT_EQ(table.intern_string(""), 100001u);
  EXPECT_TRUE(table.string(100001).empty());
  EXPECT_GT(table.memory_bytes(), 100000u * 8);
}

}  // namespace
}  // namespace otlp::ebpf
