// TapeReader: reads a .bpftape file back into EventBatches, the recording's metadata, its
// interned data, process table, symbols and BPF stats.
//
// The reader is the security boundary of the tape: every size is checked against the header's
// declared frame limit (itself capped by ReaderOptions::max_frame_bytes) before anything is
// allocated, every frame's CRC-32C is verified before it is decompressed, Cap'n Proto messages
// are read with traversal and nesting limits, and every decoded event passes validate_event()
// and refers only to interned ids defined before it. A damaged frame is a FormatError naming
// its byte offset; nothing in a file can crash the reader, hang it, or make it allocate more
// than the frame limit per decode thread. A whole read is bounded too (ReadLimits: decoded and
// retained bytes derived from the file size); running out is a NotSupported error that says
// how to raise the limits. The index is checked against the frames it points to and dropped,
// with a warning, when it disagrees; open() refuses anything but a regular file without
// blocking (O_NONBLOCK); std::bad_alloc never leaves a reader call. See docs/tape.md.
//
// Recovery: a tape whose writer did not close it has no index/trailer. open() succeeds if the
// file header and metadata frame are whole; reading then scans frame by frame and stops at the
// first incomplete frame, adding a warning "truncated at byte X: N events in M frames
// recovered". A whole frame that fails its checks is an error, not a truncation.
//
// Ownership: the reader owns its file descriptor and the InternTable it rebuilds; batches
// returned by next() refer to ids in interns(), which lives as long as the reader. Not
// thread-safe (it uses worker threads internally for decoding; results arrive in file order).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/intern_table.h"
#include "core/tape/format.h"
#include "core/tape/types.h"

namespace otlp::ebpf::tape {

// Budget for one whole read, so that a small hostile file cannot make a reader decode or keep
// gigabytes (a 2.8 KB tape of highly compressible frames used to decode to 1 GB). Each limit
// is "ratio x file size, at least a floor": the ratios are far above what real tapes reach
// (measured: recorded and simulated tapes decode to 4-40x their size), the floors let small
// tapes decode freely. Exceeding one is an error of kind NotSupported that names the limit and
// how to raise it: `BPFTAPE_TAPE_LIMIT_SCALE=N` in the environment multiplies every limit by N
// for TapeReader::open (see docs/tape.md, "Limits").
struct ReadLimits {
  // Decoded bytes (decompressed messages + 64 bytes per event + 24 per loss record) of the
  // whole read, per byte of file. Bounds the time a read takes (every re-read after seek()
  // counts again).
  uint64_t decoded_per_file_byte = 1024;
  uint64_t min_decoded_bytes = 256ull << 20;
  // Events of one frame (the writer's default is 2^18): bounds the memory of a decoded frame.
  uint64_t max_frame_events = 1ull << 21;
  // Bytes kept for the whole read (interned strings and stacks, process records, mappings,
  // symbols, BPF stats), per byte of file.
  uint64_t retained_per_file_byte = 64;
  uint64_t min_retained_bytes = 128ull << 20;

  // The same limits multiplied by `factor` (saturating).
  ReadLimits scaled(uint64_t factor) const;
};

// The environment variable that scales ReadLimits for TapeReader::open, and the factor it
// holds (1 when unset; an error when it is not a positive integer).
inline constexpr const char* kLimitScaleEnv = "BPFTAPE_TAPE_LIMIT_SCALE";
Result<uint64_t> limit_scale_from_env();

struct ReaderOptions {
  // Frames decompressed and decoded ahead of the consumer on worker threads. 1: everything on
  // the caller's thread. Batches are delivered in file order either way.
  unsigned decode_threads = 1;
  // Upper bound on any frame's size whatever the file declares; a tape declaring more is
  // refused at open(). Lower it where memory matters (the fuzzer uses 4 MiB).
  uint32_t max_frame_bytes = kMaxFrameLimit;
  ReadLimits limits;
};

class TapeReader {
 public:
  struct Stats {
    uint64_t frames = 0;        // frames read and verified (any type)
    uint64_t event_frames = 0;
    uint64_t events = 0;        // events decoded (before seek filtering)
    uint64_t stored_bytes = 0;  // compressed frame bytes read
    uint64_t raw_bytes = 0;     // decompressed message bytes
    uint64_t lost_events = 0;   // sum of the loss records' counts (saturating at UINT64_MAX)
    uint64_t decoded_bytes = 0;   // charged against ReadLimits' decoded budget
    uint64_t retained_bytes = 0;  // charged against ReadLimits' retained budget
    uint64_t duplicate_frames = 0;  // events frames skipped as copies of an earlier one
  };

  static Result<std::unique_ptr<TapeReader>> open(const std::string& path,
                                                  const ReaderOptions& options = {});
  // Reads a tape held in memory (tests, the fuzzer). `bytes` must outlive the reader.
  static Result<std::unique_ptr<TapeReader>> open_memory(std::span<const uint8_t> bytes,
                                                         const ReaderOptions& options = {});
  ~TapeReader();
  TapeReader(const TapeReader&) = delete;
  TapeReader& operator=(const TapeReader&) = delete;

  const FileHeader& header() const;
  const TapeMetadata& metadata() const;
  // True when the tape ends with a valid index and trailer (its writer closed it).
  bool complete() const;
  // The index of a complete tape, while it is trusted: empty when it disagreed with a frame
  // (at open(), in seek() or while reading; a warning says so).
  const std::optional<TapeIndex>& index() const;
  uint64_t file_size() const;

  // Replaces *batch with the next batch. Returns false at the end of the tape. After an error
  // every further call returns the same error.
  Result<bool> next(EventBatch* batch);

  // Positions the reader so that next() yields, in tape order, every event and loss record with
  // timestamp >= timestamp_ns. With an index, frames that end before it are skipped without
  // being decompressed; only the Interned/Processes/Symbols/BpfStats frames before the target
  // are read (interned entries needed to resolve ids). Without an index (a truncated tape) it
  // rewinds and filters while scanning. seek(0) rewinds.
  Result<void> seek(uint64_t timestamp_ns);

  // Interned data of every frame read so far (and, after seek, of every frame before it).
  const InternTable& interns() const;
  // Every process incarnation of the Processes frames read so far, each in its latest
  // recorded state: the table the live side had (pid reuse included), so lookup(pid, t)
  // attributes an event as the live run did.
  const ProcessTable& processes() const;
  const std::vector<Mapping>& mappings() const;
  const std::vector<Symbol>& symbols() const;
  const std::vector<BpfStatsSnapshot>& bpf_stats() const;

  // Problems that did not stop reading (no index, truncation). Final once next() returned false.
  const std::vector<std::string>& warnings() const;
  const Stats& stats() const;

 struct Impl;  // opaque; public only so that reader.cc's helpers can build one

 private:
  explicit TapeReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlp::ebpf::tape
