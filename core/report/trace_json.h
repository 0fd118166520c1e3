// Chrome trace-event JSON (opens in Perfetto UI and chrome://tracing): processes and threads
// as tracks, syscalls as slices (entry -> exit), HTTP requests as slices on the thread that
// served or sent them, process fork/exec/exit as instants. Written as events are delivered
// (an Aggregator), so memory stays flat however long the tape; finish() writes what is only
// known at the end (requests, process names) and closes the JSON.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/output_file.h"
#include "core/process_table.h"
#include "core/tracers/aggregator.h"
#include "core/tracers/network_aggregator.h"

namespace otlp::ebpf {

class TraceJsonWriter : public Aggregator {
 public:
  // Creates `path` through OutputFile (see core/output_file.h: the file appears at its path
  // only when finish() succeeds). The writer owns the file until finish() or destruction.
  static Result<std::unique_ptr<TraceJsonWriter>> open(const std::string& path,
                                                       const OutputFileOptions& options);

  void consume(std::span<const EbpfEvent> events, const InternTable& interned) override;
  // Appends requests and process metadata, closes the JSON, flushes and closes the file.
  Result<void> finish(const NetworkAggregator* network, const ProcessTable& processes);

 private:
  explicit TraceJsonWriter(OutputFile file) : file_(std::move(file)) {}
  void begin_event();
  Result<void> flush_buffer();
  std::string micros(uint64_t ns) const;  // relative to the first event, "123.456"

  OutputFile file_;
  std::string buffer_;
  bool first_event_ = true;
  bool have_base_ = false;
  uint64_t base_ns_ = 0;
  std::optional<EbpfError> write_error_;
};

}  // namespace otlp::ebpf
