// Shared pieces of the kernel live tests: the skip rule and an event collector.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bpf/event_decoder.h"
#include "bpf/kernel_probes.h"
#include "bpf/ring_drain.h"
#include "core/intern_table.h"
#include "core/system_support.h"

namespace otlp::ebpf::testing {

// Skips the current test unless this process can record (root + what doctor requires).
#define BPFTAPE_REQUIRE_LIVE()                                                              \
  do {                                                                                     \
    if (::geteuid() != 0) GTEST_SKIP() << "live BPF test: needs root (run as root in CI)"; \
    auto report = ::otlp::ebpf::check_system_support();                                    \
    if (!report.can_record())                                                               \
      GTEST_SKIP() << "live BPF test: this system cannot record: "                         \
                   << report.as_result().error().to_string();                               \
  } while (0)

// Drains the rings of one or more probes into one event list. Owns the table and decoder; the
// probes must outlive it.
class Collector {
 public:
  Collector() : decoder_(table_), drain_(decoder_) {}

  void add(const KernelProbe& probe) {
    auto added = drain_.add_ring(probe.events_fd());
    ASSERT_TRUE(added) << added.error().to_string();
    losses_.emplace_back(probe.drops_fd());
  }

  // Drains until `done(events)` holds or the timeout passes; returns whether it held.
  bool drain_until(const std::function<bool(const std::vector<EbpfEvent>&)>& done,
                   std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      drain_once();
      if (done(batch_.events)) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  void drain_once() {
    auto n = drain_.drain(batch_);
    ASSERT_TRUE(n) << n.error().to_string();
    for (auto& loss : losses_) ASSERT_TRUE(loss.collect(batch_.losses));
  }

  // Waits for `pid` to exit while draining every millisecond (as the recorder does), so a busy
  // machine cannot fill the ring meanwhile. Returns the wait status.
  int wait_draining(pid_t pid) {
    int status = 0;
    while (true) {
      const pid_t done = waitpid(pid, &status, WNOHANG);
      drain_once();
      if (done == pid || done < 0) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  const std::vector<EbpfEvent>& events() const { return batch_.events; }
  const std::vector<LossRecord>& losses() const { return batch_.losses; }
  const InternTable& table() const { return table_; }
  uint64_t decode_errors() const { return drain_.decode_errors(); }

  std::vector<EbpfEvent> of(uint32_t pid, EbpfEventType type) const {
    std::vector<EbpfEvent> out;
    for (const auto& e : batch_.events) {
      if (e.pid == pid && e.event_type == type) out.push_back(e);
    }
    return out;
  }

 private:
  InternTable table_;
  EventDecoder decoder_;
  RingBufferDrain drain_;
  std::vector<LossCounter> losses_;
  EventBatch batch_;
};

// A child process held on a pipe until release(): a test forks it, sets its filters on the
// child's pid, then lets it run, so every event of interest happens after the probes attach.
// `body` runs in the child (it may exec; returning means exit status 0).
class HeldChild {
 public:
  explicit HeldChild(const std::function<void()>& body) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[1]);
      char byte;
      if (read(fds[0], &byte, 1) != 1) _exit(2);
      body();
      _exit(0);
    }
    close(fds[0]);
    go_ = fds[1];
  }
  HeldChild(const HeldChild&) = delete;
  HeldChild& operator=(const HeldChild&) = delete;

  pid_t pid() const { return pid_; }  // <= 0 when the fork failed
  // Lets the child run (once).
  void release() {
    if (go_ < 0) return;
    EXPECT_EQ(write(go_, "x", 1), 1);
    close(go_);
    go_ = -1;
  }
  // release(), then waits for the child; its wait status.
  int release_and_wait() {
    release();
    int status = 0;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    return status;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
};

inline uint64_t lost(const std::vector<LossRecord>& losses) {
  uint64_t n = 0;
  for (const auto& l : losses) n += l.count;
  return n;
}

}  // namespace otlp::ebpf::testing
