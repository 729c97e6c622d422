//! The bytes of a capture: a plain file or a gzip stream (one or several members), read through a sliding
//! window so blocks are sliced without copying the file, in memory bounded by the largest block.
//!
//! A damaged gzip stream yields every byte decompressed before the damage; the error then names the
//! compressed offset where inflation stopped.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

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

pub enum Stream {
    Plain(File),
    Gzip(Box<MultiGzDecoder<Counted<File>>>),
    Memory(io::Cursor<Vec<u8>>),
    GzipMemory(Box<MultiGzDecoder<Counted<io::Cursor<Vec<u8>>>>>),
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
            Stream::Gzip(g) => Some(g.get_ref().consumed),
            Stream::GzipMemory(g) => Some(g.get_ref().consumed),
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
        Magic::Gzip => Stream::Gzip(Box::new(MultiGzDecoder::new(Counted {
            inner: BufReader::with_capacity(1 << 16, f),
            consumed: 0,
        }))),
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
    Stream::GzipMemory(Box::new(MultiGzDecoder::new(Counted {
        inner: BufReader::new(io::Cursor::new(data)),
        consumed: 0,
    })))
}
