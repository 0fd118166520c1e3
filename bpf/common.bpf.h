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
/* Wake a polling consumer once this much data waits (bt_submit). */
const volatile __u64 wakeup_bytes = 256 * 1024;

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

/*
 * The consumer's mode (struct bt_consumer_state, bpf/record.h). Recorders replace this map
 * with one shared by all their probe objects (bpf_map__reuse_fd) and mmap it; a standalone
 * object keeps its own, which stays BT_CONSUMER_POLLING.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct bt_consumer_state);
} consumer_state SEC(".maps");

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
 * Wakeup policy: wake the consumer at once only when it sleeps. A wakeup is an irq_work raised
 * in the traced task (on these VMs a self-IPI, i.e. a VM exit) plus a scheduler wakeup; one
 * per record, or per 50 µs per CPU, made a syscall storm 2x slower while the consumer was
 * awake anyway. The consumer says which of three ways it waits (transport::ConsumerPacing):
 *  - AWAKE (streaming, draining every tick): no wakeup. The storm's fast path: one inlined
 *    array lookup and a load.
 *  - ASLEEP (blocked in epoll): this record wakes it and marks it awake, so the records that
 *    follow until it sleeps again wake no one (one wakeup per sleep).
 *  - POLLING (a lazy consumer on a long timer; also every consumer that does not speak the
 *    protocol: tests, bench/kernel): wake it once wakeup_bytes wait, so the ring never fills
 *    behind its timer.
 * The consumer re-checks the rings after announcing that it sleeps, so a record submitted just
 * before is not stranded; a record whose load of `mode` is reordered before the consumer's
 * announcement (x86 store->load) waits for the next record or the consumer's idle timeout.
 */
static __always_inline void bt_submit(void *rec)
{
	__u32 zero = 0;
	struct bt_consumer_state *consumer = bpf_map_lookup_elem(&consumer_state, &zero);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (consumer && consumer->mode == BT_CONSUMER_ASLEEP) {
		consumer->mode = BT_CONSUMER_AWAKE;
		flags = BPF_RB_FORCE_WAKEUP;
	} else if ((!consumer || consumer->mode == BT_CONSUMER_POLLING) &&
		   bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes) {
		flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(rec, flags);
}

#endif /* BPFTAPE_COMMON_BPF_H */
