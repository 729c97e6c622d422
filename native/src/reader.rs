//! Streaming reader of .scap files (plain or gzip), every block type and version.
//!
//! `Reader::next()` returns, in file order, a `Section` each time a section's metadata is complete (before
//! its events) and raw events one at a time (borrowing the reader's window: process one before asking for
//! the next). On a damaged file every event before the damage is returned, then a `Damage` naming the byte
//! offset (in the uncompressed stream; the compressed one too for gzip) and the block.

use crate::blocks::{self as b, Kind};
use crate::events::{event_info, INFRASTRUCTURE_EVENT_E, NOTIFICATION_E};
use crate::source::{Stream, Window};

/// Blocks larger than this are refused as damage (a hostile length must not make us allocate gigabytes).
pub const MAX_BLOCK: usize = 1 << 30;

#[derive(Clone, Debug, Default)]
pub struct Section {
    pub offset: u64,
    pub version: (u16, u16),
    pub machine: Option<b::MachineInfo>,
    pub threads: Vec<b::ThreadEntry>,
    /// fd lists in file order: (tid, entries)
    pub fds: Vec<(i64, Vec<b::FdEntry>)>,
    pub users: Vec<b::UserEntry>,
    pub groups: Vec<(u32, Vec<u8>)>,
    pub interfaces: Vec<b::InterfaceEntry>,
}

/// One event as the file stores it; parameters are slices of `data` at `spans`.
#[derive(Clone, Copy)]
pub struct RawEvent<'a> {
    pub offset: u64,
    pub cpu: u16,
    pub flags: u32,
    pub ts: u64,
    pub tid: i64,
    pub etype: u16,
    pub data: &'a [u8],
    pub spans: &'a [(u32, u32)],
}

impl<'a> RawEvent<'a> {
    pub fn nparams(&self) -> usize {
        self.spans.len()
    }

    pub fn param(&self, i: usize) -> Option<&'a [u8]> {
        self.spans.get(i).map(|&(q, n)| &self.data[q as usize..(q + n) as usize])
    }
}

#[derive(Clone, Debug)]
pub struct Damage {
    pub message: String,
    pub offset: u64,
    pub block: Option<String>,
    pub compressed_offset: Option<u64>,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {}", self.message, self.offset)?;
        if let Some(c) = self.compressed_offset {
            write!(f, " of the decompressed stream, compressed byte {c}")?;
        }
        if let Some(block) = &self.block {
            write!(f, ", {block} block")?;
        }
        write!(f, ")")
    }
}

pub enum Item<'a> {
    Section(Box<Section>),
    Event(RawEvent<'a>),
}

pub struct Reader {
    win: Window,
    pos: u64,
    /// the section being read (until its first event block hands it out)
    section: Option<Section>,
    /// the version of the last section header seen (None before any)
    version: Option<(u16, u16)>,
    in_events: bool,
    done: bool,
    spans: Vec<(u32, u32)>,
    /// frame and check event blocks without decoding their parameters
    pub skip_events: bool,
}

fn damage(message: impl Into<String>, offset: u64, btype: Option<u32>) -> Damage {
    Damage { message: message.into(), offset, block: btype.map(b::block_name), compressed_offset: None }
}

/// What one event block holds (before its parameters are sliced).
struct Frame {
    p: usize,
    has_flags: bool,
}

impl Reader {
    pub fn new(stream: Stream) -> Reader {
        Reader {
            win: Window::new(stream),
            pos: 0,
            section: None,
            version: None,
            in_events: false,
            done: false,
            spans: Vec::with_capacity(32),
            skip_events: false,
        }
    }

    /// Bytes of the (decompressed) stream consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Bytes of the compressed file consumed so far (gzip only).
    pub fn compressed_position(&self) -> Option<u64> {
        self.win.compressed_offset()
    }

    fn fail<'s>(&mut self, mut d: Damage) -> Option<Result<Item<'s>, Damage>> {
        self.done = true;
        d.compressed_offset = self.win.compressed_offset();
        if let Some(err) = &self.win.error {
            d.message = format!("{} (the compressed stream is damaged: {err})", d.message);
        }
        Some(Err(d))
    }

    /// The next section or event; None at the end of the file.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Item<'_>, Damage>> {
        if self.done {
            return None;
        }
        loop {
            let pos = self.pos;
            if !self.win.ensure(pos, 8) {
                if self.win.ensure(pos, 1) {
                    let msg = "file ends inside a block header (truncated capture); every event before it was read";
                    return self.fail(damage(msg, pos, None));
                }
                return self.finish();
            }
            let hdr = self.win.slice(pos, 8);
            let btype = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            let blen = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]) as usize;
            if blen < 12 || !blen.is_multiple_of(4) {
                return self.fail(damage(format!("invalid block length {blen}"), pos, Some(btype)));
            }
            if blen > MAX_BLOCK {
                let msg = format!("block length {blen} exceeds the {MAX_BLOCK}-byte limit (corrupt capture)");
                return self.fail(damage(msg, pos, Some(btype)));
            }
            if !self.win.ensure(pos, blen) {
                let msg = format!(
                    "file ends inside a block of {blen} bytes (truncated capture); every event before this block \
                     was read"
                );
                return self.fail(damage(msg, pos, Some(btype)));
            }
            let block = self.win.slice(pos, blen);
            let trailer = u32::from_le_bytes(block[blen - 4..].try_into().expect("4 bytes"));
            if trailer as usize != blen {
                let msg = "block trailer does not repeat the block length (corrupt capture)";
                return self.fail(damage(msg, pos, Some(btype)));
            }
            match b::kind(btype) {
                Kind::Event(version, has_flags, large) => {
                    if !self.in_events {
                        if self.version.is_none() {
                            return self.fail(damage("event block before any section header", pos, Some(btype)));
                        }
                        // hand out the section first; this block is read again on the next call
                        self.in_events = true;
                        let s = self.section.take().unwrap_or_default();
                        return Some(Ok(Item::Section(Box::new(s))));
                    }
                    self.pos += blen as u64;
                    if self.skip_events {
                        continue;
                    }
                    let frame = match frame_event(&mut self.spans, self.win.slice(pos, blen), version, has_flags, large)
                    {
                        Ok(f) => f,
                        Err(e) => return self.fail(damage(format!("corrupt event: {e}"), pos, Some(btype))),
                    };
                    let blk = self.win.slice(pos, blen);
                    return Some(Ok(Item::Event(event_view(blk, pos, &frame, &self.spans))));
                }
                k => {
                    self.pos += blen as u64;
                    if let Err(d) = self.metadata_block(pos, btype, k, blen) {
                        return self.fail(d);
                    }
                }
            }
        }
    }

    fn finish<'s>(&mut self) -> Option<Result<Item<'s>, Damage>> {
        if self.win.error.is_some() {
            let pos = self.pos;
            return self.fail(damage("the compressed stream is damaged; every event before it was read", pos, None));
        }
        self.done = true;
        if !self.in_events {
            if let Some(s) = self.section.take() {
                return Some(Ok(Item::Section(Box::new(s))));
            }
        }
        None
    }

    fn metadata_block(&mut self, pos: u64, btype: u32, k: Kind, blen: usize) -> Result<(), Damage> {
        if k == Kind::Section || self.in_events || self.section.is_none() {
            self.in_events = false;
            if k == Kind::Section {
                let body = &self.win.slice(pos, blen)[8..blen - 4];
                let version = section_header(body).map_err(|m| damage(m, pos, Some(btype)))?;
                self.version = Some(version);
                self.section = Some(Section { offset: pos, version, ..Default::default() });
                return Ok(());
            }
            let Some(version) = self.version else {
                return Err(damage("the file does not start with a section header block", pos, Some(btype)));
            };
            // a concatenated capture without a section header
            self.section = Some(Section { offset: pos, version, ..Default::default() });
        }
        let body = &self.win.slice(pos, blen)[8..blen - 4];
        let s = self.section.as_mut().expect("section set above");
        let r = match k {
            Kind::Machine => b::parse_machine_info(body).map(|m| s.machine = Some(m)),
            Kind::Procs(v) => b::parse_process_list(body, v, &mut s.threads),
            Kind::Fds(v) => b::parse_fd_list(body, v).map(|(tid, fds)| s.fds.push((tid, fds))),
            Kind::Users(v) => b::parse_user_list(body, v, &mut s.users, &mut s.groups),
            Kind::Interfaces(v) => b::parse_interface_list(body, v, &mut s.interfaces),
            _ => Ok(()), // unknown metadata blocks are skipped by length, as libscap does
        };
        r.map_err(|e| damage(format!("corrupt metadata: {e}"), pos, Some(btype)))
    }
}

fn section_header(body: &[u8]) -> Result<(u16, u16), String> {
    if body.len() < 16 {
        return Err("section header block too short".into());
    }
    let magic = u32::from_le_bytes(body[0..4].try_into().expect("4 bytes"));
    let major = u16::from_le_bytes([body[4], body[5]]);
    let minor = u16::from_le_bytes([body[6], body[7]]);
    if magic == 0x4D3C_2B1A {
        return Err("big-endian capture: byte-swapped files are not supported".into());
    }
    if magic != b::BYTE_ORDER_MAGIC {
        return Err(format!("bad byte-order magic 0x{magic:08X}"));
    }
    if major != 1 {
        return Err(format!(
            "unsupported capture format version {major}.{minor}: sysnb reads version 1.x; a newer sysnb may read it"
        ));
    }
    Ok((major, minor))
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Checks an event block's framing and records where its parameters are (`spans`, relative to the block).
fn frame_event(
    spans: &mut Vec<(u32, u32)>,
    blk: &[u8],
    version: u8,
    has_flags: bool,
    large: bool,
) -> Result<Frame, String> {
    let end = blk.len() - 4;
    let p = 10 + if has_flags { 4 } else { 0 };
    if end < p {
        return Err("event header does not fit in the block".into());
    }
    let room = end - p;
    let hdr = if version == 2 { 26 } else { 22 };
    if room < hdr {
        return Err("event header does not fit in the block".into());
    }
    let mut elen = le32(blk, p + 16) as usize;
    let etype = u16::from_le_bytes([blk[p + 20], blk[p + 21]]);
    if elen < hdr || elen > room {
        return Err(format!("event length {elen} does not fit in the block ({room} bytes)"));
    }
    let nparams = if version == 2 {
        le32(blk, p + 22) as usize
    } else {
        let (n, l) = v1_nparams(&blk[p..p + elen], etype, elen)?;
        elen = l;
        n
    };
    if nparams > 65535 {
        return Err(format!("type {etype}: {nparams} parameters"));
    }
    let width = if large { 4 } else { 2 };
    let lens_at = p + hdr;
    let values_at = lens_at + width * nparams;
    if values_at > p + elen {
        return Err(format!("type {etype}: {nparams} parameter lengths add up to more than the event length {elen}"));
    }
    spans.clear();
    let mut q = values_at;
    for i in 0..nparams {
        let o = lens_at + width * i;
        let n = if large { le32(blk, o) as usize } else { u16::from_le_bytes([blk[o], blk[o + 1]]) as usize };
        spans.push((q as u32, n as u32));
        q += n;
        if q > p + elen {
            break;
        }
    }
    let total = q - p;
    if total != elen || spans.len() != nparams {
        // recompute the sum the way the message states it (all lengths), without overflow
        let mut sum = values_at - p;
        for i in 0..nparams {
            let o = lens_at + width * i;
            sum += if large { le32(blk, o) as usize } else { u16::from_le_bytes([blk[o], blk[o + 1]]) as usize };
        }
        return Err(format!("type {etype}: {nparams} parameter lengths add up to {sum}, the header says {elen}"));
    }
    Ok(Frame { p, has_flags })
}

fn event_view<'a>(blk: &'a [u8], pos: u64, f: &Frame, spans: &'a [(u32, u32)]) -> RawEvent<'a> {
    let p = f.p;
    let flags = if f.has_flags { le32(blk, 10) } else { 0 };
    RawEvent {
        offset: pos,
        cpu: u16::from_le_bytes([blk[8], blk[9]]),
        flags,
        ts: u64::from_le_bytes(blk[p..p + 8].try_into().expect("8 bytes")),
        tid: i64::from_le_bytes(blk[p + 8..p + 16].try_into().expect("8 bytes")),
        etype: u16::from_le_bytes([blk[p + 20], blk[p + 21]]),
        data: blk,
        spans,
    }
}

/// nparams of a v1 event, reconstructed as libscap does: the largest n whose lengths add up to the length.
fn v1_nparams(ev: &[u8], etype: u16, elen: usize) -> Result<(usize, usize), String> {
    let Some(info) = event_info(etype) else {
        return Err(format!("unknown event type {etype} in a v1 block cannot be split into parameters"));
    };
    let mut elen = elen;
    if etype == NOTIFICATION_E || etype == INFRASTRUCTURE_EVENT_E {
        elen = elen.saturating_sub(3);
    }
    for n in (0..=info.params.len()).rev() {
        if 22 + 2 * n > elen {
            continue;
        }
        let sum: usize = (0..n).map(|i| u16::from_le_bytes([ev[22 + 2 * i], ev[23 + 2 * i]]) as usize).sum();
        if 22 + 2 * n + sum == elen {
            return Ok((n, elen));
        }
    }
    Err(format!("type {etype}: no parameter count matches the event length {elen}"))
}
