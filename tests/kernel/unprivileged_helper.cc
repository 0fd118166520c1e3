// Run as an unprivileged user by loader_livetest: tries what needs privileges and prints one
// line per attempt, "<what>: <ErrorKind> | <message>" or "<what>: ok".
#include <cstdio>

#include "bpf/ebpf_loader.h"
#include "bpf/kernel_probes.h"

using namespace otlp::ebpf;

namespace {
void print(const char* what, const Result<void>& result) {
  if (result) {
    std::printf("%s: ok\n", what);
  } else {
    std::printf("%s: %s | %s\n", what, std::string(error_kind_name(result.error().kind())).c_str(),
                result.error().message().c_str());
  }
}
}  // namespace

int main() {
  EbpfLoader loader;
  print("check_system_support", loader.check_system_support());
  auto bytes = builtin_bpf_object("syscall");
  if (!bytes) return 1;
  print("loader_load", loader.load(*bytes, "syscall"));
  auto probe = SyscallProbe::create(ProbeOptions{});
  print("syscall_probe", probe ? Result<void>{} : Result<void>(std::unexpected(probe.error())));
  return 0;
}
