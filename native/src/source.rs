//! The bytes of a capture: a plain file or a gzip stream (one or several members), read through a sliding
//! window so blocks are sliced without copying the file, in memory bounded by the largest block.
//!
//! A damaged gzip stream yields every byte decompressed before the damage; the error then names the
//! compressed offset where inflation stopped. Zero bytes after the last member are padding (as gzip(1) reads them); anything else
//! after a member is damage at the offset where it starts.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use flate2::{Crc, Decompress, FlushDecompress, Status};

const CHUNK: usize = 4 << 20;

/// A BufRead that counts the bytes its consumer took (the exact compressed offset inflation reached).
pub struct Counted<R> {
    inner: BufReader<R>,
    pub consumed: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

impl<R: Read> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.consumed += amt as u64;
        self.inner.consume(amt)
    }
}

/// The members of a gzip stream one after another (what `MultiGzDecoder` does), inflated with the low-level
/// `Decompress` so that an inflate error keeps the bytes its call produced, with gzip(1)'s reading of what
/// follows a member: more members, zero padding up to the end, or damage.
pub struct GzMembers<R: Read> {
    r: Counted<R>,
    part: Part,
    inflate: Decompress,
    crc: Crc,
    /// an error met after some output was returned: the next read returns it
    pending: Option<io::Error>,
    /// the compressed offset of the byte inflate failed on
    failed_at: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Header,
    Body,
    Between,
    End,
}

fn damaged(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl<R: Read> GzMembers<R> {
    fn new(inner: R) -> Self {
        GzMembers {
            r: Counted { inner: BufReader::with_capacity(1 << 16, inner), consumed: 0 },
            part: Part::Header,
            inflate: Decompress::new(false),
            crc: Crc::new(),
            pending: None,
            failed_at: None,
        }
    }

    fn consumed(&self) -> u64 {
        self.failed_at.unwrap_or(self.r.consumed)
    }

    fn exact(&mut self, n: usize, what: &str) -> io::Result<Vec<u8>> {
        let mut out = vec![0; n];
        self.r.read_exact(&mut out).map_err(|_| damaged(format!("truncated gzip {what}")))?;
        Ok(out)
    }

    fn skip_zero_terminated(&mut self) -> io::Result<()> {
        loop {
            if self.exact(1, "header")?[0] == 0 {
                return Ok(());
            }
        }
    }

    /// RFC 1952's member header: magic, method 8, flags and their optional fields.
    fn header(&mut self) -> io::Result<()> {
        let h = self.exact(10, "header")?;
        if h[0] != 0x1f || h[1] != 0x8b || h[2] != 8 {
            return Err(damaged("invalid gzip header".into()));
        }
        let flags = h[3];
        if flags & 4 != 0 {
            let x = self.exact(2, "header")?;
            self.exact(usize::from(u16::from_le_bytes([x[0], x[1]])), "header")?;
        }
        if flags & 8 != 0 {
            self.skip_zero_terminated()?;
        }
        if flags & 16 != 0 {
            self.skip_zero_terminated()?;
        }
        if flags & 2 != 0 {
            self.exact(2, "header")?;
        }
        self.inflate.reset(false);
        self.crc.reset();
        self.part = Part::Body;
        Ok(())
    }

    /// Inflate into `out`; the trailer is checked when the member's deflate stream ends.
    fn body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                return Err(damaged("truncated gzip stream (it ends inside a member)".into()));
            }
            let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
            let res = self.inflate.decompress(buf, out, FlushDecompress::None);
            let used = (self.inflate.total_in() - in0) as usize;
            let made = (self.inflate.total_out() - out0) as usize;
            self.r.consume(used);
            self.crc.update(&out[..made]);
            match res {
                Ok(Status::StreamEnd) => {
                    if let Err(e) = self.trailer() {
                        return self.fail(e, made);
                    }
                    return Ok(made);
                }
                Ok(_) if made > 0 => return Ok(made),
                Ok(_) if used == 0 => return Err(damaged("corrupt gzip stream (inflate makes no progress)".into())),
                Ok(_) => {}
                Err(e) => {
                    // the byte that failed is the last one inflate took
                    self.failed_at = Some(self.r.consumed.saturating_sub(1));
                    return self.fail(damaged(format!("corrupt compressed data ({e})")), made);
                }
            }
        }
    }

    /// The error, after the `made` bytes this call produced (returned first; the error with the next read).
    fn fail(&mut self, err: io::Error, made: usize) -> io::Result<usize> {
        if made == 0 {
            return Err(err);
        }
        self.pending = Some(err);
        Ok(made)
    }

    fn trailer(&mut self) -> io::Result<()> {
        let t = self.exact(8, "trailer")?;
        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        if crc != self.crc.sum() || size != self.crc.amount() {
            return Err(damaged("gzip checksum mismatch (CRC-32 or length of a member)".into()));
        }
        self.part = Part::Between;
        Ok(())
    }

    /// After a member: the next one, or zero padding to the end; anything else is damage.
    fn between(&mut self) -> io::Result<()> {
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                self.part = Part::End;
                return Ok(());
            }
            if buf[0] == 0x1f {
                self.part = Part::Header;
                return Ok(());
            }
            let zeros = buf.iter().take_while(|&&b| b == 0).count();
            if zeros == 0 {
                return Err(damaged("bytes that are not gzip after a member".into()));
            }
            self.r.consume(zeros);
        }
    }
}

impl<R: Read> Read for GzMembers<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.part {
                Part::Header => self.header()?,
                Part::Body => match self.body(out)? {
                    0 => {}
                    n => return Ok(n),
                },
                Part::Between => self.between()?,
                Part::End => return Ok(0),
            }
        }
    }
}

pub enum Stream {
    Plain(File),
    Gzip(Box<GzMembers<File>>),
    Memory(io::Cursor<Vec<u8>>),
    GzipMemory(Box<GzMembers<io::Cursor<Vec<u8>>>>),
}

impl Stream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(f) => f.read(out),
            Stream::Gzip(g) => g.read(out),
            Stream::Memory(c) => c.read(out),
            Stream::GzipMemory(g) => g.read(out),
        }
    }

    /// The compressed offset reached (gzip only).
    pub fn compressed_offset(&self) -> Option<u64> {
        match self {
            Stream::Gzip(g) => Some(g.consumed()),
            Stream::GzipMemory(g) => Some(g.consumed()),
            _ => None,
        }
    }
}

/// What a file starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    Scap,
    Gzip,
}

/// Sniffs the first bytes; an error message says what the file is instead.
pub fn sniff(head: &[u8]) -> Result<Magic, String> {
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Magic::Gzip);
    }
    if head.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        return Ok(Magic::Scap);
    }
    if head.is_empty() {
        return Err("the file is empty, not a .scap capture".into());
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err("the file is Zstandard-compressed; decompress it with `zstd -d` first".into());
    }
    let shown: Vec<String> = head.iter().take(4).map(|b| format!("{b:02x}")).collect();
    Err(format!(
        "not a .scap capture: it starts with bytes {}, a capture starts with 0a 0d 0d 0a (or 1f 8b when \
         gzip-compressed)",
        shown.join(" ")
    ))
}

pub fn open_file(path: &str) -> Result<Stream, String> {
    let mut f = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file (a capture is a regular .scap or .scap.gz file)".into());
    }
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(format!("cannot read: {e}")),
        }
    }
    let magic = sniff(&head[..got])?;
    drop(f);
    let f = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    Ok(match magic {
        Magic::Scap => Stream::Plain(f),
        Magic::Gzip => Stream::Gzip(Box::new(GzMembers::new(f))),
    })
}

/// A sliding window over a stream: `ensure(offset, n)` makes bytes [offset, offset+n) addressable.
///
/// The buffer is zero-filled once when it grows; reads fill it in place (no per-read initialisation).
pub struct Window {
    stream: Stream,
    buf: Vec<u8>,
    /// bytes of `buf` holding stream data
    filled: usize,
    /// stream offset of buf[0]
    pub base: u64,
    pub eof: bool,
    /// the read error that ended the stream early (damaged gzip), if any
    pub error: Option<String>,
}

impl Window {
    pub fn new(stream: Stream) -> Window {
        Window { stream, buf: vec![0; CHUNK], filled: 0, base: 0, eof: false, error: None }
    }

    /// True when [offset, offset+n) is available; false when the stream ends first.
    pub fn ensure(&mut self, offset: u64, n: usize) -> bool {
        debug_assert!(offset >= self.base, "the window only moves forward");
        let rel = offset.saturating_sub(self.base) as usize;
        if rel + n <= self.filled {
            return true;
        }
        if self.eof {
            return false;
        }
        // move what lies at and after `offset` to the front, then read at least what is missing
        let keep = rel.min(self.filled);
        self.buf.copy_within(keep..self.filled, 0);
        self.filled -= keep;
        self.base += keep as u64;
        let want = n.max(CHUNK);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.filled < want {
            match self.stream.read(&mut self.buf[self.filled..want]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(k) => self.filled += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    self.error = Some(e.to_string());
                    break;
                }
            }
        }
        (offset - self.base) as usize + n <= self.filled
    }

    pub fn slice(&self, offset: u64, n: usize) -> &[u8] {
        let rel = (offset - self.base) as usize;
        &self.buf[rel..rel + n]
    }

    pub fn compressed_offset(&self) -> Option<u64> {
        self.stream.compressed_offset()
    }
}

pub fn memory(data: Vec<u8>) -> Stream {
    Stream::Memory(io::Cursor::new(data))
}

pub fn gzip_memory(data: Vec<u8>) -> Stream {
    Stream::GzipMemory(Box::new(GzMembers::new(io::Cursor::new(data))))
}
