#include "core/tape/writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <utility>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <zstd.h>

#include "core/serial_worker.h"
#include "core/tape/event_codec.h"
#include "core/tape/format.h"
#include "core/tape/tape.capnp.h"

namespace otlp::ebpf::tape {
namespace {

// A tape file: an OutputFile (temporary file renamed into place, never through a planted
// symlink; see core/output_file.h) behind the ByteSink interface.
class FileSink final : public ByteSink {
 public:
  explicit FileSink(OutputFile file) : file_(std::move(file)) {}
  Result<void> write(std::span<const uint8_t> bytes) override { return file_.write(bytes); }
  Result<void> sync() override { return file_.sync(); }
  Result<void> publish() override { return file_.publish(); }
  Result<void> close() override { return file_.finish(); }

 private:
  OutputFile file_;
};

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

kj::ArrayPtr<const kj::byte> bytes_of(std::string_view s) {
  return kj::ArrayPtr<const kj::byte>(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}
capnp::Text::Reader text_of(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }

// Cap'n Proto overhead of a frame beyond its payload bytes, generously.
constexpr size_t kFrameSlack = 4096;

}  // namespace

Result<void> WriterOptions::validate() const {
  if (max_frame_bytes < kMinFrameLimit || max_frame_bytes > kMaxFrameLimit) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("max_frame_bytes {} is outside [{}, {}]", max_frame_bytes,
                                  kMinFrameLimit, kMaxFrameLimit));
  }
  if (frame_bytes < 1024 || frame_bytes > max_frame_bytes / 2) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("frame_bytes {} is outside [1024, max_frame_bytes/2 = {}]",
                                  frame_bytes, max_frame_bytes / 2));
  }
  if (frame_events == 0) return make_error(ErrorKind::ConfigError, "frame_events must be > 0");
  if (background_compression && queued_frames == 0) {
    return make_error(ErrorKind::ConfigError, "queued_frames must be > 0 with background compression");
  }
  if (zstd_level < 1 || zstd_level > 19) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("zstd level {} is outside [1, 19]", zstd_level));
  }
  return {};
}

Result<void> MemorySink::write(std::span<const uint8_t> bytes) {
  const size_t room = fail_after_ - std::min(fail_after_, out_->size());
  out_->insert(out_->end(), bytes.begin(), bytes.begin() + std::min(room, bytes.size()));
  if (bytes.size() > room) return errno_error(ErrorKind::Io, "write memory tape", ENOSPC);
  return {};
}

Result<std::unique_ptr<ByteSink>> open_file_sink(const std::string& path,
                                                 const OutputFileOptions& options) {
  BPFTAPE_ASSIGN_OR_RETURN(OutputFile file, OutputFile::create(path, options));
  return std::make_unique<FileSink>(std::move(file));
}

// A message as flat bytes, with what the index needs to know about it. With background
// compression an events frame is queued still as its encoder (`events` set, `words` empty):
// the worker builds and serializes it, so the caller only swaps encoders.
struct TapeWriter::SerializedFrame {
  uint8_t type = 0;
  kj::Array<capnp::word> words;
  uint64_t first_ts = 0;
  uint64_t last_ts = 0;
  uint32_t events = 0;
  std::unique_ptr<EventFrameEncoder> encoder;
};

namespace {

// The Events message of everything `enc` holds, as flat bytes (two copies of the columns:
// into the message, then into the flat array).
kj::Array<capnp::word> serialize_events(EventFrameEncoder& enc) {
  capnp::MallocMessageBuilder message(
      static_cast<unsigned>(std::min<size_t>(enc.encoded_bytes() / 8 + 512, 1u << 26)));
  enc.build(message.initRoot<schema::Events>());
  return capnp::messageToFlatArray(message);
}

}  // namespace

struct TapeWriter::Impl {
  // The events frame being filled by append() (the caller's thread only).
  std::unique_ptr<EventFrameEncoder> encoder = std::make_unique<EventFrameEncoder>();
  // Background compression: encoders the worker has emptied, for the caller to swap in (so that
  // their column buffers are reused, not reallocated per frame). Guarded by `mutex`.
  std::vector<std::unique_ptr<EventFrameEncoder>> spare_encoders;
  // Used by store_frame only: by the worker while it runs, else by the caller.
  std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx{ZSTD_createCCtx()};
  std::vector<uint8_t> compressed;
  uint32_t written_strings = 0;  // ids 1..written_strings are on disk (or queued for it)
  uint32_t written_stacks = 0;
  uint64_t lost_events = 0;

  // Guards what store_frame changes (index, the frame/byte counters of stats_) and
  // spare_encoders: the worker changes them while the caller reads them.
  std::mutex mutex;
  std::vector<IndexEntry> index;
  // Background compression: serializes, compresses and writes frames in file order. Last
  // member: it is closed (its thread joined) before anything above goes away.
  std::unique_ptr<SerialWorker<SerializedFrame>> worker;
};

TapeWriter::TapeWriter(std::unique_ptr<ByteSink> sink, const InternTable& interns,
                       const WriterOptions& options)
    : impl_(std::make_unique<Impl>()), sink_(std::move(sink)), interns_(interns),
      options_(options) {}

TapeWriter::~TapeWriter() {
  if (!closed_ && !published_) discard();
  if (!closed_ && !failed_) (void)close();
  (void)stop_worker();  // after a failure: close() did not run, the thread still must end
}

Result<std::unique_ptr<TapeWriter>> TapeWriter::create(const std::string& path,
                                                       const TapeMetadata& metadata,
                                                       const InternTable& interns,
                                                       const WriterOptions& options) {
  BPFTAPE_RETURN_IF_ERROR(options.validate());
  OutputFileOptions file_options;
  file_options.overwrite = options.overwrite;
  file_options.inputs = options.inputs;
  BPFTAPE_ASSIGN_OR_RETURN(auto sink, open_file_sink(path, file_options));
  return create(std::move(sink), metadata, interns, options);
}

Result<std::unique_ptr<TapeWriter>> TapeWriter::create(std::unique_ptr<ByteSink> sink,
                                                       const TapeMetadata& metadata,
                                                       const InternTable& interns,
                                                       const WriterOptions& options) {
  BPFTAPE_RETURN_IF_ERROR(options.validate());
  std::unique_ptr<TapeWriter> writer(new TapeWriter(std::move(sink), interns, options));
  if (!writer->impl_->cctx) return make_error(ErrorKind::Io, "zstd: cannot allocate a context");
  ZSTD_CCtx_setParameter(writer->impl_->cctx.get(), ZSTD_c_compressionLevel, options.zstd_level);
  BPFTAPE_RETURN_IF_ERROR(writer->write_header_and_metadata(metadata));
  if (!options.defer_publish) BPFTAPE_RETURN_IF_ERROR(writer->publish());
  if (options.background_compression) {
    TapeWriter* raw = writer.get();  // the worker is closed before the writer goes away
    BPFTAPE_ASSIGN_OR_RETURN(
        writer->impl_->worker,
        SerialWorker<SerializedFrame>::start(
            {.capacity = options.queued_frames,
             // Nothing after a failed frame may be written: the file must stay a readable prefix.
             .on_error = SerialWorker<SerializedFrame>::OnError::Stop,
             // Compression is throughput work; the caller (the recorder's drain loop) is latency
             // work: where they share a CPU, the drain loop must win at once when woken.
             .nice_increment = 10},
            [raw](SerializedFrame& frame) { return raw->write_in_background(frame); }));
  }
  return writer;
}

TapeWriter::Stats TapeWriter::stats() const {
  std::lock_guard lock(impl_->mutex);
  return stats_;
}

Result<void> TapeWriter::write_in_background(SerializedFrame& frame) {
  Result<void> stored;
  if (frame.encoder) {
    frame.words = serialize_events(*frame.encoder);
    frame.encoder->clear();
    stored = check_frame_size(frame);
  }
  if (stored) stored = store_frame(frame);
  if (frame.encoder) {
    std::lock_guard lock(impl_->mutex);
    impl_->spare_encoders.push_back(std::move(frame.encoder));
  }
  return stored;
}

Result<void> TapeWriter::stop_worker() {
  if (!impl_->worker) return {};
  auto closed = impl_->worker->close();
  impl_->worker.reset();
  if (!closed && !failed_) failed_ = closed.error();
  if (failed_) return std::unexpected(*failed_);
  return {};
}

Result<void> TapeWriter::check_usable() {
  if (!failed_ && impl_->worker) failed_ = impl_->worker->error();
  if (failed_) {
    return make_error(failed_->kind(),
                      "the tape writer failed earlier and accepts no more data: " +
                          failed_->message());
  }
  if (closed_) return make_error(ErrorKind::Io, "the tape writer is closed");
  return {};
}

Result<void> TapeWriter::fail(EbpfError error) {
  failed_ = error;
  return std::unexpected(std::move(error));
}

Result<void> TapeWriter::write_frame(uint8_t type, void* message_builder, uint64_t first_ts,
                                     uint64_t last_ts, uint32_t events) {
  auto& message = *static_cast<capnp::MallocMessageBuilder*>(message_builder);
  return write_serialized(
      SerializedFrame{type, capnp::messageToFlatArray(message), first_ts, last_ts, events, {}});
}

Result<void> TapeWriter::check_frame_size(const SerializedFrame& frame) const {
  const size_t raw_size = frame.words.asBytes().size();
  if (raw_size > options_.max_frame_bytes) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("a {} frame of {} bytes exceeds the tape's max frame size "
                                  "{}: raise WriterOptions::max_frame_bytes",
                                  frame_type_name(frame.type), raw_size, options_.max_frame_bytes));
  }
  return {};
}

Result<void> TapeWriter::write_serialized(SerializedFrame&& frame) {
  if (!frame.encoder) {
    if (auto r = check_frame_size(frame); !r) return fail(r.error());
  }
  if (!impl_->worker) {
    if (auto r = store_frame(frame); !r) return fail(r.error());
    return {};
  }
  if (auto r = impl_->worker->push(std::move(frame)); !r) return fail(r.error());
  return {};
}

Result<void> TapeWriter::store_frame(const SerializedFrame& frame) {
  const uint8_t type = frame.type;
  auto raw = frame.words.asBytes();
  auto& out = impl_->compressed;
  out.resize(ZSTD_compressBound(raw.size()));
  size_t n = ZSTD_compress2(impl_->cctx.get(), out.data(), out.size(), raw.begin(), raw.size());
  if (ZSTD_isError(n)) {
    return make_error(ErrorKind::Io, fmt::format("zstd compression failed: {}", ZSTD_getErrorName(n)));
  }
  if (n > options_.max_frame_bytes) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("compressed frame of {} bytes exceeds the max frame size {}", n,
                                  options_.max_frame_bytes));
  }
  std::span<const uint8_t> stored(out.data(), n);
  auto header = encode_frame_header(type, static_cast<uint32_t>(n),
                                    static_cast<uint32_t>(raw.size()), stored);
  // Only store_frame changes these, on one thread at a time: reading them unlocked is safe.
  const uint64_t offset = stats_.bytes_written;
  const uint64_t frames_before = stats_.frames;
  for (auto part : {std::span<const uint8_t>(header), stored}) {
    if (auto r = sink_->write(part); !r) {
      return make_error(r.error().kind(),
                        fmt::format("{} (writing a {} frame at byte {}; the {} frames before it "
                                    "are intact and readable)",
                                    r.error().message(), frame_type_name(type), offset,
                                    frames_before));
    }
    std::lock_guard lock(impl_->mutex);
    stats_.bytes_written += part.size();
  }
  std::lock_guard lock(impl_->mutex);
  stats_.raw_bytes += raw.size();
  ++stats_.frames;
  if (type != static_cast<uint8_t>(FrameType::Metadata)) {
    impl_->index.push_back(IndexEntry{offset, type, frame.first_ts, frame.last_ts, frame.events});
  }
  return {};
}

Result<void> TapeWriter::write_header_and_metadata(const TapeMetadata& m) {
  FileHeader fh;
  fh.max_frame_bytes = options_.max_frame_bytes;
  auto header = encode_file_header(fh);
  if (auto r = sink_->write(header); !r) return fail(r.error());
  stats_.bytes_written += header.size();

  capnp::MallocMessageBuilder message;
  auto md = message.initRoot<schema::Metadata>();
  md.setFormatMajor(kFormatMajor);
  md.setFormatMinor(kFormatMinor);
  md.setToolVersion(text_of(m.tool_version));
  md.setHostname(text_of(m.hostname));
  md.setKernelRelease(text_of(m.kernel_release));
  md.setBootId(text_of(m.boot_id));
  md.setCpuCount(m.cpu_count);
  md.setPageSize(m.page_size);
  auto clock = md.initClock();
  clock.setMonotonicNs(m.clock.monotonic_ns);
  clock.setRealtimeNs(m.clock.realtime_ns);
  auto cfg = md.initConfig();
  cfg.setCpuProfiling(m.config.enable_cpu_profiling);
  cfg.setNetworkTracing(m.config.enable_network_tracing);
  cfg.setSyscallTracing(m.config.enable_syscall_tracing);
  cfg.setMemoryTracing(m.config.enable_memory_tracing);
  cfg.setSampleRateHz(m.config.sample_rate);
  cfg.setDurationMs(static_cast<uint64_t>(m.config.duration.count()));
  cfg.setMaxSamples(m.config.max_samples);
  auto probes = md.initProbes(static_cast<unsigned>(m.probes.size()));
  for (unsigned i = 0; i < m.probes.size(); ++i) {
    probes[i].setName(text_of(m.probes[i].name));
    probes[i].setKind(text_of(m.probes[i].kind));
    probes[i].setTarget(text_of(m.probes[i].target));
  }
  md.setMaxFrameBytes(options_.max_frame_bytes);
  md.setRecordingId(text_of(m.recording_id));
  auto command = md.initCommand(static_cast<unsigned>(m.command.size()));
  for (unsigned i = 0; i < m.command.size(); ++i) command.set(i, text_of(m.command[i]));
  return write_frame(static_cast<uint8_t>(FrameType::Metadata), &message, 0, 0, 0);
}

Result<void> TapeWriter::append(const EventBatch& batch) {
  BPFTAPE_RETURN_IF_ERROR(check_usable());
  // Validate the whole batch first so that a refused batch leaves nothing behind.
  InternRefs refs;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const EbpfEvent& e = batch.events[i];
    if (auto reason = validate_event(e)) {
      return make_error(ErrorKind::EventProcessingFailed,
                        fmt::format("event {} of the batch is invalid ({}): tapes hold only "
                                    "events that pass validate_event",
                                    i, reject_reason_name(*reason)));
    }
    add_intern_refs(e, &refs);
  }
  if (refs.max_string > interns_.string_count() || refs.max_stack > interns_.stack_count()) {
    return make_error(ErrorKind::EventProcessingFailed,
                      fmt::format("the batch refers to string id {} / stack id {} but the intern "
                                  "table holds {} / {}: intern before appending",
                                  refs.max_string, refs.max_stack, interns_.string_count(),
                                  interns_.stack_count()));
  }
  // Batches stay whole unless one alone exceeds a frame: flush before a batch that would not
  // fit by event count, after one that filled the frame, and mid-batch only past the hard
  // bounds (frame_events events, 1.5 x frame_bytes, which is < max_frame_bytes).
  // flush_events() swaps the encoder with background compression: look it up after each flush.
  auto enc_of = [this]() -> EventFrameEncoder& { return *impl_->encoder; };
  const size_t items = batch.events.size() + batch.losses.size();
  if (!enc_of().empty() &&
      enc_of().event_count() + enc_of().loss_count() + items > options_.frame_events) {
    BPFTAPE_RETURN_IF_ERROR(flush_events());
  }
  auto over = [&] {
    return enc_of().encoded_bytes() >= size_t{options_.frame_bytes} + options_.frame_bytes / 2 ||
           enc_of().event_count() + enc_of().loss_count() >= options_.frame_events;
  };
  for (const EbpfEvent& e : batch.events) {
    enc_of().add_event(e);
    if (over()) BPFTAPE_RETURN_IF_ERROR(flush_events());
  }
  for (const LossRecord& loss : batch.losses) {
    enc_of().add_loss(loss);
    impl_->lost_events += loss.count;
    if (over()) BPFTAPE_RETURN_IF_ERROR(flush_events());
  }
  enc_of().end_batch();
  if (enc_of().encoded_bytes() >= options_.frame_bytes ||
      enc_of().event_count() + enc_of().loss_count() >= options_.frame_events) {
    BPFTAPE_RETURN_IF_ERROR(flush_events());
  }
  stats_.events += batch.events.size();
  stats_.losses += batch.losses.size();
  return {};
}

Result<void> TapeWriter::flush_interned() {
  const uint32_t strings_end = interns_.string_count();
  const uint32_t stacks_end = interns_.stack_count();
  const size_t entry_limit = options_.max_frame_bytes - kFrameSlack;
  while (impl_->written_strings < strings_end || impl_->written_stacks < stacks_end) {
    // One frame of at most ~frame_bytes; a single entry may exceed that up to the hard limit.
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<schema::Interned>();
    size_t budget = options_.frame_bytes;
    uint32_t s_begin = impl_->written_strings, s_end = s_begin;
    while (s_end < strings_end) {
      size_t size = interns_.string(s_end + 1).size() + 16;
      if (size > entry_limit) {
        return fail(EbpfError(ErrorKind::ConfigError,
                              fmt::format("interned string {} has {} bytes, more than a frame can "
                                          "hold ({}): raise max_frame_bytes",
                                          s_end + 1, size, entry_limit)));
      }
      if (s_end > s_begin && size > budget) break;
      budget -= std::min(budget, size);
      ++s_end;
    }
    uint32_t k_begin = impl_->written_stacks, k_end = k_begin;
    while (k_end < stacks_end && (s_end == strings_end)) {
      size_t size = interns_.stack(k_end + 1).size() * 8 + 16;
      if (size > entry_limit) {
        return fail(EbpfError(ErrorKind::ConfigError,
                              fmt::format("interned stack {} has {} bytes, more than a frame can "
                                          "hold: raise max_frame_bytes",
                                          k_end + 1, size)));
      }
      if ((k_end > k_begin || s_end > s_begin) && size > budget) break;
      budget -= std::min(budget, size);
      ++k_end;
    }
    root.setFirstStringId(s_begin + 1);
    auto strings = root.initStrings(s_end - s_begin);
    for (uint32_t id = s_begin + 1; id <= s_end; ++id) {
      strings.set(id - s_begin - 1, bytes_of(interns_.string(id)));
    }
    root.setFirstStackId(k_begin + 1);
    auto stacks = root.initStacks(k_end - k_begin);
    for (uint32_t id = k_begin + 1; id <= k_end; ++id) {
      auto frames = interns_.stack(id);
      auto list = stacks.init(id - k_begin - 1, static_cast<unsigned>(frames.size()));
      for (unsigned i = 0; i < frames.size(); ++i) list.set(i, frames[i]);
    }
    BPFTAPE_RETURN_IF_ERROR(
        write_frame(static_cast<uint8_t>(FrameType::Interned), &message, 0, 0, 0));
    impl_->written_strings = s_end;
    impl_->written_stacks = k_end;
  }
  return {};
}

Result<void> TapeWriter::flush_events() {
  auto& enc = *impl_->encoder;
  if (enc.empty()) return {};
  // Interned entries first, on this thread (the InternTable is the caller's): queued before
  // the events frame, they are written before it.
  BPFTAPE_RETURN_IF_ERROR(flush_interned());
  SerializedFrame frame{static_cast<uint8_t>(FrameType::Events), {}, enc.first_timestamp_ns(),
                        enc.last_timestamp_ns(), enc.event_count(), {}};
  if (!impl_->worker) {
    frame.words = serialize_events(enc);
    enc.clear();
    return write_serialized(std::move(frame));
  }
  // Background: hand the whole encoder to the worker (which builds, serializes, compresses and
  // writes it) and continue with an empty one: a pointer swap, not two copies of a frame.
  std::unique_ptr<EventFrameEncoder> next;
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->spare_encoders.empty()) {
      next = std::move(impl_->spare_encoders.back());
      impl_->spare_encoders.pop_back();
    }
  }
  if (!next) next = std::make_unique<EventFrameEncoder>();
  frame.encoder = std::exchange(impl_->encoder, std::move(next));
  return write_serialized(std::move(frame));
}

Result<void> TapeWriter::flush() {
  BPFTAPE_RETURN_IF_ERROR(check_usable());
  return flush_events();
}

Result<void> TapeWriter::write_processes(std::span<const ProcessInfo> updates) {
  BPFTAPE_RETURN_IF_ERROR(check_usable());
  while (!updates.empty()) {
    size_t count = 0, bytes = 0;
    while (count < updates.size() && (count == 0 || bytes < options_.frame_bytes)) {
      const auto& p = updates[count];
      bytes += 64 + p.comm.size() + p.exe.size();
      for (const auto& arg : p.cmdline) bytes += arg.size() + 16;
      bytes += p.cgroup.size() + p.container_id.size();
      ++count;
    }
    capnp::MallocMessageBuilder message;
    auto list = message.initRoot<schema::Processes>().initUpdates(static_cast<unsigned>(count));
    for (unsigned i = 0; i < count; ++i) {
      const auto& p = updates[i];
      auto out = list[i];
      out.setPid(p.pid);
      out.setPpid(p.ppid);
      out.setComm(text_of(p.comm));
      out.setExe(text_of(p.exe));
      auto args = out.initCmdline(static_cast<unsigned>(p.cmdline.size()));
      for (unsigned a = 0; a < p.cmdline.size(); ++a) args.set(a, text_of(p.cmdline[a]));
      out.setStartTimeNs(p.start_ns);
      out.setExitTimeNs(p.exit_ns);
      out.setExitCode(p.exit_code);
      out.setCgroup(text_of(p.cgroup));
      out.setContainerId(text_of(p.container_id));
    }
    BPFTAPE_RETURN_IF_ERROR(
        write_frame(static_cast<uint8_t>(FrameType::Processes), &message, 0, 0, 0));
    updates = updates.subspan(count);
  }
  return {};
}

Result<void> TapeWriter::write_symbols(std::span<const Mapping> mappings,
                                       std::span<const Symbol> symbols) {
  BPFTAPE_RETURN_IF_ERROR(check_usable());
  while (!mappings.empty() || !symbols.empty()) {
    size_t m_count = 0, s_count = 0, bytes = 0;
    while (m_count < mappings.size() && (m_count == 0 || bytes < options_.frame_bytes)) {
      bytes += 64 + mappings[m_count].path.size() + mappings[m_count].build_id.size();
      ++m_count;
    }
    while (m_count == mappings.size() && s_count < symbols.size() &&
           (s_count + m_count == 0 || bytes < options_.frame_bytes)) {
      bytes += 48 + symbols[s_count].name.size();
      ++s_count;
    }
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<schema::Symbols>();
    auto ml = root.initMappings(static_cast<unsigned>(m_count));
    for (unsigned i = 0; i < m_count; ++i) {
      const auto& m = mappings[i];
      ml[i].setPid(m.pid);
      ml[i].setStart(m.start);
      ml[i].setEnd(m.end);
      ml[i].setFileOffset(m.file_offset);
      ml[i].setPath(text_of(m.path));
      ml[i].setBuildId(bytes_of(m.build_id));
    }
    auto sl = root.initSymbols(static_cast<unsigned>(s_count));
    for (unsigned i = 0; i < s_count; ++i) {
      const auto& s = symbols[i];
      sl[i].setPid(s.pid);
      sl[i].setAddress(s.address);
      sl[i].setSize(s.size);
      sl[i].setName(text_of(s.name));
    }
    BPFTAPE_RETURN_IF_ERROR(
        write_frame(static_cast<uint8_t>(FrameType::Symbols), &message, 0, 0, 0));
    mappings = mappings.subspan(m_count);
    symbols = symbols.subspan(s_count);
  }
  return {};
}

Result<void> TapeWriter::write_bpf_stats(const BpfStatsSnapshot& stats) {
  BPFTAPE_RETURN_IF_ERROR(check_usable());
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::BpfStats>();
  root.setTimestampNs(stats.timestamp_ns);
  root.setSampled(stats.sampled);
  auto list = root.initPrograms(static_cast<unsigned>(stats.programs.size()));
  for (unsigned i = 0; i < stats.programs.size(); ++i) {
    const auto& p = stats.programs[i];
    list[i].setName(text_of(p.name));
    list[i].setProgramId(p.program_id);
    list[i].setRunTimeNs(p.run_time_ns);
    list[i].setRunCount(p.run_count);
    list[i].setRecursionMisses(p.recursion_misses);
    list[i].setMeasuredRunTimeNs(p.measured_run_time_ns);
    list[i].setMeasuredRunCount(p.measured_run_count);
  }
  return write_frame(static_cast<uint8_t>(FrameType::BpfStats), &message, stats.timestamp_ns,
                     stats.timestamp_ns, 0);
}

Result<void> TapeWriter::publish() {
  if (!sink_) return make_error(ErrorKind::Io, "the tape was discarded");
  if (closed_) return {};  // close() published it
  if (auto r = sink_->publish(); !r) return fail(r.error());
  published_ = true;
  return {};
}

void TapeWriter::discard() {
  if (closed_) return;
  (void)stop_worker();
  closed_ = true;
  sink_.reset();  // an unpublished file sink removes its file
}

Result<void> TapeWriter::close() {
  if (closed_) return {};
  BPFTAPE_RETURN_IF_ERROR(check_usable());
  BPFTAPE_RETURN_IF_ERROR(flush_events());
  // Entries nobody referenced yet still belong to the recording's table.
  BPFTAPE_RETURN_IF_ERROR(flush_interned());
  // The index lists every frame: the worker must have written them all.
  BPFTAPE_RETURN_IF_ERROR(stop_worker());

  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Index>();
  const auto& index = impl_->index;
  auto frames = root.initFrames(static_cast<unsigned>(index.size()));
  for (unsigned i = 0; i < index.size(); ++i) {
    frames[i].setOffset(index[i].offset);
    frames[i].setType(index[i].type);
    frames[i].setFirstTimestampNs(index[i].first_timestamp_ns);
    frames[i].setLastTimestampNs(index[i].last_timestamp_ns);
    frames[i].setEventCount(index[i].event_count);
  }
  root.setEventCount(stats_.events);
  root.setLossCount(impl_->lost_events);
  root.setStringCount(impl_->written_strings);
  root.setStackCount(impl_->written_stacks);
  const uint64_t index_offset = stats_.bytes_written;
  BPFTAPE_RETURN_IF_ERROR(write_frame(static_cast<uint8_t>(FrameType::Index), &message, 0, 0, 0));

  std::array<uint8_t, kTrailerSize> trailer{};
  put_u64(trailer.data(), index_offset);
  std::memcpy(trailer.data() + 8, kTrailerMagic.data(), kTrailerMagic.size());
  if (auto r = sink_->write(trailer); !r) return fail(r.error());
  stats_.bytes_written += trailer.size();
  if (auto r = sink_->sync(); !r) return fail(r.error());
  if (auto r = sink_->close(); !r) return fail(r.error());
  closed_ = true;
  return {};
}

}  // namespace otlp::ebpf::tape
