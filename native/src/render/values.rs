//! Name tables and value renderers shared by evt.args and field output (errno, signals, flags, buffers).

use crate::events::flag_table;

/// errno value -> name, as libsinsp's errno_to_str (Linux numbering, kernel-internal codes included).
pub fn errno_str(n: u64) -> &'static str {
    const LOW: [&str; 126] = [
        "",
        "EPERM",
        "ENOENT",
        "ESRCH",
        "EINTR",
        "EIO",
        "ENXIO",
        "E2BIG",
        "ENOEXEC",
        "EBADF",
        "ECHILD",
        "EAGAIN",
        "ENOMEM",
        "EACCES",
        "EFAULT",
        "ENOTBLK",
        "EBUSY",
        "EEXIST",
        "EXDEV",
        "ENODEV",
        "ENOTDIR",
        "EISDIR",
        "EINVAL",
        "ENFILE",
        "EMFILE",
        "ENOTTY",
        "ETXTBSY",
        "EFBIG",
        "ENOSPC",
        "ESPIPE",
        "EROFS",
        "EMLINK",
        "EPIPE",
        "EDOM",
        "ERANGE",
        "EDEADLK",
        "ENAMETOOLONG",
        "ENOLCK",
        "ENOSYS",
        "ENOTEMPTY",
        "ELOOP",
        "",
        "ENOMSG",
        "EIDRM",
        "ECHRNG",
        "EL2NSYNC",
        "EL3HLT",
        "EL3RST",
        "ELNRNG",
        "EUNATCH",
        "ENOCSI",
        "EL2HLT",
        "EBADE",
        "EBADR",
        "EXFULL",
        "ENOANO",
        "EBADRQC",
        "EBADSLT",
        "",
        "EBFONT",
        "ENOSTR",
        "ENODATA",
        "ETIME",
        "ENOSR",
        "ENONET",
        "ENOPKG",
        "EREMOTE",
        "ENOLINK",
        "EADV",
        "ESRMNT",
        "ECOMM",
        "EPROTO",
        "EMULTIHOP",
        "EDOTDOT",
        "EBADMSG",
        "EOVERFLOW",
        "ENOTUNIQ",
        "EBADFD",
        "EREMCHG",
        "ELIBACC",
        "ELIBBAD",
        "ELIBSCN",
        "ELIBMAX",
        "ELIBEXEC",
        "EILSEQ",
        "ERESTART",
        "ESTRPIPE",
        "EUSERS",
        "ENOTSOCK",
        "EDESTADDRREQ",
        "EMSGSIZE",
        "EPROTOTYPE",
        "ENOPROTOOPT",
        "EPROTONOSUPPORT",
        "ESOCKTNOSUPPORT",
        "EOPNOTSUPP",
        "EPFNOSUPPORT",
        "EAFNOSUPPORT",
        "EADDRINUSE",
        "EADDRNOTAVAIL",
        "ENETDOWN",
        "ENETUNREACH",
        "ENETRESET",
        "ECONNABORTED",
        "ECONNRESET",
        "ENOBUFS",
        "EISCONN",
        "ENOTCONN",
        "ESHUTDOWN",
        "ETOOMANYREFS",
        "ETIMEDOUT",
        "ECONNREFUSED",
        "EHOSTDOWN",
        "EHOSTUNREACH",
        "EALREADY",
        "EINPROGRESS",
        "ESTALE",
        "EUCLEAN",
        "ENOTNAM",
        "ENAVAIL",
        "EISNAM",
        "EREMOTEIO",
        "EDQUOT",
        "ENOMEDIUM",
        "EMEDIUMTYPE",
        "ECANCELED",
    ];
    match n {
        0..=125 => LOW[n as usize],
        512 => "ERESTARTSYS",
        513 => "ERESTARTNOINTR",
        514 => "ERESTARTNOHAND",
        515 => "ENOIOCTLCMD",
        521 => "EBADHANDLE",
        522 => "ENOTSYNC",
        523 => "EBADCOOKIE",
        524 => "ENOTSUPP",
        525 => "ETOOSMALL",
        526 => "ESERVERFAULT",
        527 => "EBADTYPE",
        528 => "EJUKEBOX",
        529 => "EIOCBQUEUED",
        530 => "EIOCBRETRY",
        _ => "",
    }
}

/// Name of a negative return value (`-2` -> `ENOENT`), empty when unknown.
pub fn errno_name(res: i64) -> &'static str {
    if res < 0 {
        errno_str(res.unsigned_abs())
    } else {
        ""
    }
}

pub fn signal_name(s: u64) -> &'static str {
    const SIGNALS: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    SIGNALS.get(s as usize).copied().unwrap_or("")
}

/// A flag set as libsinsp renders it: names of matching bits in table order, separated by `|`.
pub fn flags_to_str(out: &mut Vec<u8>, val: u64, table: Option<u16>) {
    let Some(idx) = table else { return };
    let items = flag_table(idx);
    let initial = val;
    let mut val = val;
    let mut first = true;
    for &(name, fv) in items {
        let fv = u64::from(fv);
        let hit =
            if fv == initial { true } else { (fv == 0 && initial == 0) || (fv != 0 && (val & fv) == fv && val != 0) };
        if hit {
            if !first {
                out.push(b'|');
            }
            out.extend_from_slice(name.as_bytes());
            first = false;
            if fv == initial {
                break;
            }
            val &= !fv;
        }
    }
}

/// sysdig's m_max_evt_output_len: buffers in normal output are cut to this many characters.
pub const MAX_BUFFER_OUTPUT: usize = 80;

/// A byte buffer in sysdig's normal output: non-printable bytes as dots, cut to 80 characters ending "...".
pub fn buffer_normal(out: &mut Vec<u8>, data: &[u8]) {
    let dot = |c: u8| if (0x20..0x7f).contains(&c) { c } else { b'.' };
    if data.len() > MAX_BUFFER_OUTPUT {
        out.extend(data[..MAX_BUFFER_OUTPUT - 3].iter().map(|&c| dot(c)));
        out.extend_from_slice(b"...");
    } else {
        out.extend(data.iter().map(|&c| dot(c)));
    }
}

/// C's `%lg` as Python's `f"{x:g}"` writes it (6 significant digits, shortest form).
pub fn push_g(out: &mut Vec<u8>, x: f64) {
    use std::io::Write;
    if x == 0.0 {
        out.push(b'0');
        return;
    }
    if !x.is_finite() {
        let _ = write!(
            out,
            "{}",
            if x.is_nan() {
                "nan"
            } else if x > 0.0 {
                "inf"
            } else {
                "-inf"
            }
        );
        return;
    }
    // the decimal exponent after rounding to 6 significant digits
    let sci = format!("{x:.5e}");
    let (mant, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if !(-4..6).contains(&exp) {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "{mant}e{sign}{:02}", exp.abs());
    } else {
        let decimals = (5 - exp).max(0) as usize;
        let fixed = format!("{x:.decimals$}");
        out.extend_from_slice(trim_zeros(&fixed).as_bytes());
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(x: f64) -> String {
        let mut v = Vec::new();
        push_g(&mut v, x);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn g_format_matches_python() {
        assert_eq!(g(0.5), "0.5");
        assert_eq!(g(1.0), "1");
        assert_eq!(g(1e-9), "1e-09");
        assert_eq!(g(123456.0), "123456");
        assert_eq!(g(1234567.0), "1.23457e+06");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.00001234), "1.234e-05");
        assert_eq!(g(2.5), "2.5");
        assert_eq!(g(999999.5), "1e+06");
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(-2), "ENOENT");
        assert_eq!(errno_name(-41), "");
        assert_eq!(errno_name(-512), "ERESTARTSYS");
        assert_eq!(errno_name(i64::MIN), "");
    }
}
