#include "core/config.h"

#include <gtest/gtest.h>

namespace otlp::ebpf {
namespace {

TEST(EbpfConfigTest, DefaultsAreTheSeeds) {
  EbpfConfig config;
  EXPECT_TRUE(config.enable_cpu_profiling);
  EXPECT_FALSE(config.enable_network_tracing);
  EXPECT_FALSE(config.enable_syscall_tracing);
  EXPECT_FALSE(config.enable_memory_tracing);
  EXPECT_EQ(config.sample_rate, 99u);
  EXPECT_EQ(config.duration, std::chrono::seconds(60));
  EXPECT_EQ(config.max_samples, 100000u);
  EXPECT_TRUE(config.validate().has_value());
}

TEST(EbpfConfigTest, BothBuilderSpellingsSetTheSameFields) {
  auto a = EbpfConfig::new_config()
               .with_enable_cpu_profiling(false)
               .with_enable_network_tracing(true)
               .with_enable_syscall_tracing(true)
               .with_enable_memory_tracing(true);
  auto b = EbpfConfig::new_config()
               .with_cpu_profiling(false)
               .with_network_tracing(true)
               .with_syscall_tracing(true)
               .with_memory_tracing(true);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a.enable_cpu_profiling);
  EXPECT_TRUE(a.enable_memory_tracing);
  auto c = EbpfConfig{}.with_sample_rate(50).with_duration(std::chrono::seconds(120)).with_max_samples(7);
  EXPECT_EQ(c.sample_rate, 50u);
  EXPECT_EQ(c.duration, std::chrono::seconds(120));
  EXPECT_EQ(c.max_samples, 7u);
}

struct InvalidCase {
  const char* name;
  EbpfConfig config;
  const char* message_part;
};

TEST(EbpfConfigTest, InvalidValuesAreConfigErrorsNamingTheField) {
  const InvalidCase cases[] = {
      {"zero rate", EbpfConfig{}.with_sample_rate(0), "sample_rate 0 Hz"},
      {"rate too high", EbpfConfig{}.with_sample_rate(EbpfConfig::kMaxSampleRate + 1),
       "sample_rate 10001 Hz"},
      {"zero duration", EbpfConfig{}.with_duration(std::chrono::milliseconds(0)), "duration 0 ms"},
      {"negative duration", EbpfConfig{}.with_duration(std::chrono::milliseconds(-5)), "duration -5"},
      {"duration too long", EbpfConfig{}.with_duration(EbpfConfig::kMaxDuration + std::chrono::seconds(1)),
       "out of range"},
      {"zero samples", EbpfConfig{}.with_max_samples(0), "max_samples"},
      {"nothing enabled", EbpfConfig{}.with_cpu_profiling(false), "nothing to trace"},
  };
  for (const auto& c : cases) {
    auto result = validate_config(c.config);
    ASSERT_FALSE(result.has_value()) << c.name;
    EXPECT_EQ(result.error().kind(), ErrorKind::ConfigError) << c.name;
    EXPECT_NE(result.error().message().find(c.message_part), std::string::npos)
        << c.name << ": " << result.error().message();
  }
}

TEST(EbpfConfigTest, BoundaryValuesAreAccepted) {
  EXPECT_TRUE(EbpfConfig{}.with_sample_rate(1).validate().has_value());
  EXPECT_TRUE(EbpfConfig{}.with_sample_rate(EbpfConfig::kMaxSampleRate).validate().has_value());
  EXPECT_TRUE(EbpfConfig{}.with_duration(std::chrono::milliseconds(1)).validate().has_value());
  EXPECT_TRUE(EbpfConfig{}.with_duration(EbpfConfig::kMaxDuration).validate().has_value());
  EXPECT_TRUE(EbpfConfig{}.with_cpu_profiling(false).with_memory_tracing(true).validate().has_value());
}

TEST(RecommendedConfigTest, SeedNumbersPerEnvironment) {
  struct Row { const char* env; uint32_t rate; int seconds; };
  const Row rows[] = {{"production", 19, 300}, {"staging", 49, 120}, {"development", 99, 60},
                      {"debug", 199, 30}};
  for (const auto& row : rows) {
    ASSERT_EQ(recommended_sample_rate(row.env).value(), row.rate) << row.env;
    ASSERT_EQ(recommended_duration(row.env).value(), std::chrono::seconds(row.seconds)) << row.env;
    auto config = create_recommended_config(row.env);
    ASSERT_TRUE(config.has_value()) << row.env;
    EXPECT_EQ(config->sample_rate, row.rate);
    EXPECT_EQ(config->duration, std::chrono::seconds(row.seconds));
    EXPECT_TRUE(config->validate().has_value());
  }
}

TEST(RecommendedConfigTest, UnknownEnvironmentListsTheValidNames) {
  for (const char* env : {"", "prod", "Production", "qa"}) {
    auto config = create_recommended_config(env);
    ASSERT_FALSE(config.has_value()) << env;
    EXPECT_EQ(config.error().kind(), ErrorKind::ConfigError);
    EXPECT_NE(config.error().message().find("production, staging, development, debug"),
              std::string::npos);
    EXPECT_FALSE(recommended_sample_rate(env).has_value());
    EXPECT_FALSE(recommended_duration(env).has_value());
  }
}

TEST(EbpfErrorTest, ToStringCarriesKindAndMessage) {
  EbpfError error(ErrorKind::InsufficientPermissions, "run as root");
  EXPECT_EQ(error.to_string(), "insufficient permissions: run as root");
  auto from_errno = errno_error(ErrorKind::Io, "open /x", ENOENT);
  EXPECT_EQ(from_errno.error().message(), "open /x: No such file or directory");
}

}  // namespace
}  // namespace otlp::ebpf
