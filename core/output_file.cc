#include "core/output_file.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <deque>
#include <optional>
#include <utility>

#include <fmt/format.h>

namespace otlp::ebpf {
namespace {

constexpr int kMaxSymlinkHops = 40;  // the kernel's own limit (ELOOP)

std::string dirname_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string basename_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Follows `path` component by component as the kernel would and refuses any symlink that sits in
// a sticky, world-writable directory (/tmp) and belongs to neither us nor that directory's
// owner: what fs.protected_symlinks=1 enforces, enforced here also where the sysctl is 0.
Result<void> check_symlinks(const std::string& path) {
  std::deque<std::string> pending;
  auto push_components = [&pending](const std::string& p, bool front) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= p.size()) {
      size_t slash = p.find('/', start);
      if (slash == std::string::npos) slash = p.size();
      if (slash > start) parts.push_back(p.substr(start, slash - start));
      start = slash + 1;
    }
    if (front) {
      pending.insert(pending.begin(), parts.begin(), parts.end());
    } else {
      pending.insert(pending.end(), parts.begin(), parts.end());
    }
  };
  std::string resolved;
  if (path.starts_with("/")) {
    resolved = "/";
  } else {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == nullptr) return errno_error(ErrorKind::Io, "getcwd", errno);
    resolved = cwd;
  }
  push_components(path, false);
  int hops = 0;
  while (!pending.empty()) {
    std::string component = std::move(pending.front());
    pending.pop_front();
    if (component == ".") continue;
    if (component == "..") {
      resolved = dirname_of(resolved);
      continue;
    }
    std::string candidate = resolved == "/" ? "/" + component : resolved + "/" + component;
    struct stat link{};
    if (lstat(candidate.c_str(), &link) != 0) return {};  // the rest does not exist yet
    if (!S_ISLNK(link.st_mode)) {
      resolved = std::move(candidate);
      continue;
    }
    struct stat dir{};
    if (stat(resolved.c_str(), &dir) != 0) return errno_error(ErrorKind::Io, "stat " + resolved, errno);
    const bool sticky_shared = (dir.st_mode & S_ISVTX) && (dir.st_mode & S_IWOTH);
    if (sticky_shared && link.st_uid != geteuid() && link.st_uid != dir.st_uid) {
      return make_error(ErrorKind::ConfigError,
                        fmt::format("refusing to write through {}: a symlink owned by uid {} in "
                                    "the shared directory {} (someone else may have planted it); "
                                    "remove it or choose another path",
                                    candidate, link.st_uid, resolved));
    }
    if (++hops > kMaxSymlinkHops) {
      return errno_error(ErrorKind::ConfigError, "resolving " + path, ELOOP);
    }
    std::string target(static_cast<size_t>(link.st_size > 0 ? link.st_size : PATH_MAX), '\0');
    const ssize_t n = readlink(candidate.c_str(), target.data(), target.size());
    if (n < 0) return errno_error(ErrorKind::Io, "readlink " + candidate, errno);
    target.resize(static_cast<size_t>(n));
    if (target.starts_with("/")) resolved = "/";
    push_components(target, true);
  }
  return {};
}

// What create() will do with the destination.
struct Destination {
  bool special = false;  // exists and is not a regular file: write in place
};

Result<Destination> examine(const std::string& path, const OutputFileOptions& options) {
  if (path.empty()) return make_error(ErrorKind::ConfigError, "an output path is empty");
  BPFTAPE_RETURN_IF_ERROR(check_symlinks(path));
  struct stat target{};
  const bool exists = stat(path.c_str(), &target) == 0;
  if (exists) {
    for (const auto& input : options.inputs) {
      struct stat in{};
      if (stat(input.c_str(), &in) == 0 && in.st_dev == target.st_dev && in.st_ino == target.st_ino) {
        return make_error(ErrorKind::ConfigError,
                          fmt::format("{} is the same file as the input {}: writing it would "
                                      "destroy the input; choose another output path",
                                      path, input));
      }
    }
  }
  struct stat entry{};
  const bool entry_exists = lstat(path.c_str(), &entry) == 0;
  if (exists && S_ISDIR(target.st_mode)) {
    return make_error(ErrorKind::ConfigError, fmt::format("{} is a directory", path));
  }
  if (exists && S_ISBLK(target.st_mode)) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("{} is a block device: refusing to write an output onto it", path));
  }
  if (exists && S_ISSOCK(target.st_mode)) {
    return make_error(ErrorKind::ConfigError, fmt::format("{} is a socket", path));
  }
  if (exists && !S_ISREG(target.st_mode)) return Destination{.special = true};
  if (entry_exists && !options.overwrite) {
    return make_error(ErrorKind::ConfigError,
                      fmt::format("{} already exists: choose another name or pass --force to "
                                  "replace it",
                                  path));
  }
  const std::string dir = dirname_of(path);
  struct stat dir_stat{};
  if (stat(dir.c_str(), &dir_stat) != 0) {
    return errno_error(ErrorKind::ConfigError, fmt::format("directory {} of {}", dir, path), errno);
  }
  if (!S_ISDIR(dir_stat.st_mode)) {
    return make_error(ErrorKind::ConfigError, fmt::format("{} (in {}) is not a directory", dir, path));
  }
  return Destination{};
}

}  // namespace

Result<void> check_output_path(const std::string& path, const OutputFileOptions& options) {
  BPFTAPE_RETURN_IF_ERROR(examine(path, options));
  return {};
}

Result<OutputFile> OutputFile::create(const std::string& path, const OutputFileOptions& options) {
  BPFTAPE_ASSIGN_OR_RETURN(Destination destination, examine(path, options));
  OutputFile file;
  file.path_ = path;
  file.overwrite_ = options.overwrite;
  if (destination.special) {
    // O_NONBLOCK: a FIFO nobody reads fails at once (ENXIO) instead of blocking forever.
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
      const int err = errno;
      if (err == ENXIO) {
        return make_error(ErrorKind::Io, fmt::format("{} is a FIFO that nobody reads: start its "
                                                     "reader first", path));
      }
      return errno_error(ErrorKind::Io, "open " + path, err);
    }
    file.fd_.reset(fd);
    struct stat st{};
    if (fstat(fd, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode)) {
      return make_error(ErrorKind::Io, fmt::format("{} changed while being opened", path));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    file.in_place_ = true;
    file.published_ = true;
    return file;
  }
  std::string temp = dirname_of(path) + "/." + basename_of(path) + ".XXXXXX.tmp";
  // mkostemps: O_CREAT|O_EXCL with a fresh name; nothing already there is opened or followed.
  int fd = mkostemps(temp.data(), 4, O_CLOEXEC);
  if (fd < 0) return errno_error(ErrorKind::Io, fmt::format("create a file beside {}", path), errno);
  file.fd_.reset(fd);
  file.temp_path_ = std::move(temp);
  if (fchmod(fd, options.mode) != 0) {
    return errno_error(ErrorKind::Io, "chmod " + file.temp_path_, errno);
  }
  return file;
}

OutputFile::OutputFile(OutputFile&& other) noexcept { *this = std::move(other); }

OutputFile& OutputFile::operator=(OutputFile&& other) noexcept {
  if (this != &other) {
    discard();
    path_ = std::move(other.path_);
    temp_path_ = std::exchange(other.temp_path_, {});
    fd_ = std::move(other.fd_);
    stream_ = std::exchange(other.stream_, nullptr);
    in_place_ = other.in_place_;
    overwrite_ = other.overwrite_;
    published_ = other.published_;
    finished_ = std::exchange(other.finished_, true);
  }
  return *this;
}

OutputFile::~OutputFile() { discard(); }

Result<void> OutputFile::write(std::span<const uint8_t> bytes) {
  if (!fd_) return make_error(ErrorKind::Io, fmt::format("write {} after it was closed", path_));
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_.get(), bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(ErrorKind::Io, "write " + path_, errno);
    }
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  return {};
}

Result<void> OutputFile::write(std::string_view text) {
  return write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Result<std::FILE*> OutputFile::stream() {
  if (stream_ != nullptr) return stream_;
  if (!fd_) return make_error(ErrorKind::Io, fmt::format("{} is closed", path_));
  stream_ = fdopen(fd_.get(), "w");
  if (stream_ == nullptr) return errno_error(ErrorKind::Io, "fdopen " + path_, errno);
  fd_.release();  // the stream owns it now
  return stream_;
}

Result<void> OutputFile::sync() {
  const int fd = stream_ != nullptr ? fileno(stream_) : fd_.get();
  if (stream_ != nullptr && std::fflush(stream_) != 0) {
    return errno_error(ErrorKind::Io, "write " + path_, errno);
  }
  if (fd >= 0 && ::fsync(fd) != 0 && errno != EINVAL) {  // EINVAL: not syncable
    return errno_error(ErrorKind::Io, "fsync " + path_, errno);
  }
  return {};
}

Result<void> OutputFile::sync_directory() const {
  // The new directory entry must be durable too, or a crash can lose the whole file.
  UniqueFd dir(::open(dirname_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) ::fsync(dir.get());
  return {};
}

Result<void> OutputFile::publish() {
  if (published_) return {};
  if (temp_path_.empty()) return make_error(ErrorKind::Io, fmt::format("{} was discarded", path_));
  int rc = overwrite_ ? ::rename(temp_path_.c_str(), path_.c_str())
                      : ::renameat2(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, path_.c_str(),
                                    RENAME_NOREPLACE);
  if (rc != 0 && !overwrite_ && errno == EINVAL) {
    // A file system without RENAME_NOREPLACE: link() also refuses an existing name.
    rc = ::link(temp_path_.c_str(), path_.c_str());
    if (rc == 0) ::unlink(temp_path_.c_str());
  }
  if (rc != 0) {
    const int err = errno;
    if (err == EEXIST) {
      return make_error(ErrorKind::Io, fmt::format("{} appeared while this run wrote it: choose "
                                                   "another name or pass --force", path_));
    }
    return errno_error(ErrorKind::Io, fmt::format("rename {} to {}", temp_path_, path_), err);
  }
  temp_path_.clear();
  published_ = true;
  return sync_directory();
}

Result<void> OutputFile::finish() {
  if (finished_) return {};
  std::optional<EbpfError> error;
  auto note = [&](const char* what) {
    if (!error) error = errno_error(ErrorKind::Io, fmt::format("{} {}", what, path_), errno).error();
  };
  if (stream_ != nullptr && std::ferror(stream_)) note("write");
  if (!error) {
    if (auto synced = sync(); !synced) error = synced.error();
  }
  if (stream_ != nullptr) {
    if (std::fclose(std::exchange(stream_, nullptr)) != 0) note("close");
  } else if (fd_.close() != 0) {
    note("close");
  }
  finished_ = true;
  if (!error) {
    if (auto published = publish(); !published) error = published.error();
  }
  if (error) {
    discard();
    return std::unexpected(*error);
  }
  return {};
}

void OutputFile::discard() {
  if (stream_ != nullptr) std::fclose(std::exchange(stream_, nullptr));
  fd_.reset();
  finished_ = true;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
}

}  // namespace otlp::ebpf
