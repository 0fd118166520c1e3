// Column encoding of events and losses (the Events frame). Private to core/tape: the writer
// and reader are the only users; tests reach it through them.
//
// Each header field and each payload field is its own column (timestamps as zigzag deltas,
// pids as deltas, tids relative to the pid, payload fields per payload kind), so zstd sees
// long runs of near-identical bytes: a syscall storm compresses to ~2-3 bytes/event. Events
// whose 64 bytes are not exactly what the columns rebuild (non-zero reserved/padding bytes)
// are stored whole, so the encoding is lossless for every valid event.
//
// The five original payload kinds have fixed columns (their encoding is part of the format
// and hand-specialized for speed); a payload kind whose table (core/payload_fields.h) says
// fixed_columns = false is stored in Events.extraColumns, one column per table field, encoded
// and decoded from the table alone (docs/tape.md, "Generic payload columns").
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/tape/tape.capnp.h"

namespace otlp::ebpf::tape {

// The event as the columns rebuild it: header + the payload fields of its kind, all other
// bytes zero. encode() stores an event verbatim exactly when canonical(e) != e.
EbpfEvent canonical_event(const EbpfEvent& event);

// Largest string and stack id an event refers to (0 when none).
struct InternRefs {
  uint32_t max_string = 0;
  uint32_t max_stack = 0;
};
// From the payload field tables (the fields whose format refers to interned data).
inline void add_intern_refs(const EbpfEvent& event, InternRefs* refs) {
  add_field_intern_refs(event, &refs->max_string, &refs->max_stack);
}

// Accumulates one Events frame. Memory: the column bytes (a few bytes per event), no event
// copies. Not thread-safe.
class EventFrameEncoder {
 public:
  EventFrameEncoder();
  void add_event(const EbpfEvent& event);
  // Stores `kind` in Events.extraColumns even if it has fixed columns. Readers decode either
  // form; tests use this to prove the generic path on real payload kinds. Call while empty().
  void encode_generically(PayloadKind kind) {
    generic_kinds_ |= 1u << static_cast<unsigned>(kind);
  }
  void add_loss(const LossRecord& loss);
  // Closes the current batch (no-op when it is empty).
  void end_batch();

  uint32_t event_count() const { return event_count_; }
  uint32_t loss_count() const { return loss_count_; }
  bool empty() const { return event_count_ == 0 && loss_count_ == 0; }
  // Bytes of column data so far (the frame's raw size minus a few hundred bytes of framing).
  size_t encoded_bytes() const { return encoded_bytes_; }
  uint64_t first_timestamp_ns() const { return first_ts_; }
  uint64_t last_timestamp_ns() const { return last_ts_; }

  // Writes everything added (closing the open batch) into `out`; then clear() to reuse.
  void build(schema::Events::Builder out);
  void clear();

 private:
  enum Column : uint8_t {
    kTimestamps, kTypes, kCpus, kPids, kTids, kFlags, kVerbatimIndex, kVerbatimEvents,
    kCpuUserStack, kCpuKernelStack, kSysNr, kSysRet, kSysDuration,
    kMemAddress, kMemSize, kMemOldAddress, kMemStack, kMemOp,
    kProcParent, kProcChild, kProcExitCode, kProcComm, kProcFilename,
    kNetSocket, kNetDuration, kNetBytes, kNetEndpoints, kNetPayload, kNetLocalPort,
    kNetRemotePort, kNetSmall, kLossTimestamps, kLossCpus, kLossCounts, kColumnCount
  };
  void varint(Column c, uint64_t v);
  void byte(Column c, uint8_t v);
  void note_timestamp(uint64_t ts);
  void add_generic_payload(const EbpfEvent& e, PayloadKind kind);

  // A growable byte buffer that, unlike std::vector, lets varint() write up to 10 bytes past
  // the end without zero-filling them first (the encoder's hot path).
  struct ByteColumn {
    std::unique_ptr<uint8_t[]> data;
    size_t size = 0;
    size_t capacity = 0;
    uint8_t* reserve(size_t extra) {
      if (size + extra > capacity) grow(size + extra);
      return data.get() + size;
    }
    void grow(size_t need);
  };
  void put_varint(ByteColumn& col, uint64_t v);
  std::array<ByteColumn, kColumnCount> columns_;
  // Payload kinds stored in extraColumns (bit = PayloadKind): those without fixed columns,
  // plus any encode_generically() named.
  uint32_t generic_kinds_;
  static_assert(kPayloadKindCount <= 32);
  // extraColumns being built: per kind, one column per table field (sized on first use).
  std::array<std::vector<ByteColumn>, kPayloadKindCount> extra_columns_;
  std::array<uint32_t, kPayloadKindCount> extra_events_{};
  std::vector<uint32_t> batch_events_;
  std::vector<uint32_t> batch_losses_;
  uint32_t open_batch_events_ = 0;
  uint32_t open_batch_losses_ = 0;
  uint32_t event_count_ = 0;
  uint32_t loss_count_ = 0;
  size_t encoded_bytes_ = 0;
  bool have_base_ = false;
  uint64_t base_ts_ = 0;
  uint64_t prev_ts_ = 0;
  uint64_t prev_loss_ts_ = 0;
  uint32_t prev_pid_ = 0;
  uint64_t prev_mem_address_ = 0;
  uint32_t last_verbatim_ = 0;
  uint64_t first_ts_ = 0;
  uint64_t last_ts_ = 0;
};

// Recycles the event vectors of batches the consumer is done with, so that decoding writes
// into memory that is already mapped (fresh 256 KiB allocations cost a page fault per 4 KiB,
// which profiled at a quarter of read time). Thread-safe: decode threads take, the consumer
// gives back. Holds at most kMaxPooled vectors.
class EventVectorPool {
 public:
  std::vector<EbpfEvent> take();
  void give(std::vector<EbpfEvent>&& events);

 private:
  static constexpr size_t kMaxPooled = 64;
  std::mutex mutex_;
  std::vector<std::vector<EbpfEvent>> free_;
};

struct DecodedEvents {
  std::vector<EventBatch> batches;
  InternRefs refs;
  uint64_t event_count = 0;
  uint64_t first_timestamp_ns = 0;
  uint64_t last_timestamp_ns = 0;
};

// Decodes and validates an Events message (every event passes validate_event; every column is
// consumed exactly). Errors are FormatError messages without the frame offset: the caller
// adds it. Allocations are bounded by the column sizes, i.e. by the frame's raw size.
// Capnp accessors may throw kj::Exception; the caller converts them (see reader.cc).
// `pool` (may be null) supplies the batches' event vectors.
Result<DecodedEvents> decode_events(schema::Events::Reader in, EventVectorPool* pool);

}  // namespace otlp::ebpf::tape
