#include "cli/event_selection.h"

#include <charconv>
#include <memory>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

namespace bpftape::cli {

using namespace otlp::ebpf;

void EventSelection::add_options(ArgParser& parser) {
  parser
      .option("type", 't', "T",
              "only events of these types (repeatable, comma-separated): "
              "syscall, cpu_sample, memory_alloc, tcp_connect, ...")
      .option("pid", 'p', "PID", "only events of this process (repeatable)")
      .option("comm", 'c', "NAME", "only events of processes with this name (repeatable)")
      .option("since", 0, "T",
              "skip events before this offset from the first event (1.5, 250ms, 2m)")
      .option("until", 0, "T", "skip events after this offset from the first event");
}

namespace {

constexpr size_t kMaxCommBytes = 15;  // TASK_COMM_LEN - 1: what the kernel keeps of a name

}  // namespace

// Every value must select something that can exist: an empty --type or --comm would select
// nothing (or, for a type list, silently less) and turn a typo into "0 events", exit 0.
Result<EventSelection> EventSelection::from(const ParsedArgs& args) {
  EventSelection s;
  for (const auto& spec : args.all("type")) {
    if (spec.empty()) {
      return make_error(ErrorKind::ConfigError,
                        "--type: empty value; give event types such as syscall or "
                        "cpu_sample,memory_alloc");
    }
    std::string_view rest = spec;
    for (;;) {
      auto comma = rest.find(',');
      std::string_view name = rest.substr(0, comma);
      if (name.empty()) {
        return make_error(ErrorKind::ConfigError,
                          fmt::format("--type: '{}' has an empty type between commas", spec));
      }
      auto type = parse_event_type(name);
      if (!type) {
        return make_error(ErrorKind::ConfigError,
                          fmt::format("--type: unknown event type '{}' (e.g. syscall, "
                                      "cpu_sample, memory_alloc, memory_free, tcp_connect, "
                                      "process_exec)",
                                      name));
      }
      s.types.insert(*type);
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  for (const auto& spec : args.all("pid")) {
    BPFTAPE_ASSIGN_OR_RETURN(uint64_t pid, parse_uint("pid", spec, 0, UINT32_MAX));
    s.pids.insert(static_cast<uint32_t>(pid));
  }
  for (const auto& c : args.all("comm")) {
    if (c.empty() || c.size() > kMaxCommBytes) {
      return make_error(ErrorKind::ConfigError,
                        fmt::format("--comm: '{}' is not a process name; a name (comm) has "
                                    "1 to {} bytes",
                                    c, kMaxCommBytes));
    }
    s.comms.insert(c);
  }
  if (auto v = args.get("since")) {
    BPFTAPE_ASSIGN_OR_RETURN(s.since_ns, parse_duration_ns("since", *v));
  }
  if (auto v = args.get("until")) {
    BPFTAPE_ASSIGN_OR_RETURN(s.until_ns, parse_duration_ns("until", *v));
  }
  if (s.since_ns && s.until_ns && *s.until_ns < *s.since_ns) {
    return make_error(ErrorKind::ConfigError, "--until is before --since");
  }
  return s;
}

EventFilter EventSelection::filter(uint64_t base_ns,
                                   std::function<std::string(uint32_t)> comm_of) const {
  EventFilter f;
  if (!types.empty()) {
    std::vector<EbpfEventType> list(types.begin(), types.end());
    f = f && EventFilter::by_types(list);
  }
  if (!pids.empty()) {
    std::vector<uint32_t> list(pids.begin(), pids.end());
    f = f && EventFilter::by_pids(list);
  }
  if (since_ns || until_ns) {
    uint64_t from = base_ns + since_ns.value_or(0);
    uint64_t to = until_ns ? base_ns + *until_ns + 1 : UINT64_MAX;  // --until is inclusive
    f = f && EventFilter::by_time(from, to);
  }
  if (!comms.empty()) {
    auto cache = std::make_shared<std::unordered_map<uint32_t, bool>>();
    f = f && EventFilter::predicate([cache, comms = comms, comm_of](const EbpfEvent& e) {
          auto [it, inserted] = cache->try_emplace(e.pid, false);
          if (inserted) it->second = comms.contains(comm_of(e.pid));
          return it->second;
        });
  }
  return f;
}

}  // namespace bpftape::cli
