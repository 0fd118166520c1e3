// Plain value types stored in a tape besides events: recording metadata, the process table,
// symbols and mappings, BPF program stats, and the index. Writers take them by const
// reference; readers hand out copies or const references owned by the reader.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/process_table.h"

namespace otlp::ebpf::tape {

struct ProbeInfo {
  std::string name;    // e.g. "sys_exit"
  std::string kind;    // "tracepoint", "raw_tracepoint", "uprobe", "perf_event", ...
  std::string target;  // e.g. "raw_syscalls:sys_exit"
  bool operator==(const ProbeInfo&) const = default;
};

// The recording's clock reference is core's (core/clock.h): one type for tapes and outputs.
using otlp::ebpf::ClockReference;

struct TapeMetadata {
  // Filled by the writer from the format it writes; read back from the tape.
  uint16_t format_major = 0;
  uint16_t format_minor = 0;
  uint32_t max_frame_bytes = 0;
  // Filled by the caller (the recorder, the simulator).
  std::string tool_version;
  std::string hostname;
  std::string kernel_release;
  std::string boot_id;
  uint32_t cpu_count = 0;
  uint32_t page_size = 0;
  ClockReference clock;
  EbpfConfig config;
  std::vector<ProbeInfo> probes;
  std::string recording_id;
  std::vector<std::string> command;
  bool operator==(const TapeMetadata&) const = default;
};

// A process incarnation as the recorder saw it: core's type (core/process_table.h). Updates
// are appended as processes come and go; the reader's ProcessTable keeps every incarnation.
using otlp::ebpf::ProcessInfo;

struct Mapping {
  uint32_t pid = 0;  // 0: kernel
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t file_offset = 0;
  std::string path;
  std::string build_id;  // raw bytes of the GNU build id; empty if none
  bool operator==(const Mapping&) const = default;
};

struct Symbol {
  uint32_t pid = 0;  // 0: kernel
  uint64_t address = 0;
  uint64_t size = 0;
  std::string name;
  bool operator==(const Symbol&) const = default;
};

struct BpfProgramStats {
  std::string name;
  uint32_t program_id = 0;
  uint64_t run_time_ns = 0;
  uint64_t run_count = 0;
  uint64_t recursion_misses = 0;
  // What the kernel counted while the stats were on; equal to run_time_ns/run_count unless the
  // snapshot is sampled (tapes before format 1.2: 0, and never sampled).
  uint64_t measured_run_time_ns = 0;
  uint64_t measured_run_count = 0;
  bool operator==(const BpfProgramStats&) const = default;
};

// One reading of every program's counters (cumulative since load) at `timestamp_ns`.
struct BpfStatsSnapshot {
  uint64_t timestamp_ns = 0;
  std::vector<BpfProgramStats> programs;
  // The counters ran part of the time: run_time_ns/run_count are scaled estimates.
  bool sampled = false;
  bool operator==(const BpfStatsSnapshot&) const = default;
};

struct IndexEntry {
  uint64_t offset = 0;  // of the frame header
  uint8_t type = 0;     // FrameType
  uint64_t first_timestamp_ns = 0;  // events frames: min and max timestamp in the frame
  uint64_t last_timestamp_ns = 0;
  uint32_t event_count = 0;
  bool operator==(const IndexEntry&) const = default;
};

struct TapeIndex {
  std::vector<IndexEntry> frames;  // every frame before the index, in file order
  uint64_t event_count = 0;
  uint64_t loss_count = 0;  // sum of LossRecord::count
  uint32_t string_count = 0;
  uint32_t stack_count = 0;
};

}  // namespace otlp::ebpf::tape

namespace otlp::ebpf::tape {

// Which process records a writer still owes its tape: each incarnation when first seen and
// again whenever what is known about it changes (exec renames it, exit ends it). Readers keep
// the latest record per incarnation (pid, start), so re-sending a changed one is how updates
// travel.
class ProcessUpdateTracker {
 public:
  // The records of `table` not yet written in their current state; marks them written.
  std::vector<ProcessInfo> take_pending(const otlp::ebpf::ProcessTable& table);

 private:
  std::map<std::pair<uint32_t, uint64_t>, ProcessInfo> written_;  // (pid, start)
  uint64_t seen_version_ = UINT64_MAX;  // table.version() at the last scan
};

}  // namespace otlp::ebpf::tape
