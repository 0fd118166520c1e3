// PipelineSink: deliveries through the same Pipeline a replay runs (`record --report`, the
// live outputs), and OTLP exported while recording (`record --otlp-endpoint/--otlp-file`).
// Fed after the TapeSink, it sees exactly what the tape holds.
//
// Lifetime: the pipeline, the source and an export stream are borrowed and must outlive the
// sink. Used from the recording loop's thread.
#pragma once

#include "core/error.h"
#include "core/otlp/converter.h"
#include "core/otlp/output.h"
#include "core/pipeline.h"
#include "recorder/delivery.h"
#include "recorder/live_source.h"

namespace bpftape::record {

// The recording as OTLP sees it: its id, clock, and the span of time its events cover so far.
otlp::ebpf::RecordingContext recording_context(const LiveSource& source);

class PipelineSink {
 public:
  PipelineSink(otlp::ebpf::Pipeline& pipeline, const LiveSource& source)
      : pipeline_(pipeline), source_(source) {}

  otlp::ebpf::Result<void> consume(const Delivery& delivery) {
    return pipeline_.process(delivery.batch, source_.interned());
  }
  // After the last delivery: flushes the pipeline's sorter and aggregators.
  otlp::ebpf::Result<void> finish() { return pipeline_.finish(source_.interned()); }

  // Exports `aggregates` (the pipeline's aggregators; the process table is the source's) to
  // `stream` at every export_interval().
  void export_to(otlp::ebpf::OtlpStream& stream, const otlp::ebpf::AggregatorResults& aggregates);
  bool exports() const { return stream_ != nullptr; }
  // Spans that ended and cumulative metrics, with the pipeline brought up to the clock. Nothing
  // before the first event, or without export_to().
  otlp::ebpf::Result<void> export_interval();

 private:
  otlp::ebpf::Pipeline& pipeline_;
  const LiveSource& source_;
  otlp::ebpf::OtlpStream* stream_ = nullptr;
  otlp::ebpf::AggregatorResults aggregates_;
};

}  // namespace bpftape::record
