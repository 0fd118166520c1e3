// TapeBudget (record --max-size) through the TapeSink the recorder feeds: the closed tape is no
// bigger than the budget, whatever the data's compressibility, the interned entries, the
// process and symbol records, and with the background compression queue on; the delivery the
// sink cut holds exactly what the tape holds (what the live pipeline then sees).
#include "recorder/tape_budget.h"

#include "recorder/tape_sink.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/tape/reader.h"
#include "core/tape/writer.h"
#include "tests/tape/tape_test_util.h"

namespace bpftape::record {
namespace {

using namespace otlp::ebpf;
using namespace otlp::ebpf::tape;

struct Feed {
  std::mt19937_64 rng;
  uint64_t ts = 1'000'000;

  std::string text(size_t max) {
    std::string s(rng() % max + 1, 'a');
    for (char& c : s) c = static_cast<char>('!' + rng() % 90);
    return s;
  }
  // Syscalls with random fields (poorly compressible) and CPU samples with fresh stacks.
  EventBatch batch(InternTable& interns) {
    EventBatch b;
    const size_t n = rng() % 1000;
    for (size_t i = 0; i < n; ++i) {
      ts += rng() % 100'000;
      const uint32_t pid = static_cast<uint32_t>(rng() % 100'000 + 1);
      if (rng() % 64 == 0) {
        std::vector<uint64_t> frames(rng() % 40 + 1);
        for (auto& f : frames) f = rng();
        const StackId stack = interns.intern_stack(frames);
        b.events.push_back(EbpfEvent::cpu_sample(ts, pid, pid, static_cast<uint16_t>(rng() % 4),
                                                 CpuSampleData{.user_stack = stack}));
      } else {
        b.events.push_back(
            EbpfEvent::syscall_event(ts, pid, pid, static_cast<uint16_t>(rng() % 4),
                                     SyscallData{.nr = static_cast<uint32_t>(rng() % 400),
                                                 .ret = static_cast<int64_t>(rng()),
                                                 .duration_ns = rng() % 1'000'000'000}));
      }
    }
    if (rng() % 10 == 0) b.losses.push_back(LossRecord{ts, 1, rng() % 1000 + 1});
    return b;
  }
  std::vector<tape::ProcessInfo> processes() {
    std::vector<tape::ProcessInfo> out(rng() % 4);
    for (auto& p : out) {
      p.pid = static_cast<uint32_t>(rng() % 100'000 + 1);
      p.comm = text(15);
      p.exe = "/usr/bin/" + text(60);
      for (size_t a = rng() % 8; a > 0; --a) p.cmdline.push_back(text(rng() % 100 ? 30 : 2000));
    }
    return out;
  }
  NewSymbols symbols() {
    NewSymbols s;
    for (size_t i = rng() % 50; i > 0; --i) {
      s.symbols.push_back(Symbol{1, rng(), rng() % 4096, text(rng() % 10 ? 40 : 800)});
    }
    if (rng() % 4 == 0)
      s.mappings.push_back(Mapping{1, 0x1000, 0x9000, 0, "/lib/" + text(80), text(20)});
    return s;
  }
};

BpfStatsSnapshot bpf_stats(uint64_t ts) {
  BpfStatsSnapshot s;
  s.timestamp_ns = ts;
  for (int i = 0; i < 12; ++i)
    s.programs.push_back({"bpftape_prog_" + std::to_string(i), 7, 1, 2, 0, 0, 0});
  return s;
}

// Records as run_recording does (deliveries to a TapeSink, its flush every 7 deliveries and
// BPF stats every 29) until the budget stops it; the closed tape's size. *events_written:
// the events of the deliveries after the sink had them (cut to what it wrote).
uint64_t record_until_full(uint64_t max_bytes, uint64_t seed, bool background,
                           uint64_t* events_written) {
  WriterOptions options;
  TapeBudget::configure(max_bytes, &options);
  options.background_compression = background;
  TapeBudget budget(max_bytes, options);
  InternTable interns;
  std::vector<uint8_t> bytes;
  auto writer = TapeWriter::create(std::make_unique<MemorySink>(&bytes),
                                   tape::testing::test_metadata(), interns, options);
  EXPECT_TRUE(writer) << writer.error().to_string();
  Feed feed{std::mt19937_64(seed)};
  TapeSink sink(**writer, &budget, interns, [&feed] { return bpf_stats(feed.ts); });
  *events_written = 0;
  for (int round = 0; round < 100'000 && !sink.full(); ++round) {
    Delivery delivery{feed.batch(interns), feed.processes(), feed.symbols()};
    const size_t offered = delivery.batch.events.size();
    auto consumed = sink.consume(delivery);
    EXPECT_TRUE(consumed) << consumed.error().to_string();
    // Until the sink is full it takes each delivery whole; the one that fills it is cut.
    if (!sink.full()) {
      EXPECT_EQ(delivery.batch.events.size(), offered);
    } else {
      EXPECT_LE(delivery.batch.events.size(), offered);
    }
    *events_written += delivery.batch.events.size();
    if (round % 7 == 6) {  // the recorder's 1 s flush
      EXPECT_TRUE(sink.flush());
    }
    if (round % 29 == 28) {
      EXPECT_TRUE(sink.write_bpf_stats(bpf_stats(feed.ts)));
    }
  }
  EXPECT_TRUE(sink.full());
  auto closed = sink.close(bpf_stats(feed.ts));
  EXPECT_TRUE(closed) << closed.error().to_string();
  // A whole, readable tape holding exactly the delivered events.
  auto reader = TapeReader::open_memory(bytes, {});
  EXPECT_TRUE(reader) << reader.error().to_string();
  if (reader) {
    EXPECT_TRUE((*reader)->complete());
    uint64_t on_tape = 0;
    EventBatch batch;
    for (;;) {
      auto more = (*reader)->next(&batch);
      EXPECT_TRUE(more) << more.error().to_string();
      if (!more || !*more) break;
      on_tape += batch.events.size();
    }
    EXPECT_EQ(on_tape, *events_written);
  }
  return bytes.size();
}

TEST(TapeBudget, TheClosedTapeNeverPassesTheBudget) {
  for (uint64_t max_bytes : {TapeBudget::kMinimumBytes, uint64_t{100'000}, uint64_t{1} << 20,
                             uint64_t{5'000'000}, uint64_t{40} << 20}) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      uint64_t events = 0;
      const uint64_t size = record_until_full(max_bytes, seed, /*background=*/false, &events);
      EXPECT_LE(size, max_bytes) << "seed " << seed;
      EXPECT_GT(events, 0u) << max_bytes;
      // Worst-case accounting that is still tight: flushing near the end makes the size exact;
      // what stays in reserve is a few frames (frame_bytes is max_bytes / 256) and the close.
      EXPECT_GE(size + max_bytes / 32 + 64 * 1024, max_bytes) << "seed " << seed;
    }
  }
}

// With a compression thread the queued frames are unknown: a looser bound, but a bound.
TEST(TapeBudget, TheBoundHoldsWithBackgroundCompression) {
  for (uint64_t max_bytes : {uint64_t{300'000}, uint64_t{5'000'000}}) {
    for (uint64_t seed = 1; seed <= 2; ++seed) {
      uint64_t events = 0;
      EXPECT_LE(record_until_full(max_bytes, seed, /*background=*/true, &events), max_bytes);
      EXPECT_GT(events, 0u) << max_bytes;
    }
  }
}

TEST(TapeBudget, ConfigureMakesFramesSmallForSmallBudgets) {
  WriterOptions small, large;
  TapeBudget::configure(TapeBudget::kMinimumBytes, &small);
  TapeBudget::configure(uint64_t{1} << 32, &large);
  EXPECT_EQ(small.frame_bytes, 4096u);
  EXPECT_EQ(large.frame_bytes, 1u << 20);
  EXPECT_FALSE(small.background_compression);
  EXPECT_TRUE(small.validate());
}

}  // namespace
}  // namespace bpftape::record
