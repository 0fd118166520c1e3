/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* CPU sampling record: one per perf_event (software cpu-clock) sample. */
#ifndef BPFTAPE_BPF_CPU_SAMPLE_H
#define BPFTAPE_BPF_CPU_SAMPLE_H

#include "bpf/record.h"

/* The kernel's default perf_event_max_stack. */
#define BT_MAX_STACK_DEPTH 127

/* Frames are innermost first; only the first *_depth entries are meaningful. */
struct bt_cpu_sample_record {
	struct bt_record_header hdr;
	__u16 user_depth;
	__u16 kernel_depth;
	__u32 reserved;
	__u64 user_stack[BT_MAX_STACK_DEPTH];
	__u64 kernel_stack[BT_MAX_STACK_DEPTH];
};

#endif
