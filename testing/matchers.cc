#include "testing/matchers.h"

#include <fmt/format.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <optional>
#include <string_view>
#include <vector>

#include "core/tracers/syscall_names.h"

namespace bpftape::testing {

using otlp::ebpf::PipelineStats;
using otlp::ebpf::SyscallAggregator;
using otlp::ebpf::SyscallStats;

namespace {

class DeliveredEverythingMatcher : public ::testing::MatcherInterface<const PipelineStats&> {
 public:
  bool MatchAndExplain(const PipelineStats& stats,
                       ::testing::MatchResultListener* listener) const override {
    std::vector<std::string> problems;
    auto check = [&](uint64_t value, std::string_view what) {
      if (value != 0) problems.push_back(fmt::format("{} {}", value, what));
    };
    check(stats.processor.rejected, "rejected");
    check(stats.processor.filtered, "filtered out");
    check(stats.sorter.late_events, "late");
    check(stats.losses.events_lost, "lost before user space");
    if (stats.processor.delivered != stats.source_events) {
      problems.push_back(fmt::format("{} of {} delivered", stats.processor.delivered,
                                     stats.source_events));
    }
    if (!problems.empty()) *listener << "events: " << fmt::format("{}", fmt::join(problems, ", "));
    return problems.empty();
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "delivers every source event: none rejected, filtered, late or lost";
  }
  void DescribeNegationTo(std::ostream* os) const override {
    *os << "misses some source event (rejected, filtered, late or lost)";
  }
};

class CountsSyscallMatcher : public ::testing::MatcherInterface<const SyscallAggregator&> {
 public:
  CountsSyscallMatcher(std::string name, ::testing::Matcher<uint64_t> calls,
                       ::testing::Matcher<uint64_t> errors)
      : name_(std::move(name)), calls_(std::move(calls)), errors_(std::move(errors)) {}

  bool MatchAndExplain(const SyscallAggregator& aggregator,
                       ::testing::MatchResultListener* listener) const override {
    const std::optional<uint32_t> nr = otlp::ebpf::syscall_number(name_);
    if (!nr) {
      *listener << "no syscall is named \"" << name_ << "\"";
      return false;
    }
    uint64_t calls = 0;
    uint64_t errors = 0;
    for (const auto& summary : aggregator.by_syscall()) {
      if (summary.nr == *nr) {
        calls = summary.count;
        errors = summary.errors;
      }
    }
    *listener << name_ << ": " << calls << " calls, " << errors << " errors";
    return calls_.Matches(calls) && errors_.Matches(errors);
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "counts syscall " << name_ << " with calls that ";
    calls_.DescribeTo(os);
    *os << " and errors that ";
    errors_.DescribeTo(os);
  }

 private:
  std::string name_;
  ::testing::Matcher<uint64_t> calls_;
  ::testing::Matcher<uint64_t> errors_;
};

// A JSON value as HasJsonField compares it (see matchers.h).
std::string value_text(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kNumberValue: {
      const double number = value.number_value();
      if (std::trunc(number) == number && std::fabs(number) < 9007199254740992.0) {
        return std::to_string(static_cast<int64_t>(number));
      }
      return fmt::format("{}", number);
    }
    case google::protobuf::Value::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case google::protobuf::Value::kNullValue:
      return "null";
    default: {
      std::string json;
      (void)google::protobuf::util::MessageToJsonString(value, &json);
      return json;
    }
  }
}

class HasJsonFieldMatcher : public ::testing::MatcherInterface<const std::string&> {
 public:
  HasJsonFieldMatcher(std::string path, ::testing::Matcher<std::string> value)
      : path_(std::move(path)), value_(std::move(value)) {}

  bool MatchAndExplain(const std::string& json,
                       ::testing::MatchResultListener* listener) const override {
    google::protobuf::Value root;
    if (auto status = google::protobuf::util::JsonStringToMessage(json, &root); !status.ok()) {
      *listener << "which is not JSON (" << status.message() << ")";
      return false;
    }
    const google::protobuf::Value* at = &root;
    std::string_view rest = path_;
    std::string walked;
    while (!rest.empty()) {
      const size_t dot = rest.find('.');
      const std::string key(rest.substr(0, dot));
      rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
      const google::protobuf::Value* next = nullptr;
      if (at->has_struct_value()) {
        const auto& fields = at->struct_value().fields();
        if (auto it = fields.find(key); it != fields.end()) next = &it->second;
      } else if (at->has_list_value() && !key.empty() &&
                 key.find_first_not_of("0123456789") == std::string::npos && key.size() < 10) {
        const auto& items = at->list_value().values();
        if (const int index = std::stoi(key); index < items.size()) next = &items[index];
      }
      if (next == nullptr) {
        *listener << "which has no \"" << key << "\""
                  << (walked.empty() ? std::string() : " in \"" + walked + "\"");
        return false;
      }
      walked += (walked.empty() ? "" : ".") + key;
      at = next;
    }
    const std::string text = value_text(*at);
    *listener << "whose " << path_ << " is " << text;
    return value_.Matches(text);
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "is JSON whose " << path_ << " ";
    value_.DescribeTo(os);
  }

 private:
  std::string path_;
  ::testing::Matcher<std::string> value_;
};

}  // namespace

::testing::Matcher<const PipelineStats&> DeliveredEverything() {
  return ::testing::MakeMatcher(new DeliveredEverythingMatcher());
}

::testing::Matcher<const SyscallStats&> SyscallStatsAre(::testing::Matcher<uint64_t> syscalls_traced,
                                                        ::testing::Matcher<uint64_t> unique_syscalls,
                                                        ::testing::Matcher<uint64_t> errors) {
  return ::testing::AllOf(
      ::testing::Field("syscalls_traced", &SyscallStats::syscalls_traced, syscalls_traced),
      ::testing::Field("unique_syscalls", &SyscallStats::unique_syscalls, unique_syscalls),
      ::testing::Field("errors", &SyscallStats::errors, errors));
}

::testing::Matcher<const SyscallAggregator&> CountsSyscall(std::string name,
                                                          ::testing::Matcher<uint64_t> calls,
                                                          ::testing::Matcher<uint64_t> errors) {
  return ::testing::MakeMatcher(
      new CountsSyscallMatcher(std::move(name), std::move(calls), std::move(errors)));
}

::testing::Matcher<const std::string&> HasJsonField(std::string path,
                                                    ::testing::Matcher<std::string> value) {
  return ::testing::MakeMatcher(new HasJsonFieldMatcher(std::move(path), std::move(value)));
}

}  // namespace bpftape::testing

namespace otlp::ebpf {

void PrintTo(const SyscallStats& stats, std::ostream* os) {
  *os << "{syscalls_traced=" << stats.syscalls_traced << " unique_syscalls=" << stats.unique_syscalls
      << " errors=" << stats.errors << " filtered_out=" << stats.filtered_out << "}";
}

void PrintTo(const PipelineStats& stats, std::ostream* os) {
  *os << "{source_events=" << stats.source_events << " received=" << stats.processor.received
      << " delivered=" << stats.processor.delivered << " filtered=" << stats.processor.filtered
      << " rejected=" << stats.processor.rejected << " late=" << stats.sorter.late_events
      << " lost=" << stats.losses.events_lost << "}";
}

}  // namespace otlp::ebpf
