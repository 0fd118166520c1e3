#include "recorder/tape_budget.h"

#include <algorithm>
#include <bit>

#include "core/tape/format.h"

namespace bpftape::record {

using namespace otlp::ebpf;

namespace {

// Raw (uncompressed message) bounds. The column encoding of an event is at most ~120 bytes
// (header varints + payload varints), or 64 bytes verbatim plus its index; a loss record three
// varints. Cap'n Proto entries: struct words, a pointer per field and text rounded up to words.
constexpr uint64_t kEventBytes = 256;
constexpr uint64_t kFrameSlack =
    1024;  // a message's framing: segment table, root, ~40 list pointers and their padding
constexpr uint64_t kIndexEntryBytes = 48;  // offset, type, first/last time, count
constexpr uint64_t kProgramBytes = 96;     // a BPF program's stats, without its name

uint64_t process_bytes(const tape::ProcessInfo& p) {
  uint64_t bytes = 160 + p.comm.size() + p.exe.size() + p.cgroup.size() + p.container_id.size();
  for (const auto& arg : p.cmdline) bytes += arg.size() + 16;
  return bytes;
}

// zstd's worst case on incompressible input (ZSTD_compressBound: size + size/256 + a little)
// with room to spare, plus the frame header.
uint64_t stored(uint64_t raw) { return tape::kFrameHeaderSize + raw + raw / 128 + 512; }

uint64_t bpf_stats_bytes(const tape::BpfStatsSnapshot& stats) {
  uint64_t bytes = kFrameSlack;
  for (const auto& p : stats.programs) bytes += kProgramBytes + p.name.size();
  return bytes;
}

}  // namespace

void TapeBudget::configure(uint64_t max_bytes, tape::WriterOptions* options) {
  options->frame_bytes = static_cast<uint32_t>(
      std::clamp<uint64_t>(std::bit_floor(std::max<uint64_t>(max_bytes / 256, 1)), 4096,
                           std::min<uint64_t>(options->frame_bytes, 1u << 20)));
  options->background_compression = false;
}

TapeBudget::TapeBudget(uint64_t max_bytes, const tape::WriterOptions& options)
    : max_bytes_(max_bytes),
      frame_bytes_(options.frame_bytes),
      queued_frames_(options.background_compression ? options.queued_frames + 1 : 0),
      largest_entry_(kEventBytes) {}

uint64_t TapeBudget::on_disk(uint64_t raw) const {
  if (raw == 0) return 0;
  // Each frame but the last is filled to frame_bytes, or to within one entry of it (interned
  // entries): two consecutive frames hold more than frame_bytes.
  const uint64_t frames = 2 * raw / frame_bytes_ + 1;
  return stored(raw) + frames * stored(kFrameSlack);
}

void TapeBudget::flushed() {
  if (items_since_flush_ > 0) interned_pending_ = 0;
  items_since_flush_ = 0;
}

std::optional<size_t> TapeBudget::events_that_fit(const tape::TapeWriter::Stats& written,
                                                  const InternTable& interns,
                                                  std::span<const tape::ProcessInfo> processes,
                                                  const NewSymbols& symbols, size_t losses,
                                                  size_t events,
                                                  const tape::BpfStatsSnapshot& bpf_stats) {
  // Interned entries added since the previous call (by the decode that produced this batch).
  // They are written with the next events frame or at close() whether or not the batch is.
  const uint64_t interned_before = interned_pending_;
  for (; strings_seen_ < interns.string_count(); ++strings_seen_) {
    const uint64_t bytes = interns.string(strings_seen_ + 1).size() + 16;
    interned_pending_ += bytes;
    largest_entry_ = std::max(largest_entry_, bytes);
  }
  for (; stacks_seen_ < interns.stack_count(); ++stacks_seen_) {
    const uint64_t bytes = interns.stack(stacks_seen_ + 1).size() * 8 + 16;
    interned_pending_ += bytes;
    largest_entry_ = std::max(largest_entry_, bytes);
  }
  largest_interned_growth_ =
      std::max(largest_interned_growth_, interned_pending_ - interned_before);
  uint64_t process_raw = 0, symbol_raw = 0;
  for (const auto& p : processes) {
    process_raw += process_bytes(p);
    largest_entry_ = std::max(largest_entry_, process_bytes(p));
  }
  for (const auto& m : symbols.mappings) {
    symbol_raw += 96 + m.path.size() + m.build_id.size();
    largest_entry_ = std::max<uint64_t>(largest_entry_, 96 + m.path.size() + m.build_id.size());
  }
  for (const auto& s : symbols.symbols) {
    symbol_raw += 64 + s.name.size();
    largest_entry_ = std::max<uint64_t>(largest_entry_, 64 + s.name.size());
  }
  // Any frame: entries whose size by the writer's own measure stays under frame_bytes (events:
  // 1.5x), which Cap'n Proto's framing of small entries may more than double, then one more.
  const uint64_t frame_raw =
      std::max(3 * frame_bytes_ + largest_entry_ + kFrameSlack, bpf_stats_bytes(bpf_stats));
  // The open events frame: what was appended since the last flush, at most a frame.
  const uint64_t open_frame =
      items_since_flush_
          ? stored(std::min(frame_raw, items_since_flush_ * kEventBytes + kFrameSlack))
          : 0;
  const uint64_t bpf_stats_disk = stored(bpf_stats_bytes(bpf_stats));

  // The closed tape's size if `events` of the batch's events are written now.
  auto closed_size = [&](uint64_t n) {
    const uint64_t items_raw = (losses + n) * kEventBytes;
    const uint64_t frames =
        written.frames + queued_frames_ + 3 +
        (interned_pending_ + process_raw + symbol_raw + items_raw) / frame_bytes_ + 4;
    const uint64_t index_disk = stored(frames * kIndexEntryBytes + kFrameSlack);
    return written.bytes_written + queued_frames_ * stored(frame_raw) + open_frame +
           on_disk(interned_pending_) + on_disk(2 * largest_interned_growth_) +
           on_disk(process_raw) + on_disk(symbol_raw) + on_disk(items_raw) + 2 * bpf_stats_disk +
           index_disk + tape::kTrailerSize;
  };
  if (closed_size(0) > max_bytes_) return std::nullopt;
  // The largest prefix that fits: closed_size grows with the number of events.
  size_t lo = 0, hi = events;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo + 1) / 2;
    if (closed_size(mid) <= max_bytes_) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

}  // namespace bpftape::record
