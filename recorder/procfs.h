// What /proc says about a process, for the recorder's process table (processes that were
// running before the recording started, and details an exec event does not carry: command
// line, cgroup). Everything takes a proc root so tests can point it at a fixture tree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/process_table.h"

namespace bpftape::record {

// pid, ppid, comm, exe, cmdline (the arguments), cgroup v2 path and container id.
// start_ns is left 0 ("started before the recording"); the caller sets it when it saw the fork.
// NotFound-style Io error when the process is gone; fields a kernel hides (exe of a kernel
// thread, another user's exe without privileges) stay empty.
otlp::ebpf::Result<otlp::ebpf::ProcessInfo> read_process(uint32_t pid,
                                                         const std::string& proc_root = "/proc");

// The arguments in the text of /proc/PID/cmdline (each ends with a NUL; a process that
// rewrote its title may leave one string with spaces and no NUL: one argument). Empty
// arguments are kept; empty when the text is.
std::vector<std::string> command_line_arguments(std::string_view proc_cmdline);

// The cgroup v2 path from the text of /proc/PID/cgroup (the "0::" line); empty if none.
std::string cgroup_v2_path(std::string_view proc_cgroup);

// The parent pid from the text of /proc/PID/stat (the field after the parenthesised comm,
// which may itself contain spaces and parentheses). 0 if the text is malformed.
uint32_t ppid_from_stat(std::string_view proc_stat);

// Field `field` (numbered from 1 as in proc(5): 4 ppid, 22 starttime) of /proc/PID/stat's text,
// as a number; 0 if the text is malformed or the field is not numeric (fields 1-2 are not
// supported).
uint64_t stat_field(std::string_view proc_stat, int field);

}  // namespace bpftape::record
