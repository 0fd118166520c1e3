#include "core/config.h"

#include <array>
#include <fmt/format.h>

namespace otlp::ebpf {
namespace {

struct EnvironmentProfile {
  std::string_view name;
  uint32_t sample_rate;
  std::chrono::seconds duration;
};

// The seeds' numbers: production samples gently for long; debug samples hard for short.
constexpr std::array<EnvironmentProfile, 4> kEnvironments{{
    {"production", 19, std::chrono::seconds(300)},
    {"staging", 49, std::chrono::seconds(120)},
    {"development", 99, std::chrono::seconds(60)},
    {"debug", 199, std::chrono::seconds(30)},
}};

Result<EnvironmentProfile> find_environment(std::string_view environment) {
  for (const auto& profile : kEnvironments) {
    if (profile.name == environment) return profile;
  }
  return make_error(ErrorKind::ConfigError,
                    fmt::format("unknown environment '{}': use one of production, staging, "
                                "development, debug",
                                environment));
}

}  // namespace

Result<void> EbpfConfig::validate() const {
  if (sample_rate == 0 || sample_rate > kMaxSampleRate) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("sample_rate {} Hz is out of range: use 1..{} Hz (99 is a "
                                  "good default)",
                                  sample_rate, kMaxSampleRate));
  }
  if (duration.count() <= 0 || duration > kMaxDuration) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("duration {} ms is out of range: use more than 0 and at most "
                                  "{} s",
                                  duration.count(), kMaxDuration.count()));
  }
  if (max_samples == 0) {
    return make_error(ErrorKind::ConfigError, "max_samples must be at least 1");
  }
  if (!enable_cpu_profiling && !enable_network_tracing && !enable_syscall_tracing &&
      !enable_memory_tracing) {
    return make_error(ErrorKind::ConfigError,
                      "nothing to trace: enable at least one of cpu profiling, network, "
                      "syscall or memory tracing");
  }
  return {};
}

Result<void> validate_config(const EbpfConfig& config) { return config.validate(); }

Result<EbpfConfig> create_recommended_config(std::string_view environment) {
  BPFTAPE_ASSIGN_OR_RETURN(EnvironmentProfile profile, find_environment(environment));
  EbpfConfig config;
  config.with_sample_rate(profile.sample_rate).with_duration(profile.duration);
  return config;
}

Result<uint32_t> recommended_sample_rate(std::string_view environment) {
  BPFTAPE_ASSIGN_OR_RETURN(EnvironmentProfile profile, find_environment(environment));
  return profile.sample_rate;
}

Result<std::chrono::seconds> recommended_duration(std::string_view environment) {
  BPFTAPE_ASSIGN_OR_RETURN(EnvironmentProfile profile, find_environment(environment));
  return profile.duration;
}

}  // namespace otlp::ebpf
