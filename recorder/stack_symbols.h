// StackSymbols: names the stack frames of delivered events at record time, the first time each
// (pid, stack) is seen (SymbolCollector does the naming), and keeps what the tape needs to name
// them anywhere: the symbols and mappings learned since the last hand-off (take()), and all of
// them (all(): live outputs name frames as a replay of the tape would).
//
// As the AddressSpaceWatcher of a ProcessTracker it snapshots a process's maps when it appears
// (a short-lived one may be gone by the time its stacks are resolved) and forgets them on exec
// or pid reuse. Not thread-safe: fed from the drain thread.
#pragma once

#include <cstdint>
#include <set>
#include <utility>

#include "core/event.h"
#include "core/intern_table.h"
#include "recorder/process_tracker.h"
#include "recorder/symbol_collector.h"

namespace bpftape::record {

class StackSymbols final : public AddressSpaceWatcher {
 public:
  struct Options {
    bool symbolize = true;    // off: learn() names nothing (addresses only)
    bool stacks = true;       // a tracer captures stacks: snapshot maps as processes appear
    SymbolCollector::Options collector;
  };
  explicit StackSymbols(Options options);

  // Reads /proc/kallsyms now rather than at the first kernel frame (before uprobes on libc
  // make each of the recorder's allocations trap).
  void preload_kernel_symbols() { collector_.preload_kernel_symbols(); }
  // Resolves the event's user and kernel stacks, each (pid, stack) once; `interned` holds them.
  void learn(const otlp::ebpf::EbpfEvent& event, const otlp::ebpf::InternTable& interned);
  // What was learned since the last take(); from then on also part of all().
  NewSymbols take();
  const NewSymbols& all() const { return all_; }
  const SymbolCollector::Stats& stats() const { return collector_.stats(); }

  void address_space_appeared(uint32_t pid) override;
  void address_space_replaced(uint32_t pid) override { collector_.forget_pid(pid); }

 private:
  Options options_;
  SymbolCollector collector_;
  std::set<std::pair<uint32_t, uint32_t>> seen_stacks_;  // (pid, stack id); pid 0: kernel
  NewSymbols pending_;
  NewSymbols all_;
};

}  // namespace bpftape::record
