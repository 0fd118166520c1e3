// Delivery: everything new a LiveSource hands over at once — the drained events and loss
// records, the process records and the symbols they need — so that its consumers (the tape and
// pipeline sinks) never pull state back out of the source around a batch.
#pragma once

#include <vector>

#include "core/event.h"
#include "core/tape/types.h"
#include "recorder/symbol_collector.h"

namespace bpftape::record {

struct Delivery {
  otlp::ebpf::EventBatch batch;  // sorted by time; ids refer to the source's interned()
  // Process records that changed since the previous delivery, and the symbols and mappings
  // learned from this batch's stacks: a tape writes them before the batch.
  std::vector<otlp::ebpf::tape::ProcessInfo> processes;
  NewSymbols symbols;
};

}  // namespace bpftape::record
