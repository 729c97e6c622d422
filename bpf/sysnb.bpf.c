// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* sysnb recorder, CO-RE flavour (loaded through libbpf by sysnb/record/engine.py): the maps, the kernel
 * accessors (CO-RE relocations and direct BTF loads) and the tracepoint programs around the logic in
 * recorder.h, which the bcc flavour (sysnb_bcc.c) shares. Tracepoints only: no kprobes, no fentry (see
 * ../shared/docs/recorder-study.md). x86-64 syscall numbers; ia32 compat calls are skipped. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
/* KREAD(dst, ptr, F) reads field F (recorder.h's table: F_F is "struct, field path") with a CO-RE relocation */
#define KSTRUCT_(s, path) s
#define KPATH_(s, path) path
#define KREAD_(dst, p, spec) BPF_CORE_READ_INTO(dst, (struct KSTRUCT_ spec *)(p), KPATH_ spec)
#define KREAD(dst, p, f) KREAD_(dst, p, (F_##f))
#define KADDR_(p, spec) ((void *)&((struct KSTRUCT_ spec *)(p))->KPATH_ spec)
#define KADDR(p, f) KADDR_(p, (F_##f))

#include "recorder.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* The rings: one mmapable array of fixed-size records per kind, CPU c owning slots [c * N, (c + 1) * N)
 * (userspace sizes max_entries to possible CPUs * N before loading), and their positions in ring_pos. A
 * syscall-tracepoint program runs with preemption disabled and one instance per CPU at a time, so each
 * CPU's ring has a single producer and needs no lock: a record costs two inlined array lookups and two
 * stores where bpf_ringbuf_reserve/submit took a spinlock with interrupts off and an atomic exchange. */
#define SLOT_ARRAY(name, record, slots)			\
	struct {					\
		__uint(type, BPF_MAP_TYPE_ARRAY);	\
		__uint(map_flags, BPF_F_MMAPABLE);	\
		__uint(max_entries, slots);		\
		__type(key, __u32);			\
		__type(value, record);			\
	} name SEC(".maps")

SLOT_ARRAY(small_slots, struct snb_base, SNB_SMALL_SLOTS);
SLOT_ARRAY(mid_slots, struct snb_mid, SNB_MID_SLOTS);
SLOT_ARRAY(big_slots, struct snb_big, SNB_BIG_SLOTS);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SNB_RINGS);  /* sized by userspace to possible CPUs * SNB_RINGS; CPU c's at [c * SNB_RINGS] */
	__type(key, __u32);
	__type(value, struct snb_pos);
} ring_pos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct snb_config);
} snb_config_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct snb_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct snb_task);
} task_state SEC(".maps");

/* sizes of the record structs, for the Python side to check its mirror of record.h */
const volatile __u32 snb_sizes[3] = {sizeof(struct snb_base), sizeof(struct snb_big), sizeof(struct snb_mid)};

static __always_inline struct snb_config *get_config(void)
{
	__u32 zero = 0;
	struct snb_config *cfg = bpf_map_lookup_elem(&snb_config_map, &zero);
	return cfg && cfg->enabled ? cfg : NULL;
}

static __always_inline struct snb_stats *cpu_stats(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline struct snb_pos *ring_position(__u32 k)
{
	return bpf_map_lookup_elem(&ring_pos, &k);
}

static __always_inline void *ring_slot(__u32 ring, __u32 idx)
{
	if (ring == SNB_RING_SMALL)
		return bpf_map_lookup_elem(&small_slots, &idx);
	if (ring == SNB_RING_MID)
		return bpf_map_lookup_elem(&mid_slots, &idx);
	return bpf_map_lookup_elem(&big_slots, &idx);
}

static __always_inline struct snb_task *task_entry(struct task_struct *t, bool create)
{
	return bpf_task_storage_get(&task_state, t, 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* ---- kernel accessors ---------------------------------------------------------------------------------------- */

struct kernfs_node___old {
	struct kernfs_node *parent;  /* renamed __parent in 6.15 */
} __attribute__((preserve_access_index));

static __always_inline void *kn_parent(void *p)
{
	struct kernfs_node *kn = p;
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

static __always_inline int memory_subsys(void)
{
	if (bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	return -1;
}

static __always_inline struct task_struct *this_task(void)
{
	return bpf_get_current_task_btf();
}

static __always_inline __u32 snb_tgid(struct task_struct *t)
{
	return t->tgid;
}

/* direct (BTF) loads, not probe-read helper calls: this runs on every system call */
static __always_inline void fill_task(struct snb_base *r, struct task_struct *t)
{
	r->tid = t->pid;
	r->pid = t->tgid;
	r->ppid = t->real_parent->tgid;
	const struct cred *cred = t->cred;
	r->uid = cred->uid.val;
	r->gid = cred->gid.val;
	__builtin_memcpy(r->comm, t->comm, sizeof(r->comm));
}

static __always_inline bool task_compat(struct task_struct *t)
{
	return t->thread_info.status & TS_COMPAT;
}

static __always_inline long task_exit_code(struct task_struct *t)
{
	return t->exit_code;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(snb_enter, struct pt_regs *regs, long id)
{
	return handle_enter(regs, id);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(snb_exit, struct pt_regs *regs, long ret)
{
	return handle_exit(regs, ret);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(snb_procexit, struct task_struct *p)
{
	return handle_procexit();
}
