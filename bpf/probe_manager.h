// ProbeManager: attaches programs of an EbpfLoader's object to kernel and user hooks.
//
// Without a loaded object (loader == nullptr or not loaded) an attach_* call only registers the
// probe; attach_registered(loader) attaches everything still pending once an object is loaded.
// The loader owns every attachment (see EbpfLoader::adopt); this class keeps weak handles, so
// after EbpfLoader::unload() list_probes() reports the probes as detached. The loader passed to a
// call must outlive that call only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/ebpf_loader.h"
#include "core/error.h"

namespace otlp::ebpf {

enum class ProbeType { Kprobe, Uprobe, Tracepoint, RawTracepoint, PerfEvent, Auto };
std::string_view probe_type_name(ProbeType type);

// Software cpu-clock sampling on every online CPU (hardware counters are often unavailable).
struct PerfEventSpec {
  uint32_t sample_freq_hz = 99;
  std::optional<int32_t> pid;  // one process instead of CPU-wide
};

struct ProbeInfo {
  std::string name;    // program name in the object
  ProbeType type;
  std::string target;  // "do_sys_open", "/lib/x86_64-linux-gnu/libc.so.6:malloc", "sock:..."
  bool attached;
};

// Opens a software cpu-clock perf event at sample_freq_hz on every online CPU (or for one pid)
// and attaches prog to each; links (which own the perf fds) are appended to `links`.
Result<void> attach_cpu_clock_sampling(bpf_program* prog, uint32_t sample_freq_hz,
                                       std::optional<int32_t> pid, const std::string& sys_root,
                                       std::vector<BpfLinkPtr>& links);

class ProbeManager {
 public:
  // sys_root: where to look for /sys/bus/event_source/devices (tests point it elsewhere).
  explicit ProbeManager(std::string sys_root = "/sys") : sys_root_(std::move(sys_root)) {}

  // `name` is the program's name in the loaded object.
  Result<void> attach_kprobe(const std::string& name, const std::string& function,
                             EbpfLoader* loader = nullptr);
  // `binary`: a path, or a library name ("libc.so.6") searched in the usual library
  // directories (or, with a pid, in that process's mappings). uprobe vs uretprobe comes from the
  // program's section (SEC("uprobe") / SEC("uretprobe")).
  Result<void> attach_uprobe(const std::string& name, const std::string& binary,
                             const std::string& symbol, std::optional<int32_t> pid = std::nullopt,
                             EbpfLoader* loader = nullptr);
  Result<void> attach_tracepoint(const std::string& name, const std::string& category,
                                 const std::string& event, EbpfLoader* loader = nullptr);
  Result<void> attach_raw_tracepoint(const std::string& name, const std::string& tracepoint,
                                     EbpfLoader* loader = nullptr);
  Result<void> attach_perf_event(const std::string& name, PerfEventSpec spec,
                                 EbpfLoader* loader = nullptr);
  // As the program's SEC() says (tp_btf/, raw_tp/, fentry/ ...).
  Result<void> attach_auto(const std::string& name, EbpfLoader* loader = nullptr);

  // Attaches every registered probe that is not attached; stops at the first failure.
  Result<void> attach_registered(EbpfLoader& loader);

  std::vector<ProbeInfo> list_probes() const;
  // Detaches and forgets one probe; error if no probe has that name.
  Result<void> detach(const std::string& name);
  void detach_all();

  // Resolves a library name or path to an existing file (see attach_uprobe).
  static Result<std::string> resolve_binary(const std::string& binary,
                                            std::optional<int32_t> pid = std::nullopt);

 private:
  struct Probe {
    ProbeType type;
    std::string target;  // display form
    std::string arg1;    // function / binary / category / tracepoint
    std::string arg2;    // symbol / event
    std::optional<int32_t> pid;
    uint32_t sample_freq_hz = 0;
    std::weak_ptr<Attachment> attachment;
  };

  Result<void> add(const std::string& name, Probe probe, EbpfLoader* loader);
  Result<void> attach_one(const std::string& name, Probe& probe, EbpfLoader& loader);
  bool kernel_has_kprobes() const;

  std::string sys_root_;
  std::map<std::string, Probe> probes_;  // ordered: list_probes is deterministic
};

}  // namespace otlp::ebpf
