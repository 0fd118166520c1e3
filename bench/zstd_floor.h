// The decompression floor every read/replay benchmark compares with: the zstd frames of a tape,
// taken out of it, decompressed by libzstd in-process and by the `zstd -d` CLI, in the same run
// as the thing measured. Benchmarks only; header-only so each suite stays one file.
#pragma once

#include <benchmark/benchmark.h>
#include <zstd.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/tape/format.h"
#include "core/tape/writer.h"

namespace otlp::ebpf::tape::bench {

// A path in /tmp for one input tape of this benchmark process (`stem` names it), removed with
// its ".zst" copy when the process exits. The pid in it keeps concurrent runs (two developers,
// or a report and a check on one machine) from rewriting each other's inputs mid-read.
inline std::string scratch_tape_path(const std::string& stem) {
  struct Cleanup {
    std::vector<std::string> paths;
    ~Cleanup() {
      for (const auto& p : paths) {
        std::remove(p.c_str());
        std::remove((p + ".zst").c_str());
      }
    }
  };
  static Cleanup cleanup;
  std::string path = "/tmp/bpftape-bench-" + std::to_string(getpid()) + "-" + stem + ".bpftape";
  cleanup.paths.push_back(path);
  return path;
}

struct ZstdFrames {
  std::vector<std::vector<uint8_t>> frames;  // each one zstd frame, as stored in the tape
  std::string zst_path;                      // the same frames concatenated: a valid .zst file
  uint64_t tape_bytes = 0;                   // size of the whole tape file
};

// Reads `tape_path`, keeps its event/record frames' zstd payloads, and writes them to
// `tape_path + ".zst"`. Throws on an unreadable file (benchmark setup, not product code).
inline ZstdFrames extract_zstd_frames(const std::string& tape_path) {
  std::ifstream in(tape_path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + tape_path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  ZstdFrames out;
  out.tape_bytes = bytes.size();
  out.zst_path = tape_path + ".zst";
  std::ofstream zst(out.zst_path, std::ios::binary | std::ios::trunc);
  for (size_t off = kFileHeaderSize; off + kFrameHeaderSize <= bytes.size();) {
    if (std::memcmp(bytes.data() + off, kFrameMagic.data(), 4) != 0) break;  // the trailer
    uint32_t stored = get_u32(bytes.data() + off + 8);
    const uint8_t* p = bytes.data() + off + kFrameHeaderSize;
    out.frames.emplace_back(p, p + stored);
    zst.write(reinterpret_cast<const char*>(p), stored);
    off += kFrameHeaderSize + stored;
  }
  return out;
}

// libzstd over the frames, nothing else: one pass per iteration.
inline void decompress_in_process(benchmark::State& state, const ZstdFrames& z) {
  std::vector<uint8_t> out(WriterOptions{}.max_frame_bytes);
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  for (auto _ : state) {
    for (const auto& f : z.frames) {
      size_t n = ZSTD_decompressDCtx(dctx, out.data(), out.size(), f.data(), f.size());
      if (ZSTD_isError(n)) state.SkipWithError(ZSTD_getErrorName(n));
      benchmark::DoNotOptimize(n);
    }
  }
  ZSTD_freeDCtx(dctx);
}

// The floor as the issues state it: the `zstd -d` CLI on the same compressed bytes.
inline void decompress_with_cli(benchmark::State& state, const ZstdFrames& z) {
  std::string cmd = "zstd -q -d -c " + z.zst_path + " > /dev/null";
  for (auto _ : state) {
    if (std::system(cmd.c_str()) != 0) state.SkipWithError("zstd -d failed");
  }
}

}  // namespace otlp::ebpf::tape::bench
