#include "core/error.h"

#include <cstring>

namespace otlp::ebpf {

std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::UnsupportedPlatform: return "unsupported platform";
    case ErrorKind::InsufficientPermissions: return "insufficient permissions";
    case ErrorKind::IncompatibleKernel: return "incompatible kernel";
    case ErrorKind::LoadFailed: return "load failed";
    case ErrorKind::AttachFailed: return "attach failed";
    case ErrorKind::MapOperationFailed: return "map operation failed";
    case ErrorKind::EventProcessingFailed: return "event processing failed";
    case ErrorKind::ConfigError: return "config error";
    case ErrorKind::Io: return "I/O error";
    case ErrorKind::FormatError: return "format error";
    case ErrorKind::NotSupported: return "not supported";
  }
  return "error";
}

std::string EbpfError::to_string() const {
  std::string out(error_kind_name(kind_));
  out += ": ";
  out += message_;
  return out;
}

std::unexpected<EbpfError> errno_error(ErrorKind kind, std::string_view what, int err) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  return make_error(kind, std::move(message));
}

}  // namespace otlp::ebpf
