#include "tests/otlp/fake_collector.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace otlp::ebpf::testing {
namespace {

constexpr int kIoTimeoutMs = 5000;             // per read/write wait on a client connection
constexpr size_t kMaxRequestBytes = 64 << 20;  // refuse anything larger

int listen_loopback(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

bool wait_fd(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

}  // namespace

uint16_t dead_port() {
  uint16_t port = 0;
  int fd = listen_loopback(&port);
  if (fd >= 0) close(fd);
  return port;
}

FakeCollector::FakeCollector() {
  listen_fd_ = listen_loopback(&port_);
  if (listen_fd_ >= 0) thread_ = std::thread([this] { serve(); });
}

FakeCollector::~FakeCollector() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
}

void FakeCollector::script(std::vector<ScriptedResponse> responses) {
  std::lock_guard lock(mu_);
  script_.assign(responses.begin(), responses.end());
}

void FakeCollector::set_fallback(ScriptedResponse response) {
  std::lock_guard lock(mu_);
  fallback_ = std::move(response);
}

std::vector<ReceivedRequest> FakeCollector::requests() const {
  std::lock_guard lock(mu_);
  return received_;
}

void FakeCollector::serve() {
  while (!stop_) {
    if (!wait_fd(listen_fd_, POLLIN, 100)) continue;  // re-check stop_ every 100 ms
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
    close(fd);
  }
}

void FakeCollector::handle(int fd) {
  std::string data;
  char buf[65536];
  size_t header_end = std::string::npos;
  size_t content_length = 0;
  ReceivedRequest req;
  while (data.size() < kMaxRequestBytes) {
    if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) break;
    if (!wait_fd(fd, POLLIN, kIoTimeoutMs)) return;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return;
    data.append(buf, static_cast<size_t>(n));
    if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
      std::string head = data.substr(0, header_end);
      size_t line_end = head.find("\r\n");
      std::string request_line = head.substr(0, line_end);
      size_t sp1 = request_line.find(' ');
      size_t sp2 = request_line.find(' ', sp1 + 1);
      req.method = request_line.substr(0, sp1);
      req.path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        size_t end = head.find("\r\n", pos);
        if (end == std::string::npos) end = head.size();
        std::string line = head.substr(pos, end - pos);
        pos = end + 2;
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        req.headers[name] = value;
      }
      if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
        content_length = std::stoul(it->second);
      }
    }
  }
  if (header_end == std::string::npos) return;
  req.body = data.substr(header_end + 4, content_length);
  req.at = std::chrono::steady_clock::now();

  ScriptedResponse resp;
  {
    std::lock_guard lock(mu_);
    received_.push_back(std::move(req));
    resp = fallback_;
    if (!script_.empty()) {
      resp = std::move(script_.front());
      script_.pop_front();
    }
  }
  if (resp.hang) {
    // Until the client hangs up (readable with nothing to read) or the collector stops.
    while (!stop_) {
      if (!wait_fd(fd, POLLIN, 100)) continue;
      if (read(fd, buf, sizeof buf) <= 0) return;
    }
    return;
  }
  std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " Scripted\r\n";
  out += "Content-Type: application/x-protobuf\r\nConnection: close\r\n";
  for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
  out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n\r\n" + resp.body;
  size_t sent = 0;
  while (sent < out.size() && wait_fd(fd, POLLOUT, kIoTimeoutMs)) {
    ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace otlp::ebpf::testing
