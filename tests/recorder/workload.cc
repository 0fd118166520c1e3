// bpftape_workload: known workloads for the recorder's live tests, the traces/ recordings and
// the overhead harness. Each mode does exactly what it says, so a recording of it can be
// checked for exact counts.
//
//   syscalls N        N getpid() calls (raw syscall: no libc caching)
//   http K [PORT]     a loopback HTTP/1.1 server and client in one process: K connections,
//                     each carrying "GET /item/<i> HTTP/1.1" answered "200 OK" (i = 0..K-1)
//   malloc M SIZE     M malloc(SIZE) calls through libc (none freed until exit), then M/2 frees
//   spin MS           burn CPU for MS milliseconds in bpftape_workload_spin()
//   paced N RATE      N getpid() calls spread evenly at RATE per second (delivery latency)
//
// Built without sanitizers: the memory mode must reach libc's allocator.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

int usage() {
  std::fprintf(stderr, "usage: bpftape_workload syscalls N | http K [PORT] | malloc M SIZE | spin MS | paced N RATE\n");
  return 2;
}

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the end of the HTTP head ("\r\n\r\n"); returns it.
std::string read_head(int fd) {
  std::string head;
  char buf[512];
  while (head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  return head;
}

int run_http(int connections, uint16_t port) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(listener, 64) != 0) {
    std::perror("bpftape_workload: bind/listen");
    return 1;
  }
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread server([&] {
    for (int i = 0; i < connections; ++i) {
      int conn = accept(listener, nullptr, nullptr);
      if (conn < 0) return;
      std::string head = read_head(conn);
      const std::string body = "ok\n";
      write_all(conn, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\nConnection: close\r\n\r\n" + body);
      close(conn);
    }
  });
  int failures = 0;
  for (int i = 0; i < connections; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ++failures;
      close(fd);
      continue;
    }
    write_all(fd, "GET /item/" + std::to_string(i) + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    std::string response = read_head(fd);
    if (response.rfind("HTTP/1.1 200", 0) != 0) ++failures;
    close(fd);
  }
  server.join();
  close(listener);
  return failures == 0 ? 0 : 1;
}

}  // namespace

// Not static, not inlined: the CPU profile test looks for this name.
extern "C" __attribute__((noinline)) uint64_t bpftape_workload_spin(uint64_t milliseconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(milliseconds);
  volatile uint64_t x = 1;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 10000; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  }
  return x;
}

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string mode = argv[1];
  const long n = std::strtol(argv[2], nullptr, 10);
  if (n < 0) return usage();
  if (mode == "syscalls") {
    for (long i = 0; i < n; ++i) syscall(SYS_getpid);
    return 0;
  }
  if (mode == "http") {
    const long port = argc > 3 ? std::strtol(argv[3], nullptr, 10) : 0;
    return run_http(static_cast<int>(n), static_cast<uint16_t>(port));
  }
  if (mode == "malloc") {
    if (argc < 4) return usage();
    const size_t size = std::strtoul(argv[3], nullptr, 10);
    std::vector<void*> blocks(static_cast<size_t>(n));
    for (auto& b : blocks) {
      b = std::malloc(size);
      std::memset(b, 1, 1);
    }
    for (size_t i = 0; i < blocks.size() / 2; ++i) std::free(blocks[i]);
    return 0;
  }
  if (mode == "paced") {
    if (argc < 4) return usage();
    const double rate = std::strtod(argv[3], nullptr);
    if (rate <= 0) return usage();
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
      const auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(i) * 1e9 / rate));
      while (std::chrono::steady_clock::now() < due) {
      }
      syscall(SYS_getpid);
    }
    return 0;
  }
  if (mode == "spin") {
    bpftape_workload_spin(static_cast<uint64_t>(n));
    return 0;
  }
  return usage();
}
