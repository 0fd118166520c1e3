// The one owner of a file descriptor in bpftape (KJ's AutoCloseFd): every fd that core, the
// recorder or the kernel layer opens lives in a UniqueFd, so no error path leaks one.
#pragma once

#include <unistd.h>

#include <utility>

namespace otlp::ebpf {

// A file descriptor; -1 when empty. Move-only; closes on destruction. `close()` is for callers
// that must see the close's own error (a file being written: NFS and full disks report there).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Closes now and returns close()'s result (0, or -1 with errno set); empty afterwards.
  int close() { return fd_ >= 0 ? ::close(std::exchange(fd_, -1)) : 0; }

 private:
  int fd_ = -1;
};

}  // namespace otlp::ebpf
