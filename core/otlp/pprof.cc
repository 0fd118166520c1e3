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

// Where each pprof id (functions, locations: any positive numbers) sits in its table. A
// profile from elsewhere may use any ids: duplicates, 0 and references to unknown ids are
// refused.
Result<std::map<uint64_t, int32_t>> index_ids(const auto& entries, std::string_view what) {
  std::map<uint64_t, int32_t> index;
  for (int i = 0; i < entries.size(); ++i) {
    const uint64_t id = entries.Get(i).id();
    if (id == 0 || !index.emplace(id, i).second) {
      return make_error(ErrorKind::FormatError,
                        fmt::format("pprof {} id {} is 0 or repeated: not a valid profile", what, id));
    }
  }
  return index;
}

Result<int32_t> string_index(const PprofProfile& pp, int64_t index) {
  if (index < 0 || index >= pp.string_table_size()) {
    return make_error(ErrorKind::FormatError,
                      fmt::format("pprof string index {} is outside its string table ({} "
                                  "strings): not a valid profile",
                                  index, pp.string_table_size()));
  }
  return static_cast<int32_t>(index);
}

// The OTLP profiles encoding of a pprof profile: one ResourceProfiles per process (the
// samples' "pid" label, ascending; samples without one go to pid 0), tables shared through the
// request's dictionary. Strings keep their indices (both tables start with ""); functions and
// locations keep their order. The first sample type is the one carried.
Result<void> build_otlp(const PprofProfile& pp, const ProcessTable* processes,
                        const ResourceConfig& resource, const RecordingContext& recording,
                        const InstrumentationScope& scope, ProfilesRequest* out) {
  if (pp.string_table_size() == 0 || !pp.string_table(0).empty()) {
    return make_error(ErrorKind::FormatError,
                      "pprof string table must start with \"\": not a valid profile");
  }
  if (pp.sample_type_size() == 0) {
    return make_error(ErrorKind::FormatError, "pprof profile has no sample type: nothing to convert");
  }
  BPFTAPE_ASSIGN_OR_RETURN(auto functions, index_ids(pp.function(), "function"));
  BPFTAPE_ASSIGN_OR_RETURN(auto locations, index_ids(pp.location(), "location"));
  auto* dict = out->mutable_dictionary();
  for (const auto& s : pp.string_table()) dict->add_string_table(s);
  dict->add_mapping_table();  // [0]: the "no mapping" entry every location points at
  dict->add_link_table();     // [0]: "no link"
  for (const auto& f : pp.function()) {
    auto* fn = dict->add_function_table();
    BPFTAPE_ASSIGN_OR_RETURN(int32_t name, string_index(pp, f.name()));
    BPFTAPE_ASSIGN_OR_RETURN(int32_t system_name, string_index(pp, f.system_name()));
    BPFTAPE_ASSIGN_OR_RETURN(int32_t filename, string_index(pp, f.filename()));
    fn->set_name_strindex(name);
    fn->set_system_name_strindex(system_name);
    fn->set_filename_strindex(filename);
  }
  for (const auto& l : pp.location()) {
    auto* loc = dict->add_location_table();
    loc->set_address(l.address());
    for (const auto& line : l.line()) {
      auto fn = functions.find(line.function_id());
      if (fn == functions.end()) {
        return make_error(ErrorKind::FormatError,
                          fmt::format("pprof location {} names function {}, which the profile "
                                      "does not have",
                                      l.id(), line.function_id()));
      }
      auto* ol = loc->add_line();
      ol->set_function_index(fn->second);
      ol->set_line(line.line());
    }
  }
  BPFTAPE_ASSIGN_OR_RETURN(int32_t type_str, string_index(pp, pp.sample_type(0).type()));
  BPFTAPE_ASSIGN_OR_RETURN(int32_t unit_str, string_index(pp, pp.sample_type(0).unit()));
  BPFTAPE_ASSIGN_OR_RETURN(int32_t period_type_str, string_index(pp, pp.period_type().type()));
  BPFTAPE_ASSIGN_OR_RETURN(int32_t period_unit_str, string_index(pp, pp.period_type().unit()));
  const auto pid_key = std::find(pp.string_table().begin(), pp.string_table().end(), "pid") -
                       pp.string_table().begin();

  std::map<uint32_t, profiles_pb::Profile> by_pid;
  for (const auto& s : pp.sample()) {
    if (s.value_size() == 0) {
      return make_error(ErrorKind::FormatError, "pprof sample without a value: not a valid profile");
    }
    uint32_t pid = 0;
    for (const auto& label : s.label()) {
      if (label.key() == pid_key) pid = static_cast<uint32_t>(label.num());
    }
    profiles_pb::Profile& p = by_pid[pid];
    auto* os = p.add_sample();
    os->set_locations_start_index(p.location_indices_size());
    os->set_locations_length(s.location_id_size());
    for (uint64_t id : s.location_id()) {
      auto loc = locations.find(id);
      if (loc == locations.end()) {
        return make_error(ErrorKind::FormatError,
                          fmt::format("pprof sample names location {}, which the profile does "
                                      "not have",
                                      id));
      }
      p.add_location_indices(loc->second);
    }
    os->add_values(s.value(0));
  }
  for (auto& [pid, p] : by_pid) {
    p.mutable_sample_type()->set_type_strindex(type_str);
    p.mutable_sample_type()->set_unit_strindex(unit_str);
    p.mutable_sample_type()->set_aggregation_temporality(
        profiles_pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
    p.mutable_period_type()->set_type_strindex(period_type_str);
    p.mutable_period_type()->set_unit_strindex(period_unit_str);
    p.set_period(pp.period());
    p.set_time_nanos(static_cast<uint64_t>(std::max<int64_t>(pp.time_nanos(), 0)));
    p.set_duration_nanos(static_cast<uint64_t>(std::max<int64_t>(pp.duration_nanos(), 0)));
    p.set_profile_id(id_bytes(profile_id(recording.recording_id, pid, recording.start_ns)));
    auto* rp = out->add_resource_profiles();
    detail::fill_process_resource(resource, pid,
                                  processes != nullptr ? processes->latest(pid) : nullptr,
                                  rp->mutable_resource());
    auto* sp = rp->add_scope_profiles();
    detail::fill_scope(scope, sp->mutable_scope());
    *sp->add_profiles() = std::move(p);
  }
  return {};
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
    out.samples += s.count;
  }
  // Built above, so valid: the conversion cannot fail.
  (void)build_otlp(pp, processes, resource, recording, scope, &out.otlp);
  out.pprof = std::move(pp);
  return out;
}

Result<ProfilesRequest> pprof_to_otlp(const PprofProfile& profile, const ProcessTable* processes,
                                      const ResourceConfig& resource,
                                      const RecordingContext& recording,
                                      const InstrumentationScope& scope) {
  ProfilesRequest out;
  BPFTAPE_RETURN_IF_ERROR(build_otlp(profile, processes, resource, recording, scope, &out));
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
