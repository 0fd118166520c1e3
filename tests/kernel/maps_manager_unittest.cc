// MapsManager checks that happen before the kernel is touched.
#include "bpf/maps_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace otlp::ebpf {
namespace {

using ::testing::HasSubstr;

std::vector<std::byte> zeros(size_t n) { return std::vector<std::byte>(n); }

TEST(MapsManagerTest, RegistrationRejectsSizesTheTypeCannotHave) {
  MapsManager maps;
  EXPECT_TRUE(maps.register_map("h", MapType::Hash, 8, 16));
  EXPECT_TRUE(maps.is_registered("h"));
  EXPECT_TRUE(maps.register_map("rb", MapType::RingBuf, 0, 0));
  auto array_key = maps.register_map("a", MapType::Array, 8, 4);
  ASSERT_FALSE(array_key);
  EXPECT_EQ(array_key.error().kind(), ErrorKind::ConfigError);
  EXPECT_THAT(array_key.error().message(), HasSubstr("4-byte"));
  EXPECT_FALSE(maps.register_map("rb2", MapType::RingBuf, 4, 4));
  EXPECT_FALSE(maps.register_map("h0", MapType::Hash, 4, 0));
  EXPECT_FALSE(maps.register_map("", MapType::Hash, 4, 4));
  EXPECT_FALSE(maps.is_registered("a"));
}

TEST(MapsManagerTest, OperationsCheckRegistrationAndKeySizeFirst) {
  MapsManager maps;
  ASSERT_TRUE(maps.register_map("h", MapType::Hash, 4, 8));
  auto unknown = maps.read_map("nope", zeros(4));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind(), ErrorKind::MapOperationFailed);
  EXPECT_THAT(unknown.error().message(), HasSubstr("not registered"));

  auto wrong_key = maps.write_map("h", zeros(3), zeros(8));
  ASSERT_FALSE(wrong_key);
  EXPECT_THAT(wrong_key.error().message(), HasSubstr("key is 3 bytes, the map has 4-byte keys"));

  auto no_object = maps.read_map("h", zeros(4));
  ASSERT_FALSE(no_object);
  EXPECT_THAT(no_object.error().message(), HasSubstr("the request is valid"));
  EbpfLoader empty;
  EXPECT_THAT(maps.write_map("h", zeros(4), zeros(8), &empty).error().message(),
              HasSubstr("no BPF object loaded"));
  EXPECT_FALSE(maps.delete_map("h", zeros(4), &empty));
  EXPECT_FALSE(maps.for_each("h", &empty, [](auto, auto) {}));
}

// The seeds' write_map(..., None): validation only. Every check an operation makes before
// the kernel holds without a loader; a valid write or delete then succeeds, writing nothing.
TEST(MapsManagerTest, WithoutALoaderOperationsValidate) {
  MapsManager maps;
  ASSERT_TRUE(maps.register_map("h", MapType::Hash, 4, 8));
  ASSERT_TRUE(maps.register_map("a", MapType::Array, 4, 16));
  ASSERT_TRUE(maps.register_map("pc", MapType::PerCpuArray, 4, 4));
  ASSERT_TRUE(maps.register_map("st", MapType::StackTrace, 4, 1016));

  EXPECT_TRUE(maps.write_map("h", zeros(4), zeros(8)));
  EXPECT_TRUE(maps.delete_map("h", zeros(4)));
  EXPECT_TRUE(maps.validate(MapOp::Read, "h", zeros(4)));
  EXPECT_TRUE(maps.validate(MapOp::Iterate, "h", {}));

  auto short_value = maps.write_map("h", zeros(4), zeros(7));
  ASSERT_FALSE(short_value);
  EXPECT_EQ(short_value.error().kind(), ErrorKind::MapOperationFailed);
  EXPECT_THAT(short_value.error().message(), HasSubstr("value is 7 bytes, the map takes 8"));
  EXPECT_THAT(maps.delete_map("h", zeros(8)).error().message(),
              HasSubstr("key is 8 bytes, the map has 4-byte keys"));
  EXPECT_THAT(maps.write_map("nope", zeros(4), zeros(8)).error().message(),
              HasSubstr("not registered"));
  EXPECT_THAT(maps.delete_map("a", zeros(4)).error().message(),
              HasSubstr("array elements always exist"));
  EXPECT_THAT(maps.write_map("st", zeros(4), zeros(1016)).error().message(),
              HasSubstr("filled by the kernel only"));
  // Per-CPU: one value (copied to every CPU) or every CPU's 8-byte slot; nothing else.
  EXPECT_TRUE(maps.write_map("pc", zeros(4), zeros(4)));
  EXPECT_FALSE(maps.write_map("pc", zeros(4), zeros(5)));
  // A valid read has nothing to return without a kernel map: it says so.
  auto read = maps.read_map("h", zeros(4));
  ASSERT_FALSE(read);
  EXPECT_THAT(read.error().message(), HasSubstr("pass the loader"));
  EXPECT_FALSE(maps.for_each("h", nullptr, [](auto, auto) {}));
}

TEST(MapsManagerTest, RingBuffersHaveNoElements) {
  MapsManager maps;
  ASSERT_TRUE(maps.register_map("events", MapType::RingBuf, 0, 0));
  auto r = maps.read_map("events", {});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("ringbuf map has no elements"));
}

TEST(MapsManagerTest, MapTypeNamesAreStable) {
  EXPECT_EQ(map_type_name(MapType::PerCpuArray), "percpu_array");
  EXPECT_EQ(map_type_name(MapType::StackTrace), "stack_trace");
}

}  // namespace
}  // namespace otlp::ebpf
