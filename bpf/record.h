/* Record layout shared by the BPF program (sysnb.bpf.c) and the Python consumer (sysnb/record/layout.py).
 * Keep both in step: the Python side checks the sizes against SNB_*_SIZE read from the object. */
#ifndef SYSNB_RECORD_H
#define SYSNB_RECORD_H

#define SNB_DATA 1024       /* payload, path or argv bytes per record (snaplen is capped here) */
#define SNB_DATA2 256       /* second string, raw sockaddr, env, openat2 `how` */
#define SNB_CG_LEVELS 4     /* cgroup path components kept (leaf first): enough for /kubepods/<qos>/pod<uid>/<id> */
#define SNB_CG_NAME 80      /* bytes per component: docker-<64 hex>.scope is 77 */
#define SNB_MID_DATA 120    /* payload bytes of a mid record (a 256-byte ring slot with its header) */
/* Ring slots per CPU (powers of two): small 7.5 MB, mid 15.5 MB, big 29 MB per CPU, divided by
 * 1 << snb_config.slots_shift where that many CPUs would take too much memory */
#define SNB_SMALL_SLOTS (1 << 16)
#define SNB_MID_SLOTS (1 << 16)
#define SNB_BIG_SLOTS (1 << 14)
enum snb_ring { SNB_RING_SMALL = 0, SNB_RING_MID = 1, SNB_RING_BIG = 2, SNB_RINGS = 3 };
#define SNB_MAX_EXCLUDED 8
#define SNB_NR_SYSCALLS 1024

enum snb_kind { SNB_SYSCALL = 0, SNB_PROCEXIT = 1 };

struct snb_base {           /* one per syscall exit (or process exit): 120 bytes */
	__u64 ts;               /* bpf_ktime_get_boot_ns() at exit */
	__u64 enter_ts;         /* at the matching sys_enter, 0 when unknown */
	__s64 ret;
	__u64 args[6];
	__u32 tid, pid, ppid, uid, gid;
	__u16 nr, kind;
	char comm[16];
	__u32 lost;             /* records this CPU failed to reserve since its previous record */
	__u32 cpu;
};

struct snb_big {            /* syscalls that carry strings, buffers or addresses: 1768 bytes */
	struct snb_base b;
	__u16 data_len, data2_len;
	__u32 data_total;       /* bytes the syscall really moved (data holds the first snaplen) */
	__u8 family, sock_type, proto, pad;
	__u16 sport, dport;     /* local, remote (host order) */
	__u8 saddr[16], daddr[16];  /* AF_UNIX: kernel socket and peer pointers (u64) */
	__u8 cgroup[SNB_CG_LEVELS * SNB_CG_NAME];  /* exec/clone: the task's cgroup, one NUL-padded name per slot */
	__u8 data2[SNB_DATA2];
	__u8 data[SNB_DATA];    /* last, so userspace copies out only the prefix a batch uses */
};

struct snb_mid {            /* read/write payloads that fit SNB_MID_DATA (most I/O at snaplen 80): 248 bytes */
	struct snb_base b;
	__u16 data_len, data2_len;  /* same offsets as in snb_big; data2_len is always 0 */
	__u32 data_total;
	__u8 data[SNB_MID_DATA];
};

/* Per-thread state kept between sys_enter and sys_exit (task storage). Paths and connect's address are
 * copied at entry, when the kernel is about to use them: read at exit instead, a racing thread could have
 * rewritten the user memory in between (TOCTOU) and the record would show a path the kernel never opened. */
#define SNB_ENTER_DATA 256
struct snb_task {
	__u64 ts;               /* bpf_ktime_get_boot_ns() at the last sys_enter */
	__u16 nr;               /* its syscall, 0xFFFF once its exit consumed the data */
	__u16 len;              /* bytes in data (a string counts its NUL) */
	__u32 pad;
	__u8 data[SNB_ENTER_DATA];
};

struct snb_config {
	__u32 enabled;
	__u32 snaplen;
	__u32 target_tgid;      /* 0: every process */
	__u32 excluded[SNB_MAX_EXCLUDED];
	__u32 syscall_filter;   /* 1: record only the syscalls marked in syscalls[] */
	__u64 target_cgroup;    /* 0: every cgroup; else the kernfs id of the cgroup whose tasks (and descendants') are recorded */
	__u8 syscalls[SNB_NR_SYSCALLS];
	__u32 enter_hook;       /* 1: snb_enter is attached (task storage holds entry times and copied paths) */
	__u32 slots_shift;      /* each CPU's rings hold SNB_*_SLOTS >> slots_shift records (smaller on many-CPU hosts) */
};

/* A ring's positions (one per ring kind and CPU), counted in records: the BPF program advances head after
 * writing a record, userspace advances tail after copying records out. Separate cache lines: each side
 * writes only its own. */
struct snb_pos {
	__u64 head;
	__u64 pad[7];
	__u64 tail;
	__u64 pad2[7];
};

struct snb_stats {          /* per CPU */
	__u64 seen, drops;
	__u64 pending_lost;
};

#endif
