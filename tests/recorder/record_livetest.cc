// `bpftape record` end to end on the live kernel: a known workload is recorded into a tape,
// the tape is read back through the replay pipeline, and exact counts are asserted. Also the
// ways a recording ends: SIGINT (clean), SIGKILL (readable prefix), disk full (clean error),
// not privileged (doctor's explanation, exit 2).
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/pipeline.h"
#include "core/report/symbolizer.h"
#include "core/tape/reader.h"
#include "core/tracers/cpu_aggregator.h"
#include "core/tracers/memory_aggregator.h"
#include "core/tracers/network_aggregator.h"
#include "core/tracers/syscall_aggregator.h"
#include "replayer/file_source.h"
#include "tests/kernel/live_test_util.h"
#include "tests/recorder/record_test_util.h"
#include "tests/run_command.h"
#include "tests/temp_dir.h"

namespace bpftape::record {
namespace {

using namespace otlp::ebpf;
using ::testing::HasSubstr;
using otlp::ebpf::testing::TempDir;

using bpftape::record::testing::kBpftape;
using bpftape::record::testing::kWorkload;
using bpftape::record::testing::run;

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// A tape read back through the replay pipeline, with every event kept for exact checks.
struct Replayed : Aggregator {
  SyscallAggregator syscalls;
  NetworkAggregator network;
  MemoryAggregator memory;
  CpuAggregator cpu;
  std::vector<EbpfEvent> events;
  std::unique_ptr<replay::FileSource> source;
  PipelineStats stats;

  void consume(std::span<const EbpfEvent> delivered, const InternTable&) override {
    events.insert(events.end(), delivered.begin(), delivered.end());
  }

  // The recorded command's pid: the process whose executable is the workload.
  uint32_t workload_pid() const {
    for (const auto& p : source->processes().all()) {
      if (p.exe.ends_with("/bpftape_workload")) return p.pid;
    }
    return 0;
  }
  Symbolizer symbolizer() const {
    return Symbolizer(source->reader().symbols(), source->reader().mappings());
  }
};

std::unique_ptr<Replayed> replay_tape(const std::string& path) {
  auto r = std::make_unique<Replayed>();
  auto source = replay::FileSource::open(path, {});
  EXPECT_TRUE(source) << source.error().to_string();
  if (!source) return nullptr;
  r->source = std::move(*source);
  auto pipeline = Pipeline::create({});
  EXPECT_TRUE(pipeline);
  for (Aggregator* a : std::initializer_list<Aggregator*>{&r->syscalls, &r->network, &r->memory,
                                                          &r->cpu, r.get()}) {
    (*pipeline)->add_aggregator(*a);
  }
  auto ran = (*pipeline)->run(*r->source);
  EXPECT_TRUE(ran) << ran.error().to_string();
  r->stats = (*pipeline)->stats();
  return r;
}

std::string slurp(const std::string& path);

TEST(RecordLivetest, EverySyscallOfTheRecordedCommandExactlyOnce) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("syscalls.bpftape");
  auto result = run(kBpftape + " record --syscalls -q -o " + tape + " -- " + kWorkload + " syscalls 5000");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  auto replayed = replay_tape(tape);
  ASSERT_TRUE(replayed);
  const uint32_t pid = replayed->workload_pid();
  ASSERT_NE(pid, 0u) << "no process record for the workload";
  uint64_t getpids = 0;
  std::set<uint32_t> pids;
  for (const auto& e : replayed->events) {
    pids.insert(e.pid);
    if (e.event_type == EbpfEventType::Syscall && e.payload.syscall.nr == SYS_getpid) {
      ++getpids;
      EXPECT_EQ(e.payload.syscall.ret, static_cast<int64_t>(pid));
    }
  }
  EXPECT_EQ(getpids, 5000u);
  EXPECT_EQ(pids, std::set<uint32_t>{pid}) << "only the command is recorded";
  EXPECT_EQ(replayed->stats.losses.events_lost, 0u);
  EXPECT_TRUE(replayed->source->reader().complete());
  // Overhead figures travel in the tape: per-program run time from the kernel's BPF stats.
  ASSERT_FALSE(replayed->source->reader().bpf_stats().empty());
  uint64_t runs = 0;
  for (const auto& p : replayed->source->reader().bpf_stats().back().programs) runs += p.run_count;
  EXPECT_GE(runs, 5000u);
}

TEST(RecordLivetest, TheCommandsChildrenAreRecordedToo) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("children.bpftape");
  auto result = run(kBpftape + " record --syscalls -q -o " + tape + " -- /bin/sh -c '" + kWorkload +
                    " syscalls 300; " + kWorkload + " syscalls 200'");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  EXPECT_THAT(result.out, ::testing::Not(HasSubstr("not its children")));
  auto replayed = replay_tape(tape);
  ASSERT_TRUE(replayed);
  std::map<uint32_t, uint64_t> getpids_by_pid;
  for (const auto& e : replayed->events) {
    if (e.event_type == EbpfEventType::Syscall && e.payload.syscall.nr == SYS_getpid) ++getpids_by_pid[e.pid];
  }
  std::multiset<uint64_t> counts;
  for (const auto& [pid, n] : getpids_by_pid) {
    if (n >= 200) counts.insert(n);  // the shell itself may call getpid once or twice
  }
  EXPECT_EQ(counts, (std::multiset<uint64_t>{200, 300}));
  EXPECT_EQ(replayed->stats.losses.events_lost, 0u);
}

TEST(RecordLivetest, LoopbackHttpRequestsWithMethodPathAndStatus) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("http.bpftape");
  constexpr int kConnections = 20;
  auto result = run(kBpftape + " record --net -q -o " + tape + " -- " + kWorkload + " http " +
                    std::to_string(kConnections));
  ASSERT_EQ(result.exit_code, 0) << result.out;
  auto replayed = replay_tape(tape);
  ASSERT_TRUE(replayed);
  const uint32_t pid = replayed->workload_pid();
  std::set<std::string> client_paths, server_paths;
  for (const auto& r : replayed->network.http_requests()) {
    EXPECT_EQ(r.pid, pid);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.status, 200) << r.path;
    (r.role == ConnectionRole::Client ? client_paths : server_paths).insert(r.path);
  }
  std::set<std::string> expected;
  for (int i = 0; i < kConnections; ++i) expected.insert("/item/" + std::to_string(i));
  EXPECT_EQ(client_paths, expected);
  EXPECT_EQ(server_paths, expected);
  EXPECT_EQ(replayed->stats.losses.events_lost, 0u);
}

TEST(RecordLivetest, EveryMallocOfTheCommandWithItsSizeAndFrees) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("mem.bpftape");
  constexpr uint64_t kSize = 12345;  // unusual: nothing else in the process allocates it
  auto result = run(kBpftape + " record --mem -q -o " + tape + " -- " + kWorkload + " malloc 1000 " +
                    std::to_string(kSize));
  ASSERT_EQ(result.exit_code, 0) << result.out;
  auto replayed = replay_tape(tape);
  ASSERT_TRUE(replayed);
  std::set<uint64_t> blocks;
  for (const auto& e : replayed->events) {
    if (e.event_type == EbpfEventType::MemoryAlloc && e.payload.memory.op == MemoryOp::Malloc &&
        e.payload.memory.size == kSize) {
      blocks.insert(e.payload.memory.address);
    }
  }
  EXPECT_EQ(blocks.size(), 1000u);
  uint64_t freed = 0;
  for (const auto& e : replayed->events) {
    freed += e.event_type == EbpfEventType::MemoryFree && e.payload.memory.op == MemoryOp::Free &&
             blocks.contains(e.payload.memory.address);
  }
  EXPECT_EQ(freed, 500u);
}

// The summary says where each allocator function was probed: a single-stepped site costs ~35x
// an emulated one, and the user should see which kind their libc gave.
TEST(RecordLivetest, TheSummaryNamesEachMemoryProbeSite) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  auto result = run(kBpftape + " record --mem -o " + dir.file("mem.bpftape") + " -- " + kWorkload +
                    " malloc 10 64");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  const std::string marker = "  memory probes: ";
  const size_t line = result.out.find(marker);
  ASSERT_NE(line, std::string::npos) << result.out;
  const std::string sites = result.out.substr(line, result.out.find('\n', line) - line);
  for (const char* function : {"malloc: ", "calloc: ", "realloc: ", "free: ", "mmap: ", "munmap: "}) {
    EXPECT_NE(sites.find(function), std::string::npos) << function << " missing in " << sites;
  }
  EXPECT_NE(sites.find("emulated"), std::string::npos) << sites;
}

TEST(RecordLivetest, CpuProfileNamesTheBusyFunction) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("cpu.bpftape");
  auto result = run(kBpftape + " record --cpu -F 199 -q -o " + tape + " -- " + kWorkload + " spin 1500");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  auto replayed = replay_tape(tape);
  ASSERT_TRUE(replayed);
  const uint32_t pid = replayed->workload_pid();
  const Symbolizer symbolizer = replayed->symbolizer();
  uint64_t samples = 0, in_spin = 0;
  for (const auto& e : replayed->events) {
    if (e.event_type != EbpfEventType::CpuSample || e.pid != pid) continue;
    ++samples;
    const auto& interned = replayed->source->interned();
    if (e.payload.cpu_sample.user_stack == kNoId) continue;
    for (uint64_t frame : interned.stack(e.payload.cpu_sample.user_stack)) {
      if (symbolizer.name(pid, frame) == "bpftape_workload_spin") {
        ++in_spin;
        break;
      }
    }
  }
  // 1.5 s at 199 Hz on one CPU: ~300 samples; a loaded machine may give the workload less.
  EXPECT_GE(samples, 50u);
  EXPECT_GE(in_spin * 10, samples * 8) << in_spin << " of " << samples << " samples in the spin function";

  // The same profile as pprof opens in `go tool pprof`, the reference reader.
  if (access("/usr/bin/go", X_OK) != 0) GTEST_SKIP() << "go (golang-go) not installed: pprof check skipped";
  const std::string pprof = dir.file("cpu.pb.gz");
  auto converted = run(kBpftape + " convert " + tape + " --pprof " + pprof);
  ASSERT_EQ(converted.exit_code, 0) << converted.out;
  auto top = run("HOME=" + dir.path() + " /usr/bin/go tool pprof -top " + pprof);
  ASSERT_EQ(top.exit_code, 0) << top.out;
  EXPECT_THAT(top.out, HasSubstr("bpftape_workload_spin"));
}

// The report and digest `record --report` prints from the live pipeline are the ones a replay
// of the tape prints: replay that disagrees with what was seen live is the classic failure of
// record/replay tools. Only the header line (where the events came from) may differ.
TEST(RecordLivetest, LiveReportAndDigestEqualTheReplayOfTheTape) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("parity.bpftape");
  const std::string live_out = dir.file("live.txt");
  auto live = run(kBpftape + " record --all --report --digest -q -o " + tape + " -- " +
                  kWorkload + " http 10 > " + live_out);
  ASSERT_EQ(live.exit_code, 0) << live.out;
  const std::string replay_out = dir.file("replay.txt");
  auto replayed = run(kBpftape + " replay --digest " + tape + " > " + replay_out);
  ASSERT_EQ(replayed.exit_code, 0) << replayed.out;
  auto body = [](const std::string& report) { return report.substr(report.find('\n') + 1); };
  const std::string live_report = slurp(live_out), replay_report = slurp(replay_out);
  EXPECT_THAT(live_report, HasSubstr("bpftape report: live"));
  EXPECT_THAT(live_report, HasSubstr("GET     /item/9"));
  EXPECT_THAT(live_report, HasSubstr("digest: sha256:"));
  EXPECT_EQ(body(live_report), body(replay_report));
}

// Starts `bpftape record ARGS` in the background; returns its pid.
pid_t start_recorder(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* out = freopen(log.c_str(), "w", stderr);
    (void)out;
    std::vector<char*> argv{const_cast<char*>(kBpftape.c_str()), const_cast<char*>("record")};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::string slurp(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (!f) return {};
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
  fclose(f);
  return s;
}

TEST(RecordLivetest, SigintClosesTheTapeCleanly) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("sigint.bpftape");
  const pid_t recorder = start_recorder({"--syscalls", "-o", tape}, dir.file("log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  run(kWorkload + " syscalls 100");
  kill(recorder, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(recorder, &status, 0), recorder);
  ASSERT_TRUE(WIFEXITED(status)) << slurp(dir.file("log"));
  EXPECT_EQ(WEXITSTATUS(status), 0) << slurp(dir.file("log"));
  EXPECT_THAT(slurp(dir.file("log")), HasSubstr("interrupted"));
  auto reader = tape::TapeReader::open(tape, {});
  ASSERT_TRUE(reader) << reader.error().to_string();
  EXPECT_TRUE((*reader)->complete());
  EXPECT_TRUE((*reader)->warnings().empty());
}

TEST(RecordLivetest, SigkillLeavesAReadablePrefixUpToAboutASecondBeforeTheKill) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("killed.bpftape");
  const pid_t recorder = start_recorder({"--syscalls", "-o", tape}, dir.file("log"));
  // A steady stream of syscalls for 3 s while the recorder runs.
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < end) {
    run(kWorkload + " syscalls 1000");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const uint64_t killed_at = monotonic_ns();
  kill(recorder, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(recorder, &status, 0), recorder);
  auto reader = tape::TapeReader::open(tape, {});
  ASSERT_TRUE(reader) << reader.error().to_string();
  EXPECT_FALSE((*reader)->complete());
  EventBatch batch;
  uint64_t events = 0, last_ts = 0;
  for (;;) {
    auto more = (*reader)->next(&batch);
    ASSERT_TRUE(more) << more.error().to_string();
    if (!*more) break;
    events += batch.events.size();
    for (const auto& e : batch.events) last_ts = std::max(last_ts, e.timestamp_ns);
  }
  EXPECT_GT(events, 1000u);
  EXPECT_FALSE((*reader)->warnings().empty()) << "a killed recording is reported as truncated";
  // Flushed every second: at most ~1 s (plus scheduling slack) of events is lost.
  EXPECT_GT(last_ts + 1'600'000'000ull, killed_at) << "last event " << (killed_at - last_ts) / 1e6
                                                   << " ms before the kill";
}

TEST(RecordLivetest, DiskFullFailsCleanlyAndKeepsAReadableTape) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string mnt = dir.file("tiny");
  std::filesystem::create_directory(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) GTEST_SKIP() << "cannot mount tmpfs";
  const std::string tape = mnt + "/full.bpftape";
  const pid_t recorder = start_recorder({"--syscalls", "-o", tape, "--duration", "60s"}, dir.file("log"));
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  pid_t done = 0;
  while (done == 0 && std::chrono::steady_clock::now() < deadline) {
    run(kWorkload + " syscalls 20000");  // fills 256 KiB within a few flushes
    done = waitpid(recorder, &status, WNOHANG);
  }
  if (done == 0) {
    kill(recorder, SIGKILL);
    waitpid(recorder, &status, 0);
  }
  const std::string log = slurp(dir.file("log"));
  EXPECT_NE(done, 0) << "the recorder did not stop on a full disk";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << log;
  EXPECT_THAT(log, HasSubstr("No space left on device"));
  auto reader = tape::TapeReader::open(tape, {});
  EXPECT_TRUE(reader) << (reader ? "" : reader.error().to_string());
  if (reader) {
    EventBatch batch;
    auto more = (*reader)->next(&batch);
    EXPECT_TRUE(more) << more.error().to_string();
  }
  umount2(mnt.c_str(), MNT_DETACH);
}

// Live OTLP export: with --otlp-file and a short --otlp-interval, spans that ended go out while
// recording (the workload pauses between two bursts so at least one interval falls inside),
// each exactly once; together they are exactly the spans `convert` exports from the tape.
TEST(RecordLivetest, OtlpStreamsSpansWhileRecordingEachOnceAsTheReplayHasThem) {
  BPFTAPE_REQUIRE_LIVE();
  TempDir dir;
  const std::string tape = dir.file("otlp.bpftape");
  const std::string live = dir.file("live.jsonl");
  const std::string replayed = dir.file("replay.jsonl");
  auto result = run(kBpftape + " record --net -q -o " + tape + " --otlp-file " + live +
                    " --otlp-interval 100ms -- /bin/sh -c '" + kWorkload + " http 100; sleep 0.5; " +
                    kWorkload + " http 100'");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  result = run(kBpftape + " convert " + tape + " --otlp-file " + replayed);
  ASSERT_EQ(result.exit_code, 0) << result.out;
  // Span objects by spanId, and how many requests carried spans.
  auto spans_of = [](const std::string& path, size_t* trace_lines) {
    std::map<std::string, std::vector<std::string>> spans;
    std::istringstream lines(slurp(path));
    std::string line;
    const std::regex span_id(R"re("spanId":"([0-9a-f]{16})")re");
    *trace_lines = 0;
    while (std::getline(lines, line)) {
      if (line.find("\"resourceSpans\"") == std::string::npos) continue;
      ++*trace_lines;
      // Each span object starts at its traceId; cut the line there.
      size_t pos = line.find("{\"traceId\"");
      while (pos != std::string::npos) {
        size_t next = line.find("{\"traceId\"", pos + 1);
        std::string span = line.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
        std::smatch m;
        if (std::regex_search(span, m, span_id)) spans[m[1]].push_back(span);
        pos = next;
      }
    }
    return spans;
  };
  size_t live_lines = 0, replay_lines = 0;
  auto live_spans = spans_of(live, &live_lines);
  auto replay_spans = spans_of(replayed, &replay_lines);
  EXPECT_GE(live_lines, 2u) << "spans went out during the recording, not only at its end";
  EXPECT_EQ(replay_lines, 1u);
  // Per exchange, client and server each have a connection span and a request span.
  ASSERT_EQ(replay_spans.size(), 800u);
  ASSERT_EQ(live_spans.size(), replay_spans.size());
  for (const auto& [id, copies] : live_spans) {
    ASSERT_EQ(copies.size(), 1u) << "span " << id << " exported more than once";
    auto it = replay_spans.find(id);
    ASSERT_NE(it, replay_spans.end()) << "span " << id << " is not in the replay's export";
    // Same span (compared on its head: a line's last cut also carries the line's tail).
    EXPECT_EQ(copies[0].substr(0, 200), it->second[0].substr(0, 200));
  }
}

// The capacity model (`simulate --from`) against the kernel: two recorders watch the same
// syscall burst at the same time, one with the default rings (no drops), one with 4 KiB rings;
// the model predicts the small rings' drops from the first tape alone. At the same time, so
// both see the same workload and the same machine load. Drops depend on how fast the consumer
// reacts, which the model takes from the first tape's own drains. Stated tolerance: the 1 MiB
// ring is predicted not to drop (the default rings did not), and the 4 KiB ring's predicted
// drops are between a fifteenth and three times the observed ones (or both under 2% of the
// records, on a machine where the consumer always keeps up). An order of magnitude: the model
// predicts tiny rings low — observed/predicted 1.3-3.2 on a loaded VM, 1.7-11 on a quiet one,
// where the recorder drains two records at a time (docs/simulator.md).
TEST(RecordLivetest, CapacityModelPredictsTheDropsOfATinyRing) {
  BPFTAPE_REQUIRE_LIVE();
#if defined(__SANITIZE_ADDRESS__)
  // The model's consumer costs (250 ns per record, 12 us per drain) are the release recorder's;
  // a sanitized recorder is several times slower and stalls in ways the model then draws as
  // its tick intervals (two runs here: 668 and 193 684 drops predicted for ~120 k observed).
  GTEST_SKIP() << "the capacity model is calibrated against the release recorder, not a "
                  "sanitizer build";
#endif
  TempDir dir;
  const std::string roomy = dir.file("roomy.bpftape");
  const std::string tiny = dir.file("tiny.bpftape");
  const std::vector<std::string> target{"--syscalls", "--comm", "bpftape_workloa"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = target;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const pid_t roomy_recorder = start_recorder(with({"-o", roomy}), dir.file("roomy.log"));
  const pid_t tiny_recorder = start_recorder(with({"--ring-size", "4K", "-o", tiny}), dir.file("tiny.log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // both attached
  run(kWorkload + " syscalls 200000");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both drained
  for (pid_t recorder : {roomy_recorder, tiny_recorder}) {
    kill(recorder, SIGINT);
    int status = 0;
    ASSERT_EQ(waitpid(recorder, &status, 0), recorder);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << slurp(dir.file("roomy.log")) << slurp(dir.file("tiny.log"));
  }
  auto predicted = run(kBpftape + " simulate --from " + roomy + " --ring-size 4K,1M --json");
  ASSERT_EQ(predicted.exit_code, 0) << predicted.out;

  auto roomy_tape = tape::TapeReader::open(roomy, {});
  auto tiny_tape = tape::TapeReader::open(tiny, {});
  ASSERT_TRUE(roomy_tape && tiny_tape);
  ASSERT_TRUE((*roomy_tape)->index() && (*tiny_tape)->index());
  ASSERT_EQ((*roomy_tape)->index()->loss_count, 0u) << "the default rings must not drop here";
  const uint64_t observed = (*tiny_tape)->index()->loss_count;
  const uint64_t records = observed + (*tiny_tape)->index()->event_count;

  // One prediction per ring size, in the order asked for (its totals follow its settings).
  const std::regex totals(R"("consumer_ns_per_drain":\d+,"offered":(\d+),"dropped":(\d+))");
  std::vector<std::pair<uint64_t, uint64_t>> predictions;
  for (auto it = std::sregex_iterator(predicted.out.begin(), predicted.out.end(), totals);
       it != std::sregex_iterator(); ++it) {
    predictions.emplace_back(std::stoull((*it)[1]), std::stoull((*it)[2]));
  }
  ASSERT_EQ(predictions.size(), 2u) << predicted.out;
  const auto [offered, dropped] = predictions[0];
  // A 1 MiB ring holds 21 k records: on a quiet machine it is predicted to drop nothing, but the
  // streaming ticks are drawn from the recording's own drain spans, and a recorder slowed down
  // (ASan, a loaded CI machine) stalls long enough that a 1 MiB ring could really overflow. What
  // must hold everywhere: 256x the ring drops far less.
  EXPECT_LE(predictions[1].second * 4, dropped)
      << "1 MiB: " << predictions[1].second << " predicted drops, 4 KiB: " << dropped;
  EXPECT_EQ(offered, (*roomy_tape)->index()->event_count) << "every recorded syscall is an arrival";
  EXPECT_GE(offered, 200'000u);
  const double observed_share = static_cast<double>(observed) / static_cast<double>(records);
  const double predicted_share = static_cast<double>(dropped) / static_cast<double>(offered);
  const std::string both = "observed " + std::to_string(observed) + " of " + std::to_string(records) +
                           ", predicted " + std::to_string(dropped) + " of " + std::to_string(offered);
  if (observed_share < 0.02 || predicted_share < 0.02) {
    EXPECT_LT(observed_share, 0.02) << both;
    EXPECT_LT(predicted_share, 0.02) << both;
  } else {
    EXPECT_LE(predicted_share, 3 * observed_share) << both;
    EXPECT_GE(predicted_share, observed_share / 15) << both;
  }
  std::printf("capacity model, 4 KiB ring: %s\n", both.c_str());
}

TEST(RecordLivetest, NotPrivilegedExplainsWithDoctorAndExits2) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop to user nobody";
  if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "setpriv (util-linux) missing";
  auto result = run("/usr/bin/setpriv --reuid=nobody --regid=nogroup --clear-groups " + kBpftape +
                    " record --syscalls -o /tmp/never.bpftape");
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_THAT(result.out, HasSubstr("cannot record"));
  EXPECT_THAT(result.out, HasSubstr("verdict"));
  EXPECT_NE(access("/tmp/never.bpftape", F_OK), 0);
}

TEST(RecordCli, BadFlagsAreUsageErrors) {
  for (const char* args : {"--comm waytoolongforataskname", "--pid 0", "--pid abc",
                           "--max-size 12Q", "--ring-size 5000", "--env prod", "--sample-rate 0",
                           "--duration soon", "--pid 1 -- /bin/true"}) {
    auto result = run(kBpftape + " record -o /tmp/never.bpftape " + args);
    EXPECT_EQ(result.exit_code, 2) << args << ": " << result.out;
    EXPECT_THAT(result.out, HasSubstr("bpftape record: ")) << args;
  }
  EXPECT_NE(access("/tmp/never.bpftape", F_OK), 0);
}

}  // namespace
}  // namespace bpftape::record
