#include "core/otlp/resource.h"

#include <algorithm>

namespace otlp::ebpf::detail {

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (Unicode table 3-7), or 0.
size_t sequence_length(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto in = [&](size_t k, unsigned lo, unsigned hi) {
    return k < s.size() && at(k) >= lo && at(k) <= hi;
  };
  unsigned char c = at(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return in(i + 1, 0x80, 0xBF) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) && in(i + 3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

}  // namespace

std::string to_valid_utf8(std::string_view text) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return (c & 0x80) == 0; })) {
    return std::string(text);  // the common case: ASCII
  }
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    size_t n = sequence_length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  return out;
}

void attr_str(KeyValues* kv, std::string_view key, std::string_view value) {
  auto* a = kv->Add();
  a->set_key(std::string(key));
  a->mutable_value()->set_string_value(to_valid_utf8(value));
}

void attr_int(KeyValues* kv, std::string_view key, int64_t value) {
  auto* a = kv->Add();
  a->set_key(std::string(key));
  a->mutable_value()->set_int_value(value);
}

void attr_bool(KeyValues* kv, std::string_view key, bool value) {
  auto* a = kv->Add();
  a->set_key(std::string(key));
  a->mutable_value()->set_bool_value(value);
}

std::string executable_name(const ProcessInfo* info) {
  if (info == nullptr) return {};
  if (!info->exe.empty()) {
    size_t slash = info->exe.rfind('/');
    return slash == std::string::npos ? info->exe : info->exe.substr(slash + 1);
  }
  return info->comm;
}

namespace {

// service.name: the configured one, else the process name. The OpenTelemetry resource
// convention for "unknown" is "unknown_service[:<executable>]".
std::string service_name(const ResourceConfig& config, const ProcessInfo* info) {
  if (!config.service_name.empty()) return config.service_name;
  std::string exe = executable_name(info);
  return exe.empty() ? "unknown_service" : exe;
}

}  // namespace

void fill_host_resource(const ResourceConfig& config, otlp_proto::resource::v1::Resource* r) {
  auto* kv = r->mutable_attributes();
  attr_str(kv, "service.name",
           config.service_name.empty() ? std::string("bpftape") : config.service_name);
  if (!config.host_name.empty()) attr_str(kv, "host.name", config.host_name);
  attr_str(kv, "os.type", "linux");  // recordings are of Linux kernels only
}

void fill_process_resource(const ResourceConfig& config, uint32_t pid, const ProcessInfo* info,
                           otlp_proto::resource::v1::Resource* r) {
  auto* kv = r->mutable_attributes();
  attr_str(kv, "service.name", service_name(config, info));
  if (!config.host_name.empty()) attr_str(kv, "host.name", config.host_name);
  attr_str(kv, "os.type", "linux");
  attr_int(kv, "process.pid", pid);
  if (info == nullptr) return;
  if (info->ppid != 0) attr_int(kv, "process.parent_pid", info->ppid);
  if (std::string exe = executable_name(info); !exe.empty()) {
    attr_str(kv, "process.executable.name", exe);
  }
  if (!info->exe.empty()) attr_str(kv, "process.executable.path", info->exe);
  if (!config.redact_command_line && !info->cmdline.empty()) {
    attr_str(kv, "process.command_line", info->cmdline);
  }
  if (!info->container_id.empty()) attr_str(kv, "container.id", info->container_id);
}

void fill_scope(const InstrumentationScope& scope,
                otlp_proto::common::v1::InstrumentationScope* out) {
  out->set_name(scope.name);
  out->set_version(scope.version);
}

}  // namespace otlp::ebpf::detail
