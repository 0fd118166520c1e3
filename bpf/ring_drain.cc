#include "bpf/ring_drain.h"

#include <bpf/bpf.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/clock.h"

extern "C" {
#include "bpf/record.h"
}

namespace otlp::ebpf {

namespace {

// The drain thread is latency work: its delivery latency is what a streaming tick or a wakeup
// promises. Both settings are per thread (so made by the thread that drains) and best effort:
//  - timer slack 1 µs: the default 50 µs would double a streaming tick;
//  - a 100 µs EEVDF slice (sched_attr.sched_runtime for SCHED_OTHER, Linux >= 6.12; older
//    kernels ignore or refuse it): a task with a shorter slice preempts the running one on
//    wakeup, where by default a woken task may wait out the current task's whole slice
//    (milliseconds) — measured here: 1 in 60 streaming ticks came more than 1 ms late while
//    the tape's compression thread or any other task held the CPU.
void prefer_prompt_wakeups() {
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  // The uapi struct sched_attr (SCHED_ATTR_SIZE_VER0); <linux/sched/types.h> clashes with
  // <sched.h>, and glibc 2.36 has no wrapper.
  struct {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
  } attr{};
  static_assert(sizeof(attr) == 48);
  attr.size = sizeof(attr);
  attr.sched_policy = SCHED_OTHER;
  attr.sched_runtime = 100'000;
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, 0);
  attr.sched_nice = errno == 0 ? nice : 0;
  (void)syscall(SYS_sched_setattr, 0, &attr, 0);
}

}  // namespace

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

RingBufferDrain::~RingBufferDrain() {
  if (consumer_mode_ != nullptr) munmap(consumer_mode_, sizeof(bt_consumer_state));
}

Result<int> RingBufferDrain::create_consumer_state() {
  if (consumer_mode_ != nullptr) {
    return make_error(ErrorKind::ConfigError, "the consumer-state map exists already");
  }
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
  UniqueFd fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "consumer_state", sizeof(uint32_t),
                             sizeof(bt_consumer_state), 1, &opts));
  if (fd.get() < 0) {
    return errno_error(ErrorKind::MapOperationFailed, "creating the consumer-state map", errno);
  }
  void* mapped = mmap(nullptr, sizeof(bt_consumer_state), PROT_READ | PROT_WRITE, MAP_SHARED,
                      fd.get(), 0);
  if (mapped == MAP_FAILED) {
    return errno_error(ErrorKind::MapOperationFailed, "mapping the consumer-state map", errno);
  }
  UniqueFd interrupt(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!interrupt) {
    munmap(mapped, sizeof(bt_consumer_state));
    return errno_error(ErrorKind::MapOperationFailed, "eventfd for the drain's interruptible wait", errno);
  }
  interrupt_fd_ = std::move(interrupt);
  consumer_fd_ = std::move(fd);
  consumer_mode_ = &static_cast<bt_consumer_state*>(mapped)->mode;
  set_consumer_mode(BT_CONSUMER_AWAKE);
  return consumer_fd_.get();
}

void RingBufferDrain::set_consumer_mode(uint32_t mode) {
  // Sequentially consistent (a locked xchg on x86): the mode must be visible to the programs
  // before this thread reads the rings' producer positions (sleep_and_drain's re-check).
  __atomic_store_n(consumer_mode_, mode, __ATOMIC_SEQ_CST);
}

Result<size_t> RingBufferDrain::sleep_and_drain(EventBatch& batch) {
  set_consumer_mode(BT_CONSUMER_ASLEEP);
  // Records submitted before the announcement woke no one: take them now, awake.
  BPFTAPE_ASSIGN_OR_RETURN(size_t early, drain(batch));
  if (early > 0) {
    set_consumer_mode(BT_CONSUMER_AWAKE);
    return early;
  }
  ++sleeps_;
  Result<size_t> woke = poll_and_drain(batch, pacing_.options().idle_timeout_ns);
  // A program that woke us set AWAKE itself; after a timeout or a signal nobody did.
  set_consumer_mode(BT_CONSUMER_AWAKE);
  if (woke && *woke > 0) ++wakeups_;
  return woke;
}

void RingBufferDrain::interrupt_wait() {
  if (!interrupt_fd_) return;
  const uint64_t one = 1;
  // Cannot fail short of a counter at 2^64-2 (EAGAIN): then a wake is pending anyway.
  (void)!write(interrupt_fd_.get(), &one, sizeof(one));
}

Result<size_t> RingBufferDrain::poll_and_drain(EventBatch& batch, uint64_t timeout_ns) {
  if (!wait_set_) {
    // Our own epoll set: libbpf's (one entry per ring, its data the ring's index) cannot hold
    // another fd, so it nests in ours next to the interrupt eventfd.
    UniqueFd set(epoll_create1(EPOLL_CLOEXEC));
    if (!set) return errno_error(ErrorKind::EventProcessingFailed, "epoll_create1", errno);
    for (const int fd : {ring_buffer__epoll_fd(rings_.get()), interrupt_fd_.get()}) {
      epoll_event ev{.events = EPOLLIN, .data = {.fd = fd}};
      if (epoll_ctl(set.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        return errno_error(ErrorKind::EventProcessingFailed, "epoll_ctl on the drain's wait set", errno);
      }
    }
    wait_set_ = std::move(set);
  }
  epoll_event ready[2];
  const int n = epoll_wait(wait_set_.get(), ready, 2, static_cast<int>((timeout_ns + 999'999) / 1'000'000));
  if (n < 0 && errno != EINTR) {
    return errno_error(ErrorKind::EventProcessingFailed, "epoll_wait on the rings", errno);
  }
  for (int i = 0; i < n; ++i) {
    if (ready[i].data.fd != interrupt_fd_.get()) continue;
    uint64_t count;
    (void)!read(interrupt_fd_.get(), &count, sizeof(count));  // re-arms it
    ++interrupts_;
  }
  // Whatever ended the wait (a program, the timeout, an interrupt, a signal): take everything.
  return drain(batch);
}

Result<size_t> RingBufferDrain::paced_drain(EventBatch& batch) {
  if (!rings_ || consumer_mode_ == nullptr) {
    return make_error(ErrorKind::EventProcessingFailed,
                      "paced_drain needs rings (add_ring) and create_consumer_state()");
  }
  thread_local bool latency_set = false;
  if (!latency_set) {
    prefer_prompt_wakeups();
    latency_set = true;
  }
  ++paced_drains_;
  using Wait = transport::ConsumerPacing::Wait;
  const Wait wait = pacing_.next_wait();
  size_t records = 0;
  if (wait == Wait::Asleep) {
    BPFTAPE_ASSIGN_OR_RETURN(records, sleep_and_drain(batch));
  } else {
    // Lazy: programs wake us only once wakeup_bytes wait; streaming: not at all.
    set_consumer_mode(wait == Wait::Lazy ? BT_CONSUMER_POLLING : BT_CONSUMER_AWAKE);
    const uint64_t ns = pacing_.wait_ns();
    if (wait == Wait::Lazy) {
      // In epoll, so that a ring filling up to wakeup_bytes ends the wait early.
      BPFTAPE_ASSIGN_OR_RETURN(records, poll_and_drain(batch, ns));
    } else {
      timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);  // EINTR: drain early, harmless
      BPFTAPE_ASSIGN_OR_RETURN(records, drain(batch));
    }
  }
  const uint64_t now = read_clock_ns(CLOCK_MONOTONIC);
  // The first drain's rate is taken over an idle timeout (the capacity model does the same).
  pacing_.after_drain(records, last_drain_ns_ ? now - last_drain_ns_
                                              : pacing_.options().idle_timeout_ns);
  last_drain_ns_ = now;
  return records;
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
