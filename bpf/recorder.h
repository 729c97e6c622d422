/* The recorder's logic, shared by the CO-RE program (sysnb.bpf.c, loaded through libbpf) and the bcc program
 * (sysnb_bcc.c, the fallback for kernels without BTF). One record per system call, written at sys_exit
 * (arguments from pt_regs, as Falco's modern probe does) into lock-free per-CPU rings of fixed-size slots.
 *
 * The including program provides the kernel types (struct task_struct, pt_regs, iovec, user_msghdr) and bool,
 * and defines KREAD(dst, ptr, F) and KADDR(ptr, F) before including this file: read into *dst / the address
 * of the kernel struct field F of the table below (CO-RE relocations in one program, offsets resolved from
 * BTF or kernel headers in the other). After including it, it defines the accessors declared below. */
#ifndef SYSNB_RECORDER_H
#define SYSNB_RECORDER_H
#include "record.h"

/* Kernel struct fields read through KREAD/KADDR: F_<name> is "struct, field path". The bcc engine
 * (sysnb/record/bcc_engine.py) reads this table to resolve each field's offset. */
#define F_task_cgroups task_struct, cgroups
#define F_task_files task_struct, files
#define F_task_mm task_struct, mm
#define F_task_real_parent task_struct, real_parent
#define F_task_tgid task_struct, tgid
#define F_task_exit_code task_struct, exit_code
#define F_task_ti_status task_struct, thread_info.status
#define F_css_set_dfl_cgrp css_set, dfl_cgrp
#define F_css_set_subsys css_set, subsys
#define F_css_cgroup cgroup_subsys_state, cgroup
#define F_cgroup_level cgroup, level
#define F_cgroup_kn cgroup, kn
#define F_kn_id kernfs_node, id
#define F_kn_name kernfs_node, name
#define F_kn_parent kernfs_node, __parent  /* `parent` before 6.15 */
#define F_files_fdt files_struct, fdt
#define F_fdt_max_fds fdtable, max_fds
#define F_fdt_fd fdtable, fd
#define F_file_inode file, f_inode
#define F_file_private file, private_data
#define F_inode_mode inode, i_mode
#define F_socket_sk socket, sk
#define F_sk_family sock, __sk_common.skc_family
#define F_sk_type sock, sk_type
#define F_sk_protocol sock, sk_protocol
#define F_sk_rcv_saddr sock, __sk_common.skc_rcv_saddr
#define F_sk_daddr sock, __sk_common.skc_daddr
#define F_sk_v6_rcv_saddr sock, __sk_common.skc_v6_rcv_saddr
#define F_sk_v6_daddr sock, __sk_common.skc_v6_daddr
#define F_sk_num sock, __sk_common.skc_num
#define F_sk_dport sock, __sk_common.skc_dport
#define F_unix_peer unix_sock, peer
#define F_unix_addr unix_sock, addr
#define F_unix_addr_path unix_address, name[0].sun_path
#define F_mm_arg_start mm_struct, arg_start
#define F_mm_arg_end mm_struct, arg_end
#define F_mm_env_start mm_struct, env_start
#define F_mm_env_end mm_struct, env_end

#ifndef barrier_var
#define barrier_var(var) asm volatile("" : "+r"(var))
#endif

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define TS_COMPAT 0x0002

/* x86-64 syscall numbers (asm/unistd_64.h) */
#define NR_read 0
#define NR_write 1
#define NR_open 2
#define NR_pread64 17
#define NR_pwrite64 18
#define NR_readv 19
#define NR_writev 20
#define NR_pipe 22
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_bind 49
#define NR_listen 50
#define NR_socketpair 53
#define NR_clone 56
#define NR_fork 57
#define NR_vfork 58
#define NR_execve 59
#define NR_chdir 80
#define NR_rename 82
#define NR_mkdir 83
#define NR_rmdir 84
#define NR_creat 85
#define NR_link 86
#define NR_unlink 87
#define NR_symlink 88
#define NR_openat 257
#define NR_mkdirat 258
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_linkat 265
#define NR_symlinkat 266
#define NR_accept4 288
#define NR_pipe2 293
#define NR_preadv 295
#define NR_pwritev 296
#define NR_renameat2 316
#define NR_execveat 322
#define NR_clone3 435
#define NR_chmod 90
#define NR_fchmodat 268
#define NR_openat2 437

#define SUN_PATH_LEN 108

/* ---- what each program defines (maps and task accessors) ----------------------------------------------------- */
static __always_inline struct snb_config *get_config(void);  /* NULL while recording is off */
static __always_inline struct snb_stats *cpu_stats(void);
static __always_inline struct snb_pos *ring_position(__u32 k);  /* ring_pos[k] */
static __always_inline void *ring_slot(__u32 ring, __u32 idx);  /* slot idx of ring kind ``ring`` */
static __always_inline struct snb_task *task_entry(struct task_struct *t, bool create);
static __always_inline struct task_struct *this_task(void);
static __always_inline __u32 snb_tgid(struct task_struct *t);
/* tid and pid; ppid, uid/gid and comm at least for process records (is_proc_record) */
static __always_inline void fill_task(struct snb_base *r, struct task_struct *t);
static __always_inline bool task_compat(struct task_struct *t);  /* an ia32 syscall */
static __always_inline long task_exit_code(struct task_struct *t);
static __always_inline void *kn_parent(void *kn);
static __always_inline int memory_subsys(void);  /* -1 without a memory controller */

/* ---- the cgroup of a task (container ids come from it) ------------------------------------------------------- */

/* The task's cgroup: the unified (v2) one, or on a hybrid host whose v2 cgroup is the root the memory
 * controller's v1 cgroup (where docker puts containers). */
static __always_inline void *snb_task_cgroup(struct task_struct *t)
{
	void *cs = NULL, *cg = NULL, *kn = NULL;
	int level = 0, id = memory_subsys();
	KREAD(&cs, t, task_cgroups);
	KREAD(&cg, cs, css_set_dfl_cgrp);
	if (cg)
		KREAD(&level, cg, cgroup_level);
	if (cg && level == 0 && id >= 0) {
		void *css = NULL;
		bpf_probe_read_kernel(&css, sizeof(css), (char *)KADDR(cs, css_set_subsys) + (id & 15) * sizeof(void *));
		if (css)
			KREAD(&cg, css, css_cgroup);
	}
	if (cg)
		KREAD(&kn, cg, cgroup_kn);
	return kn;
}

/* Whether the task's cgroup or one of its SNB_CG_LEVELS - 1 nearest ancestors is ``id``. */
static __always_inline bool in_cgroup(struct task_struct *t, __u64 id)
{
	void *kn = snb_task_cgroup(t);
	for (int i = 0; i < SNB_CG_LEVELS; i++) {  /* a bounded loop: the verifier walks it */
		if (!kn)
			return false;
		__u64 kid = 0;
		KREAD(&kid, kn, kn_id);
		if (kid == id)
			return true;
		kn = kn_parent(kn);
	}
	return false;
}

/* The task's cgroup as up to SNB_CG_LEVELS names, leaf first. */
static __always_inline void snb_cgroup_path(struct snb_big *r, struct task_struct *t)
{
	__builtin_memset(r->cgroup, 0, sizeof(r->cgroup));  /* ring memory holds older records */
	void *kn = snb_task_cgroup(t);
#pragma unroll
	for (int i = 0; i < SNB_CG_LEVELS; i++) {
		if (!kn)
			break;
		void *parent = kn_parent(kn);
		if (!parent)
			break;  /* the hierarchy's root has no name of its own */
		const char *name = NULL;
		KREAD(&name, kn, kn_name);
		bpf_probe_read_kernel_str(&r->cgroup[i * SNB_CG_NAME], SNB_CG_NAME, name);
		kn = parent;
	}
}

static __always_inline bool skipped(struct snb_config *cfg, struct task_struct *t)
{
	__u32 tgid = snb_tgid(t);
	if (cfg->target_tgid && cfg->target_tgid != tgid)
		return true;
#pragma unroll
	for (int i = 0; i < SNB_MAX_EXCLUDED; i++)
		if (cfg->excluded[i] == tgid)
			return true;
	return cfg->target_cgroup && !in_cgroup(t, cfg->target_cgroup);
}

static __always_inline bool is_big(long nr)
{
	switch (nr) {
	case NR_read: case NR_write: case NR_open: case NR_pread64: case NR_pwrite64: case NR_readv:
	case NR_writev: case NR_pipe: case NR_connect: case NR_accept: case NR_sendto: case NR_recvfrom:
	case NR_sendmsg: case NR_recvmsg: case NR_bind: case NR_listen: case NR_socketpair: case NR_clone:
	case NR_fork: case NR_vfork: case NR_execve: case NR_chdir: case NR_rename: case NR_mkdir:
	case NR_rmdir: case NR_creat: case NR_link: case NR_unlink: case NR_symlink: case NR_openat:
	case NR_mkdirat: case NR_unlinkat: case NR_renameat: case NR_linkat: case NR_symlinkat:
	case NR_accept4: case NR_pipe2: case NR_preadv: case NR_pwritev: case NR_renameat2:
	case NR_execveat: case NR_clone3: case NR_openat2: case NR_chmod: case NR_fchmodat:
		return true;
	}
	return false;
}

/* The records whose ppid, uid/gid and comm the .scap uses (the parameters of clone/execve events). */
static __always_inline bool is_proc_record(struct snb_base *r)
{
	switch (r->nr) {
	case NR_clone: case NR_fork: case NR_vfork: case NR_execve: case NR_execveat: case NR_clone3:
		return true;
	}
	return r->kind == SNB_PROCEXIT;
}

static __always_inline void fill_base(struct snb_base *r, struct task_struct *t, struct pt_regs *regs,
				      long nr, long ret, __u16 kind, __u32 cpu, struct snb_stats *st, struct snb_task *ts)
{
	r->ts = bpf_ktime_get_boot_ns();
	r->enter_ts = ts ? ts->ts : 0;
	r->ret = ret;
	if (regs) {
		r->args[0] = regs->di;
		r->args[1] = regs->si;
		r->args[2] = regs->dx;
		r->args[3] = regs->r10;
		r->args[4] = regs->r8;
		r->args[5] = regs->r9;
	} else {
		__builtin_memset(r->args, 0, sizeof(r->args));
	}
	r->nr = nr;
	r->kind = kind;
	fill_task(r, t);  /* after nr and kind: an engine may fill some fields for process records only */
	r->cpu = cpu;
	r->lost = st ? st->pending_lost : 0;
	if (st) {
		st->pending_lost = 0;
		st->seen++;
	}
}

static __always_inline void lost_one(struct snb_stats *st)
{
	if (st) {
		st->drops++;
		st->pending_lost++;
	}
}

/* A length the verifier can prove is <= max (clang otherwise checks a 32-bit copy of the register). */
static __always_inline __u64 bounded(__u64 n, __u64 max)
{
	if (n > max)
		n = max;
	barrier_var(n);
	return n & 0xFFFF;
}

/* ---- user memory ---------------------------------------------------------------------------------------- */

/* Copy up to ``size`` (a constant: the field's size) bytes of user memory into ``dst``; set ``*len`` on success. */
static __always_inline void read_raw(void *dst, __u16 *len, __u64 size, __u64 ptr, long want)
{
	if (!ptr || want <= 0)
		return;
	__u64 n = bounded(want, size);
	if (n > size)
		return;
	if (bpf_probe_read_user(dst, n, (void *)ptr) == 0)
		*len = n;
}

/* A NUL-terminated user string (the length counts the NUL). */
static __always_inline void read_str(void *dst, __u16 *len, __u32 size, __u64 ptr)
{
	if (!ptr)
		return;
	long n = bpf_probe_read_user_str(dst, size, (void *)ptr);
	if (n > 0)
		*len = n;
}

/* An I/O payload: the first snaplen bytes, and how many the syscall really moved. */
static __always_inline void user_buf(struct snb_big *r, __u64 ptr, long len, __u32 snaplen)
{
	if (len <= 0 || !ptr)
		return;
	r->data_total = len;
	read_raw(r->data, &r->data_len, SNB_DATA, ptr, len > snaplen ? snaplen : len);
}

#define user_str(r, ptr) read_str((r)->data, &(r)->data_len, SNB_DATA, (ptr))
#define user_str2(r, ptr) read_str((r)->data2, &(r)->data2_len, SNB_DATA2, (ptr))
#define user_raw2(r, ptr, len) read_raw((r)->data2, &(r)->data2_len, SNB_DATA2, (ptr), (len))

#define SNB_IOVECS 8  /* iovecs gathered per readv/writev/sendmsg/recvmsg */

/* The first snaplen bytes the syscall moved through an iovec array, gathered across up to SNB_IOVECS
 * entries (as sysdig does). After the first entry the verifier needs offset and length each within half the
 * buffer, so later entries fill at most the first SNB_DATA/2 bytes: all of it at the default snaplen. */
static __always_inline void iovecs(struct snb_big *r, __u64 iov_ptr, long iovcnt, long ret, __u32 snaplen)
{
	if (!iov_ptr || ret <= 0)
		return;
	r->data_total = ret;
	long want = ret < (long)snaplen ? ret : (long)snaplen;
	__u32 off = 0;
#pragma unroll
	for (int i = 0; i < SNB_IOVECS; i++) {
		struct iovec iov = {};
		if (i >= iovcnt || off >= want || bpf_probe_read_user(&iov, sizeof(iov), (void *)(iov_ptr + i * sizeof(iov))))
			break;
		long n = (long)iov.iov_len < want - off ? (long)iov.iov_len : want - off;
		if (n <= 0)
			continue;
		if (i == 0) {
			__u64 m = bounded(n, SNB_DATA);
			if (m > SNB_DATA || bpf_probe_read_user(r->data, m, iov.iov_base))
				break;
			off = m;
			continue;
		}
		if (off >= SNB_DATA / 2)
			break;
		__u32 at = off & (SNB_DATA / 2 - 1);
		__u64 m = bounded(n, SNB_DATA / 2);
		if (m > SNB_DATA / 2 || bpf_probe_read_user(&r->data[at], m, iov.iov_base))
			break;
		off = at + m;
	}
	r->data_len = off;
}

static __always_inline void msghdr(struct snb_big *r, __u64 ptr, long ret, __u32 snaplen)
{
	struct user_msghdr m = {};
	if (!ptr || bpf_probe_read_user(&m, sizeof(m), (void *)ptr))
		return;
	user_raw2(r, (__u64)m.msg_name, m.msg_namelen);
	iovecs(r, (__u64)m.msg_iov, m.msg_iovlen, ret, snaplen);
}

/* The process command line (argv, NUL-separated) into data, the environment into data2. */
static __always_inline void mm_args(struct snb_big *r, struct task_struct *t)
{
	void *mm = NULL;
	KREAD(&mm, t, task_mm);
	if (!mm)
		return;
	unsigned long start = 0, end = 0;
	KREAD(&start, mm, mm_arg_start);
	KREAD(&end, mm, mm_arg_end);
	if (end > start)
		read_raw(r->data, &r->data_len, SNB_DATA, start, end - start);
	KREAD(&start, mm, mm_env_start);
	KREAD(&end, mm, mm_env_end);
	if (end > start)
		read_raw(r->data2, &r->data2_len, SNB_DATA2, start, end - start);
}

/* ---- kernel socket of an fd --------------------------------------------------------------------------------- */

static __always_inline void *socket_of_fd(struct task_struct *t, long fd)
{
	void *files = NULL, *fdt = NULL, **fds = NULL, *f = NULL, *inode = NULL, *sock = NULL, *sk = NULL;
	int max_fds = 0;
	__u16 mode = 0;
	KREAD(&files, t, task_files);
	if (files)
		KREAD(&fdt, files, files_fdt);
	if (!fdt)
		return NULL;
	KREAD(&max_fds, fdt, fdt_max_fds);
	if (fd >= max_fds)
		return NULL;
	KREAD(&fds, fdt, fdt_fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd & 0xFFFFF]);
	if (!f)
		return NULL;
	KREAD(&inode, f, file_inode);
	if (inode)
		KREAD(&mode, inode, inode_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	KREAD(&sock, f, file_private);
	if (sock)
		KREAD(&sk, sock, socket_sk);
	return sk;
}

static __always_inline void unix_tuple(struct snb_big *r, void *sk)
{
	void *peer = NULL, *addr = NULL;
	KREAD(&peer, sk, unix_peer);
	*(__u64 *)r->saddr = (__u64)sk;
	*(__u64 *)r->daddr = (__u64)peer;
	KREAD(&addr, sk, unix_addr);
	if (!addr && peer)
		KREAD(&addr, peer, unix_addr);
	if (addr && !r->data2_len) {
		long n = bpf_probe_read_kernel_str(r->data2, SUN_PATH_LEN, KADDR(addr, unix_addr_path));
		if (n > 0)
			r->data2_len = n;
	}
}

static __always_inline void sock_of_fd(struct snb_big *r, struct task_struct *t, long fd)
{
	if (fd < 0)
		return;
	void *sk = socket_of_fd(t, fd);
	if (!sk)
		return;
	__u16 family = 0, type = 0, proto = 0, port = 0;
	KREAD(&family, sk, sk_family);
	KREAD(&type, sk, sk_type);
	KREAD(&proto, sk, sk_protocol);
	r->family = family;
	r->sock_type = type;
	r->proto = proto;
	if (family == AF_INET) {
		KREAD((__u32 *)r->saddr, sk, sk_rcv_saddr);
		KREAD((__u32 *)r->daddr, sk, sk_daddr);
	} else if (family == AF_INET6) {
		bpf_probe_read_kernel(r->saddr, 16, KADDR(sk, sk_v6_rcv_saddr));
		bpf_probe_read_kernel(r->daddr, 16, KADDR(sk, sk_v6_daddr));
	} else if (family == AF_UNIX) {
		unix_tuple(r, sk);
		return;
	}
	if (family == AF_INET || family == AF_INET6) {
		KREAD(&port, sk, sk_num);
		r->sport = port;
		KREAD(&port, sk, sk_dport);
		r->dport = bpf_ntohs(port);
	}
}

/* ---- what each syscall carries ------------------------------------------------------------------------------- */

/* The path or address this syscall's entry copied (see struct snb_task) into data (or data2); false when
 * there is none (no entry seen, --no-latency, or the string filled the buffer: then read at exit). */
static __always_inline bool from_entry(struct snb_big *r, struct snb_task *ts, long nr, bool second)
{
	if (!ts || ts->nr != nr || !ts->len || ts->len >= SNB_ENTER_DATA)
		return false;
	if (second) {
		__builtin_memcpy(r->data2, ts->data, SNB_ENTER_DATA);
		r->data2_len = ts->len;
	} else {
		__builtin_memcpy(r->data, ts->data, SNB_ENTER_DATA);
		r->data_len = ts->len;
	}
	ts->nr = 0xFFFF;
	return true;
}

static __always_inline void fill_big(struct snb_big *r, struct task_struct *t, long nr, long ret, __u32 snaplen,
				     struct snb_task *ts)
{
	__u64 *a = r->b.args;
	switch (nr) {
	case NR_read: case NR_pread64: case NR_write: case NR_pwrite64:
		user_buf(r, a[1], ret, snaplen);
		break;
	case NR_recvfrom:
		user_buf(r, a[1], ret, snaplen);
		if (a[4] && a[5]) {
			int alen = 0;
			bpf_probe_read_user(&alen, sizeof(alen), (void *)a[5]);
			user_raw2(r, a[4], alen);
		}
		sock_of_fd(r, t, a[0]);
		break;
	case NR_sendto:
		user_buf(r, a[1], ret, snaplen);
		user_raw2(r, a[4], a[5]);
		sock_of_fd(r, t, a[0]);
		break;
	case NR_readv: case NR_writev: case NR_preadv: case NR_pwritev:
		iovecs(r, a[1], a[2], ret, snaplen);
		break;
	case NR_sendmsg: case NR_recvmsg:
		msghdr(r, a[1], ret, snaplen);
		sock_of_fd(r, t, a[0]);
		break;
	case NR_connect: case NR_bind:
		if (!from_entry(r, ts, nr, true))
			user_raw2(r, a[1], a[2]);
		sock_of_fd(r, t, a[0]);
		break;
	case NR_listen:
		sock_of_fd(r, t, a[0]);
		break;
	case NR_accept: case NR_accept4:
		sock_of_fd(r, t, ret);
		break;
	case NR_open: case NR_creat: case NR_chdir: case NR_mkdir: case NR_rmdir: case NR_unlink:
	case NR_chmod:
		if (!from_entry(r, ts, nr, false))
			user_str(r, a[0]);
		break;
	case NR_openat: case NR_mkdirat: case NR_unlinkat: case NR_fchmodat:
		if (!from_entry(r, ts, nr, false))
			user_str(r, a[1]);
		break;
	case NR_openat2:
		if (!from_entry(r, ts, nr, false))
			user_str(r, a[1]);
		user_raw2(r, a[2], 24);
		break;
	case NR_rename: case NR_link: case NR_symlink:
		user_str(r, a[0]);
		user_str2(r, a[1]);
		break;
	case NR_renameat: case NR_renameat2: case NR_linkat:
		user_str(r, a[1]);
		user_str2(r, a[3]);
		break;
	case NR_symlinkat:
		user_str(r, a[0]);
		user_str2(r, a[2]);
		break;
	case NR_pipe: case NR_pipe2:
		if (ret == 0)
			user_raw2(r, a[0], 8);
		break;
	case NR_socketpair:
		if (ret == 0)
			user_raw2(r, a[3], 8);
		break;
	case NR_execve: case NR_execveat:
		snb_cgroup_path(r, t);
		if (ret == 0) {
			mm_args(r, t);
		} else {
			user_str(r, nr == NR_execve ? a[0] : a[1]);
		}
		break;
	case NR_clone3:
		mm_args(r, t);
		snb_cgroup_path(r, t);
		if (a[0]) /* clone_args.flags, the first u64 of the struct */
			bpf_probe_read_user(&r->data_total, sizeof(r->data_total), (void *)a[0]);
		break;
	case NR_clone: case NR_fork: case NR_vfork:
		mm_args(r, t);
		snb_cgroup_path(r, t);
		break;
	}
}

/* read/write/pread/pwrite whose captured payload fits a mid record: a 256-byte ring slot instead of a
 * 1456-byte one, so the byte-at-a-time I/O that floods a recorder costs a sixth of the ring and the copy. */
static __always_inline bool fits_mid(long nr, long ret, __u32 snaplen)
{
	if (nr != NR_read && nr != NR_write && nr != NR_pread64 && nr != NR_pwrite64)
		return false;
	return ret <= SNB_MID_DATA || snaplen <= SNB_MID_DATA;
}

/* Whether the syscall set (if one was given) includes ``nr``. */
static __always_inline bool wanted(struct snb_config *cfg, long nr)
{
	return !cfg->syscall_filter || cfg->syscalls[nr & (SNB_NR_SYSCALLS - 1)];
}

/* The next free slot of this CPU's ring ``ring`` (enum snb_ring; ``nslots``: its SNB_*_SLOTS,
 * which the config's slots_shift scales down), or NULL (counted as lost) when the ring is full. publish()
 * then makes the record visible. */
static __always_inline void *claim(__u32 ring, __u32 nslots, __u32 cpu, struct snb_stats *st, struct snb_pos **pos,
				   struct snb_config *cfg)
{
	nslots >>= cfg->slots_shift & 15;
	__u32 k = cpu * SNB_RINGS + ring;
	struct snb_pos *p = ring_position(k);
	if (!p) {
		lost_one(st);
		return NULL;
	}
	__u64 head = p->head;
	if (head - *(volatile __u64 *)&p->tail >= nslots) {
		lost_one(st);
		return NULL;
	}
	__u32 idx = cpu * nslots + (head & (nslots - 1));
	void *r = ring_slot(ring, idx);
	if (!r) {
		lost_one(st);
		return NULL;
	}
	*pos = p;
	return r;
}

/* The record is written: move head past it (x86 keeps stores in order; the barrier keeps clang's too). */
static __always_inline void publish(struct snb_pos *p)
{
	asm volatile("" ::: "memory");
	*(volatile __u64 *)&p->head = p->head + 1;
}

/* ---- the programs' bodies -------------------------------------------------------------------------------- */

/* The current task, or NULL when recording is off or the task is excluded. */
static __always_inline struct task_struct *traced_task(struct snb_config *cfg)
{
	if (!cfg)
		return NULL;
	struct task_struct *t = this_task();
	return skipped(cfg, t) ? NULL : t;
}

/* sys_enter: the entry time, and what the kernel is about to read from user memory (TOCTOU). */
static __always_inline int handle_enter(struct pt_regs *regs, long id)
{
	struct snb_config *cfg = get_config();
	struct task_struct *t = traced_task(cfg);
	if (!t || !wanted(cfg, id))
		return 0;
	struct snb_task *ts = task_entry(t, true);
	if (!ts)
		return 0;
	ts->ts = bpf_ktime_get_boot_ns();
	ts->nr = id;
	ts->len = 0;
	switch (id) {
	case NR_open: case NR_creat: case NR_chdir: case NR_mkdir: case NR_rmdir: case NR_unlink:
	case NR_chmod:
		read_str(ts->data, &ts->len, SNB_ENTER_DATA, regs->di);
		break;
	case NR_openat: case NR_openat2: case NR_mkdirat: case NR_unlinkat: case NR_fchmodat:
		read_str(ts->data, &ts->len, SNB_ENTER_DATA, regs->si);
		break;
	case NR_connect: case NR_bind:
		read_raw(ts->data, &ts->len, SNB_ENTER_DATA, regs->si, regs->dx);
		break;
	}
	return 0;
}

static __always_inline int handle_exit(struct pt_regs *regs, long ret)
{
	struct snb_config *cfg = get_config();
	struct task_struct *t = traced_task(cfg);
	if (!t)
		return 0;
	long nr = regs->orig_ax;
	if (nr < 0 || nr >= SNB_NR_SYSCALLS || task_compat(t) || !wanted(cfg, nr))
		return 0;
	__u32 cpu = bpf_get_smp_processor_id();
	struct snb_stats *st = cpu_stats();
	/* a helper call, with several kernel calls behind it: skipped when there is no entry hook to fill it */
	struct snb_task *ts = cfg->enter_hook ? task_entry(t, false) : NULL;
	struct snb_pos *pos;
	if (fits_mid(nr, ret, cfg->snaplen)) {
		struct snb_mid *r = claim(SNB_RING_MID, SNB_MID_SLOTS, cpu, st, &pos, cfg);
		if (!r)
			return 0;
		fill_base(&r->b, t, regs, nr, ret, SNB_SYSCALL, cpu, st, ts);
		r->data_len = r->data2_len = 0;
		r->data_total = ret > 0 ? ret : 0;
		read_raw(r->data, &r->data_len, SNB_MID_DATA, r->b.args[1], ret > cfg->snaplen ? cfg->snaplen : ret);
		publish(pos);
		return 0;
	}
	if (is_big(nr)) {
		struct snb_big *r = claim(SNB_RING_BIG, SNB_BIG_SLOTS, cpu, st, &pos, cfg);
		if (!r)
			return 0;
		fill_base(&r->b, t, regs, nr, ret, SNB_SYSCALL, cpu, st, ts);
		r->data_len = r->data2_len = 0;
		r->data_total = 0;
		r->family = r->sock_type = r->proto = 0;
		r->sport = r->dport = 0;
		__builtin_memset(r->saddr, 0, sizeof(r->saddr));
		__builtin_memset(r->daddr, 0, sizeof(r->daddr));
		fill_big(r, t, nr, ret, cfg->snaplen, ts);
		publish(pos);
		return 0;
	}
	struct snb_base *r = claim(SNB_RING_SMALL, SNB_SMALL_SLOTS, cpu, st, &pos, cfg);
	if (!r)
		return 0;
	fill_base(r, t, regs, nr, ret, SNB_SYSCALL, cpu, st, ts);
	publish(pos);
	return 0;
}

static __always_inline int handle_procexit(void)
{
	struct snb_config *cfg = get_config();
	struct task_struct *t = traced_task(cfg);
	if (!t)
		return 0;
	__u32 cpu = bpf_get_smp_processor_id();
	struct snb_stats *st = cpu_stats();
	struct snb_pos *pos;
	struct snb_base *r = claim(SNB_RING_SMALL, SNB_SMALL_SLOTS, cpu, st, &pos, cfg);
	if (!r)
		return 0;
	fill_base(r, t, NULL, 0xFFFF, task_exit_code(t), SNB_PROCEXIT, cpu, st, NULL);
	publish(pos);
	return 0;
}

#endif
