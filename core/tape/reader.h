// TapeReader: reads a .bpftape file back into EventBatches, the recording's metadata, its
// interned data, process table, symbols and BPF stats.
//
// The reader is the security boundary of the tape: every size is checked against the header's
// declared frame limit (itself capped by ReaderOptions::max_frame_bytes) before anything is
// allocated, every frame's CRC-32C is verified before it is decompressed, Cap'n Proto messages
// are read with traversal and nesting limits, and every decoded event passes validate_event()
// and refers only to interned ids defined before it. A damaged frame is a FormatError naming
// its byte offset; nothing in a file can crash the reader, hang it, or make it allocate more
// than the frame limit per decode thread.
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

struct ReaderOptions {
  // Frames decompressed and decoded ahead of the consumer on worker threads. 1: everything on
  // the caller's thread. Batches are delivered in file order either way.
  unsigned decode_threads = 1;
  // Upper bound on any frame's size whatever the file declares; a tape declaring more is
  // refused at open(). Lower it where memory matters (the fuzzer uses 4 MiB).
  uint32_t max_frame_bytes = kMaxFrameLimit;
};

class TapeReader {
 public:
  struct Stats {
    uint64_t frames = 0;        // frames read and verified (any type)
    uint64_t event_frames = 0;
    uint64_t events = 0;        // events decoded (before seek filtering)
    uint64_t stored_bytes = 0;  // compressed frame bytes read
    uint64_t raw_bytes = 0;     // decompressed message bytes
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
  // The index of a complete tape.
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
  // Latest update per pid, among the Processes frames read so far.
  const std::map<uint32_t, ProcessInfo>& processes() const;
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
