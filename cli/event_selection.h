// The event-selection flags shared by `cat`, `replay` and `convert`: --type, --pid, --comm,
// --since, --until. Times are offsets from the recording's first event.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "cli/args.h"
#include "core/event_processor.h"

namespace bpftape::cli {

struct EventSelection {
  std::set<otlp::ebpf::EbpfEventType> types;
  std::set<uint32_t> pids;
  std::set<std::string> comms;
  std::optional<uint64_t> since_ns;
  std::optional<uint64_t> until_ns;

  static void add_options(ArgParser& parser);
  static otlp::ebpf::Result<EventSelection> from(const ParsedArgs& args);

  bool selects_everything() const {
    return types.empty() && pids.empty() && comms.empty() && !since_ns && !until_ns;
  }
  // The filter for events of a recording whose first event is at `base_ns`. `comm_of`
  // names a pid's process (called once per pid; the answer is cached).
  otlp::ebpf::EventFilter filter(uint64_t base_ns,
                                 std::function<std::string(uint32_t pid)> comm_of) const;
};

}  // namespace bpftape::cli
