// kernel_syscall_overhead [--no-trace] [--drain-us N] -- CMD ARGS...
//
// Runs CMD with every syscall on the machine recorded by the syscall probe (task-storage
// pairing, one 40-byte record per syscall) while this process drains the ring every N µs
// (default 5000; the recorder's streaming tick is 50: compare what draining closer behind the
// producer costs the producer), and
// prints CMD's wall and CPU time, the records consumed and the records lost. Compare with --no-trace
// (same harness, nothing attached) for the slowdown. Needs root.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bpf/kernel_probes.h"
#include "bpf/ring_drain.h"

extern char** environ;
using namespace otlp::ebpf;

int main(int argc, char** argv) {
  bool trace = true;
  long drain_us = 5000;
  int first = 1;
  for (; first < argc; ++first) {
    if (std::strcmp(argv[first], "--no-trace") == 0) trace = false;
    if (std::strcmp(argv[first], "--drain-us") == 0 && first + 1 < argc) {
      drain_us = std::strtol(argv[++first], nullptr, 10);
      if (drain_us <= 0) {
        std::fprintf(stderr, "--drain-us: a positive number of microseconds\n");
        return 2;
      }
    }
    if (std::strcmp(argv[first], "--") == 0) {
      ++first;
      break;
    }
  }
  if (first >= argc) {
    std::fprintf(stderr, "usage: %s [--no-trace] [--drain-us N] -- CMD ARGS...\n", argv[0]);
    return 2;
  }
  std::unique_ptr<SyscallProbe> probe;
  if (trace) {
    ProbeOptions options;
    options.ring_bytes = 64u << 20;
    auto created = SyscallProbe::create(options);
    if (!created) {
      std::fprintf(stderr, "%s\n", created.error().to_string().c_str());
      return 1;
    }
    probe = std::move(*created);
    if (auto a = probe->attach(); !a) {
      std::fprintf(stderr, "%s\n", a.error().to_string().c_str());
      return 1;
    }
  }
  InternTable table;
  EventDecoder decoder(table);
  RingBufferDrain drain(decoder);
  std::unique_ptr<LossCounter> losses;
  if (probe) {
    if (auto r = drain.add_ring(probe->events_fd()); !r) return 1;
    losses = std::make_unique<LossCounter>(probe->drops_fd());
  }

  const auto start = std::chrono::steady_clock::now();
  pid_t child = 0;
  if (posix_spawnp(&child, argv[first], nullptr, nullptr, argv + first, environ) != 0) {
    std::perror("posix_spawnp");
    return 1;
  }
  uint64_t events = 0;
  EventBatch batch;
  int status = 0;
  rusage usage{};
  while (true) {
    const pid_t done = wait4(child, &status, WNOHANG, &usage);
    if (probe) {
      batch.clear();
      if (auto n = drain.drain(batch); n) events += batch.events.size();
      (void)losses->collect(batch.losses);
    }
    if (done == child) break;
    std::this_thread::sleep_for(std::chrono::microseconds(drain_us));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // CPU time of CMD includes the BPF programs (they run in its context); on a shared machine
  // it is steadier than wall time.
  const double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                     usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  std::printf("wall %.3f s, cmd cpu %.3f s, events %llu, lost %llu, decode errors %llu\n",
              seconds, cpu,
              static_cast<unsigned long long>(events),
              static_cast<unsigned long long>(losses ? losses->total() : 0),
              static_cast<unsigned long long>(drain.decode_errors()));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
