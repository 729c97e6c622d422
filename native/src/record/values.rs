//! Parameter values computed from one record: socket addresses and tuples, command lines, cgroups.

use super::layout::Rec;
use super::specs::{
    bits, fcntl_cmd, open_flags, ptrace_request, ProcField, Src, CLONE_BITS, EXECVEAT_BITS, RESOLVE_BITS,
};

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const SOCK_RAW: u8 = 3;
const CLONE3: u16 = 435;
const VFORK: u16 = 58;
const CLONE: u16 = 56;

/// cgroup v2 controllers sysdig lists for a v2 cgroup (`sysnb.state.model.V2_CONTROLLERS`).
const V2_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "io",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// A parameter's value: a number (encoded to the parameter's width) or bytes.
pub enum Value {
    Num(u64),
    Bytes,
}

fn until_nul(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// A user sockaddr -> PT_SOCKADDR (PPM family, address, host-order port); empty when not understood.
pub fn sockaddr(raw: &[u8], out: &mut Vec<u8>) {
    if raw.len() < 2 {
        return;
    }
    let fam = u16::from_le_bytes([raw[0], raw[1]]);
    if fam == AF_INET && raw.len() >= 8 {
        out.push(2);
        out.extend_from_slice(&raw[4..8]);
        out.extend_from_slice(&u16::from_be_bytes([raw[2], raw[3]]).to_le_bytes());
    } else if fam == AF_INET6 && raw.len() >= 24 {
        out.push(10);
        out.extend_from_slice(&raw[8..24]);
        out.extend_from_slice(&u16::from_be_bytes([raw[2], raw[3]]).to_le_bytes());
    } else if fam == AF_UNIX {
        let path = if raw.get(2) != Some(&0) { until_nul(&raw[2..]) } else { until_nul(&raw[3..]) };
        out.push(1);
        out.extend_from_slice(path);
        out.push(0);
    }
}

/// PT_SOCKTUPLE from the kernel socket, the user sockaddr filling in the remote end of an unconnected
/// datagram socket. Outbound: local -> remote; inbound (accept, recv*): remote -> local.
fn tuple(r: &Rec, inbound: bool, out: &mut Vec<u8>) {
    let fam = r.family() as u16;
    let addr2 = r.data2();
    if fam == AF_INET || fam == AF_INET6 {
        let n = if fam == AF_INET { 4 } else { 16 };
        let local = (r.saddr(n), if r.sock_type() != SOCK_RAW { r.sport() } else { 0 });
        let mut remote = (r.daddr(n), r.dport());
        let mut sa = Vec::new();
        if remote.1 == 0 && !addr2.is_empty() {
            sockaddr(addr2, &mut sa);
            if sa.len() == 1 + n + 2 {
                remote = (&sa[1..1 + n], u16::from_le_bytes([sa[1 + n], sa[2 + n]]));
            }
        }
        let (a, b) = if inbound { (remote, local) } else { (local, remote) };
        out.push(fam as u8);
        for (addr, port) in [a, b] {
            out.extend_from_slice(addr);
            out.extend_from_slice(&port.to_le_bytes());
        }
    } else if fam == AF_UNIX {
        let path = if addr2.len() >= 2 && addr2[..2] == AF_UNIX.to_le_bytes() { &addr2[2..] } else { addr2 };
        out.push(1);
        out.extend_from_slice(r.saddr(8));
        out.extend_from_slice(r.daddr(8));
        if path.first() == Some(&0) {
            out.push(b'@');
            out.extend_from_slice(until_nul(&path[1..]));
        } else {
            out.extend_from_slice(until_nul(path));
        }
        out.push(0);
    }
}

/// bind's address: the port the kernel really bound, else the address the user passed.
fn bound(r: &Rec, out: &mut Vec<u8>) {
    let fam = r.family() as u16;
    if (fam == AF_INET || fam == AF_INET6) && r.sport() != 0 {
        let n = if fam == AF_INET { 4 } else { 16 };
        out.push(fam as u8);
        out.extend_from_slice(r.saddr(n));
        out.extend_from_slice(&r.sport().to_le_bytes());
    } else {
        sockaddr(r.data2(), out);
    }
}

/// Strings read with bpf_probe_read_user_str already end in NUL; truncated ones get one appended.
fn cstr(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b);
    if b.last().is_some_and(|&c| c != 0) {
        out.push(0);
    }
}

/// The parts of the command line (argv NUL-separated) with trailing NULs removed.
fn argv_parts(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = data.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
    data[..end].split(|&c| c == 0)
}

fn argv_exe(data: &[u8], out: &mut Vec<u8>) {
    let first = argv_parts(data).next().unwrap_or(&[]);
    out.extend_from_slice(first);
    out.push(0);
}

fn argv_args(data: &[u8], out: &mut Vec<u8>) {
    for part in argv_parts(data).skip(1) {
        out.extend_from_slice(part);
        out.push(0);
    }
}

/// The recorder's cgroup names as sysdig's cgroups parameter ("cpuset=/docker/<id>", …).
fn cgroups(r: &Rec, out: &mut Vec<u8>) {
    let names = r.cgroup_names();
    let parts: Vec<String> =
        names.iter().rev().filter(|n| !n.is_empty()).map(|n| String::from_utf8_lossy(n).into_owned()).collect();
    if parts.is_empty() {
        return;
    }
    let path = format!("/{}", parts.join("/"));
    for name in V2_CONTROLLERS {
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        out.extend_from_slice(path.as_bytes());
        out.push(0);
    }
}

fn clone_flags(r: &Rec) -> u64 {
    match r.nr() {
        CLONE3 => bits(r.data_total() as u64, CLONE_BITS),
        VFORK => 134217728 | 32768,
        CLONE => bits(r.arg(0), CLONE_BITS),
        _ => 0,
    }
}

fn pair_fd(r: &Rec, i: usize) -> u64 {
    if !r.has_payloads() {
        return 0;
    }
    if r.ret() == 0 && r.data2_len() >= 8 {
        i32::from_le_bytes(r.data2_field::<4>(4 * i)) as i64 as u64
    } else {
        -1i64 as u64
    }
}

fn how(r: &Rec, i: usize) -> u64 {
    if r.data2_len() >= 24 {
        u64::from_le_bytes(r.data2_field::<8>(8 * i))
    } else {
        0
    }
}

/// ptrace exit's `addr` (argument 2) or `data` (3) as the driver's PT_DYN: an index byte (0: UINT64,
/// 1: SIGTYPE) and the value, 0 as UINT64 when the call failed. A PEEK's data is the word the driver read from
/// the tracee, which the recorder does not read: left empty rather than invented.
fn ptrace_dyn(r: &Rec, which: usize, out: &mut Vec<u8>) {
    let ppm = ptrace_request(r.arg(0));
    if r.ret() < 0 {
        out.push(0);
        out.extend_from_slice(&0u64.to_le_bytes());
    } else if which == 3 && matches!(ppm, 2..=4) {
        // PEEKTEXT/DATA/USR: empty
    } else if which == 3 && matches!(ppm, 8 | 10 | 12 | 13) {
        out.extend_from_slice(&[1, r.arg(3) as u8]);
    } else {
        out.push(0);
        out.extend_from_slice(&r.arg(which).to_le_bytes());
    }
}

/// The value of `src` for record `r`; byte values are appended to `out`.
pub fn value(r: &Rec, src: Src, exec: bool, out: &mut Vec<u8>) -> Value {
    use Value::*;
    match src {
        Src::Ret => Num(r.ret() as u64),
        Src::Arg(i) => Num(r.arg(i as usize)),
        Src::IntArg(i) => Num(r.int_arg(i as usize) as u64),
        Src::Data => {
            out.extend_from_slice(r.data());
            Bytes
        }
        Src::Path => {
            cstr(r.data(), out);
            Bytes
        }
        Src::Path2 => {
            cstr(r.data2(), out);
            Bytes
        }
        Src::Addr2 => {
            sockaddr(r.data2(), out);
            Bytes
        }
        Src::Bound => {
            bound(r, out);
            Bytes
        }
        Src::Total => Num(r.data_total() as u64),
        Src::Zero => Num(0),
        Src::PairFd(i) => Num(pair_fd(r, i as usize)),
        Src::How(i) => Num(how(r, i as usize)),
        Src::OpenFlagsArg(i) => Num(open_flags(r.arg(i as usize))),
        Src::OpenFlagsHow => Num(open_flags(how(r, 0))),
        Src::ResolveHow => Num(bits(how(r, 2), RESOLVE_BITS)),
        Src::ExecveatFlags => Num(bits(r.arg(4), EXECVEAT_BITS)),
        Src::SetnsType => Num(bits(r.arg(1), CLONE_BITS)),
        Src::Fcntl => Num(fcntl_cmd(r.int_arg(1))),
        Src::TupleOut | Src::TupleIn => {
            tuple(r, src == Src::TupleIn, out);
            Bytes
        }
        Src::Mode(i) => Num(r.arg(i as usize) & 0o7777),
        Src::PtraceRequest => Num(ptrace_request(r.arg(0))),
        Src::PtraceAddr | Src::PtraceData => {
            ptrace_dyn(r, if src == Src::PtraceAddr { 2 } else { 3 }, out);
            Bytes
        }
        Src::ArgvExe => {
            argv_exe(r.data(), out);
            Bytes
        }
        Src::Proc(field) => proc_value(r, field, exec, out),
    }
}

fn proc_value(r: &Rec, field: ProcField, exec: bool, out: &mut Vec<u8>) -> Value {
    use Value::*;
    let failed_exec = exec && r.ret() < 0; // the recorder read the filename instead of the new image's argv
    match field {
        ProcField::Exe if failed_exec => out.extend_from_slice(r.data()),
        ProcField::Exe => argv_exe(r.data(), out),
        ProcField::Args if failed_exec => {}
        ProcField::Args => argv_args(r.data(), out),
        ProcField::Cwd => out.push(0),
        ProcField::Comm => {
            out.extend_from_slice(r.comm());
            out.push(0);
        }
        ProcField::Cgroups => cgroups(r, out),
        ProcField::Env => out.extend_from_slice(r.data2()),
        ProcField::Tid => return Num(r.tid() as u64),
        ProcField::Pid | ProcField::Pgid => return Num(r.pid() as u64),
        ProcField::Ptid => return Num(r.ppid() as u64),
        ProcField::Loginuid => return Num(u64::MAX),
        ProcField::Flags => return Num(clone_flags(r)),
        ProcField::Uid => return Num(r.uid() as u64),
        ProcField::Gid => return Num(r.gid() as u64),
        ProcField::Zero => return Num(0),
    }
    Bytes
}
