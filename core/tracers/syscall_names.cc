#include "core/tracers/syscall_names.h"

#include <array>
#include <charconv>

namespace otlp::ebpf {
namespace {

constexpr uint32_t kTableSize = 512;

constexpr std::array<std::string_view, kTableSize> build_table() {
  std::array<std::string_view, kTableSize> table{};
#define SYSCALL(nr, name) table[nr] = #name;
#include "core/tracers/syscall_table_x86_64.inc"
#undef SYSCALL
  return table;
}

constexpr auto kNames = build_table();

}  // namespace

std::string_view syscall_name(uint32_t nr) { return nr < kTableSize ? kNames[nr] : ""; }

std::string syscall_display_name(uint32_t nr) {
  std::string_view name = syscall_name(nr);
  return name.empty() ? "syscall_" + std::to_string(nr) : std::string(name);
}

std::optional<uint32_t> syscall_number(std::string_view name) {
  if (name.empty()) return std::nullopt;
  for (uint32_t nr = 0; nr < kTableSize; ++nr) {
    if (kNames[nr] == name) return nr;
  }
  constexpr std::string_view kPrefix = "syscall_";
  if (name.starts_with(kPrefix)) {
    uint32_t nr = 0;
    auto digits = name.substr(kPrefix.size());
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), nr);
    if (ec == std::errc() && end == digits.data() + digits.size() && nr < kTableSize) return nr;
  }
  return std::nullopt;
}

}  // namespace otlp::ebpf
