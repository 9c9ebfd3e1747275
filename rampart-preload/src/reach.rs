//! Which file an open reaches, found the way the kernel finds it, and an
//! open that cannot reach any other.
//!
//! A policy names paths, and a program can give many names for one file: a
//! symbolic link, `/proc/self/cwd/...`, `/proc/self/fd/N/...`, `..` across
//! a link, `openat2`'s `RESOLVE_IN_ROOT`. Deciding on the name given is not
//! enough, and deciding on a name resolved in user space is not either: a
//! second thread can swap a link between the check and the open. So the
//! library works on what the kernel resolved:
//!
//! * the caller's path is copied to the hook's stack first ([`PathCopy`]):
//!   the kernel reads the copy, never the caller's memory, so a thread that
//!   rewrites the string after the check changes nothing;
//! * [`openat2`] with `RESOLVE_NO_SYMLINKS` (which also refuses magic
//!   links) opens a path only if no link was followed: the file reached is
//!   then the one the (cleaned) name says, and nothing else needs doing;
//! * otherwise the file is pinned first with an `O_PATH` open ([`pin`],
//!   which opens nothing: no device is opened, no FIFO waits), its real
//!   name read back from `/proc/self/fd` ([`crate::path::fd_path`]), the
//!   call decided on both names, and only then opened through the pinned
//!   descriptor ([`reopen`]), so it is that inode and no other;
//! * a file that does not exist yet is created relative to its pinned
//!   parent directory with `O_NOFOLLOW` ([`split_last`]), so a link planted
//!   in its place meanwhile fails the call instead of being followed.
//!
//! This module only makes system calls and reads paths; it decides nothing
//! and reports nothing (see `hooks::open`). It never allocates, locks or
//! touches errno (results are `Err(errno)`).

use core::mem::MaybeUninit;

use libc::{c_char, c_int};

use crate::path::PATH_MAX;
use crate::sys;

/// `openat2`'s `struct open_how`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// The `RESOLVE_*` flags that make the file reached differ from the name's
/// plain reading (the name is read relative to a root, not `/`).
pub const ROOTED: u64 = RESOLVE_BENEATH | RESOLVE_IN_ROOT;

/// The caller's NUL-terminated path, copied onto the stack (only the
/// bytes of the path and its NUL are written: no 4 KiB clearing per open).
pub struct PathCopy {
    buf: [MaybeUninit<u8>; PATH_MAX + 1],
    len: usize,
}

impl PathCopy {
    /// Copy `path`; `None` when it is longer than the kernel accepts (the
    /// real call fails with ENAMETOOLONG without resolving anything).
    ///
    /// # Safety
    /// `path` is a non-NULL NUL-terminated string.
    #[inline(always)]
    pub unsafe fn of(path: *const c_char) -> Option<PathCopy> {
        let mut c = PathCopy {
            buf: [MaybeUninit::uninit(); PATH_MAX + 1],
            len: 0,
        };
        let p = path.cast::<u8>();
        while c.len < PATH_MAX {
            let b = *p.add(c.len);
            c.buf[c.len].write(b);
            if b == 0 {
                return Some(c);
            }
            c.len += 1;
        }
        None
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the first `len` bytes (and the NUL after them) were
        // written by `of`.
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr().cast::<u8>(), self.len) }
    }

    pub fn ptr(&self) -> *const c_char {
        self.buf.as_ptr().cast()
    }

    /// Whether the name, read lexically, is the file reached when no link
    /// is followed: no `..` component (a directory renamed meanwhile moves
    /// what `..` means).
    pub fn plain(&self) -> bool {
        !self.bytes().split(|&b| b == b'/').any(|c| c == b"..")
    }
}

/// `openat2(dirfd, path, how)`.
pub fn openat2(dirfd: c_int, path: *const c_char, how: &OpenHow) -> Result<c_int, c_int> {
    // SAFETY: `path` is NUL-terminated; the kernel reads one open_how.
    unsafe {
        sys::raw(
            libc::SYS_openat2,
            dirfd as usize,
            path as usize,
            how as *const OpenHow as usize,
            core::mem::size_of::<OpenHow>(),
        )
    }
    .map(|fd| fd as c_int)
}

/// `openat(dirfd, path, flags, mode)`.
pub fn openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: u32) -> Result<c_int, c_int> {
    // SAFETY: `path` is NUL-terminated.
    unsafe {
        sys::raw(
            libc::SYS_openat,
            dirfd as usize,
            path as usize,
            flags as usize,
            mode as usize,
        )
    }
    .map(|fd| fd as c_int)
}

/// The `how` of an open made with `flags` and `mode` (openat2 refuses a
/// mode without O_CREAT or O_TMPFILE).
pub fn how(flags: c_int, mode: u32, resolve: u64) -> OpenHow {
    let creates = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
    OpenHow {
        flags: flags as u32 as u64,
        mode: if creates { u64::from(mode & 0o7777) } else { 0 },
        resolve,
    }
}

/// Errors of an `openat2` that say nothing about the path (the call, its
/// flags or `RESOLVE_NO_SYMLINKS` refused): the open is made another way.
pub fn try_another_way(err: c_int) -> bool {
    matches!(
        err,
        libc::ELOOP | libc::EINVAL | libc::ENOSYS | libc::EPERM | libc::E2BIG | libc::EAGAIN
    )
}

/// Pin the file an open of `path` (relative to `dirfd`) with `flags` and
/// the caller's `resolve` flags reaches, with an `O_PATH` descriptor: links
/// are followed as the open would follow them (`O_NOFOLLOW` and
/// `O_DIRECTORY` are the caller's). `no_links`: refuse any link instead
/// (then the file reached is the one the name says).
pub fn pin(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    resolve: u64,
    no_links: bool,
) -> Result<c_int, c_int> {
    let f = libc::O_PATH | libc::O_CLOEXEC | (flags & (libc::O_NOFOLLOW | libc::O_DIRECTORY));
    let extra = if no_links { RESOLVE_NO_SYMLINKS } else { 0 };
    match openat2(dirfd, path, &how(f, 0, resolve | extra)) {
        // No openat2 (an old kernel, or a seccomp sandbox refusing it).
        Err(libc::ENOSYS | libc::EPERM) if resolve == 0 && !no_links => openat(dirfd, path, f, 0),
        r => r,
    }
}

/// Open the file `pinned` holds, with `flags` (less what only means
/// something for a name: `O_NOFOLLOW`, `O_CREAT`, `O_EXCL`).
pub fn reopen(pinned: c_int, flags: c_int, mode: u32) -> Result<c_int, c_int> {
    let mut name = [0u8; 32];
    crate::path::proc_fd_name(pinned, &mut name);
    let f = flags & !(libc::O_NOFOLLOW | libc::O_CREAT | libc::O_EXCL);
    openat(libc::AT_FDCWD, name.as_ptr().cast(), f, mode)
}

/// `readlinkat(dirfd, name)` into `out` (NUL-terminated there): the length,
/// or the errno (EINVAL: not a link).
pub fn readlinkat(dirfd: c_int, name: *const c_char, out: &mut [u8]) -> Result<usize, c_int> {
    // SAFETY: `name` is NUL-terminated; `out` has room for its length.
    let n = unsafe {
        sys::raw(
            libc::SYS_readlinkat,
            dirfd as usize,
            name as usize,
            out.as_mut_ptr() as usize,
            out.len().saturating_sub(1),
        )
    }?;
    if n + 1 >= out.len() {
        return Err(libc::ENAMETOOLONG);
    }
    out[n] = 0;
    Ok(n)
}

/// Whether `fd` is a symbolic link (an `O_PATH|O_NOFOLLOW` pin of one).
pub fn is_link(fd: c_int) -> bool {
    sys::fstat(fd).is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK)
}

/// Split a NUL-terminated `path` of `len` bytes in place into its parent
/// (NUL-terminated, `"."` when it has none, `"/"` for the root) and its
/// last component: returns the offset of the last component, or `None`
/// when there is none to create (`/`, a trailing `/`, `.`, `..`).
pub fn split_last(buf: &mut [u8; PATH_MAX + 2], len: usize) -> Option<usize> {
    let path = &buf[..len];
    if path.last() == Some(&b'/') {
        return None;
    }
    let cut = path.iter().rposition(|&b| b == b'/');
    let name_at = cut.map_or(0, |i| i + 1);
    let name = &path[name_at..];
    if name.is_empty() || name == b"." || name == b".." {
        return None;
    }
    match cut {
        None => {
            // No parent in the name: move the name right, "." before it.
            buf.copy_within(0..len + 1, 2);
            buf[0] = b'.';
            buf[1] = 0;
            Some(2)
        }
        Some(0) => {
            // "/name": the parent is "/"; keep its slash, end it after.
            buf.copy_within(1..len + 1, 2);
            buf[1] = 0;
            Some(2)
        }
        Some(i) => {
            buf[i] = 0;
            Some(i + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(p: &str) -> Option<(String, String)> {
        let mut buf = [0u8; PATH_MAX + 2];
        buf[..p.len()].copy_from_slice(p.as_bytes());
        let at = split_last(&mut buf, p.len())?;
        let end = |s: &[u8]| s.iter().position(|&b| b == 0).unwrap();
        let dir = String::from_utf8(buf[..end(&buf)].to_vec()).unwrap();
        let name = String::from_utf8(buf[at..at + end(&buf[at..])].to_vec()).unwrap();
        Some((dir, name))
    }

    #[test]
    fn a_path_splits_into_its_parent_and_the_name_to_create() {
        assert_eq!(split("/a/b/c"), Some(("/a/b".into(), "c".into())));
        assert_eq!(split("/c"), Some(("/".into(), "c".into())));
        assert_eq!(split("c"), Some((".".into(), "c".into())));
        assert_eq!(split("a//c"), Some(("a/".into(), "c".into())));
        assert_eq!(split("/a/"), None);
        assert_eq!(split("/a/.."), None);
        assert_eq!(split("."), None);
        assert_eq!(split("/"), None);
    }

    #[test]
    fn a_plain_name_has_no_dot_dot() {
        let copy = |s: &str| {
            let c = std::ffi::CString::new(s).unwrap();
            unsafe { PathCopy::of(c.as_ptr()) }.unwrap()
        };
        assert!(copy("/a/./b").plain());
        assert!(copy("a..b/c").plain());
        assert!(!copy("/a/../b").plain());
        assert!(!copy("..").plain());
        let long = "a".repeat(PATH_MAX);
        let c = std::ffi::CString::new(long).unwrap();
        assert!(unsafe { PathCopy::of(c.as_ptr()) }.is_none());
    }
}
