// Lookups over OTLP messages for assertions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <unistd.h>

#include <gtest/gtest.h>

#include "core/otlp/converter.h"

namespace otlp::ebpf::testing {

// A temp file name unique to this process: several build trees' ctest runs share /tmp.
inline std::string temp_path(std::string_view name) {
  return ::testing::TempDir() + "/" + std::to_string(::getpid()) + "_" + std::string(name);
}

using KeyValues = google::protobuf::RepeatedPtrField<otlp_proto::common::v1::KeyValue>;

inline const otlp_proto::common::v1::AnyValue* find_attr(const KeyValues& kv, std::string_view key) {
  for (const auto& a : kv) {
    if (a.key() == key) return &a.value();
  }
  return nullptr;
}
inline std::optional<std::string> str_attr(const KeyValues& kv, std::string_view key) {
  const auto* v = find_attr(kv, key);
  if (v == nullptr || !v->has_string_value()) return std::nullopt;
  return v->string_value();
}
inline std::optional<int64_t> int_attr(const KeyValues& kv, std::string_view key) {
  const auto* v = find_attr(kv, key);
  if (v == nullptr || !v->has_int_value()) return std::nullopt;
  return v->int_value();
}

// The resource whose process.pid is `pid`, or nullptr.
template <typename ResourceList>
auto find_resource(const ResourceList& list, int64_t pid) -> decltype(&list.Get(0)) {
  for (const auto& r : list) {
    if (int_attr(r.resource().attributes(), "process.pid") == pid) return &r;
  }
  return nullptr;
}

inline const otlp_proto::metrics::v1::Metric* find_metric(
    const otlp_proto::metrics::v1::ResourceMetrics& rm, std::string_view name) {
  for (const auto& sm : rm.scope_metrics()) {
    for (const auto& m : sm.metrics()) {
      if (m.name() == name) return &m;
    }
  }
  return nullptr;
}

}  // namespace otlp::ebpf::testing
