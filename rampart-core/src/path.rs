//! Lexical path cleaning, the one implementation every part uses: Go's
//! `filepath.Clean` (one slash between names, no `.`, `..` removed with the
//! name before it and never above `/`, no trailing slash, `.` for an empty
//! relative result), optionally after joining a relative path to a base
//! directory.
//!
//! The preload library cleans into a caller-provided buffer without
//! allocating ([`clean_join_into`]); the tracer, the engine, the generator
//! and `run` use the allocating [`clean`] and [`join`] built on it. The
//! path screen ([`crate::screen`]) asks [`is_clean`] whether a name is in
//! this form. Paths are bytes: cleaning only splits at `/`, so valid UTF-8
//! stays valid.
//!
//! Pure byte work: it never touches the file system (symlinks stay as the
//! program wrote them), never allocates in the `no_std` part and never
//! panics.

use core::mem::MaybeUninit;

/// A bounded output buffer that can read back what it wrote.
struct Out<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    len: usize,
    cut: bool,
    rooted: bool,
    /// Length of the leading `..` components of a relative result, which a
    /// later `..` cannot remove.
    floor: usize,
}

impl Out<'_> {
    fn push(&mut self, b: u8) -> bool {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                slot.write(b);
                self.len += 1;
                true
            }
            None => {
                self.cut = true;
                false
            }
        }
    }

    fn push_all(&mut self, bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| self.push(b))
    }

    fn byte(&self, i: usize) -> u8 {
        // SAFETY: callers only read below `len`, which was written.
        self.buf.get(i).map_or(0, |b| unsafe { b.assume_init() })
    }

    /// Drop the last name ("/a/b" → "/a", "/a" → "", "a/b" → "a", "a" → "").
    fn pop(&mut self) {
        while self.len > self.floor {
            self.len -= 1;
            if self.byte(self.len) == b'/' {
                break;
            }
        }
    }

    /// A separator before the next name, unless it is the first name of a
    /// relative result.
    fn separate(&mut self) -> bool {
        if self.rooted || self.len > 0 {
            self.push(b'/')
        } else {
            true
        }
    }

    fn components(&mut self, p: &[u8]) {
        for name in p.split(|&b| b == b'/') {
            if self.cut {
                return;
            }
            match name {
                b"" | b"." => {}
                b".." if self.len > self.floor => self.pop(),
                b".." if self.rooted => {} // never above `/`
                b".." => {
                    if self.separate() && self.push_all(b"..") {
                        self.floor = self.len;
                    }
                }
                name => {
                    if self.separate() {
                        self.push_all(name);
                    }
                }
            }
        }
    }
}

/// `rel` joined to `base` when it is relative (an absolute `rel` ignores
/// `base`), then cleaned, written into `out`: `(len, cut)`. `cut` says that
/// `out` was too small and holds only a prefix. The result is absolute when
/// `rel` or `base` is; an empty result is `/` or `.`.
pub fn clean_join_into(base: &[u8], rel: &[u8], out: &mut [MaybeUninit<u8>]) -> (usize, bool) {
    let joined = rel.first() != Some(&b'/');
    let rooted = if joined {
        base.first() == Some(&b'/')
    } else {
        true
    };
    let mut o = Out {
        buf: out,
        len: 0,
        cut: false,
        rooted,
        floor: 0,
    };
    if joined {
        o.components(base);
    }
    o.components(rel);
    if o.len == 0 && !o.cut {
        o.push(if rooted { b'/' } else { b'.' });
    }
    (o.len, o.cut)
}

/// Whether `path` is already in the form [`clean_join_into`] writes, so
/// that cleaning would not change it.
pub fn is_clean(path: &[u8]) -> bool {
    match path {
        [] => false,
        b"/" | b"." => true,
        _ => {
            let rooted = path[0] == b'/';
            let body = if rooted { &path[1..] } else { path };
            let mut names_seen = false;
            for name in body.split(|&b| b == b'/') {
                match name {
                    b"" | b"." => return false,
                    // A leading run of `..` is clean in a relative path.
                    b".." if rooted || names_seen => return false,
                    b".." => {}
                    _ => names_seen = true,
                }
            }
            true
        }
    }
}

#[cfg(feature = "event")]
mod owned {
    use std::borrow::Cow;

    /// `path` cleaned (Go's `filepath.Clean`); borrowed when already clean.
    pub fn clean(path: &str) -> Cow<'_, str> {
        join("", path)
    }

    /// `path` joined to `base` when it is relative, then cleaned; borrowed
    /// when `path` is absolute or `base` empty and it is already clean.
    pub fn join<'a>(base: &str, path: &'a str) -> Cow<'a, str> {
        let joined = !path.starts_with('/') && !base.is_empty();
        if !joined && super::is_clean(path.as_bytes()) {
            return Cow::Borrowed(path);
        }
        let mut out = Vec::with_capacity(base.len() + path.len() + 2);
        let (len, cut) =
            super::clean_join_into(base.as_bytes(), path.as_bytes(), out.spare_capacity_mut());
        debug_assert!(!cut, "the result is never longer than its inputs");
        // SAFETY: `clean_join_into` initialised the first `len` bytes.
        unsafe { out.set_len(len) };
        // Cleaning splits only at `/`, so the bytes stay UTF-8.
        Cow::Owned(
            String::from_utf8(out)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        )
    }
}

#[cfg(feature = "event")]
pub use owned::{clean, join};

#[cfg(all(test, feature = "full"))]
mod tests {
    use super::*;

    /// Go's `filepath.Clean` table (path/filepath's cleantests), and a few
    /// more.
    const CLEAN: &[(&str, &str)] = &[
        ("abc", "abc"),
        ("abc/def", "abc/def"),
        ("a/b/c", "a/b/c"),
        (".", "."),
        ("..", ".."),
        ("../..", "../.."),
        ("../../abc", "../../abc"),
        ("/abc", "/abc"),
        ("/", "/"),
        ("", "."),
        ("abc/", "abc"),
        ("abc/def/", "abc/def"),
        ("a/b/c/", "a/b/c"),
        ("./", "."),
        ("../", ".."),
        ("../../", "../.."),
        ("/abc/", "/abc"),
        ("abc//def//ghi", "abc/def/ghi"),
        ("//abc", "/abc"),
        ("///abc", "/abc"),
        ("//abc//", "/abc"),
        ("abc//", "abc"),
        ("abc/./def", "abc/def"),
        ("/./abc/def", "/abc/def"),
        ("abc/.", "abc"),
        ("abc/def/ghi/../jkl", "abc/def/jkl"),
        ("abc/def/../ghi/../jkl", "abc/jkl"),
        ("abc/def/..", "abc"),
        ("abc/def/../..", "."),
        ("/abc/def/../..", "/"),
        ("abc/def/../../..", ".."),
        ("/abc/def/../../..", "/"),
        ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
        ("/../abc", "/abc"),
        ("a/../b:/../../c", "../c"),
        ("abc/./../def", "def"),
        ("abc//./../def", "def"),
        ("abc/../../././../def", "../../def"),
        ("/home/u/caf\u{e9}/../x", "/home/u/x"),
    ];

    #[test]
    fn cleans_like_go_filepath_clean() {
        for (input, want) in CLEAN {
            assert_eq!(clean(input), *want, "clean({input:?})");
            assert_eq!(
                is_clean(input.as_bytes()),
                input == want,
                "is_clean({input:?})"
            );
            assert!(is_clean(want.as_bytes()), "is_clean({want:?})");
        }
    }

    #[test]
    fn joins_a_relative_path_to_its_base() {
        assert_eq!(join("/home/u", "a/../b"), "/home/u/b");
        assert_eq!(join("/home/u", "../../../etc"), "/etc");
        assert_eq!(join("/home/u/", "./"), "/home/u");
        assert_eq!(join("/home/u", "/etc//passwd"), "/etc/passwd");
        assert_eq!(join("", "a/./b"), "a/b");
        assert_eq!(join("rel", "../.."), "..");
        assert!(matches!(join("/x", "/etc/passwd"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_buffer_too_small_is_cut_never_overrun() {
        let mut buf = [MaybeUninit::<u8>::uninit(); 8];
        let (len, cut) = clean_join_into(b"/home/user", b"file.txt", &mut buf);
        assert!(cut);
        assert_eq!(len, 8);
        let (len, cut) = clean_join_into(b"/a", b"../b", &mut buf);
        assert!(!cut);
        // SAFETY: the first `len` bytes were written.
        let got: Vec<u8> = buf[..len]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        assert_eq!(got, b"/b");
        let (len, cut) = clean_join_into(b"/", b"", &mut []);
        assert_eq!((len, cut), (0, true));
    }

    use std::borrow::Cow;
}
