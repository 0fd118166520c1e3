/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel <-> user-space record contract shared by every bpftape BPF program.
 *
 * Every ring-buffer record starts with struct bt_record_header; `kind` says which probe
 * header (syscall.h, cpu_sample.h, ...) describes the rest. Layouts are fixed-width, no
 * pointers, and pinned on the C++ side with static_assert (bpf/event_decoder.cc).
 * Bump BT_RECORD_VERSION when a layout changes: the decoder rejects other versions.
 */
#ifndef BPFTAPE_BPF_RECORD_H
#define BPFTAPE_BPF_RECORD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define BT_RECORD_VERSION 1

/* Record kinds (bt_record_header.kind). */
enum bt_record_kind {
	BT_REC_SYSCALL = 1,
	BT_REC_CPU_SAMPLE = 2,
	BT_REC_PROCESS = 3,
	BT_REC_MEMORY = 4,
	BT_REC_NET_IO = 5,    /* send/recv bytes (+ optional first payload bytes) */
	BT_REC_TCP_STATE = 6, /* connect / accept / close / retransmit */
};

#define BT_COMM_LEN 16
/* How many pids the load-time filter holds (rodata array). */
#define BT_MAX_FILTER_PIDS 8

struct bt_record_header {
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pid;   /* tgid */
	__u32 tid;
	__u8 kind;   /* enum bt_record_kind */
	__u8 version;
	__u16 cpu;
	__u32 aux;   /* kind-specific small field (syscall number, op, ...) */
};

/*
 * The consumer's side of the wakeup protocol (bt_submit in common.bpf.h): the value of the
 * one-entry `consumer_state` array that every probe object of one consumer shares (user space
 * creates it BPF_F_MMAPABLE and hands the same fd to each object). Programs read it on every
 * submit; the consumer writes it when it falls asleep and when it wakes.
 */
enum bt_consumer_mode {
	BT_CONSUMER_POLLING = 0, /* drains on its own timer: wake it once wakeup_bytes wait */
	BT_CONSUMER_AWAKE = 1,   /* streaming, draining every tick: wake no one */
	BT_CONSUMER_ASLEEP = 2,  /* blocked in epoll: the next record wakes it (once) */
};

struct bt_consumer_state {
	__u32 mode; /* enum bt_consumer_mode */
	__u32 reserved;
};

#endif /* BPFTAPE_BPF_RECORD_H */
