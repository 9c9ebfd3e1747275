//! Mutations: calls that change the file system without opening a file.
//! `unlink`, `unlinkat`, `rmdir`, `remove` (op `delete`); `rename`,
//! `renameat`, `renameat2` (`rename`); `link`, `linkat` (`link`);
//! `symlink`, `symlinkat` (`symlink`); `mkdir`, `mkdirat` (`mkdir`);
//! `chmod`, `lchmod`, `fchmodat`, `fchmod` (`chmod`); `chown`, `lchown`,
//! `fchownat`, `fchown`
//! (`chown`); `truncate`, `truncate64` (`truncate`); `utime`, `utimes`,
//! `lutimes`, `futimesat`, `utimensat`, `futimens`, `futimes` (`utime`);
//! `mknod`, `mknodat`, and `bind` of a Unix socket to a path (`mknod`); `setxattr`, `lsetxattr`, `fsetxattr`,
//! `removexattr`, `lremovexattr`, `fremovexattr` (`xattr`). glibc calls none of these
//! through another (its internal calls bypass the PLT), so each call of the
//! program is reported once.
//!
//! Each hook works like the open hooks ([`crate::hooks::open`]). In
//! enforce mode, when the policy could refuse the call, its strings are
//! copied and each path pinned where it lands ([`crate::place`]: through
//! the links among its directories, and through a last link for the calls
//! that follow one); the call is decided on every path it changes as
//! written and as reached (a rename's or link's new path too, a link's
//! source as a read as well), and a refused one fails with the op's errno
//! (`EPERM` for chmod and chown, else `EACCES`) without being made; an
//! allowed one is made as its `*at` system call on the pinned places
//! ([`Plan`]), so that neither a link swapped nor a string rewritten
//! after the decision moves it. Otherwise the real function runs. Every
//! call is reported with the paths resolved against the cwd or the
//! directory descriptor exactly as opens are ([`crate::path`]), and with
//! its outcome, returning the real result and errno. A symlink's target is
//! reported as written. Calls on a descriptor alone (`utimensat` or
//! `futimesat` with a NULL path, as `futimens` does) are not reported: the
//! file was opened, and decided, first.

use libc::{c_char, c_int, c_long, c_uint, gid_t, mode_t, off64_t, off_t, uid_t};
use rampart_core::wire::Op;

use crate::at::Base;
use crate::conn;
use crate::enforce::{self, Gate};
use crate::place::Place;
use crate::real::{get, must};
use crate::report::{self, outcome, Reached};
use crate::sys;

/// What a mutation does besides naming its paths: the `*at` system call
/// it is made as on the pinned places (enforce mode), with the arguments
/// that are not names.
#[derive(Clone, Copy)]
pub enum Plan {
    /// `unlinkat` with `flags`; `remove`: `unlink`, then `rmdir` for a
    /// directory (as glibc's `remove`).
    Unlink {
        flags: c_int,
        remove: bool,
    },
    Rename {
        flags: c_uint,
    },
    Link {
        flags: c_int,
    },
    Symlink,
    /// `bind` of the Unix socket `sock` to the path: a socket file.
    Bind {
        sock: c_int,
    },
    Mkdir {
        mode: mode_t,
    },
    Chmod {
        mode: mode_t,
        flags: c_int,
    },
    Chown {
        uid: uid_t,
        gid: gid_t,
        flags: c_int,
    },
    Truncate {
        len: i64,
    },
    Utime {
        times: Times,
        flags: c_int,
    },
    Mknod {
        mode: mode_t,
        dev: libc::dev_t,
    },
    /// An extended attribute set (`value`, `size`, `flags`) or removed
    /// (`remove`), through the last link or not (`follow`).
    Xattr {
        name: *const c_char,
        value: *const libc::c_void,
        size: usize,
        flags: c_int,
        remove: bool,
        follow: bool,
    },
}

/// `struct xattr_args` of `setxattrat` (Linux 6.13).
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

/// `setxattrat` and `removexattrat` (Linux 6.13), which libc does not
/// name yet.
const SYS_SETXATTRAT: c_long = 463;
const SYS_REMOVEXATTRAT: c_long = 466;

/// The times a `utime*` call sets, in the caller's form (NULL: now).
#[derive(Clone, Copy)]
pub enum Times {
    Spec(*const libc::timespec),
    Val(*const libc::timeval),
    Buf(*const libc::utimbuf),
}

impl Plan {
    pub fn op(self) -> Op {
        match self {
            Plan::Unlink { .. } => Op::Delete,
            Plan::Rename { .. } => Op::Rename,
            Plan::Link { .. } => Op::Link,
            Plan::Symlink => Op::Symlink,
            Plan::Mkdir { .. } => Op::Mkdir,
            Plan::Mknod { .. } | Plan::Bind { .. } => Op::Mknod,
            Plan::Xattr { .. } => Op::Xattr,
            Plan::Chmod { .. } => Op::Chmod,
            Plan::Chown { .. } => Op::Chown,
            Plan::Truncate { .. } => Op::Truncate,
            Plan::Utime { .. } => Op::Utime,
        }
    }

    /// Whether the call follows a link in the last component of its
    /// (first) path: it then changes the file the link leads to.
    fn follows_last(self) -> bool {
        let follows = |flags: c_int| flags & libc::AT_SYMLINK_NOFOLLOW == 0;
        match self {
            Plan::Chmod { flags, .. } | Plan::Chown { flags, .. } | Plan::Utime { flags, .. } => {
                follows(flags)
            }
            Plan::Truncate { .. } => true,
            Plan::Link { flags } => flags & libc::AT_SYMLINK_FOLLOW != 0,
            Plan::Xattr { follow, .. } => follow,
            _ => false,
        }
    }

    /// Make the call on `(dir, name)` (and `(new_dir, new_name)`, or the
    /// symlink's `target`): 0 or -1 with errno.
    fn make(
        self,
        (dir, name): (c_int, *const c_char),
        (new_dir, new_name): (c_int, *const c_char),
        target: *const c_char,
    ) -> c_int {
        let (d, n, nd, nn) = (dir as usize, p(name), new_dir as usize, p(new_name));
        match self {
            Plan::Unlink { flags, remove } => {
                match sys_call(libc::SYS_unlinkat, [d, n, flags as usize, 0, 0, 0]) {
                    -1 if remove && sys::errno() == libc::EISDIR => sys_call(
                        libc::SYS_unlinkat,
                        [d, n, libc::AT_REMOVEDIR as usize, 0, 0, 0],
                    ),
                    r => r,
                }
            }
            Plan::Rename { flags } => {
                sys_call(libc::SYS_renameat2, [d, n, nd, nn, flags as usize, 0])
            }
            Plan::Link { flags } => sys_call(libc::SYS_linkat, [d, n, nd, nn, flags as usize, 0]),
            Plan::Symlink => sys_call(libc::SYS_symlinkat, [p(target), d, n, 0, 0, 0]),
            Plan::Mkdir { mode } => sys_call(libc::SYS_mkdirat, [d, n, mode as usize, 0, 0, 0]),
            Plan::Bind { sock } => bind_at(sock, dir, name),
            Plan::Mknod { mode, dev } => {
                sys_call(libc::SYS_mknodat, [d, n, mode as usize, dev as usize, 0, 0])
            }
            Plan::Xattr {
                name: xname,
                value,
                size,
                flags,
                remove,
                follow,
            } => {
                // Made where it was pinned: a whole pin's `/proc/self/fd`
                // name (followed), the last name in a pinned directory (not
                // followed), or the descriptor's own file (an empty name).
                // SAFETY: `name` is a NUL-terminated string of ours.
                let empty = unsafe { *name } == 0;
                let at_flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW }
                    | if empty { libc::AT_EMPTY_PATH } else { 0 };
                if remove {
                    sys_call(SYS_REMOVEXATTRAT, [d, n, at_flags as usize, p(xname), 0, 0])
                } else {
                    let args = XattrArgs {
                        value: value as u64,
                        size: size as u32,
                        flags: flags as u32,
                    };
                    let a = core::ptr::addr_of!(args) as usize;
                    let len = core::mem::size_of::<XattrArgs>();
                    sys_call(SYS_SETXATTRAT, [d, n, at_flags as usize, p(xname), a, len])
                }
            }
            Plan::Chmod { mode, flags: 0 } => {
                sys_call(libc::SYS_fchmodat, [d, n, mode as usize, 0, 0, 0])
            }
            Plan::Chmod { mode, flags } => sys_call(
                libc::SYS_fchmodat2,
                [d, n, mode as usize, flags as usize, 0, 0],
            ),
            Plan::Chown { uid, gid, flags } => sys_call(
                libc::SYS_fchownat,
                [d, n, uid as usize, gid as usize, flags as usize, 0],
            ),
            // Only ever on a whole pin (`truncate` follows its last link),
            // or on the name as given: a path from the working directory.
            Plan::Truncate { len } if dir == libc::AT_FDCWD => {
                sys_call(libc::SYS_truncate, [n, len as usize, 0, 0, 0, 0])
            }
            Plan::Truncate { .. } => {
                sys::set_errno(libc::EBADF);
                -1
            }
            Plan::Utime { times, flags } => match times {
                Times::Spec(t) => sys_call(
                    libc::SYS_utimensat,
                    [d, n, t as usize, flags as usize, 0, 0],
                ),
                Times::Val(tv) => times_of_timevals(d, name, tv, flags),
                Times::Buf(b) => {
                    // SAFETY: the caller's utimbuf, or NULL for "now".
                    let tv = unsafe { b.as_ref() }.map(|t| {
                        [
                            libc::timeval {
                                tv_sec: t.actime,
                                tv_usec: 0,
                            },
                            libc::timeval {
                                tv_sec: t.modtime,
                                tv_usec: 0,
                            },
                        ]
                    });
                    let tv = tv.as_ref().map_or(core::ptr::null(), |t| t.as_ptr());
                    times_of_timevals(d, name, tv, flags)
                }
            },
        }
    }
}

/// One mutation as the hook got it: the path it changes and what that is
/// relative to, and for a rename or link the new path and its base, for a
/// symlink its target (the base then unused), else NULL.
#[derive(Clone, Copy)]
pub struct Mutation {
    pub plan: Plan,
    pub base: Base,
    pub path: *const c_char,
    pub new_base: Base,
    pub second: *const c_char,
}

impl Mutation {
    /// A call on one path.
    pub fn one(plan: Plan, base: Base, path: *const c_char) -> Mutation {
        Mutation {
            plan,
            base,
            path,
            new_base: Base::Cwd,
            second: core::ptr::null(),
        }
    }

    /// A rename or link of `path` to `new_path`.
    pub fn two(
        plan: Plan,
        base: Base,
        path: *const c_char,
        new_base: Base,
        new_path: *const c_char,
    ) -> Mutation {
        Mutation {
            plan,
            base,
            path,
            new_base,
            second: new_path,
        }
    }

    /// A symlink at `link` (relative to `base`) holding `target`.
    pub fn symlink(target: *const c_char, base: Base, link: *const c_char) -> Mutation {
        Mutation {
            plan: Plan::Symlink,
            base,
            path: link,
            new_base: Base::Cwd,
            second: target,
        }
    }

    fn op(&self) -> Op {
        self.plan.op()
    }

    /// Whether every string the call takes is there to read (else the real
    /// call fails with EFAULT, or works on a descriptor alone: nothing to
    /// decide or report).
    fn named(&self) -> bool {
        let op = self.op();
        !self.path.is_null() && (!(op.has_new_path() || op.has_target()) || !self.second.is_null())
    }

    /// The strings, read.
    ///
    /// # Safety
    /// [`Mutation::named`]: the pointers are the caller's C strings.
    unsafe fn strings(&self) -> report::Mutation<'_> {
        report::Mutation {
            op: self.op(),
            base: self.base,
            path: sys::cstr_bytes(self.path),
            new_base: self.new_base,
            second: if self.second.is_null() {
                &[]
            } else {
                sys::cstr_bytes(self.second)
            },
            reached: Reached::Same,
            new_reached: Reached::Same,
        }
    }
}

fn dirfd_of(base: Base) -> c_int {
    match base {
        Base::Dir(fd) => fd,
        _ => libc::AT_FDCWD,
    }
}

/// Report `m`, made with the result `ok`/`err`.
fn after(m: &Mutation, ok: bool, err: c_int) {
    if !ok && err == libc::EFAULT {
        return; // nothing was changed, and the strings may not be readable
    }
    let Some(cx) = conn::ctx() else { return };
    let mut conn = cx.conn();
    // SAFETY: the real call read these strings successfully.
    report::mutation(&cx, &mut conn, &unsafe { m.strings() }, outcome(ok, err));
}

/// The mutations' one path: decide `m` first (enforce mode) and make it on
/// what was decided, or make `call`; report it, and hand back its result
/// (0 or -1) and errno untouched. A refused call is not made: it returns
/// -1 with the op's errno.
#[inline(always)]
pub fn mutated(m: Mutation, call: impl FnOnce() -> c_int) -> c_int {
    if !m.named() {
        return call();
    }
    if crate::state::saved().is_some_and(|s| s.enforce) {
        if let Some(cx) = conn::ctx() {
            let err = sys::errno();
            let conn = cx.conn();
            let decided = enforce::needs_verdict(&cx, m.op().tools(), conn.as_ref());
            drop(conn);
            sys::set_errno(err);
            if decided {
                return pinned(&cx, m);
            }
        }
    }
    let r = renamed(m, call());
    let err = sys::errno();
    after(&m, r == 0, err);
    sys::set_errno(err);
    r
}

/// Enforce mode, a call the policy could refuse: copy and pin its paths,
/// decide it on what they name and where they land, and make it there.
fn pinned(cx: &conn::Ctx, m: Mutation) -> c_int {
    let err = sys::errno();
    let op = m.op();
    let (first, second) = match pin_both(&m) {
        Ok(places) => places,
        Err(e) => {
            // The call cannot find its place: it fails as it would have.
            after(&m, false, e);
            sys::set_errno(e);
            return -1;
        }
    };
    // A call that changes the file itself (or gives it a new name) through
    // a hard link to a file the policy refuses by another name: decided
    // on that name.
    let mut reached = first.reached();
    if op.changes_file() && enforce::lists_other_names(cx.s) {
        if let Some(name) = first.stat().and_then(|st| enforce::other_name(cx.s, &st)) {
            reached = Reached::Named(name);
        }
    }
    let strings = report::Mutation {
        op,
        base: m.base,
        path: first.bytes(),
        new_base: m.new_base,
        second: second.as_ref().map_or(&[][..], |s| s.bytes()),
        reached,
        new_reached: second
            .as_ref()
            .filter(|_| op.has_new_path())
            .map_or(Reached::Same, |s| s.reached()),
    };
    let mut conn = cx.conn();
    let gate = report::mutation_gate(cx, &mut conn, &strings);
    if gate == Gate::Refuse {
        sys::set_errno(op.refused_errno());
        return -1;
    }
    drop(conn);
    let (mut proc1, mut proc2) = ([0u8; 32], [0u8; 32]);
    let at = first.at(&mut proc1);
    let (new_at, target) = match (&second, op.has_new_path()) {
        (Some(s), true) => (s.at(&mut proc2), core::ptr::null()),
        (Some(s), false) => ((libc::AT_FDCWD, core::ptr::null()), s.ptr()),
        (None, _) => ((libc::AT_FDCWD, core::ptr::null()), core::ptr::null()),
    };
    sys::set_errno(err);
    let r = renamed(m, m.plan.make(at, new_at, target));
    let call_err = sys::errno();
    if gate == (Gate::Run { report_after: true }) {
        let mut conn = cx.conn();
        report::mutation(cx, &mut conn, &strings, outcome(r == 0, call_err));
    }
    sys::set_errno(call_err);
    r
}

/// The places of `m`'s paths: its path, pinned (through a last link for
/// a call that follows one), and its new path pinned, or its symlink
/// target copied.
fn pin_both(m: &Mutation) -> Result<(Place, Option<Place>), c_int> {
    let op = m.op();
    // SAFETY: `named`: the caller's NUL-terminated strings.
    let first = unsafe { Place::pin(dirfd_of(m.base), m.path, m.plan.follows_last()) }?;
    let second = if op.has_new_path() {
        // SAFETY: as above.
        Some(unsafe { Place::pin(dirfd_of(m.new_base), m.second, false) }?)
    } else if op.has_target() {
        // SAFETY: as above.
        Some(unsafe { Place::copy(libc::AT_FDCWD, m.second) }?)
    } else {
        None
    };
    Ok((first, second))
}

/// After a rename that worked, cached directory paths (the cwd's, those of
/// directory descriptors) may name the old place: drop them.
#[inline(always)]
fn renamed(m: Mutation, r: c_int) -> c_int {
    if r == 0 && m.op() == Op::Rename {
        crate::cache::renamed();
    }
    r
}

/// A raw system call returning 0 or -1 with errno, for the moments the real
/// function is not resolved yet.
fn sys_call(n: c_long, a: [usize; 6]) -> c_int {
    // SAFETY: the kernel validates the arguments.
    match unsafe { sys::raw6(n, a) } {
        Ok(v) => v as c_int,
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

/// `utimes`-style times (two `timeval`s, or NULL for now) set with the
/// `utimensat` system call, as glibc does (`EINVAL` for microseconds out
/// of range): the form these functions take under the filter of unhooked
/// calls, where libc's own call would go to the collector a second time.
fn times_of_timevals(
    dirfd: usize,
    path: *const c_char,
    tv: *const libc::timeval,
    flags: c_int,
) -> c_int {
    let mut ts = [libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    }; 2];
    let times = if tv.is_null() {
        core::ptr::null()
    } else {
        for (i, t) in ts.iter_mut().enumerate() {
            // SAFETY: the caller's array of two timevals.
            let v = unsafe { *tv.add(i) };
            if !(0..1_000_000).contains(&v.tv_usec) {
                sys::set_errno(libc::EINVAL);
                return -1;
            }
            t.tv_sec = v.tv_sec;
            t.tv_nsec = v.tv_usec * 1000;
        }
        ts.as_ptr()
    };
    sys_call(
        libc::SYS_utimensat,
        [dirfd, p(path), times as usize, flags as usize, 0, 0],
    )
}

const CWD: usize = libc::AT_FDCWD as usize;

/// `bind(sock)` to `name` in directory `dir` (which `bind` has no `*at`
/// form for: the name is given through `/proc/self/fd/DIR/`, which
/// reaches the pinned directory itself). 0 or -1 with errno
/// (`ENAMETOOLONG` when that name does not fit a Unix address).
fn bind_at(sock: c_int, dir: c_int, name: *const c_char) -> c_int {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { core::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let mut at = 0;
    let mut put = |bytes: &[u8]| -> bool {
        for &b in bytes {
            // (A name that fills the whole field needs no NUL.)
            if at >= addr.sun_path.len() {
                return false;
            }
            addr.sun_path[at] = b as c_char;
            at += 1;
        }
        true
    };
    let mut fits = true;
    if dir != libc::AT_FDCWD {
        let mut proc = [0u8; 32];
        crate::path::proc_fd_name(dir, &mut proc);
        let end = proc.iter().position(|&b| b == 0).unwrap_or(proc.len());
        fits = put(&proc[..end]) && put(b"/");
    }
    // SAFETY: a NUL-terminated name of ours.
    fits = fits && put(unsafe { sys::cstr_bytes(name) });
    if !fits {
        sys::set_errno(libc::ENAMETOOLONG);
        return -1;
    }
    let len = core::mem::size_of::<libc::sa_family_t>() + (at + 1).min(addr.sun_path.len());
    sys_call(
        libc::SYS_bind,
        [
            sock as usize,
            core::ptr::addr_of!(addr) as usize,
            len,
            0,
            0,
            0,
        ],
    )
}

fn p(s: *const c_char) -> usize {
    s as usize
}

// ---- delete --------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn unlink(path: *const c_char) -> c_int {
    mutated(
        Mutation::one(UNLINK, Base::Cwd, path),
        || match get::unlink() {
            Some(f) => f(path),
            None => sys_call(libc::SYS_unlinkat, [CWD, p(path), 0, 0, 0, 0]),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    mutated(
        Mutation::one(
            Plan::Unlink {
                flags,
                remove: false,
            },
            Base::of(dirfd),
            path,
        ),
        || match get::unlinkat() {
            Some(f) => f(dirfd, path, flags),
            None => sys_call(
                libc::SYS_unlinkat,
                [dirfd as usize, p(path), flags as usize, 0, 0, 0],
            ),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn rmdir(path: *const c_char) -> c_int {
    mutated(Mutation::one(RMDIR, Base::Cwd, path), || {
        match get::rmdir() {
            Some(f) => f(path),
            None => sys_call(
                libc::SYS_unlinkat,
                [CWD, p(path), libc::AT_REMOVEDIR as usize, 0, 0, 0],
            ),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn remove(path: *const c_char) -> c_int {
    mutated(
        Mutation::one(
            Plan::Unlink {
                flags: 0,
                remove: true,
            },
            Base::Cwd,
            path,
        ),
        // glibc's remove: unlink, and rmdir for a directory, made here so
        // that it runs from the gadget page under the filter of unhooked calls.
        || match sys_call(libc::SYS_unlinkat, [CWD, p(path), 0, 0, 0, 0]) {
            -1 if sys::errno() == libc::EISDIR => sys_call(
                libc::SYS_unlinkat,
                [CWD, p(path), libc::AT_REMOVEDIR as usize, 0, 0, 0],
            ),
            r => r,
        },
    )
}

// ---- rename, link, symlink -------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn rename(old: *const c_char, new: *const c_char) -> c_int {
    let m = Mutation::two(Plan::Rename { flags: 0 }, Base::Cwd, old, Base::Cwd, new);
    mutated(m, || match get::rename() {
        Some(f) => f(old, new),
        None => sys_call(libc::SYS_renameat2, [CWD, p(old), CWD, p(new), 0, 0]),
    })
}

#[no_mangle]
pub unsafe extern "C" fn renameat(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
) -> c_int {
    let plan = Plan::Rename { flags: 0 };
    let m = Mutation::two(plan, Base::of(olddir), old, Base::of(newdir), new);
    mutated(m, || match get::renameat() {
        Some(f) => f(olddir, old, newdir, new),
        None => sys_call(
            libc::SYS_renameat2,
            [olddir as usize, p(old), newdir as usize, p(new), 0, 0],
        ),
    })
}

#[no_mangle]
pub unsafe extern "C" fn renameat2(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
    flags: c_uint,
) -> c_int {
    let plan = Plan::Rename { flags };
    let m = Mutation::two(plan, Base::of(olddir), old, Base::of(newdir), new);
    mutated(m, || match get::renameat2() {
        Some(f) => f(olddir, old, newdir, new, flags),
        None => sys_call(
            libc::SYS_renameat2,
            [
                olddir as usize,
                p(old),
                newdir as usize,
                p(new),
                flags as usize,
                0,
            ],
        ),
    })
}

#[no_mangle]
pub unsafe extern "C" fn link(old: *const c_char, new: *const c_char) -> c_int {
    let m = Mutation::two(Plan::Link { flags: 0 }, Base::Cwd, old, Base::Cwd, new);
    mutated(m, || match get::link() {
        Some(f) => f(old, new),
        None => sys_call(libc::SYS_linkat, [CWD, p(old), CWD, p(new), 0, 0]),
    })
}

#[no_mangle]
pub unsafe extern "C" fn linkat(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
    flags: c_int,
) -> c_int {
    let plan = Plan::Link { flags };
    let m = Mutation::two(plan, Base::of(olddir), old, Base::of(newdir), new);
    mutated(m, || match get::linkat() {
        Some(f) => f(olddir, old, newdir, new, flags),
        None => sys_call(
            libc::SYS_linkat,
            [
                olddir as usize,
                p(old),
                newdir as usize,
                p(new),
                flags as usize,
                0,
            ],
        ),
    })
}

#[no_mangle]
pub unsafe extern "C" fn symlink(target: *const c_char, link: *const c_char) -> c_int {
    mutated(
        Mutation::symlink(target, Base::Cwd, link),
        || match get::symlink() {
            Some(f) => f(target, link),
            None => sys_call(libc::SYS_symlinkat, [p(target), CWD, p(link), 0, 0, 0]),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn symlinkat(
    target: *const c_char,
    dirfd: c_int,
    link: *const c_char,
) -> c_int {
    mutated(
        Mutation::symlink(target, Base::of(dirfd), link),
        || match get::symlinkat() {
            Some(f) => f(target, dirfd, link),
            None => sys_call(
                libc::SYS_symlinkat,
                [p(target), dirfd as usize, p(link), 0, 0, 0],
            ),
        },
    )
}

// ---- mkdir ---------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn mkdir(path: *const c_char, mode: mode_t) -> c_int {
    mutated(
        Mutation::one(Plan::Mkdir { mode }, Base::Cwd, path),
        || match get::mkdir() {
            Some(f) => f(path, mode),
            None => sys_call(libc::SYS_mkdirat, [CWD, p(path), mode as usize, 0, 0, 0]),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn mkdirat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int {
    mutated(
        Mutation::one(Plan::Mkdir { mode }, Base::of(dirfd), path),
        || match get::mkdirat() {
            Some(f) => f(dirfd, path, mode),
            None => sys_call(
                libc::SYS_mkdirat,
                [dirfd as usize, p(path), mode as usize, 0, 0, 0],
            ),
        },
    )
}

// ---- extended attributes -------------------------------------------------------------

fn xattr_plan(
    name: *const c_char,
    value: *const libc::c_void,
    size: usize,
    flags: c_int,
    follow: bool,
) -> Plan {
    Plan::Xattr {
        name,
        value,
        size,
        flags,
        remove: false,
        follow,
    }
}

/// An extended attribute's removal.
fn xattr_removal(name: *const c_char, follow: bool) -> Plan {
    Plan::Xattr {
        name,
        value: core::ptr::null(),
        size: 0,
        flags: 0,
        remove: true,
        follow,
    }
}

#[no_mangle]
pub unsafe extern "C" fn setxattr(
    path: *const c_char,
    name: *const c_char,
    value: *const libc::c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    set_by_path(path, name, value, size, flags, true)
}

#[no_mangle]
pub unsafe extern "C" fn lsetxattr(
    path: *const c_char,
    name: *const c_char,
    value: *const libc::c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    set_by_path(path, name, value, size, flags, false)
}

/// `setxattr` (`follow`) or `lsetxattr`.
unsafe fn set_by_path(
    path: *const c_char,
    name: *const c_char,
    value: *const libc::c_void,
    size: usize,
    flags: c_int,
    follow: bool,
) -> c_int {
    let plan = xattr_plan(name, value, size, flags, follow);
    let (real, nr) = if follow {
        (get::setxattr(), libc::SYS_setxattr)
    } else {
        (get::lsetxattr(), libc::SYS_lsetxattr)
    };
    mutated(Mutation::one(plan, Base::Cwd, path), || match real {
        Some(f) => f(path, name, value, size, flags),
        None => sys_call(
            nr,
            [p(path), p(name), value as usize, size, flags as usize, 0],
        ),
    })
}

/// `fsetxattr(fd, ...)`: the descriptor's own file (one opened for
/// reading is enough to change a file's attributes).
#[no_mangle]
pub unsafe extern "C" fn fsetxattr(
    fd: c_int,
    name: *const c_char,
    value: *const libc::c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    let plan = xattr_plan(name, value, size, flags, true);
    mutated(
        Mutation::one(plan, Base::of(fd), c"".as_ptr()),
        || match get::fsetxattr() {
            Some(f) => f(fd, name, value, size, flags),
            None => sys_call(
                libc::SYS_fsetxattr,
                [
                    fd as usize,
                    p(name),
                    value as usize,
                    size,
                    flags as usize,
                    0,
                ],
            ),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn removexattr(path: *const c_char, name: *const c_char) -> c_int {
    remove_by_path(path, name, true)
}

#[no_mangle]
pub unsafe extern "C" fn lremovexattr(path: *const c_char, name: *const c_char) -> c_int {
    remove_by_path(path, name, false)
}

/// `removexattr` (`follow`) or `lremovexattr`.
unsafe fn remove_by_path(path: *const c_char, name: *const c_char, follow: bool) -> c_int {
    let (real, nr) = if follow {
        (get::removexattr(), libc::SYS_removexattr)
    } else {
        (get::lremovexattr(), libc::SYS_lremovexattr)
    };
    mutated(
        Mutation::one(xattr_removal(name, follow), Base::Cwd, path),
        || match real {
            Some(f) => f(path, name),
            None => sys_call(nr, [p(path), p(name), 0, 0, 0, 0]),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn fremovexattr(fd: c_int, name: *const c_char) -> c_int {
    let plan = xattr_removal(name, true);
    mutated(
        Mutation::one(plan, Base::of(fd), c"".as_ptr()),
        || match get::fremovexattr() {
            Some(f) => f(fd, name),
            None => sys_call(libc::SYS_fremovexattr, [fd as usize, p(name), 0, 0, 0, 0]),
        },
    )
}

// ---- mknod ---------------------------------------------------------------------------

/// `mknod`: a file made without an open (a regular file, a FIFO, a socket
/// or device node), decided as a write where it is made.
#[no_mangle]
pub unsafe extern "C" fn mknod(path: *const c_char, mode: mode_t, dev: libc::dev_t) -> c_int {
    mutated(
        Mutation::one(Plan::Mknod { mode, dev }, Base::Cwd, path),
        || match get::mknod() {
            Some(f) => f(path, mode, dev),
            None => sys_call(
                libc::SYS_mknodat,
                [CWD, p(path), mode as usize, dev as usize, 0, 0],
            ),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn mknodat(
    dirfd: c_int,
    path: *const c_char,
    mode: mode_t,
    dev: libc::dev_t,
) -> c_int {
    mutated(
        Mutation::one(Plan::Mknod { mode, dev }, Base::of(dirfd), path),
        || match get::mknodat() {
            Some(f) => f(dirfd, path, mode, dev),
            None => sys_call(
                libc::SYS_mknodat,
                [dirfd as usize, p(path), mode as usize, dev as usize, 0, 0],
            ),
        },
    )
}

// ---- bind ----------------------------------------------------------------------------

/// `bind` of a Unix socket to a path: a socket file made where it lands,
/// decided as a write there (op `mknod`, as `mknod` making one). The
/// address is copied first and the copy bound, so that another thread
/// writing over the caller's meanwhile changes nothing; under enforcement
/// the socket is bound in the pinned directory decided on. Any other
/// address (inet, an abstract or empty Unix name) is bound as it is.
#[no_mangle]
pub unsafe extern "C" fn bind(
    fd: c_int,
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
) -> c_int {
    // A path fills at most the 108 bytes of `sun_path`: one more for a NUL.
    let mut copy = [0 as c_char; 109];
    if !unix_path(addr, len, &mut copy) {
        return sys_call(
            libc::SYS_bind,
            [fd as usize, addr as usize, len as usize, 0, 0, 0],
        );
    }
    let name = copy.as_ptr();
    mutated(
        Mutation::one(Plan::Bind { sock: fd }, Base::Cwd, name),
        || bind_at(fd, libc::AT_FDCWD, name),
    )
}

/// Whether `addr` (`len` bytes) names a Unix socket by a path, copied into
/// `out` with a NUL after it. An abstract name, an empty one (autobind), a
/// longer address than a `sockaddr_un` (the kernel refuses it) or a NULL
/// one: false.
unsafe fn unix_path(
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
    out: &mut [c_char; 109],
) -> bool {
    let family = core::mem::size_of::<libc::sa_family_t>();
    let len = len as usize;
    if addr.is_null() || len <= family || len > core::mem::size_of::<libc::sockaddr_un>() {
        return false;
    }
    if (*addr).sa_family as c_int != libc::AF_UNIX {
        return false;
    }
    let path = core::slice::from_raw_parts(addr.cast::<u8>().add(family), len - family);
    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
    if end == 0 {
        return false;
    }
    for (d, &b) in out.iter_mut().zip(&path[..end]) {
        *d = b as c_char;
    }
    out[end] = 0;
    true
}

// ---- chmod, chown --------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn chmod(path: *const c_char, mode: mode_t) -> c_int {
    mutated(
        Mutation::one(Plan::Chmod { mode, flags: 0 }, Base::Cwd, path),
        || match get::chmod() {
            Some(f) => f(path, mode),
            None => sys_call(libc::SYS_fchmodat, [CWD, p(path), mode as usize, 0, 0, 0]),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn lchmod(path: *const c_char, mode: mode_t) -> c_int {
    mutated(
        Mutation::one(
            Plan::Chmod {
                mode,
                flags: libc::AT_SYMLINK_NOFOLLOW,
            },
            Base::Cwd,
            path,
        ),
        || match must::lchmod() {
            Some(f) if !crate::sys::via_gadget() => f(path, mode),
            _ => sys_call(
                libc::SYS_fchmodat2,
                [
                    CWD,
                    p(path),
                    mode as usize,
                    libc::AT_SYMLINK_NOFOLLOW as usize,
                    0,
                    0,
                ],
            ),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn fchmodat(
    dirfd: c_int,
    path: *const c_char,
    mode: mode_t,
    flags: c_int,
) -> c_int {
    let plan = Plan::Chmod { mode, flags };
    mutated(Mutation::one(plan, Base::of(dirfd), path), || {
        let a = [dirfd as usize, p(path), mode as usize, flags as usize, 0, 0];
        match get::fchmodat() {
            Some(f) => f(dirfd, path, mode, flags),
            // The fchmodat syscall has no flags argument.
            None if flags == 0 => sys_call(libc::SYS_fchmodat, a),
            None => sys_call(libc::SYS_fchmodat2, a),
        }
    })
}

/// `fchmod(fd, mode)`: the descriptor's own file, as
/// `fchmodat(fd, "", mode, AT_EMPTY_PATH)` names it (a descriptor opened
/// for reading is enough to change a file no write may touch).
#[no_mangle]
pub unsafe extern "C" fn fchmod(fd: c_int, mode: mode_t) -> c_int {
    let plan = Plan::Chmod {
        mode,
        flags: libc::AT_EMPTY_PATH,
    };
    mutated(
        Mutation::one(plan, Base::of(fd), c"".as_ptr()),
        || match get::fchmod() {
            Some(f) => f(fd, mode),
            None => sys_call(libc::SYS_fchmod, [fd as usize, mode as usize, 0, 0, 0, 0]),
        },
    )
}

/// `fchown(fd, uid, gid)`: the descriptor's own file, as [`fchmod`].
#[no_mangle]
pub unsafe extern "C" fn fchown(fd: c_int, uid: uid_t, gid: gid_t) -> c_int {
    let plan = Plan::Chown {
        uid,
        gid,
        flags: libc::AT_EMPTY_PATH,
    };
    mutated(
        Mutation::one(plan, Base::of(fd), c"".as_ptr()),
        || match get::fchown() {
            Some(f) => f(fd, uid, gid),
            None => sys_call(
                libc::SYS_fchown,
                [fd as usize, uid as usize, gid as usize, 0, 0, 0],
            ),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn chown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int {
    mutated(
        Mutation::one(Plan::Chown { uid, gid, flags: 0 }, Base::Cwd, path),
        || match get::chown() {
            Some(f) => f(path, uid, gid),
            None => sys_call(
                libc::SYS_fchownat,
                [CWD, p(path), uid as usize, gid as usize, 0, 0],
            ),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn lchown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int {
    mutated(
        Mutation::one(
            Plan::Chown {
                uid,
                gid,
                flags: libc::AT_SYMLINK_NOFOLLOW,
            },
            Base::Cwd,
            path,
        ),
        || match get::lchown() {
            Some(f) => f(path, uid, gid),
            None => sys_call(
                libc::SYS_fchownat,
                [
                    CWD,
                    p(path),
                    uid as usize,
                    gid as usize,
                    libc::AT_SYMLINK_NOFOLLOW as usize,
                    0,
                ],
            ),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn fchownat(
    dirfd: c_int,
    path: *const c_char,
    uid: uid_t,
    gid: gid_t,
    flags: c_int,
) -> c_int {
    mutated(
        Mutation::one(Plan::Chown { uid, gid, flags }, Base::of(dirfd), path),
        || match get::fchownat() {
            Some(f) => f(dirfd, path, uid, gid, flags),
            None => sys_call(
                libc::SYS_fchownat,
                [
                    dirfd as usize,
                    p(path),
                    uid as usize,
                    gid as usize,
                    flags as usize,
                    0,
                ],
            ),
        },
    )
}

// ---- truncate ------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn truncate(path: *const c_char, len: off_t) -> c_int {
    mutated(
        Mutation::one(Plan::Truncate { len }, Base::Cwd, path),
        || match get::truncate() {
            Some(f) => f(path, len),
            None => sys_call(libc::SYS_truncate, [p(path), len as usize, 0, 0, 0, 0]),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn truncate64(path: *const c_char, len: off64_t) -> c_int {
    mutated(
        Mutation::one(Plan::Truncate { len }, Base::Cwd, path),
        || match get::truncate64() {
            Some(f) => f(path, len),
            None => sys_call(libc::SYS_truncate, [p(path), len as usize, 0, 0, 0, 0]),
        },
    )
}

// ---- times ---------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn utime(path: *const c_char, times: *const libc::utimbuf) -> c_int {
    mutated(
        Mutation::one(
            Plan::Utime {
                times: Times::Buf(times),
                flags: 0,
            },
            Base::Cwd,
            path,
        ),
        || match must::utime() {
            Some(f) if !crate::sys::via_gadget() => f(path, times),
            _ => {
                // SAFETY: the caller's utimbuf, or NULL for "now".
                let tv = unsafe { times.as_ref() }.map(|t| {
                    [
                        libc::timeval {
                            tv_sec: t.actime,
                            tv_usec: 0,
                        },
                        libc::timeval {
                            tv_sec: t.modtime,
                            tv_usec: 0,
                        },
                    ]
                });
                times_of_timevals(
                    CWD,
                    path,
                    tv.as_ref().map_or(core::ptr::null(), |t| t.as_ptr()),
                    0,
                )
            }
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn utimes(path: *const c_char, times: *const libc::timeval) -> c_int {
    mutated(
        Mutation::one(
            Plan::Utime {
                times: Times::Val(times),
                flags: 0,
            },
            Base::Cwd,
            path,
        ),
        || match must::utimes() {
            Some(f) if !crate::sys::via_gadget() => f(path, times),
            _ => times_of_timevals(CWD, path, times, 0),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn lutimes(path: *const c_char, times: *const libc::timeval) -> c_int {
    mutated(
        Mutation::one(
            Plan::Utime {
                times: Times::Val(times),
                flags: libc::AT_SYMLINK_NOFOLLOW,
            },
            Base::Cwd,
            path,
        ),
        || match must::lutimes() {
            Some(f) if !crate::sys::via_gadget() => f(path, times),
            _ => times_of_timevals(CWD, path, times, libc::AT_SYMLINK_NOFOLLOW),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn futimesat(
    dirfd: c_int,
    path: *const c_char,
    times: *const libc::timeval,
) -> c_int {
    // Decided (and, under enforce, made) as named; run as asked.
    let (named, flags) = descriptor_own(dirfd, path, 0);
    mutated(
        Mutation::one(
            Plan::Utime {
                times: Times::Val(times),
                flags,
            },
            Base::of(dirfd),
            named,
        ),
        || match must::futimesat() {
            Some(f) if !crate::sys::via_gadget() => f(dirfd, path, times),
            _ => times_of_timevals(dirfd as usize, path, times, 0),
        },
    )
}

/// A NULL path with a directory descriptor names the descriptor's own
/// file (`futimens`): as the empty path with `AT_EMPTY_PATH` does, which
/// is how it is decided and made.
fn descriptor_own(dirfd: c_int, path: *const c_char, flags: c_int) -> (*const c_char, c_int) {
    if path.is_null() && dirfd != libc::AT_FDCWD {
        (c"".as_ptr(), flags | libc::AT_EMPTY_PATH)
    } else {
        (path, flags)
    }
}

/// `futimens(fd, times)`: `utimensat(fd, NULL, times, 0)`, the
/// descriptor's own file (one opened for reading is enough to set the
/// times of a file its owner may not write).
#[no_mangle]
pub unsafe extern "C" fn futimens(fd: c_int, times: *const libc::timespec) -> c_int {
    mutated(
        Mutation::one(
            Plan::Utime {
                times: Times::Spec(times),
                flags: libc::AT_EMPTY_PATH,
            },
            Base::of(fd),
            c"".as_ptr(),
        ),
        || match get::futimens() {
            Some(f) => f(fd, times),
            None => sys_call(
                libc::SYS_utimensat,
                [fd as usize, 0, times as usize, 0, 0, 0],
            ),
        },
    )
}

/// `futimes(fd, tv)`: as [`futimens`], with `timeval`s.
#[no_mangle]
pub unsafe extern "C" fn futimes(fd: c_int, tv: *const libc::timeval) -> c_int {
    mutated(
        Mutation::one(
            Plan::Utime {
                times: Times::Val(tv),
                flags: libc::AT_EMPTY_PATH,
            },
            Base::of(fd),
            c"".as_ptr(),
        ),
        || match get::futimes() {
            Some(f) if !crate::sys::via_gadget() => f(fd, tv),
            _ => times_of_timevals(fd as usize, c"".as_ptr(), tv, libc::AT_EMPTY_PATH),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn utimensat(
    dirfd: c_int,
    path: *const c_char,
    times: *const libc::timespec,
    flags: c_int,
) -> c_int {
    if path.is_null() {
        // As glibc's: a NULL path is futimens's (the system call's), not
        // this function's; no call is made.
        sys::set_errno(libc::EINVAL);
        return -1;
    }
    mutated(
        Mutation::one(
            Plan::Utime {
                times: Times::Spec(times),
                flags,
            },
            Base::of(dirfd),
            path,
        ),
        || match get::utimensat() {
            Some(f) => f(dirfd, path, times, flags),
            None => sys_call(
                libc::SYS_utimensat,
                [
                    dirfd as usize,
                    p(path),
                    times as usize,
                    flags as usize,
                    0,
                    0,
                ],
            ),
        },
    )
}

// ---- through syscall() ---------------------------------------------------------------

/// The mutation a `syscall(n, a...)` makes, if `n` is one: the numbers of
/// the calls above (and `fchmodat2`, which libc has no wrapper for).
pub fn of_syscall(n: c_long, a: [c_long; 6]) -> Option<Mutation> {
    #[cfg(target_arch = "x86_64")]
    if let Some(m) = of_legacy_syscall(n, a) {
        return Some(m);
    }
    let s = |i: usize| a[i] as *const c_char;
    let dir = |i: usize| Base::of(a[i] as c_int);
    let int = |i: usize| a[i] as c_int;
    Some(match n {
        libc::SYS_unlinkat => Mutation::one(
            Plan::Unlink {
                flags: int(2),
                remove: false,
            },
            dir(0),
            s(1),
        ),
        libc::SYS_renameat => Mutation::two(Plan::Rename { flags: 0 }, dir(0), s(1), dir(2), s(3)),
        libc::SYS_renameat2 => Mutation::two(
            Plan::Rename {
                flags: a[4] as c_uint,
            },
            dir(0),
            s(1),
            dir(2),
            s(3),
        ),
        libc::SYS_linkat => Mutation::two(Plan::Link { flags: int(4) }, dir(0), s(1), dir(2), s(3)),
        libc::SYS_symlinkat => Mutation::symlink(s(0), dir(1), s(2)),
        libc::SYS_mkdirat => Mutation::one(
            Plan::Mkdir {
                mode: a[2] as mode_t,
            },
            dir(0),
            s(1),
        ),
        libc::SYS_fchmodat | libc::SYS_fchmodat2 => {
            // The fchmodat system call has no flags argument.
            let flags = if n == libc::SYS_fchmodat { 0 } else { int(3) };
            let mode = a[2] as mode_t;
            Mutation::one(Plan::Chmod { mode, flags }, dir(0), s(1))
        }
        libc::SYS_fchownat => {
            let (uid, gid) = (a[2] as uid_t, a[3] as gid_t);
            Mutation::one(
                Plan::Chown {
                    uid,
                    gid,
                    flags: int(4),
                },
                dir(0),
                s(1),
            )
        }
        libc::SYS_truncate => Mutation::one(Plan::Truncate { len: a[1] }, Base::Cwd, s(0)),
        libc::SYS_utimensat => {
            let times = Times::Spec(a[2] as *const libc::timespec);
            let (path, flags) = descriptor_own(int(0), s(1), int(3));
            Mutation::one(Plan::Utime { times, flags }, dir(0), path)
        }
        // The descriptor's own file.
        libc::SYS_fchmod => Mutation::one(
            Plan::Chmod {
                mode: a[1] as mode_t,
                flags: libc::AT_EMPTY_PATH,
            },
            dir(0),
            c"".as_ptr(),
        ),
        libc::SYS_fchown => Mutation::one(
            Plan::Chown {
                uid: a[1] as uid_t,
                gid: a[2] as gid_t,
                flags: libc::AT_EMPTY_PATH,
            },
            dir(0),
            c"".as_ptr(),
        ),
        libc::SYS_mknodat => Mutation::one(
            Plan::Mknod {
                mode: a[2] as mode_t,
                dev: a[3] as libc::dev_t,
            },
            dir(0),
            s(1),
        ),
        libc::SYS_setxattr | libc::SYS_lsetxattr => {
            let v = a[2] as *const libc::c_void;
            let plan = xattr_plan(s(1), v, a[3] as usize, int(4), n == libc::SYS_setxattr);
            Mutation::one(plan, Base::Cwd, s(0))
        }
        libc::SYS_fsetxattr => {
            let v = a[2] as *const libc::c_void;
            let plan = xattr_plan(s(1), v, a[3] as usize, int(4), true);
            Mutation::one(plan, dir(0), c"".as_ptr())
        }
        libc::SYS_removexattr | libc::SYS_lremovexattr => {
            let plan = xattr_removal(s(1), n == libc::SYS_removexattr);
            Mutation::one(plan, Base::Cwd, s(0))
        }
        libc::SYS_fremovexattr => Mutation::one(xattr_removal(s(1), true), dir(0), c"".as_ptr()),
        _ => return None,
    })
}

/// `unlink` and `rmdir` as `unlinkat`.
const UNLINK: Plan = Plan::Unlink {
    flags: 0,
    remove: false,
};
const RMDIR: Plan = Plan::Unlink {
    flags: libc::AT_REMOVEDIR,
    remove: false,
};

/// [`of_syscall`] for the numbers only x86_64 has (the calls before `*at`).
#[cfg(target_arch = "x86_64")]
fn of_legacy_syscall(n: c_long, a: [c_long; 6]) -> Option<Mutation> {
    let s = |i: usize| a[i] as *const c_char;
    let cwd = Base::Cwd;
    Some(match n {
        libc::SYS_unlink => Mutation::one(UNLINK, cwd, s(0)),
        libc::SYS_rmdir => Mutation::one(RMDIR, cwd, s(0)),
        libc::SYS_rename => Mutation::two(Plan::Rename { flags: 0 }, cwd, s(0), cwd, s(1)),
        libc::SYS_link => Mutation::two(Plan::Link { flags: 0 }, cwd, s(0), cwd, s(1)),
        libc::SYS_symlink => Mutation::symlink(s(0), cwd, s(1)),
        libc::SYS_mkdir => Mutation::one(
            Plan::Mkdir {
                mode: a[1] as mode_t,
            },
            cwd,
            s(0),
        ),
        libc::SYS_chmod => Mutation::one(
            Plan::Chmod {
                mode: a[1] as mode_t,
                flags: 0,
            },
            cwd,
            s(0),
        ),
        libc::SYS_chown | libc::SYS_lchown => {
            let flags = if n == libc::SYS_lchown {
                libc::AT_SYMLINK_NOFOLLOW
            } else {
                0
            };
            let (uid, gid) = (a[1] as uid_t, a[2] as gid_t);
            Mutation::one(Plan::Chown { uid, gid, flags }, cwd, s(0))
        }
        libc::SYS_utime => {
            let times = Times::Buf(a[1] as *const libc::utimbuf);
            Mutation::one(Plan::Utime { times, flags: 0 }, cwd, s(0))
        }
        libc::SYS_utimes => {
            let times = Times::Val(a[1] as *const libc::timeval);
            Mutation::one(Plan::Utime { times, flags: 0 }, cwd, s(0))
        }
        libc::SYS_futimesat => {
            let times = Times::Val(a[2] as *const libc::timeval);
            let dir = Base::of(a[0] as c_int);
            let (path, flags) = descriptor_own(a[0] as c_int, s(1), 0);
            Mutation::one(Plan::Utime { times, flags }, dir, path)
        }
        libc::SYS_mknod => Mutation::one(
            Plan::Mknod {
                mode: a[1] as mode_t,
                dev: a[2] as libc::dev_t,
            },
            cwd,
            s(0),
        ),
        _ => return None,
    })
}
