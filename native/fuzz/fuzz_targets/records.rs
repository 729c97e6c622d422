//! The live recorder's record converter and the .scap block encoder over arbitrary record rows (what a
//! damaged or hostile spill hands `sysnb --recover`): no panic, every batch a valid, time-ordered table
//! whose blocks encode.
#![no_main]

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use libfuzzer_sys::fuzz_target;
use sysnb_core::record::convert::{Converter, SyscallRow};
use sysnb_core::record::encode::encode_events;

fn table() -> Vec<SyscallRow> {
    let rows: &[(u16, &str, u16, u16, u16)] = &[
        (0, "read", 6, 7, 3),
        (1, "write", 8, 9, 4),
        (42, "connect", 22, 23, 243),
        (43, "accept", 246, 247, 245),
        (44, "sendto", 30, 31, 249),
        (45, "recvfrom", 34, 35, 250),
        (49, "bind", 20, 21, 242),
        (56, "clone", 222, 223, 327),
        (59, "execve", 292, 293, 324),
        (101, "ptrace", 168, 169, 18),
        (105, "setuid", 198, 199, 133),
        (257, "openat", 306, 307, 197),
        (268, "fchmodat", 312, 313, 207),
        (322, "execveat", 330, 331, 325),
        (435, "clone3", 334, 335, 328),
    ];
    rows.iter().map(|&(nr, n, e, x, sc)| (nr, n.to_string(), Some(e), Some(x), Some(sc))).collect()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    // the first bytes choose the payload widths and where the small, mid and big rows split
    let (mid_width, big_width) = (usize::from(data[0]) * 4, usize::from(data[1]) * 4);
    let rest = &data[4..];
    let a = (usize::from(data[2]) * rest.len() / 256).min(rest.len());
    let b = (a + usize::from(data[3]) * (rest.len() - a) / 256).min(rest.len());
    let conv = Converter::new(&table());
    let batch = conv
        .convert(&rest[..a], (&rest[a..b], mid_width), (&rest[b..], big_width), 1 << 60)
        .expect("a batch of records converts");
    let ts = batch.column(2).as_primitive::<UInt64Type>();
    assert!(ts.values().windows(2).all(|w| w[0].wrapping_sub(1 << 60) <= w[1].wrapping_sub(1 << 60)));
    let mut out = Vec::new();
    if encode_events(&batch, &mut out).is_ok() {
        assert_eq!(out.len() % 4, 0);
    }
});
