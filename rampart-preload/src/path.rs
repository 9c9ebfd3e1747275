//! The names the kernel gives: the cwd (also when it was removed), the path
//! behind a descriptor (`/proc/self/fd/N`), and small helpers to build
//! names in frame space. Uncached: `cache` keeps what is asked often, and
//! `at` makes a call's path argument absolute with both.
//!
//! Everything writes into caller-provided space (usually straight into the
//! wire frame) and reports whether it had to cut. No allocation, no panics.

use core::mem::MaybeUninit;

use libc::c_int;

use crate::sys;

pub const PATH_MAX: usize = 4096;

/// The cwd, written into `out` (for `Encoder::str_with`): `(len, cut)`.
/// A cwd that was removed has no name for `getcwd`, but the kernel still
/// resolves relative names from it (`..` reaches its old parent): it is
/// then the name `/proc/self/cwd` gives, without the ` (deleted)` mark.
pub fn getcwd_into(out: &mut [MaybeUninit<u8>]) -> (usize, bool) {
    if let Some(n) = sys::getcwd(out.as_mut_ptr().cast(), out.len()) {
        return (n, false);
    }
    const DELETED: &[u8] = b" (deleted)";
    let n = sys::readlink(
        c"/proc/self/cwd".as_ptr().cast(),
        out.as_mut_ptr().cast(),
        out.len(),
    );
    match n {
        Some(n) if n < out.len() && n > DELETED.len() => {
            // SAFETY: readlink initialised the first n bytes.
            let got = unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<u8>(), n) };
            if got[0] != b'/' {
                return (0, false);
            }
            match got.strip_suffix(DELETED) {
                Some(dir) => (dir.len(), false),
                None => (n, false),
            }
        }
        _ => (0, out.len() < PATH_MAX),
    }
}

/// `/proc/self/fd/N`, NUL-terminated, into `out`.
pub fn proc_fd_name(fd: c_int, out: &mut [u8; 32]) {
    let prefix = b"/proc/self/fd/";
    out[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 12];
    let mut n = fd as u32;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    let d = &digits[i..];
    out[prefix.len()..prefix.len() + d.len()].copy_from_slice(d);
    out[prefix.len() + d.len()] = 0;
}

/// [`fd_path`] into space that is not initialised yet.
pub fn fd_path_into(fd: c_int, out: &mut [MaybeUninit<u8>]) -> Option<usize> {
    // SAFETY: readlink only writes bytes; `u8` has no invalid values, and
    // the caller reads back only the prefix reported written.
    let out = unsafe { core::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), out.len()) };
    fd_path(fd, out)
}

/// The first `n` bytes of `out`, which the caller initialised.
pub fn init_prefix(out: &[MaybeUninit<u8>], n: usize) -> &[u8] {
    let n = n.min(out.len());
    // SAFETY: the caller wrote the first `n` bytes.
    unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<u8>(), n) }
}

/// Append `/name` to the directory path of `n` bytes in `out` (no second
/// slash after `/`): the new length, `None` when it does not fit.
pub fn append_name(out: &mut [MaybeUninit<u8>], n: usize, name: &[u8]) -> Option<usize> {
    let slash = usize::from(init_prefix(out, n) != b"/");
    let total = n + slash + name.len();
    if total > out.len() {
        return None;
    }
    if slash == 1 {
        out[n].write(b'/');
    }
    for (d, b) in out[n + slash..total].iter_mut().zip(name) {
        d.write(*b);
    }
    Some(total)
}

/// The path a descriptor points to (readlink of `/proc/self/fd/N`) into
/// `out`; `None` if it has none (a socket, a pipe) or it does not fit.
pub fn fd_path(fd: c_int, out: &mut [u8]) -> Option<usize> {
    let mut name = [0u8; 32];
    proc_fd_name(fd, &mut name);
    let len = sys::readlink(name.as_ptr(), out.as_mut_ptr(), out.len())?;
    // Only real directories (not "socket:[..]", "pipe:[..]", "anon_inode:..").
    if len == 0 || out.first() != Some(&b'/') || len >= out.len() {
        return None;
    }
    Some(len)
}
