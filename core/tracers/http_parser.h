// Recognises HTTP from the first bytes of a socket read/write (what the BPF side captures).
// Only the start line is needed: method + path for requests, status for responses.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace otlp::ebpf {

struct HttpRequestLine {
  std::string method;  // "GET"
  std::string path;    // "/api/items" (query string removed; see url.path in OTel)
  bool truncated;      // the capture ended inside the request target
};

// "GET /x?y=1 HTTP/1.1\r\n..." -> {GET, /x}. nullopt when the bytes are not a request line.
std::optional<HttpRequestLine> parse_http_request_line(std::string_view bytes);
// "HTTP/1.1 404 Not Found\r\n" -> 404. nullopt when not a status line.
std::optional<int> parse_http_status_line(std::string_view bytes);
// The HTTP/2 client connection preface ("PRI * HTTP/2.0..."): gRPC and h2c connections.
bool is_http2_preface(std::string_view bytes);

}  // namespace otlp::ebpf
