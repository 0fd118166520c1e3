// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* CPU sampling: one record per software cpu-clock perf_event sample, stacks inline. */
#include "bpf/common.bpf.h"
#include "bpf/cpu_sample.h"

/* Idle (pid 0) samples are usually noise for a profiler; opt in through rodata. */
const volatile __u32 include_idle = 0;

SEC("perf_event")
int bt_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id_tgid = bpf_get_current_pid_tgid();
	struct bt_cpu_sample_record *rec;
	long n;

	if (id_tgid == 0 && !include_idle)
		return 0;
	if (!bt_should_trace(id_tgid))
		return 0;
	rec = bt_reserve(sizeof(*rec));
	if (!rec)
		return 0;
	bt_fill_header(&rec->hdr, BT_REC_CPU_SAMPLE, bpf_ktime_get_ns(), id_tgid, 0);
	rec->reserved = 0;
	n = bpf_get_stack(ctx, rec->user_stack, sizeof(rec->user_stack), BPF_F_USER_STACK);
	rec->user_depth = n > 0 ? n / sizeof(__u64) : 0;
	n = bpf_get_stack(ctx, rec->kernel_stack, sizeof(rec->kernel_stack), 0);
	rec->kernel_depth = n > 0 ? n / sizeof(__u64) : 0;
	bt_submit(rec);
	return 0;
}
