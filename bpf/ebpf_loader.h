// EbpfLoader: loads any BPF ELF object from memory (ours or a user's) and owns it.
//
// Phases: validate (ELF checks, no kernel) -> open (libbpf parses, maps sized) -> load (verifier)
// -> attach (ProbeManager). The loader owns the bpf_object and every attachment made on it:
// unload() destroys the attachments first (detaching the programs), then closes the object
// (freeing maps). Our own probes use typed skeletons instead (bpf/kernel_probes.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/libbpf_raii.h"
#include "core/config.h"
#include "core/error.h"
#include "core/system_support.h"

namespace otlp::ebpf {

// One attachment of a program: one link, or one per CPU for perf events. Shared between the
// loader (owner: destroys it on unload) and ProbeManager (weak observer: asks whether it is
// still attached, and may detach it early).
struct Attachment {
  std::vector<BpfLinkPtr> links;
  bool attached() const { return !links.empty(); }
  void detach() { links.clear(); }
};

class EbpfLoader {
 public:
  explicit EbpfLoader(EbpfConfig config = EbpfConfig{});
  EbpfLoader(EbpfLoader&&) = default;
  EbpfLoader& operator=(EbpfLoader&&) = default;
  ~EbpfLoader() { unload(); }

  // The report `bpftape doctor` prints (core's checker), and its first blocking problem.
  SystemSupportReport system_support_report() const { return otlp::ebpf::check_system_support(); }
  Result<void> check_system_support() const { return system_support_report().as_result(); }

  // ELF checks only (no kernel): 64-bit class, little/big endian of this host, machine EM_BPF,
  // a section table in bounds, at least one program section and a "license" section.
  // Each failure is a FormatError naming what is wrong.
  static Result<void> validate_program(std::span<const std::byte> bytes);
  static Result<void> validate_program(std::span<const uint8_t> bytes) {
    return validate_program(std::as_bytes(bytes));
  }

  // Validates, opens and loads `bytes` (copied; the span need not outlive the call). Replaces a
  // previously loaded object (unloading it first). Also mounts tracefs when missing and allowed,
  // so tracepoints can attach later.
  Result<void> load(std::span<const std::byte> bytes, std::string_view object_name = "bpftape");
  Result<void> load(std::span<const uint8_t> bytes, std::string_view object_name = "bpftape") {
    return load(std::as_bytes(bytes), object_name);
  }

  bool is_loaded() const { return object_ != nullptr; }
  // Detaches every attachment, closes the object (frees maps). Idempotent.
  void unload();
  const EbpfConfig& config() const { return config_; }

  // Borrowed: valid until unload() or destruction. nullptr when nothing is loaded.
  bpf_object* object() const { return object_.get(); }
  std::vector<std::string> program_names() const;
  std::vector<std::string> map_names() const;

  // Takes ownership of an attachment made on this object; the returned weak handle is what
  // ProbeManager keeps. Returned empty when nothing is loaded.
  std::weak_ptr<Attachment> adopt(std::shared_ptr<Attachment> attachment);

  // Mounts tracefs at /sys/kernel/tracing if no tracefs is mounted. Ok if already mounted or
  // mounted now; otherwise an error saying how to mount it. libbpf resolves tracepoint ids there.
  static Result<void> ensure_tracefs();

 private:
  EbpfConfig config_;
  BpfObjectPtr object_;
  std::vector<std::shared_ptr<Attachment>> attachments_;
};

}  // namespace otlp::ebpf
