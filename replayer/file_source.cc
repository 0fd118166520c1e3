#include "replayer/file_source.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>

#include "core/clock.h"

namespace bpftape::replay {

using namespace otlp::ebpf;

namespace {
constexpr uint64_t kUntilSlackNs = 1'000'000'000;
// Longest single sleep while pacing: how soon a stop request is noticed.
constexpr std::chrono::milliseconds kPaceSlice{100};
}  // namespace

Result<std::unique_ptr<FileSource>> FileSource::open(const std::string& path,
                                                     const FileSourceOptions& options) {
  if (options.speed != 0 && !(options.speed >= FileSourceOptions::kMinSpeed &&
                              options.speed <= FileSourceOptions::kMaxSpeed)) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("replay speed {} is outside {}..{} (or 0 for as fast as "
                                  "possible)",
                                  options.speed, FileSourceOptions::kMinSpeed,
                                  FileSourceOptions::kMaxSpeed));
  }
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
      BPFTAPE_RETURN_IF_ERROR(
          source->reader_->seek(saturating_add(*source->base_ns_, *options.since_ns)));
    }
  }
  return source;
}

FileSource::FileSource(std::unique_ptr<tape::TapeReader> reader, FileSourceOptions options)
    : reader_(std::move(reader)), options_(options) {}

Result<bool> FileSource::next(EventBatch& batch) {
  batch.clear();
  if (past_until_) return false;
  if (stop_requested()) {
    stopped_ = true;
    return false;
  }
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
    if (oldest > saturating_add(saturating_add(*base_ns_, *options_.until_ns), kUntilSlackNs)) {
      past_until_ = true;
    }
  }
  if (options_.speed > 0) pace(batch);
  return true;
}

bool FileSource::stop_requested() const {
  return options_.stop_requested != nullptr && options_.stop_requested->load() != 0;
}

void FileSource::pace(const EventBatch& batch) {
  if (batch.events.empty() || !base_ns_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!pace_anchor_) {
    pace_anchor_ = now;
    pace_anchor_ns_ = *base_ns_;
  }
  uint64_t newest = 0;
  for (const auto& e : batch.events) newest = std::max(newest, e.timestamp_ns);
  // Events no later than the anchor (out of order, or before an index's lying start time) are
  // due already; nothing is subtracted the wrong way round.
  if (newest <= pace_anchor_ns_) return;
  // In double nanoseconds, compared before any conversion to an integer: no overflow for any
  // timestamp and speed.
  const double after_anchor_ns = static_cast<double>(newest - pace_anchor_ns_) / options_.speed;
  const double ahead_ns =
      after_anchor_ns -
      static_cast<double>(std::chrono::nanoseconds(now - *pace_anchor_).count());
  if (ahead_ns <= 0) return;
  std::chrono::steady_clock::time_point due;
  constexpr auto kMaxWaitNs = std::chrono::nanoseconds(FileSourceOptions::kMaxPaceWait).count();
  if (ahead_ns > static_cast<double>(kMaxWaitNs)) {
    // A gap longer than the bound: wait the bound, and pace what follows from here.
    due = now + FileSourceOptions::kMaxPaceWait;
    pace_anchor_ = due;
    pace_anchor_ns_ = newest;
  } else {
    due = now + std::chrono::nanoseconds(static_cast<int64_t>(std::ceil(ahead_ns)));
  }
  // In slices, so that SIGINT/SIGTERM end the wait within kPaceSlice.
  for (auto t = now; t < due && !stop_requested(); t = std::chrono::steady_clock::now()) {
    std::this_thread::sleep_until(std::min(due, t + kPaceSlice));
  }
}

ClockReference FileSource::clock() const { return reader_->metadata().clock; }

}  // namespace bpftape::replay
