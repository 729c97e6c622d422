//! Path joining exactly as libsinsp's `concatenate_paths` / `copy_and_sanitize_path` do it.
//!
//! This is not POSIX normalisation: a trailing `.` is dropped, `..` rewinds inside the whole joined string
//! (never above its second character), control characters become `.`, and a trailing separator is removed.

fn is_control(c: u8) -> bool {
    c < b' ' || c == 0x7f
}

/// True when sanitising cannot change `path`: no control character, no `./`, `..` or `//`, and no
/// trailing `/` or `.` (one pass).
fn clean(path: &[u8]) -> bool {
    let mut prev = 0u8;
    for &c in path {
        if is_control(c) || (prev == b'.' && (c == b'/' || c == b'.')) || (prev == b'/' && c == b'/') {
            return false;
        }
        prev = c;
    }
    prev != b'/' && prev != b'.'
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `base` (a working directory ending in `/`) joined with `path`; absolute paths ignore base.
pub fn concatenate_paths(base: &[u8], path: &[u8]) -> Vec<u8> {
    let absolute = path.first() == Some(&b'/');
    if !path.is_empty() && clean(path) && (absolute || (base.ends_with(b"/") && !contains(base, b"//"))) {
        if absolute {
            return path.to_vec();
        }
        let mut out = Vec::with_capacity(base.len() + path.len());
        out.extend_from_slice(base);
        out.extend_from_slice(path);
        return out;
    }
    if !path.is_empty() && !absolute {
        return sanitize_into(base.to_vec(), path);
    }
    sanitize_into(Vec::new(), path)
}

fn sanitize_into(mut target: Vec<u8>, path: &[u8]) -> Vec<u8> {
    let base_len = 0usize; // rewinds may reach back into the base
    let n = path.len();
    let mut i = 0;
    while i < n {
        let c = path[i];
        if is_control(c) {
            target.push(b'.');
            i += 1;
        } else if path[i..].starts_with(b"../") {
            rewind(&mut target, base_len);
            i += 3;
        } else if path[i..].starts_with(b"..") {
            if i + 2 == n {
                rewind(&mut target, base_len);
            } else {
                target.extend_from_slice(b"..");
            }
            i += 2;
        } else if path[i..].starts_with(b"./") {
            i += 2;
        } else if c == b'.' {
            if i + 1 != n {
                target.push(b'.');
            }
            i += 1;
        } else if c == b'/' {
            if target.last() != Some(&b'/') {
                target.push(b'/');
            }
            i += 1;
        } else {
            target.push(c);
            i += 1;
        }
    }
    if target.len() > 1 && target.last() == Some(&b'/') {
        target.pop();
    }
    target
}

fn rewind(target: &mut Vec<u8>, base_len: usize) {
    if target.len() <= base_len + 1 {
        return;
    }
    target.pop();
    while target.len() > base_len && target.last() != Some(&b'/') {
        target.pop();
    }
}

/// A working directory as libsinsp stores it: joined like any path, always ending in `/`.
pub fn as_cwd(mut path: Vec<u8>) -> Vec<u8> {
    if !path.ends_with(b"/") {
        path.push(b'/');
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(base: &str, path: &str) -> String {
        String::from_utf8(concatenate_paths(base.as_bytes(), path.as_bytes())).unwrap()
    }

    #[test]
    fn joins_like_libsinsp() {
        assert_eq!(j("/home/u/", "a.txt"), "/home/u/a.txt");
        assert_eq!(j("/home/u/", "/etc/passwd"), "/etc/passwd");
        assert_eq!(j("/home/u/", "../x"), "/home/x");
        assert_eq!(j("/", ".."), "/");
        assert_eq!(j("/a/b/", "."), "/a/b");
        assert_eq!(j("", "a//b/"), "a/b");
    }
}
