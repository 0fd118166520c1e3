#include "core/tape/event_codec.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "core/tape/format.h"

namespace otlp::ebpf::tape {
namespace {

// Reads one column. Overruns and over-long varints set a sticky error flag instead of
// branching out of the hot loop; decode_events checks every cursor once at the end.
class Cursor {
 public:
  explicit Cursor(capnp::Data::Reader data) : p_(data.begin()), end_(data.end()) {}

  // The one-byte case inline (most values of most columns); longer ones out of line.
  uint64_t varint() {
    if (p_ != end_ && *p_ < 0x80) [[likely]] return *p_++;
    return varint_multi();
  }
  uint8_t byte() {
    if (p_ == end_) {
      bad_ = true;
      return 0;
    }
    return *p_++;
  }
  bool ok() const { return !bad_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

 private:
  [[gnu::noinline]] uint64_t varint_multi() {
    if (end_ - p_ >= static_cast<ptrdiff_t>(kMaxVarintBytes)) {
      // Enough bytes left for any varint: decode without per-byte bounds checks.
      uint64_t value = 0;
      for (unsigned i = 0; i < kMaxVarintBytes; ++i) {
        uint8_t b = p_[i];
        value |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
        if (b < 0x80) {
          p_ += i + 1;
          return value;
        }
      }
    }
    return varint_slow();
  }
  uint64_t varint_slow() {
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) break;
      uint8_t b = *p_++;
      value |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) return value;
    }
    bad_ = true;
    p_ = end_;
    return 0;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool bad_ = false;
};

template <typename Column>
kj::ArrayPtr<const kj::byte> bytes_of(const Column& c) {
  return kj::ArrayPtr<const kj::byte>(c.data.get(), c.size);
}

}  // namespace

EbpfEvent canonical_event(const EbpfEvent& e) {
  EbpfEvent c = EbpfEvent::make(e.event_type, e.timestamp_ns, e.pid, e.tid, e.cpu);
  c.flags = e.flags;
  if (!is_known_event_type(static_cast<uint8_t>(e.event_type))) return c;
  switch (payload_kind(e.event_type)) {
    case PayloadKind::CpuSample:
      c.payload.cpu_sample.user_stack = e.payload.cpu_sample.user_stack;
      c.payload.cpu_sample.kernel_stack = e.payload.cpu_sample.kernel_stack;
      break;
    case PayloadKind::Syscall:
      c.payload.syscall.nr = e.payload.syscall.nr;
      c.payload.syscall.ret = e.payload.syscall.ret;
      c.payload.syscall.duration_ns = e.payload.syscall.duration_ns;
      break;
    case PayloadKind::Memory:
      c.payload.memory.address = e.payload.memory.address;
      c.payload.memory.size = e.payload.memory.size;
      c.payload.memory.old_address = e.payload.memory.old_address;
      c.payload.memory.stack = e.payload.memory.stack;
      c.payload.memory.op = e.payload.memory.op;
      break;
    case PayloadKind::Process:
      c.payload.process.parent_pid = e.payload.process.parent_pid;
      c.payload.process.child_pid = e.payload.process.child_pid;
      c.payload.process.exit_code = e.payload.process.exit_code;
      c.payload.process.comm = e.payload.process.comm;
      c.payload.process.filename = e.payload.process.filename;
      break;
    case PayloadKind::Network: {
      const auto& n = e.payload.network;
      auto& o = c.payload.network;
      o.socket_id = n.socket_id;
      o.duration_ns = n.duration_ns;
      o.bytes = n.bytes;
      o.endpoints = n.endpoints;
      o.payload = n.payload;
      o.local_port = n.local_port;
      o.remote_port = n.remote_port;
      o.protocol = n.protocol;
      o.direction = n.direction;
      o.tcp_state = n.tcp_state;
      break;
    }
  }
  return c;
}

void add_intern_refs(const EbpfEvent& e, InternRefs* refs) {
  if (!is_known_event_type(static_cast<uint8_t>(e.event_type))) return;
  auto str = [&](uint32_t id) { refs->max_string = std::max(refs->max_string, id); };
  auto stk = [&](uint32_t id) { refs->max_stack = std::max(refs->max_stack, id); };
  switch (payload_kind(e.event_type)) {
    case PayloadKind::CpuSample:
      stk(e.payload.cpu_sample.user_stack);
      stk(e.payload.cpu_sample.kernel_stack);
      break;
    case PayloadKind::Memory: stk(e.payload.memory.stack); break;
    case PayloadKind::Process:
      str(e.payload.process.comm);
      str(e.payload.process.filename);
      break;
    case PayloadKind::Network:
      str(e.payload.network.endpoints);
      str(e.payload.network.payload);
      break;
    case PayloadKind::Syscall: break;
  }
}

EventFrameEncoder::EventFrameEncoder() = default;

void EventFrameEncoder::ByteColumn::grow(size_t need) {
  size_t cap = std::max<size_t>({need, capacity * 2, 4096});
  auto bigger = std::make_unique_for_overwrite<uint8_t[]>(cap);
  if (size) std::memcpy(bigger.get(), data.get(), size);
  data = std::move(bigger);
  capacity = cap;
}

void EventFrameEncoder::varint(Column c, uint64_t v) {
  auto& col = columns_[c];
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
  switch (payload_kind(e.event_type)) {
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
}

void EventFrameEncoder::clear() {
  for (auto& col : columns_) col.size = 0;  // keeps capacity: no reallocation per frame
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

  const uint64_t base = in.getBaseTimestampNs();
  uint64_t prev_ts = base, prev_loss_ts = base, prev_mem = 0;
  int64_t prev_pid = 0;
  uint64_t first_ts = std::numeric_limits<uint64_t>::max(), last_ts = 0;
  InternRefs refs;
  size_t verbatim_seen = 0;
  uint64_t verbatim_base = 0;
  uint64_t next_verbatim = std::numeric_limits<uint64_t>::max();
  auto advance_verbatim = [&] {
    if (verbatim_seen < verbatim_count) {
      next_verbatim = verbatim_base + vidx_col.varint();
      verbatim_base = next_verbatim + 1;
    } else {
      next_verbatim = std::numeric_limits<uint64_t>::max();
    }
  };
  advance_verbatim();

  out.batches.resize(batch_events.size());
  uint64_t g = 0;  // event index within the frame
  uint64_t c = 0;  // index into the per-event header columns (verbatim events excluded)
  for (unsigned b = 0; b < batch_events.size(); ++b) {
    auto& events = out.batches[b].events;
    if (pool) events = pool->take();
    // Decoded in place: resize() zero-fills (padding and unused payload bytes stay zero),
    // and the fields are then written into the vector's element.
    events.resize(batch_events[b]);
    for (uint32_t k = 0; k < batch_events[b]; ++k) {
      EbpfEvent& ev = events[k];
      if (g == next_verbatim) {
        std::memcpy(&ev, verbatim.begin() + verbatim_seen * sizeof(EbpfEvent), sizeof(EbpfEvent));
        ++verbatim_seen;
        advance_verbatim();
        add_intern_refs(ev, &refs);
      } else {
        if (c >= types.size()) {
          return fail(fmt::format("event {} has no entry in the type column", g));
        }
        const uint8_t type = types[c];
        if (!is_known_event_type(type)) {
          return fail(fmt::format("event {} has unknown type {}", g, type));
        }
        ev.event_type = static_cast<EbpfEventType>(type);
        prev_ts += static_cast<uint64_t>(unzigzag(ts_col.varint()));
        ev.timestamp_ns = prev_ts;
        const uint64_t cpu = cpu_col.varint();
        const int64_t pid = prev_pid + unzigzag(pid_col.varint());
        const int64_t tid = pid + unzigzag(tid_col.varint());
        if (cpu > 0xffff || pid < 0 || pid > 0xffffffffLL || tid < 0 || tid > 0xffffffffLL) {
          return fail(fmt::format("event {}: cpu {}, pid {} or tid {} out of range", g, cpu, pid,
                                  tid));
        }
        prev_pid = pid;
        ev.cpu = static_cast<uint16_t>(cpu);
        ev.pid = static_cast<uint32_t>(pid);
        ev.tid = static_cast<uint32_t>(tid);
        ev.flags = flags[c];
        ++c;
        switch (payload_kind(ev.event_type)) {
          case PayloadKind::CpuSample: {
            uint64_t user = cpu_user.varint(), kernel = cpu_kernel.varint();
            if ((user | kernel) > 0xffffffffULL) return fail(fmt::format("event {}: stack id too large", g));
            ev.payload.cpu_sample.user_stack = static_cast<uint32_t>(user);
            ev.payload.cpu_sample.kernel_stack = static_cast<uint32_t>(kernel);
            refs.max_stack = std::max<uint32_t>(refs.max_stack, static_cast<uint32_t>(std::max(user, kernel)));
            break;
          }
          case PayloadKind::Syscall: {
            uint64_t nr = sys_nr.varint();
            if (nr > 0xffffffffULL) return fail(fmt::format("event {}: syscall number {} too large", g, nr));
            ev.payload.syscall.nr = static_cast<uint32_t>(nr);
            ev.payload.syscall.ret = unzigzag(sys_ret.varint());
            ev.payload.syscall.duration_ns = sys_dur.varint();
            break;
          }
          case PayloadKind::Memory: {
            auto& m = ev.payload.memory;
            prev_mem += static_cast<uint64_t>(unzigzag(mem_addr.varint()));
            m.address = prev_mem;
            m.size = mem_size.varint();
            m.old_address = mem_old.varint();
            uint64_t stack = mem_stack.varint();
            if (stack > 0xffffffffULL) return fail(fmt::format("event {}: stack id too large", g));
            m.stack = static_cast<uint32_t>(stack);
            refs.max_stack = std::max(refs.max_stack, m.stack);
            m.op = static_cast<MemoryOp>(mem_op.byte());
            break;
          }
          case PayloadKind::Process: {
            auto& p = ev.payload.process;
            uint64_t parent = proc_parent.varint(), child = proc_child.varint();
            int64_t code = unzigzag(proc_exit.varint());
            uint64_t comm = proc_comm.varint(), file = proc_file.varint();
            if ((parent | child | comm | file) > 0xffffffffULL || code < INT32_MIN ||
                code > INT32_MAX) {
              return fail(fmt::format("event {}: process field out of range", g));
            }
            p.parent_pid = static_cast<uint32_t>(parent);
            p.child_pid = static_cast<uint32_t>(child);
            p.exit_code = static_cast<int32_t>(code);
            p.comm = static_cast<uint32_t>(comm);
            p.filename = static_cast<uint32_t>(file);
            refs.max_string = std::max({refs.max_string, p.comm, p.filename});
            break;
          }
          case PayloadKind::Network: {
            auto& o = ev.payload.network;
            o.socket_id = net_socket.varint();
            o.duration_ns = net_dur.varint();
            uint64_t bytes = net_bytes.varint(), endpoints = net_endpoints.varint(),
                     payload = net_payload.varint(), lport = net_lport.varint(),
                     rport = net_rport.varint();
            if ((bytes | endpoints | payload) > 0xffffffffULL || (lport | rport) > 0xffff) {
              return fail(fmt::format("event {}: network field out of range", g));
            }
            o.bytes = static_cast<uint32_t>(bytes);
            o.endpoints = static_cast<uint32_t>(endpoints);
            o.payload = static_cast<uint32_t>(payload);
            o.local_port = static_cast<uint16_t>(lport);
            o.remote_port = static_cast<uint16_t>(rport);
            o.protocol = static_cast<NetProtocol>(net_small.byte());
            o.direction = static_cast<NetDirection>(net_small.byte());
            o.tcp_state = net_small.byte();
            refs.max_string = std::max({refs.max_string, o.endpoints, o.payload});
            break;
          }
        }
      }
      first_ts = std::min(first_ts, ev.timestamp_ns);
      last_ts = std::max(last_ts, ev.timestamp_ns);
      ++g;
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
  for (const auto& [name, cursor] : columns) {
    if (!cursor->ok() || cursor->remaining() != 0) {
      return fail(fmt::format("column {} is malformed ({})", name,
                              cursor->ok() ? fmt::format("{} bytes left over", cursor->remaining())
                                           : std::string("ends inside a value")));
    }
  }
  // Validation is a second pass so that a malformed column is reported as such, not as the
  // odd-looking event it produced.
  g = 0;
  for (const auto& batch : out.batches) {
    for (const auto& ev : batch.events) {
      if (auto reason = validate_event(ev)) {
        return fail(fmt::format("event {} is invalid: {}", g, reject_reason_name(*reason)));
      }
      ++g;
    }
  }
  out.refs = refs;
  out.event_count = n;
  out.first_timestamp_ns = (n == 0 && nl == 0) ? 0 : first_ts;
  out.last_timestamp_ns = last_ts;
  return out;
}

}  // namespace otlp::ebpf::tape
