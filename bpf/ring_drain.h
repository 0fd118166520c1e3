// RingBufferDrain: consumes BPF ring buffers with ring_buffer__consume() and hands out decoded
// events; LossCounter turns the per-CPU reservation-failure counters into LossRecords.
//
// Programs wake the consumer only when it announced that it sleeps (bt_submit in
// bpf/common.bpf.h), so epoll alone never sees most records. Two ways to use a drain:
//  - paced (the recorder): create_consumer_state() before the probes load, pass its fd in each
//    ProbeOptions, then call paced_drain() in a loop: it sleeps in epoll while nothing comes
//    and ticks while records stream (transport::ConsumerPacing);
//  - plain (tests, bench/kernel): call drain() on the owner's own timer.
// Lifetime: the decoder and the ring maps' object must outlive the drain. Single-threaded, but for
// interrupt_wait().
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bpf/event_decoder.h"
#include "bpf/libbpf_raii.h"
#include "core/error.h"
#include "core/event.h"
#include "core/transport.h"

namespace otlp::ebpf {

class RingBufferDrain {
 public:
  explicit RingBufferDrain(EventDecoder& decoder,
                           transport::ConsumerPacing::Options pacing = {})
      : decoder_(decoder), pacing_(pacing) {}
  ~RingBufferDrain();
  RingBufferDrain(const RingBufferDrain&) = delete;  // libbpf holds `this` as callback context
  RingBufferDrain& operator=(const RingBufferDrain&) = delete;

  // Creates the consumer-state map (bt_consumer_state, mmapped here) and returns its fd, to
  // put in ProbeOptions::consumer_state_fd of every probe this drain will consume. Owned by the
  // drain; once only.
  Result<int> create_consumer_state();

  // Adds a BPF_MAP_TYPE_RINGBUF map (by fd; the fd must stay open while the drain lives).
  Result<void> add_ring(int map_fd);

  // Consumes every record available now in all rings, appending decoded events to `batch`.
  // Returns the number of records consumed. Undecodable records are counted in
  // decode_errors() and skipped (one bad record must not stop the stream).
  Result<size_t> drain(EventBatch& batch);
  // Waits as the pacing says (transport::ConsumerPacing: asleep in epoll until a program wakes
  // it, one streaming tick, or one lazy period), then drains everything. Needs
  // create_consumer_state().
  Result<size_t> paced_drain(EventBatch& batch);
  transport::ConsumerPacing::Wait next_wait() const { return pacing_.next_wait(); }
  // paced_drain() calls; how often it slept in epoll; how often a sleep ended with records
  // (a program woke it) rather than the idle timeout.
  uint64_t paced_drains() const { return paced_drains_; }
  uint64_t sleeps() const { return sleeps_; }
  uint64_t wakeups() const { return wakeups_; }
  // Ends paced_drain()'s current wait in epoll at once, or the next one if none is under way
  // (an eventfd: never lost). The one call that is safe from another thread, while the owner
  // is in paced_drain(); for an owner that must hand the drain over promptly (the seeds'
  // tracers' control calls, stop: tracers/tracers.h). A streaming tick (<= 1 ms) is not cut short. Needs
  // create_consumer_state(); does nothing before it.
  void interrupt_wait();
  uint64_t interrupts() const { return interrupts_; }

  uint64_t decode_errors() const { return decode_errors_; }

 private:
  static int on_record(void* ctx, void* data, size_t size);
  void set_consumer_mode(uint32_t mode);
  // Announces sleep, re-checks the rings, sleeps in epoll if they were empty, wakes.
  Result<size_t> sleep_and_drain(EventBatch& batch);
  // Waits in epoll up to timeout_ns (rounded up to ms) for a program's wakeup or
  // interrupt_wait(), then drains every ring.
  Result<size_t> poll_and_drain(EventBatch& batch, uint64_t timeout_ns);

  EventDecoder& decoder_;
  RingBufferPtr rings_;
  EventBatch* target_ = nullptr;  // set only during drain()
  uint64_t decode_errors_ = 0;
  transport::ConsumerPacing pacing_;
  UniqueFd consumer_fd_;
  UniqueFd interrupt_fd_;  // eventfd; created with the consumer state, written by interrupt_wait()
  UniqueFd wait_set_;      // epoll: libbpf's ring epoll fd + interrupt_fd_; built on first wait
  uint32_t* consumer_mode_ = nullptr;  // mmapped bt_consumer_state.mode; null: no protocol
  uint64_t last_drain_ns_ = 0;  // CLOCK_MONOTONIC at the end of the previous paced drain
  uint64_t paced_drains_ = 0;
  uint64_t sleeps_ = 0;
  uint64_t wakeups_ = 0;
  uint64_t interrupts_ = 0;
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
