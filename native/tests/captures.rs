//! The core over the repository's bundled captures (tests/fixtures): whole reads, damage, limits.

use std::path::PathBuf;

use sysnb_core::columns::Want;
use sysnb_core::scan::Scan;
use sysnb_core::source;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name)
}

fn raw(name: &str) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let f = std::fs::File::open(fixture(name)).expect("fixture");
    flate2::read::MultiGzDecoder::new(f).read_to_end(&mut out).expect("gzip");
    out
}

fn rows(stream: source::Stream, batch: usize) -> (usize, Scan) {
    let mut scan = Scan::new(stream, batch, Want::all());
    let mut n = 0;
    while let Some(b) = scan.next_batch() {
        n += b.expect("batch").num_rows();
    }
    (n, scan)
}

#[test]
fn reads_a_gzip_capture_whole() {
    let path = fixture("falco/cat_write.scap.gz");
    let stream = source::open_file(path.to_str().unwrap()).unwrap();
    let (n, scan) = rows(stream, 100);
    assert_eq!(n, 345); // SOURCES.md: 345 event blocks
    assert!(scan.damage.is_none());
    assert_eq!(scan.sections.len(), 1);
    assert_eq!(scan.sections[0].hostname.as_deref(), Some(&b"ubuntu"[..]));
}

#[test]
fn truncation_keeps_every_event_before_the_damage() {
    let data = raw("falco/cat_write.scap.gz");
    let (full, _) = rows(source::memory(data.clone()), 1000);
    let mut last = 0;
    for cut in (0..data.len()).step_by(997) {
        let (n, scan) = rows(source::memory(data[..cut].to_vec()), 64);
        assert!(n <= full && n >= last, "cut {cut}: {n} rows after {last}");
        last = n;
        // (a cut exactly between two blocks is a shorter, whole capture)
        if let Some(d) = scan.damage {
            assert!(d.offset <= cut as u64);
        }
    }
}

#[test]
fn a_hostile_block_length_is_refused_without_allocating_it() {
    let mut data = raw("falco/cat_write.scap.gz");
    // the second block claims 3.9 GB
    let second = u32::from_le_bytes(data[4..8].try_into().unwrap()) as usize;
    data[second + 4..second + 8].copy_from_slice(&0xF000_0000u32.to_le_bytes());
    let (n, scan) = rows(source::memory(data), 64);
    assert_eq!(n, 0);
    let d = scan.damage.expect("damage");
    assert_eq!(d.offset, second as u64);
    assert!(d.message.contains("exceeds"), "{}", d.message);
}

#[test]
fn gzip_cut_short_keeps_what_was_decompressed_and_names_the_compressed_offset() {
    let gz = std::fs::read(fixture("falco/cat_write.scap.gz")).unwrap();
    let (n, scan) = rows(source::gzip_memory(gz[..gz.len() * 9 / 10].to_vec()), 64);
    assert!(n > 0 && n < 345, "{n}");
    let d = scan.damage.expect("damage");
    assert!(d.compressed_offset.is_some_and(|c| c as usize <= gz.len()));
}

#[test]
fn not_a_capture_is_named() {
    assert!(source::sniff(b"PK\x03\x04").unwrap_err().contains("not a .scap capture"));
    assert!(source::sniff(b"").unwrap_err().contains("empty"));
    assert!(source::sniff(&[0x28, 0xb5, 0x2f, 0xfd]).unwrap_err().contains("Zstandard"));
}

#[test]
fn a_projected_scan_builds_only_the_named_columns() {
    let data = raw("falco/cat_write.scap.gz");
    let want = Want::named(&["evt.num".into(), "fd.name".into()]).unwrap();
    let mut scan = Scan::new(source::memory(data), 1000, want);
    let b = scan.next_batch().unwrap().unwrap();
    let schema = b.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["evt.num", "fd.name"]);
    assert!(Want::named(&["no.such".into()]).is_err());
}
