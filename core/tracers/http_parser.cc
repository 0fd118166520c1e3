#include "core/tracers/http_parser.h"

#include <algorithm>
#include <array>

namespace otlp::ebpf {
namespace {

constexpr std::array<std::string_view, 9> kMethods{"GET",     "POST",  "PUT",     "DELETE", "HEAD",
                                                   "OPTIONS", "PATCH", "CONNECT", "TRACE"};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<HttpRequestLine> parse_http_request_line(std::string_view bytes) {
  for (std::string_view method : kMethods) {
    if (bytes.size() <= method.size() + 1 || !bytes.starts_with(method) ||
        bytes[method.size()] != ' ') {
      continue;
    }
    std::string_view rest = bytes.substr(method.size() + 1);
    // origin-form "/...", asterisk-form "*", or absolute-form "http://..."
    if (rest.empty() || !(rest[0] == '/' || rest[0] == '*' || rest.starts_with("http"))) {
      return std::nullopt;
    }
    size_t end = rest.find_first_of(" \r\n");
    bool truncated = end == std::string_view::npos;
    std::string_view target = rest.substr(0, end);
    if (!truncated && !rest.substr(end).starts_with(" HTTP/1.")) return std::nullopt;
    std::string_view path = target.substr(0, target.find('?'));
    for (char c : path) {
      if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) return std::nullopt;
    }
    return HttpRequestLine{std::string(method), std::string(path), truncated};
  }
  return std::nullopt;
}

std::optional<int> parse_http_status_line(std::string_view bytes) {
  // "HTTP/1.x NNN"
  if (bytes.size() < 12 || !bytes.starts_with("HTTP/1.") || !is_digit(bytes[7]) ||
      bytes[8] != ' ' || !is_digit(bytes[9]) || !is_digit(bytes[10]) || !is_digit(bytes[11])) {
    return std::nullopt;
  }
  if (bytes.size() > 12 && bytes[12] != ' ' && bytes[12] != '\r') return std::nullopt;
  int status = (bytes[9] - '0') * 100 + (bytes[10] - '0') * 10 + (bytes[11] - '0');
  if (status < 100 || status > 599) return std::nullopt;
  return status;
}

bool is_http2_preface(std::string_view bytes) {
  constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  // A short capture still identifies it: the first 14 bytes are unambiguous.
  size_t n = std::min(bytes.size(), kPreface.size());
  return n >= 14 && bytes.substr(0, n) == kPreface.substr(0, n);
}

}  // namespace otlp::ebpf
