//! A call's path argument as the audit trail wants it: absolute and
//! lexically cleaned (`.`, `..` and repeated slashes removed, no symlink
//! resolution, by [`rampart_core::path`], the cleaning every part shares),
//! a relative or `*at` path resolved against the cwd or the directory
//! descriptor at call time (both through `cache`; the cwd checked against
//! the directory the process is in, which a raw `chdir` may have changed).
//!
//! Everything writes into caller-provided space (usually straight into the
//! wire frame) and reports whether it had to cut. No allocation, no panics.

use core::mem::MaybeUninit;

use libc::c_int;
use rampart_core::path::clean_join_into;

use crate::path::PATH_MAX;

/// Where a path argument is relative to.
#[derive(Clone, Copy)]
pub enum Base {
    /// The cwd (`AT_FDCWD` or a plain call).
    Cwd,
    /// A directory descriptor (`*at` calls).
    Dir(c_int),
    /// Not a path to resolve: a command name no PATH search found.
    AsIs,
}

impl Base {
    pub fn of(dirfd: c_int) -> Base {
        if dirfd == libc::AT_FDCWD {
            Base::Cwd
        } else {
            Base::Dir(dirfd)
        }
    }
}

/// Resolve `rel` against `base` into `out`, given the cwd bytes already
/// written to the frame: `(len, cut)`.
pub fn resolve_into(
    base: Base,
    cwd: &[u8],
    rel: &[u8],
    out: &mut [MaybeUninit<u8>],
) -> (usize, bool) {
    match base {
        Base::AsIs => copy_as_is(rel, out),
        _ if rel.first() == Some(&b'/') => clean_join_into(b"/", rel, out),
        Base::Cwd => resolve_in_cwd(cwd, rel, out),
        Base::Dir(fd) => resolve_in_dir(fd, rel, out),
    }
}

/// A name relative to the working directory, against the directory it is
/// now (`cwd`, the one written in the frame, may be one the hooks last saw
/// before a `chdir` they did not see). Out of line for its 4 KiB buffer.
#[inline(never)]
fn resolve_in_cwd(cwd: &[u8], rel: &[u8], out: &mut [MaybeUninit<u8>]) -> (usize, bool) {
    let mut now = [MaybeUninit::<u8>::uninit(); PATH_MAX];
    match crate::cache::cwd_now_into(&mut now) {
        (n, false) if n > 0 => {
            // SAFETY: the cache or getcwd initialised the first n bytes.
            let now = unsafe { core::slice::from_raw_parts(now.as_ptr().cast::<u8>(), n) };
            clean_join_into(now, rel, out)
        }
        _ => clean_join_into(cwd, rel, out),
    }
}

/// Kept out of line so its 4 KiB buffer is on the stack only for `*at`
/// calls with a real directory descriptor.
#[inline(never)]
fn resolve_in_dir(fd: c_int, rel: &[u8], out: &mut [MaybeUninit<u8>]) -> (usize, bool) {
    let mut dir = [0u8; PATH_MAX];
    match crate::cache::dir_path(fd, &mut dir) {
        Some(n) => clean_join_into(&dir[..n], rel, out),
        // Not a directory we can name (bad fd): keep the call's own
        // words, relative, so nothing is invented.
        None => copy_as_is(rel, out),
    }
}

fn copy_as_is(rel: &[u8], out: &mut [MaybeUninit<u8>]) -> (usize, bool) {
    let n = rel.len().min(out.len());
    for (d, b) in out.iter_mut().zip(&rel[..n]) {
        d.write(*b);
    }
    (n, n < rel.len())
}
