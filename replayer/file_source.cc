#include "replayer/file_source.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace bpftape::replay {

using namespace otlp::ebpf;

namespace {
constexpr uint64_t kUntilSlackNs = 1'000'000'000;
}  // namespace

Result<std::unique_ptr<FileSource>> FileSource::open(const std::string& path,
                                                     const FileSourceOptions& options) {
  tape::ReaderOptions reader_options;
  reader_options.decode_threads = std::max(1u, options.decode_threads);
  BPFTAPE_ASSIGN_OR_RETURN(auto reader, tape::TapeReader::open(path, reader_options));
  auto source = std::unique_ptr<FileSource>(new FileSource(std::move(reader), options));
  // With an index the first event's time is known up front: seek past what --since skips.
  if (const auto& index = source->reader_->index()) {
    for (const auto& f : index->frames) {
      if (f.event_count > 0) {
        source->base_ns_ = std::min(source->base_ns_.value_or(UINT64_MAX), f.first_timestamp_ns);
      }
    }
    if (source->base_ns_ && options.since_ns) {
      BPFTAPE_RETURN_IF_ERROR(source->reader_->seek(*source->base_ns_ + *options.since_ns));
    }
  }
  return source;
}

FileSource::FileSource(std::unique_ptr<tape::TapeReader> reader, FileSourceOptions options)
    : reader_(std::move(reader)), options_(options) {}

Result<bool> FileSource::next(EventBatch& batch) {
  batch.clear();
  if (past_until_) return false;
  BPFTAPE_ASSIGN_OR_RETURN(bool more, reader_->next(&batch));
  if (!more) return false;
  if (!base_ns_ && !batch.events.empty()) {
    base_ns_ = std::min_element(batch.events.begin(), batch.events.end(),
                                [](const EbpfEvent& a, const EbpfEvent& b) {
                                  return a.timestamp_ns < b.timestamp_ns;
                                })->timestamp_ns;
  }
  if (options_.until_ns && base_ns_ && !batch.events.empty()) {
    uint64_t oldest = batch.events.front().timestamp_ns;
    for (const auto& e : batch.events) oldest = std::min(oldest, e.timestamp_ns);
    if (oldest > *base_ns_ + *options_.until_ns + kUntilSlackNs) past_until_ = true;
  }
  if (options_.speed > 0) pace(batch);
  return true;
}

void FileSource::pace(const EventBatch& batch) {
  if (batch.events.empty() || !base_ns_) return;
  auto now = std::chrono::steady_clock::now();
  if (!pace_start_) pace_start_ = now;
  uint64_t recorded = batch.events.back().timestamp_ns - *base_ns_;
  auto due = *pace_start_ + std::chrono::nanoseconds(
                                static_cast<int64_t>(static_cast<double>(recorded) / options_.speed));
  if (due > now) std::this_thread::sleep_until(due);
}

const ProcessTable& FileSource::processes() const {
  // Process records arrive in their own frames: rebuild when more frames have been read.
  if (reader_->stats().frames != frames_seen_) {
    processes_ = ProcessTable();
    for (const auto& [pid, p] : reader_->processes()) processes_.upsert(tape::to_core_process(p));
    frames_seen_ = reader_->stats().frames;
  }
  return processes_;
}

ClockReference FileSource::clock() const { return reader_->metadata().clock; }

}  // namespace bpftape::replay
