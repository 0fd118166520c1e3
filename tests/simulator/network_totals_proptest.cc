// NetworkAggregator's totals (by_pid, route_latencies) are what the report and the OTLP
// metrics read; with keep_completed off they are all that remains of closed connections and
// completed requests. Property: over simulated web traffic with any seed, faults and any stop
// point (connections left open, requests mid-response), the totals of an aggregator that keeps
// nothing equal the totals recomputed from every connection and request a keeping one lists.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "core/pipeline.h"
#include "core/tracers/network_aggregator.h"
#include "simulator/sim_source.h"

namespace bpftape::sim {
namespace {

using namespace otlp::ebpf;

// The totals as the report and the converter computed them before the aggregator kept them.
struct Recomputed {
  std::map<uint32_t, ProcessNetwork> by_pid;
  RouteLatencies routes;
};

Recomputed recompute(const NetworkAggregator& keeping) {
  Recomputed out;
  for (const Connection& c : keeping.connections()) {
    ProcessNetwork& p = out.by_pid[c.pid];
    p.bytes_sent += c.bytes_sent;
    p.bytes_received += c.bytes_received;
    p.retransmits += c.retransmits;
    ++p.connections[{c.role, c.protocol}];
  }
  for (const HttpRequest& r : keeping.http_requests()) {
    if (r.status == 0 || r.end_ns < r.start_ns) continue;
    out.by_pid[r.pid].http[{r.role, r.method, r.status}].record(
        static_cast<double>(r.end_ns - r.start_ns) / 1e9);
    out.routes[HttpRoute{r.method, r.path, r.status}].record(r.end_ns - r.start_ns);
  }
  return out;
}

// Floating-point sums depend on the order requests are added: compare everything else exactly
// and the sums to a relative 1e-9.
void assert_same(const std::map<uint32_t, ProcessNetwork>& got,
                 const std::map<uint32_t, ProcessNetwork>& want) {
  RC_ASSERT(got.size() == want.size());
  for (const auto& [pid, w] : want) {
    const auto it = got.find(pid);
    RC_ASSERT(it != got.end());
    const ProcessNetwork& g = it->second;
    RC_ASSERT(g.bytes_sent == w.bytes_sent);
    RC_ASSERT(g.bytes_received == w.bytes_received);
    RC_ASSERT(g.retransmits == w.retransmits);
    RC_ASSERT(g.connections == w.connections);
    RC_ASSERT(g.http.size() == w.http.size());
    for (const auto& [key, wd] : w.http) {
      const auto h = g.http.find(key);
      RC_ASSERT(h != g.http.end());
      RC_ASSERT(h->second.count == wd.count);
      RC_ASSERT(h->second.buckets == wd.buckets);
      RC_ASSERT(h->second.min == wd.min);
      RC_ASSERT(h->second.max == wd.max);
      RC_ASSERT(std::abs(h->second.sum - wd.sum) <= 1e-9 * std::max(1.0, std::abs(wd.sum)));
    }
  }
}

RC_GTEST_PROP(NetworkTotals, KeepingNothingGivesTheTotalsOfEverythingKept, ()) {
  SimOptions o;
  o.seed = *rc::gen::arbitrary<uint64_t>();
  o.workloads = kWebServer;
  o.faults = *rc::gen::inRange<uint32_t>(0, kTransportFaults + 1);  // tape faults need a tape
  o.cpus = *rc::gen::inRange<uint32_t>(1, 5);
  o.duration_ns = *rc::gen::inRange<uint64_t>(20'000'000, 200'000'000);
  o.web_requests_per_s = *rc::gen::inRange<uint32_t>(100, 5000);
  RC_ASSERT(o.finalize().has_value());
  RC_LOG() << "reproduce: " << o.reproduce_command() << "\n";

  NetworkAggregator keeping, totals_only;
  totals_only.set_keep_completed(false);
  SimSource source(o, nullptr);
  PipelineOptions pipeline_options;
  pipeline_options.reorder_window_ns = kDefaultReorderWindowNs;
  auto pipeline = Pipeline::create(pipeline_options);
  RC_ASSERT(pipeline.has_value());
  (*pipeline)->add_aggregator(keeping);
  (*pipeline)->add_aggregator(totals_only);
  RC_ASSERT((*pipeline)->run(source).has_value());

  RC_ASSERT(keeping.stats().http_requests_not_kept == 0u);
  RC_CLASSIFY(keeping.stats().http_responses > 0, "requests answered");
  RC_CLASSIFY(!totals_only.connections().empty(), "connections left open");
  const Recomputed want = recompute(keeping);
  assert_same(totals_only.by_pid(), want.by_pid);
  assert_same(keeping.by_pid(), want.by_pid);
  RC_ASSERT(totals_only.route_latencies() == want.routes);
  RC_ASSERT(keeping.route_latencies() == want.routes);
  // Keeping nothing: only what is still open is listed.
  for (const Connection& c : totals_only.connections()) RC_ASSERT(c.close_ns == 0u);
  RC_ASSERT(totals_only.stats().http_requests == keeping.stats().http_requests);
}

}  // namespace
}  // namespace bpftape::sim
