// x86_64 syscall numbers <-> names, from a checked-in table (scripts/gen-syscall-table), so
// a tape replays with the same names on any machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace otlp::ebpf {

// "read" for 0; empty for a number the table does not know.
std::string_view syscall_name(uint32_t nr);
// syscall_name(), or "syscall_<nr>" for unknown numbers: never empty, for reports.
std::string syscall_display_name(uint32_t nr);
// Accepts a table name ("openat") or the "syscall_<nr>" form.
std::optional<uint32_t> syscall_number(std::string_view name);

}  // namespace otlp::ebpf
