// live_provider() of a build without BPF: the tracers still run over tapes and simulations.
#include "tracers/source.h"

namespace otlp::ebpf {
namespace {

class NoLiveProvider : public SourceProvider {
 public:
  Result<std::unique_ptr<TracerSource>> open(const TracerRequest&) override {
    return make_error(ErrorKind::NotSupported,
                      "this bpftape was built without BPF (libbpf, clang, bpftool): trace a tape "
                      "(tape_provider) or a simulation (simulation_provider), or rebuild with BPF");
  }
};

}  // namespace

std::unique_ptr<SourceProvider> live_provider() { return std::make_unique<NoLiveProvider>(); }

}  // namespace otlp::ebpf
