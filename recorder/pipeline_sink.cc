#include "recorder/pipeline_sink.h"

#include <time.h>

#include "core/clock.h"

namespace bpftape::record {

using namespace otlp::ebpf;

RecordingContext recording_context(const LiveSource& source) {
  const auto stats = source.stats();
  return RecordingContext{source.recording_id(), source.clock(), stats.first_event_ns,
                          stats.last_event_ns};
}

void PipelineSink::export_to(OtlpStream& stream, const AggregatorResults& aggregates) {
  stream_ = &stream;
  aggregates_ = aggregates;
  aggregates_.processes = &source_.processes();
}

Result<void> PipelineSink::export_interval() {
  if (!stream_) return {};
  const RecordingContext recording = recording_context(source_);
  if (recording.start_ns == 0) return {};  // nothing seen yet
  // A quiet stream does not move the sorter's window: the clock does.
  BPFTAPE_RETURN_IF_ERROR(pipeline_.advance_to(read_clock_ns(CLOCK_MONOTONIC), source_.interned()));
  return stream_->export_interval(recording, aggregates_);
}

}  // namespace bpftape::record
