//! Event batches -> EV_V2/EVF_V2 blocks of a .scap file (the native twin of `sysnb.scap.writer.encode_events`).

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt16Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};

pub const EV_V2: u32 = 0x216;
pub const EVF_V2: u32 = 0x217;

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, String> {
    b.column_by_name(name).map(|c| c.as_ref()).ok_or_else(|| format!("event batch lacks the column {name}"))
}

/// The blocks of every event of `batch` (columns evt.cpu, sysnb.evt_flags, evt.rawtime, thread.tid,
/// sysnb.type_id, sysnb.params), appended to `out`. Parameters longer than 65535 bytes need a large-payload
/// block and are refused. Nulls read as 0.
pub fn encode_events(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), String> {
    let bad = || "event batch columns have unexpected types".to_string();
    let cpu = column(batch, "evt.cpu")?.as_primitive_opt::<UInt16Type>().ok_or_else(bad)?;
    let flags = column(batch, "sysnb.evt_flags")?.as_primitive_opt::<UInt32Type>().ok_or_else(bad)?;
    let ts = column(batch, "evt.rawtime")?.as_primitive_opt::<UInt64Type>().ok_or_else(bad)?;
    let tid = column(batch, "thread.tid")?.as_primitive_opt::<Int64Type>().ok_or_else(bad)?;
    let etype = column(batch, "sysnb.type_id")?.as_primitive_opt::<UInt16Type>().ok_or_else(bad)?;
    let params = column(batch, "sysnb.params")?.as_list_opt::<i32>().ok_or_else(bad)?;
    let values = params.values().as_binary_opt::<i32>().ok_or_else(bad)?;
    let (voff, data) = (values.value_offsets(), values.value_data());
    let loff = params.value_offsets();
    for i in 0..batch.num_rows() {
        let (lo, hi) = if params.is_null(i) { (0, 0) } else { (loff[i] as usize, loff[i + 1] as usize) };
        let mut vsum = 0usize;
        for j in lo..hi {
            let len = (voff[j + 1] - voff[j]) as usize;
            if len > 0xFFFF {
                return Err("a parameter longer than 65535 bytes needs a large-payload event type".into());
            }
            vsum += len;
        }
        let f = if flags.is_null(i) { 0 } else { flags.value(i) };
        let nparams = hi - lo;
        let hdr_len = if f != 0 { 40 } else { 36 };
        let body = hdr_len - 8 + 2 * nparams + vsum;
        let blen = (8 + body + 4).div_ceil(4) * 4;
        out.extend_from_slice(&(if f != 0 { EVF_V2 } else { EV_V2 }).to_le_bytes());
        out.extend_from_slice(&(blen as u32).to_le_bytes());
        out.extend_from_slice(&cpu.value(i).to_le_bytes());
        if f != 0 {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out.extend_from_slice(&ts.value(i).to_le_bytes());
        out.extend_from_slice(&tid.value(i).to_le_bytes());
        out.extend_from_slice(&((26 + 2 * nparams + vsum) as u32).to_le_bytes());
        out.extend_from_slice(&etype.value(i).to_le_bytes());
        out.extend_from_slice(&(nparams as u32).to_le_bytes());
        for j in lo..hi {
            out.extend_from_slice(&((voff[j + 1] - voff[j]) as u16).to_le_bytes());
        }
        out.extend_from_slice(&data[voff[lo] as usize..voff[hi] as usize]);
        out.resize(out.len() + blen - (8 + body + 4), 0);
        out.extend_from_slice(&(blen as u32).to_le_bytes());
    }
    Ok(())
}
