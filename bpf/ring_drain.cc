#include "bpf/ring_drain.h"

#include <bpf/bpf.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace otlp::ebpf {

int RingBufferDrain::on_record(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingBufferDrain*>(ctx);
  auto decoded = self->decoder_.decode(
      std::span<const std::byte>(static_cast<const std::byte*>(data), size),
      self->target_->events);
  if (!decoded) ++self->decode_errors_;
  return 0;
}

Result<void> RingBufferDrain::add_ring(int map_fd) {
  if (!rings_) {
    rings_.reset(ring_buffer__new(map_fd, &RingBufferDrain::on_record, this, nullptr));
    if (!rings_) {
      return errno_error(ErrorKind::MapOperationFailed, "ring_buffer__new on the events map", errno);
    }
    return {};
  }
  if (ring_buffer__add(rings_.get(), map_fd, &RingBufferDrain::on_record, this) != 0) {
    return errno_error(ErrorKind::MapOperationFailed, "ring_buffer__add on an events map", errno);
  }
  return {};
}

Result<size_t> RingBufferDrain::drain(EventBatch& batch) {
  if (!rings_) {
    return make_error(ErrorKind::EventProcessingFailed, "no ring buffer added: call add_ring first");
  }
  target_ = &batch;
  const int n = ring_buffer__consume(rings_.get());
  target_ = nullptr;
  if (n < 0) return errno_error(ErrorKind::EventProcessingFailed, "ring_buffer__consume", -n);
  return static_cast<size_t>(n);
}

Result<size_t> RingBufferDrain::poll(EventBatch& batch, int timeout_ms) {
  if (!rings_) {
    return make_error(ErrorKind::EventProcessingFailed, "no ring buffer added: call add_ring first");
  }
  target_ = &batch;
  const int woke = ring_buffer__poll(rings_.get(), timeout_ms);
  target_ = nullptr;
  if (woke < 0 && woke != -EINTR) {
    return errno_error(ErrorKind::EventProcessingFailed, "ring_buffer__poll", -woke);
  }
  BPFTAPE_ASSIGN_OR_RETURN(size_t rest, drain(batch));
  return (woke > 0 ? static_cast<size_t>(woke) : 0) + rest;
}

LossCounter::LossCounter(int map_fd) : map_fd_(map_fd) {
  const int cpus = libbpf_num_possible_cpus();
  last_.assign(cpus > 0 ? static_cast<size_t>(cpus) : 1, 0);
}

Result<size_t> LossCounter::collect(uint64_t now_ns, std::vector<LossRecord>& out) {
  std::vector<uint64_t> now(last_.size());
  const uint32_t key = 0;
  if (bpf_map_lookup_elem(map_fd_, &key, now.data()) != 0) {
    return errno_error(ErrorKind::MapOperationFailed, "reading the per-CPU drops map", errno);
  }
  size_t added = 0;
  for (size_t cpu = 0; cpu < now.size(); ++cpu) {
    // Counters only grow; a smaller value means the map was recreated: count from zero.
    const uint64_t delta = now[cpu] >= last_[cpu] ? now[cpu] - last_[cpu] : now[cpu];
    last_[cpu] = now[cpu];
    if (delta == 0) continue;
    out.push_back(LossRecord{now_ns, static_cast<uint16_t>(cpu), delta});
    total_ += delta;
    ++added;
  }
  return added;
}

Result<size_t> LossCounter::collect(std::vector<LossRecord>& out) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return collect(static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + ts.tv_nsec, out);
}

}  // namespace otlp::ebpf
