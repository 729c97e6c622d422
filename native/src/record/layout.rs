//! Views of the recorder's records (`bpf/record.h`; the numpy mirror is `sysnb/record/layout.py`).
//!
//! A drained batch arrives as raw rows: small records are the 120-byte base, mid records the base plus
//! payload lengths and a payload cut to the batch's width, big records everything (socket, cgroups, a second
//! payload). Every read is bounds-checked against the row: a short or hostile row reads as zeros.

pub const BASE_SIZE: usize = 120;
pub const MID_FIXED: usize = 128;
pub const BIG_FIXED: usize = 744;
pub const DATA_MAX: usize = 1024;
pub const DATA2_MAX: usize = 256;
pub const CG_LEVELS: usize = 4;
pub const CG_NAME: usize = 80;

const CGROUP_AT: usize = 168;
const DATA2_AT: usize = 488;

/// Which record struct a row is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Small,
    Mid,
    Big,
}

impl Kind {
    /// Bytes of one row whose payload field is `width` bytes.
    pub fn row_size(self, width: usize) -> usize {
        match self {
            Kind::Small => BASE_SIZE,
            Kind::Mid => MID_FIXED + width,
            Kind::Big => BIG_FIXED + width,
        }
    }
}

/// One record row.
#[derive(Clone, Copy)]
pub struct Rec<'a> {
    pub row: &'a [u8],
    pub kind: Kind,
    /// bytes of the payload field in this batch's rows
    pub width: usize,
}

fn bytes_at<const N: usize>(row: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = row.get(at..at + N) {
        out.copy_from_slice(s);
    }
    out
}

impl<'a> Rec<'a> {
    pub fn u64_at(&self, at: usize) -> u64 {
        u64::from_le_bytes(bytes_at(self.row, at))
    }
    pub fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(bytes_at(self.row, at))
    }
    pub fn u16_at(&self, at: usize) -> u16 {
        u16::from_le_bytes(bytes_at(self.row, at))
    }
    fn slice(&self, at: usize, len: usize) -> &'a [u8] {
        let end = (at + len).min(self.row.len());
        self.row.get(at.min(end)..end).unwrap_or(&[])
    }

    pub fn ts(&self) -> u64 {
        self.u64_at(0)
    }
    pub fn enter_ts(&self) -> u64 {
        self.u64_at(8)
    }
    pub fn ret(&self) -> i64 {
        self.u64_at(16) as i64
    }
    pub fn arg(&self, i: usize) -> u64 {
        self.u64_at(24 + 8 * i)
    }
    /// An `int` argument: the low 32 bits of the register, sign-extended.
    pub fn int_arg(&self, i: usize) -> i64 {
        self.arg(i) as u32 as i32 as i64
    }
    pub fn tid(&self) -> u32 {
        self.u32_at(72)
    }
    pub fn pid(&self) -> u32 {
        self.u32_at(76)
    }
    pub fn ppid(&self) -> u32 {
        self.u32_at(80)
    }
    pub fn uid(&self) -> u32 {
        self.u32_at(84)
    }
    pub fn gid(&self) -> u32 {
        self.u32_at(88)
    }
    pub fn nr(&self) -> u16 {
        self.u16_at(92)
    }
    /// The command name, up to its first NUL.
    pub fn comm(&self) -> &'a [u8] {
        let c = self.slice(96, 16);
        &c[..c.iter().position(|&b| b == 0).unwrap_or(c.len())]
    }
    pub fn cpu(&self) -> u32 {
        self.u32_at(116)
    }

    pub fn has_payloads(&self) -> bool {
        self.kind != Kind::Small
    }
    /// The first payload (capped at the batch's width); empty for small records.
    pub fn data(&self) -> &'a [u8] {
        let at = match self.kind {
            Kind::Small => return &[],
            Kind::Mid => MID_FIXED,
            Kind::Big => BIG_FIXED,
        };
        self.slice(at, (self.u16_at(120) as usize).min(self.width))
    }
    /// The second payload (big records only).
    pub fn data2(&self) -> &'a [u8] {
        if self.kind != Kind::Big {
            return &[];
        }
        self.slice(DATA2_AT, (self.u16_at(122) as usize).min(DATA2_MAX))
    }
    pub fn data2_len(&self) -> u16 {
        if self.kind == Kind::Big {
            self.u16_at(122)
        } else {
            0
        }
    }
    /// The raw second-payload field (for values read at fixed places in it), zeros past the row.
    pub fn data2_field<const N: usize>(&self, at: usize) -> [u8; N] {
        if self.kind != Kind::Big || at + N > DATA2_MAX {
            return [0u8; N];
        }
        bytes_at(self.row, DATA2_AT + at)
    }
    pub fn data_total(&self) -> u32 {
        if self.kind == Kind::Small {
            0
        } else {
            self.u32_at(124)
        }
    }
    fn big_u8(&self, at: usize) -> u8 {
        if self.kind == Kind::Big {
            self.row.get(at).copied().unwrap_or(0)
        } else {
            0
        }
    }
    pub fn family(&self) -> u8 {
        self.big_u8(128)
    }
    pub fn sock_type(&self) -> u8 {
        self.big_u8(129)
    }
    pub fn sport(&self) -> u16 {
        if self.kind == Kind::Big {
            self.u16_at(132)
        } else {
            0
        }
    }
    pub fn dport(&self) -> u16 {
        if self.kind == Kind::Big {
            self.u16_at(134)
        } else {
            0
        }
    }
    pub fn saddr(&self, n: usize) -> &'a [u8] {
        if self.kind == Kind::Big {
            self.slice(136, n.min(16))
        } else {
            &[]
        }
    }
    pub fn daddr(&self, n: usize) -> &'a [u8] {
        if self.kind == Kind::Big {
            self.slice(152, n.min(16))
        } else {
            &[]
        }
    }
    /// The cgroup names the recorder read, leaf first, trailing NULs stripped (as numpy reads `S80`).
    pub fn cgroup_names(&self) -> [&'a [u8]; CG_LEVELS] {
        let mut out: [&'a [u8]; CG_LEVELS] = [&[]; CG_LEVELS];
        if self.kind != Kind::Big {
            return out;
        }
        for (i, name) in out.iter_mut().enumerate() {
            let raw = self.slice(CGROUP_AT + i * CG_NAME, CG_NAME);
            let end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            *name = &raw[..end];
        }
        out
    }
}

/// The rows of a batch of `kind` records (a trailing partial row is ignored).
pub fn rows(data: &[u8], kind: Kind, width: usize) -> impl Iterator<Item = Rec<'_>> {
    let size = kind.row_size(width);
    data.chunks_exact(size).map(move |row| Rec { row, kind, width })
}
