// Writes every crafted tape of tests/tape/hostile_tapes.h into DIR (NAME.bpftape), for trying
// them by hand and as fuzzing seeds. Usage: make_hostile_tapes DIR [NAME...]
#include <cstdio>
#include <fstream>

#include "tests/tape/hostile_tapes.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [NAME...]\n", argv[0]);
    return 2;
  }
  for (const auto& tape : otlp::ebpf::tape::hostile::all_hostile_tapes()) {
    bool wanted = argc == 2;
    for (int i = 2; i < argc; ++i) wanted |= tape.name == argv[i];
    if (!wanted) continue;
    auto bytes = tape.make();
    std::string path = std::string(argv[1]) + "/" + tape.name + ".bpftape";
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
    std::printf("%-26s %10zu bytes  %s\n", path.c_str(), bytes.size(), tape.what.c_str());
  }
  return 0;
}
