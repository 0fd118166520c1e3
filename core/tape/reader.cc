#include "core/tape/reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <future>
#include <new>
#include <set>
#include <tuple>
#include <variant>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <kj/exception.h>
#include <zstd.h>

#include "core/saturating.h"
#include "core/serial_worker.h"
#include "core/tape/event_codec.h"
#include "core/tape/tape.capnp.h"
#include "core/unique_fd.h"

namespace otlp::ebpf::tape {
namespace {

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
constexpr bool kFuzzing = true;
#else
constexpr bool kFuzzing = false;
#endif

std::string str(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }
std::string str(capnp::Data::Reader d) {
  return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}

// Where the bytes come from: a file (pread, so a file that shrinks under us gives an error,
// not a SIGBUS as mmap would) or a caller-owned buffer.
class Source {
 public:
  Source(UniqueFd fd, std::string path, uint64_t size)
      : fd_(std::move(fd)), path_(std::move(path)), size_(size) {}
  explicit Source(std::span<const uint8_t> bytes) : bytes_(bytes), size_(bytes.size()) {}
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  uint64_t size() const { return size_; }
  Result<void> read_at(uint64_t offset, uint8_t* dst, size_t n) const {
    if (n == 0) return {};
    if (offset > size_ || n > size_ - offset) {
      return make_error(ErrorKind::Io, fmt::format("read of {} bytes at byte {} is past the end "
                                                   "of {} ({} bytes)", n, offset, path_, size_));
    }
    if (!fd_) {
      std::memcpy(dst, bytes_.data() + offset, n);
      return {};
    }
    while (n > 0) {
      ssize_t got = ::pread(fd_.get(), dst, n, static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        return errno_error(ErrorKind::Io, fmt::format("read {} at byte {}", path_, offset), errno);
      }
      if (got == 0) {
        return make_error(ErrorKind::Io, fmt::format("{} shrank while being read (at byte {})",
                                                     path_, offset));
      }
      dst += got;
      n -= static_cast<size_t>(got);
      offset += static_cast<uint64_t>(got);
    }
    return {};
  }

 private:
  UniqueFd fd_;
  std::string path_ = "<memory>";
  std::span<const uint8_t> bytes_;
  uint64_t size_ = 0;
};

// A frame's stored (compressed) bytes. Allocated without the zero-filling of a std::vector:
// read_at overwrites them at once (zeroing them cost ~6 instructions per event on replay).
class StoredBytes {
 public:
  void allocate(size_t size) {
    bytes_ = std::make_unique_for_overwrite<uint8_t[]>(size);
    size_ = size;
  }
  uint8_t* data() { return bytes_.get(); }
  const uint8_t* data() const { return bytes_.get(); }
  size_t size() const { return size_; }
  operator std::span<const uint8_t>() const { return {bytes_.get(), size_}; }

 private:
  std::unique_ptr<uint8_t[]> bytes_;
  size_t size_ = 0;
};

// A frame as read from the file: header checked for sanity, payload not yet verified.
struct RawFrame {
  uint64_t offset = 0;
  FrameHeader header;
  StoredBytes stored;
};

enum class ReadStatus { Frame, End, Truncated };
struct ReadOutcome {
  ReadStatus status = ReadStatus::End;
  RawFrame frame;
};

struct InternedEntries {
  uint32_t first_string = 0;
  std::vector<std::string> strings;
  uint32_t first_stack = 0;
  std::vector<std::vector<uint64_t>> stacks;
};

// What one frame may still take of the whole read's budget (ReadLimits), fixed when the frame is
// read, before it is decoded (possibly on a worker thread). The frame's raw bytes are already
// charged; apply() charges what decoding produced and re-checks, since frames decoded side by
// side each saw the same remainder.
struct FrameAllowance {
  uint64_t max_events = 0;     // ReadLimits::max_frame_events
  uint64_t decoded_left = 0;   // bytes of the decoded budget left
  uint64_t retained_left = 0;  // bytes of the retained budget left
};

struct DecodedFrame {
  uint64_t offset = 0;
  uint8_t type = 0;
  uint32_t crc = 0;
  uint64_t stored_bytes = 0;
  uint64_t raw_bytes = 0;
  uint64_t decoded_charge = 0;   // event and loss bytes (raw bytes are charged when read)
  uint64_t retained_charge = 0;  // what applying the frame keeps for the rest of the read
  std::variant<std::monostate, TapeMetadata, InternedEntries, DecodedEvents,
               std::vector<ProcessInfo>, std::pair<std::vector<Mapping>, std::vector<Symbol>>,
               BpfStatsSnapshot, TapeIndex>
      content;
};

EbpfError frame_error(uint64_t offset, std::string_view what) {
  return EbpfError(ErrorKind::FormatError,
                   fmt::format("corrupt frame at byte {}: {} (the tape is damaged from this "
                               "byte on; everything before it is intact)",
                               offset, what));
}

// A ReadLimits budget ran out. Not a frame_error: nothing needs to be damaged for this (a
// crafted tape is typically checksum-valid), and "corrupt" would send the user looking for the
// wrong problem.
EbpfError limit_error(uint64_t offset, std::string_view what) {
  return EbpfError(ErrorKind::NotSupported,
                   fmt::format("frame at byte {}: {}. Real tapes stay far below this limit, so "
                               "the tape is refused as a likely decompression bomb; if it is "
                               "genuine, raise the reader's limits with {}=N in the environment "
                               "(multiplies every limit by N)",
                               offset, what, kLimitScaleEnv));
}

EbpfError decoded_limit_error(uint64_t offset, uint64_t wanted, uint64_t left) {
  return limit_error(offset, fmt::format("decoding it needs {} more bytes but only {} are left "
                                         "of the read's decoded-bytes budget "
                                         "(ReadLimits::decoded_per_file_byte x file size, at "
                                         "least min_decoded_bytes)",
                                         wanted, left));
}

EbpfError retained_limit_error(uint64_t offset, uint64_t wanted, uint64_t left) {
  return limit_error(offset, fmt::format("its interned data, process records, symbols or stats "
                                         "need {} bytes but only {} are left of the read's "
                                         "retained-bytes budget "
                                         "(ReadLimits::retained_per_file_byte x file size, at "
                                         "least min_retained_bytes)",
                                         wanted, left));
}

// Memory a kept entry costs besides its bytes (containers, index slots, allocator headers):
// an upper bound, so that a frame of millions of empty entries is charged for what it costs.
constexpr uint64_t kRetainedEntryBytes = 64;

template <typename List>
uint64_t text_bytes(List list) {
  uint64_t total = 0;
  for (auto t : list) total += t.size() + sizeof(std::string);
  return total;
}

TapeMetadata decode_metadata(schema::Metadata::Reader in) {
  TapeMetadata m;
  m.format_major = in.getFormatMajor();
  m.format_minor = in.getFormatMinor();
  m.max_frame_bytes = in.getMaxFrameBytes();
  m.tool_version = str(in.getToolVersion());
  m.hostname = str(in.getHostname());
  m.kernel_release = str(in.getKernelRelease());
  m.boot_id = str(in.getBootId());
  m.cpu_count = in.getCpuCount();
  m.page_size = in.getPageSize();
  m.clock.monotonic_ns = in.getClock().getMonotonicNs();
  m.clock.realtime_ns = in.getClock().getRealtimeNs();
  auto c = in.getConfig();
  m.config.enable_cpu_profiling = c.getCpuProfiling();
  m.config.enable_network_tracing = c.getNetworkTracing();
  m.config.enable_syscall_tracing = c.getSyscallTracing();
  m.config.enable_memory_tracing = c.getMemoryTracing();
  m.config.sample_rate = c.getSampleRateHz();
  m.config.duration = std::chrono::milliseconds(static_cast<int64_t>(c.getDurationMs()));
  m.config.max_samples = c.getMaxSamples();
  for (auto p : in.getProbes()) {
    m.probes.push_back(ProbeInfo{str(p.getName()), str(p.getKind()), str(p.getTarget())});
  }
  m.recording_id = str(in.getRecordingId());
  for (auto arg : in.getCommand()) m.command.push_back(str(arg));
  return m;
}

// Everything below the frame header: checksum, decompression, Cap'n Proto, per-type decode.
// Pure (touches no reader state), so it runs on worker threads. Cap'n Proto reports malformed
// messages by throwing kj::Exception; this is the one place that turns them into errors.
Result<DecodedFrame> decode_frame(const RawFrame& raw, const FrameAllowance& allowance,
                                  EventVectorPool* pool) {
  const uint64_t off = raw.offset;
  const auto& h = raw.header;
  auto header_bytes = encode_frame_header(h.type, h.stored_size, h.raw_size, raw.stored);
  // Fuzz builds skip the checksum so that mutations reach the decoders behind it.
  if (get_u32(header_bytes.data() + 16) != h.crc && !kFuzzing) {
    return std::unexpected(frame_error(
        off, fmt::format("checksum mismatch (stored {:08x}, computed {:08x})", h.crc,
                         get_u32(header_bytes.data() + 16))));
  }
  if (h.raw_size % sizeof(capnp::word) != 0) {
    return std::unexpected(
        frame_error(off, fmt::format("raw size {} is not a whole number of words", h.raw_size)));
  }
  unsigned long long content = ZSTD_getFrameContentSize(raw.stored.data(), raw.stored.size());
  if (content != h.raw_size) {
    return std::unexpected(frame_error(
        off, fmt::format("zstd frame holds {} bytes, the header says {}",
                         content == ZSTD_CONTENTSIZE_UNKNOWN ? std::string("an unknown number of")
                         : content == ZSTD_CONTENTSIZE_ERROR ? std::string("no valid")
                                                             : std::to_string(content),
                         h.raw_size)));
  }
  DecodedFrame out;
  out.offset = off;
  out.type = h.type;
  out.crc = h.crc;
  out.stored_bytes = raw.stored.size();
  out.raw_bytes = h.raw_size;
  try {
    // Sized by raw_size, which the caller checked against the frame limit.
    auto words = kj::heapArray<capnp::word>(h.raw_size / sizeof(capnp::word));
    size_t n = ZSTD_decompress(words.begin(), words.asBytes().size(), raw.stored.data(),
                               raw.stored.size());
    if (ZSTD_isError(n) || n != h.raw_size) {
      return std::unexpected(frame_error(
          off, ZSTD_isError(n) ? fmt::format("zstd: {}", ZSTD_getErrorName(n))
                               : fmt::format("decompressed {} bytes, the header says {}", n,
                                             h.raw_size)));
    }
    capnp::ReaderOptions limits;
    // Traversal is bounded by a small multiple of the message itself, so a message cannot
    // make us walk (or allocate for) more than it holds; depth 16 is twice what the schema needs.
    limits.traversalLimitInWords = words.size() * 4 + 1024;
    limits.nestingLimit = 16;
    capnp::FlatArrayMessageReader message(words, limits);
    switch (static_cast<FrameType>(h.type)) {
      case FrameType::Metadata:
        out.content = decode_metadata(message.getRoot<schema::Metadata>());
        break;
      case FrameType::Interned: {
        auto in = message.getRoot<schema::Interned>();
        InternedEntries entries;
        entries.first_string = in.getFirstStringId();
        entries.first_stack = in.getFirstStackId();
        auto strings = in.getStrings();
        auto stacks = in.getStacks();
        // Charged before anything is copied: a frame of millions of tiny entries costs far more
        // in memory than in the message.
        uint64_t charge = 0;
        for (auto s : strings) charge += s.size() + kRetainedEntryBytes;
        for (auto s : stacks) charge += s.size() * sizeof(uint64_t) + kRetainedEntryBytes;
        if (charge > allowance.retained_left) {
          return std::unexpected(retained_limit_error(off, charge, allowance.retained_left));
        }
        out.retained_charge = charge;
        entries.strings.reserve(strings.size());
        for (auto s : strings) entries.strings.push_back(str(s));
        entries.stacks.reserve(stacks.size());
        for (auto s : stacks) {
          auto& frames = entries.stacks.emplace_back();
          frames.reserve(s.size());
          for (uint64_t pc : s) frames.push_back(pc);
        }
        out.content = std::move(entries);
        break;
      }
      case FrameType::Events: {
        auto in = message.getRoot<schema::Events>();
        const uint64_t events = in.getEventCount();
        if (events > allowance.max_events) {
          return std::unexpected(limit_error(
              off, fmt::format("it holds {} events, over the limit of {} events per frame "
                               "(ReadLimits::max_frame_events; bpftape writes at most 262144)",
                               events, allowance.max_events)));
        }
        out.decoded_charge = events * sizeof(EbpfEvent) + in.getLossCount() * sizeof(LossRecord);
        if (out.decoded_charge > allowance.decoded_left) {
          return std::unexpected(
              decoded_limit_error(off, out.decoded_charge, allowance.decoded_left));
        }
        auto decoded = decode_events(in, pool);
        if (!decoded) return std::unexpected(frame_error(off, decoded.error().message()));
        out.content = std::move(*decoded);
        break;
      }
      case FrameType::Processes: {
        std::vector<ProcessInfo> list;
        auto updates = message.getRoot<schema::Processes>().getUpdates();
        uint64_t charge = 0;
        for (auto p : updates) {
          charge += sizeof(ProcessInfo) + kRetainedEntryBytes + p.getComm().size() +
                    p.getExe().size() + p.getCgroup().size() + p.getContainerId().size() +
                    text_bytes(p.getCmdline());
        }
        if (charge > allowance.retained_left) {
          return std::unexpected(retained_limit_error(off, charge, allowance.retained_left));
        }
        out.retained_charge = charge;
        list.reserve(updates.size());
        for (auto p : updates) {
          ProcessInfo info{.pid = p.getPid(), .ppid = p.getPpid(), .comm = str(p.getComm()),
                           .exe = str(p.getExe()), .cgroup = str(p.getCgroup()),
                           .container_id = str(p.getContainerId()),
                           .start_ns = p.getStartTimeNs(), .exit_ns = p.getExitTimeNs(),
                           .exit_code = p.getExitCode()};
          for (auto arg : p.getCmdline()) info.cmdline.push_back(str(arg));
          list.push_back(std::move(info));
        }
        out.content = std::move(list);
        break;
      }
      case FrameType::Symbols: {
        auto in = message.getRoot<schema::Symbols>();
        uint64_t charge = 0;
        for (auto m : in.getMappings()) {
          charge += sizeof(Mapping) + m.getPath().size() + m.getBuildId().size();
        }
        for (auto s : in.getSymbols()) charge += sizeof(Symbol) + s.getName().size();
        if (charge > allowance.retained_left) {
          return std::unexpected(retained_limit_error(off, charge, allowance.retained_left));
        }
        out.retained_charge = charge;
        std::pair<std::vector<Mapping>, std::vector<Symbol>> content;
        for (auto m : in.getMappings()) {
          content.first.push_back(Mapping{m.getPid(), m.getStart(), m.getEnd(),
                                          m.getFileOffset(), str(m.getPath()),
                                          str(m.getBuildId())});
        }
        for (auto s : in.getSymbols()) {
          content.second.push_back(
              Symbol{s.getPid(), s.getAddress(), s.getSize(), str(s.getName())});
        }
        out.content = std::move(content);
        break;
      }
      case FrameType::BpfStats: {
        auto in = message.getRoot<schema::BpfStats>();
        uint64_t charge = sizeof(BpfStatsSnapshot);
        for (auto p : in.getPrograms()) charge += sizeof(BpfProgramStats) + p.getName().size();
        if (charge > allowance.retained_left) {
          return std::unexpected(retained_limit_error(off, charge, allowance.retained_left));
        }
        out.retained_charge = charge;
        BpfStatsSnapshot snap;
        snap.timestamp_ns = in.getTimestampNs();
        snap.sampled = in.getSampled();
        for (auto p : in.getPrograms()) {
          snap.programs.push_back(BpfProgramStats{str(p.getName()), p.getProgramId(),
                                                  p.getRunTimeNs(), p.getRunCount(),
                                                  p.getRecursionMisses(), p.getMeasuredRunTimeNs(),
                                                  p.getMeasuredRunCount()});
        }
        out.content = std::move(snap);
        break;
      }
      case FrameType::Index: {
        auto in = message.getRoot<schema::Index>();
        TapeIndex index;
        index.event_count = in.getEventCount();
        index.loss_count = in.getLossCount();
        index.string_count = in.getStringCount();
        index.stack_count = in.getStackCount();
        auto frames = in.getFrames();
        out.retained_charge = frames.size() * sizeof(IndexEntry);
        if (out.retained_charge > allowance.retained_left) {
          return std::unexpected(
              retained_limit_error(off, out.retained_charge, allowance.retained_left));
        }
        index.frames.reserve(frames.size());
        for (auto f : frames) {
          index.frames.push_back(IndexEntry{f.getOffset(), f.getType(), f.getFirstTimestampNs(),
                                            f.getLastTimestampNs(), f.getEventCount()});
        }
        out.content = std::move(index);
        break;
      }
      default:
        break;  // a frame type from a newer minor version: skipped
    }
  } catch (const kj::Exception& e) {
    return std::unexpected(frame_error(
        off, fmt::format("malformed {} message: {}", frame_type_name(h.type),
                         std::string_view(e.getDescription().cStr()))));
  } catch (const std::bad_alloc&) {
    // Every allocation above is bounded by ReadLimits; this is a process short of memory (e.g.
    // under a small address-space limit), not a damaged frame.
    return make_error(ErrorKind::Io,
                      fmt::format("out of memory while decoding the {} frame at byte {} ({} "
                                  "bytes decompressed): lower ReaderOptions::decode_threads or "
                                  "give the process more memory",
                                  frame_type_name(h.type), off, h.raw_size));
  }
  return out;
}

}  // namespace

struct TapeReader::Impl {
  ReaderOptions options;
  std::unique_ptr<Source> source;
  FileHeader header;
  uint32_t frame_limit = 0;  // min(header, options)
  TapeMetadata metadata;
  uint64_t first_frame_offset = 0;  // just after the metadata frame
  uint64_t data_end = 0;            // index offset (complete) or file size
  // The index frame's offset as an intact trailer states it (0: none). Scanning (no usable
  // index) stops there: the events end where the index begins, whatever state it is in.
  uint64_t scan_end = 0;
  bool complete = false;
  // The index, while it is trusted: reset when it is found to disagree with a frame.
  std::optional<TapeIndex> index;
  bool index_rejected = false;  // a damaged or disagreeing index was found (and warned about)
  // Just past an Index frame met while scanning: a closed tape whose trailer is damaged.
  std::optional<uint64_t> scanned_index_end;
  // ReadLimits as budgets for this file (see ReaderOptions::limits).
  uint64_t decoded_budget = 0;
  uint64_t retained_budget = 0;

  InternTable interns;
  ProcessTable processes;
  std::vector<Mapping> mappings;
  std::vector<Symbol> symbols;
  std::vector<BpfStatsSnapshot> bpf_stats;
  std::vector<std::string> warnings;
  Stats stats;

  // Iteration state.
  uint64_t pos = 0;                  // next frame to read
  uint64_t meta_applied_upto = 0;    // non-event frames before this offset are applied
  uint64_t min_timestamp = 0;        // seek filter
  bool reading_done = false;         // no more frames to schedule
  bool finished = false;             // next() returned false
  std::optional<uint64_t> truncated_at;
  std::optional<EbpfError> error;
  // Declared before the decoders: their jobs take vectors from it until they are closed.
  EventVectorPool pool;
  std::deque<std::future<Result<DecodedFrame>>> in_flight;
  // With decode_threads > 1: one worker per thread, started on first use, handed frames in
  // turn (each keeps its own frames in order; in_flight keeps file order across them).
  // Empty when no thread could be had: frames are then decoded on the caller's thread.
  struct DecodeJob {
    std::shared_ptr<const RawFrame> frame;
    FrameAllowance allowance;
    std::promise<Result<DecodedFrame>> result;
  };
  std::vector<std::unique_ptr<SerialWorker<DecodeJob>>> decoders;
  bool decoders_tried = false;
  size_t next_decoder = 0;
  // Starts the decoders once; false when there are none (one thread, or no thread to be had).
  bool start_decoders();
  std::deque<EventBatch> ready;
  uint64_t pass_events = 0;  // events delivered by frames of the current pass (for warnings)
  uint64_t pass_frames = 0;
  // Events frames of the current pass by content (crc, stored and raw size, first and last
  // timestamp, event count) -> offset of the first copy: a frame repeated in the file is read
  // once. Each entry is charged to the retained budget while it is held.
  using FrameKey = std::tuple<uint32_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t>;
  std::map<FrameKey, uint64_t> pass_event_frames;
  uint64_t pass_duplicates = 0;
  std::pair<uint64_t, uint64_t> first_duplicate;  // (copy, original) offsets

  Result<ReadOutcome> read_frame(uint64_t offset, uint64_t end) const;
  Result<FrameAllowance> charge_read(const RawFrame& frame);
  Result<DecodedFrame> read_and_decode(uint64_t offset, uint64_t end, uint8_t expected_type);
  Result<void> charge_retained(uint64_t offset, uint64_t bytes);
  Result<void> apply(DecodedFrame&& frame);
  Result<void> apply_interned(uint64_t offset, const InternedEntries& entries);
  void check_against_index(uint64_t offset, const DecodedEvents& events);
  void reject_index(const std::string& why);
  void schedule();
  void reset_pipeline();
  void clear_pass_frames();
  Result<void> load_index();
  Result<void> check_index_frames(const TapeIndex& index, uint64_t index_offset);
  Result<bool> entry_matches_frame(const IndexEntry& entry, std::string* why);
  void finish_pass();
};

Result<ReadOutcome> TapeReader::Impl::read_frame(uint64_t offset, uint64_t end) const {
  ReadOutcome out;
  if (offset >= end) return out;  // End
  const bool may_truncate = !complete;
  if (may_truncate && scan_end != 0 && offset == scan_end) return out;  // End: the index
  if (end - offset < kFrameHeaderSize) {
    if (may_truncate) {
      out.status = ReadStatus::Truncated;
      return out;
    }
    return std::unexpected(frame_error(offset, "frame header runs past the index"));
  }
  uint8_t h[kFrameHeaderSize];
  BPFTAPE_RETURN_IF_ERROR(source->read_at(offset, h, sizeof(h)));
  if (std::memcmp(h, kFrameMagic.data(), kFrameMagic.size()) != 0) {
    return std::unexpected(frame_error(offset, "no frame header here (bad frame magic)"));
  }
  RawFrame& f = out.frame;
  f.offset = offset;
  f.header.type = h[4];
  f.header.encoding = h[5];
  f.header.stored_size = get_u32(h + 8);
  f.header.raw_size = get_u32(h + 12);
  f.header.crc = get_u32(h + 16);
  if (f.header.encoding != kEncodingZstd || get_u16(h + 6) != 0) {
    return std::unexpected(frame_error(
        offset, fmt::format("unknown frame encoding {} (this bpftape knows zstd = 1)",
                            f.header.encoding)));
  }
  if (f.header.stored_size > frame_limit || f.header.raw_size > frame_limit) {
    return std::unexpected(frame_error(
        offset, fmt::format("frame declares {} stored / {} raw bytes, over the tape's limit of {}",
                            f.header.stored_size, f.header.raw_size, frame_limit)));
  }
  if (f.header.stored_size > end - offset - kFrameHeaderSize) {
    if (may_truncate) {
      out.status = ReadStatus::Truncated;
      return out;
    }
    return std::unexpected(frame_error(offset, "frame runs past the index"));
  }
  f.stored.allocate(f.header.stored_size);  // bounded by frame_limit and by the file
  BPFTAPE_RETURN_IF_ERROR(
      source->read_at(offset + kFrameHeaderSize, f.stored.data(), f.stored.size()));
  out.status = ReadStatus::Frame;
  return out;
}

// Charges a frame's decompressed size before it is decompressed; the rest of the budget is what
// decoding it may produce.
Result<FrameAllowance> TapeReader::Impl::charge_read(const RawFrame& frame) {
  const uint64_t left = decoded_budget - stats.decoded_bytes;  // decoded_bytes <= budget
  if (frame.header.raw_size > left) {
    return std::unexpected(decoded_limit_error(frame.offset, frame.header.raw_size, left));
  }
  stats.decoded_bytes += frame.header.raw_size;
  return FrameAllowance{options.limits.max_frame_events, decoded_budget - stats.decoded_bytes,
                        retained_budget - stats.retained_bytes};
}

Result<DecodedFrame> TapeReader::Impl::read_and_decode(uint64_t offset, uint64_t end,
                                                       uint8_t expected_type) {
  BPFTAPE_ASSIGN_OR_RETURN(ReadOutcome read, read_frame(offset, end));
  if (read.status != ReadStatus::Frame) {
    return make_error(ErrorKind::FormatError,
                      fmt::format("expected a {} frame at byte {}, but the file ends there "
                                  "(truncated: {} bytes)",
                                  frame_type_name(expected_type), offset, source->size()));
  }
  if (read.frame.header.type != expected_type) {
    return std::unexpected(frame_error(
        offset, fmt::format("expected a {} frame, found type {}", frame_type_name(expected_type),
                            read.frame.header.type)));
  }
  BPFTAPE_ASSIGN_OR_RETURN(FrameAllowance allowance, charge_read(read.frame));
  return decode_frame(read.frame, allowance, &pool);
}

Result<void> TapeReader::Impl::charge_retained(uint64_t offset, uint64_t bytes) {
  const uint64_t left = retained_budget - stats.retained_bytes;  // retained_bytes <= budget
  if (bytes > left) return std::unexpected(retained_limit_error(offset, bytes, left));
  stats.retained_bytes += bytes;
  return {};
}

Result<void> TapeReader::Impl::apply_interned(uint64_t offset, const InternedEntries& e) {
  if (e.first_string != interns.string_count() + 1 || e.first_stack != interns.stack_count() + 1) {
    return std::unexpected(frame_error(
        offset, fmt::format("interned entries start at string id {} / stack id {}, expected "
                            "{} / {}",
                            e.first_string, e.first_stack, interns.string_count() + 1,
                            interns.stack_count() + 1)));
  }
  for (size_t i = 0; i < e.strings.size(); ++i) {
    if (interns.intern_string(e.strings[i]) != e.first_string + i) {
      return std::unexpected(frame_error(
          offset, fmt::format("interned string {} duplicates an earlier entry",
                              e.first_string + i)));
    }
  }
  for (size_t i = 0; i < e.stacks.size(); ++i) {
    if (interns.intern_stack(e.stacks[i]) != e.first_stack + i) {
      return std::unexpected(frame_error(
          offset, fmt::format("interned stack {} duplicates an earlier entry",
                              e.first_stack + i)));
    }
  }
  return {};
}

// Whether an index entry says what its events frame holds: the count, and the times that
// seeking and callers (the first event's time) rely on.
bool entry_agrees(const IndexEntry& e, const DecodedEvents& ev) {
  return e.event_count == ev.event_count && e.first_timestamp_ns == ev.first_timestamp_ns &&
         e.last_timestamp_ns == ev.last_timestamp_ns;
}

std::string disagreement(const IndexEntry& e, const DecodedEvents& ev) {
  return fmt::format("the index says the events frame at byte {} holds {} events/losses from "
                     "{} to {} ns, it holds {} events from {} to {} ns",
                     e.offset, e.event_count, e.first_timestamp_ns, e.last_timestamp_ns,
                     ev.event_count, ev.first_timestamp_ns, ev.last_timestamp_ns);
}

void TapeReader::Impl::reject_index(const std::string& why) {
  warnings.push_back(fmt::format("the index disagrees with the frames ({}); it is no longer "
                                 "used: seeking reads the tape from its start",
                                 why));
  index.reset();
  index_rejected = true;
}

void TapeReader::Impl::check_against_index(uint64_t offset, const DecodedEvents& ev) {
  if (!index) return;
  const auto& frames = index->frames;
  auto it = std::lower_bound(frames.begin(), frames.end(), offset,
                             [](const IndexEntry& e, uint64_t o) { return e.offset < o; });
  if (it == frames.end() || it->offset != offset) {
    reject_index(fmt::format("the events frame at byte {} is not in it", offset));
  } else if (!entry_agrees(*it, ev)) {
    reject_index(disagreement(*it, ev));
  }
}

Result<void> TapeReader::Impl::apply(DecodedFrame&& f) {
  // Frames decoded side by side were each allowed the same remainder: re-check in file order.
  const uint64_t decoded_left = decoded_budget - stats.decoded_bytes;
  if (f.decoded_charge > decoded_left) {
    return std::unexpected(decoded_limit_error(f.offset, f.decoded_charge, decoded_left));
  }
  stats.decoded_bytes += f.decoded_charge;
  ++stats.frames;
  stats.stored_bytes += f.stored_bytes;
  stats.raw_bytes += f.raw_bytes;
  ++pass_frames;
  // Non-event frames already applied (by an earlier pass or a seek) are not applied twice.
  const bool already = f.offset < meta_applied_upto;
  if (!already && f.type != static_cast<uint8_t>(FrameType::Events)) {
    meta_applied_upto = f.offset + 1;
    BPFTAPE_RETURN_IF_ERROR(charge_retained(f.offset, f.retained_charge));
  }
  switch (static_cast<FrameType>(f.type)) {
    case FrameType::Interned:
      if (!already) {
        BPFTAPE_RETURN_IF_ERROR(apply_interned(f.offset, std::get<InternedEntries>(f.content)));
      }
      break;
    case FrameType::Events: {
      auto& ev = std::get<DecodedEvents>(f.content);
      if (ev.refs.max_string > interns.string_count() ||
          ev.refs.max_stack > interns.stack_count()) {
        return std::unexpected(frame_error(
            f.offset, fmt::format("events refer to string id {} / stack id {} but only {} / {} "
                                  "are defined before this frame",
                                  ev.refs.max_string, ev.refs.max_stack, interns.string_count(),
                                  interns.stack_count())));
      }
      const FrameKey key{f.crc,           f.stored_bytes,         f.raw_bytes,
                         ev.first_timestamp_ns, ev.last_timestamp_ns, ev.event_count};
      // A frame with events repeated byte for byte, timestamps included, is a copy spliced into
      // the file: its events happened once. Frames without events (loss records alone) may
      // legitimately repeat, and are never taken for copies.
      auto [it, added] = ev.event_count == 0 ? std::pair{pass_event_frames.end(), true}
                                             : pass_event_frames.try_emplace(key, f.offset);
      if (!added) {
        if (pass_duplicates++ == 0) first_duplicate = {f.offset, it->second};
        ++stats.duplicate_frames;
        break;
      }
      BPFTAPE_RETURN_IF_ERROR(charge_retained(f.offset, kRetainedEntryBytes));
      check_against_index(f.offset, ev);
      ++stats.event_frames;
      stats.events += ev.event_count;
      pass_events += ev.event_count;
      for (auto& b : ev.batches) {
        for (const auto& loss : b.losses) saturating_accumulate(stats.lost_events, loss.count);
        ready.push_back(std::move(b));
      }
      break;
    }
    case FrameType::Processes:
      if (!already) {
        // Each record is an incarnation's whole state at the time it was written.
        for (const auto& p : std::get<std::vector<ProcessInfo>>(f.content)) processes.replace(p);
      }
      break;
    case FrameType::Symbols:
      if (!already) {
        auto& [maps, syms] =
            std::get<std::pair<std::vector<Mapping>, std::vector<Symbol>>>(f.content);
        mappings.insert(mappings.end(), maps.begin(), maps.end());
        symbols.insert(symbols.end(), syms.begin(), syms.end());
      }
      break;
    case FrameType::BpfStats:
      if (!already) bpf_stats.push_back(std::move(std::get<BpfStatsSnapshot>(f.content)));
      break;
    case FrameType::Metadata:
      return std::unexpected(frame_error(f.offset, "a second metadata frame"));
    case FrameType::Index:  // only reached when scanning: the trailer after it is damaged
      scanned_index_end = f.offset + kFrameHeaderSize + f.stored_bytes;
      break;
    default:
      break;
  }
  return {};
}

// Reads frames (I/O on this thread) and hands their decoding to the decoders, keeping at most
// decode_threads frames in flight. Each job owns its RawFrame: no shared state but the pool.
void TapeReader::Impl::schedule() {
  const size_t window = std::max(1u, options.decode_threads);
  auto fail = [this](EbpfError error) {
    std::promise<Result<DecodedFrame>> p;
    p.set_value(std::unexpected(std::move(error)));
    in_flight.push_back(p.get_future());
    reading_done = true;
  };
  while (!reading_done && in_flight.size() < window) {
    auto read = read_frame(pos, data_end);
    if (!read) {
      fail(read.error());
      break;
    }
    if (read->status != ReadStatus::Frame) {
      if (read->status == ReadStatus::Truncated) truncated_at = pos;
      reading_done = true;
      break;
    }
    auto allowance = charge_read(read->frame);
    if (!allowance) {
      fail(allowance.error());
      break;
    }
    pos += kFrameHeaderSize + read->frame.stored.size();
    auto frame = std::make_shared<const RawFrame>(std::move(read->frame));
    if (start_decoders()) {
      DecodeJob job{frame, *allowance, {}};
      in_flight.push_back(job.result.get_future());
      auto& decoder = *decoders[next_decoder++ % decoders.size()];
      if (decoder.push(std::move(job))) continue;
      in_flight.pop_back();  // never expected: the decoders only close with the reader
    }
    std::promise<Result<DecodedFrame>> p;
    p.set_value(decode_frame(*frame, *allowance, &pool));
    in_flight.push_back(p.get_future());
  }
}

bool TapeReader::Impl::start_decoders() {
  if (!decoders_tried) {
    decoders_tried = true;
    for (unsigned i = 0; options.decode_threads > 1 && i < options.decode_threads; ++i) {
      // The window bounds the jobs in flight, so a decoder's queue never fills.
      auto decoder = SerialWorker<DecodeJob>::start(
          {.capacity = options.decode_threads, .on_error = SerialWorker<DecodeJob>::OnError::Continue},
          [pool = &pool](DecodeJob& job) -> Result<void> {
            job.result.set_value(decode_frame(*job.frame, job.allowance, pool));
            return {};
          });
      if (!decoder) break;  // no more threads to be had (e.g. an address-space limit)
      decoders.push_back(std::move(*decoder));
    }
  }
  return !decoders.empty();
}

void TapeReader::Impl::clear_pass_frames() {
  stats.retained_bytes -= pass_event_frames.size() * kRetainedEntryBytes;
  pass_event_frames.clear();
  pass_duplicates = 0;
}

void TapeReader::Impl::reset_pipeline() {
  // Frames still being decoded are finished by their decoder and dropped: nobody waits.
  in_flight.clear();
  ready.clear();
  reading_done = false;
  finished = false;
  truncated_at.reset();
  clear_pass_frames();
}

void TapeReader::Impl::finish_pass() {
  finished = true;
  if (pass_duplicates > 0) {
    warnings.push_back(fmt::format("{} events frame(s) are copies of earlier ones (the first, at "
                                   "byte {}, repeats the frame at byte {}); each was read once",
                                   pass_duplicates, first_duplicate.first,
                                   first_duplicate.second));
  }
  if (complete) return;
  const uint64_t size = source->size();
  if (scanned_index_end && *scanned_index_end + kTrailerSize == size &&
      (!truncated_at || *truncated_at == *scanned_index_end)) {
    warnings.push_back(fmt::format("the tape's trailer (its last {} bytes) is damaged, so its "
                                   "index was not used: {} events in {} frames read by scanning "
                                   "(the writer did close the tape; nothing is missing)",
                                   kTrailerSize, pass_events, pass_frames));
    return;
  }
  if (index_rejected) {
    warnings.push_back(fmt::format("{} events in {} frames read by scanning{}", pass_events,
                                   pass_frames,
                                   truncated_at ? fmt::format(" (truncated at byte {} of {})",
                                                              *truncated_at, size)
                                                : std::string()));
    return;
  }
  std::string where =
      truncated_at ? fmt::format("truncated at byte {} of {}", *truncated_at, size)
                   : fmt::format("no usable index (frames end at byte {})", data_end);
  warnings.push_back(fmt::format("{}: {} events in {} frames recovered (the writer did not "
                                 "close the tape; everything after the last whole frame is lost)",
                                 where, pass_events, pass_frames));
}

// The index lists every frame between the metadata and itself, in file order: the entries must
// tile that range exactly, each naming the type its frame header has. Reads one frame header
// per entry (no decompression).
Result<void> TapeReader::Impl::check_index_frames(const TapeIndex& idx, uint64_t index_offset) {
  auto bad = [](std::string what) {
    return make_error(ErrorKind::FormatError,
                      fmt::format("the index disagrees with the frames ({})", what));
  };
  uint64_t expected = first_frame_offset;
  uint64_t events = 0;
  for (size_t i = 0; i < idx.frames.size(); ++i) {
    const IndexEntry& e = idx.frames[i];
    if (e.offset != expected) {
      return bad(fmt::format("entry {} is for byte {}, but the frame before it ends at byte {}",
                             i, e.offset, expected));
    }
    uint8_t h[kFrameHeaderSize];
    if (index_offset - e.offset < kFrameHeaderSize) {
      return bad(fmt::format("entry {} is for byte {}, too close to the index", i, e.offset));
    }
    BPFTAPE_RETURN_IF_ERROR(source->read_at(e.offset, h, sizeof(h)));
    const uint64_t stored = get_u32(h + 8);
    if (std::memcmp(h, kFrameMagic.data(), kFrameMagic.size()) != 0 || h[4] != e.type ||
        stored > index_offset - e.offset - kFrameHeaderSize) {
      return bad(fmt::format("entry {} names a {} frame at byte {}, which is not there", i,
                             frame_type_name(e.type), e.offset));
    }
    if (e.first_timestamp_ns > e.last_timestamp_ns ||
        (e.type != static_cast<uint8_t>(FrameType::Events) && e.event_count != 0)) {
      return bad(fmt::format("entry {} (byte {}) is inconsistent", i, e.offset));
    }
    events = saturating_add(events, e.event_count);
    expected = e.offset + kFrameHeaderSize + stored;
  }
  if (expected != index_offset) {
    return bad(fmt::format("its frames end at byte {}, the index is at byte {}", expected,
                           index_offset));
  }
  if (events != idx.event_count) {
    return bad(fmt::format("its entries hold {} events, its total says {}", events,
                           idx.event_count));
  }
  return {};
}

// Decodes the events frame `entry` names and compares. The events are not delivered.
Result<bool> TapeReader::Impl::entry_matches_frame(const IndexEntry& entry, std::string* why) {
  BPFTAPE_ASSIGN_OR_RETURN(
      DecodedFrame frame,
      read_and_decode(entry.offset, data_end, static_cast<uint8_t>(FrameType::Events)));
  const auto& ev = std::get<DecodedEvents>(frame.content);
  if (entry_agrees(entry, ev)) return true;
  *why = disagreement(entry, ev);
  return false;
}

Result<void> TapeReader::Impl::load_index() {
  const uint64_t size = source->size();
  if (size < first_frame_offset + kTrailerSize) return make_error(ErrorKind::FormatError, "no trailer");
  uint8_t trailer[kTrailerSize];
  BPFTAPE_RETURN_IF_ERROR(source->read_at(size - kTrailerSize, trailer, sizeof(trailer)));
  if (std::memcmp(trailer + 8, kTrailerMagic.data(), kTrailerMagic.size()) != 0) {
    return make_error(ErrorKind::FormatError, "no trailer");
  }
  const uint64_t index_offset = get_u64(trailer);
  const uint64_t index_end = size - kTrailerSize;
  if (index_offset < first_frame_offset || index_offset >= index_end) {
    return make_error(ErrorKind::FormatError,
                      fmt::format("the index is unreadable: the trailer points at byte {}, "
                                  "outside the tape (the trailer is damaged)",
                                  index_offset));
  }
  // Whatever state the index frame is in, the events end where it begins.
  scan_end = index_offset;
  // Frames inside [first_frame_offset, index_offset) are all whole on a complete tape.
  complete = true;
  auto decoded = read_and_decode(index_offset, index_end, static_cast<uint8_t>(FrameType::Index));
  complete = false;
  if (!decoded) {
    return make_error(decoded.error().kind(),
                      fmt::format("the index is unreadable ({})", decoded.error().message()));
  }
  if (decoded->offset + kFrameHeaderSize + decoded->stored_bytes != index_end) {
    return make_error(ErrorKind::FormatError,
                      "the index is unreadable (the index frame does not end at the trailer)");
  }
  BPFTAPE_RETURN_IF_ERROR(charge_retained(index_offset, decoded->retained_charge));
  TapeIndex idx = std::move(std::get<TapeIndex>(decoded->content));
  auto checked = check_index_frames(idx, index_offset);
  if (checked) {
    // Callers take the first event's time from the index (the origin of --since): check the
    // frame that holds it. Seeking checks the frame it skips to (see TapeReader::seek).
    data_end = index_offset;
    complete = true;
    const IndexEntry* earliest = nullptr;
    for (const auto& e : idx.frames) {
      if (e.event_count > 0 && (!earliest || e.first_timestamp_ns < earliest->first_timestamp_ns)) {
        earliest = &e;
      }
    }
    std::string why;
    auto matches = earliest ? entry_matches_frame(*earliest, &why) : Result<bool>(true);
    complete = false;
    if (!matches) return std::unexpected(matches.error());
    if (!*matches) {
      checked = make_error(ErrorKind::FormatError,
                           fmt::format("the index disagrees with the frames ({})", why));
    }
  }
  if (!checked) {
    stats.retained_bytes -= decoded->retained_charge;
    return checked;
  }
  index = std::move(idx);
  data_end = index_offset;
  complete = true;
  return {};
}

TapeReader::TapeReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TapeReader::~TapeReader() = default;

ReadLimits ReadLimits::scaled(uint64_t factor) const {
  ReadLimits out = *this;
  for (uint64_t* v : {&out.decoded_per_file_byte, &out.min_decoded_bytes, &out.max_frame_events,
                      &out.retained_per_file_byte, &out.min_retained_bytes}) {
    *v = saturating_mul(*v, factor);
  }
  return out;
}

Result<uint64_t> limit_scale_from_env() {
  const char* text = std::getenv(kLimitScaleEnv);
  if (text == nullptr || *text == '\0') return 1;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || v == 0 || text[0] == '-') {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("{}='{}' is not a positive integer (it multiplies the tape "
                                  "reader's limits; unset it for the defaults)",
                                  kLimitScaleEnv, text));
  }
  return static_cast<uint64_t>(v);
}

namespace {

EbpfError out_of_memory(std::string_view during) {
  return EbpfError(ErrorKind::Io, fmt::format("out of memory while {}: give the process more "
                                              "memory, or read the tape on a bigger machine",
                                              during));
}

Result<std::unique_ptr<TapeReader::Impl>> open_impl(std::unique_ptr<Source> source,
                                                    const ReaderOptions& options) {
  auto impl = std::make_unique<TapeReader::Impl>();
  impl->options = options;
  impl->source = std::move(source);
  const uint64_t size = impl->source->size();
  ReadLimits limits = options.limits;
  if (kFuzzing) {
    // Fuzz builds: small floors, so that every input is decoded in milliseconds and a bomb is
    // refused as it would be at full size.
    limits.min_decoded_bytes = std::min<uint64_t>(limits.min_decoded_bytes, 16u << 20);
    limits.min_retained_bytes = std::min<uint64_t>(limits.min_retained_bytes, 16u << 20);
    limits.max_frame_events = std::min<uint64_t>(limits.max_frame_events, 1u << 16);
  }
  impl->options.limits = limits;
  impl->decoded_budget = std::max(limits.min_decoded_bytes,
                                  saturating_mul(limits.decoded_per_file_byte, size));
  impl->retained_budget = std::max(limits.min_retained_bytes,
                                   saturating_mul(limits.retained_per_file_byte, size));
  if (size < kFileHeaderSize) {
    return make_error(ErrorKind::FormatError,
                      fmt::format("not a bpftape tape: {} bytes, shorter than the {}-byte header "
                                  "(an empty or truncated file)",
                                  size, kFileHeaderSize));
  }
  uint8_t h[kFileHeaderSize];
  BPFTAPE_RETURN_IF_ERROR(impl->source->read_at(0, h, sizeof(h)));
  if (std::memcmp(h, kFileMagic.data(), kFileMagic.size()) != 0) {
    return make_error(ErrorKind::FormatError,
                      "not a bpftape tape (bad magic; bpftape tapes start with \"BPFTAPE\")");
  }
  if (get_u32(h + 28) != crc32c(std::span<const uint8_t>(h, 28)) && !kFuzzing) {
    return make_error(ErrorKind::FormatError, "the tape's file header is damaged (checksum "
                                              "mismatch in bytes 0-31)");
  }
  impl->header.major = get_u16(h + 8);
  impl->header.minor = get_u16(h + 10);
  impl->header.max_frame_bytes = get_u32(h + 16);
  if (impl->header.major != kFormatMajor) {
    return make_error(ErrorKind::NotSupported,
                      fmt::format("tape format version {}.{} cannot be read by this bpftape, which "
                                  "reads format {}.x (up to {}.{}): use a bpftape built for "
                                  "format {}",
                                  impl->header.major, impl->header.minor, kFormatMajor,
                                  kFormatMajor, kFormatMinor, impl->header.major));
  }
  if (get_u32(h + 12) != kFileHeaderSize || impl->header.max_frame_bytes < kMinFrameLimit ||
      impl->header.max_frame_bytes > kMaxFrameLimit) {
    return make_error(ErrorKind::FormatError,
                      fmt::format("the tape's file header is inconsistent (header size {}, max "
                                  "frame size {})",
                                  get_u32(h + 12), impl->header.max_frame_bytes));
  }
  if (impl->header.max_frame_bytes > options.max_frame_bytes) {
    return make_error(ErrorKind::NotSupported,
                      fmt::format("the tape declares frames of up to {} bytes, over this reader's "
                                  "limit of {}: raise ReaderOptions::max_frame_bytes",
                                  impl->header.max_frame_bytes, options.max_frame_bytes));
  }
  impl->frame_limit = impl->header.max_frame_bytes;
  impl->data_end = size;
  BPFTAPE_ASSIGN_OR_RETURN(DecodedFrame meta,
                           impl->read_and_decode(kFileHeaderSize, size,
                                                 static_cast<uint8_t>(FrameType::Metadata)));
  impl->metadata = std::move(std::get<TapeMetadata>(meta.content));
  impl->metadata.format_major = impl->header.major;
  impl->metadata.format_minor = impl->header.minor;
  impl->first_frame_offset = kFileHeaderSize + kFrameHeaderSize + meta.stored_bytes;
  impl->pos = impl->meta_applied_upto = impl->first_frame_offset;
  impl->stats.frames = 1;

  if (auto r = impl->load_index(); !r) {
    if (r.error().message() != "no trailer") {
      impl->warnings.push_back(fmt::format("{}; reading by scanning", r.error().message()));
      impl->index_rejected = true;
    }
    impl->data_end = size;
    impl->complete = false;
  }
  return impl;
}

// Runs `body`, turning an allocation failure into an error: no std::bad_alloc leaves the reader.
template <typename Body>
auto guarded(std::string_view during, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return std::unexpected(out_of_memory(during));
  }
}

// What a path is when it is not a regular file, for the error that refuses it.
std::string_view file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

Result<std::unique_ptr<TapeReader>> TapeReader::open(const std::string& path,
                                                     const ReaderOptions& options) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. The type
  // is checked before anything is read; on a regular file the flag changes nothing.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return errno_error(ErrorKind::Io, fmt::format("open {}", path), errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return errno_error(ErrorKind::Io, fmt::format("stat {}", path), errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorKind::Io,
                      fmt::format("{} is {}, not a tape file: bpftape reads tapes from regular "
                                  "files only (copy the stream to a file first)",
                                  path, file_type_name(st.st_mode)));
  }
  BPFTAPE_ASSIGN_OR_RETURN(uint64_t scale, limit_scale_from_env());
  ReaderOptions scaled = options;
  scaled.limits = options.limits.scaled(scale);
  return guarded("opening the tape", [&]() -> Result<std::unique_ptr<TapeReader>> {
    auto source = std::make_unique<Source>(std::move(fd), path, static_cast<uint64_t>(st.st_size));
    BPFTAPE_ASSIGN_OR_RETURN(auto impl, open_impl(std::move(source), scaled));
    return std::unique_ptr<TapeReader>(new TapeReader(std::move(impl)));
  });
}

Result<std::unique_ptr<TapeReader>> TapeReader::open_memory(std::span<const uint8_t> bytes,
                                                            const ReaderOptions& options) {
  return guarded("opening the tape", [&]() -> Result<std::unique_ptr<TapeReader>> {
    BPFTAPE_ASSIGN_OR_RETURN(auto impl, open_impl(std::make_unique<Source>(bytes), options));
    return std::unique_ptr<TapeReader>(new TapeReader(std::move(impl)));
  });
}

Result<bool> TapeReader::next(EventBatch* batch) {
  Impl& s = *impl_;
  if (s.error) return std::unexpected(*s.error);
  auto result = guarded("reading the tape", [&]() -> Result<bool> {
    while (true) {
      while (!s.ready.empty()) {
        s.pool.give(std::move(batch->events));  // the caller is done with the previous batch
        *batch = std::move(s.ready.front());
        s.ready.pop_front();
        if (s.min_timestamp > 0) {
          const uint64_t t = s.min_timestamp;
          std::erase_if(batch->events, [t](const EbpfEvent& e) { return e.timestamp_ns < t; });
          std::erase_if(batch->losses, [t](const LossRecord& l) { return l.timestamp_ns < t; });
        }
        if (!batch->empty()) return true;
      }
      if (s.finished) return false;
      s.schedule();
      if (s.in_flight.empty()) {
        s.finish_pass();
        batch->clear();
        return false;
      }
      auto decoded = s.in_flight.front().get();
      s.in_flight.pop_front();
      if (decoded) {
        if (auto r = s.apply(std::move(*decoded)); !r) decoded = std::unexpected(r.error());
      }
      if (!decoded) return std::unexpected(decoded.error());
    }
  });
  if (!result) {
    s.error = result.error();
    s.in_flight.clear();
    s.ready.clear();
  }
  return result;
}

Result<void> TapeReader::seek(uint64_t timestamp_ns) {
  Impl& s = *impl_;
  if (s.error) return std::unexpected(*s.error);
  auto result = guarded("seeking in the tape", [&]() -> Result<void> {
    s.reset_pipeline();
    s.min_timestamp = timestamp_ns;
    s.pass_events = s.pass_frames = 0;
    s.pos = s.first_frame_offset;
    if (!s.index || timestamp_ns == 0) return {};
    const auto& frames = s.index->frames;
    const auto is_events = [](const IndexEntry& e) {
      return e.type == static_cast<uint8_t>(FrameType::Events);
    };
    auto target = std::find_if(frames.begin(), frames.end(), [&](const IndexEntry& e) {
      return is_events(e) && e.last_timestamp_ns >= timestamp_ns;
    });
    // The index decides what is skipped: check it against the last events frame it skips
    // (whose times put the target after it); the frames read from the target on are checked as
    // they are read. On a mismatch, scan from the start instead.
    auto skipped = std::find_if(std::make_reverse_iterator(target), frames.rend(), is_events);
    if (skipped != frames.rend()) {
      std::string why;
      BPFTAPE_ASSIGN_OR_RETURN(bool agrees, s.entry_matches_frame(*skipped, &why));
      if (!agrees) {
        s.reject_index(why);
        return {};
      }
    }
    const uint64_t target_offset = target == frames.end() ? s.data_end : target->offset;
    // Interned (and other state) frames before the target: read those not applied yet.
    for (auto it = frames.begin(); it != target; ++it) {
      if (is_events(*it) || it->offset < s.meta_applied_upto) continue;
      BPFTAPE_ASSIGN_OR_RETURN(DecodedFrame decoded, s.read_and_decode(it->offset, s.data_end, it->type));
      BPFTAPE_RETURN_IF_ERROR(s.apply(std::move(decoded)));
    }
    s.pos = target_offset;
    return {};
  });
  if (!result) s.error = result.error();
  return result;
}

const FileHeader& TapeReader::header() const { return impl_->header; }
const TapeMetadata& TapeReader::metadata() const { return impl_->metadata; }
bool TapeReader::complete() const { return impl_->complete; }
const std::optional<TapeIndex>& TapeReader::index() const { return impl_->index; }
uint64_t TapeReader::file_size() const { return impl_->source->size(); }
const InternTable& TapeReader::interns() const { return impl_->interns; }
const ProcessTable& TapeReader::processes() const { return impl_->processes; }
const std::vector<Mapping>& TapeReader::mappings() const { return impl_->mappings; }
const std::vector<Symbol>& TapeReader::symbols() const { return impl_->symbols; }
const std::vector<BpfStatsSnapshot>& TapeReader::bpf_stats() const { return impl_->bpf_stats; }
const std::vector<std::string>& TapeReader::warnings() const { return impl_->warnings; }
const TapeReader::Stats& TapeReader::stats() const { return impl_->stats; }

}  // namespace otlp::ebpf::tape
