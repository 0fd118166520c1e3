// `bpftape cat FILE`: one event per line, for people or (--json) for jq, with filters on type,
// pid, comm and time. Loss records are printed too (nothing is lost silently) unless a type,
// pid or comm filter is given. Works on truncated tapes.
#include <cstdio>
#include <unordered_map>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/event_selection.h"
#include "core/json_writer.h"
#include "core/payload_fields.h"
#include "core/tape/reader.h"
#include "core/tracers/syscall_names.h"
#include "core/utf8.h"

namespace bpftape::cli {
namespace {

using namespace otlp::ebpf;
using tape::TapeReader;

class Printer {
 public:
  Printer(const TapeReader& reader, bool json) : reader_(reader), json_(json) {}

  // The comm of an event's process: the latest exec event seen, else the process table's
  // incarnation of the pid alive at the event's time.
  std::string_view comm_of(const EbpfEvent& e) const {
    if (auto it = comms_.find(e.pid); it != comms_.end()) return it->second;
    const ProcessInfo* p = reader_.processes().lookup(e.pid, e.timestamp_ns);
    return p != nullptr ? std::string_view(p->comm) : std::string_view();
  }
  void observe(const EbpfEvent& e) {
    if (e.event_type == EbpfEventType::ProcessExec || e.event_type == EbpfEventType::ProcessFork) {
      auto comm = reader_.interns().string(e.payload.process.comm);
      if (!comm.empty()) {
        comms_[e.event_type == EbpfEventType::ProcessFork ? e.payload.process.child_pid : e.pid] =
            std::string(comm);
      }
    }
  }

  void event(const EbpfEvent& e, std::string* out) const {
    if (json_) {
      JsonWriter j(out);
      j.begin_object()
          .field("ts", e.timestamp_ns)
          .field("cpu", e.cpu)
          .field("pid", e.pid)
          .field("tid", e.tid)
          .field("comm", comm_of(e))
          .field("type", event_type_name(e.event_type));
      for (const PayloadField& f : payload_layout(payload_kind(e.event_type)).fields) {
        json_field(e, f, j);
      }
      j.end_object();
      *out += '\n';
      return;
    }
    // Names from the tape go through terminal_safe: a comm like ESC "]0;x" BEL must not reach
    // the reader's terminal as a control sequence, nor a newline forge a line.
    auto comm = comm_of(e);
    *out += fmt::format("{}.{:09} [{:03}] {:>7}/{:<7} {:<15} {:<14}",
                        e.timestamp_ns / 1'000'000'000, e.timestamp_ns % 1'000'000'000, e.cpu,
                        e.pid, e.tid, comm.empty() ? std::string("?") : terminal_safe(comm),
                        event_type_name(e.event_type));
    for (const PayloadField& f : payload_layout(payload_kind(e.event_type)).fields) {
      text_field(e, f, out);
    }
    *out += '\n';
  }

  void loss(const LossRecord& l, std::string* out) const {
    if (json_) {
      JsonWriter j(out);
      j.begin_object().field("ts", l.timestamp_ns).field("cpu", l.cpu).field("type", "Loss")
          .field("lost", l.count).end_object();
      *out += '\n';
      return;
    }
    *out += fmt::format("{}.{:09} [{:03}] LOST {} events (ring buffer overflow)\n",
                        l.timestamp_ns / 1'000'000'000, l.timestamp_ns % 1'000'000'000, l.cpu,
                        l.count);
  }

 private:
  // One payload field, as its table entry says (core/payload_fields.h).
  void json_field(const EbpfEvent& e, const PayloadField& f, JsonWriter& j) const {
    const auto& interns = reader_.interns();
    const uint64_t bits = field_bits(e, f);
    switch (f.format) {
      case FieldFormat::Decimal:
      case FieldFormat::Enum:
        if (f.is_signed) {
          j.field(f.name, field_signed(e, f));
        } else {
          j.field(f.name, bits);
        }
        break;
      case FieldFormat::Hex: j.field(f.name, fmt::format("{:#x}", bits)); break;
      case FieldFormat::SyscallNumber:
        j.field(f.name, bits).field("name", syscall_display_name(static_cast<uint32_t>(bits)));
        break;
      case FieldFormat::StringId:
        j.field(f.name, interns.string(static_cast<StringId>(bits)));
        break;
      case FieldFormat::StackId:
        j.key(f.name).begin_array();
        for (uint64_t pc : interns.stack(static_cast<StackId>(bits))) {
          j.value(fmt::format("{:#x}", pc));
        }
        j.end_array();
        break;
      case FieldFormat::Endpoints:
        if (auto ep = SocketEndpoints::decode(interns.string(static_cast<StringId>(bits)))) {
          j.field("local_address", SocketEndpoints::format_address(ep->family, ep->local))
              .field("remote_address", SocketEndpoints::format_address(ep->family, ep->remote));
        }
        break;
      case FieldFormat::BlobLength:
        j.field(f.name, interns.string(static_cast<StringId>(bits)).size());
        break;
    }
  }

  // " label=value"; nothing for a zero field whose zero means absent.
  void text_field(const EbpfEvent& e, const PayloadField& f, std::string* out) const {
    const auto& interns = reader_.interns();
    const uint64_t bits = field_bits(e, f);
    if (f.zero_is_absent && bits == 0) return;
    switch (f.format) {
      case FieldFormat::Decimal:
        if (f.is_signed) {
          *out += fmt::format(" {}={}", f.label(), field_signed(e, f));
        } else {
          *out += fmt::format(" {}={}", f.label(), bits);
        }
        break;
      case FieldFormat::Hex: *out += fmt::format(" {}={:#x}", f.label(), bits); break;
      case FieldFormat::SyscallNumber:
        *out += fmt::format(" {}={}", f.label(), syscall_display_name(static_cast<uint32_t>(bits)));
        break;
      case FieldFormat::Enum:
        if (auto name = f.value_name(bits); !name.empty()) {
          *out += fmt::format(" {}={}", f.label(), name);
        } else {
          *out += fmt::format(" {}={}", f.label(), bits);
        }
        break;
      case FieldFormat::StringId:
        *out += fmt::format(" {}={}", f.label(),
                            terminal_safe(interns.string(static_cast<StringId>(bits))));
        break;
      case FieldFormat::StackId:
        *out += fmt::format(" {}={} frames", f.label(),
                            interns.stack(static_cast<StackId>(bits)).size());
        break;
      case FieldFormat::Endpoints:
        if (auto ep = SocketEndpoints::decode(interns.string(static_cast<StringId>(bits)))) {
          *out += fmt::format(" {}={}->{}", f.label(),
                              SocketEndpoints::format_address(ep->family, ep->local),
                              SocketEndpoints::format_address(ep->family, ep->remote));
        }
        break;
      case FieldFormat::BlobLength:
        *out += fmt::format(" {}={}", f.label(),
                            interns.string(static_cast<StringId>(bits)).size());
        break;
    }
  }

  const TapeReader& reader_;
  bool json_;
  std::unordered_map<uint32_t, std::string> comms_;
};

}  // namespace

int run_cat(const Args& args) {
  ArgParser parser("bpftape cat",
                   "FILE [--json] [--type T]... [--pid P]... [--comm C]... [--since T] [--until T]",
                   "Prints a tape's events, one per line, in tape order. Loss records are printed "
                   "as LOST lines\nunless a --type, --pid or --comm filter is given. Times for "
                   "--since/--until are offsets from\nthe first event: 1.5 (seconds), 250ms, "
                   "10us, 42ns.");
  parser.flag("json", 0, "one JSON object per line");
  EventSelection::add_options(parser);
  parser.positionals(1, "FILE: the .bpftape file")
      .epilog(
          "exit status: 0 when the tape was read (a truncated tape prints a warning), 1 when "
          "it is unreadable or damaged or stdout could not be written, 2 on bad usage");
  auto parsed = parse_or_exit(parser, args);
  if (!parsed) return parsed.error();
  auto usage = [](const std::string& msg) {
    std::fprintf(stderr, "bpftape cat: %s (see 'bpftape cat --help')\n", msg.c_str());
    return kExitUsage;
  };
  if (parsed->positionals().size() != 1) return usage("expected one FILE");
  auto selection = EventSelection::from(*parsed);
  if (!selection) return usage(selection.error().message());
  const EventSelection& f = *selection;
  // Loss records have no process: a type, pid or comm filter selects events only.
  const bool events_only = !f.types.empty() || !f.pids.empty() || !f.comms.empty();

  const std::string& path = parsed->positionals()[0];
  tape::ReaderOptions options;
  options.decode_threads = 2;
  auto opened = TapeReader::open(path, options);
  if (!opened) {
    std::fprintf(stderr, "bpftape cat: %s: %s\n", path.c_str(), opened.error().to_string().c_str());
    return kExitFailure;
  }
  TapeReader& reader = **opened;
  // With an index the first event's time is known up front, so --since seeks past the frames
  // before it instead of decoding them.
  std::optional<uint64_t> base;
  if (reader.index()) {
    for (const auto& e : reader.index()->frames) {
      if (e.event_count > 0) base = std::min(base.value_or(UINT64_MAX), e.first_timestamp_ns);
    }
    if (base && f.since_ns) {
      if (auto r = reader.seek(*base + *f.since_ns); !r) {
        std::fprintf(stderr, "bpftape cat: %s: %s\n", path.c_str(), r.error().to_string().c_str());
        return kExitFailure;
      }
    }
  }

  Printer printer(reader, parsed->has("json"));
  std::string out;
  EventBatch batch;
  std::optional<EbpfError> error;
  bool stop = false;
  while (!stop) {
    auto more = reader.next(&batch);
    if (!more) {
      error = more.error();
      break;
    }
    if (!*more) break;
    if (!base && !batch.events.empty()) {
      base = batch.events.front().timestamp_ns;
      for (const auto& e : batch.events) *base = std::min(*base, e.timestamp_ns);
    }
    auto in_window = [&](uint64_t ts) {
      if (!base) return true;
      if (f.since_ns && ts < *base + *f.since_ns) return false;
      if (f.until_ns && ts > *base + *f.until_ns) return false;
      return true;
    };
    for (const auto& e : batch.events) {
      printer.observe(e);
      if (!in_window(e.timestamp_ns)) {
        // Events are in time order per CPU, not globally: stop only well past --until.
        if (f.until_ns && e.timestamp_ns > *base + *f.until_ns + 1'000'000'000) stop = true;
        continue;
      }
      if (!f.types.empty() && !f.types.contains(e.event_type)) continue;
      if (!f.pids.empty() && !f.pids.contains(e.pid)) continue;
      if (!f.comms.empty() && !f.comms.contains(std::string(printer.comm_of(e)))) continue;
      printer.event(e, &out);
    }
    if (!events_only) {
      for (const auto& l : batch.losses) {
        if (in_window(l.timestamp_ns)) printer.loss(l, &out);
      }
    }
    // A failed write (a full disk; a closed pipe when SIGPIPE is ignored) ends the run here, not
    // after formatting the rest of the tape; main() reports it and sets the exit status.
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::ferror(stdout)) {
      break;
    }
    out.clear();
  }
  std::fflush(stdout);
  for (const auto& w : reader.warnings()) {
    std::fprintf(stderr, "bpftape cat: warning: %s\n", w.c_str());
  }
  if (error) {
    std::fprintf(stderr, "bpftape cat: %s: %s\n", path.c_str(), error->to_string().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace bpftape::cli
