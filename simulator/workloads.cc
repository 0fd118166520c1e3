// Workload models: what a web server, a batch job, a leaky allocator, a CPU-bound program and
// a fork/exec storm look like to bpftape's BPF programs. Each workload draws from its own
// random stream ("workload/<name>"), so the faults and the other workloads never change it.
#include <algorithm>
#include <array>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "simulator/world.h"

namespace bpftape::sim {
namespace {

using otlp::ebpf::CpuSampleData;
using otlp::ebpf::EbpfEventType;
using otlp::ebpf::MemoryData;
using otlp::ebpf::MemoryOp;
using otlp::ebpf::NetDirection;
using otlp::ebpf::NetProtocol;
using otlp::ebpf::NetworkData;
using otlp::ebpf::ProcessData;
using otlp::ebpf::ProcessInfo;
using otlp::ebpf::SocketEndpoints;
using otlp::ebpf::StackId;
using otlp::ebpf::StringId;
using otlp::ebpf::SyscallData;

// x86_64 syscall numbers used by the models.
enum Nr : uint32_t {
  kRead = 0, kWrite = 1, kClose = 3, kMmap = 9, kBrk = 12, kClone = 56, kExecve = 59,
  kWait4 = 61, kFsync = 74, kAccept4 = 288, kOpenat = 257,
};
constexpr int64_t kEPERM = 1, kENOENT = 2, kEINTR = 4, kEAGAIN = 11, kEACCES = 13;

struct Thread {
  uint32_t pid;
  uint32_t tid;
  uint16_t cpu;
};

void emit_syscall(World& w, const Thread& t, uint64_t exit_ts, uint32_t nr, int64_t ret,
                  uint64_t duration) {
  w.emit(t.cpu, EbpfEvent::syscall_event(exit_ts, t.pid, t.tid, t.cpu,
                                         SyscallData{.nr = nr, .ret = ret, .duration_ns = duration}));
}

uint64_t duration_ns(Rng& rng, double median_ns) {
  return std::max<uint64_t>(50, static_cast<uint64_t>(rng.lognormal(median_ns, 0.5)));
}

Thread new_thread(World& w, uint32_t pid) {
  uint32_t tid = w.allocate_pid();
  return Thread{pid, tid, static_cast<uint16_t>(tid % w.options().cpus)};
}

uint32_t register_process(World& w, std::string comm, std::string exe,
                          std::vector<std::string> cmdline) {
  uint32_t pid = w.allocate_pid();
  w.processes().upsert(ProcessInfo{.pid = pid, .ppid = 1, .comm = std::move(comm),
                                   .exe = std::move(exe), .cmdline = std::move(cmdline)});
  return pid;
}

// ---------------------------------------------------------------- web server

struct Route {
  std::string_view method;
  std::string_view path;
  int status;
  uint32_t weight;
};
constexpr std::array<Route, 5> kRoutes{{{"GET", "/index.html", 200, 30},
                                        {"GET", "/api/items", 200, 30},
                                        {"POST", "/api/orders", 201, 20},
                                        {"GET", "/healthz", 200, 15},
                                        {"GET", "/missing", 404, 5}}};

constexpr uint32_t kMinResponseBytes = 200;
constexpr uint32_t kMaxResponseBytes = 20000;

// The HTTP lines the payload events carry, each interned once: a line's id is fixed at its
// first use (the id interning it every time would give); later uses index an array instead
// of formatting and hashing the line again.
class HttpLines {
 public:
  StringId request(otlp::ebpf::InternTable& interned, const Route& route) {
    StringId& id = requests_[&route - kRoutes.data()];
    if (id == otlp::ebpf::kNoId) {
      id = intern(interned, "{} {} HTTP/1.1\r\nHost: shop.example\r\n", route.method, route.path);
    }
    return id;
  }
  StringId response(otlp::ebpf::InternTable& interned, int status, uint32_t bytes) {
    std::vector<StringId>& by_bytes = responses_[status_slot(status)];
    if (by_bytes.empty()) by_bytes.resize(kMaxResponseBytes - kMinResponseBytes + 1);
    StringId& id = by_bytes[bytes - kMinResponseBytes];
    if (id == otlp::ebpf::kNoId) {
      id = intern(interned, "HTTP/1.1 {} {}\r\nContent-Length: {}\r\n", status,
                  status < 300 ? "OK" : status == 404 ? "Not Found" : "Error", bytes);
    }
    return id;
  }

 private:
  static constexpr std::array<int, 4> kStatuses{200, 201, 404, 500};  // routes' and 500
  static_assert(std::ranges::all_of(kRoutes, [](const Route& r) {
    return std::ranges::find(kStatuses, r.status) != kStatuses.end();
  }));

  static size_t status_slot(int status) {
    return static_cast<size_t>(std::ranges::find(kStatuses, status) - kStatuses.begin());
  }
  template <typename... Args>
  static StringId intern(otlp::ebpf::InternTable& interned, fmt::format_string<Args...> format,
                         Args&&... args) {
    fmt::memory_buffer line;  // on the stack: these lines are short
    fmt::format_to(std::back_inserter(line), format, std::forward<Args>(args)...);
    return interned.intern_string(std::string_view(line.data(), line.size()));
  }

  std::array<StringId, kRoutes.size()> requests_{};  // kNoId until first used
  std::array<std::vector<StringId>, kStatuses.size()> responses_;  // [status][bytes - min]
};

class WebConnection : public Actor {
 public:
  WebConnection(World& w, Rng& rng, HttpLines& lines, Thread worker, uint64_t socket_id,
                uint32_t index)
      : rng_(rng), lines_(lines), worker_(worker), socket_id_(socket_id) {
    SocketEndpoints ep;
    ep.family = SocketEndpoints::kInet;
    ep.local = {10, 0, 0, 1};
    ep.remote = {10, 1, static_cast<uint8_t>(index >> 8), static_cast<uint8_t>(index)};
    auto encoded = ep.encode();
    endpoints_ = w.interned().intern_string(std::string_view(encoded.data(), encoded.size()));
    remote_port_ = static_cast<uint16_t>(32768 + index % 28000);
    requests_left_ = 1 + static_cast<uint32_t>(
        rng.exponential(w.options().web_requests_per_connection - 1 + 1e-9));
  }

  uint64_t act(World& w, uint64_t now) override {
    switch (state_) {
      case State::Accept: {
        open_ns_ = now;
        w.emit(worker_.cpu, network(EbpfEventType::TcpAccept, now, NetDirection::None, 0, 0));
        emit_syscall(w, worker_, now + 1000, kAccept4, 5, duration_ns(rng_, 4000));
        state_ = State::Request;
        return now + 20'000;
      }
      case State::Request: {
        // HTTP/1.1 pipelining: sometimes the client sends the next request before reading
        // the response; the server answers in order (responses must match FIFO).
        int count = (requests_left_ >= 2 && rng_.chance(0.2)) ? 2 : 1;
        for (int i = 0; i < count; ++i) {
          const Route* route = pick_route();
          in_flight_[in_flight_count_++] = route;
          auto bytes = static_cast<uint32_t>(rng_.between(80, 600));
          received_ += bytes;
          StringId payload = lines_.request(w.interned(), *route);
          uint64_t t = now + static_cast<uint64_t>(i) * 2000;
          w.emit(worker_.cpu, network(EbpfEventType::NetworkPacket, t, NetDirection::Receive, bytes, 0));
          w.emit(worker_.cpu, network(EbpfEventType::NetworkPayload, t + 500, NetDirection::Receive, bytes, payload));
          emit_syscall(w, worker_, t + 600, kRead, bytes, duration_ns(rng_, 2000));
        }
        requests_left_ -= static_cast<uint32_t>(count);
        state_ = State::Respond;
        return now + 5000 + latency(w);
      }
      case State::Respond: {
        const Route* route = in_flight_[0];
        in_flight_[0] = in_flight_[1];
        --in_flight_count_;
        int status = rng_.chance(0.01) ? 500 : route->status;
        auto bytes = static_cast<uint32_t>(rng_.between(kMinResponseBytes, kMaxResponseBytes));
        sent_ += bytes;
        StringId payload = lines_.response(w.interned(), status, bytes);
        w.emit(worker_.cpu, network(EbpfEventType::NetworkPayload, now, NetDirection::Send, bytes, payload));
        w.emit(worker_.cpu, network(EbpfEventType::NetworkPacket, now + 200, NetDirection::Send, bytes, 0));
        emit_syscall(w, worker_, now + 300, kWrite, bytes, duration_ns(rng_, 3000));
        if (in_flight_count_ > 0) return now + 1000 + latency(w);  // next pipelined answer
        if (requests_left_ > 0) {
          state_ = State::Request;
          return now + 1000 + static_cast<uint64_t>(rng_.exponential(1'000'000));
        }
        state_ = State::Close;
        return now + 5000;
      }
      case State::Close: {
        emit_syscall(w, worker_, now, kClose, 0, duration_ns(rng_, 1500));
        NetworkData n = base(NetDirection::None, sent_ + received_, 0);
        n.duration_ns = now + 100 - open_ns_;
        n.tcp_state = 7;  // TCP_CLOSE
        w.emit(worker_.cpu, EbpfEvent::network_event(EbpfEventType::TcpClose, now + 100,
                                                     worker_.pid, worker_.tid, worker_.cpu, n));
        return kDone;
      }
    }
    return kDone;
  }

 private:
  enum class State { Accept, Request, Respond, Close };

  uint64_t latency(World& w) {
    return static_cast<uint64_t>(rng_.lognormal(w.options().web_latency_median_us * 1000.0, 0.6));
  }

  const Route* pick_route() {
    uint32_t total = 0;
    for (const auto& r : kRoutes) total += r.weight;
    auto pick = static_cast<uint32_t>(rng_.below(total));
    for (const auto& r : kRoutes) {
      if (pick < r.weight) return &r;
      pick -= r.weight;
    }
    return &kRoutes[0];
  }
  NetworkData base(NetDirection dir, uint32_t bytes, StringId payload) const {
    NetworkData n{};
    n.socket_id = socket_id_;
    n.bytes = bytes;
    n.endpoints = endpoints_;
    n.payload = payload;
    n.local_port = 8080;
    n.remote_port = remote_port_;
    n.protocol = NetProtocol::Tcp;
    n.direction = dir;
    return n;
  }
  EbpfEvent network(EbpfEventType type, uint64_t ts, NetDirection dir, uint32_t bytes,
                    StringId payload) const {
    return EbpfEvent::network_event(type, ts, worker_.pid, worker_.tid, worker_.cpu,
                                    base(dir, bytes, payload));
  }

  Rng& rng_;
  HttpLines& lines_;
  Thread worker_;
  uint64_t socket_id_;
  StringId endpoints_;
  uint16_t remote_port_;
  uint32_t requests_left_;
  State state_ = State::Accept;
  // Requests read, not yet answered, oldest first: at most two (see Request).
  std::array<const Route*, 2> in_flight_{};
  int in_flight_count_ = 0;
  uint64_t open_ns_ = 0;
  uint32_t sent_ = 0;
  uint32_t received_ = 0;
};

class WebSpawner : public Actor {
 public:
  explicit WebSpawner(World& w) : rng_(w.rng("workload/web")) {
    // A title the process rewrote: one argument with spaces.
    uint32_t pid = register_process(w, "nginx", "/usr/sbin/nginx", {"nginx: worker process"});
    for (uint32_t i = 0; i < w.options().web_workers; ++i) workers_.push_back(new_thread(w, pid));
  }
  uint64_t act(World& w, uint64_t now) override {
    Thread worker = workers_[rng_.below(workers_.size())];
    uint64_t socket_id = 0xffff888000000000ull + (uint64_t{connections_} << 8);
    w.add_actor(std::make_unique<WebConnection>(w, rng_, lines_, worker, socket_id, connections_),
                now);
    ++connections_;
    double per_s = w.options().web_requests_per_s / w.options().web_requests_per_connection;
    return now + 1 + static_cast<uint64_t>(rng_.exponential(1e9 / per_s));
  }

 private:
  Rng& rng_;
  HttpLines lines_;  // shared by its connections, which it outlives (the world owns both)
  std::vector<Thread> workers_;
  uint32_t connections_ = 0;
};

// ---------------------------------------------------------------- file I/O batch job

class FileIoThread : public Actor {
 public:
  FileIoThread(World& w, Thread t) : rng_(w.rng("workload/fileio")), t_(t) {}
  uint64_t act(World& w, uint64_t now) override {
    if (next_step_ == plan_.size()) {
      plan_.clear();
      next_step_ = 0;
      plan_file();
    }
    auto [nr, ret, median] = plan_[next_step_++];
    emit_syscall(w, t_, now, nr, ret, duration_ns(rng_, median));
    double per_thread = w.options().fileio_ops_per_s / 2;
    return now + 1 + static_cast<uint64_t>(rng_.exponential(1e9 / per_thread));
  }

 private:
  void plan_file() {
    if (rng_.chance(0.08)) {  // a file that cannot be opened: missing, or not ours
      constexpr std::array<int64_t, 3> kOpenErrors{kENOENT, kEACCES, kEPERM};
      plan_.push_back({kOpenat, -kOpenErrors[rng_.below(kOpenErrors.size())], 8000});
      return;
    }
    if (rng_.chance(0.02)) plan_.push_back({kRead, -(rng_.chance(0.5) ? kEINTR : kEAGAIN), 500});
    plan_.push_back({kOpenat, 3, 8000});
    for (uint64_t i = rng_.between(1, 8); i > 0; --i) plan_.push_back({kRead, 4096, 6000});
    plan_.push_back({kRead, 0, 1000});  // EOF
    for (uint64_t i = rng_.between(0, 4); i > 0; --i) plan_.push_back({kWrite, 4096, 9000});
    if (rng_.chance(0.3)) plan_.push_back({kFsync, 0, 400'000});
    plan_.push_back({kClose, 0, 1500});
  }
  struct Step {
    uint32_t nr;
    int64_t ret;
    double median_ns;
  };
  Rng& rng_;
  Thread t_;
  std::vector<Step> plan_;  // the current file's syscalls; its capacity is reused
  size_t next_step_ = 0;
};

// ---------------------------------------------------------------- leaky allocator

class Allocator : public Actor {
 public:
  explicit Allocator(World& w) : rng_(w.rng("workload/leak")) {
    uint32_t pid = register_process(w, "leaky", "/opt/app/leaky", {"leaky", "--serve"});
    t_ = new_thread(w, pid);
    // Four call sites; the last one leaks. Frame addresses are those of a small PIE binary.
    const std::array<std::array<uint64_t, 3>, 4> stacks{{{0x401a10, 0x4022f0, 0x401100},
                                                         {0x401b80, 0x4022f0, 0x401100},
                                                         {0x401c44, 0x402410, 0x401100},
                                                         {0x401d02, 0x402588, 0x401100}}};
    for (const auto& s : stacks) stacks_.push_back(w.interned().intern_stack(s));
    for (auto [address, name] : std::initializer_list<std::pair<uint64_t, const char*>>{
             {0x401a00, "parse_request"}, {0x401b00, "build_response"}, {0x401c00, "cache_insert"},
             {0x401d00, "session_new"}, {0x402200, "handle_client"}, {0x402400, "refresh_cache"},
             {0x402500, "accept_loop"}, {0x401100, "main"}}) {
      w.add_symbol(pid, address, 0x100, name);
    }
    next_alloc_ = w.start_ns();
  }

  uint64_t act(World& w, uint64_t now) override {
    if (!frees_.empty() && frees_.top().due <= now) {
      auto f = frees_.top();
      frees_.pop();
      Block& b = blocks_[f.slot];
      emit(w, EbpfEventType::MemoryFree, now, MemoryData{.address = b.address, .op = MemoryOp::Free});
      free_addresses_.push_back(b.address);
      b.live = false;
      free_slots_.push_back(f.slot);
    } else {
      allocate(w, now);
      next_alloc_ = now + 1 + static_cast<uint64_t>(rng_.exponential(1e9 / w.options().allocations_per_s));
    }
    uint64_t next = next_alloc_;
    if (!frees_.empty()) next = std::min(next, frees_.top().due);
    return std::max(next, now + 1);
  }

 private:
  struct Block {
    uint64_t address;
    size_t site;  // call site that allocated it; realloc keeps it
    bool live;
  };
  struct PendingFree {
    uint64_t due;
    uint32_t allocation;  // number of the allocation: orders frees due at the same time
    uint32_t slot;
    bool operator<(const PendingFree& o) const {
      return due != o.due ? due < o.due : allocation < o.allocation;
    }
  };

  void emit(World& w, EbpfEventType type, uint64_t ts, MemoryData data) {
    w.emit(t_.cpu, EbpfEvent::memory_event(type, ts, t_.pid, t_.tid, t_.cpu, data));
  }

  uint64_t fresh_address() {
    if (!free_addresses_.empty()) {  // malloc reuses freed chunks, LIFO like tcache
      uint64_t a = free_addresses_.back();
      free_addresses_.pop_back();
      return a;
    }
    return 0x55d0c0000000ull + 0x40 * next_chunk_++;
  }

  void allocate(World& w, uint64_t now) {
    size_t site = rng_.below(stacks_.size());
    uint64_t size = uint64_t{16} << rng_.below(8);  // 16 B .. 2 KiB
    uint64_t roll = rng_.below(10);
    // realloc grows the most recent block, if live, from the site that allocated it.
    if (roll == 0 && allocations_ > 0 && blocks_[last_slot_].live) {
      Block& b = blocks_[last_slot_];
      uint64_t old = b.address;
      b.address = fresh_address();
      emit(w, EbpfEventType::MemoryAlloc, now,
           MemoryData{.address = b.address, .size = size, .old_address = old,
                      .stack = stacks_[b.site], .op = MemoryOp::Realloc});
      free_addresses_.push_back(old);
      return;
    }
    MemoryOp op = roll == 1 ? MemoryOp::Calloc : MemoryOp::Malloc;
    uint64_t address = fresh_address();
    emit(w, EbpfEventType::MemoryAlloc, now,
         MemoryData{.address = address, .size = size, .stack = stacks_[site], .op = op});
    if (free_slots_.empty()) {
      last_slot_ = static_cast<uint32_t>(blocks_.size());
      blocks_.push_back(Block{address, site, true});
    } else {
      last_slot_ = free_slots_.back();
      free_slots_.pop_back();
      blocks_[last_slot_] = Block{address, site, true};
    }
    uint32_t allocation = allocations_++;
    bool leaks = site == stacks_.size() - 1 && rng_.chance(w.options().leak_probability);
    if (!leaks) {
      uint64_t lifetime = 1 + static_cast<uint64_t>(rng_.exponential(5'000'000));
      frees_.push(PendingFree{now + lifetime, allocation, last_slot_});
    }
  }

  Rng& rng_;
  Thread t_;
  std::vector<StackId> stacks_;
  // Blocks live or leaked; a freed block's slot is reused (a run makes millions of blocks).
  std::vector<Block> blocks_;
  std::vector<uint32_t> free_slots_;
  uint32_t last_slot_ = 0;     // the most recent allocation's block (realloc's candidate)
  uint32_t allocations_ = 0;   // new blocks so far (realloc moves one, it does not count)
  QuadHeap<PendingFree> frees_;
  std::vector<uint64_t> free_addresses_;
  uint64_t next_chunk_ = 0;
  uint64_t next_alloc_;
};

// ---------------------------------------------------------------- CPU-bound program

class CpuSampler : public Actor {
 public:
  CpuSampler(World& w, uint16_t cpu, Thread busy_thread, std::array<StackId, 3> stacks,
             StackId idle_stack)
      : rng_(w.rng("workload/cpu")), cpu_(cpu), busy_(busy_thread), stacks_(stacks),
        idle_stack_(idle_stack) {}
  uint64_t act(World& w, uint64_t now) override {
    // 70% of samples land in the cruncher, with stack weights 50/30/20; the rest are idle.
    if (rng_.chance(0.7)) {
      uint64_t r = rng_.below(10);
      StackId stack = stacks_[r < 5 ? 0 : r < 8 ? 1 : 2];
      w.emit(cpu_, EbpfEvent::cpu_sample(now, busy_.pid, busy_.tid, cpu_, CpuSampleData{stack, otlp::ebpf::kNoId}));
    } else {
      w.emit(cpu_, EbpfEvent::cpu_sample(now, 0, 0, cpu_, CpuSampleData{otlp::ebpf::kNoId, idle_stack_}));
    }
    return now + 1'000'000'000ull / w.options().sample_hz;
  }

 private:
  Rng& rng_;
  uint16_t cpu_;
  Thread busy_;
  std::array<StackId, 3> stacks_;
  StackId idle_stack_;
};

class CpuBoundProgram {
 public:
  static void add(World& w) {
    uint32_t pid = register_process(w, "cruncher", "/opt/app/cruncher",
                                    {"cruncher", "--threads", "all"});
    // main -> run -> {hash, sort, parse}
    const std::array<std::array<uint64_t, 3>, 3> frames{{{0x4011a0, 0x401300, 0x401000},
                                                         {0x4012b0, 0x401300, 0x401000},
                                                         {0x4013c0, 0x401300, 0x401000}}};
    std::array<StackId, 3> stacks;
    for (size_t i = 0; i < frames.size(); ++i) stacks[i] = w.interned().intern_stack(frames[i]);
    for (auto [address, name] : std::initializer_list<std::pair<uint64_t, const char*>>{
             {0x401000, "main"}, {0x401180, "hash_block"}, {0x401280, "sort_keys"},
             {0x401300, "run_worker"}, {0x4013a0, "parse_input"}}) {
      w.add_symbol(pid, address, 0x80, name);
    }
    w.add_symbol(0, 0xffffffff81a2c000ull, 0x200, "do_idle");
    w.add_symbol(0, 0xffffffff81a2c380ull, 0x100, "default_idle");
    const std::array<uint64_t, 2> idle{0xffffffff81a2c3d0ull, 0xffffffff81a2c100ull};
    StackId idle_stack = w.interned().intern_stack(idle);
    uint64_t period = 1'000'000'000ull / w.options().sample_hz;
    for (uint16_t cpu = 0; cpu < w.options().cpus; ++cpu) {
      Thread t{pid, w.allocate_pid(), cpu};
      // Stagger CPUs so samples do not all share one timestamp.
      w.add_actor(std::make_unique<CpuSampler>(w, cpu, t, stacks, idle_stack),
                  w.start_ns() + period * cpu / w.options().cpus + 1);
    }
  }
};

// ---------------------------------------------------------------- fork/exec storm

class Child : public Actor {
 public:
  Child(World& w, Thread parent, uint32_t pid, uint64_t forked_at)
      : rng_(w.rng("workload/forkexec")), parent_(parent), child_{pid, pid, static_cast<uint16_t>(pid % w.options().cpus)},
        forked_at_(forked_at) {}
  uint64_t act(World& w, uint64_t now) override {
    switch (step_++) {
      case 0: {  // exec /bin/true
        StringId comm = w.interned().intern_string("true");
        StringId file = w.interned().intern_string("/bin/true");
        emit_syscall(w, child_, now, kExecve, 0, duration_ns(rng_, 200'000));
        w.emit(child_.cpu, EbpfEvent::process_event(EbpfEventType::ProcessExec, now + 10, child_.pid, child_.tid, child_.cpu,
                                                    ProcessData{.parent_pid = parent_.pid, .comm = comm, .filename = file}));
        w.processes().upsert(ProcessInfo{.pid = child_.pid, .ppid = parent_.pid, .comm = "true",
                                         .exe = "/bin/true", .cmdline = {"/bin/true"}, .start_ns = forked_at_});
        return now + 50'000;
      }
      case 1:
        emit_syscall(w, child_, now, kBrk, 0x5600000, duration_ns(rng_, 1000));
        emit_syscall(w, child_, now + 2000, kMmap, 0x7f0000000000, duration_ns(rng_, 3000));
        return now + 200'000;
      default: {  // exit_group never returns: no syscall event, only the exit
        StringId comm = w.interned().intern_string("true");
        w.emit(child_.cpu, EbpfEvent::process_event(EbpfEventType::ProcessExit, now, child_.pid, child_.tid, child_.cpu,
                                                    ProcessData{.parent_pid = parent_.pid, .comm = comm}));
        w.processes().mark_exit(child_.pid, now, 0);
        w.release_pid(child_.pid);
        emit_syscall(w, parent_, now + 30'000, kWait4, child_.pid, duration_ns(rng_, 20'000));
        return kDone;
      }
    }
  }

 private:
  Rng& rng_;
  Thread parent_;
  Thread child_;
  uint64_t forked_at_;
  int step_ = 0;
};

class ForkSpawner : public Actor {
 public:
  explicit ForkSpawner(World& w) : rng_(w.rng("workload/forkexec")) {
    uint32_t pid = register_process(w, "runner", "/usr/bin/make", {"make", "-j4", "check"});
    parent_ = Thread{pid, pid, static_cast<uint16_t>(pid % w.options().cpus)};
  }
  uint64_t act(World& w, uint64_t now) override {
    uint32_t child = w.allocate_pid();
    StringId comm = w.interned().intern_string("runner");
    emit_syscall(w, parent_, now + 40'000, kClone, child, duration_ns(rng_, 40'000));
    w.emit(parent_.cpu, EbpfEvent::process_event(EbpfEventType::ProcessFork, now, parent_.pid, parent_.tid, parent_.cpu,
                                                 ProcessData{.parent_pid = parent_.pid, .child_pid = child, .comm = comm}));
    w.processes().upsert(ProcessInfo{.pid = child, .ppid = parent_.pid, .comm = "runner", .start_ns = now});
    w.add_actor(std::make_unique<Child>(w, parent_, child, now), now + 100'000);
    return now + 1 + static_cast<uint64_t>(rng_.exponential(1e9 / w.options().forks_per_s));
  }

 private:
  Rng& rng_;
  Thread parent_;
};

}  // namespace

void populate_workloads(World& w) {
  const auto& o = w.options();
  uint64_t t0 = w.start_ns();
  if (o.workloads & kWebServer) w.add_actor(std::make_unique<WebSpawner>(w), t0 + 1);
  if (o.workloads & kFileIo) {
    uint32_t pid = register_process(w, "batchjob", "/usr/local/bin/batchjob", {"batchjob", "--input", "/data"});
    for (int i = 0; i < 2; ++i) w.add_actor(std::make_unique<FileIoThread>(w, new_thread(w, pid)), t0 + 2 + i);
  }
  if (o.workloads & kLeakyAllocator) w.add_actor(std::make_unique<Allocator>(w), t0 + 3);
  if (o.workloads & kCpuBound) CpuBoundProgram::add(w);
  if (o.workloads & kForkExec) w.add_actor(std::make_unique<ForkSpawner>(w), t0 + 4);
}

}  // namespace bpftape::sim
