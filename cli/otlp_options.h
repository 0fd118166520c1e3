// The OpenTelemetry output flags shared by `replay`, `convert` (and `record`): collector
// endpoint and headers, OTLP/JSON file, pprof file, service name, command-line redaction.
#pragma once

#include "cli/args.h"
#include "core/otlp/output.h"

namespace bpftape::cli {

void add_otlp_options(ArgParser& parser);
// The OtlpOutput the flags ask for; `any()` tells whether anything was asked for.
otlp::ebpf::Result<otlp::ebpf::OtlpOutput> otlp_output_from(const ParsedArgs& args);
bool wants_otlp(const otlp::ebpf::OtlpOutput& output);
// "otlp: 12 spans, 40 metric points, 99 profile samples; collector: 3 requests sent, ..."
std::string describe_export(const otlp::ebpf::OtlpOutput& output,
                            const otlp::ebpf::OtlpExportReport& report);

}  // namespace bpftape::cli
