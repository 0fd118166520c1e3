#include "bpf/ebpf_loader.h"

#include <elf.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace otlp::ebpf {
namespace {

constexpr uint32_t kTracefsMagic = 0x74726163;  // TRACEFS_MAGIC

bool host_is_little_endian() {
  const uint16_t probe = 1;
  uint8_t first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

template <typename T>
bool read_at(std::span<const std::byte> bytes, uint64_t offset, T* out) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return false;
  std::memcpy(out, bytes.data() + offset, sizeof(T));
  return true;
}

std::unexpected<EbpfError> format_error(std::string message) {
  return make_error(ErrorKind::FormatError, std::move(message));
}

bool is_tracefs(const char* path) {
  struct statfs fs;
  return statfs(path, &fs) == 0 && static_cast<uint32_t>(fs.f_type) == kTracefsMagic;
}

}  // namespace

EbpfLoader::EbpfLoader(EbpfConfig config) : config_(std::move(config)) {}

Result<void> EbpfLoader::validate_program(std::span<const std::byte> bytes) {
  if (bytes.size() < EI_NIDENT) {
    return format_error(fmt::format("not a BPF object: {} bytes is too short for an ELF header",
                                    bytes.size()));
  }
  const auto* ident = reinterpret_cast<const unsigned char*>(bytes.data());
  if (std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    return format_error("not a BPF object: missing the ELF magic (\\x7fELF); pass the .o file "
                        "clang -target bpf produced");
  }
  if (ident[EI_CLASS] != ELFCLASS64) {
    return format_error(fmt::format("BPF object has ELF class {} (32-bit or invalid); BPF "
                                    "objects are ELFCLASS64: compile with clang -target bpf",
                                    static_cast<int>(ident[EI_CLASS])));
  }
  const uint8_t host_data = host_is_little_endian() ? ELFDATA2LSB : ELFDATA2MSB;
  if (ident[EI_DATA] != host_data) {
    return format_error("BPF object byte order differs from this host: compile with "
                        "-target bpf (host order), not bpfel/bpfeb of the other order");
  }
  Elf64_Ehdr ehdr;
  if (!read_at(bytes, 0, &ehdr)) {
    return format_error(fmt::format("truncated ELF header: {} bytes, need {}", bytes.size(),
                                    sizeof(Elf64_Ehdr)));
  }
  if (ehdr.e_machine != EM_BPF) {
    return format_error(fmt::format("ELF machine is {} (EM_X86_64 is 62), not EM_BPF ({}): this "
                                    "is not a BPF object; compile with clang -target bpf",
                                    ehdr.e_machine, EM_BPF));
  }
  if (ehdr.e_shentsize != sizeof(Elf64_Shdr) || ehdr.e_shnum == 0 ||
      ehdr.e_shoff > bytes.size() ||
      (bytes.size() - ehdr.e_shoff) / sizeof(Elf64_Shdr) < ehdr.e_shnum) {
    return format_error(fmt::format("ELF section table (offset {}, {} entries) lies outside the "
                                    "{}-byte object: the file is truncated or corrupt",
                                    ehdr.e_shoff, ehdr.e_shnum, bytes.size()));
  }
  if (ehdr.e_shstrndx >= ehdr.e_shnum) {
    return format_error("ELF section-name table index is out of range: corrupt object");
  }
  Elf64_Shdr names;
  read_at(bytes, ehdr.e_shoff + uint64_t{ehdr.e_shstrndx} * sizeof(Elf64_Shdr), &names);
  if (names.sh_offset > bytes.size() || bytes.size() - names.sh_offset < names.sh_size) {
    return format_error("ELF section-name table lies outside the object: corrupt object");
  }
  auto section_name = [&](uint32_t offset) -> std::string_view {
    if (offset >= names.sh_size) return {};
    const char* begin = reinterpret_cast<const char*>(bytes.data()) + names.sh_offset + offset;
    const size_t max = names.sh_size - offset;
    return std::string_view(begin, strnlen(begin, max));
  };

  bool has_license = false;
  size_t programs = 0;
  for (uint16_t i = 0; i < ehdr.e_shnum; ++i) {
    Elf64_Shdr shdr;
    read_at(bytes, ehdr.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr), &shdr);
    const std::string_view name = section_name(shdr.sh_name);
    if (name == "license" && shdr.sh_size > 0) has_license = true;
    // Programs live in executable sections named after their attach point; ".text" only holds
    // subprograms (static functions) and cannot be loaded on its own.
    if (shdr.sh_type == SHT_PROGBITS && (shdr.sh_flags & SHF_EXECINSTR) && shdr.sh_size > 0 &&
        name != ".text") {
      ++programs;
    }
  }
  if (programs == 0) {
    return format_error("BPF object has no program sections: mark each program with "
                        "SEC(\"<attach point>\") (e.g. SEC(\"raw_tp/sys_enter\"))");
  }
  if (!has_license) {
    return format_error("BPF object has no \"license\" section: add "
                        "char LICENSE[] SEC(\"license\") = \"GPL\"; most helpers need a "
                        "GPL-compatible license");
  }
  return {};
}

Result<void> EbpfLoader::ensure_tracefs() {
  if (is_tracefs("/sys/kernel/tracing") || is_tracefs("/sys/kernel/debug/tracing")) return {};
  if (::mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0) return {};
  const int err = errno;
  return make_error(err == EPERM ? ErrorKind::InsufficientPermissions : ErrorKind::Io,
                    fmt::format("tracefs is not mounted and mounting it failed ({}): run "
                                "'mount -t tracefs tracefs /sys/kernel/tracing' as root; "
                                "tracepoints cannot attach without it (raw tracepoints can)",
                                std::strerror(err)));
}

Result<void> EbpfLoader::load(std::span<const std::byte> bytes, std::string_view object_name) {
  BPFTAPE_RETURN_IF_ERROR(validate_program(bytes));
  unload();

  // Best effort: only classic tracepoints need tracefs, and this is not the place to refuse.
  (void)ensure_tracefs();

  // libbpf parses from this buffer during open; keep it until the load finished.
  std::vector<std::byte> copy(bytes.begin(), bytes.end());
  std::string name(object_name);
  // The verifier log of a failed program lands here (instead of libbpf's global print hook).
  std::vector<char> log(256 * 1024);
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name.c_str(),
              .kernel_log_buf = log.data(), .kernel_log_size = log.size(),
              .kernel_log_level = 0);
  BpfObjectPtr obj(bpf_object__open_mem(copy.data(), copy.size(), &opts));
  if (!obj) {
    const int err = errno;
    return make_error(ErrorKind::LoadFailed,
                      fmt::format("libbpf could not open BPF object '{}': {}", name,
                                  std::strerror(err)));
  }
  if (bpf_object__load(obj.get()) != 0) {
    const int err = errno;
    std::string verifier(log.data(), strnlen(log.data(), log.size()));
    if (verifier.size() > 2000) verifier = "..." + verifier.substr(verifier.size() - 2000);
    const ErrorKind kind = (err == EPERM || err == EACCES) && geteuid() != 0
                               ? ErrorKind::InsufficientPermissions
                               : ErrorKind::LoadFailed;
    std::string remedy = kind == ErrorKind::InsufficientPermissions
                             ? "run as root or grant CAP_BPF,CAP_PERFMON"
                             : "see the verifier log";
    return make_error(kind, fmt::format("loading BPF object '{}' failed: {} ({}){}{}", name,
                                        std::strerror(err), remedy,
                                        verifier.empty() ? "" : "\nverifier log:\n", verifier));
  }
  object_ = std::move(obj);
  return {};
}

void EbpfLoader::unload() {
  // Links first: a link keeps its program attached even after the object is closed.
  for (auto& attachment : attachments_) attachment->detach();
  attachments_.clear();
  object_.reset();
}

std::vector<std::string> EbpfLoader::program_names() const {
  std::vector<std::string> names;
  if (!object_) return names;
  bpf_program* prog;
  bpf_object__for_each_program(prog, object_.get()) names.emplace_back(bpf_program__name(prog));
  return names;
}

std::vector<std::string> EbpfLoader::map_names() const {
  std::vector<std::string> names;
  if (!object_) return names;
  bpf_map* map;
  bpf_object__for_each_map(map, object_.get()) names.emplace_back(bpf_map__name(map));
  return names;
}

std::weak_ptr<Attachment> EbpfLoader::adopt(std::shared_ptr<Attachment> attachment) {
  if (!object_ || !attachment) return {};
  attachments_.push_back(attachment);
  return attachment;
}

}  // namespace otlp::ebpf
