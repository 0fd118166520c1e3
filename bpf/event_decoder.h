// EventDecoder: ring-buffer records of the bpftape BPF programs (bpf/record.h and the probe
// headers) -> EbpfEvent, interning variable-size parts (comm, filename, payload bytes, stacks,
// socket endpoints) into an InternTable.
//
// Lifetime: the InternTable must outlive the decoder and the events it produced (ids refer to
// it). Not thread-safe (the table is not): one decoder per draining thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/intern_table.h"

namespace otlp::ebpf {

class EventDecoder {
 public:
  explicit EventDecoder(InternTable& table) : table_(table) {}

  // Decodes one record and appends its events to `out` (a socket I/O record with captured
  // payload yields two: NetworkPacket + NetworkPayload). FormatError for a short record, an
  // unknown kind or version; `out` is unchanged then.
  Result<size_t> decode(std::span<const std::byte> record, std::vector<EbpfEvent>& out);

  struct Stats {
    uint64_t records = 0;
    uint64_t events = 0;
    uint64_t malformed = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  Result<size_t> decode_unchecked(std::span<const std::byte> record, std::vector<EbpfEvent>& out);

  InternTable& table_;
  Stats stats_;
};

}  // namespace otlp::ebpf
