#include "core/otlp/pprof.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/otlp/otlp_json.h"
#include "tests/otlp/otlp_test_util.h"
#include "tests/otlp/scenario.h"

namespace otlp::ebpf::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Names the scenario's addresses like a symbol table would.
std::optional<ResolvedFrame> fake_symbols(uint32_t /*pid*/, uint64_t address, bool kernel) {
  static const std::map<uint64_t, ResolvedFrame> table = {
      {0x555000, {"work", "server.c", 42}},
      {0x556000, {"main", "server.c", 7}},
      {0xffffffff81000000, {"do_syscall_64", "", 0}},
  };
  auto it = table.find(address);
  if (it == table.end()) return std::nullopt;
  EXPECT_EQ(kernel, address >= 0xffff000000000000) << "kernel flag for " << address;
  return it->second;
}

class PprofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s.feed();
    auto r = s.converter().convert_profile_to_otlp(
        s.cpu, s.interned, &s.processes, ProfileOptions{.sample_hz = 100, .symbolizer = fake_symbols});
    ASSERT_TRUE(r) << r.error().to_string();
    out = std::move(*r);
  }
  // The function names of a pprof sample, leaf first.
  static std::vector<std::string> frames(const PprofProfile& p, const perftools::profiles::Sample& sample) {
    std::vector<std::string> names;
    for (uint64_t id : sample.location_id()) {
      const auto& loc = p.location(static_cast<int>(id - 1));
      EXPECT_EQ(loc.id(), id);
      if (loc.line_size() == 0) {
        names.push_back(fmt::format("{:#x}", loc.address()));
        continue;
      }
      const auto& fn = p.function(static_cast<int>(loc.line(0).function_id() - 1));
      names.push_back(p.string_table(static_cast<int>(fn.name())));
    }
    return names;
  }
  Scenario s;
  ProfileOutput out;
};

TEST_F(PprofTest, GzipRoundTripDecodesToTheSamples) {
  auto gz = pprof_gzip(out.pprof);
  ASSERT_TRUE(gz);
  ASSERT_GE(gz->size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>((*gz)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<uint8_t>((*gz)[1]), 0x8b);
  auto raw = gzip_decompress(*gz);
  ASSERT_TRUE(raw);
  PprofProfile p;
  ASSERT_TRUE(p.ParseFromString(*raw));

  ASSERT_EQ(p.string_table(0), "");
  ASSERT_EQ(p.sample_type_size(), 2);
  EXPECT_EQ(p.string_table(p.sample_type(0).type()), "samples");
  EXPECT_EQ(p.string_table(p.sample_type(0).unit()), "count");
  EXPECT_EQ(p.string_table(p.sample_type(1).type()), "cpu");
  EXPECT_EQ(p.string_table(p.sample_type(1).unit()), "nanoseconds");
  EXPECT_EQ(p.period(), 10'000'000);  // 100 Hz
  EXPECT_EQ(p.time_nanos(), static_cast<int64_t>(unix_at(s.recording.start_ns)));
  EXPECT_EQ(p.duration_nanos(), static_cast<int64_t>(s.recording.end_ns - s.recording.start_ns));

  // by_stack order: nginx user-only (3), idle (2), nginx kernel+user (1).
  ASSERT_EQ(p.sample_size(), 3);
  EXPECT_THAT(frames(p, p.sample(0)), ElementsAre("work", "main"));
  EXPECT_THAT(p.sample(0).value(), ElementsAre(3, 30'000'000));
  EXPECT_TRUE(frames(p, p.sample(1)).empty());
  EXPECT_THAT(p.sample(1).value(), ElementsAre(2, 20'000'000));
  EXPECT_THAT(frames(p, p.sample(2)), ElementsAre("do_syscall_64", "work", "main"));
  EXPECT_THAT(p.sample(2).value(), ElementsAre(1, 10'000'000));
  // Shared frames share locations and functions.
  EXPECT_EQ(p.location_size(), 3);
  EXPECT_EQ(p.function_size(), 3);
  EXPECT_EQ(p.sample(0).location_id(0), p.sample(2).location_id(1));
  // Labels: pid (number) and process name.
  const auto& labels = p.sample(0).label();
  ASSERT_EQ(labels.size(), 2);
  EXPECT_EQ(p.string_table(labels[0].key()), "pid");
  EXPECT_EQ(labels[0].num(), 100);
  EXPECT_EQ(p.string_table(labels[1].key()), "process");
  EXPECT_EQ(p.string_table(labels[1].str()), "nginx");
  EXPECT_EQ(out.samples, 6u);
}

TEST_F(PprofTest, WithoutSymbolizerLocationsKeepAddresses) {
  auto r = s.converter().convert_profile_to_otlp(s.cpu, s.interned, &s.processes, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->pprof.function_size(), 0);
  EXPECT_THAT(frames(r->pprof, r->pprof.sample(0)), ElementsAre("0x555000", "0x556000"));
}

TEST_F(PprofTest, OtlpProfilesSignalMatchesPprof) {
  const ProfilesRequest& req = out.otlp;
  const auto& dict = req.dictionary();
  ASSERT_GE(dict.string_table_size(), 1);
  EXPECT_EQ(dict.string_table(0), "");
  ASSERT_EQ(dict.mapping_table_size(), 1);  // the zero "no mapping" entry only
  ASSERT_EQ(dict.link_table_size(), 1);
  // One resource per process: idle (pid 0) then nginx (pid 100).
  ASSERT_EQ(req.resource_profiles_size(), 2);
  const auto* nginx = find_resource(req.resource_profiles(), 100);
  ASSERT_NE(nginx, nullptr);
  EXPECT_EQ(str_attr(nginx->resource().attributes(), "service.name"), "nginx");
  const auto& prof = nginx->scope_profiles(0).profiles(0);
  EXPECT_EQ(dict.string_table(prof.sample_type().type_strindex()), "samples");
  EXPECT_EQ(prof.period(), 10'000'000);
  EXPECT_EQ(prof.profile_id().size(), 16u);
  ASSERT_EQ(prof.sample_size(), 2);
  auto names = [&](const otlp_proto::profiles::v1development::Sample& smp) {
    std::vector<std::string> v;
    for (int i = 0; i < smp.locations_length(); ++i) {
      const auto& loc = dict.location_table(prof.location_indices(smp.locations_start_index() + i));
      const auto& fn = dict.function_table(loc.line(0).function_index());
      v.push_back(dict.string_table(fn.name_strindex()));
    }
    return v;
  };
  EXPECT_THAT(names(prof.sample(0)), ElementsAre("work", "main"));
  EXPECT_THAT(prof.sample(0).values(), ElementsAre(3));
  EXPECT_THAT(names(prof.sample(1)), ElementsAre("do_syscall_64", "work", "main"));
  // Profile ids are hex in OTLP/JSON too.
  EXPECT_THAT(to_otlp_json(req), HasSubstr(R"("profileId":")"));
}

// A PprofProfile (what EbpfCpuProfiler::stop() returns) turned into OTLP: the very request
// the converter built with it.
TEST_F(PprofTest, PprofProfileConvertsToTheSameOtlpProfiles) {
  auto otlp = s.converter().convert_profile_to_otlp(out.pprof, &s.processes);
  ASSERT_TRUE(otlp) << otlp.error().to_string();
  EXPECT_EQ(serialize_deterministic(*otlp), serialize_deterministic(out.otlp));
  // Through a gzip round trip, as a .pb.gz from disk.
  PprofProfile read_back;
  ASSERT_TRUE(read_back.ParseFromString(*gzip_decompress(*pprof_gzip(out.pprof))));
  auto again = s.converter().convert_profile_to_otlp(read_back, &s.processes);
  ASSERT_TRUE(again);
  EXPECT_EQ(serialize_deterministic(*again), serialize_deterministic(out.otlp));
}

TEST_F(PprofTest, ForeignPprofIdsAreMappedAndInvalidOnesRefused) {
  // Ids need not be 1..n in table order.
  PprofProfile p = out.pprof;
  for (auto& loc : *p.mutable_location()) loc.set_id(loc.id() * 10);
  for (auto& sample : *p.mutable_sample()) {
    for (auto& id : *sample.mutable_location_id()) id *= 10;
  }
  auto mapped = s.converter().convert_profile_to_otlp(p, &s.processes);
  ASSERT_TRUE(mapped) << mapped.error().to_string();
  EXPECT_EQ(serialize_deterministic(*mapped), serialize_deterministic(out.otlp));

  PprofProfile dangling = out.pprof;
  dangling.mutable_sample(0)->set_location_id(0, 9999);
  auto r = s.converter().convert_profile_to_otlp(dangling);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::FormatError);
  EXPECT_THAT(r.error().message(), HasSubstr("location 9999"));
  PprofProfile bad_string = out.pprof;
  bad_string.mutable_function(0)->set_name(1'000'000);
  EXPECT_EQ(s.converter().convert_profile_to_otlp(bad_string).error().kind(),
            ErrorKind::FormatError);
  EXPECT_FALSE(s.converter().convert_profile_to_otlp(PprofProfile{}));
}

TEST_F(PprofTest, OutputIsDeterministic) {
  auto again = s.converter().convert_profile_to_otlp(
      s.cpu, s.interned, &s.processes, ProfileOptions{.sample_hz = 100, .symbolizer = fake_symbols});
  ASSERT_TRUE(again);
  EXPECT_EQ(*pprof_gzip(out.pprof), *pprof_gzip(again->pprof));
  EXPECT_EQ(serialize_deterministic(out.otlp), serialize_deterministic(again->otlp));
}

TEST(GzipTest, CorruptOrOversizedInputIsAnError) {
  auto gz = gzip_compress(std::string(100'000, 'x'));
  ASSERT_TRUE(gz);
  EXPECT_EQ(*gzip_decompress(*gz), std::string(100'000, 'x'));
  auto truncated = gzip_decompress(std::string_view(*gz).substr(0, gz->size() / 2));
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().kind(), ErrorKind::FormatError);
  EXPECT_FALSE(gzip_decompress("not gzip at all"));
  auto bomb = gzip_decompress(*gz, 1000);
  ASSERT_FALSE(bomb);
  EXPECT_THAT(bomb.error().message(), HasSubstr("1000"));
}

TEST_F(PprofTest, GoToolPprofReadsIt) {
  if (std::system("command -v go >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "go is not installed (apt-get install golang-go): cannot run go tool pprof";
  }
  std::string dir = ::testing::TempDir();
  std::string path = temp_path("bpftape_pprof_test.pb.gz");
  {
    auto gz = pprof_gzip(out.pprof);
    ASSERT_TRUE(gz);
    std::ofstream f(path, std::ios::binary);
    f.write(gz->data(), static_cast<std::streamsize>(gz->size()));
  }
  // HOME/GOCACHE: go needs writable caches even to run a tool; keep them in the temp dir.
  std::string cmd = fmt::format(
      "HOME={0} GOCACHE={0}/gocache GOFLAGS= go tool pprof -top -symbolize=none "
      "-sample_index=samples {1} 2>&1",
      dir, path);
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  int status = pclose(pipe);
  std::remove(path.c_str());
  ASSERT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("work"));
  EXPECT_THAT(output, HasSubstr("do_syscall_64"));
  // All six samples (three stacks plus the two idle ones) are accounted for.
  EXPECT_THAT(output, HasSubstr("6 total")) << output;
}

}  // namespace
}  // namespace otlp::ebpf::testing
