//! Where a mutation lands, found the way the kernel finds it, so that the
//! call is decided on that place and made on it and nowhere else (enforce
//! mode, see `hooks::mutate`).
//!
//! A mutation names its file through directories, any of which may be a
//! link (`rm lnk/.bashrc` with `lnk` leading to the home directory), and
//! `chmod`, `chown`, `truncate`, `utime` and `link` with
//! `AT_SYMLINK_FOLLOW` follow a last link as well. Deciding on the name as
//! written misses both; deciding on a name resolved in user space leaves a
//! moment in which a second thread swaps a link or rewrites the string.
//! So, as [`crate::reach`] does for opens:
//!
//! * the caller's string is copied onto the hook's stack ([`Place::copy`]),
//!   and only the copy is read again, by the decision and by the kernel;
//! * the directory its last component lives in is pinned with an `O_PATH`
//!   open, links on the way followed as the kernel follows them, or, for a
//!   call that follows its last link, the file itself ([`Place::pin`]);
//! * the place is named from `/proc/self/fd` for the decision
//!   ([`Place::reached`]), and the call is made relative to the pin (the
//!   `*at` form with the last component) or on the pinned file
//!   (`/proc/self/fd/N`) ([`Place::at`]).
//!
//! This module makes system calls and reads paths; it decides nothing and
//! reports nothing. It never allocates or locks, and leaves errno alone
//! (results are `Err(errno)`).

use core::mem::MaybeUninit;

use libc::{c_char, c_int};

use crate::path::PATH_MAX;
use crate::reach;
use crate::report::Reached;
use crate::sys;

/// One path of a mutation, copied, and pinned where it lands.
pub struct Place {
    /// The caller's string and its NUL.
    buf: [MaybeUninit<u8>; PATH_MAX + 1],
    len: usize,
    /// The descriptor the caller named the path from (`AT_FDCWD`: cwd).
    dirfd: c_int,
    /// The pin (`O_PATH`), -1 for none: the call is made on the copy.
    pin: c_int,
    /// The pin holds the file itself (else the directory that holds the
    /// last component, which starts at `name_at`).
    whole: bool,
    name_at: usize,
}

impl Place {
    /// The string at `s`, copied; nothing pinned. `ENAMETOOLONG` when it
    /// is longer than the kernel takes.
    ///
    /// # Safety
    /// `s` is a non-NULL NUL-terminated string.
    pub unsafe fn copy(dirfd: c_int, s: *const c_char) -> Result<Place, c_int> {
        let mut p = Place {
            buf: [MaybeUninit::uninit(); PATH_MAX + 1],
            len: 0,
            dirfd,
            pin: -1,
            whole: false,
            name_at: 0,
        };
        let src = s.cast::<u8>();
        loop {
            if p.len >= PATH_MAX {
                return Err(libc::ENAMETOOLONG);
            }
            let b = *src.add(p.len);
            p.buf[p.len].write(b);
            if b == 0 {
                return Ok(p);
            }
            p.len += 1;
        }
    }

    /// The path `s` names from `dirfd`, copied and pinned: the file itself
    /// when the call follows a last link (`follow`), else the directory of
    /// its last component. An empty path (the descriptor's own file, with
    /// `AT_EMPTY_PATH`) and `/` are not pinned. Fails as the call would
    /// fail to find its place (`ENOENT`, `ENOTDIR`, `ELOOP`, `EACCES`).
    ///
    /// # Safety
    /// `s` is a non-NULL NUL-terminated string.
    pub unsafe fn pin(dirfd: c_int, s: *const c_char, follow: bool) -> Result<Place, c_int> {
        let mut p = Place::copy(dirfd, s)?;
        if p.len == 0 {
            return Ok(p);
        }
        if follow {
            p.pin = reach::openat(dirfd, p.ptr(), libc::O_PATH | libc::O_CLOEXEC, 0)?;
            p.whole = true;
            return Ok(p);
        }
        let bytes = p.bytes();
        // The last component keeps its trailing slashes (`rmdir("d/")`).
        let end = bytes.len() - bytes.iter().rev().take_while(|&&b| b == b'/').count();
        if end == 0 {
            return Ok(p); // `/`: no component to name beneath anything
        }
        let start = bytes[..end]
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(0, |i| i + 1);
        let dir_flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
        p.pin = if start == 0 {
            reach::openat(dirfd, c".".as_ptr(), dir_flags, 0)?
        } else {
            let mut parent = [MaybeUninit::<u8>::uninit(); PATH_MAX + 1];
            for (d, b) in parent.iter_mut().zip(&bytes[..start]) {
                d.write(*b);
            }
            parent[start].write(0);
            reach::openat(dirfd, parent.as_ptr().cast(), dir_flags, 0)?
        };
        p.name_at = start;
        Ok(p)
    }

    /// The path as the caller wrote it.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `copy` wrote the first `len` bytes (and the NUL after).
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr().cast::<u8>(), self.len) }
    }

    /// The copy, NUL-terminated.
    pub fn ptr(&self) -> *const c_char {
        self.buf.as_ptr().cast()
    }

    /// Where the call lands, for its record and decision.
    pub fn reached(&self) -> Reached {
        match (self.pin, self.whole) {
            (-1, _) => Reached::Same,
            (pin, true) => Reached::Fd(pin),
            // SAFETY: `name_at` is within the copy, which ends with a NUL.
            (pin, false) => Reached::DirName(pin, unsafe { self.ptr().add(self.name_at) }.cast()),
        }
    }

    /// The file at the place, as it is now (a last link not followed
    /// unless the pin is the file itself); `None` when nothing is pinned.
    pub fn stat(&self) -> Option<libc::stat> {
        match (self.pin, self.whole) {
            (-1, _) => None,
            (pin, true) => sys::fstat(pin),
            // SAFETY: as in `reached`.
            (pin, false) => sys::fstatat(
                pin,
                unsafe { self.ptr().add(self.name_at) }.cast(),
                libc::AT_SYMLINK_NOFOLLOW,
            ),
        }
    }

    /// The (directory descriptor, name) a `*at` call makes the call on, so
    /// that it lands on the pinned place; `proc` holds the name of a whole
    /// pin (`/proc/self/fd/N`) and must outlive the call.
    pub fn at(&self, proc: &mut [u8; 32]) -> (c_int, *const c_char) {
        match (self.pin, self.whole) {
            (-1, _) => (self.dirfd, self.ptr()),
            (pin, true) => {
                crate::path::proc_fd_name(pin, proc);
                (libc::AT_FDCWD, proc.as_ptr().cast())
            }
            // SAFETY: as in `reached`.
            (pin, false) => (pin, unsafe { self.ptr().add(self.name_at) }),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if self.pin >= 0 {
            sys::close(self.pin);
        }
    }
}
