#include "simulator/sim_tape.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/tape/format.h"
#include "simulator/rng.h"

namespace bpftape::sim {

using otlp::ebpf::EbpfEvent;
using otlp::ebpf::Result;
namespace tape = otlp::ebpf::tape;

tape::TapeMetadata sim_tape_metadata(const SimSource& source) {
  const auto& o = source.world().options();
  tape::TapeMetadata md;
  md.tool_version = BPFTAPE_VERSION;
  md.hostname = "simulated";
  md.kernel_release = "simulated";
  md.cpu_count = o.cpus;
  md.page_size = 4096;
  md.clock = source.clock();
  md.recording_id = source.recording_id();
  md.config.enable_cpu_profiling = (o.workloads & kCpuBound) != 0;
  md.config.sample_rate = o.sample_hz;
  md.command = {"bpftape", "simulate", "--seed", std::to_string(o.seed), "--scenario",
                workload_names(o.workloads), "--faults",
                o.swarm ? std::string("swarm") : fault_names(o.faults)};
  return md;
}

Result<SimTapeStats> write_sim_tape(SimSource& source, tape::TapeWriter& writer) {
  SimTapeStats stats;
  std::vector<tape::Symbol> symbols;
  for (const auto& d : source.world().symbols()) symbols.push_back({d.pid, d.address, d.size, d.name});
  BPFTAPE_RETURN_IF_ERROR(writer.write_symbols({}, symbols));
  tape::ProcessUpdateTracker process_records;
  auto write_new_processes = [&]() -> Result<void> {
    auto updates = process_records.take_pending(source.processes());
    if (updates.empty()) return {};
    return writer.write_processes(updates);
  };
  BPFTAPE_RETURN_IF_ERROR(write_new_processes());
  otlp::ebpf::EventBatch batch;
  for (;;) {
    BPFTAPE_ASSIGN_OR_RETURN(bool more, source.next(batch));
    if (!more) break;
    stats.events += batch.events.size();
    for (const auto& l : batch.losses) stats.lost += l.count;
    // Stored sorted, in drain order: splitting a batch across frames can never make an event
    // late.
    std::stable_sort(batch.events.begin(), batch.events.end(),
                     [](const EbpfEvent& a, const EbpfEvent& b) { return a.timestamp_ns < b.timestamp_ns; });
    BPFTAPE_RETURN_IF_ERROR(write_new_processes());
    BPFTAPE_RETURN_IF_ERROR(writer.append(batch));
  }
  // What changed while the last batch was drained (an exit after the last event): a replay's
  // process table must end as the live one did.
  BPFTAPE_RETURN_IF_ERROR(write_new_processes());
  return stats;
}

std::string TapeDamage::describe() const {
  std::string out;
  if (truncated) out += fmt::format("truncated to {} bytes", truncated_at);
  for (uint64_t offset : flipped_offsets) {
    out += fmt::format("{}byte {} flipped", out.empty() ? "" : ", ", offset);
  }
  return out;
}

TapeDamage damage_tape(const SimOptions& options, std::vector<uint8_t>& bytes) {
  TapeDamage damage;
  const uint64_t first = tape::kFileHeaderSize;
  if (bytes.size() <= first + 1) return damage;
  if (options.faults & kTapeCorrupt) {
    Rng rng(options.seed, "fault/corrupt");
    const uint64_t flips = rng.between(1, 3);
    for (uint64_t i = 0; i < flips; ++i) {
      const uint64_t offset = rng.between(first, bytes.size() - 1);
      bytes[offset] ^= static_cast<uint8_t>(rng.between(1, 255));
      damage.flipped_offsets.push_back(offset);
    }
  }
  if (options.faults & kTapeTruncate) {
    Rng rng(options.seed, "fault/truncate");
    damage.truncated = true;
    damage.truncated_at = rng.between(first, bytes.size() - 1);
    bytes.resize(damage.truncated_at);
    std::erase_if(damage.flipped_offsets, [&](uint64_t o) { return o >= damage.truncated_at; });
  }
  return damage;
}

}  // namespace bpftape::sim
