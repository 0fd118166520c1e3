// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Network on tracepoints only (this kernel has no kprobes):
 *  - TCP lifecycle from sock:inet_sock_set_state (connect, close with lifetime and byte totals),
 *    accept attributed to the accepting process at accept()/accept4() exit;
 *  - bytes per send/recv from sock:sock_send_length / sock:sock_recv_length (TCP and UDP);
 *  - the first bytes of each socket read/write/send/recv (for HTTP/1.x and HTTP/2 detection),
 *    read from the user buffer the syscall passed in, inside the length tracepoint;
 *  - tcp:tcp_retransmit_skb.
 * State changes and retransmits run in softirq context, where "current" is unrelated to the
 * socket: ownership (pid/tid) is recorded in process context and kept in the sockets map.
 */
#include "bpf/common.bpf.h"
#include "bpf/network.h"
#include <bpf/bpf_endian.h>

/* Capture up to BT_PAYLOAD_MAX first bytes of each socket I/O (0 disables). */
const volatile __u32 capture_payload = 1;

#define BT_AF_INET 2
#define BT_AF_INET6 10
#define BT_IPPROTO_TCP 6
#define BT_IPPROTO_UDP 17
/* kernel TCP states (BT_TCPS_*), not the record's enum bt_tcp_event (BT_TCP_*) */
#define BT_TCPS_ESTABLISHED 1
#define BT_TCPS_SYN_SENT 2
#define BT_TCPS_SYN_RECV 3
#define BT_TCPS_CLOSE 7
#define BT_MSG_PEEK 2

#if defined(__TARGET_ARCH_x86)
#define BT_NR_READ 0
#define BT_NR_WRITE 1
#define BT_NR_ACCEPT 43
#define BT_NR_SENDTO 44
#define BT_NR_RECVFROM 45
#define BT_NR_SENDMSG 46
#define BT_NR_RECVMSG 47
#define BT_NR_ACCEPT4 288
#elif defined(__TARGET_ARCH_arm64)
#define BT_NR_READ 63
#define BT_NR_WRITE 64
#define BT_NR_ACCEPT 202
#define BT_NR_SENDTO 206
#define BT_NR_RECVFROM 207
#define BT_NR_SENDMSG 211
#define BT_NR_RECVMSG 212
#define BT_NR_ACCEPT4 242
#else
#error "syscall numbers for this architecture are missing"
#endif

struct sock_info {
	__u64 start_ns; /* SYN_SENT / established time */
	__u64 bytes_sent;
	__u64 bytes_received;
	__u32 pid; /* owner; 0 until a passive socket is accepted */
	__u32 tid;
	__u16 local_port; /* at establishment: the kernel releases the port before CLOSE */
	__u16 reserved[3];
};

/* Keyed by socket cookie. LRU: passive sockets of processes outside the filter are tracked
 * until accept() and must not fill the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sock_info);
} sockets SEC(".maps");

/* The socket syscall a thread is in: its user buffer, for payload capture. */
struct io_call {
	__u32 nr;
	__u32 active;
	__u64 buf; /* read/write/sendto/recvfrom: data; sendmsg/recvmsg: struct user_msghdr * */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct io_call);
} io_calls SEC(".maps");

/*
 * Socket ids are socket cookies: unique for the boot, never reused, not kernel addresses.
 * Tracepoint arguments are trusted BTF pointers and can ask the helper (which assigns the cookie
 * on first use); a sock reached through probe reads (accept's fd) reads the assigned value.
 */
static __always_inline __u64 bt_socket_id(const struct sock *sk)
{
	return bpf_get_socket_cookie((void *)sk);
}

static __always_inline __u64 bt_socket_id_probed(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

static __always_inline void bt_fill_endpoints(struct bt_sock_endpoints *ep, const struct sock *sk)
{
	__builtin_memset(ep, 0, sizeof(*ep));
	ep->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	ep->protocol = BPF_CORE_READ(sk, sk_protocol);
	ep->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	ep->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	/* explicit sizes: BPF_CORE_READ_INTO would copy sizeof(*dst), one byte of the array */
	if (ep->family == BT_AF_INET) {
		bpf_core_read(ep->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(ep->remote_addr, 4, &sk->__sk_common.skc_daddr);
	} else if (ep->family == BT_AF_INET6) {
		bpf_core_read(ep->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(ep->remote_addr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

static __always_inline bool bt_is_inet(const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	return family == BT_AF_INET || family == BT_AF_INET6;
}

static __always_inline void bt_emit_tcp(const struct sock *sk, __u64 socket_id, __u32 event,
					__u64 owner, struct sock_info *info, __u8 old_state, __u64 now)
{
	struct bt_tcp_record *rec = bt_reserve(sizeof(*rec));

	if (!rec)
		return;
	bt_fill_header(&rec->hdr, BT_REC_TCP_STATE, now, owner, event);
	rec->socket_id = socket_id;
	bt_fill_endpoints(&rec->ep, sk);
	rec->duration_ns = 0;
	rec->bytes_sent = 0;
	rec->bytes_received = 0;
	if (info && rec->ep.local_port == 0)
		rec->ep.local_port = info->local_port;
	if (info && event == BT_TCP_CLOSE) {
		rec->duration_ns = now - info->start_ns;
		rec->bytes_sent = info->bytes_sent;
		rec->bytes_received = info->bytes_received;
	}
	rec->old_state = old_state;
	__builtin_memset(rec->reserved, 0, sizeof(rec->reserved));
	bt_submit(rec);
}

static __always_inline __u64 bt_owner(const struct sock_info *info)
{
	return ((__u64)info->pid << 32) | info->tid;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(bt_inet_sock_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u64 key;
	__u64 now = bpf_ktime_get_ns();
	struct sock_info *info;

	if (BPF_CORE_READ(sk, sk_protocol) != BT_IPPROTO_TCP)
		return 0;
	key = bt_socket_id(sk);
	if (newstate == BT_TCPS_SYN_SENT) {
		/* connect(): process context, current is the owner */
		__u64 id_tgid = bpf_get_current_pid_tgid();
		struct sock_info fresh = { .start_ns = now, .pid = id_tgid >> 32, .tid = (__u32)id_tgid };

		if (!bt_should_trace(id_tgid))
			return 0;
		bpf_map_update_elem(&sockets, &key, &fresh, BPF_ANY);
	} else if (newstate == BT_TCPS_ESTABLISHED && oldstate == BT_TCPS_SYN_SENT) {
		info = bpf_map_lookup_elem(&sockets, &key);
		if (!info)
			return 0;
		info->start_ns = now;
		info->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
		bt_emit_tcp(sk, key, BT_TCP_CONNECT, bt_owner(info), info, oldstate, now);
	} else if (newstate == BT_TCPS_ESTABLISHED && oldstate == BT_TCPS_SYN_RECV) {
		/* passive open in softirq: the owner is whoever accept()s it */
		struct sock_info fresh = {
			.start_ns = now,
			.local_port = BPF_CORE_READ(sk, __sk_common.skc_num),
		};

		bpf_map_update_elem(&sockets, &key, &fresh, BPF_ANY);
	} else if (newstate == BT_TCPS_CLOSE) {
		info = bpf_map_lookup_elem(&sockets, &key);
		if (!info)
			return 0;
		if (info->pid)
			bt_emit_tcp(sk, key, BT_TCP_CLOSE, bt_owner(info), info, oldstate, now);
		bpf_map_delete_elem(&sockets, &key);
	}
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(bt_tcp_retransmit_skb, const struct sock *sk)
{
	__u64 key = bt_socket_id(sk);
	struct sock_info *info = bpf_map_lookup_elem(&sockets, &key);

	/* softirq/timer context: attribute to the recorded owner, or to nobody without a filter */
	if (info && info->pid)
		bt_emit_tcp(sk, key, BT_TCP_RETRANSMIT, bt_owner(info), info, 0, bpf_ktime_get_ns());
	else if (!info && !filter_active)
		bt_emit_tcp(sk, key, BT_TCP_RETRANSMIT, 0, 0, 0, bpf_ktime_get_ns());
	return 0;
}

/* Payload pointer of the current socket syscall, or 0. */
static __always_inline __u64 bt_payload_source(struct io_call *call, __u32 *limit)
{
	struct user_msghdr msg;
	struct iovec iov;

	if (call->nr != BT_NR_SENDMSG && call->nr != BT_NR_RECVMSG)
		return call->buf;
	if (bpf_probe_read_user(&msg, sizeof(msg), (void *)call->buf))
		return 0;
	if (msg.msg_iovlen < 1 || bpf_probe_read_user(&iov, sizeof(iov), msg.msg_iov))
		return 0;
	if (iov.iov_len < *limit)
		*limit = iov.iov_len; /* only the first iovec is captured */
	return (__u64)iov.iov_base;
}

static __always_inline int bt_handle_io(struct sock *sk, int ret, int flags, __u32 direction)
{
	__u64 id_tgid = bpf_get_current_pid_tgid();
	struct bt_net_io_record *rec;
	struct sock_info *info;
	struct io_call *call;
	__u32 len = 0;
	__u16 protocol;
	__u64 key;

	if (ret <= 0 || (direction == BT_NET_RECV && (flags & BT_MSG_PEEK)))
		return 0;
	if (!bt_is_inet(sk))
		return 0;
	protocol = BPF_CORE_READ(sk, sk_protocol);
	if (protocol != BT_IPPROTO_TCP && protocol != BT_IPPROTO_UDP)
		return 0;
	key = bt_socket_id(sk);
	info = bpf_map_lookup_elem(&sockets, &key);
	if (info) {
		if (direction == BT_NET_SEND)
			__sync_fetch_and_add(&info->bytes_sent, ret);
		else
			__sync_fetch_and_add(&info->bytes_received, ret);
	}
	if (!bt_should_trace(id_tgid))
		return 0;
	rec = bt_reserve(sizeof(*rec));
	if (!rec)
		return 0;
	bt_fill_header(&rec->hdr, BT_REC_NET_IO, bpf_ktime_get_ns(), id_tgid, direction);
	rec->socket_id = key;
	bt_fill_endpoints(&rec->ep, sk);
	rec->bytes = ret;
	call = bpf_task_storage_get(&io_calls, bpf_get_current_task_btf(), 0, 0);
	if (capture_payload && call && call->active && call->buf) {
		__u32 limit = ret;
		__u64 src = bt_payload_source(call, &limit);

		__u64 n = limit;

		/* barrier: keep the bound check on the register the helper receives */
		asm volatile("" : "+r"(n));
		if (n > BT_PAYLOAD_MAX)
			n = BT_PAYLOAD_MAX;
		if (!src || bpf_probe_read_user(rec->payload, n, (void *)src))
			n = 0;
		len = n;
		call->buf = 0; /* one capture per syscall */
	}
	rec->payload_len = len;
	bt_submit(rec);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(bt_sock_send_length, struct sock *sk, int ret, int flags)
{
	return bt_handle_io(sk, ret, flags, BT_NET_SEND);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(bt_sock_recv_length, struct sock *sk, int ret, int flags)
{
	return bt_handle_io(sk, ret, flags, BT_NET_RECV);
}

static __always_inline bool bt_is_socket_syscall(__u32 nr)
{
	return nr == BT_NR_READ || nr == BT_NR_WRITE || nr == BT_NR_SENDTO || nr == BT_NR_RECVFROM ||
	       nr == BT_NR_SENDMSG || nr == BT_NR_RECVMSG || nr == BT_NR_ACCEPT || nr == BT_NR_ACCEPT4;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(bt_net_sys_enter, struct pt_regs *regs, long id)
{
	__u32 nr = (__u32)id;
	struct io_call *call;

	if (!bt_is_socket_syscall(nr))
		return 0;
	if (!bt_should_trace(bpf_get_current_pid_tgid()))
		return 0;
	call = bpf_task_storage_get(&io_calls, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!call)
		return 0;
	call->nr = nr;
	call->active = 1;
	call->buf = PT_REGS_PARM2_CORE(regs); /* buf / msghdr is the 2nd argument of all of them */
	return 0;
}

/* The sock behind fd in the current task, or NULL. */
static __always_inline struct sock *bt_fd_to_sock(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = 0;
	struct socket *sock;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return 0;
	return BPF_CORE_READ(sock, sk);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(bt_net_sys_exit, struct pt_regs *regs, long ret)
{
	struct io_call *call;
	struct sock_info *info;
	struct sock *sk;
	__u64 key;

	call = bpf_task_storage_get(&io_calls, bpf_get_current_task_btf(), 0, 0);
	if (!call || !call->active)
		return 0;
	call->active = 0;
	if ((call->nr != BT_NR_ACCEPT && call->nr != BT_NR_ACCEPT4) || ret < 0)
		return 0;
	sk = bt_fd_to_sock(ret);
	if (!sk)
		return 0;
	key = bt_socket_id_probed(sk);
	if (!key)
		return 0; /* no cookie: set_state never saw this socket */
	info = bpf_map_lookup_elem(&sockets, &key);
	if (!info || info->pid)
		return 0;
	info->pid = bpf_get_current_pid_tgid() >> 32;
	info->tid = (__u32)bpf_get_current_pid_tgid();
	bt_emit_tcp(sk, key, BT_TCP_ACCEPT, bpf_get_current_pid_tgid(), info, BT_TCPS_SYN_RECV,
		    bpf_ktime_get_ns());
	return 0;
}
