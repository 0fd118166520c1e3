// SIGINT and SIGTERM as a request to stop: long-running commands (record, replay with --speed or
// an OTLP export) check the flag, end their work cleanly and say what they did not finish.
#pragma once

#include <atomic>

namespace bpftape::cli {

// Installs handlers for SIGINT and SIGTERM that store the signal's number and nothing else, and
// returns that flag (0 until a signal arrives; it lives for the whole process). The handlers
// reset themselves: a second Ctrl-C ends the process the default way, for a user who will not
// wait for a clean stop. Also ignores SIGPIPE, so that a closed pipe or a collector's reset
// connection is a write error the command reports, not a silent death.
const std::atomic<int>& install_stop_signals();

// For a command with two phases that each stop on a signal (`record`: the recording, then its
// final export): clears the flag and installs the handlers again, so that the signal that ended
// the first phase does not also cancel the second, while a new one still does.
const std::atomic<int>& rearm_stop_signals();

}  // namespace bpftape::cli
