// CPU profiles: pprof (gzip-compressed perftools.profiles.Profile, what `go tool pprof` reads)
// and the OTLP profiles signal, both from CpuAggregator's samples by (pid, user, kernel stack).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/otlp/converter.h"

namespace otlp::ebpf {

// Builds both encodings (options.sample_hz > 0; EbpfOtlpConverter::convert_profile_to_otlp
// checks the configuration and is the usual entry point). Deterministic: samples in
// CpuAggregator::by_stack() order, string, function and location tables in first-use order.
ProfileOutput build_profiles(const CpuAggregator& cpu, const InternTable& interned,
                             const ProcessTable* processes, const ResourceConfig& resource,
                             const RecordingContext& recording, const InstrumentationScope& scope,
                             const ProfileOptions& options);

// A pprof profile (ours, or any: `go tool pprof`'s, a Go program's) as the OTLP profiles
// signal, exactly as build_profiles() encodes its own: one resource per process (the samples'
// "pid" label; pid 0 without one), the first sample type. FormatError for a profile that is not
// valid pprof (ids or string indices that point nowhere). EbpfOtlpConverter's
// convert_profile_to_otlp(const PprofProfile&) is the usual entry point.
Result<ProfilesRequest> pprof_to_otlp(const PprofProfile& profile, const ProcessTable* processes,
                                      const ResourceConfig& resource,
                                      const RecordingContext& recording,
                                      const InstrumentationScope& scope);

// gzip (RFC 1952) of bytes, deterministic: no file name, mtime 0.
Result<std::string> gzip_compress(std::string_view bytes);
// Inverse of gzip_compress; also accepts any gzip stream. FormatError on corrupt input, and on
// output beyond `max_output` bytes (a bound for untrusted input).
Result<std::string> gzip_decompress(std::string_view bytes, size_t max_output = 1u << 30);
// The .pb.gz bytes `go tool pprof` reads.
Result<std::string> pprof_gzip(const PprofProfile& profile);

}  // namespace otlp::ebpf
