// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Process lifecycle on BTF tracepoints (tp_btf: typed arguments, no tracefs needed). */
#include "bpf/common.bpf.h"
#include "bpf/process.h"

static __always_inline struct bt_process_record *bt_process_reserve(void)
{
	struct bt_process_record *rec = bt_reserve(sizeof(*rec));

	if (rec) {
		rec->parent_pid = 0;
		rec->child_pid = 0;
		rec->exit_code = 0;
		rec->reserved = 0;
		rec->filename[0] = 0;
	}
	return rec;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(bt_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 id_tgid = bpf_get_current_pid_tgid();
	struct bt_process_record *rec;

	if (!bt_should_trace(id_tgid))
		return 0;
	rec = bt_process_reserve();
	if (!rec)
		return 0;
	bt_fill_header(&rec->hdr, BT_REC_PROCESS, bpf_ktime_get_ns(), id_tgid, BT_PROC_EXEC);
	rec->parent_pid = BPF_CORE_READ(p, real_parent, tgid);
	bpf_get_current_comm(rec->comm, sizeof(rec->comm));
	bpf_probe_read_kernel_str(rec->filename, sizeof(rec->filename), BPF_CORE_READ(bprm, filename));
	bt_submit(rec);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(bt_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 id_tgid = bpf_get_current_pid_tgid();
	struct bt_process_record *rec;
	__u32 child_tgid = BPF_CORE_READ(child, tgid);

	/* New threads fire this tracepoint too; only new processes are forks here. */
	if (BPF_CORE_READ(child, pid) != child_tgid)
		return 0;
	if (!bt_should_trace(id_tgid))
		return 0;
	rec = bt_process_reserve();
	if (!rec)
		return 0;
	bt_fill_header(&rec->hdr, BT_REC_PROCESS, bpf_ktime_get_ns(), id_tgid, BT_PROC_FORK);
	rec->parent_pid = id_tgid >> 32;
	rec->child_pid = child_tgid;
	bpf_get_current_comm(rec->comm, sizeof(rec->comm));
	bt_submit(rec);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(bt_process_exit, struct task_struct *p)
{
	__u64 id_tgid = bpf_get_current_pid_tgid();
	struct bt_process_record *rec;

	/* One event per process: only when its last thread exits (signal->live already dropped). */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (!bt_should_trace(id_tgid))
		return 0;
	rec = bt_process_reserve();
	if (!rec)
		return 0;
	bt_fill_header(&rec->hdr, BT_REC_PROCESS, bpf_ktime_get_ns(), id_tgid, BT_PROC_EXIT);
	rec->parent_pid = BPF_CORE_READ(p, real_parent, tgid);
	rec->exit_code = BPF_CORE_READ(p, exit_code);
	bpf_get_current_comm(rec->comm, sizeof(rec->comm));
	bt_submit(rec);
	return 0;
}
