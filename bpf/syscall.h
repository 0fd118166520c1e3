/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Syscall probe record: one per completed syscall, paired in the kernel per thread. */
#ifndef BPFTAPE_BPF_SYSCALL_H
#define BPFTAPE_BPF_SYSCALL_H

#include "bpf/record.h"

/* Size of the per-syscall enable map (x86_64 has < 500 syscalls; numbers above are dropped). */
#define BT_MAX_SYSCALLS 1024

/*
 * 40 bytes, fixed size, so a per-CPU staging array of N records can be flushed with one
 * bpf_ringbuf_output() if per-record reservation ever becomes the bottleneck.
 * hdr.ts_ns is the exit time (entry = exit - duration_ns), hdr.aux the syscall number.
 */
struct bt_syscall_record {
	struct bt_record_header hdr;
	__s64 ret;
	__u64 duration_ns;
};

#endif
