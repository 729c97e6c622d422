//! A capture replayed batch by batch: reader -> state engine -> Arrow record batches, in memory bounded by
//! one batch (and the state: threads and fds alive in the capture).

use arrow_array::RecordBatch;

use crate::columns::Want;
use crate::reader::{Damage, Item, Reader, Section};
use crate::source::Stream;
use crate::state::engine::Engine;

/// What the capture said about itself, for provenance.
#[derive(Clone, Debug, Default)]
pub struct SectionInfo {
    pub offset: u64,
    pub version: (u16, u16),
    pub hostname: Option<Vec<u8>>,
    pub num_cpus: Option<u32>,
    pub boot_ts: Option<u64>,
}

pub struct Scan {
    reader: Reader,
    pub engine: Engine,
    pub batch_size: usize,
    pub want: Want,
    pub sections: Vec<SectionInfo>,
    pub damage: Option<Damage>,
    pub events: u64,
    done: bool,
}

impl Scan {
    pub fn new(stream: Stream, batch_size: usize, want: Want) -> Scan {
        Scan {
            reader: Reader::new(stream),
            engine: Engine::new(),
            batch_size: batch_size.max(1),
            want,
            sections: Vec::new(),
            damage: None,
            events: 0,
            done: false,
        }
    }

    /// Bytes of the (decompressed) capture read so far, and of the compressed file for gzip.
    pub fn position(&self) -> (u64, Option<u64>) {
        (self.reader.position(), self.reader.compressed_position())
    }

    fn section(&mut self, s: &Section) {
        self.engine.load_section(s);
        self.sections.push(SectionInfo {
            offset: s.offset,
            version: s.version,
            hostname: s.machine.as_ref().map(|m| m.hostname.clone()),
            num_cpus: s.machine.as_ref().map(|m| m.num_cpus),
            boot_ts: s.machine.as_ref().map(|m| m.boot_ts),
        });
    }

    /// The next batch of rows; None when the capture is exhausted (check `damage` then).
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, arrow_schema::ArrowError>> {
        if self.done {
            return None;
        }
        let mut out = self.engine.new_batch(self.batch_size, self.want);
        while out.len() < self.batch_size {
            match self.reader.next() {
                None => {
                    self.done = true;
                    break;
                }
                Some(Err(d)) => {
                    self.damage = Some(d);
                    self.done = true;
                    break;
                }
                Some(Ok(Item::Section(s))) => {
                    // a batch may span sections: the rows already built keep the old state's values
                    self.section(&s);
                    self.engine.invalidate_threads();
                }
                Some(Ok(Item::Event(ev))) => self.engine.process(&ev, &mut out),
            }
        }
        if out.is_empty() {
            return None;
        }
        self.engine.sizes = out.sizes(self.engine.sizes);
        let batch = out.finish();
        self.events += batch.as_ref().map_or(0, |b| b.num_rows() as u64);
        Some(batch)
    }
}
