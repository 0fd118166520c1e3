#include "core/report/trace_json.h"

#include <cerrno>
#include <set>

#include <fmt/format.h>

#include "core/json_writer.h"
#include "core/tracers/syscall_names.h"

namespace otlp::ebpf {
namespace {
constexpr size_t kFlushBytes = 1 << 20;

// Trace-event times and durations are microseconds; keep nanosecond precision: "123.456".
std::string us_text(uint64_t ns) { return fmt::format("{}.{:03}", ns / 1000, ns % 1000); }
}  // namespace

Result<std::unique_ptr<TraceJsonWriter>> TraceJsonWriter::open(const std::string& path,
                                                               const OutputFileOptions& options) {
  BPFTAPE_ASSIGN_OR_RETURN(OutputFile file, OutputFile::create(path, options));
  auto writer = std::unique_ptr<TraceJsonWriter>(new TraceJsonWriter(std::move(file)));
  writer->buffer_ = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  return writer;
}

void TraceJsonWriter::begin_event() {
  if (!first_event_) buffer_ += ",\n";
  first_event_ = false;
}

std::string TraceJsonWriter::micros(uint64_t ns) const {
  return us_text(ns >= base_ns_ ? ns - base_ns_ : 0);
}

Result<void> TraceJsonWriter::flush_buffer() {
  if (write_error_) return std::unexpected(*write_error_);
  if (auto written = file_.write(buffer_); !written) {
    write_error_ = written.error();
    return std::unexpected(*write_error_);
  }
  buffer_.clear();
  return {};
}

void TraceJsonWriter::consume(std::span<const EbpfEvent> events, const InternTable& interned) {
  for (const auto& e : events) {
    if (!have_base_) {
      base_ns_ = e.timestamp_ns;
      have_base_ = true;
    }
    switch (e.event_type) {
      case EbpfEventType::Syscall: {
        const auto& s = e.payload.syscall;
        uint64_t entry = e.timestamp_ns >= s.duration_ns ? e.timestamp_ns - s.duration_ns : 0;
        begin_event();
        buffer_ += fmt::format(
            R"({{"ph":"X","cat":"syscall","name":"{}","pid":{},"tid":{},"ts":{},"dur":{},"args":{{"ret":{}}}}})",
            syscall_display_name(s.nr), e.pid, e.tid, micros(entry), us_text(s.duration_ns), s.ret);
        break;
      }
      case EbpfEventType::ProcessFork:
      case EbpfEventType::ProcessExec:
      case EbpfEventType::ProcessExit: {
        begin_event();
        std::string args;
        JsonWriter json(&args);
        json.begin_object();
        if (e.event_type == EbpfEventType::ProcessFork) json.field("child_pid", e.payload.process.child_pid);
        if (e.event_type == EbpfEventType::ProcessExec) json.field("filename", interned.string(e.payload.process.filename));
        if (e.event_type == EbpfEventType::ProcessExit) json.field("exit_code", e.payload.process.exit_code);
        json.end_object();
        buffer_ += fmt::format(R"({{"ph":"i","s":"t","cat":"process","name":"{}","pid":{},"tid":{},"ts":{},"args":{}}})",
                               event_type_name(e.event_type), e.pid, e.tid, micros(e.timestamp_ns), args);
        break;
      }
      default:
        break;
    }
  }
  if (buffer_.size() >= kFlushBytes) (void)flush_buffer();  // an error sticks: finish() reports it
}

Result<void> TraceJsonWriter::finish(const NetworkAggregator* network, const ProcessTable& processes) {
  std::set<std::pair<uint32_t, uint32_t>> threads;
  if (network) {
    for (const auto& r : network->http_requests()) {
      if (r.end_ns == 0) continue;  // never answered: no slice end
      begin_event();
      std::string name;
      append_json_string(&name, r.method + " " + r.path);
      buffer_ += fmt::format(
          R"({{"ph":"X","cat":"http","name":{},"pid":{},"tid":{},"ts":{},"dur":{},"args":{{"http.response.status_code":{},"request_bytes":{},"response_bytes":{}}}}})",
          name, r.pid, r.tid, micros(r.start_ns), us_text(r.end_ns - r.start_ns), r.status,
          r.request_bytes, r.response_bytes);
    }
  }
  for (const auto& p : processes.all()) {
    begin_event();
    std::string name;
    append_json_string(&name, p.comm.empty() ? fmt::format("pid {}", p.pid) : fmt::format("{} ({})", p.comm, p.pid));
    buffer_ += fmt::format(R"({{"ph":"M","name":"process_name","pid":{},"args":{{"name":{}}}}})", p.pid, name);
  }
  buffer_ += "\n]}\n";
  BPFTAPE_RETURN_IF_ERROR(flush_buffer());
  return file_.finish();
}

}  // namespace otlp::ebpf
