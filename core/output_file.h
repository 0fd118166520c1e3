// Creating an output file safely when the writer may be root and the destination may be
// hostile: every file bpftape writes (tapes, folded stacks, trace JSON, pprof, OTLP/JSON)
// goes through OutputFile.
//
// The rules (docs/outputs.md):
//  - never write over an input of the same run (same device + inode, whatever the path says);
//  - never replace an existing file unless the user said --force;
//  - never write through a planted symlink: a regular file is written to a new temporary file
//    beside the destination (created with O_EXCL, so nothing at that name is followed) and
//    renamed over the destination when done — a symlink at the destination is replaced, its
//    target is never touched, and a reader of the destination sees the old file or the whole
//    new one, never a half-written one;
//  - an existing special file (/dev/null, /dev/stdout, a FIFO, a terminal) is written in
//    place, but only when the path reaches it through symlinks nobody else planted (the rule
//    of the kernel's fs.protected_symlinks, applied whatever that sysctl says);
//  - permissions 0600: outputs hold command lines, host names and addresses.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace otlp::ebpf {

struct OutputFileOptions {
  bool overwrite = false;            // --force: an existing file may be replaced
  std::vector<std::string> inputs;   // files this run reads: never written over
  mode_t mode = 0600;
};

// Checks, before any work starts, that `path` can be written under `options`: not an input, not
// an existing file without overwrite, not a directory, its directory exists, no untrusted symlink.
// OutputFile::create makes the same checks; this is for commands that want to fail early.
Result<void> check_output_path(const std::string& path, const OutputFileOptions& options);

// One output being written. Move-only. Lifetime: until finish() (or publish()) succeeds the
// data lives in a temporary file `.<name>.XXXXXX.tmp` beside the destination, which the
// destructor removes — an output whose run failed leaves nothing behind (a SIGKILLed run can
// leave the temporary file). Special files are written in place and need no publishing.
class OutputFile {
 public:
  static Result<OutputFile> create(const std::string& path, const OutputFileOptions& options);
  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&& other) noexcept;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile();

  const std::string& path() const { return path_; }  // the destination, as given
  int fd() const { return fd_.get(); }                // -1 once a stdio stream owns it
  bool is_regular() const { return !in_place_; }      // false: a special file written in place

  // Writes all of `bytes` (short writes and EINTR retried). Not for use after stream().
  Result<void> write(std::span<const uint8_t> bytes);
  Result<void> write(std::string_view text);
  // A buffered stdio stream over the file, for writers that stream many small pieces; it then
  // owns the descriptor, and finish() flushes and closes it. The pointer lives as long as
  // this object and must not be fclose()d by the caller.
  Result<std::FILE*> stream();
  // Makes what was written so far durable (fsync; a pipe or /dev/null has nothing to sync).
  Result<void> sync();
  // Makes the file visible at its destination now, while writing goes on (a recording tape:
  // a killed recorder must leave its tape at the name the user gave). Idempotent.
  Result<void> publish();
  // Flushes, fsyncs and closes the file and publishes it. The first write, flush or close
  // error is returned (disk full); an unpublished file is then removed, a published one (a
  // tape) stays with what reached it.
  Result<void> finish();
  // Gives up: closes the file and removes it unless it was published.
  void discard();

 private:
  OutputFile() = default;
  Result<void> sync_directory() const;

  std::string path_;       // destination
  std::string temp_path_;  // empty when written in place or after publishing
  UniqueFd fd_;
  std::FILE* stream_ = nullptr;  // owns the descriptor when set
  bool in_place_ = false;
  bool overwrite_ = false;
  bool published_ = false;
  bool finished_ = false;
};

}  // namespace otlp::ebpf
