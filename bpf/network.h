/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Network records: socket I/O (bytes + first payload bytes) and TCP state changes. */
#ifndef BPFTAPE_BPF_NETWORK_H
#define BPFTAPE_BPF_NETWORK_H

#include "bpf/record.h"

#define BT_PAYLOAD_MAX 128

/* Addresses and ports of a socket; ports in host byte order. */
struct bt_sock_endpoints {
	__u8 family;   /* AF_INET (2) or AF_INET6 (10) */
	__u8 protocol; /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u16 local_port;
	__u16 remote_port;
	__u16 reserved;
	__u8 local_addr[16];  /* AF_INET: first 4 bytes */
	__u8 remote_addr[16];
};

/* hdr.aux for BT_REC_NET_IO */
enum bt_net_direction {
	BT_NET_SEND = 1,
	BT_NET_RECV = 2,
};

/* One send or receive on an inet socket (TCP or UDP). */
struct bt_net_io_record {
	struct bt_record_header hdr;
	__u64 socket_id; /* stable for the socket's lifetime; not a kernel address */
	struct bt_sock_endpoints ep;
	__u32 bytes;       /* bytes moved by this call */
	__u32 payload_len; /* bytes captured into payload[] (0: none) */
	__u8 payload[BT_PAYLOAD_MAX];
};

/* hdr.aux for BT_REC_TCP_STATE */
enum bt_tcp_event {
	BT_TCP_CONNECT = 1,
	BT_TCP_ACCEPT = 2,
	BT_TCP_CLOSE = 3,
	BT_TCP_RETRANSMIT = 4,
};

struct bt_tcp_record {
	struct bt_record_header hdr;
	__u64 socket_id;
	struct bt_sock_endpoints ep;
	__u64 duration_ns; /* close: established -> close */
	__u64 bytes_sent;  /* close: totals over the connection's life */
	__u64 bytes_received;
	__u8 old_state;    /* kernel TCP state before the change */
	__u8 reserved[7];
};

#endif
