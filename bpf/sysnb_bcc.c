// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* sysnb recorder, bcc flavour: the fallback for kernels without BTF, compiled at start by bcc
 * (sysnb/record/bcc_engine.py) around the same logic as the CO-RE program (recorder.h). Differences:
 *  - kernel struct fields are read at offsets the engine passes as -DOFF_<field>: resolved from BTF where the
 *    kernel has it (header layouts can silently differ from the running kernel), else offsetof() in the
 *    installed kernel headers;
 *  - raw tracepoints: pt_regs (x86-64 ABI, stable) is copied whole from the tracepoint's argument;
 *  - thread ids, uid/gid and comm come from helpers;
 *  - entry state lives in an LRU hash keyed by thread id (task storage needs BTF).
 * The engine also passes the map sizes (SMALL_ENTRIES, ...), MEMORY_SUBSYS and SNB_ENTER_HOOK. */
#include <asm/ptrace.h>
#include <linux/types.h>
#include <linux/uio.h>
#include <linux/socket.h>
#include <linux/sched.h>
#include "record.h"
#ifdef SNB_HEADER_OFFSETS  /* no BTF: the offsets are offsetof() in these headers (the running kernel's own) */
#include <linux/cgroup-defs.h>
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/kernfs.h>
#include <linux/mm_types.h>
#include <net/sock.h>
#include <net/af_unix.h>
#endif
#ifndef MEMORY_SUBSYS
#ifdef CONFIG_MEMCG
#define MEMORY_SUBSYS memory_cgrp_id
#else
#define MEMORY_SUBSYS (-1)
#endif
#endif

#define KREAD(dst, p, f) bpf_probe_read_kernel((dst), sizeof(*(dst)), (const char *)(p) + OFF_##f)
#define KADDR(p, f) ((void *)((const char *)(p) + OFF_##f))
#define bpf_ntohs(x) __builtin_bswap16(x)
#include "recorder.h"

BPF_F_TABLE("array", u32, struct snb_base, small_slots, SMALL_ENTRIES, BPF_F_MMAPABLE);
BPF_F_TABLE("array", u32, struct snb_mid, mid_slots, MID_ENTRIES, BPF_F_MMAPABLE);
BPF_F_TABLE("array", u32, struct snb_big, big_slots, BIG_ENTRIES, BPF_F_MMAPABLE);
BPF_F_TABLE("array", u32, struct snb_pos, ring_pos, POS_ENTRIES, BPF_F_MMAPABLE);
BPF_ARRAY(snb_config_map, struct snb_config, 1);
BPF_PERCPU_ARRAY(stats, struct snb_stats, 1);
BPF_TABLE("lru_hash", u32, struct snb_task, task_state, 16384);
BPF_PERCPU_ARRAY(task_blank, struct snb_task, 1);  /* the value a thread's first entry starts from */

static __always_inline struct snb_config *get_config(void)
{
	__u32 zero = 0;
	struct snb_config *cfg = snb_config_map.lookup(&zero);
	return cfg && cfg->enabled ? cfg : NULL;
}

static __always_inline struct snb_stats *cpu_stats(void)
{
	__u32 zero = 0;
	return stats.lookup(&zero);
}

static __always_inline struct snb_pos *ring_position(__u32 k)
{
	return ring_pos.lookup(&k);
}

static __always_inline void *ring_slot(__u32 ring, __u32 idx)
{
	if (ring == SNB_RING_SMALL)
		return small_slots.lookup(&idx);
	if (ring == SNB_RING_MID)
		return mid_slots.lookup(&idx);
	return big_slots.lookup(&idx);
}

static __always_inline struct snb_task *task_entry(struct task_struct *t, bool create)
{
	__u32 tid = bpf_get_current_pid_tgid();
	struct snb_task *ts = task_state.lookup(&tid);
	if (ts || !create)
		return ts;
	__u32 zero = 0;
	struct snb_task *blank = task_blank.lookup(&zero);
	if (!blank)
		return NULL;
	task_state.update(&tid, blank);
	return task_state.lookup(&tid);
}

static __always_inline struct task_struct *this_task(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

static __always_inline __u32 snb_tgid(struct task_struct *t)
{
	return bpf_get_current_pid_tgid() >> 32;
}

/* Helper calls are dear (each ~40-60 ns with the SRSO and retpoline mitigations of this kind of host), so the
 * fields only process records use are read for those alone. */
static __always_inline void fill_task(struct snb_base *r, struct task_struct *t)
{
	__u64 id = bpf_get_current_pid_tgid();
	r->tid = id;
	r->pid = id >> 32;
	if (!is_proc_record(r)) {
		r->ppid = r->uid = r->gid = 0;
		__builtin_memset(r->comm, 0, sizeof(r->comm));
		return;
	}
	__u64 ug = bpf_get_current_uid_gid();
	r->uid = ug;
	r->gid = ug >> 32;
	void *parent = NULL;
	__u32 ppid = 0;
	KREAD(&parent, t, task_real_parent);
	if (parent)
		KREAD(&ppid, parent, task_tgid);
	r->ppid = ppid;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
}

static __always_inline bool task_compat(struct task_struct *t)
{
	__u32 status = 0;
	KREAD(&status, t, task_ti_status);
	return status & TS_COMPAT;
}

static __always_inline long task_exit_code(struct task_struct *t)
{
	int code = 0;
	KREAD(&code, t, task_exit_code);
	return code;
}

static __always_inline void *kn_parent(void *kn)
{
	void *parent = NULL;
	KREAD(&parent, kn, kn_parent);
	return parent;
}

static __always_inline int memory_subsys(void)
{
	return MEMORY_SUBSYS;
}

#ifdef SNB_ENTER_HOOK
RAW_TRACEPOINT_PROBE(sys_enter)
{
	if (!get_config())
		return 0;  /* paused: no copy of the registers */
	struct pt_regs regs = {};
	bpf_probe_read_kernel(&regs, sizeof(regs), (void *)ctx->args[0]);
	return handle_enter(&regs, ctx->args[1]);
}
#endif

RAW_TRACEPOINT_PROBE(sys_exit)
{
	if (!get_config())
		return 0;
	struct pt_regs regs = {};
	bpf_probe_read_kernel(&regs, sizeof(regs), (void *)ctx->args[0]);
	return handle_exit(&regs, ctx->args[1]);
}

RAW_TRACEPOINT_PROBE(sched_process_exit)
{
	return handle_procexit();
}
