// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Test-only object for the generic loader/probe/map path: a classic tracepoint program that
 * counts the syscalls of one process (written into target_pid by user space) per number. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscalls(struct trace_event_raw_sys_enter *ctx)
{
	__u32 zero = 0, nr = ctx->id;
	__u32 *target = bpf_map_lookup_elem(&target_pid, &zero);
	__u64 one = 1, *count;

	if (!target || *target != (bpf_get_current_pid_tgid() >> 32))
		return 0;
	count = bpf_map_lookup_elem(&counts, &nr);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counts, &nr, &one, BPF_NOEXIST);
	count = bpf_map_lookup_elem(&hits, &zero);
	if (count)
		*count += 1;
	return 0;
}
