// The tape reader and the sorter against crafted tapes (tests/tape/hostile_tapes.h): bombs are
// refused as limits (not as corruption), lying or damaged indexes fall back to scanning with a
// warning, duplicated frames count once, counters saturate, non-files are refused at open.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/sorter.h"
#include "tests/tape/hostile_tapes.h"
#include "tests/tape/tape_test_util.h"

namespace otlp::ebpf::tape {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

struct ReadResult {
  uint64_t events = 0;
  uint64_t first_ns = UINT64_MAX;
  std::optional<EbpfError> error;
};

ReadResult read_everything(TapeReader& reader) {
  ReadResult r;
  EventBatch batch;
  while (true) {
    auto more = reader.next(&batch);
    if (!more) {
      r.error = more.error();
      break;
    }
    if (!*more) break;
    r.events += batch.events.size();
    for (const auto& e : batch.events) r.first_ns = std::min(r.first_ns, e.timestamp_ns);
  }
  return r;
}

// The reader borrows `bytes`: they must outlive it (hence no temporaries).
std::unique_ptr<TapeReader> open_bytes(std::vector<uint8_t>&&, const ReaderOptions& = {}) = delete;
std::unique_ptr<TapeReader> open_bytes(const std::vector<uint8_t>& bytes,
                                       const ReaderOptions& options = {}) {
  auto reader = TapeReader::open_memory(bytes, options);
  EXPECT_TRUE(reader) << reader.error().to_string();
  return reader ? std::move(*reader) : nullptr;
}

std::string all_warnings(const TapeReader& reader) {
  std::string out;
  for (const auto& w : reader.warnings()) out += w + "\n";
  return out;
}

// ---- budgets ----

TEST(HostileTape, EventBombIsRefusedAsALimitNamingHowToRaiseIt) {
  // 40 frames x 1 M events at one timestamp: ~10 KB on disk, 2.7 GB decoded.
  auto bytes = hostile::event_bomb(40, 1u << 20);
  ASSERT_LT(bytes.size(), 1u << 20);
  auto reader = open_bytes(bytes);
  ASSERT_TRUE(reader);
  auto r = read_everything(*reader);
  ASSERT_TRUE(r.error) << "read " << r.events << " events without complaint";
  EXPECT_EQ(r.error->kind(), ErrorKind::NotSupported);
  EXPECT_THAT(r.error->message(), AllOf(HasSubstr("decoded-bytes budget"),
                                        HasSubstr(kLimitScaleEnv), Not(HasSubstr("corrupt"))));
  // The default floor (256 MiB decoded) is what was delivered at most.
  EXPECT_LE(r.events * sizeof(EbpfEvent), ReadLimits{}.min_decoded_bytes);
  EXPECT_LE(reader->stats().decoded_bytes, ReadLimits{}.min_decoded_bytes);
}

TEST(HostileTape, OneFrameOfMillionsOfEventsIsRefusedBeforeItIsDecoded) {
  auto bytes = hostile::single_frame_bomb(3u << 20);  // over the 2 M events per frame limit
  auto reader = open_bytes(bytes);
  ASSERT_TRUE(reader);
  auto r = read_everything(*reader);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.events, 0u);
  EXPECT_THAT(r.error->message(),
              AllOf(HasSubstr("max_frame_events"), HasSubstr("3145728 events"),
                    Not(HasSubstr("corrupt"))));
}

TEST(HostileTape, LimitScaleFromTheEnvironmentRaisesEveryLimit) {
  otlp::ebpf::testing::TempDir dir;
  const std::string path = dir.file("big.bpftape");
  auto bytes = hostile::single_frame_bomb(3u << 20);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
  ASSERT_EQ(::setenv(kLimitScaleEnv, "2", 1), 0);
  auto raised = TapeReader::open(path);
  ::unsetenv(kLimitScaleEnv);
  ASSERT_TRUE(raised) << raised.error().to_string();
  auto r = read_everything(**raised);
  EXPECT_FALSE(r.error) << r.error->to_string();
  EXPECT_EQ(r.events, 3u << 20);

  ASSERT_EQ(::setenv(kLimitScaleEnv, "lots", 1), 0);
  auto bad = TapeReader::open(path);
  ::unsetenv(kLimitScaleEnv);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("not a positive integer"));
}

TEST(HostileTape, InternedBombIsRefusedAsARetainedLimit) {
  auto bytes = hostile::interned_bomb(2, 100u << 20);  // 200 MB kept from a few KB
  ASSERT_LT(bytes.size(), 1u << 20);
  auto reader = open_bytes(bytes);
  ASSERT_TRUE(reader);
  auto r = read_everything(*reader);
  ASSERT_TRUE(r.error);
  EXPECT_THAT(r.error->message(), AllOf(HasSubstr("retained-bytes budget"),
                                        HasSubstr(kLimitScaleEnv), Not(HasSubstr("corrupt"))));
  EXPECT_LE(reader->interns().memory_bytes(), ReadLimits{}.min_retained_bytes);
}

TEST(HostileTape, BudgetsScaleWithTheFileSize) {
  // A real tape well over the floors' worth of file is read whole with the floors set tiny:
  // its budget comes from its size.
  InternTable interns;
  auto events = testing::mixed_stream(20000, &interns);
  std::vector<EventBatch> batches(1);
  batches[0].events = events;
  auto bytes = testing::write_memory_tape(batches, interns);
  ReaderOptions options;
  options.limits.min_decoded_bytes = 0;
  options.limits.min_retained_bytes = 0;
  auto reader = open_bytes(bytes, options);
  ASSERT_TRUE(reader);
  auto r = read_everything(*reader);
  EXPECT_FALSE(r.error) << r.error->to_string();
  EXPECT_EQ(r.events, events.size());
  // ... and refused with a ratio no real tape is that low.
  options.limits.decoded_per_file_byte = 2;
  reader = open_bytes(bytes, options);
  ASSERT_TRUE(reader);
  r = read_everything(*reader);
  ASSERT_TRUE(r.error);
  EXPECT_THAT(r.error->message(), HasSubstr("decoded_per_file_byte"));
}

// ---- times ----

TEST(HostileTape, TimesNearTwoToTheSixtyFourReadAndSeek) {
  auto bytes = hostile::wrapped_times();
  auto reader = open_bytes(bytes);
  ASSERT_TRUE(reader);
  auto r = read_everything(*reader);
  EXPECT_FALSE(r.error) << r.error->to_string();
  EXPECT_EQ(r.events, 206u);
  ASSERT_TRUE(reader->seek(UINT64_MAX - 1));
  r = read_everything(*reader);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.events, 2u);  // UINT64_MAX - 1 and UINT64_MAX
}

// ---- index ----

TEST(HostileTape, IndexWithWrongTimesIsNotTrustedAndNothingIsMissed) {
  // Checksum-valid index, every time 1 h late: callers take the first event's time from the
  // index (the origin of --since), so it must not be offered. The tape's 4 frames hold 1000
  // events 1 us apart each, starting at 1.0, 1.1, 1.2 and 1.3 s.
  auto bytes = hostile::index_with_wrong_times(3'600'000'000'000);
  auto reader = open_bytes(bytes);
  ASSERT_TRUE(reader);
  EXPECT_FALSE(reader->index().has_value());
  EXPECT_THAT(all_warnings(*reader), HasSubstr("disagrees with the frames"));
  ASSERT_TRUE(reader->seek(1'000'000'000 + 50'000'000));  // --since 50ms from the real start
  auto r = read_everything(*reader);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.events, 3000u);
}

TEST(HostileTape, SeekChecksTheFrameTheIndexSkips) {
  // Only frame 2's entry lies (it claims 1.01-1.02 s, it holds 1.1-1.101 s): the earliest
  // event's time is right, so open() trusts the index; seeking to 1.1005 s would skip frame 2
  // on the index's word, so it decodes it, sees the lie and scans instead.
  hostile::TapeBuilder tape;
  for (unsigned f = 0; f < 4; ++f) tape.events(hostile::plain_events(1000, 1'000'000'000 + f * 100'000'000ull));
  tape.close([](TapeIndex& index) {
    index.frames[1].first_timestamp_ns = 1'010'000'000;
    index.frames[1].last_timestamp_ns = 1'020'000'000;
  });
  auto reader = open_bytes(tape.bytes());
  ASSERT_TRUE(reader);
  ASSERT_TRUE(reader->index().has_value());
  ASSERT_TRUE(reader->seek(1'100'500'000));  // inside frame 2: 500 of its events are later
  auto r = read_everything(*reader);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.events, 500u + 2000u);
  EXPECT_THAT(all_warnings(*reader), HasSubstr("disagrees with the frames"));
}

TEST(HostileTape, FrameDisagreeingWithTheIndexWhileReadingIsAWarning) {
  hostile::TapeBuilder tape;
  for (unsigned f = 0; f < 4; ++f) tape.events(hostile::plain_events(1000, 1'000'000'000 + f * 100'000'000ull));
  tape.close([](TapeIndex& index) {
    index.frames[2].event_count = 999;
    index.frames[3].event_count = 1001;  // the total still adds up
  });
  auto reader = open_bytes(tape.bytes());
  ASSERT_TRUE(reader);
  auto r = read_everything(*reader);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.events, 4000u);
  EXPECT_THAT(all_warnings(*reader), HasSubstr("holds 999 events/losses"));
  EXPECT_FALSE(reader->index().has_value());
}

TEST(HostileTape, DamagedIndexMagicFallsBackToScanning) {
  const auto bytes = hostile::index_bad_magic();
  auto reader = open_bytes(bytes);
  ASSERT_TRUE(reader);
  auto r = read_everything(*reader);
  EXPECT_FALSE(r.error) << r.error->to_string();
  EXPECT_EQ(r.events, 4000u);
  EXPECT_THAT(all_warnings(*reader), AllOf(HasSubstr("index is unreadable"),
                                           HasSubstr("4000 events in 4 frames read by scanning"),
                                           Not(HasSubstr("did not close"))));
}

TEST(HostileTape, DamagedTrailerIsReportedAsDamaged) {
  const auto bytes = hostile::damaged_trailer();
  auto reader = open_bytes(bytes);
  ASSERT_TRUE(reader);
  auto r = read_everything(*reader);
  EXPECT_FALSE(r.error) << r.error->to_string();
  EXPECT_EQ(r.events, 4000u);
  EXPECT_THAT(all_warnings(*reader), AllOf(HasSubstr("trailer"), HasSubstr("damaged"),
                                           Not(HasSubstr("did not close the tape;"))));
}

TEST(HostileTape, IndexListingAFrameTwiceIsNotUsed) {
  const auto bytes = hostile::index_duplicate_offsets();
  auto reader = open_bytes(bytes);
  ASSERT_TRUE(reader);
  EXPECT_FALSE(reader->index().has_value());
  auto r = read_everything(*reader);
  EXPECT_FALSE(r.error) << r.error->to_string();
  EXPECT_EQ(r.events, 4000u);
  EXPECT_THAT(all_warnings(*reader), HasSubstr("disagrees with the frames"));
}

class DuplicatedFrame : public ::testing::TestWithParam<bool> {};

TEST_P(DuplicatedFrame, IsReadOnce) {
  const auto bytes = hostile::duplicated_events_frame(GetParam());
  auto reader = open_bytes(bytes);
  ASSERT_TRUE(reader);
  auto r = read_everything(*reader);
  EXPECT_FALSE(r.error) << r.error->to_string();
  EXPECT_EQ(r.events, 3000u);
  EXPECT_EQ(reader->stats().events, 3000u);
  EXPECT_EQ(reader->stats().duplicate_frames, 1u);
  EXPECT_THAT(all_warnings(*reader), HasSubstr("copies of earlier ones"));
  // A second pass says the same.
  ASSERT_TRUE(reader->seek(0));
  EXPECT_EQ(read_everything(*reader).events, 3000u);
}

INSTANTIATE_TEST_SUITE_P(ClosedAndOpen, DuplicatedFrame, ::testing::Bool());

TEST(HostileTape, LostEventTotalSaturates) {
  const auto bytes = hostile::huge_loss_counts();
  auto reader = open_bytes(bytes);
  ASSERT_TRUE(reader);
  auto r = read_everything(*reader);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(reader->stats().lost_events, UINT64_MAX);
}

TEST(HostileTape, ControlBytesAreReadBackUnchanged) {
  // Escaping is the printers' job; the reader must hand the bytes over as they are.
  const auto bytes = hostile::control_bytes();
  auto reader = open_bytes(bytes);
  ASSERT_TRUE(reader);
  auto r = read_everything(*reader);
  EXPECT_FALSE(r.error);
  EXPECT_THAT(reader->metadata().hostname, HasSubstr("\x1b]0;PWN\x07"));
  ASSERT_EQ(reader->processes().size(), 1u);
  ASSERT_NE(reader->processes().latest(4242), nullptr);
  EXPECT_THAT(reader->processes().latest(4242)->comm, HasSubstr("\r\n"));
}

// ---- not a file ----

TEST(HostileTape, FifoIsRefusedWithoutBlocking) {
  otlp::ebpf::testing::TempDir dir;
  const std::string fifo = dir.file("tape.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto reader = TapeReader::open(fifo);  // blocked forever in open() before
  ASSERT_FALSE(reader);
  EXPECT_THAT(reader.error().message(), AllOf(HasSubstr(fifo), HasSubstr("FIFO")));
}

TEST(HostileTape, DirectoryAndDeviceAreRefusedSayingWhatTheyAre) {
  otlp::ebpf::testing::TempDir dir;
  auto d = TapeReader::open(dir.path());
  ASSERT_FALSE(d);
  EXPECT_THAT(d.error().message(), HasSubstr("is a directory"));
  auto dev = TapeReader::open("/dev/null");
  ASSERT_FALSE(dev);
  EXPECT_THAT(dev.error().message(), HasSubstr("is a character device"));
}

// ---- sorter ----

std::vector<EbpfEvent> at_one_time(size_t n, uint64_t ts) {
  std::vector<EbpfEvent> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(EbpfEvent::syscall_event(ts, 1 + static_cast<uint32_t>(i), 1, 0,
                                           SyscallData{0, 0, 1, 300}));
  }
  return out;
}

TEST(HostileSorter, MillionsOfEventsAtOneTimestampAreNotAllHeld) {
  Sorter sorter(100'000'000);  // the replay window
  const auto events = at_one_time(size_t{3} << 20, 5'000'000'000);
  uint64_t emitted = 0, previous_pid = 0;
  bool in_arrival_order = true;
  auto count = [&](std::span<const EbpfEvent> span) {
    for (const auto& e : span) {
      in_arrival_order &= e.pid == previous_pid + 1;
      previous_pid = e.pid;
    }
    emitted += span.size();
  };
  for (size_t i = 0; i < events.size(); i += 4096) {
    sorter.push(std::span(events).subspan(i, std::min<size_t>(4096, events.size() - i)), count);
  }
  sorter.flush(count);
  EXPECT_EQ(emitted, events.size());
  EXPECT_TRUE(in_arrival_order);
  EXPECT_LE(sorter.stats().max_held, size_t{1} << 21);  // 128 MiB, not 192
  EXPECT_EQ(sorter.stats().late_events, 0u);  // one timestamp: releasing early loses no order
  EXPECT_GT(sorter.stats().forced_events, 0u);
}

TEST(HostileSorter, OneHugeBatchIsNotHeldWhole) {
  Sorter sorter(100'000'000, 1000);
  const auto events = at_one_time(10'000, 7);
  std::vector<EbpfEvent> out;
  sorter.push(events, out);
  sorter.flush(out);
  EXPECT_EQ(out.size(), events.size());
  EXPECT_LE(sorter.stats().max_held, 1000u);
}

TEST(HostileSorter, ForcedReleaseKeepsTheContract) {
  // Random streams through a tiny sorter: every event leaves once, and the output is in time
  // order except for exactly late_events events.
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    std::mt19937_64 rng(seed);
    const size_t max_held = 2 + rng() % 64;
    Sorter sorter(1 + rng() % 1000, max_held);
    std::vector<EbpfEvent> out;
    size_t pushed = 0;
    uint64_t base = 1000;
    for (int b = 0; b < 40; ++b) {
      std::vector<EbpfEvent> batch;
      for (size_t i = rng() % 50; i > 0; --i) {
        base += rng() % 20;
        batch.push_back(EbpfEvent::syscall_event(base - rng() % 300, 1, 1, 0, {}));
      }
      pushed += batch.size();
      sorter.push(batch, out);
      ASSERT_LE(sorter.stats().max_held, max_held) << "seed " << seed;
    }
    sorter.flush(out);
    ASSERT_EQ(out.size(), pushed) << "seed " << seed;
    uint64_t newest = 0, out_of_order = 0;
    for (const auto& e : out) {
      if (e.timestamp_ns < newest) {
        ++out_of_order;
      } else {
        newest = e.timestamp_ns;
      }
    }
    EXPECT_EQ(out_of_order, sorter.stats().late_events) << "seed " << seed;
  }
}

}  // namespace
}  // namespace otlp::ebpf::tape
