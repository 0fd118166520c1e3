/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF-side helpers shared by every bpftape program: the load-time process filter, the
 * event ring buffer, the per-CPU reservation-failure counter and record submission.
 * Each object gets its own copy of these maps and rodata (one skeleton per probe).
 */
#ifndef BPFTAPE_COMMON_BPF_H
#define BPFTAPE_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpf/record.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Tunables, set through the skeleton's rodata between open and load. The verifier sees them
 * as constants, so a disabled filter costs nothing at run time.
 */
const volatile __u32 self_tgid = 0;     /* the recording process: never traced */
const volatile __u32 filter_active = 0; /* 0: trace everything but self */
const volatile __u32 filter_tgid_count = 0;
const volatile __u32 filter_tgids[BT_MAX_FILTER_PIDS] = {};
const volatile __u32 filter_tid = 0;    /* 0: any thread */
const volatile __u64 filter_cgroup_id = 0; /* 0: any cgroup (cgroup v2 id) */
const volatile char filter_comm[BT_COMM_LEN] = {};
const volatile __u32 filter_comm_set = 0;
/* Wake the consumer once this much data waits, whatever else (bt_submit). */
const volatile __u64 wakeup_bytes = 256 * 1024;
/* Wake a caught-up consumer at most once per this interval per CPU; 0: never early. */
const volatile __u64 wakeup_interval_ns = 0;

/* Record ring; user space sizes it with bpf_map__set_max_entries before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Records that could not be reserved (ring full), per CPU; user space turns deltas into loss records. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* When this CPU last allowed a wakeup (bt_submit). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} last_wakeup SEC(".maps");

static __always_inline void bt_count_drop(void)
{
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&drops, &zero);

	if (count)
		*count += 1; /* per-CPU slot: no atomics needed */
}

static __always_inline bool bt_comm_matches(void)
{
	char comm[BT_COMM_LEN];

	bpf_get_current_comm(comm, sizeof(comm));
#pragma unroll
	for (int i = 0; i < BT_COMM_LEN; i++) {
		if (comm[i] != filter_comm[i])
			return false;
		if (comm[i] == 0)
			break;
	}
	return true;
}

/* Same filter for a task that is not current (e.g. the owner recorded earlier). */
static __always_inline bool bt_should_trace_ids(__u32 tgid, __u32 tid)
{
	if (tgid == self_tgid)
		return false;
	if (!filter_active)
		return true;
	if (filter_tgid_count) {
		bool found = false;
#pragma unroll
		for (int i = 0; i < BT_MAX_FILTER_PIDS; i++) {
			if (i < filter_tgid_count && filter_tgids[i] == tgid)
				found = true;
		}
		if (!found)
			return false;
	}
	if (filter_tid && filter_tid != tid)
		return false;
	return true;
}

/* Should the current task be traced? id_tgid is bpf_get_current_pid_tgid(). The pid/tid part
 * is bt_should_trace_ids(); cgroup and comm can only be read for the current task. */
static __always_inline bool bt_should_trace(__u64 id_tgid)
{
	if (!bt_should_trace_ids(id_tgid >> 32, (__u32)id_tgid))
		return false;
	if (!filter_active)
		return true;
	if (filter_cgroup_id && bpf_get_current_cgroup_id() != filter_cgroup_id)
		return false;
	if (filter_comm_set && !bt_comm_matches())
		return false;
	return true;
}

static __always_inline void bt_fill_header(struct bt_record_header *hdr, __u8 kind, __u64 ts,
					   __u64 id_tgid, __u32 aux)
{
	hdr->ts_ns = ts;
	hdr->pid = id_tgid >> 32;
	hdr->tid = (__u32)id_tgid;
	hdr->kind = kind;
	hdr->version = BT_RECORD_VERSION;
	hdr->cpu = bpf_get_smp_processor_id();
	hdr->aux = aux;
}

/* Reserves a record or counts the drop. */
static __always_inline void *bt_reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		bt_count_drop();
	return rec;
}

/*
 * Wakeup policy (user space sets both tunables):
 *  - once wakeup_bytes wait, always wake (the consumer fell behind: never let the ring fill);
 *  - else, with wakeup_interval_ns set, wake at most once per interval per CPU: low latency
 *    while events flow, and a bounded wakeup cost under storms. (The kernel's own rule, flags
 *    0 = wake only a consumer that had caught up, woke a fast consumer for nearly every record
 *    of a syscall storm: each wakeup is an irq_work in the traced task, 4.9x slowdown vs ~1.6x
 *    with this cap; and with the cap on top of it, one missed window left the consumer "behind"
 *    for good, so only its timer drained the ring.)
 *  - otherwise no wakeup: the consumer drains on its own timer (ring_buffer__consume).
 * Worst case latency: an event that follows another within the interval and then nothing
 * waits for the consumer's timer.
 */
static __always_inline void bt_submit(void *rec)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes) {
		flags = BPF_RB_FORCE_WAKEUP;
	} else if (wakeup_interval_ns) {
		__u32 zero = 0;
		__u64 *last = bpf_map_lookup_elem(&last_wakeup, &zero);
		__u64 now = bpf_ktime_get_ns();

		if (last && now - *last >= wakeup_interval_ns) {
			*last = now;
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	bpf_ringbuf_submit(rec, flags);
}

#endif /* BPFTAPE_COMMON_BPF_H */
