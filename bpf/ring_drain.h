// RingBufferDrain: consumes BPF ring buffers with ring_buffer__consume() and hands out decoded
// events; LossCounter turns the per-CPU reservation-failure counters into LossRecords.
//
// Records are submitted with BPF_RB_NO_WAKEUP (see bpf/common.bpf.h), so epoll-based polling
// alone never sees them: the owner calls drain() on a short timer (or after poll() returns).
// Lifetime: the decoder and the ring maps' object must outlive the drain. Single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bpf/event_decoder.h"
#include "bpf/libbpf_raii.h"
#include "core/error.h"
#include "core/event.h"

namespace otlp::ebpf {

class RingBufferDrain {
 public:
  explicit RingBufferDrain(EventDecoder& decoder) : decoder_(decoder) {}
  RingBufferDrain(const RingBufferDrain&) = delete;  // libbpf holds `this` as callback context
  RingBufferDrain& operator=(const RingBufferDrain&) = delete;

  // Adds a BPF_MAP_TYPE_RINGBUF map (by fd; the fd must stay open while the drain lives).
  Result<void> add_ring(int map_fd);

  // Consumes every record available now in all rings, appending decoded events to `batch`.
  // Returns the number of records consumed. Undecodable records are counted in
  // decode_errors() and skipped (one bad record must not stop the stream).
  Result<size_t> drain(EventBatch& batch);
  // Waits up to timeout_ms for a wakeup, then drains everything (woken or not).
  Result<size_t> poll(EventBatch& batch, int timeout_ms);

  uint64_t decode_errors() const { return decode_errors_; }

 private:
  static int on_record(void* ctx, void* data, size_t size);

  EventDecoder& decoder_;
  RingBufferPtr rings_;
  EventBatch* target_ = nullptr;  // set only during drain()
  uint64_t decode_errors_ = 0;
};

// Reads a one-entry BPF_MAP_TYPE_PERCPU_ARRAY of u64 drop counters (the "drops" map of every
// bpftape program) and reports what each CPU lost since the previous collect().
class LossCounter {
 public:
  // map_fd: borrowed; must stay open while this lives.
  explicit LossCounter(int map_fd);

  // Appends one LossRecord per CPU whose counter grew, stamped with `now_ns`.
  Result<size_t> collect(uint64_t now_ns, std::vector<LossRecord>& out);
  // Same, stamped with the current CLOCK_MONOTONIC time (the clock of event timestamps).
  Result<size_t> collect(std::vector<LossRecord>& out);
  uint64_t total() const { return total_; }

 private:
  int map_fd_;
  std::vector<uint64_t> last_;  // per possible CPU
  uint64_t total_ = 0;
};

}  // namespace otlp::ebpf
