#include "core/otlp/pprof.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>
#include <zlib.h>

#include "core/clock.h"
#include "core/otlp/ids.h"
#include "core/otlp/otlp_json.h"
#include "core/otlp/resource.h"

namespace otlp::ebpf {

namespace profiles_pb = otlp_proto::profiles::v1development;

namespace {

// Interning tables for one pprof Profile. Ids are assigned in first-use order, and first use
// follows CpuAggregator::by_stack() order, so the output is deterministic (the unordered map is
// only ever looked up, never iterated).
class PprofBuilder {
 public:
  PprofBuilder(const ProfileOptions& options) : options_(options) { str(""); }

  // pprof's string_table is a proto3 `string`: function names and process names from a
  // recording are made valid UTF-8 first.
  int64_t str(std::string_view raw) {
    std::string s = to_valid_utf8(raw);
    auto [it, inserted] = strings_.try_emplace(s, profile_.string_table_size());
    if (inserted) profile_.add_string_table(std::move(s));
    return it->second;
  }

  // User addresses only mean something within their process; kernel addresses are shared.
  uint64_t location(uint32_t pid, uint64_t address, bool kernel) {
    auto key = std::tuple(kernel ? 0u : pid, kernel, address);
    auto [it, inserted] = locations_.try_emplace(key, profile_.location_size() + 1);
    if (!inserted) return it->second;
    auto* loc = profile_.add_location();
    loc->set_id(it->second);
    loc->set_address(address);
    if (options_.symbolizer) {
      if (std::optional<ResolvedFrame> f = options_.symbolizer(pid, address, kernel)) {
        auto* line = loc->add_line();
        line->set_function_id(function(*f));
        line->set_line(f->line);
      }
    }
    return it->second;
  }

  PprofProfile& profile() { return profile_; }

 private:
  uint64_t function(const ResolvedFrame& f) {
    auto [it, inserted] =
        functions_.try_emplace(std::pair(f.function, f.file), profile_.function_size() + 1);
    if (inserted) {
      auto* fn = profile_.add_function();
      fn->set_id(it->second);
      fn->set_name(str(f.function));
      fn->set_system_name(str(f.function));
      fn->set_filename(str(f.file));
    }
    return it->second;
  }

  const ProfileOptions& options_;
  PprofProfile profile_;
  std::unordered_map<std::string, int64_t> strings_;
  std::map<std::tuple<uint32_t, bool, uint64_t>, uint64_t> locations_;
  std::map<std::pair<std::string, std::string>, uint64_t> functions_;
};

// The OTLP profiles encoding of the same data: one ResourceProfiles per process (ascending
// pid), tables shared through the request's dictionary. pprof's tables map 1:1 (pprof id n ->
// table index n-1; strings keep their indices, both tables start with "").
void build_otlp(const PprofProfile& pp, const std::vector<uint32_t>& sample_pids,
                const ProcessTable* processes, const ResourceConfig& resource,
                const RecordingContext& recording, const InstrumentationScope& scope,
                ProfilesRequest* out) {
  auto* dict = out->mutable_dictionary();
  for (const auto& s : pp.string_table()) dict->add_string_table(s);
  dict->add_mapping_table();  // [0]: the "no mapping" entry every location points at
  dict->add_link_table();     // [0]: "no link"
  for (const auto& f : pp.function()) {
    auto* fn = dict->add_function_table();
    fn->set_name_strindex(static_cast<int32_t>(f.name()));
    fn->set_system_name_strindex(static_cast<int32_t>(f.system_name()));
    fn->set_filename_strindex(static_cast<int32_t>(f.filename()));
  }
  for (const auto& l : pp.location()) {
    auto* loc = dict->add_location_table();
    loc->set_address(l.address());
    for (const auto& line : l.line()) {
      auto* ol = loc->add_line();
      ol->set_function_index(static_cast<int32_t>(line.function_id() - 1));
      ol->set_line(line.line());
    }
  }
  const int32_t samples_str = static_cast<int32_t>(pp.sample_type(0).type());
  const int32_t count_str = static_cast<int32_t>(pp.sample_type(0).unit());

  std::map<uint32_t, profiles_pb::Profile> by_pid;
  for (int i = 0; i < pp.sample_size(); ++i) {
    const auto& s = pp.sample(i);
    profiles_pb::Profile& p = by_pid[sample_pids[i]];
    auto* os = p.add_sample();
    os->set_locations_start_index(p.location_indices_size());
    os->set_locations_length(s.location_id_size());
    for (uint64_t id : s.location_id()) p.add_location_indices(static_cast<int32_t>(id - 1));
    os->add_values(s.value(0));
  }
  for (auto& [pid, p] : by_pid) {
    p.mutable_sample_type()->set_type_strindex(samples_str);
    p.mutable_sample_type()->set_unit_strindex(count_str);
    p.mutable_sample_type()->set_aggregation_temporality(
        profiles_pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
    p.mutable_period_type()->set_type_strindex(static_cast<int32_t>(pp.period_type().type()));
    p.mutable_period_type()->set_unit_strindex(static_cast<int32_t>(pp.period_type().unit()));
    p.set_period(pp.period());
    p.set_time_nanos(static_cast<uint64_t>(pp.time_nanos()));
    p.set_duration_nanos(static_cast<uint64_t>(pp.duration_nanos()));
    p.set_profile_id(id_bytes(profile_id(recording.recording_id, pid, recording.start_ns)));
    auto* rp = out->add_resource_profiles();
    detail::fill_process_resource(resource, pid,
                                  processes != nullptr ? processes->latest(pid) : nullptr,
                                  rp->mutable_resource());
    auto* sp = rp->add_scope_profiles();
    detail::fill_scope(scope, sp->mutable_scope());
    *sp->add_profiles() = std::move(p);
  }
}

}  // namespace

ProfileOutput build_profiles(const CpuAggregator& cpu, const InternTable& interned,
                             const ProcessTable* processes, const ResourceConfig& resource,
                             const RecordingContext& recording, const InstrumentationScope& scope,
                             const ProfileOptions& options) {
  ProfileOutput out;
  PprofBuilder b(options);
  PprofProfile& pp = b.profile();
  // convert_profile_to_otlp refuses 0 Hz with a ConfigError; direct callers get 1 Hz rather
  // than a division by zero.
  const int64_t period_ns = 1'000'000'000 / std::max<uint32_t>(options.sample_hz, 1);
  auto* t0 = pp.add_sample_type();
  t0->set_type(b.str("samples"));
  t0->set_unit(b.str("count"));
  auto* t1 = pp.add_sample_type();
  t1->set_type(b.str("cpu"));
  t1->set_unit(b.str("nanoseconds"));
  pp.mutable_period_type()->set_type(b.str("cpu"));
  pp.mutable_period_type()->set_unit(b.str("nanoseconds"));
  pp.set_period(period_ns);
  // int64 fields: a tape's times can be anything, so they saturate rather than turn negative.
  pp.set_time_nanos(saturating_int64(recording.clock.to_unix_ns(recording.start_ns)));
  pp.set_duration_nanos(saturating_int64(saturating_sub(recording.end_ns, recording.start_ns)));
  const int64_t pid_key = b.str("pid");
  const int64_t process_key = b.str("process");

  std::vector<uint32_t> sample_pids;
  for (const StackSamples& s : cpu.by_stack()) {
    auto* sample = pp.add_sample();
    // pprof wants the leaf first: the kernel part (innermost) precedes the user part, and
    // each interned stack is stored innermost first.
    for (uint64_t addr : interned.stack(s.kernel_stack)) {
      sample->add_location_id(b.location(s.pid, addr, /*kernel=*/true));
    }
    for (uint64_t addr : interned.stack(s.user_stack)) {
      sample->add_location_id(b.location(s.pid, addr, /*kernel=*/false));
    }
    sample->add_value(saturating_int64(s.count));
    sample->add_value(saturating_int64(saturating_mul(s.count, static_cast<uint64_t>(period_ns))));
    auto* pid_label = sample->add_label();
    pid_label->set_key(pid_key);
    pid_label->set_num(s.pid);
    const ProcessInfo* info = processes != nullptr ? processes->latest(s.pid) : nullptr;
    std::string name = s.pid == 0 ? std::string("[idle]") : detail::executable_name(info);
    if (!name.empty()) {
      auto* l = sample->add_label();
      l->set_key(process_key);
      l->set_str(b.str(name));
    }
    sample_pids.push_back(s.pid);
    out.samples += s.count;
  }
  build_otlp(pp, sample_pids, processes, resource, recording, scope, &out.otlp);
  out.pprof = std::move(pp);
  return out;
}

Result<std::string> gzip_compress(std::string_view bytes) {
  z_stream z{};
  // windowBits 15 + 16: gzip wrapper; zlib writes mtime 0 and no name, so output is stable.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return make_error(ErrorKind::Io, "zlib deflateInit2 failed (out of memory?)");
  }
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  size_t produced = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    return make_error(ErrorKind::Io, fmt::format("zlib deflate failed (code {})", rc));
  }
  out.resize(produced);
  return out;
}

Result<std::string> gzip_decompress(std::string_view bytes, size_t max_output) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) {
    return make_error(ErrorKind::Io, "zlib inflateInit2 failed (out of memory?)");
  }
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  int rc = Z_OK;
  char chunk[16384];
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(chunk, sizeof chunk - z.avail_out);
    if (out.size() > max_output) {
      inflateEnd(&z);
      return make_error(ErrorKind::FormatError,
                        fmt::format("gzip data expands beyond {} bytes; refusing it", max_output));
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) break;  // input ended early
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    return make_error(ErrorKind::FormatError,
                      "gzip data is corrupt or truncated: re-create the file");
  }
  return out;
}

Result<std::string> pprof_gzip(const PprofProfile& profile) {
  return gzip_compress(serialize_deterministic(profile));
}

}  // namespace otlp::ebpf
