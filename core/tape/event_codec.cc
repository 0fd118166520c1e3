#include "core/tape/event_codec.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>

#include "core/tape/format.h"

namespace otlp::ebpf::tape {
namespace {

// Reads one column. Overruns and over-long varints set a sticky error flag instead of
// branching out of the hot loop: the rest of the column reads as zeros, and decode_events
// checks every column once at the end ("ends inside a value" / "bytes left over").
class Cursor {
 public:
  explicit Cursor(capnp::Data::Reader data) : p_(data.begin()), end_(data.end()) {}

  // One value (the sparse columns: loss records, the verbatim index).
  uint64_t varint() {
    if (p_ != end_ && *p_ < 0x80) [[likely]] return *p_++;
    uint64_t value;
    p_ = varint_slow(p_, &value);
    return value;
  }
  // `count` values into out[0..count): the dense columns, a block of events at a time.
  void varints(uint64_t* out, size_t count);
  // `count` raw bytes into out[0..count).
  void bytes(uint8_t* out, size_t count) {
    const size_t have = std::min(count, remaining());
    if (have) std::memcpy(out, p_, have);
    p_ += have;
    if (have < count) {
      std::memset(out + have, 0, count - have);
      bad_ = true;
    }
  }
  bool ok() const { return !bad_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

 private:
  // Byte by byte, bounds-checked: the last few values of a column and 9- or 10-byte values.
  // Returns where the value ends (the column's end, with the error flag set, when it does not).
  [[gnu::noinline]] const uint8_t* varint_slow(const uint8_t* p, uint64_t* out) {
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (p == end_) break;
      uint8_t b = *p++;
      value |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        *out = value;
        return p;
      }
    }
    bad_ = true;
    *out = 0;
    return end_;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool bad_ = false;
};

// out[0..8) = the bytes p[0..8), zero-extended.
inline void widen8(const uint8_t* p, uint64_t* out) {
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  const __m128i words = _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), zero);
  const __m128i lo = _mm_unpacklo_epi16(words, zero), hi = _mm_unpackhi_epi16(words, zero);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi32(lo, zero));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2), _mm_unpackhi_epi32(lo, zero));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4), _mm_unpacklo_epi32(hi, zero));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 6), _mm_unpackhi_epi32(hi, zero));
#else
  for (unsigned j = 0; j < 8; ++j) out[j] = p[j];
#endif
}

// The 7-bit groups of up to 8 varint bytes (continuation bits already cleared), packed.
inline uint64_t pack_groups(uint64_t x) {
  x = (x & 0x007f007f007f007fULL) | ((x & 0x7f007f007f007f00ULL) >> 1);
  x = (x & 0x00003fff00003fffULL) | ((x & 0x3fff00003fff0000ULL) >> 2);
  return (x & 0x000000000fffffffULL) | ((x & 0x0fffffff00000000ULL) >> 4);
}

// Branch-light LEB128 over a run of values, one 8-byte load per step: eight one-byte values
// at once when no byte of the load has its continuation bit; else one value, one to three bytes
// by a test each, four to eight bytes by the position of the first clear continuation bit
// with its 7-bit groups packed by three mask-and-shift steps (no loop). 9- and 10-byte values
// and a column's last few bytes take the bounds-checked slow path.
void Cursor::varints(uint64_t* out, size_t count) {
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint8_t* p = p_;
  size_t i = 0;
  while (i < count) {
    const size_t avail = static_cast<size_t>(end_ - p);
    if (avail < kMaxVarintBytes) break;
    // Values k = 0 .. (avail - 10) / 10 start with >= 10 bytes left, whatever their lengths.
    const size_t stop = std::min(count, i + (avail - kMaxVarintBytes) / kMaxVarintBytes + 1);
    while (i < stop) {
      uint64_t x = get_u64(p);
      if ((x & kHigh) == 0 && stop - i >= 8) {
        widen8(p, out + i);
        p += 8;
        i += 8;
        continue;
      }
      if (!(x & 0x80)) {
        out[i++] = x & 0x7f;
        ++p;
        continue;
      }
      if (!(x & 0x8000)) {
        out[i++] = (x & 0x7f) | ((x >> 1) & 0x3f80);
        p += 2;
        continue;
      }
      if (!(x & 0x800000)) {  // e.g. durations of 16 us .. 2 ms in ns
        out[i++] = (x & 0x7f) | ((x >> 1) & 0x3f80) | ((x >> 2) & 0x1fc000);
        p += 3;
        continue;
      }
      const uint64_t stops = ~x & kHigh;
      if (stops == 0) {
        // 9 or 10 bytes (64-bit hashes, e.g. socket ids): the 10th contributes bit 63 only.
        const uint64_t low = pack_groups(x & ~kHigh);
        if (p[8] < 0x80) {
          out[i++] = low | (static_cast<uint64_t>(p[8]) << 56);
          p += 9;
        } else if (p[9] < 0x80) {
          out[i++] = low | (static_cast<uint64_t>(p[8] & 0x7f) << 56) |
                     (static_cast<uint64_t>(p[9]) << 63);
          p += 10;
        } else {
          // Over-long: flags the column and leaves p at its end, outside the fast zone.
          p = varint_slow(p, &out[i++]);
          break;
        }
        continue;
      }
      p += (static_cast<unsigned>(__builtin_ctzll(stops)) >> 3) + 1;
      out[i++] = pack_groups(x & (stops ^ (stops - 1)) & ~kHigh);  // this value's bytes only
    }
  }
  for (; i < count; ++i) p = varint_slow(p, &out[i]);
  p_ = p;
}

template <typename Column>
kj::ArrayPtr<const kj::byte> bytes_of(const Column& c) {
  return kj::ArrayPtr<const kj::byte>(c.data.get(), c.size);
}

// Per payload kind, the payload bytes that belong to a table field (0xff) and those that do
// not (0): canonical_event keeps the former and zeroes the latter.
constexpr std::array<std::array<uint8_t, kPayloadSize>, kPayloadKindCount> kFieldBytes = [] {
  std::array<std::array<uint8_t, kPayloadSize>, kPayloadKindCount> masks{};
  for (size_t k = 0; k < kPayloadKindCount; ++k) {
    masks[k] = field_byte_mask(static_cast<PayloadKind>(k));
  }
  return masks;
}();

// Kinds whose table has no fixed columns: always in extraColumns.
constexpr uint32_t kKindsWithoutFixedColumns = [] {
  uint32_t bits = 0;
  for (size_t k = 0; k < kPayloadKindCount; ++k) {
    if (!kPayloadLayouts[k].fixed_columns) bits |= 1u << k;
  }
  return bits;
}();

}  // namespace

EbpfEvent canonical_event(const EbpfEvent& e) {
  EbpfEvent c = EbpfEvent::make(e.event_type, e.timestamp_ns, e.pid, e.tid, e.cpu);
  c.flags = e.flags;
  if (!is_known_event_type(static_cast<uint8_t>(e.event_type))) return c;
  const auto& mask = kFieldBytes[static_cast<size_t>(payload_kind(e.event_type))];
  for (size_t i = 0; i < kPayloadSize; ++i) {
    c.payload.raw[i] = static_cast<std::byte>(static_cast<uint8_t>(e.payload.raw[i]) & mask[i]);
  }
  return c;
}

EventFrameEncoder::EventFrameEncoder() : generic_kinds_(kKindsWithoutFixedColumns) {}

void EventFrameEncoder::ByteColumn::grow(size_t need) {
  size_t cap = std::max<size_t>({need, capacity * 2, 4096});
  auto bigger = std::make_unique_for_overwrite<uint8_t[]>(cap);
  if (size) std::memcpy(bigger.get(), data.get(), size);
  data = std::move(bigger);
  capacity = cap;
}

void EventFrameEncoder::varint(Column c, uint64_t v) { put_varint(columns_[c], v); }

inline void EventFrameEncoder::put_varint(ByteColumn& col, uint64_t v) {
  uint8_t* const start = col.reserve(kMaxVarintBytes);
  uint8_t* p = start;
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v) | 0x80;
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  const size_t used = static_cast<size_t>(p - start);
  col.size += used;
  encoded_bytes_ += used;
}

void EventFrameEncoder::byte(Column c, uint8_t v) {
  auto& col = columns_[c];
  *col.reserve(1) = v;
  ++col.size;
  ++encoded_bytes_;
}

void EventFrameEncoder::note_timestamp(uint64_t ts) {
  if (!have_base_) {
    have_base_ = true;
    base_ts_ = prev_ts_ = prev_loss_ts_ = ts;
    first_ts_ = last_ts_ = ts;
  }
  first_ts_ = std::min(first_ts_, ts);
  last_ts_ = std::max(last_ts_, ts);
}

void EventFrameEncoder::add_event(const EbpfEvent& e) {
  note_timestamp(e.timestamp_ns);
  const uint32_t index = event_count_++;
  ++open_batch_events_;
  if (!(canonical_event(e) == e)) {
    // Stored whole; skipped by every other column. Index as a delta from the previous one+1.
    varint(kVerbatimIndex, index - last_verbatim_);
    last_verbatim_ = index + 1;
    auto& col = columns_[kVerbatimEvents];
    std::memcpy(col.reserve(sizeof(EbpfEvent)), &e, sizeof(EbpfEvent));
    col.size += sizeof(EbpfEvent);
    encoded_bytes_ += sizeof(EbpfEvent);
    return;
  }
  varint(kTimestamps, zigzag(static_cast<int64_t>(e.timestamp_ns - prev_ts_)));
  prev_ts_ = e.timestamp_ns;
  byte(kTypes, static_cast<uint8_t>(e.event_type));
  varint(kCpus, e.cpu);
  varint(kPids, zigzag(static_cast<int64_t>(e.pid) - static_cast<int64_t>(prev_pid_)));
  prev_pid_ = e.pid;
  varint(kTids, zigzag(static_cast<int64_t>(e.tid) - static_cast<int64_t>(e.pid)));
  byte(kFlags, e.flags);
  const PayloadKind kind = payload_kind(e.event_type);
  if ((generic_kinds_ >> static_cast<unsigned>(kind)) & 1u) [[unlikely]] {
    add_generic_payload(e, kind);
    return;
  }
  switch (kind) {
    case PayloadKind::CpuSample:
      varint(kCpuUserStack, e.payload.cpu_sample.user_stack);
      varint(kCpuKernelStack, e.payload.cpu_sample.kernel_stack);
      break;
    case PayloadKind::Syscall:
      varint(kSysNr, e.payload.syscall.nr);
      varint(kSysRet, zigzag(e.payload.syscall.ret));
      varint(kSysDuration, e.payload.syscall.duration_ns);
      break;
    case PayloadKind::Memory: {
      const auto& m = e.payload.memory;
      varint(kMemAddress, zigzag(static_cast<int64_t>(m.address - prev_mem_address_)));
      prev_mem_address_ = m.address;
      varint(kMemSize, m.size);
      varint(kMemOldAddress, m.old_address);
      varint(kMemStack, m.stack);
      byte(kMemOp, static_cast<uint8_t>(m.op));
      break;
    }
    case PayloadKind::Process: {
      const auto& p = e.payload.process;
      varint(kProcParent, p.parent_pid);
      varint(kProcChild, p.child_pid);
      varint(kProcExitCode, zigzag(p.exit_code));
      varint(kProcComm, p.comm);
      varint(kProcFilename, p.filename);
      break;
    }
    case PayloadKind::Network: {
      const auto& n = e.payload.network;
      varint(kNetSocket, n.socket_id);
      varint(kNetDuration, n.duration_ns);
      varint(kNetBytes, n.bytes);
      varint(kNetEndpoints, n.endpoints);
      varint(kNetPayload, n.payload);
      varint(kNetLocalPort, n.local_port);
      varint(kNetRemotePort, n.remote_port);
      byte(kNetSmall, static_cast<uint8_t>(n.protocol));
      byte(kNetSmall, static_cast<uint8_t>(n.direction));
      byte(kNetSmall, n.tcp_state);
      break;
    }
  }
}

// One varint per table field (zigzag for signed fields) into the kind's extra columns.
void EventFrameEncoder::add_generic_payload(const EbpfEvent& e, PayloadKind kind) {
  const auto& fields = payload_layout(kind).fields;
  auto& columns = extra_columns_[static_cast<size_t>(kind)];
  if (columns.size() != fields.size()) columns.resize(fields.size());
  ++extra_events_[static_cast<size_t>(kind)];
  for (size_t i = 0; i < fields.size(); ++i) {
    const PayloadField& f = fields[i];
    put_varint(columns[i], f.is_signed ? zigzag(field_signed(e, f)) : field_bits(e, f));
  }
}

void EventFrameEncoder::add_loss(const LossRecord& loss) {
  note_timestamp(loss.timestamp_ns);
  ++loss_count_;
  ++open_batch_losses_;
  varint(kLossTimestamps, zigzag(static_cast<int64_t>(loss.timestamp_ns - prev_loss_ts_)));
  prev_loss_ts_ = loss.timestamp_ns;
  varint(kLossCpus, loss.cpu);
  varint(kLossCounts, loss.count);
}

void EventFrameEncoder::end_batch() {
  if (open_batch_events_ == 0 && open_batch_losses_ == 0) return;
  batch_events_.push_back(open_batch_events_);
  batch_losses_.push_back(open_batch_losses_);
  encoded_bytes_ += 8;
  open_batch_events_ = open_batch_losses_ = 0;
}

void EventFrameEncoder::build(schema::Events::Builder out) {
  end_batch();
  out.setEventCount(event_count_);
  out.setLossCount(loss_count_);
  out.setBaseTimestampNs(base_ts_);
  out.setFirstTimestampNs(first_ts_);
  out.setLastTimestampNs(last_ts_);
  auto be = out.initBatchEventCounts(static_cast<unsigned>(batch_events_.size()));
  auto bl = out.initBatchLossCounts(static_cast<unsigned>(batch_losses_.size()));
  for (size_t i = 0; i < batch_events_.size(); ++i) {
    be.set(static_cast<unsigned>(i), batch_events_[i]);
    bl.set(static_cast<unsigned>(i), batch_losses_[i]);
  }
  out.setTimestamps(bytes_of(columns_[kTimestamps]));
  out.setTypes(bytes_of(columns_[kTypes]));
  out.setCpus(bytes_of(columns_[kCpus]));
  out.setPids(bytes_of(columns_[kPids]));
  out.setTids(bytes_of(columns_[kTids]));
  out.setFlags(bytes_of(columns_[kFlags]));
  out.setVerbatimIndex(bytes_of(columns_[kVerbatimIndex]));
  out.setVerbatimEvents(bytes_of(columns_[kVerbatimEvents]));
  out.setCpuUserStack(bytes_of(columns_[kCpuUserStack]));
  out.setCpuKernelStack(bytes_of(columns_[kCpuKernelStack]));
  out.setSysNr(bytes_of(columns_[kSysNr]));
  out.setSysRet(bytes_of(columns_[kSysRet]));
  out.setSysDuration(bytes_of(columns_[kSysDuration]));
  out.setMemAddress(bytes_of(columns_[kMemAddress]));
  out.setMemSize(bytes_of(columns_[kMemSize]));
  out.setMemOldAddress(bytes_of(columns_[kMemOldAddress]));
  out.setMemStack(bytes_of(columns_[kMemStack]));
  out.setMemOp(bytes_of(columns_[kMemOp]));
  out.setProcParent(bytes_of(columns_[kProcParent]));
  out.setProcChild(bytes_of(columns_[kProcChild]));
  out.setProcExitCode(bytes_of(columns_[kProcExitCode]));
  out.setProcComm(bytes_of(columns_[kProcComm]));
  out.setProcFilename(bytes_of(columns_[kProcFilename]));
  out.setNetSocket(bytes_of(columns_[kNetSocket]));
  out.setNetDuration(bytes_of(columns_[kNetDuration]));
  out.setNetBytes(bytes_of(columns_[kNetBytes]));
  out.setNetEndpoints(bytes_of(columns_[kNetEndpoints]));
  out.setNetPayload(bytes_of(columns_[kNetPayload]));
  out.setNetLocalPort(bytes_of(columns_[kNetLocalPort]));
  out.setNetRemotePort(bytes_of(columns_[kNetRemotePort]));
  out.setNetSmall(bytes_of(columns_[kNetSmall]));
  out.setLossTimestamps(bytes_of(columns_[kLossTimestamps]));
  out.setLossCpus(bytes_of(columns_[kLossCpus]));
  out.setLossCounts(bytes_of(columns_[kLossCounts]));
  unsigned extra = 0;
  for (size_t k = 0; k < kPayloadKindCount; ++k) {
    if (extra_events_[k]) extra += static_cast<unsigned>(extra_columns_[k].size());
  }
  if (extra == 0) return;  // tapes of the fixed kinds stay byte-identical
  auto list = out.initExtraColumns(extra);
  unsigned n = 0;
  for (size_t k = 0; k < kPayloadKindCount; ++k) {
    if (!extra_events_[k]) continue;
    for (size_t i = 0; i < extra_columns_[k].size(); ++i) {
      auto column = list[n++];
      column.setKind(static_cast<uint8_t>(k));
      column.setField(static_cast<uint8_t>(i));
      column.setData(bytes_of(extra_columns_[k][i]));
    }
  }
}

void EventFrameEncoder::clear() {
  for (auto& col : columns_) col.size = 0;  // keeps capacity: no reallocation per frame
  for (auto& columns : extra_columns_) {
    for (auto& col : columns) col.size = 0;
  }
  extra_events_ = {};
  batch_events_.clear();
  batch_losses_.clear();
  open_batch_events_ = open_batch_losses_ = 0;
  event_count_ = loss_count_ = 0;
  encoded_bytes_ = 0;
  have_base_ = false;
  base_ts_ = prev_ts_ = prev_loss_ts_ = 0;
  prev_pid_ = 0;
  prev_mem_address_ = 0;
  last_verbatim_ = 0;
  first_ts_ = last_ts_ = 0;
}

std::vector<EbpfEvent> EventVectorPool::take() {
  std::lock_guard lock(mutex_);
  if (free_.empty()) return {};
  auto events = std::move(free_.back());
  free_.pop_back();
  return events;
}

void EventVectorPool::give(std::vector<EbpfEvent>&& events) {
  if (events.capacity() == 0) return;
  events.clear();
  std::lock_guard lock(mutex_);
  if (free_.size() < kMaxPooled) free_.push_back(std::move(events));
}

namespace {

// Events are rebuilt a block at a time: each column's values for the block are decoded in one
// tight loop (Cursor::varints) into these arrays, then every event of the block is assembled
// from them. Blocks never span batches. 256 events keep the arrays the block touches in L1/L2.
constexpr size_t kBlock = 256;

// Payload kind of each type byte; kUnknownKind for bytes that are no known type. In a frame
// with extraColumns, the types of the kinds stored there read as kGenericKind instead.
constexpr uint8_t kUnknownKind = kPayloadKindCount;
constexpr uint8_t kGenericKind = kPayloadKindCount + 1;
const std::array<uint8_t, 256> kKindOf = [] {
  std::array<uint8_t, 256> t{};
  for (unsigned i = 0; i < 256; ++i) {
    t[i] = is_known_event_type(static_cast<uint8_t>(i))
               ? static_cast<uint8_t>(payload_kind(static_cast<EbpfEventType>(i)))
               : kUnknownKind;
  }
  return t;
}();

struct BlockColumns {
  uint64_t ts[kBlock], cpu[kBlock], pid[kBlock], tid[kBlock];
  uint64_t cpu_user[kBlock], cpu_kernel[kBlock];
  uint64_t sys_nr[kBlock], sys_ret[kBlock], sys_dur[kBlock];
  uint64_t mem_addr[kBlock], mem_size[kBlock], mem_old[kBlock], mem_stack[kBlock];
  uint8_t mem_op[kBlock];
  uint64_t proc_parent[kBlock], proc_child[kBlock], proc_exit[kBlock], proc_comm[kBlock],
      proc_file[kBlock];
  uint64_t net_socket[kBlock], net_dur[kBlock], net_bytes[kBlock], net_endpoints[kBlock],
      net_payload[kBlock], net_lport[kBlock], net_rport[kBlock];
  uint8_t net_small[3 * kBlock];
};

// Raises refs to the interned ids of an event of kind K (the fields the table marks).
template <PayloadKind K>
inline void note_intern_refs(const EbpfEvent& e, InternRefs* refs) {
  for_each_field<K>([&](const PayloadField& f) {
    if (f.interned() == InternKind::String) {
      refs->max_string = std::max(refs->max_string, static_cast<uint32_t>(field_bits(e, f)));
    } else if (f.interned() == InternKind::Stack) {
      refs->max_stack = std::max(refs->max_stack, static_cast<uint32_t>(field_bits(e, f)));
    }
  });
}

}  // namespace

Result<DecodedEvents> decode_events(schema::Events::Reader in, EventVectorPool* pool) {
  auto fail = [](std::string what) { return make_error(ErrorKind::FormatError, std::move(what)); };
  DecodedEvents out;
  const uint32_t n = in.getEventCount();
  const uint32_t nl = in.getLossCount();
  auto verbatim = in.getVerbatimEvents();
  if (verbatim.size() % sizeof(EbpfEvent) != 0 || verbatim.size() / sizeof(EbpfEvent) > n) {
    return fail(fmt::format("verbatim column of {} bytes does not hold whole events (<= {})",
                            verbatim.size(), n));
  }
  const size_t verbatim_count = verbatim.size() / sizeof(EbpfEvent);
  auto types = in.getTypes();
  auto flags = in.getFlags();
  // Every allocation below is bounded by a column that is really present in the message.
  // Verbatim events have no entry in the other columns.
  if (types.size() + verbatim_count != n || flags.size() + verbatim_count != n) {
    return fail(fmt::format("events message claims {} events but has {} type bytes, {} flag "
                            "bytes and {} verbatim events",
                            n, types.size(), flags.size(), verbatim_count));
  }
  Cursor loss_cpus(in.getLossCpus());
  if (nl > loss_cpus.remaining()) {
    return fail(fmt::format("events message claims {} losses but its cpu column has {} bytes",
                            nl, loss_cpus.remaining()));
  }
  auto batch_events = in.getBatchEventCounts();
  auto batch_losses = in.getBatchLossCounts();
  if (batch_events.size() != batch_losses.size()) {
    return fail("batch event and loss count lists differ in length");
  }
  uint64_t sum_events = 0, sum_losses = 0;
  for (unsigned b = 0; b < batch_events.size(); ++b) {
    // The writer never stores an empty batch; refusing them keeps the number of batches (and
    // the memory they take) bounded by the number of events and losses really present.
    if (batch_events[b] == 0 && batch_losses[b] == 0) {
      return fail(fmt::format("batch {} is empty", b));
    }
    sum_events += batch_events[b];
    sum_losses += batch_losses[b];
  }
  if (sum_events != n || sum_losses != nl) {
    return fail(fmt::format("batches hold {} events and {} losses, the message claims {} and {}",
                            sum_events, sum_losses, n, nl));
  }

  Cursor ts_col(in.getTimestamps()), cpu_col(in.getCpus()), pid_col(in.getPids()),
      tid_col(in.getTids()), vidx_col(in.getVerbatimIndex()), cpu_user(in.getCpuUserStack()),
      cpu_kernel(in.getCpuKernelStack()), sys_nr(in.getSysNr()), sys_ret(in.getSysRet()),
      sys_dur(in.getSysDuration()), mem_addr(in.getMemAddress()), mem_size(in.getMemSize()),
      mem_old(in.getMemOldAddress()), mem_stack(in.getMemStack()), mem_op(in.getMemOp()),
      proc_parent(in.getProcParent()), proc_child(in.getProcChild()),
      proc_exit(in.getProcExitCode()), proc_comm(in.getProcComm()),
      proc_file(in.getProcFilename()), net_socket(in.getNetSocket()),
      net_dur(in.getNetDuration()), net_bytes(in.getNetBytes()),
      net_endpoints(in.getNetEndpoints()), net_payload(in.getNetPayload()),
      net_lport(in.getNetLocalPort()), net_rport(in.getNetRemotePort()),
      net_small(in.getNetSmall()), loss_ts(in.getLossTimestamps()),
      loss_count(in.getLossCounts());

  // Generic payload columns: for each kind stored there, one cursor per field of its table (a
  // field without a column reads as an empty one, so its first value is reported missing).
  uint32_t generic_kinds = kKindsWithoutFixedColumns;
  std::array<std::vector<Cursor>, kPayloadKindCount> extra;
  std::array<uint64_t, kPayloadKindCount> extra_seen{};  // bit i: field i has its column
  for (auto column : in.getExtraColumns()) {
    const unsigned kind = column.getKind(), field = column.getField();
    if (kind >= kPayloadKindCount || field >= kPayloadLayouts[kind].fields.size()) {
      return fail(fmt::format("extra column for payload kind {} field {} names no payload field",
                              kind, field));
    }
    if ((extra_seen[kind] >> field) & 1) {
      return fail(fmt::format("extra column for {} field {} is repeated",
                              kPayloadLayouts[kind].name, kPayloadLayouts[kind].fields[field].name));
    }
    extra_seen[kind] |= uint64_t{1} << field;
    generic_kinds |= 1u << kind;
    if (extra[kind].empty()) {
      extra[kind].assign(kPayloadLayouts[kind].fields.size(), Cursor(capnp::Data::Reader()));
    }
    extra[kind][field] = Cursor(column.getData());
  }
  std::array<uint8_t, 256> frame_kind_of;  // kKindOf with this frame's generic kinds marked
  const uint8_t* kind_of = kKindOf.data();
  if (generic_kinds != 0) {
    for (size_t k = 0; k < kPayloadKindCount; ++k) {
      if (((generic_kinds >> k) & 1) && extra[k].empty()) {
        extra[k].assign(kPayloadLayouts[k].fields.size(), Cursor(capnp::Data::Reader()));
      }
    }
    for (size_t t = 0; t < frame_kind_of.size(); ++t) {
      const uint8_t kind = kKindOf[t];
      frame_kind_of[t] = kind < kPayloadKindCount && ((generic_kinds >> kind) & 1) ? kGenericKind
                                                                                    : kind;
    }
    kind_of = frame_kind_of.data();
  }

  // Positions of the verbatim events, each a delta from the previous one + 1. They must lie
  // inside the frame (so that every block knows how many of its events use the columns).
  std::vector<uint64_t> verbatim_at(verbatim_count);
  const uint8_t* const type_bytes = types.begin();
  const uint8_t* const flag_bytes = flags.begin();
  for (size_t v = 0, next = 0; v < verbatim_count; ++v) {
    const uint64_t delta = vidx_col.varint();
    if (delta >= n || next + delta >= n) {
      return fail(fmt::format("verbatim index places {} of {} stored events", v,
                              verbatim_count));
    }
    verbatim_at[v] = next + delta;
    next = verbatim_at[v] + 1;
  }

  const uint64_t base = in.getBaseTimestampNs();
  uint64_t prev_ts = base, prev_loss_ts = base, prev_mem = 0;
  int64_t prev_pid = 0;
  uint64_t first_ts = std::numeric_limits<uint64_t>::max(), last_ts = 0;
  InternRefs refs;
  size_t verbatim_seen = 0;
  uint64_t next_verbatim = verbatim_count ? verbatim_at[0] : UINT64_MAX;
  // The first event that fails validate_event, reported only once every column has been
  // checked, so that a malformed column is reported as such, not as the odd-looking event it
  // produced.
  std::optional<std::pair<uint64_t, RejectReason>> invalid;
  auto cols = std::make_unique_for_overwrite<BlockColumns>();
  BlockColumns& bc = *cols;

  out.batches.resize(batch_events.size());
  uint64_t g = 0;  // event index within the frame
  uint64_t c = 0;  // index into the per-event header columns (verbatim events excluded)
  for (unsigned b = 0; b < batch_events.size(); ++b) {
    auto& events = out.batches[b].events;
    if (pool) events = pool->take();
    // Decoded in place: resize() zero-fills (padding and unused payload bytes stay zero),
    // and the fields are then written into the vector's element.
    events.resize(batch_events[b]);
    for (size_t block_start = 0; block_start < events.size(); block_start += kBlock) {
      const size_t block_size = std::min(kBlock, events.size() - block_start);
      // How many of the block's events are in the columns, and of which payload kind.
      size_t in_columns = block_size;
      for (size_t v = verbatim_seen; v < verbatim_count && verbatim_at[v] < g + block_size; ++v) {
        --in_columns;
      }
      uint32_t kinds[kGenericKind + 1] = {};
      for (size_t k = 0; k < in_columns; ++k) ++kinds[kind_of[type_bytes[c + k]]];
      ts_col.varints(bc.ts, in_columns);
      cpu_col.varints(bc.cpu, in_columns);
      pid_col.varints(bc.pid, in_columns);
      tid_col.varints(bc.tid, in_columns);
      if (const size_t m = kinds[static_cast<uint8_t>(PayloadKind::CpuSample)]) {
        cpu_user.varints(bc.cpu_user, m);
        cpu_kernel.varints(bc.cpu_kernel, m);
      }
      if (const size_t m = kinds[static_cast<uint8_t>(PayloadKind::Syscall)]) {
        sys_nr.varints(bc.sys_nr, m);
        sys_ret.varints(bc.sys_ret, m);
        sys_dur.varints(bc.sys_dur, m);
      }
      if (const size_t m = kinds[static_cast<uint8_t>(PayloadKind::Memory)]) {
        mem_addr.varints(bc.mem_addr, m);
        mem_size.varints(bc.mem_size, m);
        mem_old.varints(bc.mem_old, m);
        mem_stack.varints(bc.mem_stack, m);
        mem_op.bytes(bc.mem_op, m);
      }
      if (const size_t m = kinds[static_cast<uint8_t>(PayloadKind::Process)]) {
        proc_parent.varints(bc.proc_parent, m);
        proc_child.varints(bc.proc_child, m);
        proc_exit.varints(bc.proc_exit, m);
        proc_comm.varints(bc.proc_comm, m);
        proc_file.varints(bc.proc_file, m);
      }
      if (const size_t m = kinds[static_cast<uint8_t>(PayloadKind::Network)]) {
        net_socket.varints(bc.net_socket, m);
        net_dur.varints(bc.net_dur, m);
        net_bytes.varints(bc.net_bytes, m);
        net_endpoints.varints(bc.net_endpoints, m);
        net_payload.varints(bc.net_payload, m);
        net_lport.varints(bc.net_lport, m);
        net_rport.varints(bc.net_rport, m);
        net_small.bytes(bc.net_small, 3 * m);
      }

      // Assemble. The checks of validate_event are folded into `bad` (no branch per check);
      // a block with an invalid event is searched for it afterwards.
      size_t h = 0, i_cpu = 0, i_sys = 0, i_mem = 0, i_proc = 0, i_net = 0;
      bool bad = false;
      uint64_t block_min = std::numeric_limits<uint64_t>::max(), block_max = 0;
      EbpfEvent* const block = events.data() + block_start;
      for (size_t k = 0; k < block_size; ++k, ++g) {
        EbpfEvent& ev = block[k];
        if (g == next_verbatim) [[unlikely]] {
          std::memcpy(&ev, verbatim.begin() + verbatim_seen * sizeof(EbpfEvent),
                      sizeof(EbpfEvent));
          ++verbatim_seen;
          next_verbatim = verbatim_seen < verbatim_count ? verbatim_at[verbatim_seen] : UINT64_MAX;
          add_intern_refs(ev, &refs);
          bad |= validate_event(ev).has_value();
        } else {
          const uint8_t type = type_bytes[c];
          const uint8_t kind = kind_of[type];
          if (kind == kUnknownKind) [[unlikely]] {
            return fail(fmt::format("event {} has unknown type {}", g, type));
          }
          prev_ts += static_cast<uint64_t>(unzigzag(bc.ts[h]));
          ev.timestamp_ns = prev_ts;
          const uint64_t cpu = bc.cpu[h];
          const int64_t pid = prev_pid + unzigzag(bc.pid[h]);
          const int64_t tid = pid + unzigzag(bc.tid[h]);
          // cpu > 0xffff, or pid / tid outside [0, 2^32): one test for the three.
          if (((cpu >> 16) | (static_cast<uint64_t>(pid) >> 32) |
               (static_cast<uint64_t>(tid) >> 32)) != 0) [[unlikely]] {
            return fail(fmt::format("event {}: cpu {}, pid {} or tid {} out of range", g, cpu,
                                    pid, tid));
          }
          prev_pid = pid;
          ev.pid = static_cast<uint32_t>(pid);
          ev.tid = static_cast<uint32_t>(tid);
          ev.cpu = static_cast<uint16_t>(cpu);
          ev.event_type = static_cast<EbpfEventType>(type);
          ev.flags = flag_bytes[c];
          bad |= (pid == 0) != (tid == 0);
          ++c;
          ++h;
          switch (static_cast<PayloadKind>(kind)) {
            case PayloadKind::CpuSample: {
              const uint64_t user = bc.cpu_user[i_cpu], kernel = bc.cpu_kernel[i_cpu];
              ++i_cpu;
              if ((user | kernel) > 0xffffffffULL) [[unlikely]] {
                return fail(fmt::format("event {}: stack id too large", g));
              }
              ev.payload.cpu_sample.user_stack = static_cast<uint32_t>(user);
              ev.payload.cpu_sample.kernel_stack = static_cast<uint32_t>(kernel);
              note_intern_refs<PayloadKind::CpuSample>(ev, &refs);
              break;
            }
            case PayloadKind::Syscall: {
              const uint64_t nr = bc.sys_nr[i_sys];
              if (nr > 0xffffffffULL) [[unlikely]] {
                return fail(fmt::format("event {}: syscall number {} too large", g, nr));
              }
              ev.payload.syscall.nr = static_cast<uint32_t>(nr);
              ev.payload.syscall.ret = unzigzag(bc.sys_ret[i_sys]);
              ev.payload.syscall.duration_ns = bc.sys_dur[i_sys];
              bad |= !payload_rules_hold_for<PayloadKind::Syscall>(ev);
              ++i_sys;
              break;
            }
            case PayloadKind::Memory: {
              auto& m = ev.payload.memory;
              prev_mem += static_cast<uint64_t>(unzigzag(bc.mem_addr[i_mem]));
              m.address = prev_mem;
              m.size = bc.mem_size[i_mem];
              m.old_address = bc.mem_old[i_mem];
              const uint64_t stack = bc.mem_stack[i_mem];
              if (stack > 0xffffffffULL) [[unlikely]] {
                return fail(fmt::format("event {}: stack id too large", g));
              }
              m.stack = static_cast<uint32_t>(stack);
              m.op = static_cast<MemoryOp>(bc.mem_op[i_mem]);
              note_intern_refs<PayloadKind::Memory>(ev, &refs);
              bad |= !payload_rules_hold_for<PayloadKind::Memory>(ev);
              ++i_mem;
              break;
            }
            case PayloadKind::Process: {
              auto& p = ev.payload.process;
              const uint64_t parent = bc.proc_parent[i_proc], child = bc.proc_child[i_proc];
              const int64_t code = unzigzag(bc.proc_exit[i_proc]);
              const uint64_t comm = bc.proc_comm[i_proc], file = bc.proc_file[i_proc];
              ++i_proc;
              if ((parent | child | comm | file) > 0xffffffffULL || code < INT32_MIN ||
                  code > INT32_MAX) [[unlikely]] {
                return fail(fmt::format("event {}: process field out of range", g));
              }
              p.parent_pid = static_cast<uint32_t>(parent);
              p.child_pid = static_cast<uint32_t>(child);
              p.exit_code = static_cast<int32_t>(code);
              p.comm = static_cast<uint32_t>(comm);
              p.filename = static_cast<uint32_t>(file);
              note_intern_refs<PayloadKind::Process>(ev, &refs);
              break;
            }
            case PayloadKind::Network: {
              auto& o = ev.payload.network;
              o.socket_id = bc.net_socket[i_net];
              o.duration_ns = bc.net_dur[i_net];
              const uint64_t bytes = bc.net_bytes[i_net], endpoints = bc.net_endpoints[i_net],
                             payload = bc.net_payload[i_net], lport = bc.net_lport[i_net],
                             rport = bc.net_rport[i_net];
              if ((bytes | endpoints | payload) > 0xffffffffULL || (lport | rport) > 0xffff)
                  [[unlikely]] {
                return fail(fmt::format("event {}: network field out of range", g));
              }
              o.bytes = static_cast<uint32_t>(bytes);
              o.endpoints = static_cast<uint32_t>(endpoints);
              o.payload = static_cast<uint32_t>(payload);
              o.local_port = static_cast<uint16_t>(lport);
              o.remote_port = static_cast<uint16_t>(rport);
              const uint8_t protocol = bc.net_small[3 * i_net];
              const uint8_t direction = bc.net_small[3 * i_net + 1];
              o.protocol = static_cast<NetProtocol>(protocol);
              o.direction = static_cast<NetDirection>(direction);
              o.tcp_state = bc.net_small[3 * i_net + 2];
              note_intern_refs<PayloadKind::Network>(ev, &refs);
              bad |= !payload_rules_hold_for<PayloadKind::Network>(ev);
              ++i_net;
              break;
            }
            default: {  // kGenericKind: the payload comes from extraColumns, by the table
              const auto true_kind = kKindOf[type];
              const auto& fields = kPayloadLayouts[true_kind].fields;
              for (size_t i = 0; i < fields.size(); ++i) {
                const PayloadField& f = fields[i];
                const uint64_t v = extra[true_kind][i].varint();
                const uint64_t bits = f.is_signed ? static_cast<uint64_t>(unzigzag(v)) : v;
                if (!field_fits(f, bits)) [[unlikely]] {
                  return fail(fmt::format("event {}: {} field {} value {} out of range", g,
                                          kPayloadLayouts[true_kind].name, f.name, v));
                }
                set_field_bits(ev, f, bits);
              }
              add_intern_refs(ev, &refs);
              bad |= !payload_rules_hold(ev);
              break;
            }
          }
        }
        block_min = std::min(block_min, ev.timestamp_ns);
        block_max = std::max(block_max, ev.timestamp_ns);
      }
      first_ts = std::min(first_ts, block_min);
      last_ts = std::max(last_ts, block_max);
      bad |= block_min == 0;  // validate_event: a zero timestamp
      if (bad && !invalid) [[unlikely]] {
        for (size_t k = 0; k < block_size; ++k) {
          if (auto reason = validate_event(block[k])) {
            invalid.emplace(g - block_size + k, *reason);
            break;
          }
        }
      }
    }
    auto& losses = out.batches[b].losses;
    losses.resize(batch_losses[b]);
    for (LossRecord& loss : losses) {
      prev_loss_ts += static_cast<uint64_t>(unzigzag(loss_ts.varint()));
      const uint64_t cpu = loss_cpus.varint();
      if (cpu > 0xffff) return fail(fmt::format("loss record on cpu {} out of range", cpu));
      loss = LossRecord{prev_loss_ts, static_cast<uint16_t>(cpu), loss_count.varint()};
      first_ts = std::min(first_ts, loss.timestamp_ns);
      last_ts = std::max(last_ts, loss.timestamp_ns);
    }
  }

  if (verbatim_seen != verbatim_count) {
    return fail(fmt::format("verbatim index places {} of {} stored events", verbatim_seen,
                            verbatim_count));
  }
  const std::pair<const char*, const Cursor*> columns[] = {
      {"timestamps", &ts_col},      {"cpus", &cpu_col},          {"pids", &pid_col},
      {"tids", &tid_col},           {"verbatimIndex", &vidx_col}, {"cpuUserStack", &cpu_user},
      {"cpuKernelStack", &cpu_kernel}, {"sysNr", &sys_nr},       {"sysRet", &sys_ret},
      {"sysDuration", &sys_dur},    {"memAddress", &mem_addr},   {"memSize", &mem_size},
      {"memOldAddress", &mem_old},  {"memStack", &mem_stack},    {"memOp", &mem_op},
      {"procParent", &proc_parent}, {"procChild", &proc_child},  {"procExitCode", &proc_exit},
      {"procComm", &proc_comm},     {"procFilename", &proc_file}, {"netSocket", &net_socket},
      {"netDuration", &net_dur},    {"netBytes", &net_bytes},    {"netEndpoints", &net_endpoints},
      {"netPayload", &net_payload}, {"netLocalPort", &net_lport}, {"netRemotePort", &net_rport},
      {"netSmall", &net_small},     {"lossTimestamps", &loss_ts}, {"lossCpus", &loss_cpus},
      {"lossCounts", &loss_count}};
  auto malformed = [](const Cursor& cursor) {
    return cursor.ok() ? fmt::format("{} bytes left over", cursor.remaining())
                       : std::string("ends inside a value");
  };
  for (const auto& [name, cursor] : columns) {
    if (!cursor->ok() || cursor->remaining() != 0) {
      return fail(fmt::format("column {} is malformed ({})", name, malformed(*cursor)));
    }
  }
  for (size_t k = 0; k < kPayloadKindCount; ++k) {
    for (size_t i = 0; i < extra[k].size(); ++i) {
      if (!extra[k][i].ok() || extra[k][i].remaining() != 0) {
        return fail(fmt::format("extra column for {} field {} is malformed ({})",
                                kPayloadLayouts[k].name, kPayloadLayouts[k].fields[i].name,
                                malformed(extra[k][i])));
      }
    }
  }
  if (invalid) {
    return fail(fmt::format("event {} is invalid: {}", invalid->first,
                            reject_reason_name(invalid->second)));
  }
  out.refs = refs;
  out.event_count = n;
  out.first_timestamp_ns = (n == 0 && nl == 0) ? 0 : first_ts;
  out.last_timestamp_ns = last_ts;
  return out;
}

}  // namespace otlp::ebpf::tape
