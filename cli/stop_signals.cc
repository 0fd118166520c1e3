#include "cli/stop_signals.h"

#include <signal.h>

namespace bpftape::cli {
namespace {

std::atomic<int> g_stop_signal{0};  // the one process-wide flag a signal handler may set
static_assert(std::atomic<int>::is_always_lock_free, "written from a signal handler");

void on_stop_signal(int sig) { g_stop_signal.store(sig); }

}  // namespace

const std::atomic<int>& install_stop_signals() {
  struct sigaction action{};
  action.sa_handler = on_stop_signal;
  action.sa_flags = SA_RESETHAND;  // the second signal takes the default action
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return g_stop_signal;
}

const std::atomic<int>& rearm_stop_signals() {
  g_stop_signal.store(0);
  return install_stop_signals();
}

}  // namespace bpftape::cli
