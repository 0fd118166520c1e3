// TapeWriter: appends event batches and recording metadata to a .bpftape file.
//
// Append-only: the file header and the metadata frame are written by create(); events are
// column-encoded into an in-memory frame (bounded by WriterOptions::frame_bytes) that is
// compressed and appended when full; interned entries new since the previous frame go out in
// an Interned frame right before the events frame that may use them; close() writes the
// index and the trailer and fsyncs. At every moment the bytes on disk are a readable tape:
// a writer that is killed leaves a tape that readers recover up to its last whole frame.
//
// Ownership and lifetime: the writer owns its sink (the file). The InternTable belongs to the
// source that produced the events and must outlive the writer; the writer only reads it
// (ids up to string_count()/stack_count() at flush time), always on the caller's thread. Not
// thread-safe: one caller thread. With WriterOptions::background_compression the writer owns
// one worker thread that writes the frames in order: an events frame is handed over as its
// column encoder (swapped for an empty, recycled one), and the worker builds the Cap'n Proto
// message, serializes, compresses and writes it; the small metadata frames are serialized on
// the caller's thread. An error there is returned by the caller's next call (or close()).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/output_file.h"
#include "core/event.h"
#include "core/intern_table.h"
#include "core/tape/types.h"

namespace otlp::ebpf::tape {

struct WriterOptions {
  // An events frame is closed when its encoded columns reach frame_bytes or it holds
  // frame_events events. Bigger frames compress a little better; they cost that much memory in
  // the writer (and per decode thread in readers) and make seeking coarser.
  uint32_t frame_bytes = 1u << 20;
  uint32_t frame_events = 1u << 18;
  // Declared in the file header: no frame's stored or raw size may exceed it, so readers can
  // bound every allocation. Must be >= 2 * frame_bytes (headroom for framing and for zstd's
  // worst case on incompressible data).
  uint32_t max_frame_bytes = 64u << 20;
  int zstd_level = 3;      // 1..19; 3 writes > 5 M events/s on one core
  bool overwrite = false;  // refuse to replace an existing file unless set
  std::vector<std::string> inputs;  // files this run reads: the tape must not be one of them
  // A tape file appears at its path once its header and metadata are written, so that a killed
  // writer leaves a readable tape there. With defer_publish it appears only at publish() or
  // close(), and a writer that fails or is destroyed before then leaves no file behind (a
  // recording whose command could not start).
  bool defer_publish = false;
  // Build, compress and write events frames on a worker thread, so that the caller (the
  // recorder's drain loop) never stalls for a frame — copying a full frame's columns into a
  // message and serializing it took ~1 ms, compressing it several — in which a small kernel
  // ring would overflow: the caller only swaps column encoders. At most `queued_frames` serialized frames wait for the worker; beyond that
  // the caller waits (back-pressure instead of unbounded memory).
  bool background_compression = false;
  uint32_t queued_frames = 4;

  Result<void> validate() const;
};

// Where the bytes go. The file sink is the normal one; tests inject failing sinks to check
// that ENOSPC/EIO surface as errors and leave a readable prefix.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Writes all of `bytes` or returns an Io error (the sink may have written a prefix).
  virtual Result<void> write(std::span<const uint8_t> bytes) = 0;
  // Makes everything written so far durable (fsync).
  virtual Result<void> sync() = 0;
  // Makes the bytes visible at their final name (a file written beside it until then).
  virtual Result<void> publish() { return {}; }
  virtual Result<void> close() = 0;
};

// Collects the tape in memory (the simulator's --check, tests). Optionally fails like a full
// disk once `fail_after` bytes have been accepted, after accepting the part that fits.
// `out` is borrowed and must outlive the sink.
class MemorySink final : public ByteSink {
 public:
  explicit MemorySink(std::vector<uint8_t>* out, size_t fail_after = SIZE_MAX)
      : out_(out), fail_after_(fail_after) {}
  Result<void> write(std::span<const uint8_t> bytes) override;
  Result<void> sync() override { return {}; }
  Result<void> close() override { return {}; }

 private:
  std::vector<uint8_t>* out_;
  size_t fail_after_;
};

// A tape file at `path`, written through OutputFile (mode 0600: tapes hold command lines and
// addresses). Fails if the file exists, unless `options.overwrite`, or is one of the inputs.
// The sink's publish() or close() moves it into place.
Result<std::unique_ptr<ByteSink>> open_file_sink(const std::string& path,
                                                 const OutputFileOptions& options);

class TapeWriter {
 public:
  struct Stats {
    uint64_t events = 0;
    uint64_t losses = 0;        // loss records (not the lost-event count)
    uint64_t frames = 0;
    uint64_t bytes_written = 0;  // file size so far
    uint64_t raw_bytes = 0;      // uncompressed message bytes so far
  };

  static Result<std::unique_ptr<TapeWriter>> create(const std::string& path,
                                                    const TapeMetadata& metadata,
                                                    const InternTable& interns,
                                                    const WriterOptions& options = {});
  static Result<std::unique_ptr<TapeWriter>> create(std::unique_ptr<ByteSink> sink,
                                                    const TapeMetadata& metadata,
                                                    const InternTable& interns,
                                                    const WriterOptions& options = {});
  // Best effort close() when the caller did not close: errors are lost here, so call close().
  // A tape still unpublished (defer_publish) is discarded instead: it never appears.
  ~TapeWriter();
  TapeWriter(const TapeWriter&) = delete;
  TapeWriter& operator=(const TapeWriter&) = delete;

  // Appends a batch. Every event must pass validate_event() and refer only to ids already in
  // the InternTable; otherwise nothing of the batch is written and an EventProcessingFailed
  // error names the event. A batch bigger than a frame is split across frames (and read back
  // as consecutive batches); otherwise batches read back exactly as appended.
  Result<void> append(const EventBatch& batch);

  // Metadata the recorder learns as it goes. Each call writes its own frame(s) at once.
  Result<void> write_processes(std::span<const ProcessInfo> updates);
  Result<void> write_symbols(std::span<const Mapping> mappings, std::span<const Symbol> symbols);
  Result<void> write_bpf_stats(const BpfStatsSnapshot& stats);

  // Writes the pending events frame (if any) and the interned entries before it.
  Result<void> flush();
  // Makes the tape visible at its path (see WriterOptions::defer_publish). Idempotent.
  Result<void> publish();
  // flush(), index frame, trailer, fsync. Idempotent; after it every call fails.
  Result<void> close();
  // Gives the tape up without closing it: an unpublished tape file is removed, a published one
  // keeps what was written (readable up to its last whole frame). After it every call fails.
  void discard();

  // A snapshot: with background compression, bytes_written and frames count what the worker
  // has written so far.
  Stats stats() const;

 private:
  TapeWriter(std::unique_ptr<ByteSink> sink, const InternTable& interns,
             const WriterOptions& options);
  struct Impl;
  struct SerializedFrame;
  Result<void> check_usable();
  Result<void> fail(EbpfError error);
  // Waits until the worker has written every queued frame, then closes it; its error, if any,
  // becomes the writer's. No-op without a worker.
  Result<void> stop_worker();
  // The background worker's handler: serializes an events frame, writes it.
  Result<void> write_in_background(SerializedFrame& frame);
  Result<void> write_header_and_metadata(const TapeMetadata& metadata);
  Result<void> flush_events();
  Result<void> flush_interned();
  // Serializes one message and hands it to store_frame, directly or through the worker.
  Result<void> write_frame(uint8_t type, void* message_builder, uint64_t first_ts,
                           uint64_t last_ts, uint32_t events);
  // Hands a frame to store_frame, directly or through the worker's queue (waiting while the
  // queue is full); an error the worker hit earlier is returned here.
  Result<void> write_serialized(SerializedFrame&& frame);
  // ConfigError when a serialized frame exceeds max_frame_bytes.
  Result<void> check_frame_size(const SerializedFrame& frame) const;
  // Compresses and appends one serialized frame; records it in the index. Runs on the worker
  // when there is one, else on the caller's thread.
  Result<void> store_frame(const SerializedFrame& frame);

  std::unique_ptr<Impl> impl_;
  std::unique_ptr<ByteSink> sink_;
  const InternTable& interns_;
  WriterOptions options_;
  Stats stats_;
  std::optional<EbpfError> failed_;
  bool closed_ = false;
  bool published_ = false;  // the file is visible at its path (see WriterOptions::defer_publish)
};

}  // namespace otlp::ebpf::tape
