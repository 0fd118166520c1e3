// Fixture files for the recorder's unit tests (fake /proc trees, kallsyms): one writer.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace bpftape::record::testing {

// Writes `text` to `path`, creating the directories above it.
inline void write_file(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace bpftape::record::testing
