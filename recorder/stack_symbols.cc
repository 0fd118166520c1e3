#include "recorder/stack_symbols.h"

namespace bpftape::record {

using namespace otlp::ebpf;

StackSymbols::StackSymbols(Options options)
    : options_(options), collector_(std::move(options.collector)) {}

void StackSymbols::address_space_appeared(uint32_t pid) {
  if (options_.symbolize && options_.stacks) collector_.snapshot_maps(pid);
}

void StackSymbols::learn(const EbpfEvent& e, const InternTable& interned) {
  if (!options_.symbolize) return;
  StackId user = kNoId, kernel = kNoId;
  if (e.event_type == EbpfEventType::CpuSample) {
    user = e.payload.cpu_sample.user_stack;
    kernel = e.payload.cpu_sample.kernel_stack;
  } else if (e.event_type == EbpfEventType::MemoryAlloc) {
    user = e.payload.memory.stack;
  } else {
    return;
  }
  if (user != kNoId && seen_stacks_.emplace(e.pid, user).second) {
    collector_.add_user_frames(e.pid, interned.stack(user), pending_);
  }
  if (kernel != kNoId && seen_stacks_.emplace(0, kernel).second) {
    collector_.add_kernel_frames(interned.stack(kernel), pending_);
  }
}

NewSymbols StackSymbols::take() {
  all_.mappings.insert(all_.mappings.end(), pending_.mappings.begin(), pending_.mappings.end());
  all_.symbols.insert(all_.symbols.end(), pending_.symbols.begin(), pending_.symbols.end());
  return std::exchange(pending_, NewSymbols{});
}

}  // namespace bpftape::record
