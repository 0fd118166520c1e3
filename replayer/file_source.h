// FileSource: a tape as an EventSource — the replayer's engine. Same pipeline, same tracers,
// same outputs as the live recording that made the tape.
#pragma once

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
  // Pacing: 0 = as fast as possible; otherwise a factor of real time (1 = as recorded).
  double speed = 0;
};

class FileSource : public otlp::ebpf::EventSource {
 public:
  static otlp::ebpf::Result<std::unique_ptr<FileSource>> open(const std::string& path,
                                                             const FileSourceOptions& options);

  otlp::ebpf::Result<bool> next(otlp::ebpf::EventBatch& batch) override;
  const otlp::ebpf::InternTable& interned() const override { return reader_->interns(); }
  const otlp::ebpf::ProcessTable& processes() const override;
  otlp::ebpf::ClockReference clock() const override;
  std::string recording_id() const override { return reader_->metadata().recording_id; }

  const otlp::ebpf::tape::TapeReader& reader() const { return *reader_; }
  // Monotonic time of the first event (the origin of --since/--until); nullopt before any.
  std::optional<uint64_t> first_event_ns() const { return base_ns_; }
  // Bytes of the file read so far, for progress.
  uint64_t bytes_read() const { return reader_->stats().stored_bytes; }

 private:
  FileSource(std::unique_ptr<otlp::ebpf::tape::TapeReader> reader, FileSourceOptions options);
  void pace(const otlp::ebpf::EventBatch& batch);

  std::unique_ptr<otlp::ebpf::tape::TapeReader> reader_;
  FileSourceOptions options_;
  std::optional<uint64_t> base_ns_;
  bool past_until_ = false;
  // Rebuilt lazily when the tape's process records change.
  mutable otlp::ebpf::ProcessTable processes_;
  mutable uint64_t frames_seen_ = UINT64_MAX;  // reader frame count at the last rebuild
  // Pacing state: wall time (steady clock) at which base_ns_ was delivered.
  std::optional<std::chrono::steady_clock::time_point> pace_start_;
};

}  // namespace bpftape::replay
