// Writes the fuzzer's seed corpus: small tapes covering every frame type, verbatim events,
// losses, a truncated tape and a tape without an index. Frames are declared at 1 MiB so the
// fuzzer's 4 MiB reader cap accepts them. Usage: tape_fuzz_seeds DIR
#include <cstdio>
#include <fstream>

#include "tests/tape/tape_test_util.h"

using namespace otlp::ebpf;
using namespace otlp::ebpf::tape;
using namespace otlp::ebpf::tape::testing;

namespace {

void save(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
}

std::vector<uint8_t> full_tape(size_t events, uint32_t frame_events, bool close) {
  InternTable interns;
  auto stream = mixed_stream(events, &interns);
  stream[events / 2].reserved = 9;  // one verbatim event
  WriterOptions options;
  options.max_frame_bytes = 1u << 20;
  options.frame_bytes = 64 * 1024;
  options.frame_events = frame_events;
  std::vector<uint8_t> bytes;
  auto w = TapeWriter::create(std::make_unique<MemorySink>(&bytes), test_metadata(), interns,
                              options);
  if (!w) return {};
  std::vector<ProcessInfo> procs = {{.pid = 1000, .ppid = 1, .comm = "nginx", .exe = "/usr/sbin/nginx",
                                     .cmdline = {"nginx", "-g"}, .start_ns = 5}};
  (void)(*w)->write_processes(procs);
  std::vector<Mapping> maps = {{1000, 0x400000, 0x500000, 0, "/usr/sbin/nginx", "\x12\x34"}};
  std::vector<Symbol> syms = {{1000, 0x401000, 16, "main"}};
  (void)(*w)->write_symbols(maps, syms);
  (void)(*w)->write_bpf_stats(BpfStatsSnapshot{7, {{"sys_exit", 3, 100, 2, 0}}});
  for (size_t i = 0; i < stream.size(); i += 16) {
    EventBatch b;
    b.events.assign(stream.begin() + i, stream.begin() + std::min(stream.size(), i + 16));
    if (i % 64 == 0) b.losses = {{b.events[0].timestamp_ns, static_cast<uint16_t>(i % 4), i + 1}};
    (void)(*w)->append(b);
  }
  if (close) {
    (void)(*w)->close();
  } else {
    (void)(*w)->flush();
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  save(dir, "mixed-complete.bpftape", full_tape(120, 40, true));
  save(dir, "mixed-one-frame.bpftape", full_tape(30, 1000, true));
  save(dir, "mixed-no-index.bpftape", full_tape(120, 40, false));
  auto cut = full_tape(120, 40, true);
  cut.resize(cut.size() * 3 / 5);
  save(dir, "mixed-truncated.bpftape", cut);
  {
    InternTable interns;
    WriterOptions options;
    options.max_frame_bytes = 1u << 20;
    options.frame_bytes = 64 * 1024;
    std::vector<uint8_t> bytes;
    auto w = TapeWriter::create(std::make_unique<MemorySink>(&bytes), test_metadata(), interns,
                                options);
    (void)(*w)->append(EventBatch{syscall_storm(200), {}});
    (void)(*w)->close();
    save(dir, "syscall-storm.bpftape", bytes);
  }
  return 0;
}
