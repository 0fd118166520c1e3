// RAII owners for everything the kernel layer gets from libbpf or the kernel: one owning type
// per resource, plain pointers never own.
#pragma once

#include <memory>
#include <utility>

#include <bpf/libbpf.h>

#include "core/unique_fd.h"  // UniqueFd, for the fds libbpf hands out

namespace otlp::ebpf {

struct BpfObjectDeleter {
  void operator()(bpf_object* obj) const { bpf_object__close(obj); }
};
// Closing the object frees its maps and programs (links must be destroyed first).
using BpfObjectPtr = std::unique_ptr<bpf_object, BpfObjectDeleter>;

struct BpfLinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
// Destroying a link detaches the program (and closes a perf_event fd it was attached to).
using BpfLinkPtr = std::unique_ptr<bpf_link, BpfLinkDeleter>;

struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};
using RingBufferPtr = std::unique_ptr<ring_buffer, RingBufferDeleter>;

}  // namespace otlp::ebpf
