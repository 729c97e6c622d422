//! From replayed events to Arrow columns.
//!
//! The engine records per event only what varies per event (number, visibility, rendered args, result,
//! latency, fd number, buffer) plus two indices: one into a table of *thread snapshots* and one into a
//! table of *fd snapshots*. A snapshot is taken when a thread or fd is first seen in a batch and again
//! only after it changed, so the process and fd columns are built once per distinct state and gathered by
//! index. The schema is `sysnb.state.columns.SCHEMA` of the Python reference.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Int64Builder, ListBuilder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::RecordBatch;
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Int32Array, Int64Array, ListArray, StringArray,
    UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::ArrowError;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rustc_hash::FxHashMap;

use crate::blocks::Ip;
use crate::render::args::Params;
use crate::state::model::push_ip;

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The table schema (the Python reference's `SCHEMA`, same names, types and order).
pub fn schema() -> SchemaRef {
    let f = |n: &str, t: DataType| Field::new(n, t, true);
    let list = |t: DataType| DataType::List(Arc::new(Field::new("item", t, true)));
    Arc::new(Schema::new(vec![
        f("evt.num", DataType::Int64),
        f("evt.rawtime", DataType::UInt64),
        f("evt.cpu", DataType::UInt16),
        f("evt.dir", dict()),
        f("evt.type", dict()),
        f("evt.category", dict()),
        f("evt.rawres", DataType::Int64),
        f("evt.res", dict()),
        f("evt.failed", DataType::Boolean),
        f("evt.latency", DataType::Int64),
        f("evt.args", DataType::Utf8),
        f("evt.buffer", DataType::Binary),
        f("evt.buflen", DataType::Int64),
        f("thread.tid", DataType::Int64),
        f("proc.pid", DataType::Int64),
        f("proc.ppid", DataType::Int64),
        f("proc.name", dict()),
        f("proc.exe", dict()),
        f("proc.exepath", dict()),
        f("proc.args", dict()),
        f("proc.cwd", dict()),
        f("proc.pname", dict()),
        f("user.uid", DataType::UInt32),
        f("user.name", dict()),
        f("user.loginuid", DataType::Int64),
        f("group.gid", DataType::UInt32),
        f("group.name", dict()),
        f("container.id", dict()),
        f("sysnb.clone_ts", DataType::UInt64),
        f("sysnb.apid", list(DataType::Int64)),
        f("sysnb.aname", list(DataType::Utf8)),
        f("fd.num", DataType::Int64),
        f("fd.type", dict()),
        f("fd.typechar", dict()),
        f("fd.name", dict()),
        f("fd.sip", dict()),
        f("fd.sport", DataType::UInt16),
        f("fd.cip", dict()),
        f("fd.cport", DataType::UInt16),
        f("fd.l4proto", dict()),
        f("sysnb.type_id", DataType::UInt16),
        f("sysnb.syscall_id", DataType::UInt16),
        f("sysnb.visible", DataType::Boolean),
        f("sysnb.offset", DataType::UInt64),
        f("sysnb.evt_flags", DataType::UInt32),
        f("sysnb.params", list(DataType::Binary)),
        f("sysnb.info", DataType::Utf8),
    ]))
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
}

/// Per-batch dictionary of strings keyed by a small code (event type names, categories, results).
#[derive(Default)]
struct CodeDict {
    keys: FxHashMap<i64, i32>,
    values: Vec<String>,
}

impl CodeDict {
    fn key(&mut self, code: i64, make: impl FnOnce() -> String) -> i32 {
        if let Some(&k) = self.keys.get(&code) {
            return k;
        }
        let k = self.values.len() as i32;
        self.values.push(make());
        self.keys.insert(code, k);
        k
    }
}

/// Valid UTF-8 text of capture bytes (invalid sequences become U+FFFD, as the reference stores them).
pub fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

pub struct BatchBuilder {
    pub batch_id: u64,
    pub tsnaps: Vec<TSnap>,
    pub fsnaps: Vec<FSnap>,
    num: Int64Builder,
    rawtime: Vec<u64>,
    cpu: Vec<u16>,
    type_id: Vec<u16>,
    syscall_id: Vec<Option<u16>>,
    visible: Vec<bool>,
    offset: Vec<u64>,
    flags: Vec<u32>,
    tid: Vec<i64>,
    res: Vec<Option<i64>>,
    latency: Int64Builder,
    buflen: Int64Builder,
    fdnum: Int64Builder,
    tsnap: Vec<i32>,
    fsnap: Vec<i32>,
    evt_type: Vec<i32>,
    type_dict: CodeDict,
    category: Vec<Option<i32>>,
    cat_keys: FxHashMap<&'static str, i32>,
    cat_values: Vec<String>,
    args: StringBuilder,
    info: StringBuilder,
    buf: BinaryBuilder,
    params: ListBuilder<BinaryBuilder>,
}

impl BatchBuilder {
    pub fn new(batch_id: u64, capacity: usize) -> BatchBuilder {
        BatchBuilder {
            batch_id,
            tsnaps: Vec::new(),
            fsnaps: Vec::new(),
            num: Int64Builder::with_capacity(capacity),
            rawtime: Vec::with_capacity(capacity),
            cpu: Vec::with_capacity(capacity),
            type_id: Vec::with_capacity(capacity),
            syscall_id: Vec::with_capacity(capacity),
            visible: Vec::with_capacity(capacity),
            offset: Vec::with_capacity(capacity),
            flags: Vec::with_capacity(capacity),
            tid: Vec::with_capacity(capacity),
            res: Vec::with_capacity(capacity),
            latency: Int64Builder::with_capacity(capacity),
            buflen: Int64Builder::with_capacity(capacity),
            fdnum: Int64Builder::with_capacity(capacity),
            tsnap: Vec::with_capacity(capacity),
            fsnap: Vec::with_capacity(capacity),
            evt_type: Vec::with_capacity(capacity),
            type_dict: CodeDict::default(),
            category: Vec::with_capacity(capacity),
            cat_keys: FxHashMap::default(),
            cat_values: Vec::new(),
            args: StringBuilder::with_capacity(capacity, capacity * 48),
            info: StringBuilder::new(),
            buf: BinaryBuilder::with_capacity(capacity, capacity * 16),
            params: ListBuilder::with_capacity(
                BinaryBuilder::with_capacity(capacity * 4, capacity * 48),
                capacity,
            ),
        }
    }

    pub fn len(&self) -> usize {
        self.rawtime.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rawtime.is_empty()
    }

    /// The header fields and raw parameters of an event.
    #[allow(clippy::too_many_arguments)]
    pub fn header(
        &mut self,
        offset: u64,
        cpu: u16,
        flags: u32,
        ts: u64,
        tid: i64,
        etype: u16,
        params: Params,
    ) {
        self.offset.push(offset);
        self.cpu.push(cpu);
        self.flags.push(flags);
        self.rawtime.push(ts);
        self.tid.push(tid);
        self.type_id.push(etype);
        let generic = etype == crate::events::GENERIC_E || etype == crate::events::GENERIC_X;
        let code = if generic {
            params.get(0).and_then(crate::render::args::u16_of)
        } else {
            None
        };
        self.syscall_id.push(code);
        let values = self.params.values();
        for i in 0..params.len() {
            values.append_value(params.get(i).unwrap_or_default());
        }
        self.params.append(true);
    }

    /// evt.type: the table's name, or an override (generic syscalls, unknown types) keyed by `code`.
    pub fn evt_type(&mut self, code: i64, make: impl FnOnce() -> String) {
        let k = self.type_dict.key(code, make);
        self.evt_type.push(k);
    }

    pub fn category(&mut self, cat: Option<&'static str>) {
        let k = cat.map(|c| match self.cat_keys.get(c) {
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
        self.num.append_option(num);
        self.visible.push(visible);
        match std::str::from_utf8(args) {
            Ok(s) => self.args.append_value(s),
            Err(_) => self.args.append_value(text(args)),
        }
        self.res.push(res);
        self.buflen.append_option(buflen);
        self.latency.append_option(latency);
        match buf {
            Some(b) => self.buf.append_value(b),
            None => self.buf.append_null(),
        }
        match info {
            Some(i) => self.info.append_value(text(i)),
            None => self.info.append_null(),
        }
        self.tsnap.push(tsnap);
    }

    pub fn fd(&mut self, fdnum: Option<i64>, fsnap: i32) {
        self.fdnum.append_option(fdnum);
        self.fsnap.push(fsnap);
    }

    pub fn push_tsnap(&mut self, s: TSnap) -> i32 {
        self.tsnaps.push(s);
        (self.tsnaps.len() - 1) as i32
    }

    pub fn push_fsnap(&mut self, s: FSnap) -> i32 {
        self.fsnaps.push(s);
        (self.fsnaps.len() - 1) as i32
    }

    pub fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        let n = self.len();
        let res = Int64Array::from(self.res.clone());
        let mut res_dict = CodeDict::default();
        let res_keys: Vec<Option<i32>> = self
            .res
            .iter()
            .map(|r| r.map(|r| res_dict.key(if r >= 0 { 0 } else { r }, || res_name(r))))
            .collect();
        let failed: Vec<bool> = self.res.iter().map(|r| r.is_some_and(|r| r < 0)).collect();
        let dir_keys: Vec<i32> = self.type_id.iter().map(|t| i32::from(t & 1)).collect();
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.num.finish()),
            Arc::new(UInt64Array::from(std::mem::take(&mut self.rawtime))),
            Arc::new(UInt16Array::from(std::mem::take(&mut self.cpu))),
            dict_array(
                dir_keys.into_iter().map(Some).collect(),
                vec![">".into(), "<".into()],
            )?,
            dict_array(
                self.evt_type.iter().map(|&k| Some(k)).collect(),
                std::mem::take(&mut self.type_dict.values),
            )?,
            dict_array(
                std::mem::take(&mut self.category),
                std::mem::take(&mut self.cat_values),
            )?,
            Arc::new(res),
            dict_array(res_keys, res_dict.values)?,
            Arc::new(BooleanArray::from(failed)),
            Arc::new(self.latency.finish()),
            Arc::new(self.args.finish()),
            Arc::new(self.buf.finish()),
            Arc::new(self.buflen.finish()),
            Arc::new(Int64Array::from(std::mem::take(&mut self.tid))),
        ];
        cols.extend(thread_columns(&self.tsnaps, &self.tsnap)?);
        cols.push(Arc::new(self.fdnum.finish()));
        cols.extend(fd_columns(&self.fsnaps, &self.fsnap)?);
        cols.push(Arc::new(UInt16Array::from(std::mem::take(
            &mut self.type_id,
        ))));
        cols.push(Arc::new(UInt16Array::from(std::mem::take(
            &mut self.syscall_id,
        ))));
        cols.push(Arc::new(BooleanArray::from(std::mem::take(
            &mut self.visible,
        ))));
        cols.push(Arc::new(UInt64Array::from(std::mem::take(
            &mut self.offset,
        ))));
        cols.push(Arc::new(UInt32Array::from(std::mem::take(&mut self.flags))));
        cols.push(Arc::new(self.params.finish()));
        cols.push(Arc::new(self.info.finish()));
        debug_assert!(cols.iter().all(|c| c.len() == n));
        RecordBatch::try_new(schema(), cols)
    }
}

/// evt.res: SUCCESS, the errno name, or the number when unknown.
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

fn dict_array(keys: Vec<Option<i32>>, values: Vec<String>) -> Result<ArrayRef, ArrowError> {
    let values = StringArray::from(values);
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
        Int32Array::from(keys),
        Arc::new(values),
    )?))
}

/// A dictionary column gathered from per-snapshot values (`None` values and index -1 are null).
fn gathered_dict<'a>(
    idx: &[i32],
    count: usize,
    value: impl Fn(usize) -> Option<std::borrow::Cow<'a, [u8]>>,
) -> Result<ArrayRef, ArrowError> {
    let mut keys_of_snap: Vec<Option<i32>> = Vec::with_capacity(count);
    let mut seen: FxHashMap<Vec<u8>, i32> = FxHashMap::default();
    let mut values: Vec<String> = Vec::new();
    for s in 0..count {
        keys_of_snap.push(value(s).map(|v| {
            if let Some(&k) = seen.get(v.as_ref()) {
                return k;
            }
            let k = values.len() as i32;
            values.push(text(&v).into_owned());
            seen.insert(v.into_owned(), k);
            k
        }));
    }
    let keys: Vec<Option<i32>> = idx
        .iter()
        .map(|&i| {
            if i < 0 {
                None
            } else {
                keys_of_snap[i as usize]
            }
        })
        .collect();
    dict_array(keys, values)
}

fn gathered<T: Copy>(idx: &[i32], value: impl Fn(usize) -> Option<T>) -> Vec<Option<T>> {
    idx.iter()
        .map(|&i| if i < 0 { None } else { value(i as usize) })
        .collect()
}

fn borrowed(v: &Option<Vec<u8>>) -> Option<std::borrow::Cow<'_, [u8]>> {
    v.as_deref().map(std::borrow::Cow::Borrowed)
}

fn thread_columns(s: &[TSnap], idx: &[i32]) -> Result<Vec<ArrayRef>, ArrowError> {
    let n = s.len();
    let b = |v: &[u8]| -> Option<std::borrow::Cow<'_, [u8]>> {
        Some(std::borrow::Cow::Owned(v.to_vec()))
    };
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(gathered(idx, |i| Some(s[i].pid)))),
        Arc::new(Int64Array::from(gathered(idx, |i| Some(s[i].ppid)))),
        gathered_dict(idx, n, |i| borrowed(&s[i].name))?,
        gathered_dict(idx, n, |i| borrowed(&s[i].exe))?,
        gathered_dict(idx, n, |i| b(&s[i].exepath))?,
        gathered_dict(idx, n, |i| borrowed(&s[i].args))?,
        gathered_dict(idx, n, |i| b(&s[i].cwd))?,
        gathered_dict(idx, n, |i| borrowed(&s[i].pname))?,
        Arc::new(UInt32Array::from(gathered(idx, |i| Some(s[i].uid)))),
        gathered_dict(idx, n, |i| borrowed(&s[i].uname))?,
        Arc::new(Int64Array::from(gathered(idx, |i| Some(s[i].loginuid)))),
        Arc::new(UInt32Array::from(gathered(idx, |i| Some(s[i].gid)))),
        gathered_dict(idx, n, |i| borrowed(&s[i].gname))?,
        gathered_dict(idx, n, |i| b(&s[i].container))?,
        Arc::new(UInt64Array::from(gathered(idx, |i| Some(s[i].clone_ts)))),
    ];
    // ancestors: one list per event, gathered from the snapshot's list
    let mut apid_off = vec![0i32];
    let mut apid_vals: Vec<i64> = Vec::new();
    let mut aname = ListBuilder::new(StringBuilder::new());
    let mut valid = Vec::with_capacity(idx.len());
    for &i in idx {
        if i < 0 {
            valid.push(false);
            apid_off.push(apid_vals.len() as i32);
            aname.append(false);
            continue;
        }
        let snap = &s[i as usize];
        valid.push(true);
        apid_vals.extend_from_slice(&snap.apid);
        apid_off.push(apid_vals.len() as i32);
        for a in &snap.aname {
            aname.values().append_value(text(a));
        }
        aname.append(true);
    }
    let field = Arc::new(Field::new("item", DataType::Int64, true));
    let apid = ListArray::try_new(
        field,
        OffsetBuffer::new(ScalarBuffer::from(apid_off)),
        Arc::new(Int64Array::from(apid_vals)),
        Some(NullBuffer::from(valid)),
    )?;
    cols.push(Arc::new(apid));
    cols.push(Arc::new(aname.finish()));
    Ok(cols)
}

fn ip_text(ip: Option<Ip>) -> Option<std::borrow::Cow<'static, [u8]>> {
    ip.map(|ip| {
        let mut v = Vec::new();
        push_ip(&mut v, Some(ip));
        std::borrow::Cow::Owned(v)
    })
}

fn fd_columns(s: &[FSnap], idx: &[i32]) -> Result<Vec<ArrayRef>, ArrowError> {
    let n = s.len();
    let st = |v: Option<&'static str>| v.map(|v| std::borrow::Cow::Borrowed(v.as_bytes()));
    Ok(vec![
        gathered_dict(idx, n, |i| st(s[i].ftype))?,
        gathered_dict(idx, n, |i| st(Some(s[i].typechar)))?,
        gathered_dict(idx, n, |i| borrowed(&s[i].name))?,
        gathered_dict(idx, n, |i| ip_text(s[i].sip))?,
        Arc::new(UInt16Array::from(gathered(idx, |i| s[i].sport))),
        gathered_dict(idx, n, |i| ip_text(s[i].cip))?,
        Arc::new(UInt16Array::from(gathered(idx, |i| s[i].cport))),
        gathered_dict(idx, n, |i| st(s[i].l4proto))?,
    ])
}
