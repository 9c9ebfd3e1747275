//! Mutations the handler of unhooked calls makes on a waiting caller's
//! behalf (enforce mode), as [`crate::proxy`] makes opens: from the strings
//! it read and decided, never the caller's memory again, so a thread that
//! rewrites a path after the decision changes nothing. Each call is made
//! as its `*at` form, relative to the caller's working directory or
//! directory descriptor (pinned through `/proc/TID` by the handler's
//! thread), with the caller's credentials and, for `mkdir`, umask, on the
//! thread the proxy makes opens on (under the Landlock floor, a confined
//! one). The answer is the call's own return value or errno.
//!
//! What differs from the kernel's own: `mkdir`'s mode is cut by the
//! caller's umask even where the directory has a default ACL; `truncate`
//! of a relative name opens the file for writing first (`O_NONBLOCK`, so a
//! FIFO does not wait; `truncate` of anything but a file fails as the
//! kernel's would). This module decides nothing.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::calls::MutationArgs;
use crate::memory;

/// A mutation as its `*at` call: the arguments that are not strings.
#[derive(Clone, Copy, Debug)]
enum Plan {
    Unlink {
        dir: i32,
        flags: i32,
    },
    Rename {
        dir: i32,
        new_dir: i32,
        flags: u32,
    },
    Link {
        dir: i32,
        new_dir: i32,
        flags: i32,
    },
    Symlink {
        dir: i32,
    },
    Mkdir {
        dir: i32,
        mode: u32,
    },
    Chmod {
        dir: i32,
        mode: u32,
        flags: i32,
    },
    Chown {
        dir: i32,
        uid: u32,
        gid: u32,
        flags: i32,
    },
    Truncate {
        len: i64,
    },
    /// `times`: where the caller's times are, and their form.
    Utime {
        dir: i32,
        times: Times,
        flags: i32,
    },
}

#[derive(Clone, Copy, Debug)]
enum Times {
    /// `NULL`: now.
    Now,
    /// Two `struct timespec` (utimensat).
    Spec(u64),
    /// Two `struct timeval` (utimes, futimesat).
    Val(u64),
    /// One `struct utimbuf` (utime).
    Buf(u64),
}

const FDCWD: i32 = libc::AT_FDCWD;

/// The `*at` form of mutation `nr(args)`; `None` for a call this module
/// does not make (it then continues as before).
fn plan(nr: i64, a: &[u64; 6]) -> Option<Plan> {
    let fd = |i: usize| a[i] as i32;
    let times = |p: u64, form: fn(u64) -> Times| if p == 0 { Times::Now } else { form(p) };
    #[cfg(target_arch = "x86_64")]
    {
        let legacy = match nr {
            libc::SYS_unlink => Some(Plan::Unlink {
                dir: FDCWD,
                flags: 0,
            }),
            libc::SYS_rmdir => Some(Plan::Unlink {
                dir: FDCWD,
                flags: libc::AT_REMOVEDIR,
            }),
            libc::SYS_rename => Some(Plan::Rename {
                dir: FDCWD,
                new_dir: FDCWD,
                flags: 0,
            }),
            libc::SYS_link => Some(Plan::Link {
                dir: FDCWD,
                new_dir: FDCWD,
                flags: 0,
            }),
            libc::SYS_symlink => Some(Plan::Symlink { dir: FDCWD }),
            libc::SYS_mkdir => Some(Plan::Mkdir {
                dir: FDCWD,
                mode: a[1] as u32,
            }),
            libc::SYS_chmod => Some(Plan::Chmod {
                dir: FDCWD,
                mode: a[1] as u32,
                flags: 0,
            }),
            libc::SYS_chown | libc::SYS_lchown => Some(Plan::Chown {
                dir: FDCWD,
                uid: a[1] as u32,
                gid: a[2] as u32,
                flags: if nr == libc::SYS_lchown {
                    libc::AT_SYMLINK_NOFOLLOW
                } else {
                    0
                },
            }),
            libc::SYS_utime => Some(Plan::Utime {
                dir: FDCWD,
                times: times(a[1], Times::Buf),
                flags: 0,
            }),
            libc::SYS_utimes => Some(Plan::Utime {
                dir: FDCWD,
                times: times(a[1], Times::Val),
                flags: 0,
            }),
            libc::SYS_futimesat => Some(Plan::Utime {
                dir: fd(0),
                times: times(a[2], Times::Val),
                flags: 0,
            }),
            _ => None,
        };
        if legacy.is_some() {
            return legacy;
        }
    }
    #[allow(clippy::unnecessary_cast)] // c_long is i64 on the supported arches
    Some(match nr {
        n if n == libc::SYS_unlinkat as i64 => Plan::Unlink {
            dir: fd(0),
            flags: a[2] as i32,
        },
        n if n == libc::SYS_renameat as i64 => Plan::Rename {
            dir: fd(0),
            new_dir: fd(2),
            flags: 0,
        },
        n if n == libc::SYS_renameat2 as i64 => Plan::Rename {
            dir: fd(0),
            new_dir: fd(2),
            flags: a[4] as u32,
        },
        n if n == libc::SYS_linkat as i64 => Plan::Link {
            dir: fd(0),
            new_dir: fd(2),
            flags: a[4] as i32,
        },
        n if n == libc::SYS_symlinkat as i64 => Plan::Symlink { dir: fd(1) },
        n if n == libc::SYS_mkdirat as i64 => Plan::Mkdir {
            dir: fd(0),
            mode: a[2] as u32,
        },
        n if n == libc::SYS_fchmodat as i64 => Plan::Chmod {
            dir: fd(0),
            mode: a[2] as u32,
            flags: 0,
        },
        n if n == libc::SYS_fchmodat2 as i64 => Plan::Chmod {
            dir: fd(0),
            mode: a[2] as u32,
            flags: a[3] as i32,
        },
        n if n == libc::SYS_fchownat as i64 => Plan::Chown {
            dir: fd(0),
            uid: a[2] as u32,
            gid: a[3] as u32,
            flags: a[4] as i32,
        },
        n if n == libc::SYS_truncate as i64 => Plan::Truncate { len: a[1] as i64 },
        n if n == libc::SYS_utimensat as i64 => Plan::Utime {
            dir: fd(0),
            times: times(a[2], Times::Spec),
            flags: a[3] as i32,
        },
        _ => return None,
    })
}

/// A mutation ready to be made: its plan, its strings, the directories
/// its names start from (pinned: `None` for `AT_FDCWD` with an absolute
/// name), and the times it sets, read from the caller.
pub(crate) struct Mutation {
    plan: Plan,
    path: CString,
    second: Option<CString>,
    dir: Option<OwnedFd>,
    new_dir: Option<OwnedFd>,
    times: Option<[libc::timespec; 2]>,
}

/// Read mutation `nr(args)` of thread `tid` for making (on the handler's
/// thread: the caller's `/proc` entries are followed here); `None` when it
/// is not one this module makes, `Err(errno)` when it cannot be made as
/// asked (a directory descriptor the caller does not have: `EBADF`).
pub(crate) fn prepare(
    tid: i32,
    nr: i64,
    args: &[u64; 6],
    strings: &MutationArgs,
) -> Option<Result<Mutation, i32>> {
    let plan = plan(nr, args)?;
    let cstr = |b: &[u8]| CString::new(b.to_vec()).ok();
    let path = cstr(&strings.path)?;
    let second = match (&strings.new_path, &strings.target) {
        (Some(p), _) => Some(cstr(p)?),
        (None, Some(t)) => Some(cstr(t)?),
        (None, None) => None,
    };
    let (dir, new_dir) = match plan {
        Plan::Rename { dir, new_dir, .. } | Plan::Link { dir, new_dir, .. } => (dir, Some(new_dir)),
        Plan::Unlink { dir, .. }
        | Plan::Mkdir { dir, .. }
        | Plan::Chmod { dir, .. }
        | Plan::Chown { dir, .. }
        | Plan::Utime { dir, .. } => (dir, None),
        // The link's own name starts from `dir`; its target is a string.
        Plan::Symlink { dir } => (dir, None),
        Plan::Truncate { .. } => (FDCWD, None),
    };
    let pinned = |dirfd: i32, name: &[u8]| -> Result<Option<OwnedFd>, i32> {
        if name.first() == Some(&b'/') {
            return Ok(None);
        }
        crate::procfs::pin_dir(tid, dirfd).map(Some)
    };
    let made = (|| {
        let d = pinned(dir, &strings.path)?;
        let nd = match (new_dir, &strings.new_path) {
            (Some(nd), Some(p)) => pinned(nd, p)?,
            _ => None,
        };
        let times = match plan {
            Plan::Utime { times, .. } => read_times(tid, times)?,
            _ => None,
        };
        Ok(Mutation {
            plan,
            path,
            second,
            dir: d,
            new_dir: nd,
            times,
        })
    })();
    Some(made)
}

/// The times a `utime*` call sets, as two `timespec` (`None`: now).
fn read_times(tid: i32, times: Times) -> Result<Option<[libc::timespec; 2]>, i32> {
    let fault = |_| libc::EFAULT;
    let ts = |sec: i64, nsec: i64| libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    };
    Ok(match times {
        Times::Now => None,
        Times::Spec(p) => {
            let (t, _) = memory::read_struct::<[libc::timespec; 2]>(tid, p, 32).map_err(fault)?;
            Some(t)
        }
        Times::Val(p) => {
            let (t, _) = memory::read_struct::<[libc::timeval; 2]>(tid, p, 32).map_err(fault)?;
            Some([
                ts(t[0].tv_sec, t[0].tv_usec * 1000),
                ts(t[1].tv_sec, t[1].tv_usec * 1000),
            ])
        }
        Times::Buf(p) => {
            let (t, _) = memory::read_struct::<libc::utimbuf>(tid, p, 16).map_err(fault)?;
            Some([ts(t.actime, 0), ts(t.modtime, 0)])
        }
    })
}

impl Mutation {
    /// Whether it makes something whose mode the caller's umask cuts.
    pub fn creates(&self) -> bool {
        matches!(self.plan, Plan::Mkdir { .. })
    }

    /// Make it (on the thread opens are made on, with the caller's
    /// credentials worn); `umask`: the caller's. The call's return value.
    pub fn make(&self, umask: u32) -> Result<i64, i32> {
        let at = |d: &Option<OwnedFd>, given: i32| d.as_ref().map_or(given, |f| f.as_raw_fd());
        let p = self.path.as_ptr();
        let second = self
            .second
            .as_ref()
            .map_or(std::ptr::null(), |s| s.as_ptr());
        // SAFETY (every arm): plain system calls on strings and buffers we
        // own, which live until they return.
        let r = unsafe {
            match self.plan {
                Plan::Unlink { dir, flags } => {
                    libc::syscall(libc::SYS_unlinkat, at(&self.dir, dir), p, flags)
                }
                Plan::Rename {
                    dir,
                    new_dir,
                    flags,
                } => libc::syscall(
                    libc::SYS_renameat2,
                    at(&self.dir, dir),
                    p,
                    at(&self.new_dir, new_dir),
                    second,
                    flags,
                ),
                Plan::Link {
                    dir,
                    new_dir,
                    flags,
                } => libc::syscall(
                    libc::SYS_linkat,
                    at(&self.dir, dir),
                    p,
                    at(&self.new_dir, new_dir),
                    second,
                    flags,
                ),
                // symlinkat(target, dir, linkpath): the link is `path`.
                Plan::Symlink { dir } => {
                    libc::syscall(libc::SYS_symlinkat, second, at(&self.dir, dir), p)
                }
                Plan::Mkdir { dir, mode } => libc::syscall(
                    libc::SYS_mkdirat,
                    at(&self.dir, dir),
                    p,
                    mode & !umask & 0o7777,
                ),
                Plan::Chmod {
                    dir,
                    mode,
                    flags: 0,
                } => libc::syscall(libc::SYS_fchmodat, at(&self.dir, dir), p, mode),
                Plan::Chmod { dir, mode, flags } => {
                    libc::syscall(libc::SYS_fchmodat2, at(&self.dir, dir), p, mode, flags)
                }
                Plan::Chown {
                    dir,
                    uid,
                    gid,
                    flags,
                } => libc::syscall(libc::SYS_fchownat, at(&self.dir, dir), p, uid, gid, flags),
                Plan::Truncate { len } => return self.truncate(len),
                Plan::Utime { dir, flags, .. } => {
                    let times = self.times.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
                    libc::syscall(libc::SYS_utimensat, at(&self.dir, dir), p, times, flags)
                }
            }
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO));
        }
        Ok(r)
    }

    /// `truncate(path, len)`: an absolute name as it is; a relative one
    /// through an open of it from the pinned working directory.
    fn truncate(&self, len: i64) -> Result<i64, i32> {
        let errno = || {
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO)
        };
        let Some(dir) = &self.dir else {
            // SAFETY: plain truncate of a name we own.
            let r = unsafe { libc::truncate(self.path.as_ptr(), len) };
            return if r < 0 { Err(errno()) } else { Ok(0) };
        };
        let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: plain openat of a name we own; the descriptor is closed below.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), self.path.as_ptr(), flags) };
        if fd < 0 {
            return Err(errno());
        }
        // SAFETY: fstat and ftruncate of the descriptor just opened, then close.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            let r = if libc::fstat(fd, &mut st) != 0 {
                Err(errno())
            } else if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                Err(libc::EINVAL)
            } else if libc::ftruncate(fd, len) != 0 {
                Err(errno())
            } else {
                Ok(0)
            };
            libc::close(fd);
            r
        }
    }
}
