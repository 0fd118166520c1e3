// A simulation as a tape — the one way `simulate -o` and `simulate --check` write it — and the
// tape faults: a tape cut short (a recorder killed mid-frame, a full disk) or with flipped
// bytes (bad storage), placed by the seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tape/types.h"
#include "core/tape/writer.h"
#include "simulator/sim_source.h"

namespace bpftape::sim {

// Metadata as a recorder would write it; the command line reproduces the run.
otlp::ebpf::tape::TapeMetadata sim_tape_metadata(const SimSource& source);

struct SimTapeStats {
  uint64_t events = 0;  // delivered events written
  uint64_t lost = 0;    // events the rings dropped (in loss records)
};

// Drains `source` into `writer` as a recorder would: symbols first, process records as
// processes appear (before the events that need them), each drained batch sorted by time
// (stable: the arrival pattern stays in the tape). Does not close the writer.
otlp::ebpf::Result<SimTapeStats> write_sim_tape(SimSource& source,
                                                otlp::ebpf::tape::TapeWriter& writer);

// What the tape faults did to a tape's bytes.
struct TapeDamage {
  bool truncated = false;
  uint64_t truncated_at = 0;                // new size
  std::vector<uint64_t> flipped_offsets;    // bytes XORed with a non-zero value
  std::string describe() const;             // "" when nothing was done
};

// Applies the tape faults of `options` (kTapeTruncate, kTapeCorrupt) to `bytes`, a complete
// tape; the seed picks where. Damage lands after the file header so the result is still
// recognisably a tape.
TapeDamage damage_tape(const SimOptions& options, std::vector<uint8_t>& bytes);

}  // namespace bpftape::sim
