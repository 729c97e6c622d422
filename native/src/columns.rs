//! From replayed events to Arrow columns.
//!
//! The engine records per event only what varies per event (number, visibility, rendered args, result,
//! latency, fd number, buffer) plus two indices: one into a table of *thread snapshots* and one into a
//! table of *fd snapshots*. A snapshot is taken when a thread or fd is first seen in a batch and again
//! only after it changed, so the process and fd columns are built once per distinct state and gathered by
//! index. The schema is `sysnb.state.columns.SCHEMA` of the Python reference; a scan may ask for a subset
//! of its columns (`Want`), and then only the work those columns need is done.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, ListBuilder, StringBuilder};
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Int32Array, Int64Array, ListArray, PrimitiveArray, StringArray,
    UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use rustc_hash::FxHashMap;

use crate::blocks::Ip;
use crate::render::args::Params;
use crate::state::model::push_ip;

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn list(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", t, true)))
}

/// Every column of the table, in schema order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Col {
    Num,
    Rawtime,
    Cpu,
    Dir,
    Type,
    Category,
    Rawres,
    Res,
    Failed,
    Latency,
    Args,
    Buffer,
    Buflen,
    Tid,
    Pid,
    Ppid,
    Name,
    Exe,
    Exepath,
    ProcArgs,
    Cwd,
    Pname,
    Uid,
    Uname,
    Loginuid,
    Gid,
    Gname,
    Container,
    CloneTs,
    Apid,
    Aname,
    Vtid,
    Vpid,
    Tty,
    Sid,
    Vpgid,
    Env,
    Pcmdline,
    Sname,
    Cgroups,
    Pexe,
    Pexepath,
    CapInheritable,
    CapPermitted,
    CapEffective,
    ExeFlags,
    Aexe,
    Aexepath,
    Fdnum,
    FdType,
    Typechar,
    FdName,
    Sip,
    Sport,
    Cip,
    Cport,
    L4proto,
    FdConnected,
    FdNameraw,
    NameChanged,
    TypeId,
    SyscallId,
    Visible,
    Offset,
    Flags,
    Params,
    Info,
}

/// The thread columns are Pid..=LAST_THREAD_COL (a thread snapshot gives them).
const LAST_THREAD_COL: Col = Col::Aexepath;

/// (column, name, type) in schema order.
pub fn columns() -> Vec<(Col, &'static str, DataType)> {
    use Col::*;
    vec![
        (Num, "evt.num", DataType::Int64),
        (Rawtime, "evt.rawtime", DataType::UInt64),
        (Cpu, "evt.cpu", DataType::UInt16),
        (Dir, "evt.dir", dict()),
        (Type, "evt.type", dict()),
        (Category, "evt.category", dict()),
        (Rawres, "evt.rawres", DataType::Int64),
        (Res, "evt.res", dict()),
        (Failed, "evt.failed", DataType::Boolean),
        (Latency, "evt.latency", DataType::Int64),
        (Args, "evt.args", DataType::Utf8),
        (Buffer, "evt.buffer", DataType::Binary),
        (Buflen, "evt.buflen", DataType::Int64),
        (Tid, "thread.tid", DataType::Int64),
        (Pid, "proc.pid", DataType::Int64),
        (Ppid, "proc.ppid", DataType::Int64),
        (Name, "proc.name", dict()),
        (Exe, "proc.exe", dict()),
        (Exepath, "proc.exepath", dict()),
        (ProcArgs, "proc.args", dict()),
        (Cwd, "proc.cwd", dict()),
        (Pname, "proc.pname", dict()),
        (Uid, "user.uid", DataType::UInt32),
        (Uname, "user.name", dict()),
        (Loginuid, "user.loginuid", DataType::Int64),
        (Gid, "group.gid", DataType::UInt32),
        (Gname, "group.name", dict()),
        (Container, "container.id", dict()),
        (CloneTs, "sysnb.clone_ts", DataType::UInt64),
        (Apid, "sysnb.apid", list(DataType::Int64)),
        (Aname, "sysnb.aname", list(DataType::Utf8)),
        (Vtid, "thread.vtid", DataType::Int64),
        (Vpid, "proc.vpid", DataType::Int64),
        (Tty, "proc.tty", DataType::Int64),
        (Sid, "proc.sid", DataType::Int64),
        (Vpgid, "proc.vpgid", DataType::Int64),
        (Env, "proc.env", dict()),
        (Pcmdline, "proc.pcmdline", dict()),
        (Sname, "proc.sname", dict()),
        (Cgroups, "thread.cgroups", dict()),
        (Pexe, "proc.pexe", dict()),
        (Pexepath, "proc.pexepath", dict()),
        (CapInheritable, "sysnb.cap_inheritable", DataType::Int64),
        (CapPermitted, "sysnb.cap_permitted", DataType::Int64),
        (CapEffective, "sysnb.cap_effective", DataType::Int64),
        (ExeFlags, "sysnb.exe_flags", DataType::Int64),
        (Aexe, "sysnb.aexe", list(DataType::Utf8)),
        (Aexepath, "sysnb.aexepath", list(DataType::Utf8)),
        (Fdnum, "fd.num", DataType::Int64),
        (FdType, "fd.type", dict()),
        (Typechar, "fd.typechar", dict()),
        (FdName, "fd.name", dict()),
        (Sip, "fd.sip", dict()),
        (Sport, "fd.sport", DataType::UInt16),
        (Cip, "fd.cip", dict()),
        (Cport, "fd.cport", DataType::UInt16),
        (L4proto, "fd.l4proto", dict()),
        (FdConnected, "fd.connected", DataType::Boolean),
        (FdNameraw, "fd.nameraw", dict()),
        (NameChanged, "fd.name_changed", DataType::Boolean),
        (TypeId, "sysnb.type_id", DataType::UInt16),
        (SyscallId, "sysnb.syscall_id", DataType::UInt16),
        (Visible, "sysnb.visible", DataType::Boolean),
        (Offset, "sysnb.offset", DataType::UInt64),
        (Flags, "sysnb.evt_flags", DataType::UInt32),
        (Params, "sysnb.params", list(DataType::Binary)),
        (Info, "sysnb.info", DataType::Utf8),
    ]
}

/// The columns a scan produces.
#[derive(Clone, Copy, Debug)]
pub struct Want(u128);

impl Want {
    pub fn all() -> Want {
        Want((1u128 << columns().len()) - 1)
    }

    /// The named columns; an unknown name is an error naming it.
    pub fn named(names: &[String]) -> Result<Want, String> {
        let cols = columns();
        let mut bits = 0u128;
        for n in names {
            match cols.iter().find(|(_, name, _)| name == n) {
                Some((c, _, _)) => bits |= 1 << *c as u8,
                None => return Err(format!("the native core has no column {n:?}")),
            }
        }
        Ok(Want(bits))
    }

    pub fn has(&self, c: Col) -> bool {
        self.0 & (1 << c as u8) != 0
    }

    fn any(&self, from: Col, to: Col) -> bool {
        (from as u8..=to as u8).any(|i| self.0 & (1 << i) != 0)
    }

    /// Some process/thread column (a thread snapshot is needed).
    pub fn thread(&self) -> bool {
        self.any(Col::Pid, LAST_THREAD_COL)
    }

    /// Some column whose value depends on the replayed state (threads, fds, enter/exit pairing).
    pub fn state(&self) -> bool {
        self.thread()
            || self.fd()
            || [Col::Category, Col::Latency, Col::Args, Col::Buflen, Col::Fdnum, Col::Info, Col::NameChanged]
                .iter()
                .any(|&c| self.has(c))
    }

    /// Some fd column other than fd.num (an fd snapshot is needed).
    pub fn fd(&self) -> bool {
        self.any(Col::FdType, Col::FdNameraw)
    }

    pub fn schema(&self) -> SchemaRef {
        let fields: Vec<Field> =
            columns().into_iter().filter(|(c, _, _)| self.has(*c)).map(|(_, n, t)| Field::new(n, t, true)).collect();
        Arc::new(Schema::new(fields))
    }
}

/// The table schema (the Python reference's `SCHEMA`, same names, types and order).
pub fn schema() -> SchemaRef {
    Want::all().schema()
}

/// A thread's columns at one point of the replay.
#[derive(Clone, Debug, Default)]
pub struct TSnap {
    pub pid: i64,
    pub ppid: i64,
    pub name: Option<Vec<u8>>,
    pub exe: Option<Vec<u8>>,
    pub exepath: Vec<u8>,
    pub args: Option<Vec<u8>>,
    pub cwd: Vec<u8>,
    pub pname: Option<Vec<u8>>,
    pub uid: u32,
    pub uname: Option<Vec<u8>>,
    pub loginuid: i64,
    pub gid: u32,
    pub gname: Option<Vec<u8>>,
    pub container: Vec<u8>,
    pub clone_ts: u64,
    pub apid: Vec<i64>,
    pub aname: Vec<Vec<u8>>,
    /// thread.vtid, proc.vpid (None: unknown)
    pub vtid: Option<i64>,
    pub vpid: Option<i64>,
    pub tty: i64,
    pub sid: i64,
    pub vpgid: i64,
    /// the process's environment, space-separated
    pub env: Vec<u8>,
    /// the parent's command line (None: no parent thread)
    pub pcmdline: Option<Vec<u8>>,
    /// the session leader's name
    pub sname: Vec<u8>,
    /// "subsys=path" entries, space-separated (None: no cgroups)
    pub cgroups: Option<Vec<u8>>,
    /// the parent's exe and exepath (None: no parent thread)
    pub pexe: Option<Vec<u8>>,
    pub pexepath: Option<Vec<u8>>,
    /// inheritable, permitted, effective capability sets (None: unknown)
    pub caps: Option<[u64; 3]>,
    pub exe_flags: Option<u32>,
    /// exe and exepath of the process (level 0) and its ancestors
    pub aexe: Vec<Vec<u8>>,
    pub aexepath: Vec<Vec<u8>>,
}

/// An fd's columns at one point of the replay.
#[derive(Clone, Debug, Default)]
pub struct FSnap {
    pub ftype: Option<&'static str>,
    pub typechar: &'static str,
    pub name: Option<Vec<u8>>,
    pub sip: Option<Ip>,
    pub sport: Option<u16>,
    pub cip: Option<Ip>,
    pub cport: Option<u16>,
    pub l4proto: Option<&'static str>,
    /// libsinsp's FLAGS_SOCKET_CONNECTED (None: no fd in the table)
    pub connected: Option<bool>,
    /// the path as the open received it (None: no fd in the table)
    pub nameraw: Option<Vec<u8>>,
}

/// Valid UTF-8 text of capture bytes (invalid sequences become U+FFFD, as the reference stores them).
pub fn text(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Values with a validity mask (one byte per value, packed into a bitmap once), for nullable columns.
struct Nullable<T: Copy + Default + arrow_buffer::ArrowNativeType> {
    values: Vec<T>,
    valid: Vec<bool>,
    nulls: usize,
}

impl<T: Copy + Default + arrow_buffer::ArrowNativeType> Default for Nullable<T> {
    fn default() -> Self {
        Nullable::new(0)
    }
}

impl<T: Copy + Default + arrow_buffer::ArrowNativeType> Nullable<T> {
    fn new(capacity: usize) -> Self {
        Nullable { values: Vec::with_capacity(capacity), valid: Vec::with_capacity(capacity), nulls: 0 }
    }

    #[inline]
    fn push(&mut self, v: Option<T>) {
        self.values.push(v.unwrap_or_default());
        self.valid.push(v.is_some());
        self.nulls += usize::from(v.is_none());
    }

    fn is_valid(&self, i: usize) -> bool {
        self.valid[i]
    }

    fn null_buffer(&self) -> Option<NullBuffer> {
        (self.nulls > 0).then(|| NullBuffer::new(BooleanBuffer::collect_bool(self.valid.len(), |i| self.valid[i])))
    }

    fn finish<P: ArrowPrimitiveType<Native = T>>(self) -> PrimitiveArray<P> {
        let nulls = self.null_buffer();
        PrimitiveArray::<P>::new(ScalarBuffer::from(self.values), nulls)
    }

    fn finish_ref<P: ArrowPrimitiveType<Native = T>>(&self) -> PrimitiveArray<P> {
        PrimitiveArray::<P>::new(ScalarBuffer::from(self.values.clone()), self.null_buffer())
    }
}

fn int32_keys(keys: Vec<i32>) -> Int32Array {
    // negative keys are null
    let nulls = keys.iter().any(|&k| k < 0).then(|| NullBuffer::from_iter(keys.iter().map(|&k| k >= 0)));
    let keys: Vec<i32> = if nulls.is_some() { keys.into_iter().map(|k| k.max(0)).collect() } else { keys };
    Int32Array::new(ScalarBuffer::from(keys), nulls)
}

fn dict_array(keys: Vec<i32>, values: Vec<String>) -> Result<ArrayRef, ArrowError> {
    let values = StringArray::from(values);
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(int32_keys(keys), Arc::new(values))?))
}

/// Per-batch dictionary of strings keyed by a small code (event type names, results). Several codes may
/// have the same text (the enter and exit types of a syscall are both "open"): the dictionary holds each
/// text once (pyarrow's group_by and value_counts take dictionary indices as identities).
#[derive(Default)]
struct CodeDict {
    keys: FxHashMap<i64, i32>,
    by_text: FxHashMap<String, i32>,
    values: Vec<String>,
}

impl CodeDict {
    fn key(&mut self, code: i64, make: impl FnOnce() -> String) -> i32 {
        if let Some(&k) = self.keys.get(&code) {
            return k;
        }
        let text = make();
        let k = match self.by_text.get(&text) {
            Some(&k) => k,
            None => {
                let k = self.values.len() as i32;
                self.values.push(text.clone());
                self.by_text.insert(text, k);
                k
            }
        };
        self.keys.insert(code, k);
        k
    }
}

/// Bytes per row the variable-width columns took in the last batch: the next batch's capacities, so that
/// buffers neither grow by copying nor keep unused capacity (a table in memory holds every batch).
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub args: usize,
    pub params: usize,
    pub params_count: usize,
    pub buffer: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes { args: 40, params: 40, params_count: 4, buffer: 16 }
    }
}

impl Sizes {
    fn per_row(total: usize, rows: usize) -> usize {
        (total * 9 / 8) / rows.max(1) + 1 // an eighth more than measured
    }
}

pub struct BatchBuilder {
    pub batch_id: u64,
    pub want: Want,
    pub tsnaps: Vec<TSnap>,
    pub fsnaps: Vec<FSnap>,
    rows: usize,
    num: Nullable<i64>,
    rawtime: Vec<u64>,
    cpu: Vec<u16>,
    type_id: Vec<u16>,
    syscall_id: Nullable<u16>,
    visible: Vec<bool>,
    offset: Vec<u64>,
    flags: Vec<u32>,
    tid: Vec<i64>,
    res: Nullable<i64>,
    latency: Nullable<i64>,
    buflen: Nullable<i64>,
    fdnum: Nullable<i64>,
    /// fd.name_changed per event: (value, valid)
    name_changed: (Vec<bool>, Vec<bool>),
    tsnap: Vec<i32>,
    fsnap: Vec<i32>,
    evt_type: Vec<i32>,
    type_dict: CodeDict,
    category: Vec<i32>,
    cat_keys: FxHashMap<&'static str, i32>,
    cat_values: Vec<String>,
    args: StringBuilder,
    info: StringBuilder,
    buf: BinaryBuilder,
    params: ListBuilder<BinaryBuilder>,
}

impl BatchBuilder {
    pub fn new(batch_id: u64, capacity: usize, want: Want, sizes: Sizes) -> BatchBuilder {
        let w = |c: Col, n: usize| if want.has(c) { n } else { 0 };
        BatchBuilder {
            batch_id,
            want,
            tsnaps: Vec::new(),
            fsnaps: Vec::new(),
            rows: 0,
            num: Nullable::new(capacity),
            rawtime: Vec::with_capacity(capacity),
            cpu: Vec::with_capacity(w(Col::Cpu, capacity)),
            type_id: Vec::with_capacity(capacity),
            syscall_id: Nullable::new(w(Col::SyscallId, capacity)),
            visible: Vec::with_capacity(capacity),
            offset: Vec::with_capacity(w(Col::Offset, capacity)),
            flags: Vec::with_capacity(w(Col::Flags, capacity)),
            tid: Vec::with_capacity(capacity),
            res: Nullable::new(capacity),
            latency: Nullable::new(w(Col::Latency, capacity)),
            buflen: Nullable::new(w(Col::Buflen, capacity)),
            fdnum: Nullable::new(w(Col::Fdnum, capacity)),
            name_changed: (
                Vec::with_capacity(w(Col::NameChanged, capacity)),
                Vec::with_capacity(w(Col::NameChanged, capacity)),
            ),
            tsnap: Vec::with_capacity(if want.thread() { capacity } else { 0 }),
            fsnap: Vec::with_capacity(if want.fd() { capacity } else { 0 }),
            evt_type: Vec::with_capacity(w(Col::Type, capacity)),
            type_dict: CodeDict::default(),
            category: Vec::with_capacity(w(Col::Category, capacity)),
            cat_keys: FxHashMap::default(),
            cat_values: Vec::new(),
            args: StringBuilder::with_capacity(w(Col::Args, capacity), w(Col::Args, capacity * sizes.args)),
            info: StringBuilder::with_capacity(w(Col::Info, capacity), 0),
            buf: BinaryBuilder::with_capacity(w(Col::Buffer, capacity), w(Col::Buffer, capacity * sizes.buffer)),
            params: ListBuilder::with_capacity(
                BinaryBuilder::with_capacity(
                    w(Col::Params, capacity * sizes.params_count),
                    w(Col::Params, capacity * sizes.params),
                ),
                w(Col::Params, capacity),
            ),
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The header fields and raw parameters of an event.
    #[allow(clippy::too_many_arguments)]
    pub fn header(&mut self, offset: u64, cpu: u16, flags: u32, ts: u64, tid: i64, etype: u16, params: Params) {
        let want = self.want;
        self.rows += 1;
        self.rawtime.push(ts);
        self.tid.push(tid);
        self.type_id.push(etype);
        if want.has(Col::Offset) {
            self.offset.push(offset);
        }
        if want.has(Col::Cpu) {
            self.cpu.push(cpu);
        }
        if want.has(Col::Flags) {
            self.flags.push(flags);
        }
        if want.has(Col::SyscallId) {
            let generic = etype == crate::events::GENERIC_E || etype == crate::events::GENERIC_X;
            let code = if generic { params.get(0).and_then(crate::render::args::u16_of) } else { None };
            self.syscall_id.push(code);
        }
        if want.has(Col::Params) {
            let values = self.params.values();
            for i in 0..params.len() {
                values.append_value(params.get(i).unwrap_or_default());
            }
            self.params.append(true);
        }
    }

    /// evt.type: the table's name, or an override (generic syscalls, unknown types) keyed by `code`.
    pub fn evt_type(&mut self, code: i64, make: impl FnOnce() -> String) {
        if self.want.has(Col::Type) {
            let k = self.type_dict.key(code, make);
            self.evt_type.push(k);
        }
    }

    pub fn category(&mut self, cat: Option<&'static str>) {
        if !self.want.has(Col::Category) {
            return;
        }
        let k = cat.map_or(-1, |c| match self.cat_keys.get(c) {
            Some(&k) => k,
            None => {
                let k = self.cat_values.len() as i32;
                self.cat_values.push(c.to_string());
                self.cat_keys.insert(c, k);
                k
            }
        });
        self.category.push(k);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn event(
        &mut self,
        num: Option<i64>,
        visible: bool,
        args: &[u8],
        res: Option<i64>,
        buflen: Option<i64>,
        latency: Option<i64>,
        buf: Option<&[u8]>,
        info: Option<&[u8]>,
        tsnap: i32,
    ) {
        let want = self.want;
        self.num.push(num);
        self.visible.push(visible);
        self.res.push(res);
        if want.has(Col::Args) {
            match std::str::from_utf8(args) {
                Ok(s) => self.args.append_value(s),
                Err(_) => self.args.append_value(text(args)),
            }
        }
        if want.has(Col::Buflen) {
            self.buflen.push(buflen);
        }
        if want.has(Col::Latency) {
            self.latency.push(latency);
        }
        if want.has(Col::Buffer) {
            match buf {
                Some(b) => self.buf.append_value(b),
                None => self.buf.append_null(),
            }
        }
        if want.has(Col::Info) {
            match info {
                Some(i) => self.info.append_value(text(i)),
                None => self.info.append_null(),
            }
        }
        if want.thread() {
            self.tsnap.push(tsnap);
        }
    }

    /// The event's fd number, its fd snapshot and whether the event changed the fd's name.
    pub fn fd(&mut self, fdnum: Option<i64>, fsnap: i32, name_changed: Option<bool>) {
        if self.want.has(Col::Fdnum) {
            self.fdnum.push(fdnum);
        }
        if self.want.has(Col::NameChanged) {
            self.name_changed.0.push(name_changed.unwrap_or(false));
            self.name_changed.1.push(name_changed.is_some());
        }
        if self.want.fd() {
            self.fsnap.push(fsnap);
        }
    }

    pub fn push_tsnap(&mut self, s: TSnap) -> i32 {
        self.tsnaps.push(s);
        (self.tsnaps.len() - 1) as i32
    }

    pub fn push_fsnap(&mut self, s: FSnap) -> i32 {
        self.fsnaps.push(s);
        (self.fsnaps.len() - 1) as i32
    }

    /// What this batch's variable-width columns took per row (the next batch's capacities).
    pub fn sizes(&self, old: Sizes) -> Sizes {
        let rows = self.rows;
        let want = self.want;
        let m =
            |c: Col, total: usize, fallback: usize| if want.has(c) { Sizes::per_row(total, rows) } else { fallback };
        Sizes {
            args: m(Col::Args, self.args.values_slice().len(), old.args),
            params: m(Col::Params, self.params.values_ref().values_slice().len(), old.params),
            params_count: m(Col::Params, self.params.values_ref().offsets_slice().len() - 1, old.params_count),
            buffer: m(Col::Buffer, self.buf.values_slice().len(), old.buffer),
        }
    }

    pub fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        use arrow_array::types::{Int64Type, UInt16Type};
        use std::mem::take;
        let want = self.want;
        let mut state: FxHashMap<u8, ArrayRef> = FxHashMap::default();
        let thread = ThreadCols::new(&self.tsnaps, &self.tsnap);
        let fdc = FdCols::new(&self.fsnaps, &self.fsnap);
        for (c, _, _) in columns() {
            if !want.has(c) {
                continue;
            }
            if (Col::Pid as u8..=LAST_THREAD_COL as u8).contains(&(c as u8)) {
                state.insert(c as u8, thread.column(c)?);
            } else if (Col::FdType as u8..=Col::FdNameraw as u8).contains(&(c as u8)) {
                state.insert(c as u8, fdc.column(c)?);
            }
        }
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(48);
        for (c, _, _) in columns() {
            if !want.has(c) {
                continue;
            }
            let col: ArrayRef = match c {
                Col::Num => Arc::new(take(&mut self.num).finish::<Int64Type>()),
                Col::Rawtime => Arc::new(UInt64Array::from(take(&mut self.rawtime))),
                Col::Cpu => Arc::new(UInt16Array::from(take(&mut self.cpu))),
                Col::Dir => {
                    dict_array(self.type_id.iter().map(|t| i32::from(t & 1)).collect(), vec![">".into(), "<".into()])?
                }
                Col::Type => dict_array(take(&mut self.evt_type), take(&mut self.type_dict.values))?,
                Col::Category => dict_array(take(&mut self.category), take(&mut self.cat_values))?,
                Col::Rawres => Arc::new(self.res.finish_ref::<Int64Type>()),
                Col::Res => {
                    let (k, v) = res_dict(&self.res);
                    dict_array(k, v)?
                }
                Col::Failed => {
                    let res = &self.res;
                    let f = BooleanBuffer::collect_bool(self.rows, |i| res.is_valid(i) && res.values[i] < 0);
                    Arc::new(BooleanArray::new(f, None))
                }
                Col::Latency => Arc::new(take(&mut self.latency).finish::<Int64Type>()),
                Col::Args => Arc::new(self.args.finish()),
                Col::Buffer => Arc::new(self.buf.finish()),
                Col::Buflen => Arc::new(take(&mut self.buflen).finish::<Int64Type>()),
                Col::Tid => Arc::new(Int64Array::from(take(&mut self.tid))),
                Col::Fdnum => Arc::new(take(&mut self.fdnum).finish::<Int64Type>()),
                Col::NameChanged => {
                    let (values, valid) = take(&mut self.name_changed);
                    Arc::new(bool_array(&values, &valid))
                }
                Col::TypeId => Arc::new(UInt16Array::from(self.type_id.clone())),
                Col::SyscallId => Arc::new(take(&mut self.syscall_id).finish::<UInt16Type>()),
                Col::Visible => Arc::new(BooleanArray::from(take(&mut self.visible))),
                Col::Offset => Arc::new(UInt64Array::from(take(&mut self.offset))),
                Col::Flags => Arc::new(UInt32Array::from(take(&mut self.flags))),
                Col::Params => Arc::new(self.params.finish()),
                Col::Info => Arc::new(self.info.finish()),
                other => state.remove(&(other as u8)).expect("state column built above"),
            };
            cols.push(col);
        }
        RecordBatch::try_new(want.schema(), cols)
    }
}

use arrow_array::RecordBatch;

/// evt.res keys and values: SUCCESS, the errno name, or the number when unknown.
fn res_dict(res: &Nullable<i64>) -> (Vec<i32>, Vec<String>) {
    let mut d = CodeDict::default();
    let mut success = -1;
    let keys = res
        .values
        .iter()
        .enumerate()
        .map(|(i, &r)| {
            if !res.is_valid(i) {
                -1
            } else if r >= 0 {
                if success < 0 {
                    success = d.key(0, || res_name(0));
                }
                success
            } else {
                d.key(r, || res_name(r))
            }
        })
        .collect();
    (keys, d.values)
}

fn res_name(r: i64) -> String {
    if r >= 0 {
        return "SUCCESS".into();
    }
    let name = crate::render::values::errno_name(r);
    if name.is_empty() {
        r.to_string()
    } else {
        name.into()
    }
}

/// Keys of a dictionary column over snapshots: one key per snapshot (-1: no value), unique values.
fn snapshot_dict<'a>(count: usize, value: impl Fn(usize) -> Option<&'a [u8]>) -> (Vec<i32>, Vec<String>) {
    let mut keys_of_snap: Vec<i32> = Vec::with_capacity(count);
    let mut seen: FxHashMap<&'a [u8], i32> = FxHashMap::default();
    let mut values: Vec<String> = Vec::new();
    for s in 0..count {
        keys_of_snap.push(match value(s) {
            None => -1,
            Some(v) => *seen.entry(v).or_insert_with(|| {
                values.push(text(v).into_owned());
                (values.len() - 1) as i32
            }),
        });
    }
    (keys_of_snap, values)
}

/// A dictionary column gathered by snapshot index. `base` is the null buffer of the index (rows without a
/// snapshot), shared by every column that has a value in each snapshot.
fn gather_dict(
    idx: &[i32],
    base: &Option<NullBuffer>,
    (snap_keys, values): (Vec<i32>, Vec<String>),
) -> Result<ArrayRef, ArrowError> {
    let key = |i: i32| if i < 0 { -1 } else { snap_keys[i as usize] };
    let keys: Vec<i32> = idx.iter().map(|&i| key(i).max(0)).collect();
    let nulls = if snap_keys.iter().any(|&k| k < 0) {
        let n = NullBuffer::new(BooleanBuffer::collect_bool(idx.len(), |r| key(idx[r]) >= 0));
        (n.null_count() > 0).then_some(n)
    } else {
        base.clone()
    };
    let values = StringArray::from(values);
    let keys = Int32Array::new(ScalarBuffer::from(keys), nulls);
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values))?))
}

/// The null buffer of a snapshot index: rows with index -1 are null.
fn index_nulls(idx: &[i32]) -> Option<NullBuffer> {
    idx.iter().any(|&i| i < 0).then(|| NullBuffer::new(BooleanBuffer::collect_bool(idx.len(), |k| idx[k] >= 0)))
}

/// A primitive column gathered from per-snapshot values (index -1 and `None` values are null).
fn gather<T: Copy + Default + arrow_buffer::ArrowNativeType, P: ArrowPrimitiveType<Native = T>>(
    idx: &[i32],
    count: usize,
    value: impl Fn(usize) -> Option<T>,
) -> PrimitiveArray<P> {
    let per_snap: Vec<Option<T>> = (0..count).map(&value).collect();
    let values: Vec<T> =
        idx.iter().map(|&i| if i < 0 { T::default() } else { per_snap[i as usize].unwrap_or_default() }).collect();
    let valid = |i: usize| idx[i] >= 0 && per_snap[idx[i] as usize].is_some();
    let any_null = (0..idx.len()).any(|i| !valid(i));
    let nulls = any_null.then(|| NullBuffer::new(BooleanBuffer::collect_bool(idx.len(), valid)));
    PrimitiveArray::<P>::new(ScalarBuffer::from(values), nulls)
}

/// A boolean column from values and their validity.
fn bool_array(values: &[bool], valid: &[bool]) -> BooleanArray {
    let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid.to_vec()));
    BooleanArray::new(BooleanBuffer::from(values.to_vec()), nulls)
}

fn borrowed(v: &Option<Vec<u8>>) -> Option<&[u8]> {
    v.as_deref()
}

struct ThreadCols<'a> {
    s: &'a [TSnap],
    idx: &'a [i32],
    base: Option<NullBuffer>,
}

impl<'a> ThreadCols<'a> {
    fn new(s: &'a [TSnap], idx: &'a [i32]) -> Self {
        ThreadCols { s, idx, base: index_nulls(idx) }
    }

    fn column(&self, c: Col) -> Result<ArrayRef, ArrowError> {
        use arrow_array::types::{Int64Type, UInt32Type, UInt64Type};
        let (s, idx, n, base) = (self.s, self.idx, self.s.len(), &self.base);
        let b = |v: &'a [u8]| Some(v);
        Ok(match c {
            Col::Pid => Arc::new(gather::<_, Int64Type>(idx, n, |i| Some(s[i].pid))),
            Col::Ppid => Arc::new(gather::<_, Int64Type>(idx, n, |i| Some(s[i].ppid))),
            Col::Name => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].name)))?,
            Col::Exe => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].exe)))?,
            Col::Exepath => gather_dict(idx, base, snapshot_dict(n, |i| b(&s[i].exepath)))?,
            Col::ProcArgs => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].args)))?,
            Col::Cwd => gather_dict(idx, base, snapshot_dict(n, |i| b(&s[i].cwd)))?,
            Col::Pname => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].pname)))?,
            Col::Uid => Arc::new(gather::<_, UInt32Type>(idx, n, |i| Some(s[i].uid))),
            Col::Uname => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].uname)))?,
            Col::Loginuid => Arc::new(gather::<_, Int64Type>(idx, n, |i| Some(s[i].loginuid))),
            Col::Gid => Arc::new(gather::<_, UInt32Type>(idx, n, |i| Some(s[i].gid))),
            Col::Gname => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].gname)))?,
            Col::Container => gather_dict(idx, base, snapshot_dict(n, |i| b(&s[i].container)))?,
            Col::CloneTs => Arc::new(gather::<_, UInt64Type>(idx, n, |i| Some(s[i].clone_ts))),
            Col::Apid => self.apid()?,
            Col::Vtid => Arc::new(gather::<_, Int64Type>(idx, n, |i| s[i].vtid)),
            Col::Vpid => Arc::new(gather::<_, Int64Type>(idx, n, |i| s[i].vpid)),
            Col::Tty => Arc::new(gather::<_, Int64Type>(idx, n, |i| Some(s[i].tty))),
            Col::Sid => Arc::new(gather::<_, Int64Type>(idx, n, |i| Some(s[i].sid))),
            Col::Vpgid => Arc::new(gather::<_, Int64Type>(idx, n, |i| Some(s[i].vpgid))),
            Col::Env => gather_dict(idx, base, snapshot_dict(n, |i| b(&s[i].env)))?,
            Col::Pcmdline => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].pcmdline)))?,
            Col::Sname => gather_dict(idx, base, snapshot_dict(n, |i| b(&s[i].sname)))?,
            Col::Cgroups => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].cgroups)))?,
            Col::Pexe => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].pexe)))?,
            Col::Pexepath => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].pexepath)))?,
            Col::CapInheritable => Arc::new(gather::<_, Int64Type>(idx, n, |i| s[i].caps.map(|c| c[0] as i64))),
            Col::CapPermitted => Arc::new(gather::<_, Int64Type>(idx, n, |i| s[i].caps.map(|c| c[1] as i64))),
            Col::CapEffective => Arc::new(gather::<_, Int64Type>(idx, n, |i| s[i].caps.map(|c| c[2] as i64))),
            Col::ExeFlags => Arc::new(gather::<_, Int64Type>(idx, n, |i| s[i].exe_flags.map(i64::from))),
            Col::Aexe => self.text_lists(|s| &s.aexe)?,
            Col::Aexepath => self.text_lists(|s| &s.aexepath)?,
            _ => self.text_lists(|s| &s.aname)?,
        })
    }

    /// proc.apid lists: one per event, copied from its snapshot's list.
    fn apid(&self) -> Result<ArrayRef, ArrowError> {
        let mut off: Vec<i32> = Vec::with_capacity(self.idx.len() + 1);
        off.push(0);
        let mut vals: Vec<i64> = Vec::with_capacity(self.idx.len() * 4);
        for &i in self.idx {
            if i >= 0 {
                vals.extend_from_slice(&self.s[i as usize].apid);
            }
            off.push(vals.len() as i32);
        }
        let field = Arc::new(Field::new("item", DataType::Int64, true));
        Ok(Arc::new(ListArray::try_new(
            field,
            OffsetBuffer::new(ScalarBuffer::from(off)),
            Arc::new(Int64Array::from(vals)),
            self.nulls(),
        )?))
    }

    fn nulls(&self) -> Option<NullBuffer> {
        self.base.clone()
    }

    /// Text lists (proc.aname, aexe, aexepath): each snapshot's list packed once (text and offsets), then
    /// copied per event.
    fn text_lists(&self, list: impl Fn(&TSnap) -> &Vec<Vec<u8>>) -> Result<ArrayRef, ArrowError> {
        let packed: Vec<(String, Vec<i32>)> = self
            .s
            .iter()
            .map(|s| {
                let mut text_all = String::new();
                let mut ends = Vec::with_capacity(list(s).len());
                for a in list(s) {
                    text_all.push_str(&text(a));
                    ends.push(text_all.len() as i32);
                }
                (text_all, ends)
            })
            .collect();
        let mut list_off: Vec<i32> = Vec::with_capacity(self.idx.len() + 1);
        let mut str_off: Vec<i32> = vec![0];
        let mut bytes: Vec<u8> = Vec::new();
        list_off.push(0);
        for &i in self.idx {
            if i >= 0 {
                let (t, ends) = &packed[i as usize];
                let base = bytes.len() as i32;
                bytes.extend_from_slice(t.as_bytes());
                str_off.extend(ends.iter().map(|e| base + e));
            }
            list_off.push((str_off.len() - 1) as i32);
        }
        let names = StringArray::try_new(OffsetBuffer::new(ScalarBuffer::from(str_off)), bytes.into(), None)?;
        let field = Arc::new(Field::new("item", DataType::Utf8, true));
        Ok(Arc::new(ListArray::try_new(
            field,
            OffsetBuffer::new(ScalarBuffer::from(list_off)),
            Arc::new(names),
            self.nulls(),
        )?))
    }
}

fn ip_text(ip: Option<Ip>) -> Option<Vec<u8>> {
    ip.map(|ip| {
        let mut v = Vec::new();
        push_ip(&mut v, Some(ip));
        v
    })
}

struct FdCols<'a> {
    s: &'a [FSnap],
    idx: &'a [i32],
    base: Option<NullBuffer>,
}

impl<'a> FdCols<'a> {
    fn new(s: &'a [FSnap], idx: &'a [i32]) -> Self {
        FdCols { s, idx, base: index_nulls(idx) }
    }

    fn column(&self, c: Col) -> Result<ArrayRef, ArrowError> {
        use arrow_array::types::UInt16Type;
        let (s, idx, n, base) = (self.s, self.idx, self.s.len(), &self.base);
        let st = |v: Option<&'static str>| v.map(str::as_bytes);
        Ok(match c {
            Col::FdType => gather_dict(idx, base, snapshot_dict(n, |i| st(s[i].ftype)))?,
            Col::Typechar => gather_dict(idx, base, snapshot_dict(n, |i| st(Some(s[i].typechar))))?,
            Col::FdName => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].name)))?,
            Col::Sip | Col::Cip => {
                let texts: Vec<Option<Vec<u8>>> =
                    s.iter().map(|f| ip_text(if c == Col::Sip { f.sip } else { f.cip })).collect();
                gather_dict(idx, base, snapshot_dict(n, |i| texts[i].as_deref()))?
            }
            Col::Sport => Arc::new(gather::<_, UInt16Type>(idx, n, |i| s[i].sport)),
            Col::Cport => Arc::new(gather::<_, UInt16Type>(idx, n, |i| s[i].cport)),
            Col::FdConnected => {
                let valid: Vec<bool> = idx.iter().map(|&i| i >= 0 && s[i as usize].connected.is_some()).collect();
                let values: Vec<bool> =
                    idx.iter().map(|&i| i >= 0 && s[i as usize].connected.unwrap_or(false)).collect();
                Arc::new(bool_array(&values, &valid))
            }
            Col::FdNameraw => gather_dict(idx, base, snapshot_dict(n, |i| borrowed(&s[i].nameraw)))?,
            _ => gather_dict(idx, base, snapshot_dict(n, |i| st(s[i].l4proto)))?,
        })
    }
}
