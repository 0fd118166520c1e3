#include "bpf/probe_manager.h"

#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace otlp::ebpf {
namespace {

bool is_file(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

std::unexpected<EbpfError> attach_error(const std::string& what, int err) {
  std::string remedy;
  if (err == EPERM || err == EACCES) remedy = ": run as root or grant CAP_BPF,CAP_PERFMON";
  if (err == ENOENT) remedy = ": the hook does not exist on this kernel (check the name)";
  const ErrorKind kind = (err == EPERM || err == EACCES) ? ErrorKind::InsufficientPermissions
                                                         : ErrorKind::AttachFailed;
  return make_error(kind, fmt::format("{} failed: {}{}", what, std::strerror(err), remedy));
}

// CPUs listed in a /sys cpu list such as "0-3,6".
std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    int first = 0, last = 0;
    if (std::sscanf(part.c_str(), "%d-%d", &first, &last) == 2) {
      for (int c = first; c <= last; ++c) cpus.push_back(c);
    } else if (std::sscanf(part.c_str(), "%d", &first) == 1) {
      cpus.push_back(first);
    }
  }
  return cpus;
}

}  // namespace

std::string_view probe_type_name(ProbeType type) {
  switch (type) {
    case ProbeType::Kprobe: return "kprobe";
    case ProbeType::Uprobe: return "uprobe";
    case ProbeType::Tracepoint: return "tracepoint";
    case ProbeType::RawTracepoint: return "raw_tracepoint";
    case ProbeType::PerfEvent: return "perf_event";
    case ProbeType::Auto: return "auto";
  }
  return "unknown";
}

Result<void> attach_cpu_clock_sampling(bpf_program* prog, uint32_t sample_freq_hz,
                                       std::optional<int32_t> pid, const std::string& sys_root,
                                       std::vector<BpfLinkPtr>& links) {
  if (sample_freq_hz == 0) {
    return make_error(ErrorKind::ConfigError, "perf event sample frequency must be > 0 Hz");
  }
  std::vector<int> cpus{-1};  // with a pid: follow the process on any CPU
  if (!pid) {
    std::ifstream online(sys_root + "/devices/system/cpu/online");
    std::string text;
    std::getline(online, text);
    cpus = parse_cpu_list(text);
    if (cpus.empty()) {
      return make_error(ErrorKind::AttachFailed,
                        fmt::format("no online CPUs listed in {}/devices/system/cpu/online",
                                    sys_root));
    }
  }
  for (int cpu : cpus) {
    perf_event_attr attr{};
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.freq = 1;
    attr.sample_freq = sample_freq_hz;
    const long fd =
        syscall(SYS_perf_event_open, &attr, pid.value_or(-1), cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == ENODEV) continue;  // CPU went offline meanwhile
      return attach_error(fmt::format("perf_event_open(cpu-clock, cpu {})", cpu), err);
    }
    bpf_link* link = bpf_program__attach_perf_event(prog, static_cast<int>(fd));
    if (link == nullptr) {
      const int err = errno;
      close(static_cast<int>(fd));
      return attach_error(fmt::format("perf event program {} on cpu {}", bpf_program__name(prog),
                                      cpu), err);
    }
    links.emplace_back(link);  // the link closes fd when destroyed
  }
  return {};
}

bool ProbeManager::kernel_has_kprobes() const {
  std::error_code ec;
  return std::filesystem::exists(sys_root_ + "/bus/event_source/devices/kprobe", ec);
}

Result<std::string> ProbeManager::resolve_binary(const std::string& binary,
                                                 std::optional<int32_t> pid) {
  if (binary.empty()) return make_error(ErrorKind::ConfigError, "uprobe binary is empty");
  if (binary.find('/') != std::string::npos) {
    if (is_file(binary)) return binary;
    return make_error(ErrorKind::AttachFailed,
                      fmt::format("uprobe binary {} does not exist", binary));
  }
  // A process's own mapping is the truth when a pid is given.
  if (pid) {
    std::ifstream maps(fmt::format("/proc/{}/maps", *pid));
    std::string line;
    while (std::getline(maps, line)) {
      const auto slash = line.find('/');
      if (slash == std::string::npos) continue;
      std::string path = line.substr(slash);
      const auto base = path.substr(path.rfind('/') + 1);
      if (base == binary || base.starts_with(binary + ".") || base.starts_with(binary + "-")) {
        return path;
      }
    }
  }
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("LD_LIBRARY_PATH")) {
    std::stringstream in(env);
    std::string dir;
    while (std::getline(in, dir, ':')) {
      if (!dir.empty()) dirs.push_back(dir);
    }
  }
#if defined(__x86_64__)
  const char* multiarch = "x86_64-linux-gnu";
#elif defined(__aarch64__)
  const char* multiarch = "aarch64-linux-gnu";
#else
  const char* multiarch = "";
#endif
  for (const char* root : {"/lib", "/usr/lib"}) dirs.push_back(fmt::format("{}/{}", root, multiarch));
  for (const char* dir : {"/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"}) {
    dirs.emplace_back(dir);
  }
  if (const char* path = std::getenv("PATH")) {  // executables by name ("nginx")
    std::stringstream in(path);
    std::string dir;
    while (std::getline(in, dir, ':')) {
      if (!dir.empty()) dirs.push_back(dir);
    }
  }
  for (const auto& dir : dirs) {
    const std::string candidate = dir + "/" + binary;
    if (is_file(candidate)) return candidate;
  }
  return make_error(ErrorKind::AttachFailed,
                    fmt::format("cannot find '{}' in the library directories or PATH: pass a path",
                                binary));
}

Result<void> ProbeManager::add(const std::string& name, Probe probe, EbpfLoader* loader) {
  if (name.empty()) return make_error(ErrorKind::ConfigError, "probe name is empty");
  if (auto it = probes_.find(name); it != probes_.end()) {
    if (auto a = it->second.attachment.lock(); a && a->attached()) {
      return make_error(ErrorKind::AttachFailed,
                        fmt::format("probe '{}' is already attached: detach it first", name));
    }
  }
  auto& slot = probes_[name];
  slot = std::move(probe);
  if (loader == nullptr || !loader->is_loaded()) return {};  // register only
  auto attached = attach_one(name, slot, *loader);
  if (!attached) probes_.erase(name);  // a failed attach registers nothing
  return attached;
}

Result<void> ProbeManager::attach_kprobe(const std::string& name, const std::string& function,
                                         EbpfLoader* loader) {
  return add(name, Probe{ProbeType::Kprobe, function, function, {}, {}, 0, {}}, loader);
}

Result<void> ProbeManager::attach_uprobe(const std::string& name, const std::string& binary,
                                         const std::string& symbol, std::optional<int32_t> pid,
                                         EbpfLoader* loader) {
  return add(name, Probe{ProbeType::Uprobe, binary + ":" + symbol, binary, symbol, pid, 0, {}},
             loader);
}

Result<void> ProbeManager::attach_tracepoint(const std::string& name, const std::string& category,
                                             const std::string& event, EbpfLoader* loader) {
  return add(name,
             Probe{ProbeType::Tracepoint, category + ":" + event, category, event, {}, 0, {}},
             loader);
}

Result<void> ProbeManager::attach_raw_tracepoint(const std::string& name,
                                                 const std::string& tracepoint,
                                                 EbpfLoader* loader) {
  return add(name, Probe{ProbeType::RawTracepoint, tracepoint, tracepoint, {}, {}, 0, {}}, loader);
}

Result<void> ProbeManager::attach_perf_event(const std::string& name, PerfEventSpec spec,
                                             EbpfLoader* loader) {
  if (spec.sample_freq_hz == 0) {
    return make_error(ErrorKind::ConfigError, "perf event sample frequency must be > 0 Hz");
  }
  std::string target = fmt::format("cpu-clock@{}Hz", spec.sample_freq_hz);
  if (spec.pid) target += fmt::format(" pid {}", *spec.pid);
  return add(name, Probe{ProbeType::PerfEvent, target, {}, {}, spec.pid, spec.sample_freq_hz, {}},
             loader);
}

Result<void> ProbeManager::attach_auto(const std::string& name, EbpfLoader* loader) {
  return add(name, Probe{ProbeType::Auto, "(section)", {}, {}, {}, 0, {}}, loader);
}

Result<void> ProbeManager::attach_one(const std::string& name, Probe& probe, EbpfLoader& loader) {
  bpf_program* prog = bpf_object__find_program_by_name(loader.object(), name.c_str());
  if (prog == nullptr) {
    std::string known;
    for (const auto& p : loader.program_names()) known += (known.empty() ? "" : ", ") + p;
    return make_error(ErrorKind::AttachFailed,
                      fmt::format("no program named '{}' in the loaded object (programs: {})",
                                  name, known));
  }
  auto attachment = std::make_shared<Attachment>();
  auto keep = [&](bpf_link* link, const std::string& what) -> Result<void> {
    if (link == nullptr) return attach_error(what, errno);
    attachment->links.emplace_back(link);
    return {};
  };

  switch (probe.type) {
    case ProbeType::Kprobe: {
      if (!kernel_has_kprobes()) {
        return make_error(ErrorKind::AttachFailed,
                          fmt::format("cannot attach kprobe '{}' to {}: this kernel has no "
                                      "kprobes ({}/bus/event_source/devices/kprobe is missing; "
                                      "CONFIG_KPROBES is off). Use a tracepoint or raw tracepoint "
                                      "instead", name, probe.arg1, sys_root_));
      }
      const bool ret = std::string_view(bpf_program__section_name(prog)).starts_with("kretprobe");
      BPFTAPE_RETURN_IF_ERROR(keep(bpf_program__attach_kprobe(prog, ret, probe.arg1.c_str()),
                                  fmt::format("kprobe {}", probe.arg1)));
      break;
    }
    case ProbeType::Uprobe: {
      BPFTAPE_ASSIGN_OR_RETURN(std::string path, resolve_binary(probe.arg1, probe.pid));
      const bool ret = std::string_view(bpf_program__section_name(prog)).starts_with("uretprobe");
      LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret, .func_name = probe.arg2.c_str());
      BPFTAPE_RETURN_IF_ERROR(
          keep(bpf_program__attach_uprobe_opts(prog, probe.pid.value_or(-1), path.c_str(), 0, &opts),
               fmt::format("uprobe {}:{}", path, probe.arg2)));
      probe.target = path + ":" + probe.arg2;
      break;
    }
    case ProbeType::Tracepoint: {
      if (auto mounted = EbpfLoader::ensure_tracefs(); !mounted) {
        return make_error(mounted.error().kind(),
                          fmt::format("tracepoint {}: {}", probe.target, mounted.error().message()));
      }
      BPFTAPE_RETURN_IF_ERROR(
          keep(bpf_program__attach_tracepoint(prog, probe.arg1.c_str(), probe.arg2.c_str()),
               fmt::format("tracepoint {}", probe.target)));
      break;
    }
    case ProbeType::RawTracepoint:
      BPFTAPE_RETURN_IF_ERROR(
          keep(bpf_program__attach_raw_tracepoint(prog, probe.arg1.c_str()),
               fmt::format("raw tracepoint {}", probe.arg1)));
      break;
    case ProbeType::Auto:
      BPFTAPE_RETURN_IF_ERROR(keep(bpf_program__attach(prog),
                                   fmt::format("program {} ({})", name,
                                               bpf_program__section_name(prog))));
      probe.target = bpf_program__section_name(prog);
      break;
    case ProbeType::PerfEvent:
      BPFTAPE_RETURN_IF_ERROR(attach_cpu_clock_sampling(prog, probe.sample_freq_hz, probe.pid,
                                                        sys_root_, attachment->links));
      break;
  }
  probe.attachment = loader.adopt(std::move(attachment));
  return {};
}

Result<void> ProbeManager::attach_registered(EbpfLoader& loader) {
  if (!loader.is_loaded()) {
    return make_error(ErrorKind::AttachFailed,
                      "no BPF object loaded: call EbpfLoader::load before attaching");
  }
  for (auto& [name, probe] : probes_) {
    if (auto a = probe.attachment.lock(); a && a->attached()) continue;
    BPFTAPE_RETURN_IF_ERROR(attach_one(name, probe, loader));
  }
  return {};
}

std::vector<ProbeInfo> ProbeManager::list_probes() const {
  std::vector<ProbeInfo> out;
  for (const auto& [name, probe] : probes_) {
    auto a = probe.attachment.lock();
    out.push_back(ProbeInfo{name, probe.type, probe.target, a && a->attached()});
  }
  return out;
}

Result<void> ProbeManager::detach(const std::string& name) {
  auto it = probes_.find(name);
  if (it == probes_.end()) {
    return make_error(ErrorKind::AttachFailed, fmt::format("no probe named '{}'", name));
  }
  if (auto a = it->second.attachment.lock()) a->detach();
  probes_.erase(it);
  return {};
}

void ProbeManager::detach_all() {
  for (auto& [name, probe] : probes_) {
    if (auto a = probe.attachment.lock()) a->detach();
  }
  probes_.clear();
}

}  // namespace otlp::ebpf
