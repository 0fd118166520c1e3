#include "simulator/sim_source.h"

#include <fmt/format.h>

namespace bpftape::sim {

std::string SimSource::recording_id() const {
  // Derived from the seed and the options: the same simulation always has the same id.
  const auto& o = world_.options();
  return fmt::format("sim-{:016x}-{}-{}-{}", o.seed, o.workloads, o.faults, o.duration_ns);
}

}  // namespace bpftape::sim
