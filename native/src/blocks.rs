//! Block type ids and decoders of the metadata blocks (machine, process, fd, interface, user lists).
//!
//! See `../shared/docs/scap-format.md` sections 3-6. Every decoder takes the block body (without the 8-byte
//! header and the trailer) and is bounded by the lengths the file stores, never by what the structure is
//! expected to hold.

pub const SHB: u32 = 0x0A0D_0D0A;
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Kinds of blocks this reader understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Section,
    Machine,
    Procs(u8),
    Fds(u8),
    Interfaces(u8),
    Users(u8),
    /// an event block: version, has flags, large parameter lengths
    Event(u8, bool, bool),
    Unknown,
}

pub fn kind(btype: u32) -> Kind {
    match btype {
        SHB => Kind::Section,
        0x201 | 0x8002_ABCD => Kind::Machine,
        0x202 | 0x8000_ABCD => Kind::Procs(1),
        0x207 | 0x8013_ABCD => Kind::Procs(2),
        0x209 | 0x8014_ABCD => Kind::Procs(3),
        0x210 => Kind::Procs(4),
        0x211 => Kind::Procs(5),
        0x212 => Kind::Procs(6),
        0x213 => Kind::Procs(7),
        0x214 => Kind::Procs(8),
        0x215 => Kind::Procs(9),
        0x203 | 0x8001_ABCD => Kind::Fds(1),
        0x218 => Kind::Fds(2),
        0x205 | 0x8011_ABCD => Kind::Interfaces(1),
        0x219 => Kind::Interfaces(2),
        0x206 | 0x8012_ABCD => Kind::Users(1),
        0x220 => Kind::Users(2),
        0x204 | 0x8010_ABCD => Kind::Event(1, false, false),
        0x208 => Kind::Event(1, true, false),
        0x216 => Kind::Event(2, false, false),
        0x217 => Kind::Event(2, true, false),
        0x221 => Kind::Event(2, false, true),
        0x222 => Kind::Event(2, true, true),
        _ => Kind::Unknown,
    }
}

/// The block's name in error messages (as the Python reader names it).
pub fn block_name(btype: u32) -> String {
    match kind(btype) {
        Kind::Section => "section header".into(),
        Kind::Machine => "machine info".into(),
        Kind::Procs(v) => format!("process list v{v}"),
        Kind::Fds(v) => format!("fd list v{v}"),
        Kind::Interfaces(v) => format!("interface list v{v}"),
        Kind::Users(v) => format!("user list v{v}"),
        Kind::Event(v, f, large) => {
            format!("event{} v{v}{}", if f { " (flags)" } else { "" }, if large { " large" } else { "" })
        }
        Kind::Unknown => format!("unknown (type 0x{btype:X})"),
    }
}

/// A bounded little-endian reader over one block body.
pub struct Cursor<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    pub end: usize,
}

pub type Res<T> = Result<T, String>;

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0, end: buf.len() }
    }
    pub fn sub(buf: &'a [u8], pos: usize, end: usize) -> Self {
        Cursor { buf, pos, end: end.min(buf.len()) }
    }
    pub fn left(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }
    pub fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        if n > self.left() {
            return Err(format!("entry needs {n} bytes, {} left", self.left()));
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }
    fn arr<const N: usize>(&mut self) -> Res<[u8; N]> {
        let b = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }
    pub fn u8(&mut self) -> Res<u8> {
        Ok(self.arr::<1>()?[0])
    }
    pub fn u16(&mut self) -> Res<u16> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    pub fn u32(&mut self) -> Res<u32> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    pub fn i32(&mut self) -> Res<i32> {
        Ok(i32::from_le_bytes(self.arr()?))
    }
    pub fn u64(&mut self) -> Res<u64> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    pub fn i64(&mut self) -> Res<i64> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    pub fn raw16(&mut self) -> Res<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
}

#[derive(Clone, Debug, Default)]
pub struct MachineInfo {
    pub num_cpus: u32,
    pub memory_bytes: u64,
    pub max_pid: u64,
    pub hostname: Vec<u8>,
    pub boot_ts: u64,
}

#[derive(Clone, Debug, Default)]
pub struct ThreadEntry {
    pub tid: i64,
    pub pid: i64,
    pub ptid: i64,
    pub sid: i64,
    pub vpgid: i64,
    pub comm: Vec<u8>,
    pub exe: Vec<u8>,
    pub exepath: Vec<u8>,
    pub args: NulList,
    pub cwd: Vec<u8>,
    pub fdlimit: i64,
    pub flags: u32,
    pub uid: u32,
    pub gid: u32,
    pub env: NulList,
    pub vtid: i64,
    pub vpid: i64,
    pub cgroups: NulList,
    pub root: Vec<u8>,
    pub loginuid: i32,
    pub tty: u32,
    pub vmsize_kb: u32,
    pub vmrss_kb: u32,
    pub vmswap_kb: u32,
    pub pfmajor: u64,
    pub pfminor: u64,
}

/// An IP address as the file stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ip {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Ip {
    pub fn from_bytes(b: &[u8]) -> Ip {
        if b.len() == 4 {
            Ip::V4([b[0], b[1], b[2], b[3]])
        } else {
            let mut a = [0u8; 16];
            let n = b.len().min(16);
            a[..n].copy_from_slice(&b[..n]);
            Ip::V6(a)
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct FdEntry {
    pub fd: i64,
    pub ino: u64,
    pub ftype: u8,
    pub name: Vec<u8>,
    pub sip: Option<Ip>,
    pub dip: Option<Ip>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub l4proto: u8,
    pub flags: u32,
    pub src_endpoint: u64,
    pub dst_endpoint: u64,
}

#[derive(Clone, Debug, Default)]
pub struct UserEntry {
    pub uid: u32,
    pub gid: u32,
    pub name: Vec<u8>,
    pub home: Vec<u8>,
    pub shell: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct InterfaceEntry {
    pub name: Vec<u8>,
    pub family: u16,
    pub addr: Ip,
    pub netmask: Ip,
}

/// A NUL-separated list (argv, environment, cgroups) kept as the bytes the file holds: one allocation
/// instead of one per item.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NulList(pub Vec<u8>);

impl NulList {
    pub fn from_raw(raw: &[u8]) -> NulList {
        NulList(raw.to_vec())
    }

    /// The items: split at NUL, without the empty piece after a final NUL.
    pub fn items(&self) -> impl Iterator<Item = &[u8]> {
        let body = self.0.strip_suffix(&[0]).unwrap_or(&self.0);
        let empty = self.0.is_empty();
        body.split(|&b| b == 0).filter(move |_| !empty)
    }

    /// The items joined with `sep` (proc.args: the arguments separated by spaces).
    pub fn joined(&self, sep: u8) -> Vec<u8> {
        let body = self.0.strip_suffix(&[0]).unwrap_or(&self.0);
        body.iter().map(|&b| if b == 0 { sep } else { b }).collect()
    }
}

pub fn nul_list(raw: &[u8]) -> NulList {
    NulList::from_raw(raw)
}

pub fn parse_machine_info(body: &[u8]) -> Res<MachineInfo> {
    let mut c = Cursor::new(body);
    let num_cpus = c.u32()?;
    let memory_bytes = c.u64()?;
    let max_pid = c.u64()?;
    let host = c.take(128)?;
    let hostname = host.split(|&b| b == 0).next().unwrap_or(&[]).to_vec();
    let boot_ts = if c.left() >= 8 { c.u64()? } else { 0 };
    Ok(MachineInfo { num_cpus, memory_bytes, max_pid, hostname, boot_ts })
}

pub fn parse_process_list(body: &[u8], version: u8, out: &mut Vec<ThreadEntry>) -> Res<()> {
    let mut c = Cursor::new(body);
    while c.left() >= 4 {
        if version == 9 {
            let start = c.pos;
            let entry_len = c.u32()? as usize;
            if entry_len < 4 || start + entry_len > c.end {
                return Err(format!("thread entry length {entry_len} exceeds the block"));
            }
            let mut sub = Cursor::sub(body, c.pos, start + entry_len);
            out.push(thread_entry(&mut sub, version)?);
            c.pos = start + entry_len;
        } else {
            out.push(thread_entry(&mut c, version)?);
        }
    }
    Ok(())
}

fn thread_entry(c: &mut Cursor, v: u8) -> Res<ThreadEntry> {
    let mut t = ThreadEntry {
        tid: c.i64()?,
        pid: c.i64()?,
        ptid: c.i64()?,
        vtid: -1,
        vpid: -1,
        loginuid: -1,
        sid: -1, // older process lists have no session and process group ids: unknown, as libscap reads them
        vpgid: -1,
        ..Default::default()
    };
    if v >= 6 {
        t.sid = c.i64()?;
    }
    if v >= 8 {
        t.vpgid = c.i64()?;
    }
    t.comm = c.raw16()?.to_vec();
    t.exe = c.raw16()?.to_vec();
    if v >= 7 {
        t.exepath = c.raw16()?.to_vec();
    }
    t.args = nul_list(c.raw16()?);
    t.cwd = c.raw16()?.to_vec();
    t.fdlimit = c.i64()?;
    t.flags = c.u32()?;
    t.uid = c.u32()?;
    t.gid = c.u32()?;
    if v >= 2 {
        t.vmsize_kb = c.u32()?;
        t.vmrss_kb = c.u32()?;
        t.vmswap_kb = c.u32()?;
        t.pfmajor = c.u64()?;
        t.pfminor = c.u64()?;
    }
    if v >= 3 {
        t.env = nul_list(c.raw16()?);
    }
    if v >= 4 {
        t.vtid = c.i64()?;
        t.vpid = c.i64()?;
        t.cgroups = nul_list(c.raw16()?);
    }
    if v >= 5 {
        t.root = c.raw16()?.to_vec();
    }
    if v == 9 {
        // producers older than libs 0.10 wrote the tail without pidns_init_start_ts and tty
        if c.left() > 29 && c.left() >= 12 {
            c.u64()?;
            t.tty = c.u32()?;
        }
        if c.left() >= 4 {
            t.loginuid = c.i32()?;
        }
    }
    Ok(t)
}

pub fn parse_fd_list(body: &[u8], version: u8) -> Res<(i64, Vec<FdEntry>)> {
    let mut c = Cursor::new(body);
    let tid = c.i64()?;
    let mut out = Vec::new();
    while c.left() >= 4 {
        if version == 2 {
            let start = c.pos;
            let entry_len = c.u32()? as usize;
            if entry_len < 4 || start + entry_len > c.end {
                return Err(format!("fd entry length {entry_len} exceeds the block"));
            }
            let mut sub = Cursor::sub(body, c.pos, start + entry_len);
            out.push(fd_entry(&mut sub)?);
            c.pos = start + entry_len;
        } else {
            out.push(fd_entry(&mut c)?);
        }
    }
    Ok((tid, out))
}

fn fd_entry(c: &mut Cursor) -> Res<FdEntry> {
    let mut e = FdEntry { fd: c.i64()?, ino: c.u64()?, ftype: c.u8()?, ..Default::default() };
    match e.ftype {
        3 | 4 => {
            let n = if e.ftype == 3 { 4 } else { 16 };
            e.sip = Some(Ip::from_bytes(c.take(n)?));
            e.dip = Some(Ip::from_bytes(c.take(n)?));
            e.sport = Some(c.u16()?);
            e.dport = Some(c.u16()?);
            e.l4proto = c.u8()?;
        }
        5 | 6 => {
            e.sip = Some(Ip::from_bytes(c.take(if e.ftype == 5 { 4 } else { 16 })?));
            e.sport = Some(c.u16()?);
            e.l4proto = c.u8()?;
        }
        8 => {
            e.src_endpoint = c.u64()?;
            e.dst_endpoint = c.u64()?;
            e.name = c.raw16()?.to_vec();
        }
        16 => {
            e.flags = c.u32()?;
            e.name = c.raw16()?.to_vec();
        }
        0 => {}
        _ => e.name = c.raw16()?.to_vec(),
    }
    Ok(e)
}

pub fn parse_interface_list(body: &[u8], version: u8, out: &mut Vec<InterfaceEntry>) -> Res<()> {
    let mut c = Cursor::new(body);
    while c.left() >= 4 {
        let mut sub = if version == 2 {
            let entry_len = c.u32()? as usize;
            let sub = Cursor::sub(body, c.pos, (c.pos + entry_len).min(c.end));
            c.pos = sub.end;
            sub
        } else {
            Cursor::sub(body, c.pos, c.end)
        };
        let itype = sub.u16()?;
        let nlen = sub.u16()? as usize;
        let (addr, netmask) = match itype {
            1 | 3 => {
                let a = Ip::from_bytes(sub.take(4)?);
                let m = Ip::from_bytes(sub.take(4)?);
                sub.take(4)?;
                (a, m)
            }
            2 | 4 => {
                let a = Ip::from_bytes(sub.take(16)?);
                let m = Ip::from_bytes(sub.take(16)?);
                sub.take(16)?;
                (a, m)
            }
            _ => return Err(format!("unknown interface type {itype}")),
        };
        if itype == 1 || itype == 2 {
            sub.u64()?;
        }
        let name = sub.take(nlen)?.to_vec();
        if version != 2 {
            c.pos = sub.pos;
        }
        out.push(InterfaceEntry { name, family: itype, addr, netmask });
    }
    Ok(())
}

pub fn parse_user_list(
    body: &[u8],
    version: u8,
    users: &mut Vec<UserEntry>,
    groups: &mut Vec<(u32, Vec<u8>)>,
) -> Res<()> {
    let mut c = Cursor::new(body);
    while c.left() >= 4 {
        let mut sub = if version == 2 {
            let start = c.pos;
            let entry_len = c.u32()? as usize;
            let sub = Cursor::sub(body, c.pos, (start + entry_len).min(c.end));
            c.pos = sub.end.max(c.pos);
            sub
        } else {
            Cursor::sub(body, c.pos, c.end)
        };
        let kind = sub.u8()?;
        if kind == 0 {
            let uid = sub.u32()?;
            let gid = sub.u32()?;
            let name = sub.raw16()?.to_vec();
            let home = sub.raw16()?.to_vec();
            let shell = sub.raw16()?.to_vec();
            users.push(UserEntry { uid, gid, name, home, shell });
        } else {
            let gid = sub.u32()?;
            groups.push((gid, sub.raw16()?.to_vec()));
        }
        if version != 2 {
            c.pos = sub.pos;
        }
    }
    Ok(())
}
