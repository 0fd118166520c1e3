// The real recordings in traces/ (made with `bpftape record`, see traces/README.md) replay
// without root or BPF and say what their workloads did: exact request, allocation and process
// counts, frames named from the symbols recorded with them, and the same digest whatever the
// decode thread count.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "core/pipeline.h"
#include "core/report/symbolizer.h"
#include "core/tracers/cpu_aggregator.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/network_aggregator.h"
#include "core/tracers/syscall_aggregator.h"
#include "core/tracers/syscall_names.h"
#include "replayer/file_source.h"
#include "tests/run_command.h"

namespace bpftape {
namespace {

using namespace otlp::ebpf;
using otlp::ebpf::testing::run_command;

const std::string kBinary = BPFTAPE_BINARY;
std::string trace(const std::string& name) { return std::string(BPFTAPE_SOURCE_DIR) + "/traces/" + name; }

struct Replayed {
  SyscallAggregator syscalls;
  NetworkAggregator network;
  MemoryAggregator memory;
  CpuAggregator cpu;
  std::unique_ptr<replay::FileSource> source;
  PipelineStats stats;

  const ProcessInfo* process_named(const std::string& comm) const {
    for (const auto& p : source->processes().all()) {
      if (p.comm == comm) return source->processes().latest(p.pid);
    }
    return nullptr;
  }
  Symbolizer symbolizer() const { return Symbolizer(source->reader().symbols(), source->reader().mappings()); }
};

std::unique_ptr<Replayed> replay_trace(const std::string& name) {
  auto r = std::make_unique<Replayed>();
  auto source = replay::FileSource::open(trace(name), {});
  EXPECT_TRUE(source) << source.error().to_string();
  if (!source) return nullptr;
  r->source = std::move(*source);
  EXPECT_TRUE(r->source->reader().complete()) << name << " is a whole recording";
  auto pipeline = Pipeline::create({});
  EXPECT_TRUE(pipeline);
  for (Aggregator* a : std::initializer_list<Aggregator*>{&r->syscalls, &r->network, &r->memory, &r->cpu}) {
    (*pipeline)->add_aggregator(*a);
  }
  auto ran = (*pipeline)->run(*r->source);
  EXPECT_TRUE(ran) << ran.error().to_string();
  r->stats = (*pipeline)->stats();
  EXPECT_EQ(r->stats.losses.events_lost, 0u) << name;
  return r;
}

// traces/http-loopback.bpftape: `bpftape_workload http 200`, every tracer.
TEST(ShippedTraces, HttpLoopbackHasEveryRequestOnBothSides) {
  auto r = replay_trace("http-loopback.bpftape");
  ASSERT_TRUE(r);
  const ProcessInfo* workload = r->process_named("bpftape_workloa");
  ASSERT_NE(workload, nullptr);
  std::map<ConnectionRole, std::set<std::string>> paths;
  for (const auto& req : r->network.http_requests()) {
    EXPECT_EQ(req.pid, workload->pid);
    EXPECT_EQ(req.method, "GET");
    EXPECT_EQ(req.status, 200);
    paths[req.role].insert(req.path);
  }
  std::set<std::string> expected;
  for (int i = 0; i < 200; ++i) expected.insert("/item/" + std::to_string(i));
  EXPECT_EQ(paths[ConnectionRole::Client], expected);
  EXPECT_EQ(paths[ConnectionRole::Server], expected);
  EXPECT_EQ(r->network.stats().tcp_connections, 400u);
  EXPECT_EQ(r->network.stats().connections_closed, 400u);
  uint64_t connects = 0, accepts = 0;
  for (const auto& s : r->syscalls.by_syscall()) {
    if (syscall_name(s.nr) == "connect") connects = s.count;
    if (syscall_name(s.nr) == "accept") accepts = s.count;
  }
  EXPECT_EQ(connects, 200u);
  EXPECT_EQ(accepts, 200u);
}

// traces/compile.bpftape: `g++ -c core/sha256.cc`, syscalls + CPU at 499 Hz.
TEST(ShippedTraces, CompileStepFollowsTheDriversChildrenAndNamesCompilerFrames) {
  auto r = replay_trace("compile.bpftape");
  ASSERT_TRUE(r);
  const ProcessInfo* driver = r->process_named("g++");
  const ProcessInfo* compiler = r->process_named("cc1plus");
  const ProcessInfo* assembler = r->process_named("as");
  ASSERT_TRUE(driver && compiler && assembler);
  EXPECT_EQ(compiler->ppid, driver->pid);
  EXPECT_EQ(assembler->ppid, driver->pid);
  EXPECT_GT(r->cpu.stats().samples, 100u);
  // cc1plus's own functions (Debian ships it stripped: its .dynsym) are named from the symbols
  // recorded with the tape.
  std::set<std::string> compiler_functions;
  for (const auto& sym : r->source->reader().symbols()) {
    if (sym.pid == compiler->pid) compiler_functions.insert(sym.name);
  }
  EXPECT_TRUE(compiler_functions.contains("c_parse_file()")) << compiler_functions.size();
  uint64_t execs = 0;
  for (const auto& s : r->syscalls.by_syscall()) {
    if (syscall_name(s.nr) == "execve") execs = s.count - s.errors;
  }
  EXPECT_EQ(execs, 3u) << "g++ itself (the recorder attaches before releasing it), cc1plus, as";
}

// traces/leak.bpftape: `bpftape_workload malloc 2000 12345` (frees half), memory tracer.
TEST(ShippedTraces, LeakReportPointsAtMain) {
  auto r = replay_trace("leak.bpftape");
  ASSERT_TRUE(r);
  const Symbolizer symbolizer = r->symbolizer();
  const auto outstanding = r->memory.outstanding_by_stack();
  ASSERT_FALSE(outstanding.empty());
  const auto& top = outstanding.front();
  EXPECT_EQ(top.allocations, 1000u);
  EXPECT_EQ(top.bytes, 1000u * 12345u);
  bool in_main = false;
  for (uint64_t frame : r->source->interned().stack(top.stack)) in_main |= symbolizer.name(top.pid, frame) == "main";
  EXPECT_TRUE(in_main);
}

TEST(ShippedTraces, ReplayDigestDoesNotDependOnDecodeThreads) {
  for (const char* name : {"http-loopback.bpftape", "compile.bpftape", "leak.bpftape"}) {
    auto one = run_command({kBinary, "replay", trace(name), "--digest", "--no-progress", "--threads", "1"});
    auto four = run_command({kBinary, "replay", trace(name), "--digest", "--no-progress", "--threads", "4"});
    ASSERT_EQ(one.exit_code, 0) << one.err;
    ASSERT_EQ(four.exit_code, 0) << four.err;
    EXPECT_NE(one.out.find("digest: sha256:"), std::string::npos);
    EXPECT_EQ(one.out, four.out) << name;
  }
}

}  // namespace
}  // namespace bpftape
