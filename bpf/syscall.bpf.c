// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Every syscall with its number, return value and duration, paired in the kernel per thread.
 *
 * Pairing uses task storage (no hash-map update/delete per syscall): measured on kernel 6.18
 * it is the cheapest way that keeps the duration (see docs/kernel.md).
 */
#include "bpf/common.bpf.h"
#include "bpf/syscall.h"

struct pending_syscall {
	__u64 enter_ns;
	__u32 nr;
	__u32 active;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending_syscall);
} syscall_start SEC(".maps");

/* syscall number -> 1 traced / 0 not. User space sets every entry to 1 after load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BT_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, __u8);
} syscall_enabled SEC(".maps");

SEC("raw_tp/sys_enter")
int BPF_PROG(bt_sys_enter, struct pt_regs *regs, long id)
{
	__u64 id_tgid = bpf_get_current_pid_tgid();
	struct pending_syscall *p;
	__u32 nr = (__u32)id;
	__u8 *enabled;

	if (!bt_should_trace(id_tgid))
		return 0;
	enabled = bpf_map_lookup_elem(&syscall_enabled, &nr);
	if (!enabled || !*enabled)
		return 0;
	p = bpf_task_storage_get(&syscall_start, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return 0;
	p->enter_ns = bpf_ktime_get_ns();
	p->nr = nr;
	p->active = 1;
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(bt_sys_exit, struct pt_regs *regs, long ret)
{
	struct pending_syscall *p;
	struct bt_syscall_record *rec;
	__u64 now;

	/* No create: untraced tasks have no storage, so this is one lookup that fails. */
	p = bpf_task_storage_get(&syscall_start, bpf_get_current_task_btf(), 0, 0);
	if (!p || !p->active)
		return 0;
	p->active = 0;
	now = bpf_ktime_get_ns();
	rec = bt_reserve(sizeof(*rec));
	if (!rec)
		return 0;
	/* stamped at exit (core/event.h): keeps each CPU's ring in time order */
	bt_fill_header(&rec->hdr, BT_REC_SYSCALL, now, bpf_get_current_pid_tgid(), p->nr);
	rec->ret = ret;
	rec->duration_ns = now - p->enter_ns;
	bt_submit(rec);
	return 0;
}
