//! Typed access to the generated event table (`event_table.rs`, from `tools/gen_event_table.py`) and the
//! per-type attributes the reader and the state engine ask for on every event, computed once.

use std::sync::OnceLock;

pub use crate::event_table::{ef, DYN_TABLES, EVENTS, FLAG_TABLES, PPM_SC_NAMES, SYSCALL_INFO_2022, TABLE_SIZE};

/// Parameter types (PT_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pt {
    Abstime,
    Bytebuf,
    Charbuf,
    Charbufarray,
    CharbufPairArray,
    Dyn,
    Enumflags16,
    Enumflags32,
    Enumflags8,
    Errno,
    Fd,
    Fd32,
    Fdlist,
    Flags16,
    Flags32,
    Flags8,
    Fspath,
    Fsrelpath,
    Gid,
    Int8,
    Int16,
    Int32,
    Int64,
    Ipv4addr,
    Ipv6addr,
    Mode,
    Pid,
    Pid32,
    Port,
    Reltime,
    Sigset,
    Sigtype,
    Sockaddr,
    Socktuple,
    Syscallid,
    Uid,
    Uint16,
    Uint32,
    Uint64,
    Uint8,
    L4proto,
    Sockfamily,
    Bool,
    Ipv4net,
    Ipv6net,
    Ipaddr,
    Ipnet,
    None,
}

/// Print formats (PF_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pf {
    Na,
    Dec,
    Hex,
    Oct,
    PaddedDec,
}

/// What a parameter's `info` names: a flag table, a dynamic-parameter table, or the dirfd parameter index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Info {
    None,
    Flags(u16),
    Dyn(u16),
    DirFd(u8),
}

#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub ptype: Pt,
    pub fmt: Pf,
    pub info: Info,
}

#[derive(Debug)]
pub struct EventInfo {
    pub id: u16,
    pub symbol: &'static str,
    pub name: &'static str,
    pub category: &'static str,
    pub flags: u32,
    pub params: &'static [Param],
    pub known_2022: bool,
    pub name_2022: &'static str,
    pub category_2022: &'static str,
    pub flags_2022: u32,
    pub params_2022: &'static [Param],
}

impl EventInfo {
    /// The flags sysdig 0.29.3 sees: the 2022 ones for types it knows.
    pub fn effective_flags(&self) -> u32 {
        if self.known_2022 {
            self.flags_2022
        } else {
            self.flags
        }
    }

    /// Index of a parameter of the current table by name.
    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }
}

pub fn event_info(etype: u16) -> Option<&'static EventInfo> {
    EVENTS.get(etype as usize)
}

pub const GENERIC_E: u16 = 0;
pub const GENERIC_X: u16 = 1;
pub const NOTIFICATION_E: u16 = 280;
pub const INFRASTRUCTURE_EVENT_E: u16 = 286;
pub const SCHED_SWITCH: u16 = 152;
pub const CONTAINER_E: u16 = 228;
pub const EXECVE_19_X: u16 = 293;
pub const EXECVE_19_E: u16 = 292;
pub const EXECVEAT_E: u16 = 330;

/// The state change an event type makes (libsinsp's parser, chosen by the current event name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parser {
    None,
    Open,
    Socket,
    Connect,
    Accept,
    Bind,
    IoTupleEnter,
    IoTupleExit,
    Close,
    Simple(u8),
    Pipe,
    Socketpair,
    Dup,
    Fcntl,
    Chdir,
    Fchdir,
    Execve,
    Procexit,
    Setuid,
    Setgid,
    Setresuid,
    Setresgid,
    Setsid,
}

/// Per event type, what the engine and the column output need, computed once from the table.
#[derive(Clone, Copy, Debug)]
pub struct TypeAttrs {
    pub numbered: bool,
    pub uses_fd: bool,
    pub fd_family: bool,
    pub no_reset: bool,
    pub has_res: bool,
    pub writes_to_fd: bool,
    pub data_idx: i16,
    pub parser: Parser,
    pub clone: bool,
    pub thread_mutator: bool,
    pub container: bool,
    pub internal: bool,
    pub null_typechar: u8,
    pub name_source: NameSource,
}

/// Where the fd name of an fd-creating exit comes from when the fd is not in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameSource {
    Empty,
    Param1,
    OpenatOld,
    OpenatNew,
    Connect,
}

fn sym(symbol: &str) -> u16 {
    EVENTS.iter().find(|e| e.symbol == symbol).map(|e| e.id).unwrap_or(u16::MAX)
}

fn parser_of(name: &str) -> Parser {
    use crate::state::model::fdtype;
    match name {
        "open" | "openat" | "openat2" | "creat" => Parser::Open,
        "socket" => Parser::Socket,
        "connect" => Parser::Connect,
        "accept" | "accept4" => Parser::Accept,
        "bind" => Parser::Bind,
        "sendto" | "sendmsg" => Parser::IoTupleEnter,
        "recvfrom" | "recvmsg" => Parser::IoTupleExit,
        "close" => Parser::Close,
        "pipe" | "pipe2" => Parser::Pipe,
        "socketpair" => Parser::Socketpair,
        "eventfd" | "eventfd2" => Parser::Simple(fdtype::EVENT),
        "signalfd" | "signalfd4" => Parser::Simple(fdtype::SIGNALFD),
        "timerfd_create" => Parser::Simple(fdtype::TIMERFD),
        "inotify_init" | "inotify_init1" => Parser::Simple(fdtype::INOTIFY),
        "epoll_create" | "epoll_create1" => Parser::Simple(fdtype::EVENTPOLL),
        "dup" | "dup2" | "dup3" => Parser::Dup,
        "fcntl" => Parser::Fcntl,
        "chdir" | "getcwd" => Parser::Chdir,
        "fchdir" => Parser::Fchdir,
        "execve" | "execveat" => Parser::Execve,
        "procexit" => Parser::Procexit,
        "setuid" => Parser::Setuid,
        "setgid" => Parser::Setgid,
        "setresuid" => Parser::Setresuid,
        "setresgid" => Parser::Setresgid,
        "setsid" => Parser::Setsid,
        _ => Parser::None,
    }
}

fn null_typechar(id: u16) -> u8 {
    let enter = id & !1;
    let groups: [(u8, &[&str]); 7] = [
        (b'f', &["SYSCALL_OPEN_E", "SYSCALL_OPENAT_E", "SYSCALL_OPENAT_2_E", "SYSCALL_OPENAT2_E", "SYSCALL_CREAT_E"]),
        (b'4', &["SOCKET_SOCKET_E", "SOCKET_ACCEPT_E", "SOCKET_ACCEPT_5_E", "SOCKET_ACCEPT4_E", "SOCKET_ACCEPT4_5_E"]),
        (b'p', &["SYSCALL_PIPE_E"]),
        (b'e', &["SYSCALL_EVENTFD_E"]),
        (b's', &["SYSCALL_SIGNALFD_E"]),
        (b't', &["SYSCALL_TIMERFD_CREATE_E"]),
        (b'i', &["SYSCALL_INOTIFY_INIT_E"]),
    ];
    for (ch, symbols) in groups {
        if symbols.iter().any(|s| sym(s) == enter) {
            return ch;
        }
    }
    b'o'
}

fn name_source(id: u16) -> NameSource {
    let param1 = [
        "SYSCALL_OPEN_X",
        "SOCKET_ACCEPT_X",
        "SOCKET_ACCEPT_5_X",
        "SOCKET_ACCEPT4_X",
        "SOCKET_ACCEPT4_5_X",
        "SYSCALL_CREAT_X",
    ];
    if id == sym("SOCKET_CONNECT_X") {
        NameSource::Connect
    } else if param1.iter().any(|s| sym(s) == id) {
        NameSource::Param1
    } else if id == sym("SYSCALL_OPENAT_X") {
        NameSource::OpenatOld
    } else if id == sym("SYSCALL_OPENAT_2_X") || id == sym("SYSCALL_OPENAT2_X") {
        NameSource::OpenatNew
    } else {
        NameSource::Empty
    }
}

fn attrs_of(e: &EventInfo) -> TypeAttrs {
    let eff = e.effective_flags();
    let container = e.name == "container";
    let exit = e.id & 1 == 1;
    TypeAttrs {
        numbered: e.known_2022,
        uses_fd: eff & ef::USES_FD != 0,
        fd_family: eff & (ef::CREATES_FD | ef::USES_FD | ef::DESTROYS_FD) != 0,
        no_reset: (e.flags | e.flags_2022) & ef::SKIPPARSERESET != 0 || container || e.id == SCHED_SWITCH,
        has_res: exit && e.params_2022.first().is_some_and(|p| p.name == "res" || p.name == "fd"),
        writes_to_fd: exit && eff & ef::WRITES_TO_FD != 0,
        data_idx: e.params.iter().position(|p| p.name == "data" && p.ptype == Pt::Bytebuf).map_or(-1, |i| i as i16),
        parser: parser_of(e.name),
        clone: matches!(e.name, "clone" | "fork" | "vfork" | "clone3"),
        thread_mutator: matches!(
            e.name,
            "clone"
                | "fork"
                | "vfork"
                | "clone3"
                | "execve"
                | "execveat"
                | "chdir"
                | "fchdir"
                | "getcwd"
                | "setuid"
                | "setgid"
                | "setresuid"
                | "setresgid"
                | "procexit"
                | "setsid"
        ),
        container,
        internal: e.category_2022 == "INTERNAL",
        null_typechar: null_typechar(e.id),
        name_source: name_source(e.id),
    }
}

/// The attributes of every event type, indexed by id.
pub fn attrs() -> &'static [TypeAttrs] {
    static ATTRS: OnceLock<Vec<TypeAttrs>> = OnceLock::new();
    ATTRS.get_or_init(|| EVENTS.iter().map(attrs_of).collect())
}

/// Syscall name of a PPM_SC code as sysdig 0.29.3 prints it.
pub fn syscall_name(code: u16) -> String {
    if let Some((_, name)) = SYSCALL_INFO_2022.get(code as usize) {
        return (*name).to_string();
    }
    if let Some(name) = PPM_SC_NAMES.get(code as usize) {
        return name.to_lowercase();
    }
    "<unknown syscall>".to_string()
}

/// Category of a syscall recorded as a generic event.
pub fn syscall_category(code: u16) -> &'static str {
    SYSCALL_INFO_2022.get(code as usize).map_or("OTHER", |(c, _)| c)
}

pub fn flag_table(idx: u16) -> &'static [(&'static str, u32)] {
    FLAG_TABLES.get(idx as usize).map_or(&[], |(_, t)| t)
}
