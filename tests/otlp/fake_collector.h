// A tiny HTTP/1.1 server on 127.0.0.1 (ephemeral port) standing in for an OTLP collector in
// tests: it records each request and answers from a script (default 200 with an empty body).
// One connection at a time, "Connection: close" after each response. Every wait is bounded.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace otlp::ebpf::testing {

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // as sent (still gzip-compressed if it was)
  std::chrono::steady_clock::time_point at;
};

struct ScriptedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // A collector that accepts and never answers: the request is read and recorded, then the
  // connection is held without a response until the client hangs up or the collector stops
  // (the collector serves nobody else meanwhile; later connections wait in its backlog).
  bool hang = false;
};

class FakeCollector {
 public:
  FakeCollector();   // binds and starts serving; check ok()
  ~FakeCollector();  // stops the thread (within ~100 ms) and closes the socket

  bool ok() const { return listen_fd_ >= 0; }
  uint16_t port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Responses for the next requests, in order; after they run out, `fallback` (default 200).
  void script(std::vector<ScriptedResponse> responses);
  void set_fallback(ScriptedResponse response);
  std::vector<ReceivedRequest> requests() const;

 private:
  void serve();
  void handle(int fd);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::deque<ScriptedResponse> script_;
  ScriptedResponse fallback_;
  std::vector<ReceivedRequest> received_;
  std::thread thread_;
};

// A loopback port with nothing listening (bound, then closed): connecting is refused.
uint16_t dead_port();

}  // namespace otlp::ebpf::testing
