//! The state engine: replays events over thread/process/fd state as libsinsp does.
//!
//! For each raw event it (1) finds or creates the thread, (2) pairs enter/exit per thread, (3) applies the
//! event's state change (`parsers.rs`), (4) renders `evt.args` against the state as it is after the event,
//! and (5) hands the rest to the column builder (`columns.rs`).

use std::rc::Rc;

use rustc_hash::FxHashMap;

use crate::columns::{BatchBuilder, Col, FSnap, Sizes, TSnap, Want};
use crate::events::{
    attrs, event_info, syscall_category, syscall_name, EventInfo, NameSource, Parser, TypeAttrs, CONTAINER_E,
    EXECVEAT_E, EXECVE_19_X, GENERIC_E, GENERIC_X, SCHED_SWITCH,
};
use crate::reader::{RawEvent, Section};
use crate::render::args::{self, cstr, i64_of, render, render_all, Ctx, Params, Rendered};
use crate::state::model::{
    fdtype as ft, is_server_type, is_sock, l4_name, sanitized, tuple_name, typechar, typename, Fd, Proc, ProcRef,
    Thread, ThreadRef, ROLE_CLIENT, ROLE_NONE, ROLE_SERVER,
};
use crate::state::network::Interfaces;
use crate::state::parsers;
use crate::state::paths::{as_cwd, concatenate_paths};
use crate::state::syslog;

/// proc.apid[N]/proc.aname[N] are kept this many levels deep (0 = the process itself).
pub const MAX_ANCESTORS: usize = 16;

/// Where the fd of an event is: its number in the thread's process table, if the event has one.
#[derive(Clone, Copy, Debug, Default)]
pub struct EvFd {
    /// the fd the event uses, when it is in the table (looked up again by number when read)
    pub fd: Option<i64>,
    /// the fd number the event names (may be absent from the table)
    pub num: Option<i64>,
}

pub struct Engine {
    pub threads: FxHashMap<i64, ThreadRef>,
    pub users: FxHashMap<u32, Vec<u8>>,
    pub groups: FxHashMap<u32, Vec<u8>>,
    pub evtnum: i64,
    /// whether the current event is numbered (see `process`)
    numbered: bool,
    /// sections loaded so far, and whether the current one has seen only container events yet
    sections: u32,
    section_start: bool,
    pub(crate) to_remove_tid: Option<i64>,
    pub(crate) to_remove_fd: Option<(ProcRef, i64)>,
    /// container id -> the container's JSON object, in order of first appearance
    pub containers: Vec<(Vec<u8>, String)>,
    container_index: FxHashMap<Vec<u8>, usize>,
    pub interfaces: Interfaces,
    pub hostname: Vec<u8>,
    seen_syscall: bool,
    gen: u64,
    batches: u64,
    scratch: Rendered,
    /// render `evt.args` only for these event types (None: every type); a reader whose filter can match only
    /// some types sets it, as rows of the other types are dropped before anything prints their arguments
    pub args_types: Option<Vec<bool>>,
    args_buf: Vec<u8>,
    attrs: &'static [TypeAttrs],
    /// the variable-width columns' bytes per row in the last batch (capacities of the next)
    pub sizes: Sizes,
    /// the current event's fd when its parsing began
    reset_fd: ResetFd,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

/// The event being replayed, with the attributes of its type.
pub struct Ev<'a> {
    pub raw: &'a RawEvent<'a>,
    pub info: &'static EventInfo,
    pub attrs: &'static TypeAttrs,
    pub params: Params<'a>,
}

impl<'a> Ev<'a> {
    pub fn exit(&self) -> bool {
        self.raw.etype & 1 == 1
    }
    pub fn param(&self, i: usize) -> Option<&'a [u8]> {
        self.params.get(i)
    }
    /// A parameter of the current table by name.
    pub fn named(&self, name: &str) -> Option<&'a [u8]> {
        self.info.param_index(name).and_then(|i| self.params.get(i))
    }
}

impl Engine {
    pub fn new() -> Engine {
        Engine {
            threads: FxHashMap::default(),
            users: FxHashMap::default(),
            groups: FxHashMap::default(),
            evtnum: 0,
            numbered: false,
            sections: 0,
            section_start: false,
            to_remove_tid: None,
            to_remove_fd: None,
            containers: Vec::new(),
            container_index: FxHashMap::default(),
            interfaces: Interfaces::default(),
            hostname: Vec::new(),
            seen_syscall: false,
            gen: 0,
            batches: 0,
            scratch: Rendered::default(),
            args_types: None,
            args_buf: Vec::with_capacity(1024),
            attrs: attrs(),
            sizes: Sizes::default(),
            reset_fd: ResetFd::default(),
        }
    }

    /// A builder for the next batch (thread snapshots are retaken per batch).
    pub fn new_batch(&mut self, capacity: usize, want: Want) -> BatchBuilder {
        self.batches += 1;
        self.gen += 1;
        BatchBuilder::new(self.batches, capacity, want, self.sizes)
    }

    fn renders_args(&self, etype: u16) -> bool {
        self.args_types.as_ref().is_none_or(|types| types.get(etype as usize).copied().unwrap_or(false))
    }

    pub fn invalidate_threads(&mut self) {
        self.gen += 1;
    }

    // -- sections ----------------------------------------------------------------------------------------

    /// Reset state from a section's metadata (libsinsp re-reads state for concatenated files).
    pub fn load_section(&mut self, s: &Section) {
        self.sections += 1;
        self.section_start = self.sections > 1;
        self.threads = FxHashMap::default();
        let mut procs: FxHashMap<i64, ProcRef> = FxHashMap::default();
        for e in &s.threads {
            if e.tid == e.pid || !procs.contains_key(&e.pid) {
                procs.entry(e.pid).or_insert_with(|| Proc::new(as_cwd(concatenate_paths(b"", &e.cwd))));
            }
        }
        for e in &s.threads {
            let proc = procs[&e.pid].clone();
            if e.tid == e.pid {
                proc.borrow_mut().cwd = as_cwd(concatenate_paths(b"", &e.cwd));
            }
            self.threads.insert(e.tid, Rc::new(std::cell::RefCell::new(Thread::from_entry(e, proc))));
        }
        for (tid, fds) in &s.fds {
            let Some(t) = self.threads.get(tid) else {
                continue;
            };
            let proc = t.borrow().proc.clone();
            let mut p = proc.borrow_mut();
            for fe in fds {
                if fe.ftype > 16 {
                    continue;
                }
                p.fds.insert(fe.fd, Fd::from_entry(fe));
            }
        }
        self.interfaces = Interfaces::new(&s.interfaces);
        for proc in self.unique_procs() {
            for fd in proc.borrow_mut().fds.values_mut() {
                self.interfaces.update_fd(fd); // as libsinsp's add_fd_from_scap does
            }
        }
        self.fix_sockets_from_proc();
        self.users = s.users.iter().map(|u| (u.uid, u.name.clone())).collect();
        self.groups = s.groups.iter().cloned().collect();
        if let Some(m) = &s.machine {
            self.hostname = m.hostname.clone();
        }
        self.seen_syscall = false;
    }

    fn unique_procs(&self) -> Vec<ProcRef> {
        let mut seen: FxHashMap<*const std::cell::RefCell<Proc>, ProcRef> = FxHashMap::default();
        for t in self.threads.values() {
            let p = t.borrow().proc.clone();
            seen.entry(Rc::as_ptr(&p)).or_insert(p);
        }
        seen.into_values().collect()
    }

    /// libsinsp's fix_sockets_coming_from_proc: a connected IPv4 socket whose source port is a port some
    /// IPv4 server socket listens on is the server's end: swap it to client->server and make it a server.
    fn fix_sockets_from_proc(&mut self) {
        let procs = self.unique_procs();
        let mut ports = rustc_hash::FxHashSet::default();
        for p in &procs {
            for fd in p.borrow().fds.values() {
                if is_server_type(fd.ftype) {
                    ports.insert(fd.sport);
                }
            }
        }
        for p in &procs {
            for fd in p.borrow_mut().fds.values_mut() {
                if fd.ftype != ft::IPV4_SOCK {
                    continue;
                }
                if ports.contains(&fd.sport) {
                    std::mem::swap(&mut fd.sip, &mut fd.dip);
                    std::mem::swap(&mut fd.sport, &mut fd.dport);
                    fd.name = tuple_name(fd.sip, fd.sport, fd.dip, fd.dport);
                    fd.role = ROLE_SERVER;
                } else {
                    fd.role = ROLE_CLIENT;
                }
            }
        }
    }

    // -- per event ---------------------------------------------------------------------------------------

    pub fn get_thread(&mut self, tid: i64, create: bool) -> Option<ThreadRef> {
        if let Some(t) = self.threads.get(&tid) {
            return Some(t.clone());
        }
        if !create || tid <= 0 {
            return None;
        }
        let mut t = Thread::new(tid, tid, -1, Proc::new(Vec::new()));
        t.comm = b"<NA>".to_vec();
        t.exe = b"<NA>".to_vec();
        t.fake = true;
        let t = Rc::new(std::cell::RefCell::new(t));
        self.threads.insert(tid, t.clone());
        Some(t)
    }

    /// Replay one event and record its row.
    pub fn process(&mut self, raw: &RawEvent, out: &mut BatchBuilder) {
        if let Some((proc, n)) = self.to_remove_fd.take() {
            proc.borrow_mut().fds.remove(&n);
        }
        if let Some(tid) = self.to_remove_tid.take() {
            self.threads.remove(&tid);
            self.invalidate_threads();
        }
        let params = Params { data: raw.data, spans: raw.spans };
        out.header(raw.offset, raw.cpu, raw.flags, raw.ts, raw.tid, raw.etype, params);
        let Some(info) = event_info(raw.etype) else {
            return self.record_opaque(raw.etype, out);
        };
        let ev = Ev { raw, info, attrs: &self.attrs[raw.etype as usize], params };
        let a = ev.attrs;
        // sysdig 0.29.3 does not number the container events that open a later section of a concatenated
        // capture (measured: 2 per section on mpm-event x2/x50, 1 on alpine x2, other columns equal)
        self.numbered = a.numbered && !(self.section_start && a.container);
        self.section_start &= a.container;
        if self.numbered {
            self.evtnum += 1;
        }
        if !out.want.state() {
            return self.record_stateless(out, &ev);
        }
        let (mut thread, mut evfd) = self.reset(&ev);
        // libsinsp's m_oldname: the name of the event's fd when its parsing began (for fd.name_changed)
        self.reset_fd = ResetFd { fd: evfd.fd, name: None };
        if let (Some(t), Some(n), true) = (&thread, evfd.fd, out.want.has(Col::NameChanged)) {
            self.reset_fd.name = t.borrow().proc.borrow().fds.get(&n).map(|f| f.name.clone());
        }
        let container = if a.container { self.container(&ev) } else { None };
        if a.parser != Parser::None && thread.is_some() {
            let t = thread.clone().expect("checked");
            evfd = parsers::parse(self, &ev, &t, evfd);
        } else if a.clone && ev.exit() {
            parsers::parse_clone(self, &ev, thread.clone());
        }
        if a.thread_mutator {
            self.invalidate_threads();
        }
        let mut visible = a.numbered && !a.internal && raw.flags & 1 == 0;
        if container.is_some() || a.container {
            // container state read before the first syscall event is consumed, not shown
            visible = visible && self.seen_syscall;
        } else {
            self.seen_syscall = true;
        }
        if thread.is_none() {
            thread = self.threads.get(&raw.tid).cloned();
        }
        self.record(out, &ev, thread, evfd, visible, container);
    }

    /// The row of an event when no column that depends on the replayed state was asked for (event types,
    /// numbers, results, buffers): the same values as a full replay, without the replay.
    fn record_stateless(&mut self, out: &mut BatchBuilder, ev: &Ev) {
        let (a, raw) = (ev.attrs, ev.raw);
        let container = if a.container { self.container(ev) } else { None };
        let mut visible = a.numbered && !a.internal && raw.flags & 1 == 0;
        if container.is_some() || a.container {
            visible = visible && self.seen_syscall;
        } else {
            self.seen_syscall = true;
        }
        match (raw.etype == GENERIC_E || raw.etype == GENERIC_X).then(|| ev.param(0).and_then(args::u16_of)).flatten() {
            Some(sc) => out.evt_type(1_000_000 + i64::from(sc), || syscall_name(sc)),
            None => out.evt_type(i64::from(raw.etype), || display_name(ev.info).to_string()),
        }
        let res = if ev.exit() && a.has_res { ev.param(0).and_then(i64_of) } else { None };
        let data = if a.data_idx >= 0 { ev.param(a.data_idx as usize) } else { None };
        let num = self.numbered.then_some(self.evtnum);
        out.event(num, visible, b"", res, None, None, data, None, -1);
        out.fd(None, -1, None);
    }

    /// libsinsp's parser reset: find the thread, pair enter/exit, find the fd the event uses.
    fn reset(&mut self, ev: &Ev) -> (Option<ThreadRef>, EvFd) {
        let a = ev.attrs;
        let raw = ev.raw;
        if a.no_reset {
            return (self.threads.get(&raw.tid).cloned(), EvFd::default());
        }
        let is_clone_exit = a.clone && ev.exit();
        let Some(tref) = self.get_thread(raw.tid, !is_clone_exit) else {
            return (None, EvFd::default());
        };
        let mut t = tref.borrow_mut();
        if !ev.exit() {
            t.last_type = i32::from(raw.etype);
            // keep only this event's parameter bytes (`raw.data` may be a whole batch's buffer)
            let lo = raw.spans.iter().map(|&(q, _)| q).min().unwrap_or(0);
            let hi = raw.spans.iter().map(|&(q, n)| q + n).max().unwrap_or(0);
            t.last_data.clear();
            t.last_data.extend_from_slice(&raw.data[lo as usize..hi as usize]);
            t.last_spans.clear();
            t.last_spans.extend(raw.spans.iter().map(|&(q, n)| (q - lo, n)));
            t.has_last_params = true;
            t.last_fd = -1;
            let mut fd = None;
            if a.uses_fd {
                if let Some(n) = ev.param(0).and_then(i64_of) {
                    t.last_fd = n;
                    if t.proc.borrow().fds.contains_key(&n) {
                        fd = Some(n);
                    }
                }
            }
            t.latency = 0;
            t.last_ts = raw.ts;
            t.pair_ok = false;
            let num = if a.uses_fd { Some(t.last_fd) } else { None };
            drop(t);
            return (Some(tref), EvFd { fd, num });
        }
        if t.last_ts != 0 {
            let latency = i128::from(raw.ts) - i128::from(t.last_ts);
            t.latency = i64::try_from(latency).unwrap_or(0); // a damaged timestamp
        }
        t.pair_ok = i32::from(raw.etype) == t.last_type + 1
            || (raw.etype == EXECVE_19_X && t.last_type == i32::from(EXECVEAT_E));
        if !t.pair_ok || !a.uses_fd {
            drop(t);
            return (Some(tref), EvFd::default());
        }
        let n = t.last_fd;
        let present = t.proc.borrow().fds.contains_key(&n);
        drop(t);
        (Some(tref), EvFd { fd: present.then_some(n), num: Some(n) })
    }

    fn record(
        &mut self,
        out: &mut BatchBuilder,
        ev: &Ev,
        thread: Option<ThreadRef>,
        evfd: EvFd,
        visible: bool,
        container: Option<Vec<u8>>,
    ) {
        let (info, a, raw) = (ev.info, ev.attrs, ev.raw);
        let etype = raw.etype;
        let tsnap = match (&container, &thread) {
            _ if !out.want.thread() => -1,
            (Some(cid), _) => self.container_snap(out, cid),
            (None, Some(tr)) => self.thread_snap(out, tr),
            (None, None) => -1,
        };
        let tb = thread.as_ref().map(|t| t.borrow());
        let t = tb.as_deref();
        // the event's fd as the parsers left it (by number, in the thread's process)
        let fd_type = |n: Option<i64>| -> Option<u8> {
            let t = t?;
            let n = n?;
            t.proc.borrow().fds.get(&n).map(|f| f.ftype)
        };
        let evfd_type = fd_type(evfd.fd);
        let mut cat = info.category_2022;
        let generic = etype == GENERIC_E || etype == GENERIC_X;
        let mut code = i64::from(etype);
        let mut override_name: Option<String> = None;
        self.args_buf.clear();
        if generic {
            if let Some(sc) = ev.param(0).and_then(args::u16_of) {
                override_name = Some(syscall_name(sc));
                cat = syscall_category(sc);
                code = 1_000_000 + i64::from(sc);
            }
        } else if (visible || !a.numbered) && out.want.has(Col::Args) && self.renders_args(etype) {
            let ctx = Ctx { threads: &self.threads, users: &self.users, groups: &self.groups };
            render_all(&mut self.args_buf, info.params_2022, ev.params, t, &ctx, &mut self.scratch);
        }
        match override_name {
            Some(name) => out.evt_type(code, || name),
            None => out.evt_type(i64::from(etype), || display_name(info).to_string()),
        }
        out.category(Some(category(cat, evfd_type, evfd.fd.is_some())));
        let res = if ev.exit() && a.has_res { ev.param(0).and_then(i64_of) } else { None };
        let is_io = cat.starts_with("IO_");
        let buflen = if evfd.fd.is_some() && is_io { res.filter(|&r| r >= 0) } else { None };
        let latency = latency(a, etype, t);
        let data = if a.data_idx >= 0 { ev.param(a.data_idx as usize) } else { None };
        let syslog_fd = match (t, evfd.fd) {
            (Some(t), Some(n)) => t.proc.borrow().fds.get(&n).is_some_and(|f| f.syslog),
            _ => false,
        };
        let decoded = syslog_fd && a.writes_to_fd && res.is_some_and(|r| r >= 0);
        let info_line = if decoded { data.filter(|d| !d.is_empty()).and_then(syslog::info_line) } else { None };
        let num = self.numbered.then_some(self.evtnum);
        let args = std::mem::take(&mut self.args_buf);
        out.event(num, visible, &args, res, buflen, latency, data, info_line.as_deref(), tsnap);
        self.args_buf = args;
        let Some(t) = t else {
            out.fd(None, -1, None);
            return;
        };
        if !a.fd_family {
            out.fd(None, -1, None);
            return;
        }
        let last_fd = t.last_fd;
        let mut fdn = evfd.fd;
        if fdn.is_none() && last_fd != -1 && t.proc.borrow().fds.contains_key(&last_fd) {
            fdn = Some(last_fd);
        }
        let changed =
            if out.want.has(Col::NameChanged) { name_changed(t, fdn, evfd, &self.reset_fd, a.parser) } else { None };
        if !out.want.fd() {
            out.fd(Some(last_fd), -1, changed);
            return;
        }
        let snap = match fdn {
            None => {
                let name = if ev.exit() { self.creator_name(ev, t) } else { None };
                out.push_fsnap(FSnap { typechar: typechar_str(a.null_typechar), name, ..Default::default() })
            }
            Some(n) => {
                let failed_connect =
                    a.name_source == NameSource::Connect && ev.param(0).and_then(i64_of).is_some_and(|r| r < 0);
                if failed_connect {
                    let name = self.creator_name(ev, t);
                    let proc = t.proc.borrow();
                    let f = proc.fds.get(&n).expect("present");
                    out.push_fsnap(fd_snapshot(f, name))
                } else {
                    let mut proc = t.proc.borrow_mut();
                    let f = proc.fds.get_mut(&n).expect("present");
                    fd_snap(out, f)
                }
            }
        };
        out.fd(Some(last_fd), snap, changed);
    }

    /// fd.name of an exit whose fd is unknown: taken from the syscall that made it (libsinsp).
    fn creator_name(&mut self, ev: &Ev, t: &Thread) -> Option<Vec<u8>> {
        match ev.attrs.name_source {
            NameSource::Param1 | NameSource::Connect => {
                let (Some(v), true) = (ev.param(1), ev.info.params_2022.len() >= 2) else {
                    return Some(Vec::new());
                };
                let ctx = Ctx { threads: &self.threads, users: &self.users, groups: &self.groups };
                let p = &ev.info.params_2022[1];
                render(&mut self.scratch, p, v, ev.params, ev.info.params_2022, Some(t), &ctx);
                let r = &self.scratch;
                Some(if r.res.is_empty() { r.val.clone() } else { r.res.clone() })
            }
            NameSource::OpenatOld | NameSource::OpenatNew => {
                let (dirfd_b, name_b) = if ev.attrs.name_source == NameSource::OpenatOld {
                    if t.enter_nparams()? < 2 {
                        return None;
                    }
                    (t.enter_param(0)?.to_vec(), t.enter_param(1)?.to_vec())
                } else {
                    if ev.params.len() < 3 {
                        return None;
                    }
                    (ev.param(1)?.to_vec(), ev.param(2)?.to_vec())
                };
                let dirfd = i64_of(&dirfd_b).unwrap_or(args::PPM_AT_FDCWD);
                Some(sanitized(&parsers::resolve_at(t, dirfd, cstr(&name_b))))
            }
            NameSource::Empty => Some(Vec::new()),
        }
    }

    fn thread_snap(&mut self, out: &mut BatchBuilder, tr: &ThreadRef) -> i32 {
        {
            let t = tr.borrow();
            if t.snap_gen == self.gen && t.snap >= 0 {
                return t.snap;
            }
        }
        let snap = {
            let t = tr.borrow();
            let main = if t.pid != t.tid { self.threads.get(&t.pid).cloned() } else { None };
            let mb = main.as_ref().map(|m| m.borrow());
            let m: &Thread = mb.as_deref().unwrap_or(&t);
            let parent = if t.ptid >= 0 { self.threads.get(&t.ptid).cloned() } else { None };
            let (pname, pcmdline, pexe, pexepath) = match parent.as_ref().and_then(|p| p.try_borrow().ok()) {
                Some(p) => (Some(p.comm.clone()), Some(cmdline(&p)), Some(p.exe.clone()), Some(p.exepath.clone())),
                None => (parent.as_ref().map(|p| p.borrow().comm.clone()), None, None, None),
            };
            let known = t.uid != u32::MAX;
            let Ancestors { pids: apid, names: aname, exes: aexe, exepaths: aexepath } = self.ancestors(m);
            let cwd = t.proc.borrow().cwd.clone();
            TSnap {
                pid: t.pid,
                ppid: m.ptid,
                name: (!t.fake).then(|| t.comm.clone()),
                exe: (!t.fake).then(|| t.exe.clone()),
                exepath: t.exepath.clone(),
                args: (!t.fake).then(|| t.args.joined(b' ')),
                cwd,
                pname,
                uid: t.uid,
                uname: if known { self.users.get(&t.uid).cloned() } else { None },
                loginuid: i64::from(t.loginuid as i32),
                gid: t.gid,
                gname: self.groups.get(&t.gid).cloned(),
                container: t.container.clone(),
                clone_ts: t.clone_ts,
                apid,
                aname,
                vtid: (t.vtid != -1).then_some(t.vtid),
                vpid: (t.vpid != -1).then_some(t.vpid),
                tty: t.tty,
                sid: t.sid,
                vpgid: t.vpgid,
                env: m.env.joined(b' '),
                pcmdline,
                sname: self.session_leader_name(&t, m),
                cgroups: Some(cgroups_text(&t.cgroups)).filter(|c| !c.is_empty()), // sysdig: <NA> without cgroups
                pexe,
                pexepath,
                caps: t.caps,
                exe_flags: t.exe_flags,
                aexe,
                aexepath,
            }
        };
        let idx = out.push_tsnap(snap);
        let mut t = tr.borrow_mut();
        t.snap = idx;
        t.snap_gen = self.gen;
        idx
    }

    /// proc.sname: the name of the thread whose tid is the session id, else of the eldest ancestor with the same
    /// session id (libsinsp's traverse_parent_state from the thread, starting at its main thread).
    fn session_leader_name(&self, t: &Thread, main: &Thread) -> Vec<u8> {
        if let Some(leader) = self.threads.get(&t.sid) {
            // the thread itself is borrowed by the caller
            return match leader.try_borrow() {
                Ok(l) => l.comm.clone(),
                Err(_) => t.comm.clone(),
            };
        }
        let mut found = main.comm.clone();
        let mut seen = vec![t.tid];
        let mut ptid = t.ptid;
        while let Some(parent) = self.threads.get(&ptid) {
            let Ok(p) = parent.try_borrow() else { break };
            if seen.contains(&p.tid) || p.sid != t.sid {
                break;
            }
            seen.push(p.tid);
            found = p.comm.clone();
            ptid = p.ptid;
        }
        found
    }

    /// proc.apid[N]/proc.aname[N] from the process (N=0) up its parents as the thread table knows them now.
    fn ancestors(&self, main: &Thread) -> Ancestors {
        let mut pids = vec![main.pid];
        let mut names = vec![main.comm.clone()];
        let mut exes = vec![main.exe.clone()];
        let mut exepaths = vec![main.exepath.clone()];
        let mut seen = vec![main.tid];
        let mut ptid = main.ptid;
        while pids.len() < MAX_ANCESTORS {
            let Some(parent) = self.threads.get(&ptid) else {
                break;
            };
            // the thread itself may be borrowed mutably nowhere here; a loop back to it is in `seen`
            let Ok(p) = parent.try_borrow() else { break };
            if seen.contains(&p.tid) {
                break;
            }
            seen.push(p.tid);
            pids.push(p.pid);
            names.push(p.comm.clone());
            exes.push(p.exe.clone());
            exepaths.push(p.exepath.clone());
            ptid = p.ptid;
        }
        Ancestors { pids, names, exes, exepaths }
    }

    /// The synthetic thread sysdig shows for a container event: pid -1, parent 0, uid 0, vtid and vpid -2.
    fn container_snap(&self, out: &mut BatchBuilder, cid: &[u8]) -> i32 {
        let mut name = b"container:".to_vec();
        name.extend_from_slice(cid);
        out.push_tsnap(TSnap {
            pid: -1,
            ppid: 0,
            name: Some(name.clone()),
            exe: Some(Vec::new()),
            exepath: Vec::new(),
            args: Some(Vec::new()),
            cwd: Vec::new(),
            pname: None,
            uid: 0,
            uname: self.users.get(&0).cloned(),
            loginuid: 0,
            gid: 0,
            gname: self.groups.get(&0).cloned(),
            container: cid.to_vec(),
            clone_ts: 0,
            apid: Vec::new(),
            aname: Vec::new(),
            vtid: Some(-2),
            vpid: Some(-2),
            tty: 0,
            sid: -1,
            vpgid: -1,
            env: Vec::new(),
            pcmdline: None,
            sname: name.clone(),
            cgroups: None,
            pexe: None,
            pexepath: None,
            caps: None,
            exe_flags: None,
            aexe: Vec::new(),
            aexepath: Vec::new(),
        })
    }

    fn record_opaque(&mut self, etype: u16, out: &mut BatchBuilder) {
        out.evt_type(2_000_000 + i64::from(etype), || format!("unknown({etype})"));
        out.category(None);
        out.event(None, false, b"", None, None, None, None, None, -1);
        out.fd(None, -1, None);
    }

    // -- containers --------------------------------------------------------------------------------------

    /// Record container metadata; returns the container id.
    fn container(&mut self, ev: &Ev) -> Option<Vec<u8>> {
        let first = ev.param(0)?;
        if ev.raw.etype == CONTAINER_E {
            let cid = cstr(first).to_vec();
            let text =
                |i: usize| ev.param(i).map(|v| String::from_utf8_lossy(cstr(v)).into_owned()).unwrap_or_default();
            let obj = serde_json::json!({
                "id": String::from_utf8_lossy(&cid),
                "name": text(2),
                "image": text(3),
            });
            self.set_container(cid.clone(), obj.to_string());
            return Some(cid);
        }
        let value: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(cstr(first))).ok()?;
        let c = value.as_object()?.get("container")?;
        let obj = c.as_object()?;
        let id = obj.get("id")?;
        let cid = match id {
            serde_json::Value::String(s) => s.clone().into_bytes(),
            other => python_str(other).into_bytes(),
        };
        self.set_container(cid.clone(), c.to_string());
        Some(cid)
    }

    fn set_container(&mut self, cid: Vec<u8>, json: String) {
        match self.container_index.get(&cid) {
            Some(&i) => self.containers[i].1 = json,
            None => {
                self.container_index.insert(cid.clone(), self.containers.len());
                self.containers.push((cid, json));
            }
        }
    }
}

/// `str()` of a JSON scalar as Python prints it (container ids that are not strings).
fn python_str(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "None".into(),
        serde_json::Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        other => other.to_string(),
    }
}

/// thread.cgroups: the `subsys=path` entries joined with a space, with v1 controller names (libsinsp's
/// set_cgroups; it stops at an entry without '=').
fn cgroups_text(cgroups: &crate::blocks::NulList) -> Vec<u8> {
    let mut out = Vec::new();
    for cg in cgroups.items() {
        let Some(eq) = cg.iter().position(|&b| b == b'=') else { break };
        let subsys: &[u8] = match &cg[..eq] {
            b"perf" => b"perf_event",
            b"mem" => b"memory",
            b"io" => b"blkio",
            other => other,
        };
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(subsys);
        out.extend_from_slice(&cg[eq..]);
    }
    out
}

/// populate_cmdline: the thread's name, then " " and each argument.
fn cmdline(t: &Thread) -> Vec<u8> {
    let mut out = t.comm.clone();
    for a in t.args.items() {
        out.push(b' ');
        out.extend_from_slice(a);
    }
    out
}

pub fn display_name(info: &EventInfo) -> &'static str {
    if info.known_2022 {
        info.name_2022
    } else {
        info.name
    }
}

fn typechar_str(c: u8) -> &'static str {
    match c {
        b'f' => "f",
        b'4' => "4",
        b'p' => "p",
        b'e' => "e",
        b's' => "s",
        b't' => "t",
        b'i' => "i",
        _ => "o",
    }
}

/// The process and its ancestors, level by level (proc.apid/aname/aexe/aexepath[N]).
struct Ancestors {
    pids: Vec<i64>,
    names: Vec<Vec<u8>>,
    exes: Vec<Vec<u8>>,
    exepaths: Vec<Vec<u8>>,
}

/// The fd an event had when its parsing began, and that fd's name then (only when fd.name_changed is wanted).
#[derive(Default)]
pub struct ResetFd {
    fd: Option<i64>,
    name: Option<Vec<u8>>,
}

/// fd.name_changed as libsinsp computes it after parsing (m_name != m_oldname): the fd the event had when its
/// parsing began against its name then; an fd the event created against "" (a dup's copy keeps its source's
/// old name); None without an fd.
fn name_changed(t: &Thread, fdn: Option<i64>, parsed: EvFd, reset: &ResetFd, parser: Parser) -> Option<bool> {
    let n = fdn?;
    let proc = t.proc.borrow();
    let f = proc.fds.get(&n)?;
    if reset.fd == Some(n) {
        return Some(reset.name.as_deref() != Some(f.name.as_slice()));
    }
    if parsed.fd == Some(n) && !matches!(parser, Parser::Dup | Parser::Fcntl) {
        return Some(!f.name.is_empty());
    }
    Some(false)
}

/// evt.category as sysdig names it: I/O events are named after the kind of fd they use.
fn category(cat: &'static str, fd_type: Option<u8>, has_fd: bool) -> &'static str {
    if matches!(cat, "IO_READ" | "IO_WRITE" | "IO_OTHER") {
        if !has_fd {
            return "unknown";
        }
        return match fd_type {
            Some(ft::FILE | ft::FILE_V2 | ft::DIRECTORY) => "file",
            Some(ft::IPV4_SOCK | ft::IPV6_SOCK | ft::IPV4_SERVSOCK | ft::IPV6_SERVSOCK) => "net",
            Some(ft::FIFO | ft::UNIX_SOCK | ft::EVENT | ft::SIGNALFD | ft::INOTIFY) => "ipc",
            _ => "unknown",
        };
    }
    lower_category(cat)
}

fn lower_category(cat: &'static str) -> &'static str {
    match cat {
        "IPC" => "IPC",
        "NET" => "net",
        "PROCESS" => "process",
        "SCHEDULER" => "scheduler",
        "INTERNAL" => "internal",
        "WAIT" => "wait",
        "TIME" => "time",
        "MEMORY" => "memory",
        "OTHER" => "other",
        "USER" => "user",
        "SLEEP" => "sleep",
        "SYSTEM" => "system",
        "FILE" => "file",
        "SIGNAL" => "signal",
        "UNKNOWN" => "unknown",
        "ITER" => "iter",
        "IO_READ" => "io_read",
        "IO_WRITE" => "io_write",
        "IO_OTHER" => "io_other",
        _ => "unknown",
    }
}

/// libsinsp's evt.latency: the thread's current latency when the event carries its thread (skip-reset and
/// container events do not, except sched switch), 0 otherwise; nothing for internal events.
fn latency(a: &TypeAttrs, etype: u16, t: Option<&Thread>) -> Option<i64> {
    if a.internal {
        return None;
    }
    match t {
        Some(t) if !(a.no_reset && etype != SCHED_SWITCH) => Some(t.latency),
        _ => Some(0),
    }
}

/// Snapshot of an fd, reused while it is unchanged in this batch.
fn fd_snap(out: &mut BatchBuilder, f: &mut Fd) -> i32 {
    if f.snap >= 0 && f.snap_batch == out.batch_id {
        return f.snap;
    }
    let idx = out.push_fsnap(fd_snapshot(f, None));
    f.snap = idx;
    f.snap_batch = out.batch_id;
    idx
}

/// The fd columns of `f`; `name` overrides fd.name for this event only.
fn fd_snapshot(f: &Fd, name: Option<Vec<u8>>) -> FSnap {
    let sock = is_sock(f.ftype);
    let (mut sip, mut sport, mut cip, mut cport) = (None, None, None, None);
    if is_server_type(f.ftype) {
        sip = f.sip;
        sport = f.sport;
    } else if sock && f.role != ROLE_NONE {
        // source = client, destination = server once a role is known
        sip = f.dip;
        sport = f.dport;
        cip = f.sip;
        cport = f.sport;
    }
    if f.role != ROLE_NONE && !matches!(f.ftype, ft::IPV4_SOCK | ft::IPV6_SOCK) {
        cport = Some(0); // sysdig 0.29.3: fd.cport falls through to fd.cproto and reads as 0
    }
    FSnap {
        ftype: Some(typename(f.ftype)),
        typechar: typechar(f.ftype),
        name: Some(name.unwrap_or_else(|| sanitized(&f.name))),
        sip,
        sport,
        cip,
        cport,
        l4proto: if sock { l4_name(f.effective_l4proto()) } else { None },
        connected: Some(f.connected),
        nameraw: Some(f.nameraw.clone()),
    }
}
