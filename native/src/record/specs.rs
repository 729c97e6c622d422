//! Which parameter of which event comes from which part of a record: the table of
//! `sysnb/record/convert.py` (`SPECS`, `_proc_params`), the reference this one is tested against.

/// Where one parameter's value comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Src {
    Ret,
    Arg(u8),
    IntArg(u8),
    Data,
    Path,
    Path2,
    Addr2,
    Bound,
    Total,
    Zero,
    PairFd(u8),
    /// a u64 field of openat2's `struct open_how`, raw
    How(u8),
    OpenFlagsArg(u8),
    OpenFlagsHow,
    ResolveHow,
    ExecveatFlags,
    SetnsType,
    Fcntl,
    TupleOut,
    TupleIn,
    /// chmod's mode (argument i) as PPM_S_* (the same bits as Linux's low twelve)
    Mode(u8),
    /// ptrace's request as PPM_PTRACE_*
    PtraceRequest,
    /// ptrace exit's addr / data as the driver's PT_DYN (index byte, value)
    PtraceAddr,
    PtraceData,
    /// the executable of the command line the recorder read (execve's filename on enter)
    ArgvExe,
    Proc(ProcField),
}

/// The process fields of an execve/clone exit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProcField {
    Exe,
    Args,
    Tid,
    Pid,
    Ptid,
    Cwd,
    Comm,
    Cgroups,
    Env,
    Pgid,
    Loginuid,
    Flags,
    Uid,
    Gid,
    Zero,
}

pub type Params = &'static [(&'static str, Src)];

/// (enter parameters, exit parameters) of a syscall sysnb knows; None: a generic `syscall` pair.
pub fn spec(name: &str) -> Option<(Params, Params)> {
    use Src::*;
    const RET: Params = &[("res", Ret)];
    const RW: (Params, Params) = (&[("fd", IntArg(0)), ("size", Arg(2))], &[("res", Ret), ("data", Data)]);
    const PRW: (Params, Params) =
        (&[("fd", IntArg(0)), ("size", Arg(2)), ("pos", Arg(3))], &[("res", Ret), ("data", Data)]);
    const ACCEPT_X: Params =
        &[("fd", Ret), ("tuple", TupleIn), ("queuepct", Zero), ("queuelen", Zero), ("queuemax", Zero)];
    const PIPE_X: Params = &[("res", Ret), ("fd1", PairFd(0)), ("fd2", PairFd(1)), ("ino", Zero)];
    const FD0: Params = &[("fd", IntArg(0))];
    const PATH_X: Params = &[("res", Ret), ("path", Path)];
    const TWO_PATHS_X: Params = &[("res", Ret), ("oldpath", Path), ("newpath", Path2)];
    Some(match name {
        "read" | "write" => RW,
        "pread64" | "pwrite64" => PRW,
        "readv" => (FD0, &[("res", Ret), ("size", Total), ("data", Data)]),
        "writev" => (&[("fd", IntArg(0)), ("size", Total)], &[("res", Ret), ("data", Data)]),
        "preadv" => (&[("fd", IntArg(0)), ("pos", Arg(3))], &[("res", Ret), ("size", Total), ("data", Data)]),
        "pwritev" => (&[("fd", IntArg(0)), ("size", Total), ("pos", Arg(3))], &[("res", Ret), ("data", Data)]),
        "open" => (
            &[("name", Path), ("flags", OpenFlagsArg(1)), ("mode", Arg(2))],
            &[("fd", Ret), ("name", Path), ("flags", OpenFlagsArg(1)), ("mode", Arg(2)), ("dev", Zero)],
        ),
        "openat" => (
            &[("dirfd", IntArg(0)), ("name", Path), ("flags", OpenFlagsArg(2)), ("mode", Arg(3))],
            &[
                ("fd", Ret),
                ("dirfd", IntArg(0)),
                ("name", Path),
                ("flags", OpenFlagsArg(2)),
                ("mode", Arg(3)),
                ("dev", Zero),
            ],
        ),
        "openat2" => (
            &[("dirfd", IntArg(0)), ("name", Path), ("flags", OpenFlagsHow), ("mode", How(1)), ("resolve", ResolveHow)],
            &[
                ("fd", Ret),
                ("dirfd", IntArg(0)),
                ("name", Path),
                ("flags", OpenFlagsHow),
                ("mode", How(1)),
                ("resolve", ResolveHow),
            ],
        ),
        "creat" => {
            (&[("name", Path), ("mode", Arg(1))], &[("fd", Ret), ("name", Path), ("mode", Arg(1)), ("dev", Zero)])
        }
        "close" | "dup" | "dup2" | "dup3" | "fchdir" => (FD0, RET),
        "socket" => (&[("domain", Arg(0)), ("type", Arg(1)), ("proto", Arg(2))], &[("fd", Ret)]),
        "bind" => (FD0, &[("res", Ret), ("addr", Bound)]),
        "connect" => (&[("fd", IntArg(0)), ("addr", Addr2)], &[("res", Ret), ("tuple", TupleOut)]),
        "listen" => (&[("fd", IntArg(0)), ("backlog", Arg(1))], RET),
        "accept" => (&[], ACCEPT_X),
        "accept4" => (&[("flags", Arg(3))], ACCEPT_X),
        "sendto" => (&[("fd", IntArg(0)), ("size", Arg(2)), ("tuple", TupleOut)], &[("res", Ret), ("data", Data)]),
        "recvfrom" => (&[("fd", IntArg(0)), ("size", Arg(2))], &[("res", Ret), ("data", Data), ("tuple", TupleIn)]),
        "sendmsg" => (&[("fd", IntArg(0)), ("size", Total), ("tuple", TupleOut)], &[("res", Ret), ("data", Data)]),
        "recvmsg" => (FD0, &[("res", Ret), ("size", Total), ("data", Data), ("tuple", TupleIn)]),
        "shutdown" => (&[("fd", IntArg(0)), ("how", Arg(1))], RET),
        "pipe" | "pipe2" => (&[], PIPE_X),
        "socketpair" => (
            &[("domain", Arg(0)), ("type", Arg(1)), ("proto", Arg(2))],
            &[("res", Ret), ("fd1", PairFd(0)), ("fd2", PairFd(1)), ("source", Zero), ("peer", Zero)],
        ),
        "fcntl" => (&[("fd", IntArg(0)), ("cmd", Fcntl)], RET),
        "execve" => (&[("filename", ArgvExe)], RET),
        "execveat" => (&[("dirfd", IntArg(0)), ("pathname", ArgvExe), ("flags", ExecveatFlags)], RET),
        "clone" | "fork" | "vfork" | "clone3" => (&[], RET),
        "chdir" | "unlink" | "rmdir" => (&[], PATH_X),
        "setns" => (&[("fd", IntArg(0)), ("nstype", SetnsType)], RET),
        "unlinkat" => (&[], &[("res", Ret), ("dirfd", IntArg(0)), ("name", Path), ("flags", Arg(2))]),
        "rename" | "link" => (&[], TWO_PATHS_X),
        "renameat" => (
            &[],
            &[("res", Ret), ("olddirfd", IntArg(0)), ("oldpath", Path), ("newdirfd", IntArg(2)), ("newpath", Path2)],
        ),
        "renameat2" => (
            &[],
            &[
                ("res", Ret),
                ("olddirfd", IntArg(0)),
                ("oldpath", Path),
                ("newdirfd", IntArg(2)),
                ("newpath", Path2),
                ("flags", Arg(4)),
            ],
        ),
        "mkdir" => (&[("mode", Arg(1))], PATH_X),
        "mkdirat" => (&[], &[("res", Ret), ("dirfd", IntArg(0)), ("path", Path), ("mode", Arg(2))]),
        "linkat" => (
            &[],
            &[
                ("res", Ret),
                ("olddir", IntArg(0)),
                ("oldpath", Path),
                ("newdir", IntArg(2)),
                ("newpath", Path2),
                ("flags", Arg(4)),
            ],
        ),
        "symlink" => (&[], &[("res", Ret), ("target", Path), ("linkpath", Path2)]),
        "symlinkat" => (&[], &[("res", Ret), ("target", Path), ("linkdirfd", IntArg(1)), ("linkpath", Path2)]),
        "chmod" => (&[], &[("res", Ret), ("filename", Path), ("mode", Mode(1))]),
        "fchmod" => (&[], &[("res", Ret), ("fd", IntArg(0)), ("mode", Mode(1))]),
        "fchmodat" => (&[], &[("res", Ret), ("dirfd", IntArg(0)), ("filename", Path), ("mode", Mode(2))]),
        "setuid" => (&[("uid", Arg(0))], RET),
        "setgid" => (&[("gid", Arg(0))], RET),
        "setresuid" => (&[("ruid", Arg(0)), ("euid", Arg(1)), ("suid", Arg(2))], RET),
        "setresgid" => (&[("rgid", Arg(0)), ("egid", Arg(1)), ("sgid", Arg(2))], RET),
        "getuid" => (&[], &[("uid", Ret)]),
        "geteuid" => (&[], &[("euid", Ret)]),
        "getgid" => (&[], &[("gid", Ret)]),
        "getegid" => (&[], &[("egid", Ret)]),
        "ptrace" => (
            &[("request", PtraceRequest), ("pid", IntArg(1))],
            &[("res", Ret), ("addr", PtraceAddr), ("data", PtraceData)],
        ),
        _ => return None,
    })
}

/// Linux PTRACE_* (x86-64) -> PPM_PTRACE_* (the driver's ptrace_requests_to_scap; else UNKNOWN, 0).
pub fn ptrace_request(req: u64) -> u64 {
    match req {
        0..=9 => req + 1,
        16 => 11,
        17 => 12,
        24 => 13,
        0x4200..=0x420B => req - 0x4200 + 14,
        12..=15 => req - 12 + 26,
        18 => 30,
        19 => 31,
        21 => 32,
        25 => 33,
        26 => 34,
        30..=33 => req - 30 + 35,
        _ => 0,
    }
}

/// Some(true) for execve/execveat, Some(false) for the clone family (whose exits carry process fields).
pub fn proc_syscall(name: &str) -> Option<bool> {
    match name {
        "execve" | "execveat" => Some(true),
        "clone" | "fork" | "vfork" | "clone3" => Some(false),
        _ => None,
    }
}

/// The process field an execve/clone exit parameter takes (overriding the exit spec).
pub fn proc_field(param: &str) -> Option<ProcField> {
    use ProcField::*;
    Some(match param {
        "exe" => Exe,
        "args" => Args,
        "tid" | "vtid" => Tid,
        "pid" | "vpid" => Pid,
        "ptid" => Ptid,
        "cwd" => Cwd,
        "fdlimit" | "pgft_maj" | "pgft_min" | "vm_size" | "vm_rss" | "vm_swap" | "tty" => Zero,
        "comm" => Comm,
        "cgroups" => Cgroups,
        "env" => Env,
        "pgid" => Pgid,
        "loginuid" => Loginuid,
        "flags" => Flags,
        "uid" => Uid,
        "gid" => Gid,
        _ => return None,
    })
}

// -- flag conversions (Linux values -> the driver's PPM_* bits) ----------------------------------------------

pub const OPEN_BITS: &[(u64, u64)] = &[
    (0o100, 4),
    (0o2000, 8),
    (0o10000, 16),
    (0o200, 32),
    (0o4000, 64),
    (0o4000000, 128),
    (0o1000, 256),
    (0o40000, 512),
    (0o200000, 1024),
    (0o100000, 2048),
    (0o2000000, 4096),
    (0o20000000, 8192),
];
pub const CLONE_BITS: &[(u64, u64)] = &[
    (0x400, 1),
    (0x200, 2),
    (0x80000000, 4),
    (0x08000000, 8),
    (0x40000000, 16),
    (0x20000, 32),
    (0x20000000, 64),
    (0x04000000, 128),
    (0x8000, 256),
    (0x100000, 512),
    (0x2000, 1024),
    (0x800, 2048),
    (0x40000, 4096),
    (0x10000, 8192),
    (0x800000, 16384),
    (0x100, 32768),
    (0x10000000, 1048576),
    (0x200000, 8388608),
    (0x01000000, 16777216),
    (0x80000, 33554432),
    (0x4000, 134217728),
    (0x02000000, 268435456),
];
pub const RESOLVE_BITS: &[(u64, u64)] = &[(0x08, 1), (0x10, 2), (0x02, 4), (0x04, 8), (0x01, 16), (0x20, 32)];
pub const EXECVEAT_BITS: &[(u64, u64)] = &[(0x1000, 1), (0x100, 2)];

pub fn bits(value: u64, table: &[(u64, u64)]) -> u64 {
    table.iter().filter(|(linux, _)| value & linux != 0).fold(0, |acc, (_, ppm)| acc | ppm)
}

/// Linux open(2) flags -> PPM_O_* (access mode: RDONLY 1, WRONLY 2, RDWR 3).
pub fn open_flags(value: u64) -> u64 {
    bits(value, OPEN_BITS) | ((value & 3) + 1).clamp(1, 3)
}

/// fcntl's command -> PPM_FCNTL_*, 0 for the ones the driver does not name.
pub fn fcntl_cmd(cmd: i64) -> u64 {
    match cmd {
        0 => 1,
        1 => 2,
        2 => 3,
        3 => 4,
        4 => 5,
        5 => 6,
        6 => 8,
        7 => 9,
        8 => 10,
        9 => 12,
        10 => 13,
        11 => 15,
        1030 => 26,
        _ => 0,
    }
}
