// Errors as values: every fallible call in core returns Result<T>.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace otlp::ebpf {

// The seeds' error kinds, plus what the tape and the CLI need. Kept small on purpose: the
// kind says who is at fault (system, permissions, input, our bug); the message says what to do.
enum class ErrorKind {
  UnsupportedPlatform,
  InsufficientPermissions,
  IncompatibleKernel,
  LoadFailed,
  AttachFailed,
  MapOperationFailed,
  EventProcessingFailed,
  ConfigError,
  Io,           // a file or device operation failed (open, write, disk full, ...)
  FormatError,  // input bytes are not what they claim to be (corrupt tape, bad ELF, ...)
  NotSupported  // a valid request that this build or kernel cannot do (yet)
};

std::string_view error_kind_name(ErrorKind kind);

class [[nodiscard]] EbpfError {
 public:
  EbpfError(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  // "<kind>: <message>", the form printed to users.
  std::string to_string() const;

 private:
  ErrorKind kind_;
  std::string message_;
};

template <typename T>
using Result = std::expected<T, EbpfError>;

inline std::unexpected<EbpfError> make_error(ErrorKind kind, std::string message) {
  return std::unexpected(EbpfError(kind, std::move(message)));
}

// Error from the current errno, e.g. errno_error(ErrorKind::Io, "open /tmp/x").
std::unexpected<EbpfError> errno_error(ErrorKind kind, std::string_view what, int err);

}  // namespace otlp::ebpf

// Perfetto's RETURN_IF_ERROR / ASSIGN_OR_RETURN for std::expected.
// BPFTAPE_ASSIGN_OR_RETURN expands to several statements (it declares `lhs` in the enclosing
// scope): never use it as the unbraced body of an if/else/for.
#define BPFTAPE_CONCAT_INNER(a, b) a##b
#define BPFTAPE_CONCAT(a, b) BPFTAPE_CONCAT_INNER(a, b)

#define BPFTAPE_RETURN_IF_ERROR(expr)                                  \
  do {                                                                 \
    if (auto bpftape_status_ = (expr); !bpftape_status_.has_value())  \
      return std::unexpected(std::move(bpftape_status_).error());     \
  } while (0)

#define BPFTAPE_ASSIGN_OR_RETURN(lhs, expr)                                        \
  auto BPFTAPE_CONCAT(bpftape_result_, __LINE__) = (expr);                         \
  if (!BPFTAPE_CONCAT(bpftape_result_, __LINE__).has_value())                      \
    return std::unexpected(std::move(BPFTAPE_CONCAT(bpftape_result_, __LINE__)).error()); \
  lhs = std::move(*BPFTAPE_CONCAT(bpftape_result_, __LINE__))
