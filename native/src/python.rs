//! The Python module `sysnb._core` (the FFI edge).
//!
//! Batches cross into pyarrow through the Arrow C data interface (no copy). Every entry point catches
//! panics and raises a Python `RuntimeError` instead, so no panic crosses into Python; a scanner that
//! panicked is marked broken and refuses further use.

use std::panic::{catch_unwind, AssertUnwindSafe};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt16Type, UInt32Type, UInt64Type};
use arrow_array::Array;
use arrow_array::RecordBatch;
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::columns::Want;
use crate::reader::{Damage, Item, RawEvent, Reader};
use crate::record::convert::{Converter, SyscallRow};
use crate::record::layout::DATA_MAX;
use crate::scan::Scan;
use crate::source;
use crate::state::engine::Engine;

fn guarded<T>(what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!(
                "internal error in sysnb's native core ({what}): {msg}; please report it with the capture \
                 (open it with engine=\"reference\" meanwhile)"
            )))
        }
    }
}

fn arrow_err(e: arrow_schema::ArrowError) -> PyErr {
    PyRuntimeError::new_err(format!("native core: {e}"))
}

fn damage_dict<'py>(py: Python<'py>, d: &Damage) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("message", &d.message)?;
    out.set_item("offset", d.offset)?;
    out.set_item("block", d.block.clone())?;
    out.set_item("compressed_offset", d.compressed_offset)?;
    Ok(out)
}

fn wanted(columns: Option<Vec<String>>) -> PyResult<Want> {
    match columns {
        None => Ok(Want::all()),
        Some(names) => Want::named(&names).map_err(PyValueError::new_err),
    }
}

fn bytes_str(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A capture replayed batch by batch: iterate it for pyarrow RecordBatches (the table schema of
/// `sysnb.state.columns.SCHEMA`); afterwards `damage`, `sections` and `containers` describe it.
#[pyclass(unsendable, module = "sysnb._core")]
pub struct Scanner {
    scan: Scan,
    broken: bool,
}

#[pymethods]
impl Scanner {
    /// `args_types`: render `evt.args` only for these event type ids (the others get an empty string): for a
    /// reader whose filter can match only those types.
    #[new]
    #[pyo3(signature = (path, batch_size = 65536, columns = None, args_types = None))]
    fn new(
        path: &str,
        batch_size: usize,
        columns: Option<Vec<String>>,
        args_types: Option<Vec<u16>>,
    ) -> PyResult<Scanner> {
        guarded("open", || {
            let want = wanted(columns)?;
            let stream = source::open_file(path).map_err(PyValueError::new_err)?;
            let mut scan = Scan::new(stream, batch_size, want);
            if let Some(types) = args_types {
                let mut allowed = vec![false; usize::from(u16::MAX) + 1];
                for t in types {
                    allowed[usize::from(t)] = true;
                }
                scan.engine.args_types = Some(allowed);
            }
            Ok(Scanner { scan, broken: false })
        })
    }

    /// A scanner over capture bytes held in memory (tests, fuzzing).
    #[staticmethod]
    #[pyo3(signature = (data, batch_size = 65536, columns = None))]
    fn from_bytes(data: &[u8], batch_size: usize, columns: Option<Vec<String>>) -> PyResult<Scanner> {
        guarded("open", || {
            let want = wanted(columns)?;
            let head = &data[..data.len().min(4)];
            let stream = match source::sniff(head).map_err(PyValueError::new_err)? {
                source::Magic::Scap => source::memory(data.to_vec()),
                source::Magic::Gzip => source::gzip_memory(data.to_vec()),
            };
            Ok(Scanner { scan: Scan::new(stream, batch_size, want), broken: false })
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        if self.broken {
            return Err(PyRuntimeError::new_err("this scanner failed earlier and cannot continue"));
        }
        let r = guarded("scan", || Ok(self.scan.next_batch()));
        let next = match r {
            Ok(n) => n,
            Err(e) => {
                self.broken = true;
                return Err(e);
            }
        };
        match next {
            None => Ok(None),
            Some(Err(e)) => Err(arrow_err(e)),
            Some(Ok(batch)) => Ok(Some(batch.to_pyarrow(py)?.unbind())),
        }
    }

    /// Bytes read so far: (uncompressed, compressed or None).
    #[getter]
    fn position(&self) -> (u64, Option<u64>) {
        self.scan.position()
    }

    /// Rows produced so far.
    #[getter]
    fn events(&self) -> u64 {
        self.scan.events
    }

    /// Where the capture is damaged (message, offset, block, compressed_offset), or None.
    #[getter]
    fn damage<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.scan.damage.as_ref().map(|d| damage_dict(py, d)).transpose()
    }

    /// One dict per section read: offset, version, hostname, num_cpus, boot_ts.
    #[getter]
    fn sections<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for s in &self.scan.sections {
            let d = PyDict::new(py);
            d.set_item("offset", s.offset)?;
            d.set_item("version", s.version)?;
            d.set_item("hostname", s.hostname.as_deref().map(bytes_str))?;
            d.set_item("num_cpus", s.num_cpus)?;
            d.set_item("boot_ts", s.boot_ts)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// (container id, JSON object) pairs, in order of first appearance.
    #[getter]
    fn containers(&self) -> Vec<(String, String)> {
        self.scan.engine.containers.iter().map(|(id, json)| (bytes_str(id), json.clone())).collect()
    }
}

/// The state engine fed from outside (the live recorder): start state from a section's metadata blocks
/// (.scap bytes: a section header and list blocks), then event batches with the columns evt.cpu,
/// sysnb.evt_flags, evt.rawtime, thread.tid, sysnb.type_id and sysnb.params.
#[pyclass(unsendable, module = "sysnb._core")]
pub struct LiveEngine {
    engine: Engine,
    offset: u64,
    want: Want,
}

#[pymethods]
impl LiveEngine {
    #[new]
    #[pyo3(signature = (section, columns = None))]
    fn new(section: &[u8], columns: Option<Vec<String>>) -> PyResult<LiveEngine> {
        guarded("start state", || {
            let want = wanted(columns)?;
            let mut reader = Reader::new(source::memory(section.to_vec()));
            let mut engine = Engine::new();
            while let Some(item) = reader.next() {
                match item {
                    Ok(Item::Section(s)) => engine.load_section(&s),
                    Ok(Item::Event(_)) => {}
                    Err(d) => return Err(PyValueError::new_err(format!("start state: {d}"))),
                }
            }
            Ok(LiveEngine { engine, offset: 0, want })
        })
    }

    /// The table rows of a batch of raw events (in time order).
    fn process(&mut self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let input = RecordBatch::from_pyarrow_bound(batch)?;
        let out = guarded("live batch", || live_batch(&mut self.engine, &mut self.offset, self.want, &input))?;
        Ok(out.to_pyarrow(py)?.unbind())
    }
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> PyResult<&'a dyn Array> {
    b.column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| PyValueError::new_err(format!("event batch lacks the column {name}")))
}

fn live_batch(engine: &mut Engine, offset: &mut u64, want: Want, input: &RecordBatch) -> PyResult<RecordBatch> {
    let cpu = column(input, "evt.cpu")?.as_primitive_opt::<UInt16Type>();
    let flags = column(input, "sysnb.evt_flags")?.as_primitive_opt::<UInt32Type>();
    let ts = column(input, "evt.rawtime")?.as_primitive_opt::<UInt64Type>();
    let tid = column(input, "thread.tid")?.as_primitive_opt::<Int64Type>();
    let etype = column(input, "sysnb.type_id")?.as_primitive_opt::<UInt16Type>();
    let params = column(input, "sysnb.params")?.as_list_opt::<i32>();
    let (Some(cpu), Some(flags), Some(ts), Some(tid), Some(etype), Some(params)) = (cpu, flags, ts, tid, etype, params)
    else {
        return Err(PyValueError::new_err("event batch columns have unexpected types"));
    };
    let values = params
        .values()
        .as_binary_opt::<i32>()
        .ok_or_else(|| PyValueError::new_err("sysnb.params is not list<binary>"))?;
    let data = values.value_data();
    let voff = values.value_offsets();
    let base = voff.first().copied().unwrap_or(0) as usize;
    let data = &data[base..];
    let loff = params.value_offsets();
    let mut out = engine.new_batch(input.num_rows(), want);
    let mut spans: Vec<(u32, u32)> = Vec::with_capacity(16);
    for i in 0..input.num_rows() {
        spans.clear();
        for j in loff[i] as usize..loff[i + 1] as usize {
            let (a, b) = (voff[j] as usize - base, voff[j + 1] as usize - base);
            spans.push((a as u32, (b - a) as u32));
        }
        let ev = RawEvent {
            offset: *offset,
            cpu: cpu.value(i),
            flags: flags.value(i),
            ts: ts.value(i),
            tid: tid.value(i),
            etype: etype.value(i),
            data,
            spans: &spans,
        };
        engine.process(&ev, &mut out);
        *offset += 1;
    }
    engine.sizes = out.sizes(engine.sizes);
    out.finish().map_err(arrow_err)
}

/// The recorder's records -> event batches (`sysnb.record.convert.convert`, natively).
#[pyclass(frozen, module = "sysnb._core")]
pub struct RecordConverter {
    converter: Converter,
}

#[pymethods]
impl RecordConverter {
    /// `syscalls`: (number, name, enter type, exit type, PPM_SC code) of every syscall the table knows.
    #[new]
    fn new(syscalls: Vec<SyscallRow>) -> PyResult<RecordConverter> {
        guarded("syscall table", || Ok(RecordConverter { converter: Converter::new(&syscalls) }))
    }

    /// The event batch (time order) of raw record rows: small, mid and big records, the payload width of
    /// the mid and big rows, and the boot-clock -> epoch offset. Runs without the GIL (the recorder's drain
    /// thread goes on meanwhile).
    #[pyo3(signature = (small, mid, mid_width, big, big_width, boot_offset))]
    #[allow(clippy::too_many_arguments)] // the Python signature: three record kinds, two widths, the offset
    fn convert(
        &self,
        py: Python<'_>,
        small: &[u8],
        mid: &[u8],
        mid_width: usize,
        big: &[u8],
        big_width: usize,
        boot_offset: u64,
    ) -> PyResult<Py<PyAny>> {
        if mid_width > DATA_MAX || big_width > DATA_MAX {
            return Err(PyValueError::new_err(format!(
                "record payload width {} exceeds the recorder's {DATA_MAX} bytes",
                mid_width.max(big_width)
            )));
        }
        let batch = py.detach(|| {
            guarded("record conversion", || {
                self.converter.convert(small, (mid, mid_width), (big, big_width), boot_offset).map_err(arrow_err)
            })
        })?;
        Ok(batch.to_pyarrow(py)?.unbind())
    }
}

/// EV_V2/EVF_V2 blocks of an event batch (`sysnb.scap.writer.encode_events`, natively).
#[pyfunction]
fn encode_events<'py>(py: Python<'py>, batch: &Bound<'_, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let input = RecordBatch::from_pyarrow_bound(batch)?;
    let out = py.detach(|| {
        guarded("event encoding", || {
            let mut out = Vec::with_capacity(input.get_array_memory_size() + 48 * input.num_rows());
            crate::record::encode::encode_events(&input, &mut out).map_err(PyValueError::new_err)?;
            Ok(out)
        })
    })?;
    Ok(PyBytes::new(py, &out))
}

/// The table schema the native core produces (of the named columns only, when given).
#[pyfunction]
#[pyo3(signature = (columns = None))]
fn schema(py: Python<'_>, columns: Option<Vec<String>>) -> PyResult<Py<PyAny>> {
    Ok(wanted(columns)?.schema().to_pyarrow(py)?.unbind())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scanner>()?;
    m.add_class::<LiveEngine>()?;
    m.add_class::<RecordConverter>()?;
    m.add_function(wrap_pyfunction!(schema, m)?)?;
    m.add_function(wrap_pyfunction!(encode_events, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let _ = PyBytes::new(m.py(), b"");
    Ok(())
}
