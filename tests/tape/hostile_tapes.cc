#include "tests/tape/hostile_tapes.h"

#include <stdexcept>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <zstd.h>

#include "core/tape/event_codec.h"
#include "core/tape/tape.capnp.h"
#include "tests/tape/tape_test_util.h"

namespace otlp::ebpf::tape::hostile {
namespace {

std::span<const uint8_t> flat_bytes(const kj::Array<capnp::word>& words) {
  auto bytes = words.asBytes();
  return {bytes.begin(), bytes.size()};
}

std::vector<uint8_t> compress(std::span<const uint8_t> raw) {
  std::vector<uint8_t> out(ZSTD_compressBound(raw.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1);
  if (ZSTD_isError(n)) throw std::runtime_error(ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

// File header and metadata frame, as the writer makes them (the metadata from `metadata`).
std::vector<uint8_t> header_and_metadata(uint32_t max_frame_bytes, const TapeMetadata& metadata) {
  std::vector<uint8_t> bytes;
  WriterOptions options;
  options.max_frame_bytes = max_frame_bytes;
  options.frame_bytes = std::min<uint32_t>(options.frame_bytes, max_frame_bytes / 2);
  InternTable interns;
  auto writer = TapeWriter::create(std::make_unique<MemorySink>(&bytes), metadata,
                                   interns, options);
  if (!writer) throw std::runtime_error(writer.error().to_string());
  if (auto r = (*writer)->flush(); !r) throw std::runtime_error(r.error().to_string());
  std::vector<uint8_t> copy = bytes;  // before the writer's destructor closes `bytes`
  writer->reset();
  return copy;
}

}  // namespace

TapeBuilder::TapeBuilder(uint32_t max_frame_bytes)
    : bytes_(header_and_metadata(max_frame_bytes, testing::test_metadata())) {}

uint64_t TapeBuilder::append_frame(uint8_t type, std::span<const uint8_t> raw, IndexEntry entry) {
  auto stored = compress(raw);
  auto header = encode_frame_header(type, static_cast<uint32_t>(stored.size()),
                                    static_cast<uint32_t>(raw.size()), stored);
  const uint64_t offset = bytes_.size();
  bytes_.insert(bytes_.end(), header.begin(), header.end());
  bytes_.insert(bytes_.end(), stored.begin(), stored.end());
  entry.offset = offset;
  entry.type = type;
  entries_.push_back(entry);
  return offset;
}

uint64_t TapeBuilder::events(std::span<const EbpfEvent> events,
                             std::span<const LossRecord> losses) {
  EventFrameEncoder encoder;
  for (const auto& e : events) encoder.add_event(e);
  for (const auto& l : losses) encoder.add_loss(l);
  for (const auto& l : losses) loss_count_ += l.count;
  return events_frame(encoder);
}

uint64_t TapeBuilder::repeated_event(const EbpfEvent& event, uint32_t count) {
  EventFrameEncoder encoder;
  for (uint32_t i = 0; i < count; ++i) encoder.add_event(event);
  return events_frame(encoder);
}

uint64_t TapeBuilder::events_frame(EventFrameEncoder& encoder) {
  encoder.end_batch();
  capnp::MallocMessageBuilder message;
  encoder.build(message.initRoot<schema::Events>());
  event_count_ += encoder.event_count();
  return append_frame(static_cast<uint8_t>(FrameType::Events),
                      flat_bytes(capnp::messageToFlatArray(message)),
                      IndexEntry{0, 0, encoder.first_timestamp_ns(), encoder.last_timestamp_ns(),
                                 encoder.event_count()});
}

uint64_t TapeBuilder::interned(const std::vector<std::string>& strings,
                               const std::vector<std::vector<uint64_t>>& stacks) {
  size_t words = 64;
  for (const auto& s : strings) words += s.size() / 8 + 2;
  for (const auto& s : stacks) words += s.size() + 2;
  capnp::MallocMessageBuilder message(static_cast<unsigned>(std::min<size_t>(words, 1u << 29)));
  auto root = message.initRoot<schema::Interned>();
  root.setFirstStringId(strings_ + 1);
  root.setFirstStackId(stacks_ + 1);
  auto list = root.initStrings(static_cast<unsigned>(strings.size()));
  for (unsigned i = 0; i < strings.size(); ++i) {
    list.set(i, capnp::Data::Reader(reinterpret_cast<const uint8_t*>(strings[i].data()),
                                    strings[i].size()));
  }
  auto stack_list = root.initStacks(static_cast<unsigned>(stacks.size()));
  for (unsigned i = 0; i < stacks.size(); ++i) {
    auto frames = stack_list.init(i, static_cast<unsigned>(stacks[i].size()));
    for (unsigned f = 0; f < stacks[i].size(); ++f) frames.set(f, stacks[i][f]);
  }
  strings_ += static_cast<uint32_t>(strings.size());
  stacks_ += static_cast<uint32_t>(stacks.size());
  return append_frame(static_cast<uint8_t>(FrameType::Interned),
                      flat_bytes(capnp::messageToFlatArray(message)), IndexEntry{});
}

uint64_t TapeBuilder::copy_frame(uint64_t offset) {
  const uint64_t size = kFrameHeaderSize + get_u32(bytes_.data() + offset + 8);
  const uint64_t copy = bytes_.size();
  std::vector<uint8_t> frame(bytes_.begin() + static_cast<ptrdiff_t>(offset),
                             bytes_.begin() + static_cast<ptrdiff_t>(offset + size));
  bytes_.insert(bytes_.end(), frame.begin(), frame.end());
  for (const auto& e : entries_) {
    if (e.offset == offset) {
      IndexEntry again = e;
      again.offset = copy;
      entries_.push_back(again);
      event_count_ += e.event_count;
      break;
    }
  }
  return copy;
}

void TapeBuilder::close(const std::function<void(TapeIndex&)>& edit) {
  TapeIndex index;
  index.frames = entries_;
  index.event_count = event_count_;
  index.loss_count = loss_count_;
  index.string_count = strings_;
  index.stack_count = stacks_;
  if (edit) edit(index);
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Index>();
  root.setEventCount(index.event_count);
  root.setLossCount(index.loss_count);
  root.setStringCount(index.string_count);
  root.setStackCount(index.stack_count);
  auto frames = root.initFrames(static_cast<unsigned>(index.frames.size()));
  for (unsigned i = 0; i < index.frames.size(); ++i) {
    const auto& e = index.frames[i];
    frames[i].setOffset(e.offset);
    frames[i].setType(e.type);
    frames[i].setFirstTimestampNs(e.first_timestamp_ns);
    frames[i].setLastTimestampNs(e.last_timestamp_ns);
    frames[i].setEventCount(e.event_count);
  }
  const auto saved = entries_;
  index_offset_ = append_frame(static_cast<uint8_t>(FrameType::Index),
                               flat_bytes(capnp::messageToFlatArray(message)), IndexEntry{});
  entries_ = saved;
  uint8_t trailer[kTrailerSize];
  put_u64(trailer, index_offset_);
  std::memcpy(trailer + 8, kTrailerMagic.data(), kTrailerMagic.size());
  bytes_.insert(bytes_.end(), trailer, trailer + kTrailerSize);
}

std::vector<EbpfEvent> plain_events(size_t count, uint64_t first_ns) {
  std::vector<EbpfEvent> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    out.push_back(EbpfEvent::syscall_event(first_ns + i * 1000, 4242, 4242, 0,
                                           SyscallData{0, 0, 1, 300}));
  }
  return out;
}

std::vector<uint8_t> event_bomb(unsigned frames, uint32_t events_per_frame) {
  TapeBuilder tape(256u << 20);
  for (unsigned f = 0; f < frames; ++f) {
    // One timestamp for all; the pid differs per frame, so no frame is a copy of another.
    tape.repeated_event(EbpfEvent::syscall_event(5'000'000'000, 1000 + f, 1000 + f, 0,
                                                 SyscallData{0, 0, 1, 300}),
                        events_per_frame);
  }
  return tape.bytes();
}

std::vector<uint8_t> single_frame_bomb(uint32_t events) { return event_bomb(1, events); }

std::vector<uint8_t> interned_bomb(unsigned frames, uint32_t string_bytes) {
  TapeBuilder tape(256u << 20);
  std::string s(string_bytes, '\0');
  for (unsigned f = 0; f < frames; ++f) {
    s.back() = static_cast<char>(f + 1);  // distinct: interned entries are unique
    tape.interned({s});
  }
  tape.events(plain_events(10));
  return tape.bytes();
}

std::vector<uint8_t> wrapped_times() {
  TapeBuilder tape;
  tape.events(plain_events(100, UINT64_MAX - 200'000));  // runs up to 2^64 - 101000
  std::vector<EbpfEvent> wrap = plain_events(3, UINT64_MAX - 2);
  for (size_t i = 0; i < wrap.size(); ++i) wrap[i].timestamp_ns = UINT64_MAX - 2 + i;
  tape.events(wrap);
  tape.events(plain_events(100, 1));  // after the wrap: near 0
  tape.events(plain_events(3, UINT64_MAX - 5'000));
  tape.close();
  return tape.bytes();
}

namespace {

TapeBuilder small_closed_tape(unsigned frames = 4, size_t events_per_frame = 1000) {
  TapeBuilder tape;
  for (unsigned f = 0; f < frames; ++f) {
    tape.events(plain_events(events_per_frame, 1'000'000'000 + f * 100'000'000ull));
  }
  return tape;
}

}  // namespace

std::vector<uint8_t> index_with_wrong_times(uint64_t shift_ns) {
  auto tape = small_closed_tape();
  tape.close([shift_ns](TapeIndex& index) {
    for (auto& e : index.frames) {
      if (e.event_count == 0) continue;
      e.first_timestamp_ns += shift_ns;
      e.last_timestamp_ns += shift_ns;
    }
  });
  return tape.bytes();
}

std::vector<uint8_t> index_bad_magic() {
  auto tape = small_closed_tape();
  tape.close();
  auto bytes = tape.bytes();
  bytes[tape.index_offset()] ^= 0x02;  // 'B' -> '@'
  return bytes;
}

std::vector<uint8_t> damaged_trailer() {
  auto tape = small_closed_tape();
  tape.close();
  auto bytes = tape.bytes();
  bytes[bytes.size() - 3] ^= 0x01;  // inside "BTAPEEND"
  return bytes;
}

std::vector<uint8_t> index_duplicate_offsets() {
  auto tape = small_closed_tape();
  tape.close([](TapeIndex& index) { index.frames[2] = index.frames[1]; });
  return tape.bytes();
}

std::vector<uint8_t> duplicated_events_frame(bool close) {
  auto tape = small_closed_tape(3);
  tape.copy_frame(tape.entries()[1].offset);
  if (close) tape.close();
  return tape.bytes();
}

std::vector<uint8_t> huge_loss_counts() {
  TapeBuilder tape;
  std::vector<LossRecord> losses = {{1'000'000'500, 0, UINT64_MAX - 1},
                                    {1'000'000'600, 1, UINT64_MAX - 1}};
  tape.events(plain_events(10), losses);
  tape.close([](TapeIndex& index) { index.loss_count = UINT64_MAX; });
  return tape.bytes();
}

std::vector<uint8_t> control_bytes() {
  const std::string evil = "\x1b]0;PWN\x07\x1b[2J\r\nforged line\x7f\x9b";
  TapeMetadata m = testing::test_metadata();
  m.hostname = "host" + evil;
  m.command = {"cmd" + evil, evil};
  m.recording_id = evil;
  std::vector<uint8_t> bytes;
  InternTable interns;
  const StringId comm = interns.intern_string("comm" + evil);
  auto writer =
      TapeWriter::create(std::make_unique<MemorySink>(&bytes), m, interns, {});
  if (!writer) throw std::runtime_error(writer.error().to_string());
  std::vector<ProcessInfo> procs = {
      {.pid = 4242, .ppid = 1, .comm = "comm" + evil, .exe = "/bin/" + evil,
       .cmdline = {"arg" + evil, evil}, .cgroup = evil, .container_id = evil, .start_ns = 5}};
  (void)(*writer)->write_processes(procs);
  (void)(*writer)->write_symbols(std::vector<Mapping>{{4242, 0x400000, 0x500000, 0, evil, evil}},
                                 std::vector<Symbol>{{4242, 0x401000, 16, evil}});
  EventBatch batch;
  batch.events = plain_events(20);
  batch.events.push_back(EbpfEvent::process_event(EbpfEventType::ProcessExec, 1'000'100'000,
                                                  4242, 4242, 0, {1, 0, 0, comm, comm}));
  (void)(*writer)->append(batch);
  if (auto r = (*writer)->close(); !r) throw std::runtime_error(r.error().to_string());
  return bytes;
}

std::vector<HostileTape> all_hostile_tapes() {
  return {
      {"event-bomb", "40 frames x 1 M events at one timestamp (2.7 GB decoded)",
       [] { return event_bomb(40, 1u << 20); }},
      {"single-frame-bomb", "one frame of 24 M events (1.6 GB decoded)",
       [] { return single_frame_bomb(24u << 20); }},
      {"same-timestamp", "3 M events at one timestamp, within the decode budget",
       [] { return event_bomb(3, 1u << 20); }},
      {"interned-bomb", "12 interned strings of 200 MB zeros each",
       [] { return interned_bomb(12, 200u << 20); }},
      {"wrapped-times", "times near 2^64 and a wrap to near 0", [] { return wrapped_times(); }},
      {"index-wrong-times", "checksum-valid index, times 1 h late",
       [] { return index_with_wrong_times(3'600'000'000'000); }},
      {"index-bad-magic", "one bit flipped in the index frame's magic",
       [] { return index_bad_magic(); }},
      {"damaged-trailer", "one bit flipped in the trailer's magic",
       [] { return damaged_trailer(); }},
      {"index-duplicate-offsets", "the index lists a frame twice",
       [] { return index_duplicate_offsets(); }},
      {"duplicated-frame", "an events frame repeated (closed tape)",
       [] { return duplicated_events_frame(true); }},
      {"duplicated-frame-open", "an events frame repeated (no index)",
       [] { return duplicated_events_frame(false); }},
      {"huge-losses", "two loss records of 2^64 - 2 events", [] { return huge_loss_counts(); }},
      {"control-bytes", "terminal escapes and newlines in every string",
       [] { return control_bytes(); }},
  };
}

HostileTape hostile_tape(const std::string& name) {
  for (auto& t : all_hostile_tapes()) {
    if (t.name == name) return t;
  }
  throw std::out_of_range("no hostile tape named " + name);
}

}  // namespace otlp::ebpf::tape::hostile
