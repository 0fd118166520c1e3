// What this machine can record: the report `bpftape doctor` prints and EbpfLoader checks.
//
// Every probe reads /proc, /sys or makes a harmless syscall (capget, a perf_event_open of a
// software counter on ourselves, a BPF map create that is closed at once); nothing here needs
// libbpf, so the report works in builds without the BPF parts.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace otlp::ebpf {

enum class CheckStatus { Ok, Warn, Missing };

struct SupportCheck {
  std::string name;      // stable key, e.g. "kernel_version", "cap_bpf", "ringbuf"
  CheckStatus status;
  std::string detail;    // what was found, e.g. "6.1.0-18-amd64"
  std::string remedy;    // what to do when not Ok; empty otherwise
  bool required;         // recording cannot work while a required check is Missing
};

struct SystemSupportReport {
  std::string kernel_release;
  std::vector<SupportCheck> checks;

  // True when every required check is Ok or Warn.
  bool can_record() const;
  const SupportCheck* find(std::string_view name) const;
  // The first required failure as an error (kind chosen by the check), for EbpfLoader.
  Result<void> as_result() const;
};

// Paths are parameters so tests can point the checks at a fake /sys and /proc.
struct SystemPaths {
  std::string sys_root = "/sys";
  std::string proc_root = "/proc";
};

SystemSupportReport check_system_support(const SystemPaths& paths = {});

// "5.15.0-91-generic" -> {5, 15}; nullopt when it does not start with "<major>.<minor>".
std::optional<std::pair<int, int>> parse_kernel_version(std::string_view release);

}  // namespace otlp::ebpf
