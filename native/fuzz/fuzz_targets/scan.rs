//! The reader and the state engine over arbitrary bytes (plain .scap, or gzip when the input starts so):
//! no panic, no hang, bounded allocation, every batch a valid table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysnb_core::columns::Want;
use sysnb_core::scan::Scan;
use sysnb_core::source;

fuzz_target!(|data: &[u8]| {
    let stream = match source::sniff(&data[..data.len().min(4)]) {
        Ok(source::Magic::Scap) => source::memory(data.to_vec()),
        Ok(source::Magic::Gzip) => source::gzip_memory(data.to_vec()),
        Err(_) => return,
    };
    // small batches: state carried across batch boundaries is exercised too
    let mut scan = Scan::new(stream, 257, Want::all());
    while let Some(batch) = scan.next_batch() {
        let batch = batch.expect("every batch builds");
        assert!(batch.num_rows() <= 257);
    }
});
