#include "core/otlp/resource.h"

#include "core/utf8.h"

#include <algorithm>

namespace otlp::ebpf::detail {

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
    attr_str(kv, "process.command_line", command_line(*info));
  }
  if (!info->container_id.empty()) attr_str(kv, "container.id", info->container_id);
}

void fill_scope(const InstrumentationScope& scope,
                otlp_proto::common::v1::InstrumentationScope* out) {
  out->set_name(scope.name);
  out->set_version(scope.version);
}

}  // namespace otlp::ebpf::detail
