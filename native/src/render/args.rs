//! `evt.args` rendering, parameter by parameter, as libsinsp 2022 (sysdig 0.29.3) renders it.
//!
//! Each parameter renders as `name=value ` or `name=value(resolved) `; the resolved part comes from state
//! (fd names, thread names, user names), errno and signal names, flag names and relative paths joined to the
//! working directory.

use std::io::Write;

use rustc_hash::FxHashMap;

use crate::blocks::Ip;
use crate::events::{syscall_name, Info, Param, Pf, Pt, DYN_TABLES};
use crate::render::values::{buffer_normal, errno_name, flags_to_str, push_g, signal_name};
use crate::state::model::{push_ip, push_ipv6, sanitize_into, typechar, Thread, ThreadRef};
use crate::state::paths::concatenate_paths;

pub const PPM_AT_FDCWD: i64 = -100;

/// The parameters of one event: slices of `data` at `spans`.
#[derive(Clone, Copy)]
pub struct Params<'a> {
    pub data: &'a [u8],
    pub spans: &'a [(u32, u32)],
}

impl<'a> Params<'a> {
    pub fn len(&self) -> usize {
        self.spans.len()
    }
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.spans.get(i).map(|&(q, n)| &self.data[q as usize..(q + n) as usize])
    }
}

/// What rendering may look up: every thread (PID parameters) and the user and group names.
pub struct Ctx<'a> {
    pub threads: &'a FxHashMap<i64, ThreadRef>,
    pub users: &'a FxHashMap<u32, Vec<u8>>,
    pub groups: &'a FxHashMap<u32, Vec<u8>>,
}

pub fn i64_of(v: &[u8]) -> Option<i64> {
    v.try_into().ok().map(i64::from_le_bytes)
}
pub fn u32_of(v: &[u8]) -> Option<u32> {
    v.try_into().ok().map(u32::from_le_bytes)
}
pub fn u16_of(v: &[u8]) -> Option<u16> {
    v.try_into().ok().map(u16::from_le_bytes)
}

pub fn cstr(v: &[u8]) -> &[u8] {
    match v.iter().position(|&b| b == 0) {
        Some(i) => &v[..i],
        None => v,
    }
}

/// Scratch buffers for one parameter's value and resolved text.
#[derive(Default)]
pub struct Rendered {
    pub val: Vec<u8>,
    pub res: Vec<u8>,
}

/// Render every parameter into `out` (`name=value(resolved) ...`, each followed by a space).
pub fn render_all(
    out: &mut Vec<u8>,
    defs: &[Param],
    raw: Params,
    thread: Option<&Thread>,
    ctx: &Ctx,
    r: &mut Rendered,
) {
    let mut prev = 0..0;
    for (i, p) in defs.iter().enumerate() {
        let Some(v) = raw.get(i) else { break };
        out.extend_from_slice(p.name.as_bytes());
        out.push(b'=');
        let start = out.len();
        r.res.clear();
        if v.is_empty() && matches!(p.ptype, Pt::Fspath | Pt::Fsrelpath) {
            out.extend_from_within(prev.clone()); // libsinsp leaves its string buffer untouched for an empty path
        } else {
            render_into(out, &mut r.res, p, v, raw, defs, thread, ctx);
        }
        prev = start..out.len();
        if !r.res.is_empty() {
            out.push(b'(');
            out.extend_from_slice(&r.res);
            out.push(b')');
        }
        out.push(b' ');
    }
}

fn push_int<I: itoa::Integer>(out: &mut Vec<u8>, x: I) {
    out.extend_from_slice(itoa::Buffer::new().format(x).as_bytes());
}

fn int_format(ptype: Pt) -> Option<(usize, bool)> {
    // (width, signed) as the reference unpacks them (UINT32/UINT64 signed, as sysdig prints them)
    Some(match ptype {
        Pt::Int8 => (1, true),
        Pt::Int16 => (2, true),
        Pt::Int32 | Pt::Uint32 | Pt::Fd32 | Pt::Pid32 => (4, true),
        Pt::Int64 | Pt::Uint64 => (8, true),
        Pt::Uint8 | Pt::Enumflags8 | Pt::L4proto | Pt::Sockfamily => (1, false),
        Pt::Uint16 | Pt::Enumflags16 | Pt::Port => (2, false),
        Pt::Enumflags32 | Pt::Bool => (4, false),
        _ => return None,
    })
}

fn signed_value(v: &[u8]) -> i64 {
    match v.len() {
        1 => i64::from(v[0] as i8),
        2 => i64::from(i16::from_le_bytes([v[0], v[1]])),
        4 => i64::from(i32::from_le_bytes([v[0], v[1], v[2], v[3]])),
        _ => i64::from_le_bytes(v.try_into().unwrap_or([0; 8])),
    }
}

fn unsigned_value(v: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..v.len().min(8)].copy_from_slice(&v[..v.len().min(8)]);
    u64::from_le_bytes(b)
}

/// An integer as the reference's `_num` writes it.
fn num(out: &mut Vec<u8>, v: &[u8], signed: bool, pf: Pf) {
    let width_bits = 8 * v.len() as u32;
    if signed {
        let x = signed_value(v);
        let _ = match pf {
            Pf::Hex => {
                let mask = if width_bits >= 64 { u64::MAX } else { (1u64 << width_bits) - 1 };
                write!(out, "{:X}", (x as u64) & mask)
            }
            Pf::Oct => oct(out, i128::from(x)),
            Pf::PaddedDec => write!(out, "{x:09}"),
            _ => {
                push_int(out, x);
                Ok(())
            }
        };
    } else {
        let x = unsigned_value(v);
        let _ = match pf {
            Pf::Hex => write!(out, "{x:X}"),
            Pf::Oct => oct(out, i128::from(x)),
            Pf::PaddedDec => write!(out, "{x:09}"),
            _ => {
                push_int(out, x);
                Ok(())
            }
        };
    }
}

fn oct(out: &mut Vec<u8>, x: i128) -> std::io::Result<()> {
    if x == 0 {
        out.push(b'0');
        Ok(())
    } else if x < 0 {
        write!(out, "-0{:o}", -x)
    } else {
        write!(out, "0{x:o}")
    }
}

/// Render one parameter into `r.val` / `r.res`.
pub fn render(r: &mut Rendered, p: &Param, v: &[u8], raw: Params, defs: &[Param], t: Option<&Thread>, ctx: &Ctx) {
    r.val.clear();
    r.res.clear();
    render_into(&mut r.val, &mut r.res, p, v, raw, defs, t, ctx);
}

/// Render one parameter: its value appended to `val`, its resolved text to `res`.
#[allow(clippy::too_many_arguments)]
fn render_into(
    val: &mut Vec<u8>,
    res: &mut Vec<u8>,
    p: &Param,
    v: &[u8],
    raw: Params,
    defs: &[Param],
    t: Option<&Thread>,
    ctx: &Ctx,
) {
    let (mut ptype, mut pf, mut info, mut v) = (p.ptype, p.fmt, p.info, v);
    if ptype == Pt::Dyn {
        if let (Info::Dyn(idx), Some(&sel)) = (info, v.first()) {
            let table = DYN_TABLES.get(idx as usize).map_or(&[][..], |(_, rows)| rows);
            if let Some(&(t2, f2)) = table.get(sel as usize) {
                ptype = t2;
                pf = f2;
                info = Info::None;
                v = &v[1..];
            }
        }
    }
    if let Some((width, signed)) = int_format(ptype) {
        if v.len() == width {
            num(val, v, signed, pf);
        }
        return;
    }
    match ptype {
        Pt::Fd => fd(val, res, v, t),
        Pt::Pid => {
            let n = i64_of(v).unwrap_or(0);
            push_int(val, n);
            if let Some(th) = ctx.threads.get(&n) {
                res.extend_from_slice(&th.borrow().comm);
            }
        }
        Pt::Errno => {
            let n = i64_of(v).unwrap_or(0);
            push_int(val, n);
            res.extend_from_slice(errno_name(n).as_bytes());
        }
        Pt::Charbuf => val.extend_from_slice(cstr(v)),
        Pt::Fspath | Pt::Fsrelpath => path(val, res, v, info, raw, defs, t),
        Pt::Bytebuf => buffer_normal(val, v),
        Pt::Sockaddr => sockaddr(val, v),
        Pt::Socktuple => socktuple(val, v),
        Pt::Fdlist => fdlist(val, v, t),
        Pt::Syscallid => {
            if let Some(code) = u16_of(v) {
                let _ = write!(val, "{code}");
                res.extend_from_slice(syscall_name(code).as_bytes());
            }
        }
        Pt::Sigtype => {
            if let Some(&s) = v.first() {
                let _ = write!(val, "{s}");
                res.extend_from_slice(signal_name(u64::from(s)).as_bytes());
            }
        }
        Pt::Reltime => {
            if let Ok(b) = v.try_into() {
                let n = u64::from_le_bytes(b);
                if n == u64::MAX {
                    val.extend_from_slice(b"none");
                } else {
                    let _ = write!(val, "{n}");
                    push_g(res, n as f64 / 1e9);
                    res.push(b's');
                }
            }
        }
        Pt::Flags8 | Pt::Flags16 | Pt::Flags32 => {
            if matches!(v.len(), 1 | 2 | 4) {
                let x = unsigned_value(v);
                let _ = write!(val, "{x}");
                flags_to_str(res, x, flag_idx(info));
            }
        }
        Pt::Mode => {
            if let Some(x) = u32_of(v) {
                num(val, v, false, pf);
                flags_to_str(res, u64::from(x), flag_idx(info));
            }
        }
        Pt::Uid | Pt::Gid => {
            if let Some(x) = u32_of(v) {
                if x == u32::MAX {
                    val.extend_from_slice(b"-1");
                    res.extend_from_slice(b"<NONE>");
                } else {
                    let _ = write!(val, "{x}");
                    let names = if ptype == Pt::Uid { ctx.users } else { ctx.groups };
                    match names.get(&x) {
                        Some(n) => sanitize_into(res, n),
                        None => res.extend_from_slice(b"<NA>"),
                    }
                }
            }
        }
        Pt::Sigset => {
            if let Some(x) = u32_of(v) {
                let mut first = true;
                for s in 0..31u32 {
                    if x & (1 << s) != 0 {
                        if !first {
                            val.push(b' ');
                        }
                        val.extend_from_slice(signal_name(u64::from(s + 1)).as_bytes());
                        first = false;
                    }
                }
            }
        }
        Pt::Dyn | Pt::Abstime => val.extend_from_slice(b"INVALID DYNAMIC PARAMETER"),
        Pt::Ipv4addr => {
            if v.len() == 4 {
                push_ip(val, Some(Ip::from_bytes(v)));
            }
        }
        _ => val.extend_from_slice(b"(n.a.)"),
    }
}

fn flag_idx(info: Info) -> Option<u16> {
    match info {
        Info::Flags(i) => Some(i),
        _ => None,
    }
}

fn fd(val: &mut Vec<u8>, res: &mut Vec<u8>, v: &[u8], t: Option<&Thread>) {
    let Some(n) = i64_of(v) else { return };
    push_int(val, n);
    let Some(t) = t else { return };
    if n >= 0 {
        if let Some(f) = t.proc.borrow().fds.get(&n) {
            f.tagged_name(res);
        }
    } else if n == PPM_AT_FDCWD {
        res.extend_from_slice(b"AT_FDCWD");
    } else {
        res.extend_from_slice(errno_name(n).as_bytes());
    }
}

fn path(val: &mut Vec<u8>, res: &mut Vec<u8>, v: &[u8], info: Info, raw: Params, defs: &[Param], t: Option<&Thread>) {
    let start = val.len(); // `val` may already hold the other parameters (render_all writes in place)
    sanitize_into(val, cstr(v));
    let Some(t) = t else { return };
    let s = &val[start..];
    if v.is_empty() || s.starts_with(b"<NA>") || s.is_empty() || s.starts_with(b"/") {
        return;
    }
    let proc = t.proc.borrow();
    let mut base: Vec<u8> = proc.cwd.clone();
    if let Info::DirFd(k) = info {
        let k = k as usize;
        if k < raw.len() && k < defs.len() && defs[k].ptype == Pt::Fd {
            let dirfd = raw.get(k).and_then(i64_of).unwrap_or(PPM_AT_FDCWD);
            if dirfd != PPM_AT_FDCWD {
                base.clear();
                if let Some(d) = proc.fds.get(&dirfd) {
                    if !d.name.is_empty() {
                        sanitize_into(&mut base, &d.name);
                        base.push(b'/');
                    }
                }
                if base.is_empty() {
                    return;
                }
            }
        }
    }
    res.extend_from_slice(&concatenate_paths(&base, &val[start..]));
}

fn port_at(v: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([v[at], v[at + 1]])
}

pub fn sockaddr(val: &mut Vec<u8>, v: &[u8]) {
    let Some(&fam) = v.first() else {
        val.extend_from_slice(b"NULL");
        return;
    };
    match fam {
        1 => sanitize_into(val, cstr(&v[1..])),
        2 if v.len() == 7 => {
            push_ip(val, Some(Ip::from_bytes(&v[1..5])));
            let _ = write!(val, ":{}", port_at(v, 5));
        }
        2 => val.extend_from_slice(b"INVALID IPv4"),
        10 if v.len() == 19 => {
            push_ip(val, Some(Ip::from_bytes(&v[1..17])));
            let _ = write!(val, ":{}", port_at(v, 17));
        }
        10 => val.extend_from_slice(b"INVALID IPv6"),
        _ => {
            let _ = write!(val, "family {fam}");
        }
    }
}

fn mapped(ip: &[u8]) -> bool {
    ip[..10] == [0u8; 10] && ip[10] == 0xff && ip[11] == 0xff
}

pub fn socktuple(val: &mut Vec<u8>, v: &[u8]) {
    let Some(&fam) = v.first() else {
        val.extend_from_slice(b"NULL");
        return;
    };
    match fam {
        2 if v.len() == 13 => {
            push_ip(val, Some(Ip::from_bytes(&v[1..5])));
            let _ = write!(val, ":{}->", port_at(v, 5));
            push_ip(val, Some(Ip::from_bytes(&v[7..11])));
            let _ = write!(val, ":{}", port_at(v, 11));
        }
        2 => val.extend_from_slice(b"INVALID IPv4"),
        10 if v.len() == 37 => {
            let (s, d) = (&v[1..17], &v[19..35]);
            let both = mapped(s) && mapped(d);
            let ip = |b: &[u8]| {
                if both {
                    Ip::from_bytes(&b[12..])
                } else {
                    Ip::from_bytes(b)
                }
            };
            push_ip(val, Some(ip(s)));
            let _ = write!(val, ":{}->", port_at(v, 17));
            push_ip(val, Some(ip(d)));
            let _ = write!(val, ":{}", port_at(v, 35));
        }
        10 => val.extend_from_slice(b"INVALID IPv6"),
        1 if v.len() >= 17 => {
            let src = u64::from_le_bytes(v[1..9].try_into().expect("8 bytes"));
            let dst = u64::from_le_bytes(v[9..17].try_into().expect("8 bytes"));
            let _ = write!(val, "{src:x}->{dst:x} ");
            sanitize_into(val, cstr(&v[17..]));
        }
        1 => val.extend_from_slice(b"family 1"),
        _ => {
            let _ = write!(val, "family {fam}");
        }
    }
}

fn fdlist(val: &mut Vec<u8>, v: &[u8], t: Option<&Thread>) {
    let Some(t) = t else { return };
    if v.len() < 2 {
        return;
    }
    let n = u16::from_le_bytes([v[0], v[1]]) as usize;
    let proc = t.proc.borrow();
    for j in 0..n {
        let pos = 2 + 10 * j;
        if pos + 10 > v.len() {
            break;
        }
        let f = i64::from_le_bytes(v[pos..pos + 8].try_into().expect("8 bytes"));
        let flags = i16::from_le_bytes([v[pos + 8], v[pos + 9]]);
        if j > 0 {
            val.push(b' ');
        }
        let tc = proc.fds.get(&f).map_or("?", |fi| typechar(fi.ftype));
        let _ = write!(val, "{}:{}{:x}", f as u64, tc, i32::from(flags) as u32);
    }
}

/// The IPv6 text of 16 bytes (used by the column output).
pub fn ipv6_text(out: &mut Vec<u8>, b: &[u8; 16]) {
    push_ipv6(out, b)
}
