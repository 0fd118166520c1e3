// Resource attributes and attribute helpers shared by the span, metric and profile builders
// (private to core/otlp).
#pragma once

#include "core/utf8.h"  // to_valid_utf8
#include <cstdint>
#include <string>
#include <string_view>

#include "core/otlp/converter.h"

namespace otlp::ebpf::detail {

using KeyValues = google::protobuf::RepeatedPtrField<otlp_proto::common::v1::KeyValue>;


// String attributes are made valid UTF-8 (to_valid_utf8); keys are bpftape's own ASCII.
void attr_str(KeyValues* kv, std::string_view key, std::string_view value);
void attr_int(KeyValues* kv, std::string_view key, int64_t value);
void attr_bool(KeyValues* kv, std::string_view key, bool value);

// The resource of process `pid` (info may be null: pid only): service.name, host.name,
// os.type, process.pid, process.parent_pid, process.executable.name/.path,
// process.command_line (unless redacted), container.id.
void fill_process_resource(const ResourceConfig& config, uint32_t pid, const ProcessInfo* info,
                           otlp_proto::resource::v1::Resource* resource);
// The host resource (host-wide metrics): service.name, host.name, os.type.
void fill_host_resource(const ResourceConfig& config, otlp_proto::resource::v1::Resource* resource);
void fill_scope(const InstrumentationScope& scope, otlp_proto::common::v1::InstrumentationScope* out);

// "nginx" for "/usr/sbin/nginx", else comm, else "".
std::string executable_name(const ProcessInfo* info);

}  // namespace otlp::ebpf::detail
