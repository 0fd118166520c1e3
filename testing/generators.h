// RapidCheck generators of what bpftape's pipeline hands an aggregator: valid events, streams
// in time order, the same stream cut into batches, source batches with loss records, and
// small simulations (docs/harness.md). A failing property prints RapidCheck's
// RC_PARAMS="reproduce=..." line; rerunning the test binary with it replays the case.
//
// Value spaces are deliberately small so that what aggregators key on collides often: pids
// are drawn from {0 (the idle task, tid 0), 1, 2, 3, 4242}, cpus from 0..3, syscall numbers
// mostly below 20, memory addresses from sixteen 16-byte slots (so frees meet allocations).
// Interned references (stacks, comm, filename, socket endpoints, payloads) are kNoId: the
// events need no InternTable, any table (an empty one) will do.
#pragma once

#include <rapidcheck.h>

#include <vector>

#include "core/event.h"
#include "simulator/sim_options.h"

namespace bpftape::testing {

// One event that passes otlp::ebpf::validate_event, of one of `types` (every known type when
// empty), with a timestamp in [1, 1'000'000].
rc::Gen<otlp::ebpf::EbpfEvent> valid_event(std::vector<otlp::ebpf::EbpfEventType> types = {});

// Valid events of `types` in the order the pipeline delivers them: timestamps nondecreasing
// (ties included), starting at 1.
rc::Gen<std::vector<otlp::ebpf::EbpfEvent>> valid_stream(
    std::vector<otlp::ebpf::EbpfEventType> types = {});

// `events` cut into consecutive non-empty batches at arbitrary points (no batch when `events`
// is empty): concatenated, they are `events` again. Aggregates should not depend on the cuts.
rc::Gen<std::vector<std::vector<otlp::ebpf::EbpfEvent>>> batches_of(
    std::vector<otlp::ebpf::EbpfEvent> events);

// A batch as a source yields it: a valid stream, and sometimes loss records (cpu 0..3, count
// >= 1, timestamps within the stream's range).
rc::Gen<otlp::ebpf::EventBatch> valid_batch(std::vector<otlp::ebpf::EbpfEventType> types = {});

// Options for a short simulation (at most 200 ms of virtual time, 1..4 CPUs, light rates): an
// arbitrary seed and a non-empty set of workloads, no faults (set options.faults to add them).
// Feed them to simulate_into() (testing/run.h).
rc::Gen<sim::SimOptions> small_simulation();

}  // namespace bpftape::testing
