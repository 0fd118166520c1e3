// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libc allocator calls through uprobes (entry: arguments) + uretprobes (exit: result).
 *
 * Only the outermost call of a thread is recorded: glibc calls its own entry points
 * internally (realloc(NULL, n) -> malloc, free -> munmap of a large chunk, malloc -> mmap),
 * and those would otherwise show up twice. A per-thread depth counter in task storage tells
 * them apart; every probed function has both an entry and a return probe so depth stays exact.
 */
#include "bpf/common.bpf.h"
#include "bpf/memory.h"

/* Capture the caller's user stack with each record (costs a stack walk per call). */
const volatile __u32 capture_stacks = 1;

struct alloc_call {
	__u32 depth;
	__u32 op;
	__u64 arg0;
	__u64 arg1;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct alloc_call);
} alloc_calls SEC(".maps");

static __always_inline int bt_enter(__u32 op, __u64 arg0, __u64 arg1)
{
	struct alloc_call *call;

	if (!bt_should_trace(bpf_get_current_pid_tgid()))
		return 0;
	call = bpf_task_storage_get(&alloc_calls, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!call)
		return 0;
	if (call->depth++ == 0) {
		call->op = op;
		call->arg0 = arg0;
		call->arg1 = arg1;
	}
	return 0;
}

static __always_inline int bt_exit(struct pt_regs *ctx, __u64 ret)
{
	__u64 id_tgid = bpf_get_current_pid_tgid();
	struct bt_memory_record *rec;
	struct alloc_call *call;
	long n;

	call = bpf_task_storage_get(&alloc_calls, bpf_get_current_task_btf(), 0, 0);
	if (!call || call->depth == 0)
		return 0;
	if (--call->depth != 0)
		return 0; /* an inner call made by libc itself */
	if ((call->op == BT_MEM_FREE || call->op == BT_MEM_MUNMAP) && call->arg0 == 0)
		return 0; /* free(NULL) is a no-op, not a release */
	rec = bt_reserve(sizeof(*rec));
	if (!rec)
		return 0;
	bt_fill_header(&rec->hdr, BT_REC_MEMORY, bpf_ktime_get_ns(), id_tgid, call->op);
	rec->address = 0;
	rec->size = 0;
	rec->old_address = 0;
	rec->reserved = 0;
	switch (call->op) {
	case BT_MEM_MALLOC:
	case BT_MEM_MMAP:
		rec->address = ret;
		rec->size = call->arg0;
		break;
	case BT_MEM_CALLOC:
		rec->address = ret;
		rec->size = call->arg0 * call->arg1;
		break;
	case BT_MEM_REALLOC:
		rec->address = ret;
		rec->old_address = call->arg0;
		rec->size = call->arg1;
		break;
	case BT_MEM_FREE:
		rec->address = call->arg0;
		break;
	case BT_MEM_MUNMAP:
		rec->address = call->arg0;
		rec->size = call->arg1;
		break;
	}
	rec->stack_depth = 0;
	if (capture_stacks) {
		n = bpf_get_stack(ctx, rec->stack, sizeof(rec->stack), BPF_F_USER_STACK);
		rec->stack_depth = n > 0 ? n / sizeof(__u64) : 0;
	}
	bt_submit(rec);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(bt_malloc_enter, __u64 size) { return bt_enter(BT_MEM_MALLOC, size, 0); }
SEC("uretprobe")
int BPF_KRETPROBE(bt_malloc_exit, __u64 ret) { return bt_exit(ctx, ret); }

SEC("uprobe")
int BPF_KPROBE(bt_calloc_enter, __u64 n, __u64 size) { return bt_enter(BT_MEM_CALLOC, n, size); }
SEC("uretprobe")
int BPF_KRETPROBE(bt_calloc_exit, __u64 ret) { return bt_exit(ctx, ret); }

SEC("uprobe")
int BPF_KPROBE(bt_realloc_enter, __u64 ptr, __u64 size) { return bt_enter(BT_MEM_REALLOC, ptr, size); }
SEC("uretprobe")
int BPF_KRETPROBE(bt_realloc_exit, __u64 ret) { return bt_exit(ctx, ret); }

SEC("uprobe")
int BPF_KPROBE(bt_free_enter, __u64 ptr) { return bt_enter(BT_MEM_FREE, ptr, 0); }
SEC("uretprobe")
int BPF_KRETPROBE(bt_free_exit) { return bt_exit(ctx, 0); }

SEC("uprobe")
int BPF_KPROBE(bt_mmap_enter, __u64 addr, __u64 len) { return bt_enter(BT_MEM_MMAP, len, 0); }
SEC("uretprobe")
int BPF_KRETPROBE(bt_mmap_exit, __u64 ret) { return bt_exit(ctx, ret); }

SEC("uprobe")
int BPF_KPROBE(bt_munmap_enter, __u64 addr, __u64 len) { return bt_enter(BT_MEM_MUNMAP, addr, len); }
SEC("uretprobe")
int BPF_KRETPROBE(bt_munmap_exit) { return bt_exit(ctx, 0); }
