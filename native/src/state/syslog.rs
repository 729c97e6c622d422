//! The syslog protocol decoder of libsinsp: writes to a /dev/log socket get a readable evt.info.

const SEVERITIES: [&str; 8] = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"];
const PRI_MAX: usize = 15; // libsinsp's PRI_BUF_SIZE - 1

pub fn is_syslog_name(name: &[u8]) -> bool {
    crate::state::paths::contains(name, b"/dev/log")
}

/// `syslog sev=SEVERITY msg=MESSAGE` for a syslog datagram, None when it does not parse.
pub fn info_line(data: &[u8]) -> Option<Vec<u8>> {
    let mut j = 0;
    while 1 + j < data.len() && j < PRI_MAX && data[1 + j] != b'>' && data[1 + j] != 0 {
        j += 1;
    }
    if j == 0 || data.len() < j + 2 {
        return None;
    }
    let pri = &data[1..1 + j];
    if !pri.iter().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut value: u64 = 0;
    for &c in pri {
        value = value * 10 + u64::from(c - b'0');
    }
    let mut out = b"syslog sev=".to_vec();
    out.extend_from_slice(SEVERITIES[(value & 7) as usize].as_bytes());
    out.extend_from_slice(b" msg=");
    out.extend_from_slice(&data[j + 2..]);
    Some(out)
}
