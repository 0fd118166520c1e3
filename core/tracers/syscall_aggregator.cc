#include "core/tracers/syscall_aggregator.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/tracers/syscall_names.h"

namespace otlp::ebpf {
namespace {

void sort_by_count(std::vector<SyscallSummary>& rows) {
  std::sort(rows.begin(), rows.end(), [](const SyscallSummary& a, const SyscallSummary& b) {
    return a.count != b.count ? a.count > b.count : a.nr < b.nr;
  });
}

}  // namespace

void SyscallAggregator::consume(std::span<const EbpfEvent> events, const InternTable&) {
  for_each_of_kind<PayloadKind::Syscall>(events, [this](const EbpfEvent& e) {
    const SyscallData& s = e.payload.syscall;
    if (s.nr >= kMaxSyscalls) return;  // validate_event rejects these upstream
    if (disabled_[s.nr]) {
      ++filtered_out_;
      return;
    }
    if (!cached_process_ || cached_pid_ != e.pid) [[unlikely]] {
      cached_process_ = &processes_[e.pid];  // unordered_map nodes are stable
      cached_pid_ = e.pid;
    }
    auto& rows = cached_process_->by_nr;
    if (s.nr >= rows.size()) [[unlikely]] {
      size_t old = rows.size();
      rows.resize(s.nr + 1);
      for (size_t i = old; i < rows.size(); ++i) rows[i].nr = static_cast<uint32_t>(i);
    }
    SyscallSummary& row = rows[s.nr];
    ++row.count;
    row.latency.record(s.duration_ns);
    const uint64_t error = is_error(s.ret);
    row.errors += error;
    errors_ += error;
    seen_[s.nr] = true;
    ++traced_;
  });
}

Result<void> SyscallAggregator::filter_syscall(std::string_view name, bool enabled) {
  auto nr = syscall_number(name);
  if (!nr || *nr >= kMaxSyscalls) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("unknown syscall '{}': use an x86_64 name such as 'openat', "
                                  "or 'syscall_<number>'",
                                  name));
  }
  disabled_.set(*nr, !enabled);
  return {};
}

SyscallStats SyscallAggregator::stats() const {
  return SyscallStats{traced_, seen_.count(), errors_, filtered_out_};
}

std::vector<SyscallSummary> SyscallAggregator::by_syscall() const {
  std::vector<SyscallSummary> totals(kMaxSyscalls);
  for (uint32_t nr = 0; nr < kMaxSyscalls; ++nr) totals[nr].nr = nr;
  for (const auto& [pid, process] : processes_) {
    for (const auto& row : process.by_nr) {
      if (row.count == 0) continue;
      auto& total = totals[row.nr];
      total.count += row.count;
      total.errors += row.errors;
      total.latency.merge(row.latency);
    }
  }
  std::erase_if(totals, [](const SyscallSummary& row) { return row.count == 0; });
  sort_by_count(totals);
  return totals;
}

std::vector<SyscallSummary> SyscallAggregator::for_pid(uint32_t pid) const {
  auto it = processes_.find(pid);
  if (it == processes_.end()) return {};
  std::vector<SyscallSummary> rows;
  for (const auto& row : it->second.by_nr) {
    if (row.count > 0) rows.push_back(row);
  }
  sort_by_count(rows);
  return rows;
}

std::vector<uint32_t> SyscallAggregator::pids() const {
  std::vector<uint32_t> out;
  for (const auto& [pid, process] : processes_) out.push_back(pid);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace otlp::ebpf
