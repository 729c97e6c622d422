//! State changes, one parser per event name (libsinsp's parsers.cpp semantics, as the Python reference
//! `sysnb/state/parsers.py` implements them).
//!
//! Each parser gets the engine, the event, its thread and the fd found by pairing, and returns the
//! (possibly new) fd of the event. Parsers that change an existing fd reset its snapshot so the column
//! output takes a fresh one.

use std::cell::RefCell;
use std::rc::Rc;

use crate::blocks::{nul_list, Ip};
use crate::events::{event_info, Parser, EXECVE_19_E, EXECVE_19_X};
use crate::render::args::{cstr, i64_of, render, socktuple, u32_of, Ctx, PPM_AT_FDCWD};
use crate::state::engine::{Engine, Ev, EvFd};
use crate::state::model::{
    container_id, fdtype as ft, sanitized, tuple_name, Fd, Thread, ThreadRef, ROLE_CLIENT, ROLE_NONE, ROLE_SERVER,
};
use crate::state::network::guess_role;
use crate::state::paths::{as_cwd, concatenate_paths};
use crate::state::syslog::is_syslog_name;

const CLONE_THREAD: u32 = 0x2000;
const CLONE_CHILD_IN_PIDNS: u32 = 0x2000_0000;
const PPM_O_DIRECTORY: u32 = 0x400;
/// libsinsp settings.h: a thread older than this that receives a child-side clone exit was lost, not new
const CLONE_STALE_TIME_NS: i128 = 2_000_000_000;

/// The reference's `_i64`: the value of an 8-byte parameter, 0 otherwise.
fn i64z(v: Option<&[u8]>) -> i64 {
    v.and_then(i64_of).unwrap_or(0)
}

fn u32z(v: Option<&[u8]>) -> u32 {
    v.and_then(u32_of).unwrap_or(0)
}

/// Run the parser of the event's type; returns the event's fd afterwards.
pub fn parse(e: &mut Engine, ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    match ev.attrs.parser {
        Parser::None => fd,
        Parser::Open => parse_open(e, ev, t, fd),
        Parser::Socket => parse_socket(ev, t, fd),
        Parser::Connect => parse_connect(ev, t, fd),
        Parser::Accept => parse_accept(ev, t, fd),
        Parser::Bind => parse_bind(e, ev, t, fd),
        Parser::IoTupleEnter => parse_io_tuple(e, ev, t, fd, false),
        Parser::IoTupleExit => parse_io_tuple(e, ev, t, fd, true),
        Parser::Close => {
            if ev.exit() && !ev.params.is_empty() && i64z(ev.param(0)) >= 0 {
                if let Some(n) = fd.num {
                    e.to_remove_fd = Some((t.borrow().proc.clone(), n));
                }
            }
            fd
        }
        Parser::Simple(ftype) => {
            if !ev.exit() || ev.params.is_empty() {
                return fd;
            }
            let n = i64z(ev.param(0));
            if n < 0 {
                return fd;
            }
            add_fd(t, n, Fd::new(ftype))
        }
        Parser::Pipe => parse_pipe(ev, t, fd),
        Parser::Socketpair => parse_socketpair(ev, t, fd),
        Parser::Dup | Parser::Fcntl => parse_dup(ev, t, fd),
        Parser::Chdir | Parser::Fchdir => parse_chdir(ev, t, fd),
        Parser::Execve => parse_execve(ev, t, fd),
        Parser::Procexit => {
            e.to_remove_tid = Some(t.borrow().tid);
            fd
        }
        Parser::Setuid | Parser::Setgid | Parser::Setresuid | Parser::Setresgid => parse_setuid(ev, t, fd),
        Parser::Setsid => {
            // libsinsp parse_setsid_exit: a successful setsid() makes its result the session id
            let res = i64z(ev.param(0));
            if ev.exit() && !ev.params.is_empty() && res >= 0 {
                t.borrow_mut().sid = res;
            }
            fd
        }
    }
}

fn add_fd(t: &ThreadRef, n: i64, f: Fd) -> EvFd {
    let mut th = t.borrow_mut();
    th.proc.borrow_mut().fds.insert(n, f);
    th.last_fd = n;
    EvFd { fd: Some(n), num: Some(n) }
}

/// Absolute, normalised path of `name` opened relative to `dirfd` (AT_FDCWD: the cwd).
pub fn resolve_at(t: &Thread, dirfd: i64, name: &[u8]) -> Vec<u8> {
    let proc = t.proc.borrow();
    if name.first() == Some(&b'/') || dirfd == PPM_AT_FDCWD {
        return concatenate_paths(&proc.cwd, name);
    }
    match proc.fds.get(&dirfd) {
        Some(d) => {
            let mut base = d.name.clone();
            base.push(b'/');
            concatenate_paths(&base, name)
        }
        None => concatenate_paths(b"", name),
    }
}

/// The enter event's parameter by name (the enter type's table), when this exit paired with it.
fn enter_named<'t>(t: &'t Thread, ev: &Ev, name: &str) -> Option<&'t [u8]> {
    let einfo = event_info(ev.raw.etype.wrapping_sub(1))?;
    t.enter_param(einfo.param_index(name)?)
}

fn parse_open(_e: &mut Engine, ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    if !ev.exit() || ev.params.is_empty() {
        return fd;
    }
    let n = i64z(ev.param(0));
    let mut name_b: Vec<u8> = ev.named("name").unwrap_or_default().to_vec();
    let mut flags = ev.named("flags").and_then(u32_of).unwrap_or(0);
    let mut dirfd = match ev.named("dirfd") {
        Some(v) => i64z(Some(v)),
        None => PPM_AT_FDCWD,
    };
    let full = {
        let th = t.borrow();
        if th.enter_nparams().is_some() && event_info(ev.raw.etype.wrapping_sub(1)).is_some() {
            if let Some(en) = enter_named(&th, ev, "name") {
                if !en.is_empty() && cstr(en) != b"(NULL)" {
                    name_b = en.to_vec();
                    if let Some(ef) = enter_named(&th, ev, "flags") {
                        if let Some(v) = u32_of(ef) {
                            flags = v;
                        }
                    }
                    if let Some(ed) = enter_named(&th, ev, "dirfd") {
                        dirfd = i64z(Some(ed));
                    }
                }
            }
        }
        if n < 0 {
            return EvFd { fd: None, num: fd.num };
        }
        resolve_at(&th, dirfd, cstr(&name_b))
    };
    let ftype = if flags & PPM_O_DIRECTORY != 0 { ft::DIRECTORY } else { ft::FILE_V2 };
    let mut f = Fd::with_name(ftype, full);
    f.openflags = flags;
    f.syslog = is_syslog_name(&f.name);
    // libsinsp's remove_duplicate_path_separators
    f.nameraw = cstr(&name_b).to_vec();
    f.nameraw.dedup_by(|a, b| *a == b'/' && *b == b'/');
    add_fd(t, n, f)
}

fn parse_socket(ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    if !ev.exit() || ev.params.is_empty() {
        return fd;
    }
    let n = i64z(ev.param(0));
    let (domain, stype, proto) = {
        let th = t.borrow();
        match th.enter_nparams() {
            Some(k) if k >= 3 && n >= 0 => {
                (u32z(th.enter_param(0)), u32z(th.enter_param(1)) & 0xF, u32z(th.enter_param(2)))
            }
            _ => return EvFd { fd: None, num: fd.num },
        }
    };
    let f = match domain {
        1 => Fd::new(ft::UNIX_SOCK),
        2 | 10 => {
            let mut f = Fd::new(if domain == 2 { ft::IPV4_SOCK } else { ft::IPV6_SOCK });
            f.l4proto = if matches!(proto, 1 | 58) && matches!(stype, 2 | 3) {
                4
            } else {
                match stype {
                    1 => 2,
                    2 => 3,
                    3 => 5,
                    _ => 0,
                }
            };
            f
        }
        16 => Fd::new(ft::NETLINK),
        _ => Fd::new(ft::UNKNOWN),
    };
    add_fd(t, n, f)
}

const ZERO4: Ip = Ip::V4([0; 4]);
const ZERO6: Ip = Ip::V6([0; 16]);

fn is_zero_ip(ip: Option<Ip>) -> bool {
    matches!(ip, None | Some(ZERO4) | Some(ZERO6))
}

fn mapped(b: &[u8]) -> bool {
    b[..10] == [0u8; 10] && b[10] == 0xff && b[11] == 0xff
}

fn port(v: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([v[at], v[at + 1]])
}

/// libsinsp's fill_client_socket_info: source always updated, destination only when unknown.
pub fn apply_tuple(f: &mut Fd, tup: &[u8]) {
    let Some(&fam) = tup.first() else { return };
    let (sip, sport, dip, dport, ftype);
    if fam == 2 && tup.len() == 13 {
        sip = Ip::from_bytes(&tup[1..5]);
        dip = Ip::from_bytes(&tup[7..11]);
        sport = port(tup, 5);
        dport = port(tup, 11);
        ftype = ft::IPV4_SOCK;
    } else if fam == 10 && tup.len() == 37 {
        let (s6, d6) = (&tup[1..17], &tup[19..35]);
        let m = mapped(s6) && mapped(d6);
        ftype = if m { ft::IPV4_SOCK } else { ft::IPV6_SOCK };
        sip = Ip::from_bytes(if m { &s6[12..] } else { s6 });
        dip = Ip::from_bytes(if m { &d6[12..] } else { d6 });
        sport = port(tup, 17);
        dport = port(tup, 35);
    } else if fam == 1 && tup.len() >= 17 {
        f.ftype = ft::UNIX_SOCK;
        f.src_ep = u64::from_le_bytes(tup[1..9].try_into().expect("8 bytes"));
        f.dst_ep = u64::from_le_bytes(tup[9..17].try_into().expect("8 bytes"));
        f.name.clear();
        socktuple(&mut f.name, tup);
        if f.role == ROLE_NONE {
            f.role = ROLE_CLIENT;
        }
        f.snap = -1;
        return;
    } else {
        return;
    }
    f.ftype = ftype;
    let cur = (f.sip, f.sport, f.dip, f.dport);
    let same = (Some(sip), Some(sport), Some(dip), Some(dport)) == cur
        || (Some(dip), Some(dport), Some(sip), Some(sport)) == cur;
    if !same {
        f.sip = Some(sip);
        f.sport = Some(sport);
        if is_zero_ip(f.dip) {
            f.dip = Some(dip);
        }
        if f.dport.unwrap_or(0) == 0 {
            f.dport = Some(dport);
        }
    }
    let zero = if ftype == ft::IPV4_SOCK { ZERO4 } else { ZERO6 };
    f.name = tuple_name(
        Some(f.sip.unwrap_or(zero)),
        Some(f.sport.unwrap_or(0)),
        Some(f.dip.unwrap_or(zero)),
        Some(f.dport.unwrap_or(0)),
    );
    if f.role == ROLE_NONE {
        f.role = ROLE_CLIENT;
    }
    f.snap = -1;
}

/// Run `change` on the event's fd in its thread's table.
fn with_fd<R>(t: &ThreadRef, n: i64, change: impl FnOnce(&mut Fd) -> R) -> Option<R> {
    let th = t.borrow();
    let mut proc = th.proc.borrow_mut();
    proc.fds.get_mut(&n).map(change)
}

fn parse_connect(ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    let Some(n) = fd.fd else { return fd };
    if ev.params.len() < 2 {
        return fd;
    }
    let a = ev.param(1).unwrap_or_default();
    if !ev.exit() {
        with_fd(t, n, |f| connect_enter(f, a));
        return fd;
    }
    let res = i64z(ev.param(0));
    if res < 0 && res != -115 {
        return fd; // EINPROGRESS still connects
    }
    with_fd(t, n, |f| {
        apply_tuple(f, a);
        f.syslog = is_syslog_name(&f.name);
        f.connected = true;
        f.snap = -1;
    });
    fd
}

/// The destination is known from connect()'s address before the call returns.
fn connect_enter(f: &mut Fd, a: &[u8]) {
    let Some(&fam) = a.first() else { return };
    f.snap = -1;
    if fam == 2 && a.len() == 7 {
        f.ftype = ft::IPV4_SOCK;
        f.dip = Some(Ip::from_bytes(&a[1..5]));
        f.dport = Some(port(a, 5));
    } else if fam == 10 && a.len() == 19 {
        let ip = &a[1..17];
        let p = port(a, 17);
        if ip[..12] == [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            f.ftype = ft::IPV4_SOCK;
            f.dip = Some(Ip::from_bytes(&ip[12..]));
        } else {
            f.ftype = ft::IPV6_SOCK;
            f.dip = Some(Ip::from_bytes(ip));
        }
        f.dport = Some(p);
    } else if fam == 1 {
        f.name = sanitized(cstr(&a[1..]));
    }
}

fn parse_accept(ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    if !ev.exit() || ev.params.len() < 2 {
        return fd;
    }
    let n = i64z(ev.param(0));
    if n < 0 {
        return EvFd::default();
    }
    let tup = ev.param(1).unwrap_or_default();
    let mut f = Fd::new(ft::UNKNOWN);
    f.l4proto = 2;
    f.role = ROLE_SERVER;
    f.connected = true;
    apply_tuple(&mut f, tup);
    if f.ftype == ft::UNKNOWN {
        f.ftype = if tup.first() == Some(&1) { ft::UNIX_SOCK } else { ft::IPV4_SOCK };
    }
    add_fd(t, n, f)
}

/// libsinsp parse_bind_exit: a non-zero port makes a server socket; the name is the address.
fn parse_bind(e: &mut Engine, ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    let Some(n) = fd.fd else { return fd };
    if !ev.exit() || ev.params.len() < 2 || i64z(ev.param(0)) < 0 {
        return fd;
    }
    let a = ev.param(1).unwrap_or_default();
    if a.is_empty() {
        return fd;
    }
    let mut name = None;
    if let Some(p) = ev.info.params_2022.iter().find(|p| p.ptype == crate::events::Pt::Sockaddr) {
        let th = t.borrow();
        let ctx = Ctx { threads: &e.threads, users: &e.users, groups: &e.groups };
        let mut r = crate::render::args::Rendered::default();
        render(&mut r, p, a, ev.params, ev.info.params_2022, Some(&th), &ctx);
        name = Some(r.val);
    }
    with_fd(t, n, |f| {
        f.snap = -1;
        let server = if a[0] == 2 && a.len() == 7 {
            Some((Ip::from_bytes(&a[1..5]), port(a, 5), ft::IPV4_SERVSOCK))
        } else if a[0] == 10 && a.len() == 19 {
            let ip = &a[1..17];
            if mapped(ip) {
                Some((Ip::from_bytes(&ip[12..]), port(a, 17), ft::IPV4_SERVSOCK))
            } else {
                Some((Ip::from_bytes(ip), port(a, 17), ft::IPV6_SERVSOCK))
            }
        } else {
            None
        };
        if let Some((ip, p, ftype)) = server {
            if p > 0 {
                f.ftype = ftype;
                f.sip = Some(ip);
                f.sport = Some(p);
                f.server = true;
                f.role = ROLE_SERVER;
            }
        }
        if let Some(name) = name {
            f.name = name;
        }
    });
    fd
}

/// sendto/sendmsg/recvfrom/recvmsg exits, as libsinsp parse_rw_exit: a socket with no name yet, or any
/// non-TCP socket, takes its addresses from the call's tuple (writes: the enter's, reads: the exit's).
fn parse_io_tuple(e: &mut Engine, ev: &Ev, t: &ThreadRef, fd: EvFd, incoming: bool) -> EvFd {
    let Some(n) = fd.fd else { return fd };
    if !ev.exit() || ev.params.is_empty() || i64z(ev.param(0)) < 0 {
        return fd;
    }
    let named_tcp = with_fd(t, n, |f| !f.name.is_empty() && f.effective_l4proto() == 2).unwrap_or(true);
    if named_tcp {
        return fd;
    }
    let tup: Option<Vec<u8>> = if incoming {
        ev.named("tuple").map(<[u8]>::to_vec)
    } else {
        let th = t.borrow();
        th.enter_nparams().and_then(|_| enter_named(&th, ev, "tuple")).map(<[u8]>::to_vec)
    };
    if let Some(tup) = tup.filter(|v| !v.is_empty()) {
        update_from_io(e, t, n, &tup, incoming);
    }
    fd
}

/// libsinsp's update_fd, role guess and swap for a send/receive with a tuple.
fn update_from_io(e: &mut Engine, t: &ThreadRef, n: i64, tup: &[u8], incoming: bool) {
    if tup[0] == 1 {
        with_fd(t, n, |f| apply_tuple(f, tup));
        return;
    }
    let th = t.borrow();
    let mut proc = th.proc.borrow_mut();
    let Some(mut f) = proc.fds.remove(&n) else {
        return;
    };
    let was_server = matches!(f.ftype, ft::IPV4_SERVSOCK | ft::IPV6_SERVSOCK);
    if was_server {
        f.dip = None;
        f.dport = None;
    }
    let before = (f.ftype, f.sip, f.sport, f.dip, f.dport);
    let role = f.role;
    apply_tuple(&mut f, tup);
    f.role = role;
    if (f.ftype, f.sip, f.sport, f.dip, f.dport) != before {
        e.interfaces.update_fd(&mut f);
        if f.role == ROLE_NONE {
            f.role = guess_role(&proc, &f);
        }
        if (incoming && f.role == ROLE_CLIENT) || (!incoming && f.role == ROLE_SERVER) {
            std::mem::swap(&mut f.sip, &mut f.dip);
            std::mem::swap(&mut f.sport, &mut f.dport);
        }
        f.name = tuple_name(f.sip, f.sport, f.dip, f.dport);
    }
    if !was_server && !f.connected {
        // sysdig 0.29.3: a send/receive whose tuple updates a (non-server) socket marks it connected
        f.connected = true;
        f.snap = -1;
    }
    proc.fds.insert(n, f);
}

fn parse_pipe(ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    if !ev.exit() || ev.params.len() < 3 || i64z(ev.param(0)) < 0 {
        return fd;
    }
    for i in [1, 2] {
        add_fd(t, i64z(ev.param(i)), Fd::new(ft::FIFO));
    }
    fd
}

fn parse_socketpair(ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    if !ev.exit() || ev.params.len() < 5 || i64z(ev.param(0)) < 0 {
        return fd;
    }
    let (src, peer) = (i64z(ev.param(3)), i64z(ev.param(4)));
    for i in [1, 2] {
        let mut f = Fd::new(ft::UNIX_SOCK);
        f.src_ep = src as u64;
        f.dst_ep = peer as u64;
        add_fd(t, i64z(ev.param(i)), f);
    }
    fd
}

fn parse_dup(ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    if !ev.exit() || ev.params.is_empty() {
        return fd;
    }
    let n = i64z(ev.param(0));
    let src: Option<Fd> = {
        let th = t.borrow();
        let proc = th.proc.borrow();
        match fd.fd {
            Some(k) => proc.fds.get(&k).map(Fd::copied),
            None => {
                let old = ev.named("oldfd").filter(|v| !v.is_empty()).or_else(|| ev.named("fd"));
                old.and_then(|v| proc.fds.get(&i64z(Some(v))).map(Fd::copied))
            }
        }
    };
    let Some(src) = src else { return fd };
    if n < 0 {
        return fd;
    }
    if ev.attrs.parser == Parser::Fcntl {
        let th = t.borrow();
        let cmd = match th.enter_nparams() {
            Some(k) if k > 1 => th.enter_param(1).and_then(|v| v.first().copied()).unwrap_or(0),
            _ => 0,
        };
        if cmd != 1 && cmd != 26 {
            return fd; // only F_DUPFD and F_DUPFD_CLOEXEC make a new fd
        }
    }
    add_fd(t, n, src) // like libsinsp's add_fd: the new fd becomes the event's fd
}

fn parse_chdir(ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    if !ev.exit() || ev.params.is_empty() || i64z(ev.param(0)) < 0 {
        return fd;
    }
    let th = t.borrow();
    let mut proc = th.proc.borrow_mut();
    if ev.attrs.parser == Parser::Chdir {
        if let Some(p) = ev.param(1) {
            proc.cwd = as_cwd(concatenate_paths(&proc.cwd, cstr(p)));
        }
    } else if let Some(n) = fd.fd {
        if let Some(name) = proc.fds.get(&n).map(|f| f.name.clone()) {
            proc.cwd = as_cwd(concatenate_paths(&proc.cwd, &name));
        }
    }
    fd
}

/// The vtid and vpid parameters of a clone exit (the thread's ids in its pid namespace).
fn ns_ids(ev: &Ev, vtid: i64, vpid: i64) -> (i64, i64) {
    let get = |name: &str| ev.named(name).filter(|v| v.len() == 8).and_then(i64_of);
    (get("vtid").unwrap_or(vtid), get("vpid").unwrap_or(vpid))
}

fn resources(c: &mut Thread, ev: &Ev) {
    for name in ["fdlimit", "vm_size", "vm_rss"] {
        let Some(raw) = ev.named(name) else { continue };
        let v = match raw.len() {
            4 => i64::from(u32::from_le_bytes(raw.try_into().expect("4 bytes"))),
            8 => i64::from_le_bytes(raw.try_into().expect("8 bytes")),
            _ => continue,
        };
        match name {
            "fdlimit" => c.fdlimit = v,
            "vm_size" => c.vmsize_kb = v,
            _ => c.vmrss_kb = v,
        }
    }
}

/// clone/fork/vfork/clone3 exit, as libsinsp 2022 parse_clone_exit.
///
/// The parent's exit (res = child tid) creates the child, except when the clone happened inside a pid
/// namespace. The child's exit (res = 0) creates it only if it arrives first ("inverted" clone). A parent
/// that was never seen (a fake "<NA>" thread) learns its name from the child's parameters.
pub fn parse_clone(e: &mut Engine, ev: &Ev, t: Option<ThreadRef>) {
    if ev.params.len() < 8 {
        return;
    }
    let tid = ev.raw.tid;
    let res = i64z(ev.param(0));
    if res < 0 {
        return;
    }
    let flags = ev.named("flags").and_then(u32_of).unwrap_or(0);
    let threaded = flags & CLONE_THREAD != 0;
    let vtid = ev.named("vtid");
    let in_container = flags & CLONE_CHILD_IN_PIDNS != 0 || vtid.is_some_and(|v| i64z(Some(v)) != tid);
    let (childtid, caller, inverted);
    if res == 0 {
        let mut t = t;
        let stale = t.as_ref().is_some_and(|t| {
            let t = t.borrow();
            t.clone_ts != 0 && i128::from(ev.raw.ts) - i128::from(t.clone_ts) > CLONE_STALE_TIME_NS
        });
        if stale {
            e.threads.remove(&tid); // an old thread whose exit was lost: this clone creates it anew
            t = None;
        }
        if let Some(t) = t {
            // the parent's exit already created this thread; its ids in its pid namespace come from its own exit
            if in_container {
                let mut th = t.borrow_mut();
                let (vt, vp) = ns_ids(ev, th.vtid, th.vpid);
                th.vtid = vt;
                th.vpid = vp;
            }
            return;
        }
        childtid = tid;
        caller = i64z(ev.param(if threaded { 4 } else { 5 }));
        inverted = true;
    } else {
        if in_container {
            return;
        }
        childtid = res;
        caller = tid;
        inverted = false;
    }
    let Some(parent) = e.get_thread(caller, true) else {
        return;
    };
    if e.threads.get(&childtid).is_some_and(|old| old.try_borrow().is_ok_and(|o| o.inverted)) {
        return;
    }
    let exe = cstr(ev.param(1).unwrap_or_default()).to_vec();
    let comm = ev.named("comm").map_or_else(|| exe.clone(), |c| cstr(c).to_vec());
    let args = nul_list(ev.param(2).unwrap_or_default());
    let (proc, parent_unknown) = {
        let p = parent.borrow();
        let proc = if threaded { p.proc.clone() } else { p.proc.borrow().fork() };
        (proc, p.comm == b"<NA>" && p.uid == u32::MAX)
    };
    let pid = if threaded { i64z(ev.param(4)) } else { childtid };
    let mut c = Thread::new(childtid, pid, caller, proc);
    c.loginuid = 0; // libsinsp's default for a new thread; copied from a known parent below
    if parent_unknown {
        let mut p = parent.borrow_mut();
        p.comm = comm.clone();
        p.exe = exe.clone();
        p.args = args.clone();
        p.fake = false;
    } else {
        let p = parent.borrow();
        c.exepath = p.exepath.clone();
        c.loginuid = p.loginuid;
        c.container = p.container.clone();
        c.tty = p.tty;
        c.sid = p.sid;
        c.vpgid = p.vpgid;
        c.cgroups = p.cgroups.clone();
        c.caps = p.caps;
        c.exe_flags = p.exe_flags;
        if !threaded {
            c.env = p.env.clone();
        }
    }
    c.exe = exe;
    c.comm = comm;
    c.args = args;
    c.inverted = inverted;
    if let Some(v) = ev.named("uid").and_then(u32_of) {
        c.uid = v;
    }
    if let Some(v) = ev.named("gid").and_then(u32_of) {
        c.gid = v;
    }
    if let Some(cg) = ev.named("cgroups").filter(|v| !v.is_empty()) {
        c.cgroups = nul_list(cg);
        c.container = container_id(&c.cgroups);
    }
    resources(&mut c, ev);
    (c.vtid, c.vpid) = if in_container && inverted { ns_ids(ev, -1, -1) } else { (c.tid, c.pid) };
    c.clone_ts = ev.raw.ts;
    e.threads.insert(childtid, Rc::new(RefCell::new(c)));
}

fn parse_execve(ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    if !ev.exit() || ev.params.len() < 3 || i64z(ev.param(0)) < 0 {
        return fd;
    }
    let mut th = t.borrow_mut();
    th.exe = cstr(ev.param(1).unwrap_or_default()).to_vec();
    if ev.params.len() > 5 {
        th.pid = i64z(ev.param(4));
        if th.ptid == -1 {
            th.ptid = i64z(ev.param(5)); // libsinsp keeps a known parent
        }
    }
    th.comm = match ev.named("comm") {
        Some(c) => cstr(c).to_vec(),
        None => th.exe.clone(),
    };
    th.args = nul_list(ev.param(2).unwrap_or_default());
    if let Some(env) = ev.named("env") {
        th.env = nul_list(env);
    }
    if let Some(v) = ev.named("loginuid").and_then(u32_of) {
        th.loginuid = v;
    }
    if let Some(cg) = ev.named("cgroups").filter(|v| !v.is_empty()) {
        th.cgroups = nul_list(cg);
        th.container = container_id(&th.cgroups);
    }
    if let Some(v) = ev.named("tty").and_then(u32_of) {
        th.tty = i64::from(v);
    }
    if let Some(v) = ev.named("vpgid").filter(|v| v.len() == 8).and_then(i64_of) {
        th.vpgid = v;
    }
    // capability sets and PPM_EXE_* flags of newer drivers (absent from 2022 captures)
    let cap = |k: &str| ev.named(k).filter(|v| v.len() == 8).and_then(i64_of).map(|v| v as u64);
    if let (Some(i), Some(p), Some(e)) = (cap("cap_inheritable"), cap("cap_permitted"), cap("cap_effective")) {
        th.caps = Some([i, p, e]);
    }
    if let Some(v) = ev.named("flags").and_then(u32_of) {
        th.exe_flags = Some(v);
    }
    if th.enter_nparams().is_some_and(|k| k > 0)
        && ev.raw.etype == EXECVE_19_X
        && th.last_type == i32::from(EXECVE_19_E)
    {
        th.exepath = cstr(th.enter_param(0).unwrap_or_default()).to_vec();
    }
    th.fake = false;
    fd
}

fn parse_setuid(ev: &Ev, t: &ThreadRef, fd: EvFd) -> EvFd {
    if !ev.exit() || ev.params.is_empty() || i64z(ev.param(0)) < 0 {
        return fd;
    }
    let res_variant = matches!(ev.attrs.parser, Parser::Setresuid | Parser::Setresgid);
    // setuid/setgid take the id from the enter's first parameter, setresuid/setresgid the effective one (2nd)
    let k = usize::from(res_variant);
    let mut th = t.borrow_mut();
    let val = match th.enter_nparams() {
        Some(np) if np > k => th.enter_param(k).and_then(u32_of),
        _ => None,
    };
    let Some(val) = val else { return fd };
    if val == u32::MAX {
        return fd; // -1: unchanged
    }
    if matches!(ev.attrs.parser, Parser::Setuid | Parser::Setresuid) {
        th.uid = val;
    } else {
        th.gid = val;
    }
    fd
}
