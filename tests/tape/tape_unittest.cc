// Writer/reader behaviour of the .bpftape format: round trips, metadata, recovery of truncated
// tapes, corruption, version checks, seeking, parallel decode, writer failures.
#include <sys/stat.h>

#include <fstream>
#include <random>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <zstd.h>
#include <gtest/gtest.h>

#include "core/tape/format.h"
#include "core/tape/reader.h"
#include "core/tape/writer.h"
#include "tests/tape/tape_test_util.h"

namespace otlp::ebpf::tape {
namespace {

using ::testing::HasSubstr;
using namespace testing;

std::vector<EventBatch> split(const std::vector<EbpfEvent>& events, size_t per_batch) {
  std::vector<EventBatch> out;
  for (size_t i = 0; i < events.size(); i += per_batch) {
    EventBatch b;
    b.events.assign(events.begin() + i, events.begin() + std::min(events.size(), i + per_batch));
    out.push_back(std::move(b));
  }
  return out;
}

std::unique_ptr<TapeReader> open_ok(const std::vector<uint8_t>& bytes, ReaderOptions o = {}) {
  auto r = TapeReader::open_memory(bytes, o);
  EXPECT_TRUE(r.has_value()) << r.error().to_string();
  return r ? std::move(*r) : nullptr;
}

TEST(TapeRoundTrip, MixedStreamWithInternedDataLossesAndBatchBoundaries) {
  InternTable interns;
  auto events = mixed_stream(20000, &interns);
  auto batches = split(events, 700);
  batches[3].losses = {{events[2100].timestamp_ns, 2, 17}, {events[2101].timestamp_ns, 0, 1}};
  batches.push_back(EventBatch{{}, {{events.back().timestamp_ns + 5, 3, 99}}});  // losses only
  WriterOptions options;
  options.frame_events = 3 * 700;  // ~10 frames of 3 whole batches
  auto bytes = write_memory_tape(batches, interns, options);

  auto reader = open_ok(bytes);
  ASSERT_TRUE(reader);
  EXPECT_TRUE(reader->complete());
  EXPECT_TRUE(reader->warnings().empty());
  std::optional<EbpfError> error;
  auto got = read_all(*reader, &error);
  ASSERT_FALSE(error) << error->to_string();
  EXPECT_EQ(got, batches);
  EXPECT_GT(reader->stats().event_frames, 5u);
  // The rebuilt table has the same ids for the same bytes.
  ASSERT_EQ(reader->interns().string_count(), interns.string_count());
  ASSERT_EQ(reader->interns().stack_count(), interns.stack_count());
  for (uint32_t id = 1; id <= interns.string_count(); ++id) {
    EXPECT_EQ(reader->interns().string(id), interns.string(id));
  }
  for (uint32_t id = 1; id <= interns.stack_count(); ++id) {
    auto a = reader->interns().stack(id), b = interns.stack(id);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  }
  ASSERT_TRUE(reader->index());
  EXPECT_EQ(reader->index()->event_count, events.size());
  EXPECT_EQ(reader->index()->loss_count, 17u + 1u + 99u);
}

// The reader decodes a column a block at a time, with separate paths for runs of one-byte
// values, one, two, 3..8 and 9..10-byte values, and the last bytes of a column (bounds-checked).
// Values of every varint length, in every column position (batch and frame sizes that are not
// multiples of the block or of 8, runs of small values between large ones), come back exactly.
TEST(TapeRoundTrip, ValuesOfEveryVarintLengthInEveryColumnPosition) {
  InternTable interns;
  std::vector<uint64_t> values;
  for (unsigned bits = 0; bits <= 64; ++bits) {
    const uint64_t v = bits == 64 ? ~0ULL : (1ULL << bits);
    values.push_back(v - 1);
    values.push_back(v);
  }
  std::mt19937_64 rng(5);
  std::vector<EbpfEvent> events;
  uint64_t ts = 1;
  for (size_t i = 0; i < 5000; ++i) {
    // Stretches of one-byte values, then one value of a varying length.
    const uint64_t big = values[(i * 7) % values.size()];
    const uint64_t v = (i % 11 < 6) ? rng() % 100 : big;
    ts += (i % 13 == 0) ? (big >> 2) % (1ULL << 40) + 1 : 1 + rng() % 100;
    if (i % 3 == 0) {
      events.push_back(EbpfEvent::network_event(
          EbpfEventType::TcpClose, ts, 7, 7, static_cast<uint16_t>(v & 0xffff),
          NetworkData{v, ~v, static_cast<uint32_t>(v), 0, 0, static_cast<uint16_t>(v), 80,
                      NetProtocol::Tcp, NetDirection::None, 7, 0}));
    } else {
      events.push_back(EbpfEvent::syscall_event(
          ts, 4242 + static_cast<uint32_t>(v & 0xffff), 4242 + static_cast<uint32_t>(v & 0xffff),
          1, SyscallData{static_cast<uint32_t>(v % 1024), 0, static_cast<int64_t>(v), v}));
    }
  }
  for (uint32_t frame_events : {1000u, 4093u, 1u << 18}) {
    WriterOptions options;
    options.frame_events = frame_events;
    auto batches = split(events, 333);
    auto bytes = write_memory_tape(batches, interns, options);
    auto reader = open_ok(bytes);
    ASSERT_TRUE(reader);
    std::optional<EbpfError> error;
    auto got = read_all(*reader, &error);
    ASSERT_FALSE(error) << error->to_string();
    EXPECT_EQ(flatten(got), events) << "frames of " << frame_events << " events";
  }
}

TEST(TapeRoundTrip, EventsWithNonZeroReservedBytesAreStoredVerbatim) {
  InternTable interns;
  auto events = syscall_storm(100);
  events[10].reserved = 0xdeadbeef;
  events[11].payload.syscall.reserved = 7;
  events[99].payload.raw[39] = std::byte{1};  // padding beyond SyscallData
  auto bytes = write_memory_tape(split(events, 100), interns);
  auto reader = open_ok(bytes);
  std::optional<EbpfError> error;
  EXPECT_EQ(flatten(read_all(*reader, &error)), events);
  EXPECT_FALSE(error) << error->to_string();
}

TEST(TapeRoundTrip, UnsortedTimestampsRoundTrip) {
  InternTable interns;
  auto events = syscall_storm(1000);
  std::mt19937 rng(3);
  std::shuffle(events.begin(), events.end(), rng);  // cross-CPU reordering, in the extreme
  auto bytes = write_memory_tape(split(events, 64), interns);
  std::optional<EbpfError> error;
  EXPECT_EQ(flatten(read_all(*open_ok(bytes), &error)), events);
}

TEST(TapeRoundTrip, MetadataProcessesSymbolsAndBpfStats) {
  InternTable interns;
  std::vector<uint8_t> bytes;
  auto writer = TapeWriter::create(std::make_unique<MemorySink>(&bytes), test_metadata(), interns);
  ASSERT_TRUE(writer) << writer.error().to_string();
  std::vector<ProcessInfo> procs = {
      {.pid = 100, .ppid = 1, .comm = "bash", .exe = "/usr/bin/bash",
       .cmdline = {"bash", "-c", "dd bs=1"}, .start_ns = 10},
      {.pid = 101, .ppid = 100, .comm = "dd", .exe = "/usr/bin/dd", .cmdline = {"dd", "bs=1"},
       .cgroup = "/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
       .container_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
       .start_ns = 20}};
  ASSERT_TRUE((*writer)->write_processes(procs));
  ProcessInfo exited = procs[1];
  exited.exit_ns = 99;
  exited.exit_code = 256;
  ASSERT_TRUE((*writer)->write_processes(std::span(&exited, 1)));
  std::vector<Mapping> maps = {{101, 0x400000, 0x410000, 0, "/usr/bin/dd",
                                std::string("\x01\x02\xff\x00\x10", 5)}};
  std::vector<Symbol> syms = {{0, 0xffffffff81000000ULL, 64, "do_syscall_64"},
                              {101, 0x401000, 32, "main"}};
  ASSERT_TRUE((*writer)->write_symbols(maps, syms));
  BpfStatsSnapshot stats{
      123, {{"sys_exit", 42, 1000, 10, 0, 100, 1}, {"sys_enter", 43, 900, 10, 1, 90, 1}}, true};
  ASSERT_TRUE((*writer)->write_bpf_stats(stats));
  ASSERT_TRUE((*writer)->close());

  auto reader = open_ok(bytes);
  EXPECT_EQ(reader->metadata().hostname, "testhost");
  TapeMetadata expected = test_metadata();
  expected.format_major = kFormatMajor;
  expected.format_minor = kFormatMinor;
  expected.max_frame_bytes = WriterOptions{}.max_frame_bytes;
  EXPECT_EQ(reader->metadata(), expected);
  EventBatch batch;
  auto more = reader->next(&batch);
  ASSERT_TRUE(more);
  EXPECT_FALSE(*more);
  ASSERT_EQ(reader->processes().size(), 2u);
  EXPECT_EQ(*reader->processes().latest(100), procs[0]);
  EXPECT_EQ(*reader->processes().latest(101), exited);  // the incarnation's latest record wins
  EXPECT_EQ(reader->mappings(), maps);
  EXPECT_EQ(reader->symbols(), syms);
  ASSERT_EQ(reader->bpf_stats().size(), 1u);
  EXPECT_EQ(reader->bpf_stats()[0], stats);
}

TEST(ProcessUpdateTracker, SendsEachIncarnationOnceAndAgainWhenItChanges) {
  otlp::ebpf::ProcessTable table;
  ProcessUpdateTracker tracker;
  table.upsert({.pid = 7, .ppid = 1, .comm = "sh", .start_ns = 100});
  table.upsert({.pid = 8, .ppid = 7, .comm = "sh", .start_ns = 200});
  auto first = tracker.take_pending(table);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].pid, 7u);
  EXPECT_EQ(first[1].start_ns, 200u);
  EXPECT_TRUE(tracker.take_pending(table).empty());  // nothing changed
  table.upsert({.pid = 8, .comm = "dd", .exe = "/usr/bin/dd", .cmdline = {"dd", "bs=1"}, .start_ns = 200});
  table.mark_exit(7, 500, 3);
  auto second = tracker.take_pending(table);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].exit_ns, 500u);
  EXPECT_EQ(second[0].exit_code, 3);
  EXPECT_EQ(second[1].comm, "dd");
  EXPECT_EQ(second[1].cmdline, (std::vector<std::string>{"dd", "bs=1"}));
  table.upsert({.pid = 7, .comm = "reused", .start_ns = 900});  // pid reuse: a new incarnation
  auto third = tracker.take_pending(table);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].comm, "reused");
  EXPECT_EQ(third[0].start_ns, 900u);
}

// Pid reuse: every incarnation of a pid comes back from a tape, each field as written (an
// argument with a space included), and the reader's table answers as the writer's did.
TEST(TapeRoundTrip, EveryIncarnationOfAReusedPidComesBackWhole) {
  otlp::ebpf::ProcessTable live;
  live.upsert({.pid = 300, .ppid = 1, .comm = "sh", .exe = "/bin/sh",
               .cmdline = {"sh", "-c", "echo a  b", ""}, .cgroup = "/user.slice", .start_ns = 100});
  live.mark_exit(300, 150, 9);
  live.upsert({.pid = 300, .ppid = 2, .comm = "sleep", .exe = "/usr/bin/sleep",
               .cmdline = {"sleep", "1 2"}, .start_ns = 200});
  ASSERT_EQ(live.size(), 2u);

  InternTable interns;
  std::vector<uint8_t> bytes;
  auto writer = TapeWriter::create(std::make_unique<MemorySink>(&bytes), test_metadata(), interns);
  ASSERT_TRUE(writer) << writer.error().to_string();
  ProcessUpdateTracker records;
  ASSERT_TRUE((*writer)->write_processes(records.take_pending(live)));
  live.upsert({.pid = 300, .comm = "sleep2", .start_ns = 200});  // a later update of the second
  ASSERT_TRUE((*writer)->write_processes(records.take_pending(live)));
  ASSERT_TRUE((*writer)->close());

  auto reader = open_ok(bytes);
  EventBatch batch;
  auto more = reader->next(&batch);
  ASSERT_TRUE(more);
  EXPECT_FALSE(*more);
  EXPECT_EQ(reader->processes().all(), live.all());
  for (uint64_t t : {0, 100, 149, 150, 199, 200, 1000}) {
    ASSERT_NE(reader->processes().lookup(300, t), nullptr);
    EXPECT_EQ(*reader->processes().lookup(300, t), *live.lookup(300, t)) << "at " << t;
  }
  EXPECT_EQ(reader->processes().lookup(300, 120)->cmdline,
            (std::vector<std::string>{"sh", "-c", "echo a  b", ""}));
  EXPECT_EQ(reader->processes().lookup(300, 120)->exit_code, 9);
  EXPECT_EQ(reader->processes().latest(300)->comm, "sleep2");
}

// A tape may list a pid's incarnations in any order (a hostile one, newest first): each is
// placed by its start time, and reading stays O(n log n) (this read would be quadratic in a
// sorted vector: minutes, not milliseconds).
TEST(TapeRoundTrip, IncarnationsInAnyOrderArePlacedByStartTime) {
  constexpr uint64_t kIncarnations = 100'000;
  std::vector<ProcessInfo> records;
  for (uint64_t i = kIncarnations; i > 0; --i) {
    records.push_back({.pid = 77, .comm = "p" + std::to_string(i), .start_ns = i * 10});
  }
  InternTable interns;
  std::vector<uint8_t> bytes;
  auto writer = TapeWriter::create(std::make_unique<MemorySink>(&bytes), test_metadata(), interns);
  ASSERT_TRUE(writer) << writer.error().to_string();
  ASSERT_TRUE((*writer)->write_processes(records));
  ASSERT_TRUE((*writer)->close());
  auto reader = open_ok(bytes);
  EventBatch batch;
  ASSERT_TRUE(reader->next(&batch));
  ASSERT_EQ(reader->processes().size(), kIncarnations);
  EXPECT_EQ(reader->processes().lookup(77, 15)->comm, "p1");
  EXPECT_EQ(reader->processes().lookup(77, 12'345)->comm, "p1234");
  EXPECT_EQ(reader->processes().lookup(77, 5)->comm, "p1");  // before the first: the earliest
  EXPECT_EQ(reader->processes().latest(77)->comm, "p100000");
}

TEST(TapeWriter, RefusesInvalidEventsAndUnknownInternIdsWithoutWritingAnything) {
  InternTable interns;
  std::vector<uint8_t> bytes;
  auto writer = TapeWriter::create(std::make_unique<MemorySink>(&bytes), test_metadata(), interns);
  ASSERT_TRUE(writer);
  auto events = syscall_storm(10);
  events[5].tid = 0;  // non-idle event without a thread
  auto r = (*writer)->append(EventBatch{events, {}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::EventProcessingFailed);
  EXPECT_THAT(r.error().message(), HasSubstr("event 5"));
  auto sample = EbpfEvent::cpu_sample(5, 1, 1, 0, {3, 0});  // stack 3 was never interned
  r = (*writer)->append(EventBatch{{sample}, {}});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("stack id 3"));
  ASSERT_TRUE((*writer)->close());
  auto reader = open_ok(bytes);
  std::optional<EbpfError> error;
  EXPECT_TRUE(read_all(*reader, &error).empty());
  EXPECT_EQ(reader->index()->event_count, 0u);
}

TEST(TapeWriter, FileIsMode0600AndExistingFilesAreNotOverwritten) {
  TempDir dir;
  InternTable interns;
  std::string path = dir.file("t.bpftape");
  {
    auto w = TapeWriter::create(path, test_metadata(), interns);
    ASSERT_TRUE(w) << w.error().to_string();
    ASSERT_TRUE((*w)->append(EventBatch{syscall_storm(10), {}}));
    ASSERT_TRUE((*w)->close());
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = TapeWriter::create(path, test_metadata(), interns);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::ConfigError);
  EXPECT_THAT(again.error().message(), HasSubstr("already exists"));
  ::chmod(path.c_str(), 0644);
  WriterOptions overwrite;
  overwrite.overwrite = true;
  auto forced = TapeWriter::create(path, test_metadata(), interns, overwrite);
  ASSERT_TRUE(forced) << forced.error().to_string();
  ASSERT_TRUE((*forced)->close());
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto reader = TapeReader::open(path);
  ASSERT_TRUE(reader) << reader.error().to_string();
  EXPECT_TRUE((*reader)->complete());
}

TEST(TapeWriter, BackgroundCompressionWritesTheSameBytes) {
  InternTable interns;
  auto events = mixed_stream(30000, &interns);
  WriterOptions options;
  options.frame_bytes = 16 * 1024;  // many frames: the queue fills and the caller waits
  options.queued_frames = 2;
  auto inline_bytes = write_memory_tape(split(events, 500), interns, options);
  options.background_compression = true;
  auto background_bytes = write_memory_tape(split(events, 500), interns, options);
  EXPECT_EQ(background_bytes, inline_bytes);
}

// With background compression an events frame goes to the worker as its column encoder (built
// and serialized there), while process, interned and stats frames are serialized by the caller:
// the file keeps the order of the calls, and recycled encoders start each frame clean.
TEST(TapeWriter, BackgroundEventFramesKeepFileOrderWithTheCallersFrames) {
  InternTable interns;
  auto events = mixed_stream(20000, &interns);
  auto batches = split(events, 300);
  for (size_t i = 0; i < batches.size(); i += 7) {
    batches[i].losses = {{batches[i].events.front().timestamp_ns, 1, 3 + i}};
  }
  auto write = [&](bool background) {
    WriterOptions options;
    options.frame_bytes = 8 * 1024;
    options.queued_frames = 1;
    options.background_compression = background;
    std::vector<uint8_t> bytes;
    auto writer = TapeWriter::create(std::make_unique<MemorySink>(&bytes), test_metadata(),
                                     interns, options);
    EXPECT_TRUE(writer);
    for (size_t i = 0; i < batches.size(); ++i) {
      EXPECT_TRUE((*writer)->append(batches[i]));
      if (i % 5 == 0) {
        ProcessInfo p;
        p.pid = static_cast<uint32_t>(100 + i);
        p.comm = fmt::format("p{}", i);
        EXPECT_TRUE((*writer)->write_processes(std::span(&p, 1)));
      }
      if (i % 9 == 0) {
        EXPECT_TRUE((*writer)->flush());
      }
      if (i % 11 == 0) {
        EXPECT_TRUE((*writer)->write_bpf_stats(BpfStatsSnapshot{events[i].timestamp_ns, {}}));
      }
    }
    EXPECT_TRUE((*writer)->close());
    return bytes;
  };
  auto inline_bytes = write(false);
  EXPECT_EQ(write(true), inline_bytes);
  auto reader = open_ok(inline_bytes);
  ASSERT_TRUE(reader);
  std::optional<EbpfError> error;
  EXPECT_EQ(flatten(read_all(*reader, &error)), events);  // batches may split across frames
  EXPECT_FALSE(error);
}

// Disk full, with frames compressed inline or on the writer's thread (where the failure is
// returned by a later append, or at the latest by close()).
class TapeWriterDiskFull : public ::testing::TestWithParam<bool> {};

TEST_P(TapeWriterDiskFull, IsAnErrorAndLeavesTheWrittenFramesReadable) {
  InternTable interns;
  auto events = syscall_storm(50000);
  WriterOptions options;
  options.frame_bytes = 8 * 1024;
  // Learn the size of a complete tape, then fail the sink halfway through it.
  auto full = write_memory_tape(split(events, 1000), interns, options);
  options.background_compression = GetParam();
  std::vector<uint8_t> bytes;
  auto writer = TapeWriter::create(std::make_unique<MemorySink>(&bytes, full.size() / 2),
                                   test_metadata(), interns, options);
  ASSERT_TRUE(writer);
  Result<void> r;
  for (auto& b : split(events, 1000)) {
    r = (*writer)->append(b);
    if (!r) break;
  }
  if (r && options.background_compression) r = (*writer)->close();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Io);
  EXPECT_THAT(r.error().message(), HasSubstr("No space left on device"));
  EXPECT_THAT(r.error().message(), HasSubstr("intact"));
  EXPECT_FALSE((*writer)->append(split(events, 1000)[0])) << "the failure is sticky";
  EXPECT_FALSE((*writer)->close());
  writer->reset();  // joins a worker: nothing more may reach the sink

  auto reader = open_ok(bytes);
  EXPECT_FALSE(reader->complete());
  std::optional<EbpfError> error;
  auto got = flatten(read_all(*reader, &error));
  EXPECT_FALSE(error);
  ASSERT_GT(got.size(), 0u);
  ASSERT_LT(got.size(), events.size());
  EXPECT_TRUE(std::equal(got.begin(), got.end(), events.begin()));
  ASSERT_EQ(reader->warnings().size(), 1u);
  EXPECT_THAT(reader->warnings()[0], HasSubstr(fmt::format("{} events", got.size())));
}

INSTANTIATE_TEST_SUITE_P(InlineAndBackground, TapeWriterDiskFull, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Background" : "Inline"; });

TEST(TapeReader, TruncationAtEveryOffsetYieldsAPrefixAndAWarning) {
  InternTable interns;
  auto events = mixed_stream(120, &interns);
  WriterOptions options;
  options.frame_events = 25;  // several frames in a small tape
  auto bytes = write_memory_tape(split(events, 37), interns, options);
  // The metadata frame ends where the first interned frame starts.
  size_t metadata_end = 0;
  {
    auto reader = open_ok(bytes);
    metadata_end = reader->index()->frames.front().offset;
  }
  size_t recovered_max = 0;
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + cut);
    auto reader = TapeReader::open_memory(prefix);
    if (cut < metadata_end) {
      ASSERT_FALSE(reader) << "cut " << cut;
      EXPECT_EQ(reader.error().kind(), ErrorKind::FormatError);
      continue;
    }
    ASSERT_TRUE(reader) << "cut " << cut << ": " << reader.error().to_string();
    EXPECT_FALSE((*reader)->complete());
    std::optional<EbpfError> error;
    auto got = flatten(read_all(**reader, &error));
    ASSERT_FALSE(error) << "cut " << cut << ": " << error->to_string();
    ASSERT_LE(got.size(), events.size());
    ASSERT_TRUE(std::equal(got.begin(), got.end(), events.begin())) << "cut " << cut;
    ASSERT_EQ((*reader)->warnings().size(), 1u) << "cut " << cut;
    EXPECT_THAT((*reader)->warnings()[0], HasSubstr(fmt::format("{} events", got.size())));
    recovered_max = std::max(recovered_max, got.size());
  }
  EXPECT_EQ(recovered_max, events.size());  // cutting only the trailer loses nothing
}

TEST(TapeReader, RandomByteFlipsGiveAnErrorOrAPrefixNeverACrash) {
  InternTable interns;
  auto events = mixed_stream(400, &interns);
  WriterOptions options;
  options.frame_bytes = 2048;
  auto bytes = write_memory_tape(split(events, 50), interns, options);
  std::mt19937_64 rng(7);
  int errors = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    auto damaged = bytes;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) damaged[rng() % damaged.size()] ^= 1u << (rng() % 8);
    auto reader = TapeReader::open_memory(damaged);
    if (!reader) {
      ++errors;
      continue;
    }
    std::optional<EbpfError> error;
    auto got = flatten(read_all(**reader, &error));
    if (error) {
      ++errors;
      EXPECT_THAT(error->message(), HasSubstr("byte")) << error->to_string();
    }
    ASSERT_LE(got.size(), events.size());
    ASSERT_TRUE(std::equal(got.begin(), got.end(), events.begin())) << "trial " << trial;
  }
  EXPECT_GT(errors, 2000);  // CRC-32C catches (nearly) every flip
}

// Replaces the frame at `offset` (which must be the last frame before the index, or the tape
// is cut after it) by one holding `message` with a valid checksum and `declared_raw` as its
// raw size: only the reader's later checks can catch what is wrong with it.
std::vector<uint8_t> with_frame(const std::vector<uint8_t>& tape, uint64_t offset, uint8_t type,
                                const std::vector<uint8_t>& message, uint32_t declared_raw) {
  std::vector<uint8_t> stored(ZSTD_compressBound(message.size()));
  stored.resize(ZSTD_compress(stored.data(), stored.size(), message.data(), message.size(), 3));
  auto header = encode_frame_header(type, static_cast<uint32_t>(stored.size()), declared_raw,
                                    stored);
  std::vector<uint8_t> out(tape.begin(), tape.begin() + offset);
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), stored.begin(), stored.end());
  return out;  // no index: read by scanning
}

std::vector<uint8_t> frame_message(const std::vector<uint8_t>& tape, uint64_t offset) {
  uint32_t stored = get_u32(tape.data() + offset + 8), raw = get_u32(tape.data() + offset + 12);
  std::vector<uint8_t> message(raw);
  EXPECT_EQ(ZSTD_decompress(message.data(), raw, tape.data() + offset + kFrameHeaderSize, stored),
            raw);
  return message;
}

TEST(TapeReader, ChecksummedButInconsistentFramesAreFormatErrors) {
  InternTable interns;
  auto bytes = write_memory_tape(split(syscall_storm(1000), 1000), interns);
  uint64_t frame = open_ok(bytes)->index()->frames.at(0).offset;
  ASSERT_EQ(bytes[frame + 4], static_cast<uint8_t>(FrameType::Events));
  auto message = frame_message(bytes, frame);
  auto events = static_cast<uint8_t>(FrameType::Events);
  auto read_error = [](const std::vector<uint8_t>& tape) {
    auto reader = TapeReader::open_memory(tape);
    EXPECT_TRUE(reader.has_value());
    std::optional<EbpfError> error;
    read_all(**reader, &error);
    return error ? error->message() : std::string("no error");
  };
  // The decompressed size disagrees with the header.
  EXPECT_THAT(read_error(with_frame(bytes, frame, events, message,
                                    static_cast<uint32_t>(message.size()) + 8)),
              HasSubstr(fmt::format("corrupt frame at byte {}: zstd frame holds", frame)));
  // A Cap'n Proto segment table claiming more words than there are.
  auto bad_segments = message;
  put_u32(bad_segments.data() + 4, 0x00ffffff);
  EXPECT_THAT(read_error(with_frame(bytes, frame, events, bad_segments,
                                    static_cast<uint32_t>(bad_segments.size()))),
              HasSubstr(fmt::format("corrupt frame at byte {}: malformed events message", frame)));
  // A root pointer sending the reader out of the message.
  auto bad_pointer = message;
  put_u64(bad_pointer.data() + 8, 0x7ffffff0'00000000ULL | (0x3fffffffULL << 2));
  EXPECT_THAT(read_error(with_frame(bytes, frame, events, bad_pointer,
                                    static_cast<uint32_t>(bad_pointer.size()))),
              HasSubstr(fmt::format("corrupt frame at byte {}", frame)));
  // Columns that do not add up (event count changed in the struct's data section).
  auto bad_count = message;
  put_u32(bad_count.data() + 16, get_u32(bad_count.data() + 16) + 1);
  EXPECT_THAT(read_error(with_frame(bytes, frame, events, bad_count,
                                    static_cast<uint32_t>(bad_count.size()))),
              HasSubstr(fmt::format("corrupt frame at byte {}: events message claims", frame)));
}

TEST(TapeReader, DamagedIndexFallsBackToScanningWithAWarning) {
  InternTable interns;
  auto events = syscall_storm(3000);
  WriterOptions options;
  options.frame_events = 500;
  auto bytes = write_memory_tape(split(events, 100), interns, options);
  uint64_t index_offset = get_u64(bytes.data() + bytes.size() - kTrailerSize);
  bytes[index_offset + kFrameHeaderSize + 2] ^= 0x01;  // the index body, not its header
  auto reader = open_ok(bytes);
  EXPECT_FALSE(reader->complete());
  std::optional<EbpfError> error;
  EXPECT_EQ(flatten(read_all(*reader, &error)), events);
  EXPECT_FALSE(error) << error->to_string();
  ASSERT_EQ(reader->warnings().size(), 2u);
  EXPECT_THAT(reader->warnings()[0], HasSubstr("index is unreadable"));
  EXPECT_THAT(reader->warnings()[1], HasSubstr("3000 events in"));
}

TEST(TapeReader, CorruptFrameErrorNamesItsOffset) {
  InternTable interns;
  auto events = syscall_storm(5000);
  WriterOptions options;
  options.frame_bytes = 4096;
  auto bytes = write_memory_tape(split(events, 500), interns, options);
  uint64_t victim = 0;
  {
    auto reader = open_ok(bytes);
    victim = reader->index()->frames.at(2).offset;
  }
  bytes[victim + kFrameHeaderSize + 3] ^= 0x40;
  auto reader = open_ok(bytes);
  std::optional<EbpfError> error;
  auto got = flatten(read_all(*reader, &error));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::FormatError);
  EXPECT_THAT(error->message(), HasSubstr(fmt::format("corrupt frame at byte {}", victim)));
  EXPECT_THAT(error->message(), HasSubstr("checksum"));
  EXPECT_TRUE(std::equal(got.begin(), got.end(), events.begin()));
  EventBatch batch;
  EXPECT_FALSE(reader->next(&batch));  // sticky
}

TEST(TapeReader, OversizedFrameIsRefusedBeforeAllocating) {
  InternTable interns;
  auto bytes = write_memory_tape(split(syscall_storm(100), 100), interns);
  uint64_t victim = open_ok(bytes)->index()->frames.at(0).offset;
  put_u32(bytes.data() + victim + 12, 0xfffffff0u);  // raw size: 4 GiB
  auto reader = open_ok(bytes);
  std::optional<EbpfError> error;
  read_all(*reader, &error);
  ASSERT_TRUE(error);
  EXPECT_THAT(error->message(), HasSubstr("over the tape's limit"));
  EXPECT_THAT(error->message(), HasSubstr(fmt::format("byte {}", victim)));
}

TEST(TapeReader, UnknownMajorVersionIsRefusedNamingBothVersions) {
  InternTable interns;
  auto bytes = write_memory_tape({}, interns);
  FileHeader future;
  future.major = kFormatMajor + 1;
  future.minor = 3;
  future.max_frame_bytes = WriterOptions{}.max_frame_bytes;
  auto header = encode_file_header(future);
  std::copy(header.begin(), header.end(), bytes.begin());
  auto reader = TapeReader::open_memory(bytes);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().kind(), ErrorKind::NotSupported);
  EXPECT_THAT(reader.error().message(), HasSubstr(fmt::format("{}.3", kFormatMajor + 1)));
  EXPECT_THAT(reader.error().message(), HasSubstr(fmt::format("{}.x", kFormatMajor)));
}

TEST(TapeReader, NotATapeAndReaderFrameCap) {
  std::vector<uint8_t> junk(100, 'x');
  auto r = TapeReader::open_memory(junk);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("not a bpftape tape"));
  InternTable interns;
  auto bytes = write_memory_tape({}, interns);
  ReaderOptions small;
  small.max_frame_bytes = 1 << 20;  // the tape declares 64 MiB
  r = TapeReader::open_memory(bytes, small);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("ReaderOptions::max_frame_bytes"));
}

TEST(TapeReader, DuplicatedInternedEntryIsAFormatError) {
  // Build a tape by hand whose interned frame repeats a string: ids would shift silently.
  InternTable interns;
  interns.intern_string("a");
  interns.intern_string("b");
  auto bytes = write_memory_tape({}, interns);
  auto pos = std::search(bytes.begin(), bytes.end(), kFrameMagic.begin(), kFrameMagic.end());
  ASSERT_NE(pos, bytes.end());
  // Re-write the interned frame with "a","a" using the writer on a table that cannot hold
  // duplicates is impossible, so patch the decompressed message instead: find and re-encode.
  auto reader = open_ok(bytes);
  uint64_t frame = reader->index()->frames.at(0).offset;
  ASSERT_EQ(bytes[frame + 4], static_cast<uint8_t>(FrameType::Interned));
  uint32_t stored = get_u32(bytes.data() + frame + 8), raw = get_u32(bytes.data() + frame + 12);
  std::vector<uint8_t> message(raw);
  ASSERT_EQ(ZSTD_decompress(message.data(), raw, bytes.data() + frame + kFrameHeaderSize, stored),
            raw);
  auto b = std::find(message.begin(), message.end(), 'b');
  ASSERT_NE(b, message.end());
  *b = 'a';
  std::vector<uint8_t> out(ZSTD_compressBound(raw));
  size_t n = ZSTD_compress(out.data(), out.size(), message.data(), raw, 3);
  out.resize(n);
  auto header = encode_frame_header(static_cast<uint8_t>(FrameType::Interned),
                                    static_cast<uint32_t>(n), raw, out);
  std::vector<uint8_t> patched(bytes.begin(), bytes.begin() + frame);
  patched.insert(patched.end(), header.begin(), header.end());
  patched.insert(patched.end(), out.begin(), out.end());  // no index: read by scanning
  auto damaged = open_ok(patched);
  std::optional<EbpfError> error;
  read_all(*damaged, &error);
  ASSERT_TRUE(error);
  EXPECT_THAT(error->message(), HasSubstr(fmt::format("byte {}", frame)));
  EXPECT_THAT(error->message(), HasSubstr("duplicates"));
}

TEST(TapeReader, SeekByTimeWithAndWithoutIndex) {
  InternTable interns;
  auto events = mixed_stream(30000, &interns);
  WriterOptions options;
  options.frame_bytes = 8 * 1024;
  auto bytes = write_memory_tape(split(events, 500), interns, options);
  auto truncated = std::vector<uint8_t>(bytes.begin(), bytes.end() - kTrailerSize - 1);
  for (auto* tape : {&bytes, &truncated}) {
    auto reader = open_ok(*tape);
    EXPECT_EQ(reader->complete(), tape == &bytes);
    for (size_t at : {size_t{25000}, size_t{100}, size_t{29999}}) {
      uint64_t t = events[at].timestamp_ns;
      ASSERT_TRUE(reader->seek(t));
      std::optional<EbpfError> error;
      auto got = flatten(read_all(*reader, &error));
      ASSERT_FALSE(error) << error->to_string();
      std::vector<EbpfEvent> expected(events.begin() + at, events.end());
      EXPECT_EQ(got, expected);
    }
    // Interned data before the target is available after a seek past it.
    EXPECT_EQ(reader->interns().stack_count(), interns.stack_count());
  }
  // With the index, seeking skips frames: fewer frames decoded than a full pass.
  auto reader = open_ok(bytes);
  ASSERT_TRUE(reader->seek(events[29000].timestamp_ns));
  std::optional<EbpfError> error;
  read_all(*reader, &error);
  EXPECT_LT(reader->stats().event_frames, reader->index()->frames.size() / 4);
}

TEST(TapeReader, ParallelDecodeDeliversTheSameBatchesInOrder) {
  InternTable interns;
  auto events = mixed_stream(50000, &interns);
  WriterOptions options;
  options.frame_events = 3000;
  auto batches = split(events, 300);
  auto bytes = write_memory_tape(batches, interns, options);
  ReaderOptions parallel;
  parallel.decode_threads = 4;
  auto reader = open_ok(bytes, parallel);
  std::optional<EbpfError> error;
  EXPECT_EQ(read_all(*reader, &error), batches);
  EXPECT_FALSE(error);
}

TEST(TapeEncoding, SyscallStormCompressesToAtMostFourBytesPerEvent) {
  InternTable interns;
  auto events = syscall_storm(1'000'000);
  auto bytes = write_memory_tape(split(events, 4096), interns);
  double per_event = static_cast<double>(bytes.size()) / static_cast<double>(events.size());
  RecordProperty("bytes_per_event", std::to_string(per_event));
  EXPECT_LE(per_event, 4.0);
}

}  // namespace
}  // namespace otlp::ebpf::tape
