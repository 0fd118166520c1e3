/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Allocator record: one per outermost libc malloc/calloc/realloc/free/mmap/munmap call. */
#ifndef BPFTAPE_BPF_MEMORY_H
#define BPFTAPE_BPF_MEMORY_H

#include "bpf/record.h"

#define BT_MEM_STACK_DEPTH 32

/* hdr.aux; numerically equal to otlp::ebpf::MemoryOp. */
enum bt_memory_op {
	BT_MEM_MALLOC = 0,
	BT_MEM_CALLOC = 1,
	BT_MEM_REALLOC = 2,
	BT_MEM_MMAP = 3,
	BT_MEM_FREE = 4,
	BT_MEM_MUNMAP = 5,
	BT_MEM_OP_COUNT = 6,
};

struct bt_memory_record {
	struct bt_record_header hdr;
	__u64 address;     /* returned (alloc) or released (free/munmap) address */
	__u64 size;        /* requested bytes (calloc: n * size); munmap: length; free: 0 */
	__u64 old_address; /* realloc: the pointer passed in */
	__u32 stack_depth; /* user frames captured, 0 when stacks are off */
	__u32 reserved;
	__u64 stack[BT_MEM_STACK_DEPTH];
};

#endif
