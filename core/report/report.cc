#include "core/report/report.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/json_writer.h"
#include "core/tracers/syscall_names.h"
#include "core/utf8.h"

namespace otlp::ebpf {
namespace {

// ---- Rows: computed once, rendered as text or JSON. ----

struct SyscallRow {
  std::string name;
  uint64_t calls, errors, p50, p99, max;
};

struct HttpRow {
  std::string method, path;
  int status;
  uint64_t count, p50, p99;
};

struct LeakRow {
  uint32_t pid;
  std::string comm;
  uint64_t bytes, blocks;
  std::string stack;
};

struct FunctionRow {
  std::string function;
  std::string comm;
  uint64_t samples;
};

struct Rows {
  std::vector<SyscallRow> syscalls;
  size_t syscall_kinds = 0;
  std::vector<HttpRow> http;
  size_t http_kinds = 0;
  uint64_t client_connections = 0, server_connections = 0;
  std::vector<LeakRow> leaks;
  std::vector<FunctionRow> functions;
};

std::string comm_of(const ReportInputs& in, uint32_t pid) {
  if (pid == 0) return "[idle]";
  const ProcessInfo* p = in.processes ? in.processes->latest(pid) : nullptr;
  return p && !p->comm.empty() ? p->comm : fmt::format("pid {}", pid);
}

Rows compute_rows(const ReportInputs& in) {
  Rows rows;
  if (in.syscalls) {
    auto all = in.syscalls->by_syscall();
    rows.syscall_kinds = all.size();
    for (size_t i = 0; i < all.size() && i < in.top; ++i) {
      const auto& s = all[i];
      rows.syscalls.push_back({syscall_display_name(s.nr), s.count, s.errors, s.latency.percentile(0.5),
                               s.latency.percentile(0.99), s.latency.max()});
    }
  }
  if (in.network) {
    const auto by_route = in.network->route_latencies();
    rows.http_kinds = by_route.size();
    for (const auto& [route, h] : by_route) {
      rows.http.push_back({route.method, route.path, route.status, h.count(), h.percentile(0.5),
                           h.percentile(0.99)});
    }
    std::stable_sort(rows.http.begin(), rows.http.end(),
                     [](const HttpRow& a, const HttpRow& b) { return a.count > b.count; });
    if (rows.http.size() > in.top) rows.http.resize(in.top);
    for (const auto& [pid, network] : in.network->by_pid()) {
      for (const auto& [key, count] : network.connections) {
        if (key.first == ConnectionRole::Client) rows.client_connections += count;
        if (key.first == ConnectionRole::Server) rows.server_connections += count;
      }
    }
  }
  Symbolizer no_symbols;
  const Symbolizer& symbolizer = in.symbolizer ? *in.symbolizer : no_symbols;
  if (in.memory && in.interned) {
    auto groups = in.memory->outstanding_by_stack();
    for (size_t i = 0; i < groups.size() && i < in.top; ++i) {
      const auto& g = groups[i];
      rows.leaks.push_back({g.pid, comm_of(in, g.pid), g.bytes, g.allocations,
                            describe_stack(*in.interned, symbolizer, g.pid, g.stack, 4)});
    }
  }
  if (in.cpu && in.interned) {
    // Self samples per (leaf function, process name): the innermost frame, user or kernel.
    std::map<std::pair<std::string, std::string>, uint64_t> self;
    for (const auto& s : in.cpu->by_stack()) {
      StackId leaf_stack = s.kernel_stack != kNoId ? s.kernel_stack : s.user_stack;
      auto frames = in.interned->stack(leaf_stack);
      std::string leaf = frames.empty() ? std::string("[unknown]") : symbolizer.name(s.pid, frames[0]);
      self[{leaf, comm_of(in, s.pid)}] += s.count;
    }
    for (const auto& [key, n] : self) rows.functions.push_back({key.first, key.second, n});
    std::stable_sort(rows.functions.begin(), rows.functions.end(),
                     [](const FunctionRow& a, const FunctionRow& b) { return a.samples > b.samples; });
    if (rows.functions.size() > in.top) rows.functions.resize(in.top);
  }
  return rows;
}

double percent(uint64_t part, uint64_t whole) {
  return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

}  // namespace

std::string format_duration_ns(uint64_t ns) {
  if (ns < 1000) return fmt::format("{}ns", ns);
  double v = static_cast<double>(ns);
  auto sig3 = [](double x, const char* unit) {
    return x >= 100 ? fmt::format("{:.0f}{}", x, unit)
         : x >= 10  ? fmt::format("{:.1f}{}", x, unit)
                    : fmt::format("{:.2f}{}", x, unit);
  };
  if (ns < 1'000'000) return sig3(v / 1e3, "us");
  if (ns < 1'000'000'000) return sig3(v / 1e6, "ms");
  return sig3(v / 1e9, "s");
}

std::string format_bytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::string describe_stack(const InternTable& interned, const Symbolizer& symbolizer, uint32_t pid,
                           StackId stack, size_t depth) {
  auto frames = interned.stack(stack);
  if (frames.empty()) return "[no stack]";
  std::string out;
  for (size_t i = 0; i < frames.size() && i < depth; ++i) {
    if (i) out += " <- ";
    out += symbolizer.name(pid, frames[i]);
  }
  if (frames.size() > depth) out += " <- ...";
  return out;
}

// Every string the text report takes from its inputs (names from a tape or a live host, the
// tape's file name, warnings) goes through terminal_safe (`safe` below); the JSON report
// escapes for JSON instead and keeps the strings as they are.
std::string render_report_text(const ReportInputs& in) {
  Rows rows = compute_rows(in);
  const auto& p = in.pipeline;
  auto safe = [](std::string_view text) { return terminal_safe(text); };
  std::string out = fmt::format("bpftape report: {}", safe(in.recording.source));
  if (!in.recording.hostname.empty()) {
    out += fmt::format(" (host {}, kernel {})", safe(in.recording.hostname),
                       safe(in.recording.kernel_release));
  }
  out += "\n";
  out += fmt::format("events: {} delivered, {} filtered out, {} rejected; {} lost before user space "
                     "({} loss records); {} late\n",
                     p.processor.delivered, p.processor.filtered, p.processor.rejected,
                     p.losses.events_lost, p.losses.records, p.sorter.late_events);
  if (!p.losses.lost_by_cpu.empty()) {
    out += "  lost by cpu:";
    for (const auto& [cpu, n] : p.losses.lost_by_cpu) out += fmt::format(" cpu{}={}", cpu, n);
    out += "\n";
  }
  if (in.syscalls && in.syscalls->stats().syscalls_traced) {
    auto s = in.syscalls->stats();
    out += fmt::format("\nsyscalls: {} calls, {} errors, {} kinds (top {})\n", s.syscalls_traced,
                       s.errors, rows.syscall_kinds, rows.syscalls.size());
    out += fmt::format("  {:<20} {:>10} {:>8} {:>9} {:>9} {:>9}\n", "syscall", "calls", "errors",
                       "p50", "p99", "max");
    for (const auto& r : rows.syscalls) {
      out += fmt::format("  {:<20} {:>10} {:>8} {:>9} {:>9} {:>9}\n", safe(r.name), r.calls,
                         r.errors, format_duration_ns(r.p50), format_duration_ns(r.p99),
                         format_duration_ns(r.max));
    }
  }
  if (in.network && (in.network->stats().tcp_connections || in.network->stats().packets_captured)) {
    const auto& n = in.network->stats();
    out += fmt::format("\nnetwork: {} tcp connections ({} client, {} server), {} closed; sent {}, "
                       "received {}; {} retransmits; {} udp sockets\n",
                       n.tcp_connections, rows.client_connections, rows.server_connections,
                       n.connections_closed, format_bytes(n.bytes_sent),
                       format_bytes(n.bytes_received), n.retransmits, n.udp_sessions);
    if (n.http_requests) {
      out += fmt::format("  http: {} requests, {} answered (top {} of {} method/path/status)\n",
                         n.http_requests, n.http_responses, rows.http.size(), rows.http_kinds);
      out += fmt::format("  {:<7} {:<28} {:>6} {:>8} {:>9} {:>9}\n", "method", "path", "status",
                         "count", "p50", "p99");
      for (const auto& r : rows.http) {
        out += fmt::format("  {:<7} {:<28} {:>6} {:>8} {:>9} {:>9}\n", safe(r.method), safe(r.path),
                           r.status, r.count, format_duration_ns(r.p50), format_duration_ns(r.p99));
      }
    }
  }
  if (in.memory && in.memory->stats().allocations) {
    auto m = in.memory->stats();
    out += fmt::format("\nmemory: {} allocations ({}), {} frees ({}), outstanding {} in {} blocks; "
                       "{} frees of unknown blocks\n",
                       m.allocations, format_bytes(m.total_allocated), m.frees,
                       format_bytes(m.total_freed), format_bytes(m.active_bytes),
                       m.active_allocations, m.unmatched_frees);
    if (!rows.leaks.empty()) out += "  outstanding by allocating stack:\n";
    for (const auto& r : rows.leaks) {
      out += fmt::format("  {:>10} in {:>6} blocks  {} ({}): {}\n", format_bytes(r.bytes), r.blocks,
                         safe(r.comm), r.pid, safe(r.stack));
    }
  }
  if (in.cpu && in.cpu->stats().samples) {
    auto c = in.cpu->stats();
    out += fmt::format("\ncpu: {} samples ({:.1f}% idle), {} distinct stacks; top functions (self):\n",
                       c.samples, percent(c.idle_samples, c.samples), c.distinct_stacks);
    for (const auto& r : rows.functions) {
      out += fmt::format("  {:>5.1f}%  {:<40} {}\n", percent(r.samples, c.samples),
                         safe(r.function), safe(r.comm));
    }
  }
  for (const auto& w : in.warnings) out += "\nwarning: " + safe(w) + "\n";
  return out;
}

std::string render_report_json(const ReportInputs& in) {
  Rows rows = compute_rows(in);
  const auto& p = in.pipeline;
  std::string out;
  JsonWriter json(&out);
  json.begin_object();
  json.key("recording").begin_object()
      .field("source", in.recording.source)
      .field("hostname", in.recording.hostname)
      .field("kernel_release", in.recording.kernel_release)
      .field("recording_id", in.recording.recording_id)
      .end_object();
  json.key("events").begin_object()
      .field("received", p.processor.received)
      .field("delivered", p.processor.delivered)
      .field("filtered", p.processor.filtered)
      .field("rejected", p.processor.rejected)
      .field("late", p.sorter.late_events)
      .field("lost", p.losses.events_lost)
      .field("loss_records", p.losses.records);
  json.key("lost_by_cpu").begin_object();
  for (const auto& [cpu, n] : p.losses.lost_by_cpu) json.field(std::to_string(cpu), n);
  json.end_object().end_object();
  if (in.syscalls) {
    auto s = in.syscalls->stats();
    json.key("syscalls").begin_object()
        .field("calls", s.syscalls_traced)
        .field("errors", s.errors)
        .field("kinds", static_cast<uint64_t>(rows.syscall_kinds))
        .key("top").begin_array();
    for (const auto& r : rows.syscalls) {
      json.begin_object().field("name", r.name).field("calls", r.calls).field("errors", r.errors)
          .field("p50_ns", r.p50).field("p99_ns", r.p99).field("max_ns", r.max).end_object();
    }
    json.end_array().end_object();
  }
  if (in.network) {
    const auto& n = in.network->stats();
    json.key("network").begin_object()
        .field("tcp_connections", n.tcp_connections)
        .field("client_connections", rows.client_connections)
        .field("server_connections", rows.server_connections)
        .field("connections_closed", n.connections_closed)
        .field("bytes_sent", n.bytes_sent)
        .field("bytes_received", n.bytes_received)
        .field("retransmits", n.retransmits)
        .field("udp_sockets", n.udp_sessions)
        .field("http_requests", n.http_requests)
        .field("http_responses", n.http_responses)
        .key("http_top").begin_array();
    for (const auto& r : rows.http) {
      json.begin_object().field("method", r.method).field("path", r.path).field("status", r.status)
          .field("count", r.count).field("p50_ns", r.p50).field("p99_ns", r.p99).end_object();
    }
    json.end_array().end_object();
  }
  if (in.memory) {
    auto m = in.memory->stats();
    json.key("memory").begin_object()
        .field("allocations", m.allocations)
        .field("bytes_allocated", m.total_allocated)
        .field("frees", m.frees)
        .field("bytes_freed", m.total_freed)
        .field("outstanding_blocks", m.active_allocations)
        .field("outstanding_bytes", m.active_bytes)
        .field("unmatched_frees", m.unmatched_frees)
        .key("outstanding_by_stack").begin_array();
    for (const auto& r : rows.leaks) {
      json.begin_object().field("pid", r.pid).field("comm", r.comm).field("bytes", r.bytes)
          .field("blocks", r.blocks).field("stack", r.stack).end_object();
    }
    json.end_array().end_object();
  }
  if (in.cpu) {
    auto c = in.cpu->stats();
    json.key("cpu").begin_object()
        .field("samples", c.samples)
        .field("idle_samples", c.idle_samples)
        .field("distinct_stacks", c.distinct_stacks)
        .key("top_functions").begin_array();
    for (const auto& r : rows.functions) {
      json.begin_object().field("function", r.function).field("comm", r.comm)
          .field("samples", r.samples).end_object();
    }
    json.end_array().end_object();
  }
  json.key("warnings").begin_array();
  for (const auto& w : in.warnings) json.value(w);
  json.end_array().end_object();
  out += '\n';
  return out;
}

}  // namespace otlp::ebpf
