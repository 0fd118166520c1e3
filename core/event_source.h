// EventSource: what the live recorder, the tape reader and the simulator all are to the
// pipeline (Falco's capture-engine idea: replay is just another engine).
//
// Lifetime contract for next(): the source clears `batch` and fills it; ids in the events
// refer to interned(), which only grows and lives as long as the source. processes() may gain
// entries as batches are read. A source is used from one thread.
#pragma once

#include <cstdint>
#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "core/event.h"
#include "core/intern_table.h"
#include "core/process_table.h"

namespace otlp::ebpf {

class EventSource {
 public:
  virtual ~EventSource() = default;

  // Fills `batch` with the next events and losses. Returns false at the end of the stream
  // (with `batch` empty). Errors are final for this source.
  virtual Result<bool> next(EventBatch& batch) = 0;

  virtual const InternTable& interned() const = 0;
  virtual const ProcessTable& processes() const = 0;
  virtual ClockReference clock() const = 0;
  // A stable identity of the recording (used to derive OTLP ids); same tape -> same id.
  virtual std::string recording_id() const = 0;
};

}  // namespace otlp::ebpf
