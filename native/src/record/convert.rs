//! Recorder records -> the event batch the state engine and the .scap writer take (the native twin of
//! `sysnb/record/convert.py`, which stays as the reference a differential test compares this one with).
//!
//! Each syscall record becomes an enter and an exit event of the syscall's dedicated 2022 event type with
//! the parameters its spec names, or a generic `syscall` pair when sysnb has no spec; process exits become
//! `procexit`. A new child returning from clone/fork has no enter event. Events are ordered by time, ties
//! by record order (enter before exit).

use std::sync::Arc;

use arrow_array::types::{Int64Type, UInt16Type, UInt32Type, UInt64Type};
use arrow_array::{ArrayRef, BinaryArray, ListArray, PrimitiveArray, RecordBatch};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema};

use super::layout::{rows, Kind, Rec};
use super::specs::{proc_field, proc_syscall, spec, Src};
use super::values::{value, Value};
use crate::events::{event_info, Pt, GENERIC_E, GENERIC_X};

pub const PROCEXIT_E: u16 = 186;
pub const PROCEXIT_NR: u16 = 0xFFFF;
const MAX_NR: usize = 1024;

/// One parameter of an event type: its source and the width a number is encoded to (0: bytes).
#[derive(Clone, Copy)]
struct Slot {
    src: Option<Src>,
    width: u8,
}

/// How the records of one syscall number become events.
#[derive(Clone)]
enum Plan {
    Generic { ppm_sc: u16 },
    Events { enter: u16, exit: u16, enter_slots: Vec<Slot>, exit_slots: Vec<Slot>, proc: Option<bool> },
}

/// One row of the syscall table: (number, name, enter type, exit type, PPM_SC code).
pub type SyscallRow = (u16, String, Option<u16>, Option<u16>, Option<u16>);

/// The syscall table (x86-64 number -> name, enter and exit event types, PPM_SC code) resolved into plans.
pub struct Converter {
    plans: Vec<Plan>,
}

/// Bytes of a number parameter of type `pt`; 0 for byte parameters.
fn width(pt: Pt) -> u8 {
    use Pt::*;
    match pt {
        Int8 | Uint8 | Flags8 | Sigtype | Enumflags8 | L4proto | Sockfamily => 1,
        Int16 | Uint16 | Flags16 | Port | Syscallid | Enumflags16 => 2,
        Int32 | Uint32 | Flags32 | Mode | Uid | Gid | Bool | Sigset | Fd32 | Pid32 | Enumflags32 | Ipv4addr => 4,
        Int64 | Uint64 | Errno | Fd | Pid | Reltime | Abstime => 8,
        _ => 0,
    }
}

fn slots(etype: u16, spec: &[(&str, Src)], proc: bool) -> Vec<Slot> {
    let Some(info) = event_info(etype) else { return Vec::new() };
    info.params_2022
        .iter()
        .map(|p| {
            let from_proc = if proc { proc_field(p.name).map(Src::Proc) } else { None };
            let src = from_proc.or_else(|| spec.iter().find(|(n, _)| *n == p.name).map(|(_, s)| *s));
            Slot { src, width: width(p.ptype) }
        })
        .collect()
}

impl Converter {
    /// `syscalls`: (number, name, enter type, exit type, PPM_SC code), as `sysnb.record.syscall_table`.
    pub fn new(syscalls: &[SyscallRow]) -> Converter {
        let mut plans = vec![Plan::Generic { ppm_sc: 0 }; MAX_NR];
        for (nr, name, enter, exit, ppm_sc) in syscalls {
            let Some(plan) = plans.get_mut(*nr as usize) else { continue };
            *plan = match (spec(name), enter, exit) {
                (Some((es, xs)), Some(e), Some(x)) => {
                    let proc = proc_syscall(name);
                    Plan::Events {
                        enter: *e,
                        exit: *x,
                        enter_slots: slots(*e, es, false),
                        exit_slots: slots(*x, xs, proc.is_some()),
                        proc,
                    }
                }
                _ => Plan::Generic { ppm_sc: ppm_sc.unwrap_or(0) },
            };
        }
        Converter { plans }
    }

    /// The event batch of drained records (any order): `small` rows, `mid` and `big` rows whose payload
    /// fields are `mid_width` / `big_width` bytes; `boot_offset` turns boot-clock times into epoch times.
    pub fn convert(
        &self,
        small: &[u8],
        mid: (&[u8], usize),
        big: (&[u8], usize),
        boot_offset: u64,
    ) -> Result<RecordBatch, ArrowError> {
        let records = small.len() / Kind::Small.row_size(0)
            + mid.0.len() / Kind::Mid.row_size(mid.1).max(1)
            + big.0.len() / Kind::Big.row_size(big.1).max(1);
        let mut out = Events::with_capacity(2 * records, small.len() / 4 + mid.0.len() + big.0.len());
        let mut seq = 0u64;
        for (data, kind, width) in [(small, Kind::Small, 0), (mid.0, Kind::Mid, mid.1), (big.0, Kind::Big, big.1)] {
            for r in rows(data, kind, width) {
                self.record(&r, seq * 2, &mut out);
                seq += 1;
            }
        }
        out.batch(boot_offset)
    }

    fn record(&self, r: &Rec, seq: u64, out: &mut Events) {
        let exit_ts = r.ts();
        let enter_ts = if r.enter_ts() > 0 && r.enter_ts() <= exit_ts { r.enter_ts() } else { exit_ts };
        let nr = r.nr();
        if nr == PROCEXIT_NR {
            let code = r.ret();
            let params = [
                (code as u64, 8),
                ((code >> 8) as u64, 8),
                ((code & 0x7F) as u64, 1),
                (((code & 0x80) != 0) as u64, 1),
            ];
            out.start(r, PROCEXIT_E, exit_ts, seq);
            for (v, w) in params {
                out.number(v, w);
            }
            return;
        }
        match self.plans.get(nr as usize).unwrap_or(&Plan::Generic { ppm_sc: 0 }) {
            Plan::Generic { ppm_sc } => {
                out.start(r, GENERIC_E, enter_ts, seq);
                out.number(*ppm_sc as u64, 2);
                out.number(nr as u64, 2);
                out.start(r, GENERIC_X, exit_ts, seq + 1);
                out.number(*ppm_sc as u64, 2);
            }
            Plan::Events { enter, exit, enter_slots, exit_slots, proc } => {
                let child = *proc == Some(false) && r.ret() == 0; // returns from clone without having entered
                let exec = *proc == Some(true);
                if !child {
                    out.start(r, *enter, enter_ts, seq);
                    out.params(r, enter_slots, exec);
                }
                out.start(r, *exit, exit_ts, seq + 1);
                out.params(r, exit_slots, exec);
            }
        }
    }
}

/// Events under construction, in record order.
#[derive(Default)]
struct Events {
    ts: Vec<u64>,
    seq: Vec<u64>,
    cpu: Vec<u16>,
    tid: Vec<i64>,
    etype: Vec<u16>,
    /// index of each event's first parameter in `ends`
    first: Vec<u32>,
    /// end offset (in `bytes`) of every parameter
    ends: Vec<usize>,
    bytes: Vec<u8>,
}

impl Events {
    fn with_capacity(events: usize, bytes: usize) -> Events {
        Events {
            ts: Vec::with_capacity(events),
            seq: Vec::with_capacity(events),
            cpu: Vec::with_capacity(events),
            tid: Vec::with_capacity(events),
            etype: Vec::with_capacity(events),
            first: Vec::with_capacity(events),
            ends: Vec::with_capacity(2 * events),
            bytes: Vec::with_capacity(bytes),
        }
    }

    fn start(&mut self, r: &Rec, etype: u16, ts: u64, seq: u64) {
        self.ts.push(ts);
        self.seq.push(seq);
        self.cpu.push(r.cpu() as u16);
        self.tid.push(r.tid() as i64);
        self.etype.push(etype);
        self.first.push(self.ends.len() as u32);
    }

    fn number(&mut self, v: u64, width: u8) {
        self.bytes.extend_from_slice(&v.to_le_bytes()[..width as usize]);
        self.ends.push(self.bytes.len());
    }

    fn params(&mut self, r: &Rec, slots: &[Slot], exec: bool) {
        for slot in slots {
            match slot.src.map(|s| value(r, s, exec, &mut self.bytes)) {
                Some(Value::Bytes) => self.ends.push(self.bytes.len()),
                Some(Value::Num(v)) => self.number(v, slot.width),
                None => self.number(0, slot.width), // absent: zero of the parameter's width, or empty
            }
        }
    }

    fn batch(self, boot_offset: u64) -> Result<RecordBatch, ArrowError> {
        let n = self.ts.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_unstable_by_key(|&i| (self.ts[i as usize], self.seq[i as usize]));
        let pick = |i: &u32| *i as usize;
        let mut list_off = Vec::with_capacity(n + 1);
        let mut value_off: Vec<i32> = Vec::with_capacity(self.ends.len() + 1);
        let mut data = Vec::with_capacity(self.bytes.len());
        list_off.push(0i32);
        value_off.push(0);
        for i in order.iter().map(pick) {
            let lo = self.first[i] as usize;
            let hi = self.first.get(i + 1).map_or(self.ends.len(), |&f| f as usize);
            // an event's parameters are contiguous in `bytes`: one copy, offsets shifted
            let start = if lo == 0 { 0 } else { self.ends[lo - 1] };
            let end = if hi == lo { start } else { self.ends[hi - 1] };
            let shift = data.len() as i64 - start as i64;
            data.extend_from_slice(&self.bytes[start..end]);
            for &e in &self.ends[lo..hi] {
                value_off.push(offset((e as i64 + shift) as usize)?);
            }
            list_off.push(offset(value_off.len() - 1)?);
        }
        let values = BinaryArray::try_new(OffsetBuffer::new(ScalarBuffer::from(value_off)), data.into(), None)?;
        let item = Arc::new(Field::new("item", DataType::Binary, true));
        let params =
            ListArray::try_new(item.clone(), OffsetBuffer::new(ScalarBuffer::from(list_off)), Arc::new(values), None)?;
        let take = |v: &[u64]| order.iter().map(|&i| v[i as usize]).collect::<Vec<_>>();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(PrimitiveArray::<UInt16Type>::from_iter_values(order.iter().map(|&i| self.cpu[i as usize]))),
            Arc::new(PrimitiveArray::<UInt32Type>::from_iter_values(std::iter::repeat_n(0, n))),
            Arc::new(PrimitiveArray::<UInt64Type>::from_iter_values(
                take(&self.ts).into_iter().map(|t| t.wrapping_add(boot_offset)),
            )),
            Arc::new(PrimitiveArray::<Int64Type>::from_iter_values(order.iter().map(|&i| self.tid[i as usize]))),
            Arc::new(PrimitiveArray::<UInt16Type>::from_iter_values(order.iter().map(|&i| self.etype[i as usize]))),
            Arc::new(params),
        ];
        RecordBatch::try_new(Arc::new(event_schema(item)), columns)
    }
}

fn offset(n: usize) -> Result<i32, ArrowError> {
    i32::try_from(n).map_err(|_| ArrowError::ComputeError("record batch too large for one event batch".into()))
}

/// The columns of an event batch (what `LiveEngine.process` and `ScapWriter.write_events` take).
pub fn event_schema(item: Arc<Field>) -> Schema {
    Schema::new(vec![
        Field::new("evt.cpu", DataType::UInt16, false),
        Field::new("sysnb.evt_flags", DataType::UInt32, false),
        Field::new("evt.rawtime", DataType::UInt64, false),
        Field::new("thread.tid", DataType::Int64, false),
        Field::new("sysnb.type_id", DataType::UInt16, false),
        Field::new("sysnb.params", DataType::List(item), false),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;

    fn record(nr: u16, ts: u64, enter_ts: u64, ret: i64) -> Vec<u8> {
        let mut row = vec![0u8; crate::record::layout::BASE_SIZE];
        row[0..8].copy_from_slice(&ts.to_le_bytes());
        row[8..16].copy_from_slice(&enter_ts.to_le_bytes());
        row[16..24].copy_from_slice(&ret.to_le_bytes());
        row[72..76].copy_from_slice(&42u32.to_le_bytes());
        row[92..94].copy_from_slice(&nr.to_le_bytes());
        row
    }

    #[test]
    fn records_become_time_ordered_enter_exit_pairs() {
        let table = vec![
            (110u16, "getppid".to_string(), None, None, Some(77u16)),
            (3, "close".into(), Some(4), Some(5), Some(6)),
        ];
        let conv = Converter::new(&table);
        let mut small = record(110, 300, 250, 1);
        small.extend(record(3, 200, 100, 0));
        small.extend(record(PROCEXIT_NR, 400, 0, 0x100));
        let batch = conv.convert(&small, (&[], 0), (&[], 0), 1000).unwrap();
        let types: Vec<u16> = batch.column(4).as_primitive::<UInt16Type>().values().to_vec();
        assert_eq!(types, vec![4, 5, GENERIC_E, GENERIC_X, PROCEXIT_E]);
        let ts: Vec<u64> = batch.column(2).as_primitive::<UInt64Type>().values().to_vec();
        assert_eq!(ts, vec![1100, 1200, 1250, 1300, 1400]);
        let params = batch.column(5).as_list::<i32>();
        let generic_enter = params.value(2);
        let generic_enter = generic_enter.as_binary::<i32>();
        assert_eq!(generic_enter.value(0), 77u16.to_le_bytes());
        assert_eq!(generic_enter.value(1), 110u16.to_le_bytes());
        let exit = params.value(4);
        assert_eq!(exit.as_binary::<i32>().value(1), 1u64.to_le_bytes()); // exit status 0x100 >> 8
    }

    #[test]
    fn hostile_rows_read_as_zeros_and_partial_rows_are_ignored() {
        let conv = Converter::new(&[]);
        // a small row of 0xFF is a process exit (nr 0xFFFF); a big row of 7s an unknown syscall (nr 0x0707)
        let batch = conv.convert(&[0xFF; 130], (&[1; 5], 8), (&[7; 760], 8), 0).unwrap();
        assert_eq!(batch.num_rows(), 1 + 2); // partial rows are ignored
        let mut out = Vec::new();
        crate::record::encode::encode_events(&batch, &mut out).unwrap();
        assert_eq!(out.len() % 4, 0);
    }
}
