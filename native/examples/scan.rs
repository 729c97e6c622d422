//! Replays a capture and prints how many rows and batches it made: `cargo run --release --example scan FILE`.

fn main() {
    let path = std::env::args().nth(1).expect("usage: scan FILE");
    let stream = sysnb_core::source::open_file(&path).expect("open");
    let want = match std::env::args().nth(2) {
        Some(cols) => {
            sysnb_core::columns::Want::named(&cols.split(',').map(String::from).collect::<Vec<_>>()).expect("columns")
        }
        None => sysnb_core::columns::Want::all(),
    };
    let mut scan = sysnb_core::scan::Scan::new(stream, 65536, want);
    let t = std::time::Instant::now();
    let (mut rows, mut batches, mut bytes) = (0usize, 0usize, 0usize);
    while let Some(b) = scan.next_batch() {
        let b = b.expect("batch");
        rows += b.num_rows();
        bytes += b.get_array_memory_size();
        batches += 1;
    }
    println!("{rows} rows, {batches} batches, {bytes} bytes of arrays, {:?}, damage {:?}", t.elapsed(), scan.damage);
}
