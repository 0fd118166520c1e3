// The tracers' recorded streams: a tape (replayer/) and a seeded simulation (simulator/).
// Neither needs BPF; each behaves as TracerSource's defaults say (tracers/source.h).
#include <functional>

#include <fmt/format.h>

#include "core/pipeline.h"
#include "replayer/file_source.h"
#include "simulator/sim_source.h"
#include "tracers/source.h"

namespace otlp::ebpf {

Result<void> TracerSource::live_only(std::string_view what) const {
  return make_error(ErrorKind::NotSupported,
                    fmt::format("{} needs a live source: a {} is recorded already (run the "
                                "tracer with the live provider)",
                                what, kind()));
}

namespace {

// Refuses what a recorded stream cannot filter on (its events carry no comm or cgroup).
Result<void> check_recorded_filter(const TaskFilter& filter, std::string_view kind) {
  if (!filter.comm.empty() || filter.cgroup_id != 0) {
    return make_error(ErrorKind::NotSupported,
                      fmt::format("a {} can be filtered by tgid and tid only; comm and cgroup "
                                  "filters need the live provider",
                                  kind));
  }
  return {};
}

// A recorded stream: `Inner` (FileSource or SimSource) until its end or end().
template <typename Inner>
class RecordedSource : public TracerSource {
 public:
  // `symbolize` builds the symbolizer from `inner` when asked (a tape's symbol tables grow as
  // it is read); it may be empty (no symbols).
  RecordedSource(std::unique_ptr<Inner> inner, std::string_view kind, uint64_t window,
                 std::function<Symbolizer(const Inner&)> symbolize)
      : inner_(std::move(inner)), kind_(kind), window_(window), symbolize_(std::move(symbolize)) {}

  Result<bool> next(EventBatch& batch) override {
    if (ended_) {
      batch.clear();
      return false;
    }
    return inner_->next(batch);
  }
  const InternTable& interned() const override { return inner_->interned(); }
  const ProcessTable& processes() const override { return inner_->processes(); }
  ClockReference clock() const override { return inner_->clock(); }
  std::string recording_id() const override { return inner_->recording_id(); }
  std::string_view kind() const override { return kind_; }
  uint64_t reorder_window_ns() const override { return window_; }
  void end() override { ended_ = true; }
  Symbolizer symbolizer() override { return symbolize_ ? symbolize_(*inner_) : Symbolizer{}; }

 private:
  std::unique_ptr<Inner> inner_;
  std::string_view kind_;
  uint64_t window_;
  std::function<Symbolizer(const Inner&)> symbolize_;
};

class TapeProvider : public SourceProvider {
 public:
  explicit TapeProvider(std::string path) : path_(std::move(path)) {}
  Result<std::unique_ptr<TracerSource>> open(const TracerRequest& request) override {
    BPFTAPE_RETURN_IF_ERROR(check_recorded_filter(request.filter, "tape"));
    BPFTAPE_ASSIGN_OR_RETURN(auto file,
                             bpftape::replay::FileSource::open(path_, bpftape::replay::FileSourceOptions{}));
    // The window `bpftape replay` uses: the same tape gives the same results.
    return std::make_unique<RecordedSource<bpftape::replay::FileSource>>(
        std::move(file), "tape", kDefaultReorderWindowNs,
        [](const bpftape::replay::FileSource& f) {
          return Symbolizer(f.reader().symbols(), f.reader().mappings());
        });
  }

 private:
  std::string path_;
};

class SimulationProvider : public SourceProvider {
 public:
  explicit SimulationProvider(const bpftape::sim::SimOptions& options) : options_(options) {}
  Result<std::unique_ptr<TracerSource>> open(const TracerRequest& request) override {
    BPFTAPE_RETURN_IF_ERROR(check_recorded_filter(request.filter, "simulation"));
    bpftape::sim::SimOptions options = options_;
    BPFTAPE_RETURN_IF_ERROR(options.finalize());
    auto sim = std::make_unique<bpftape::sim::SimSource>(options, nullptr);
    // The window `bpftape simulate --check` uses: only injected "beyond the window"
    // reordering makes late events.
    return std::make_unique<RecordedSource<bpftape::sim::SimSource>>(
        std::move(sim), "simulation", options.reorder_window_ns(), nullptr);
  }

 private:
  bpftape::sim::SimOptions options_;
};

}  // namespace

std::unique_ptr<SourceProvider> tape_provider(std::string path) {
  return std::make_unique<TapeProvider>(std::move(path));
}

std::unique_ptr<SourceProvider> simulation_provider(const bpftape::sim::SimOptions& options) {
  return std::make_unique<SimulationProvider>(options);
}

}  // namespace otlp::ebpf
