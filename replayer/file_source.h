// FileSource: a tape as an EventSource — the replayer's engine. Same pipeline, same tracers,
// same outputs as the live recording that made the tape.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/event_source.h"
#include "core/tape/reader.h"

namespace bpftape::replay {

struct FileSourceOptions {
  unsigned decode_threads = 2;  // frames decoded ahead on worker threads; order is kept
  // Window of the recording to read, as offsets from its first event. Frames entirely before
  // `since` are skipped through the index; reading stops once past `until` (+1 s of slack,
  // since events are ordered per CPU, not globally). Events outside the window still reach
  // the pipeline, whose time filter counts them as filtered.
  std::optional<uint64_t> since_ns;
  std::optional<uint64_t> until_ns;
  // Pacing: 0 = as fast as possible; otherwise a factor of real time (1 = as recorded), from
  // kMinSpeed to kMaxSpeed (open() refuses others). A batch is delivered when its newest event
  // is due; a gap in the recording that would take longer than kMaxPaceWait of wall time is
  // shortened to kMaxPaceWait, so a tape with a huge gap (or lying timestamps) cannot stall
  // the replay.
  double speed = 0;
  static constexpr double kMinSpeed = 1e-3;
  static constexpr double kMaxSpeed = 1e6;
  static constexpr std::chrono::seconds kMaxPaceWait{1};
  // Borrowed, may be null; must outlive the source. Non-zero (SIGINT/SIGTERM arrived:
  // cli/stop_signals.h) ends the replay: a pacing wait returns within 100 ms and next() then
  // reports the end of the input, with stopped() true.
  const std::atomic<int>* stop_requested = nullptr;
};

class FileSource : public otlp::ebpf::EventSource {
 public:
  static otlp::ebpf::Result<std::unique_ptr<FileSource>> open(const std::string& path,
                                                             const FileSourceOptions& options);

  otlp::ebpf::Result<bool> next(otlp::ebpf::EventBatch& batch) override;
  const otlp::ebpf::InternTable& interned() const override { return reader_->interns(); }
  const otlp::ebpf::ProcessTable& processes() const override { return reader_->processes(); }
  otlp::ebpf::ClockReference clock() const override;
  std::string recording_id() const override { return reader_->metadata().recording_id; }

  const otlp::ebpf::tape::TapeReader& reader() const { return *reader_; }
  // Monotonic time of the first event (the origin of --since/--until); nullopt before any.
  std::optional<uint64_t> first_event_ns() const { return base_ns_; }
  // Bytes of the file read so far, for progress.
  uint64_t bytes_read() const { return reader_->stats().stored_bytes; }
  // True once next() ended early because options.stop_requested was set.
  bool stopped() const { return stopped_; }

 private:
  FileSource(std::unique_ptr<otlp::ebpf::tape::TapeReader> reader, FileSourceOptions options);
  void pace(const otlp::ebpf::EventBatch& batch);
  bool stop_requested() const;

  std::unique_ptr<otlp::ebpf::tape::TapeReader> reader_;
  FileSourceOptions options_;
  std::optional<uint64_t> base_ns_;
  bool past_until_ = false;
  bool stopped_ = false;
  // Pacing state: the recorded time `pace_anchor_ns_` is due at wall time (steady clock)
  // `pace_anchor_`; later events are due `(t - pace_anchor_ns_) / speed` after it. Moved
  // forward when a gap is shortened.
  std::optional<std::chrono::steady_clock::time_point> pace_anchor_;
  uint64_t pace_anchor_ns_ = 0;
};

}  // namespace bpftape::replay
