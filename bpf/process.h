/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Process lifecycle record: exec, fork (new processes only, not threads), exit (last thread). */
#ifndef BPFTAPE_BPF_PROCESS_H
#define BPFTAPE_BPF_PROCESS_H

#include "bpf/record.h"

#define BT_FILENAME_LEN 256

/* hdr.aux */
enum bt_process_op {
	BT_PROC_EXEC = 1,
	BT_PROC_FORK = 2,
	BT_PROC_EXIT = 3,
};

struct bt_process_record {
	struct bt_record_header hdr;
	__u32 parent_pid; /* tgid of the real parent (fork: the forking process) */
	__u32 child_pid;  /* fork: tgid of the new process */
	__s32 exit_code;  /* exit: wait(2)-style status */
	__u32 reserved;
	char comm[BT_COMM_LEN];
	char filename[BT_FILENAME_LEN]; /* exec only; NUL-terminated */
};

#endif
