//! Thread, process and fd state, as libsinsp keeps it.

use std::cell::RefCell;
use std::rc::Rc;

use rustc_hash::FxHashMap;

use crate::blocks::{FdEntry, Ip, NulList, ThreadEntry};

/// scap fd types (scap.h)
pub mod fdtype {
    pub const UNKNOWN: u8 = 0;
    pub const FILE: u8 = 1;
    pub const DIRECTORY: u8 = 2;
    pub const IPV4_SOCK: u8 = 3;
    pub const IPV6_SOCK: u8 = 4;
    pub const IPV4_SERVSOCK: u8 = 5;
    pub const IPV6_SERVSOCK: u8 = 6;
    pub const FIFO: u8 = 7;
    pub const UNIX_SOCK: u8 = 8;
    pub const EVENT: u8 = 9;
    pub const UNSUPPORTED: u8 = 10;
    pub const SIGNALFD: u8 = 11;
    pub const EVENTPOLL: u8 = 12;
    pub const INOTIFY: u8 = 13;
    pub const TIMERFD: u8 = 14;
    pub const NETLINK: u8 = 15;
    pub const FILE_V2: u8 = 16;
}
use fdtype as ft;

pub const ROLE_NONE: u8 = 0;
pub const ROLE_CLIENT: u8 = 1;
pub const ROLE_SERVER: u8 = 2;

pub fn typechar(t: u8) -> &'static str {
    match t {
        ft::FILE | ft::FILE_V2 => "f",
        ft::IPV4_SOCK | ft::IPV4_SERVSOCK => "4",
        ft::IPV6_SOCK | ft::IPV6_SERVSOCK => "6",
        ft::DIRECTORY => "d",
        ft::FIFO => "p",
        ft::UNIX_SOCK => "u",
        ft::EVENT => "e",
        ft::UNKNOWN => "o",
        ft::UNSUPPORTED => "X",
        ft::SIGNALFD => "s",
        ft::EVENTPOLL => "l",
        ft::INOTIFY => "i",
        ft::TIMERFD => "t",
        ft::NETLINK => "n",
        _ => "?",
    }
}

/// fd.type as sysdig names it.
pub fn typename(t: u8) -> &'static str {
    match t {
        ft::FILE | ft::FILE_V2 => "file",
        ft::IPV4_SOCK | ft::IPV4_SERVSOCK => "ipv4",
        ft::IPV6_SOCK | ft::IPV6_SERVSOCK => "ipv6",
        ft::DIRECTORY => "directory",
        ft::FIFO => "pipe",
        ft::UNIX_SOCK => "unix",
        ft::EVENT => "event",
        ft::SIGNALFD => "signalfd",
        ft::EVENTPOLL => "eventpoll",
        ft::INOTIFY => "inotify",
        ft::TIMERFD => "timerfd",
        ft::NETLINK => "netlink",
        _ => "unknown",
    }
}

pub fn l4_name(p: u8) -> Option<&'static str> {
    match p {
        2 => Some("tcp"),
        3 => Some("udp"),
        4 => Some("icmp"),
        5 => Some("raw"),
        _ => None,
    }
}

pub fn l4_char(p: u8) -> &'static str {
    match p {
        2 => "t",
        3 => "u",
        4 => "i",
        5 => "r",
        _ => "",
    }
}

pub fn is_sock(t: u8) -> bool {
    matches!(t, ft::IPV4_SOCK | ft::IPV6_SOCK | ft::IPV4_SERVSOCK | ft::IPV6_SERVSOCK)
}

pub fn is_server_type(t: u8) -> bool {
    matches!(t, ft::IPV4_SERVSOCK | ft::IPV6_SERVSOCK)
}

/// One open file descriptor. Socket endpoints: s=source, d=destination as libsinsp stores them.
#[derive(Clone, Debug)]
pub struct Fd {
    pub ftype: u8,
    pub name: Vec<u8>,
    pub sip: Option<Ip>,
    pub sport: Option<u16>,
    pub dip: Option<Ip>,
    pub dport: Option<u16>,
    pub l4proto: u8,
    pub openflags: u32,
    pub role: u8,
    pub server: bool,
    pub ino: u64,
    pub src_ep: u64,
    pub dst_ep: u64,
    pub syslog: bool,
    /// libsinsp's FLAGS_SOCKET_CONNECTED: set by connect and accept exits
    pub connected: bool,
    /// the path as open/openat/creat received it (libsinsp's m_name_raw)
    pub nameraw: Vec<u8>,
    /// this fd's row in the fd snapshots of batch `snap_batch` (-1: none yet / changed since)
    pub snap: i32,
    pub snap_batch: u64,
}

impl Fd {
    pub fn new(ftype: u8) -> Fd {
        Fd {
            ftype,
            name: Vec::new(),
            sip: None,
            sport: None,
            dip: None,
            dport: None,
            l4proto: 0,
            openflags: 0,
            role: ROLE_NONE,
            server: false,
            ino: 0,
            src_ep: 0,
            dst_ep: 0,
            syslog: false,
            connected: false,
            nameraw: Vec::new(),
            snap: -1,
            snap_batch: 0,
        }
    }

    pub fn with_name(ftype: u8, name: Vec<u8>) -> Fd {
        let mut f = Fd::new(ftype);
        f.name = name;
        f
    }

    /// A copy for dup() and fork(): same state, no snapshot.
    pub fn copied(&self) -> Fd {
        let mut c = self.clone();
        c.snap = -1;
        c.snap_batch = 0;
        c
    }

    /// libsinsp's get_l4proto: a socket with no role yet has no known protocol (except raw).
    pub fn effective_l4proto(&self) -> u8 {
        match self.ftype {
            ft::IPV4_SOCK | ft::IPV6_SOCK => {
                if self.l4proto == 5 {
                    5
                } else if self.role == ROLE_NONE {
                    1
                } else {
                    self.l4proto
                }
            }
            ft::IPV4_SERVSOCK | ft::IPV6_SERVSOCK => self.l4proto,
            _ => 1,
        }
    }

    /// `<f>/etc/passwd`, `<4t>1.2.3.4:5->6.7.8.9:10` as sysdig renders a resolved fd.
    pub fn tagged_name(&self, out: &mut Vec<u8>) {
        out.push(b'<');
        out.extend_from_slice(typechar(self.ftype).as_bytes());
        if is_sock(self.ftype) {
            out.extend_from_slice(l4_char(self.effective_l4proto()).as_bytes());
        }
        out.push(b'>');
        sanitize_into(out, &self.name);
    }

    pub fn from_entry(e: &FdEntry) -> Fd {
        let t = e.ftype;
        let mut fd = Fd::with_name(t, e.name.clone());
        fd.ino = e.ino;
        match t {
            ft::IPV4_SOCK | ft::IPV6_SOCK => {
                fd.sip = e.sip;
                fd.dip = e.dip;
                fd.sport = e.sport;
                fd.dport = e.dport;
                fd.l4proto = e.l4proto;
                if t == ft::IPV6_SOCK && is_mapped(e.sip) && is_mapped(e.dip) {
                    fd.ftype = ft::IPV4_SOCK;
                    fd.sip = e.sip.map(unmap);
                    fd.dip = e.dip.map(unmap);
                }
                fd.name = tuple_name(fd.sip, fd.sport, fd.dip, fd.dport);
                if fd.l4proto == 2 {
                    fd.role = ROLE_CLIENT; // connected TCP sockets from /proc count as having a role
                }
            }
            ft::IPV4_SERVSOCK | ft::IPV6_SERVSOCK => {
                fd.sip = e.sip;
                fd.sport = e.sport;
                fd.l4proto = e.l4proto;
                let mut name = Vec::new();
                push_ip(&mut name, e.sip);
                name.push(b':');
                push_port(&mut name, e.sport);
                fd.name = name;
                fd.server = true; // libsinsp gives server sockets from the fd table no role
            }
            ft::UNIX_SOCK => {
                fd.src_ep = e.src_endpoint;
                fd.dst_ep = e.dst_endpoint;
                fd.server = !e.name.is_empty();
                fd.role = if e.name.is_empty() { ROLE_CLIENT } else { ROLE_SERVER };
            }
            ft::FILE_V2 => fd.openflags = e.flags,
            _ => {}
        }
        fd
    }
}

/// An IPv4-mapped IPv6 address (the text form would be `::ffff:a.b.c.d`).
pub fn is_mapped(ip: Option<Ip>) -> bool {
    matches!(ip, Some(Ip::V6(b)) if b[..10] == [0u8; 10] && b[10] == 0xff && b[11] == 0xff)
}

fn unmap(ip: Ip) -> Ip {
    match ip {
        Ip::V6(b) => Ip::V4([b[12], b[13], b[14], b[15]]),
        v4 => v4,
    }
}

/// The text of an IP as inet_ntop writes it (glibc's rules for IPv6).
pub fn push_ip(out: &mut Vec<u8>, ip: Option<Ip>) {
    use std::io::Write;
    match ip {
        None => out.extend_from_slice(b"None"),
        Some(Ip::V4(b)) => {
            let _ = write!(out, "{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
        }
        Some(Ip::V6(b)) => push_ipv6(out, &b),
    }
}

pub fn push_ipv6(out: &mut Vec<u8>, b: &[u8; 16]) {
    use std::io::Write;
    let words: Vec<u16> = (0..8).map(|i| u16::from_be_bytes([b[2 * i], b[2 * i + 1]])).collect();
    // the longest run of zero words (first one on ties), if at least two long
    let (mut best, mut best_len, mut cur, mut cur_len) = (usize::MAX, 0usize, usize::MAX, 0usize);
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            if cur == usize::MAX {
                cur = i;
                cur_len = 1;
            } else {
                cur_len += 1;
            }
            if cur_len > best_len {
                best = cur;
                best_len = cur_len;
            }
        } else {
            cur = usize::MAX;
            cur_len = 0;
        }
    }
    if best_len < 2 {
        best = usize::MAX;
    }
    let mut i = 0;
    while i < 8 {
        if best != usize::MAX && i >= best && i < best + best_len {
            if i == best {
                out.push(b':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            out.push(b':');
        }
        // an embedded IPv4 address (IPv4-compatible or mapped)
        if i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)) {
            let _ = write!(out, "{}.{}.{}.{}", b[12], b[13], b[14], b[15]);
            return;
        }
        let _ = write!(out, "{:x}", words[i]);
        i += 1;
    }
    if best != usize::MAX && best + best_len == 8 {
        out.push(b':');
    }
}

pub fn push_port(out: &mut Vec<u8>, p: Option<u16>) {
    use std::io::Write;
    match p {
        Some(p) => {
            let _ = write!(out, "{p}");
        }
        None => out.extend_from_slice(b"None"),
    }
}

pub fn tuple_name(sip: Option<Ip>, sport: Option<u16>, dip: Option<Ip>, dport: Option<u16>) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    push_ip(&mut out, sip);
    out.push(b':');
    push_port(&mut out, sport);
    out.extend_from_slice(b"->");
    push_ip(&mut out, dip);
    out.push(b':');
    push_port(&mut out, dport);
    out
}

/// libsinsp's sanitize_string: drop control characters.
pub fn sanitize_into(out: &mut Vec<u8>, s: &[u8]) {
    out.extend(s.iter().copied().filter(|&c| c >= 0x20 && c != 0x7f));
}

pub fn sanitized(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    sanitize_into(&mut out, s);
    out
}

/// State shared by the threads of one process (fd table, cwd).
#[derive(Debug, Default)]
pub struct Proc {
    pub fds: FxHashMap<i64, Fd>,
    pub cwd: Vec<u8>,
}

pub type ProcRef = Rc<RefCell<Proc>>;

impl Proc {
    pub fn new(cwd: Vec<u8>) -> ProcRef {
        Rc::new(RefCell::new(Proc { fds: FxHashMap::default(), cwd }))
    }

    pub fn fork(&self) -> ProcRef {
        let fds = self.fds.iter().map(|(k, v)| (*k, v.copied())).collect();
        Rc::new(RefCell::new(Proc { fds, cwd: self.cwd.clone() }))
    }
}

/// Container id from cgroup paths (first 12 hex chars), `host` when none is found.
pub fn container_id(cgroups: &NulList) -> Vec<u8> {
    for cg in cgroups.items() {
        if let Some(id) = runtime_id(cg) {
            return id;
        }
        if let Some(id) = docker_path_id(cg) {
            return id;
        }
    }
    b"host".to_vec()
}

fn hex64_at(s: &[u8], i: usize) -> bool {
    i + 64 <= s.len() && s[i..i + 64].iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// `(?:docker[-/]|/kubepods/.*/|crio-|containerd-|libpod-)([0-9a-f]{64})`, first match in the string.
fn runtime_id(s: &[u8]) -> Option<Vec<u8>> {
    // regex semantics: the leftmost match start wins; at one start, the alternatives in order
    for start in 0..s.len() {
        if !matches!(s[start], b'd' | b'c' | b'l' | b'/') {
            continue; // no alternative starts with this byte
        }
        let rest = &s[start..];
        for prefix in [&b"docker-"[..], b"docker/", b"crio-", b"containerd-", b"libpod-"] {
            if rest.starts_with(prefix) && hex64_at(s, start + prefix.len()) {
                return Some(s[start + prefix.len()..start + prefix.len() + 12].to_vec());
            }
        }
        if rest.starts_with(b"/kubepods/") {
            // `.*` is greedy: the last '/' followed by 64 hex digits (after "/kubepods/")
            let after = start + b"/kubepods/".len();
            let mut found = None;
            for j in (after.saturating_sub(1)..s.len()).rev() {
                if j >= after && s[j] == b'/' && hex64_at(s, j + 1) && !s[after..j].contains(&b'\n') {
                    found = Some(j + 1);
                    break;
                }
            }
            if let Some(k) = found {
                return Some(s[k..k + 12].to_vec());
            }
        }
    }
    None
}

/// `/docker/([0-9a-f]{12,64})`
fn docker_path_id(s: &[u8]) -> Option<Vec<u8>> {
    let pat = b"/docker/";
    for start in 0..s.len() {
        if s[start] == b'/' && s[start..].starts_with(pat) {
            let i = start + pat.len();
            let n = s[i..].iter().take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')).count();
            if n >= 12 {
                return Some(s[i..i + 12].to_vec());
            }
        }
    }
    None
}

pub type ThreadRef = Rc<RefCell<Thread>>;

#[derive(Debug)]
pub struct Thread {
    pub tid: i64,
    pub pid: i64,
    pub ptid: i64,
    pub comm: Vec<u8>,
    pub exe: Vec<u8>,
    pub exepath: Vec<u8>,
    pub args: NulList,
    pub env: NulList,
    pub uid: u32,
    pub gid: u32,
    pub loginuid: u32,
    pub container: Vec<u8>,
    pub proc: ProcRef,
    pub last_type: i32,
    /// the enter event's parameters (bytes back to back, then their spans)
    pub last_data: Vec<u8>,
    pub last_spans: Vec<(u32, u32)>,
    pub has_last_params: bool,
    pub last_fd: i64,
    pub last_ts: u64,
    pub latency: i64,
    pub pair_ok: bool,
    pub fake: bool,
    pub vtid: i64,
    pub fdlimit: i64,
    pub vmsize_kb: i64,
    pub vmrss_kb: i64,
    pub vpid: i64,
    /// the controlling terminal (0: none)
    pub tty: i64,
    /// session and process group ids (-1 as libsinsp initialises them)
    pub sid: i64,
    pub vpgid: i64,
    /// "subsys=path" entries
    pub cgroups: NulList,
    /// inheritable, permitted, effective capability sets (newer drivers' execve exits)
    pub caps: Option<[u64; 3]>,
    /// PPM_EXE_* flags of newer drivers' execve exits
    pub exe_flags: Option<u32>,
    pub snap: i32,
    pub snap_gen: u64,
    pub inverted: bool,
    pub clone_ts: u64,
}

impl Thread {
    pub fn new(tid: i64, pid: i64, ptid: i64, proc: ProcRef) -> Thread {
        Thread {
            tid,
            pid,
            ptid,
            comm: Vec::new(),
            exe: Vec::new(),
            exepath: Vec::new(),
            args: NulList::default(),
            env: NulList::default(),
            uid: u32::MAX,
            gid: u32::MAX,
            loginuid: u32::MAX,
            container: b"host".to_vec(),
            proc,
            last_type: -1,
            last_data: Vec::new(),
            last_spans: Vec::new(),
            has_last_params: false,
            last_fd: 0, // libsinsp starts a thread's "last event fd" at 0
            last_ts: 0,
            latency: 0,
            pair_ok: false,
            fake: false,
            vtid: -1,
            fdlimit: -1,
            vmsize_kb: 0,
            vmrss_kb: 0,
            vpid: -1,
            tty: 0,
            sid: -1,
            vpgid: -1,
            cgroups: NulList::default(),
            caps: None,
            exe_flags: None,
            snap: -1,
            snap_gen: 0,
            inverted: false,
            clone_ts: 0,
        }
    }

    pub fn from_entry(e: &ThreadEntry, proc: ProcRef) -> Thread {
        let mut t = Thread::new(e.tid, e.pid, e.ptid, proc);
        t.comm = e.comm.clone();
        t.exe = e.exe.clone();
        t.exepath = e.exepath.clone();
        t.args = e.args.clone();
        t.uid = e.uid;
        t.gid = e.gid;
        t.env = e.env.clone();
        t.loginuid = e.loginuid as u32;
        t.container = container_id(&e.cgroups);
        t.vtid = e.vtid;
        t.vpid = e.vpid;
        t.tty = i64::from(e.tty);
        t.sid = e.sid;
        t.vpgid = e.vpgid;
        t.cgroups = e.cgroups.clone();
        t.fdlimit = e.fdlimit;
        t.vmsize_kb = e.vmsize_kb as i64;
        t.vmrss_kb = e.vmrss_kb as i64;
        t
    }

    /// The enter event's parameter `i`, when this exit paired with its enter.
    pub fn enter_param(&self, i: usize) -> Option<&[u8]> {
        if !self.pair_ok || !self.has_last_params {
            return None;
        }
        self.last_spans.get(i).map(|&(q, n)| &self.last_data[q as usize..(q + n) as usize])
    }

    pub fn enter_nparams(&self) -> Option<usize> {
        (self.pair_ok && self.has_last_params).then_some(self.last_spans.len())
    }
}
