//! The open family: `open`, `open64`, `openat`, `openat64`, the fortified
//! `__open*_2`, `creat`, `creat64`, `fopen`, `fopen64`, `freopen`,
//! `freopen64`, and `syscall(SYS_open*)`. Each reports the path given
//! (made absolute, cleaned), the file it reached where that differs (see
//! [`crate::reach`]), the open flags and the outcome, and returns exactly
//! what the open returned with its errno. The variadic ones get here
//! through the C shim.
//!
//! [`open_fd`] is the one path of the calls that return a descriptor (and
//! of `fopen`, which opens one and hands it to `fdopen`). The caller's path
//! is copied first and the open is made on the copy. Monitor mode: an
//! `openat2` that follows no link, which is the open itself when it works;
//! when a link is in the way, the real call, and the file it reached read
//! back from its descriptor. Enforce mode: a name the policy cannot refuse
//! is opened the same way (one system call); any other open is pinned
//! (`O_PATH`), decided on the name and the file reached, and made through
//! the pin, so the file decided is the file opened whatever another thread
//! does meanwhile. A refused open fails with EACCES (`fopen`: NULL) without
//! being made, or with ENOENT/ENOTDIR when nothing was there to reach.
//!
//! What this costs: nothing in monitor mode when no link is followed (the
//! `openat2` replaces the `openat`); one `readlink` when one is. In enforce
//! mode, nothing for a name the policy cannot refuse; a pin, a readlink and
//! a close around any open that waits for a verdict anyway.

use libc::{c_char, c_int, c_uint, mode_t, FILE};

use crate::at::Base;
use crate::conn::{self, Ctx};
use crate::enforce::{self, Gate};
use crate::path::PATH_MAX;
use crate::reach::{self, PathCopy};
use crate::real::{get, must};
use crate::report::{self, outcome, OpenBy, Reached};
use crate::sys;

/// Report an open of `path` relative to `base` that returned `ok`/`err`.
pub fn after_open(base: Base, path: *const c_char, flags: c_int, ok: bool, err: c_int) {
    if path.is_null() || (!ok && err == libc::EFAULT) {
        return; // nothing was opened, and the path may not be readable
    }
    let Some(cx) = conn::ctx() else { return };
    let mut conn = cx.conn();
    // SAFETY: the real call read this string successfully.
    let rel = unsafe { sys::cstr_bytes(path) };
    report::open(
        &cx,
        &mut conn,
        base,
        rel,
        flags,
        Reached::Same,
        outcome(ok, err),
        OpenBy::Program,
    );
}

/// Enforce mode: decide an open of `path` before it is made; `None` when
/// the open is not decided first (monitor mode, a tool the policy cannot
/// refuse, no collector named): then it is reported after the call.
fn before_open(base: Base, path: *const c_char, flags: c_int) -> Option<Gate> {
    if path.is_null() {
        return None; // the real call fails with EFAULT; nothing to decide
    }
    if !crate::state::saved()?.enforce {
        return None; // monitor mode: not even the pid is needed yet
    }
    let cx = conn::ctx()?;
    let err = sys::errno();
    let mut conn = cx.conn();
    if !enforce::needs_verdict(&cx, enforce::open_tool(flags), conn.as_ref()) {
        sys::set_errno(err);
        return None;
    }
    // SAFETY: a non-NULL path from the caller, as the real call reads it.
    let rel = unsafe { sys::cstr_bytes(path) };
    let gate = report::open_gate(
        &cx,
        &mut conn,
        base,
        rel,
        flags,
        Reached::Same,
        OpenBy::Program,
    );
    sys::set_errno(err);
    Some(gate)
}

/// The errno of a refused open: EACCES, except for an open that creates
/// nothing of a path that does not exist, which fails as it would have
/// anyway (ENOENT, ENOTDIR). Programs probe for optional files (git's
/// `packed-refs`, config search paths) and treat EACCES as fatal where
/// ENOENT means "absent"; a policy learned from successful calls never
/// allows those probes, and refusing them must not change the program.
/// Likewise EBADF for a directory descriptor that is not open.
fn refused_errno(base: Base, path: *const c_char, flags: c_int) -> c_int {
    if flags & libc::O_CREAT != 0 || path.is_null() {
        return libc::EACCES;
    }
    let dirfd = match base {
        Base::Dir(fd) => fd,
        Base::Cwd | Base::AsIs => libc::AT_FDCWD,
    };
    // SAFETY: the kernel validates the arguments; F_OK reads nothing.
    match unsafe {
        sys::raw(
            libc::SYS_faccessat,
            dirfd as usize,
            path as usize,
            libc::F_OK as usize,
            0,
        )
    } {
        // EBADF: a directory descriptor that is not open, which the
        // kernel would have said (its path could not be named: refused).
        Err(e @ (libc::ENOENT | libc::ENOTDIR | libc::EBADF)) => e,
        _ => libc::EACCES,
    }
}

/// The opens [`open_fd`] cannot make itself (`freopen` and an `fopen` with
/// a `ccs=` mode, whose own open libc makes through the hook of its
/// internal opens; a path longer than the kernel takes): decide the open on
/// its name first (enforce mode), make `call`, report it, and hand back its
/// result and errno untouched. A refused open is not made: it returns
/// `refused` with the errno of [`refused_errno`]. `flags(ok, errno)` reads
/// the open flags; it is asked before the call only in enforce mode (with
/// `(true, 0)`).
#[inline(always)]
pub fn decided<R>(
    base: Base,
    path: *const c_char,
    flags: impl Fn(bool, c_int) -> c_int,
    refused: R,
    call: impl FnOnce() -> R,
    ok: impl Fn(&R) -> bool,
) -> R {
    let enforcing = !path.is_null() && crate::state::saved().is_some_and(|s| s.enforce);
    if enforcing {
        let before = flags(true, 0);
        match before_open(base, path, before) {
            Some(Gate::Refuse) => {
                sys::set_errno(refused_errno(base, path, before));
                return refused;
            }
            Some(Gate::Run {
                report_after: false,
            }) => return call(),
            Some(Gate::Run { report_after: true }) | None => {}
        }
    }
    let r = call();
    let err = sys::errno();
    let opened = ok(&r);
    after_open(base, path, flags(opened, err), opened, err);
    sys::set_errno(err);
    r
}

/// An open that returns a descriptor, as [`open_fd`] needs it.
#[derive(Clone, Copy)]
pub struct OpenArgs {
    /// The directory a relative path is read from (`AT_FDCWD`: the cwd).
    pub dirfd: c_int,
    pub flags: c_int,
    pub mode: c_uint,
    /// `openat2`'s `RESOLVE_*` flags (0 for every other call).
    pub resolve: u64,
    /// The program's own open, or libc's inside one of its functions.
    pub by: OpenBy,
}

impl OpenArgs {
    pub fn at(dirfd: c_int, flags: c_int, mode: c_uint) -> OpenArgs {
        OpenArgs {
            dirfd,
            flags,
            mode,
            resolve: 0,
            by: OpenBy::Program,
        }
    }

    fn base(&self) -> Base {
        Base::of(self.dirfd)
    }
}

/// The open family's one path for the calls that return a descriptor or
/// -1 (see the module doc). `real(path)` makes the caller's own call on
/// another copy of the path; it is used where the library cannot make the
/// open itself.
#[inline(never)]
pub fn open_fd(a: OpenArgs, path: *const c_char, real: impl Fn(*const c_char) -> c_int) -> c_int {
    if path.is_null() || !crate::state::saved().is_some_and(|s| s.active) {
        return real(path);
    }
    // SAFETY: a non-NULL path from the caller, as the real call reads it.
    let Some(copy) = (unsafe { PathCopy::of(path) }) else {
        return decided(
            a.base(),
            path,
            |_, _| a.flags,
            -1,
            || real(path),
            |fd| *fd >= 0,
        );
    };
    let err = sys::errno();
    let enforcing = crate::state::saved().is_some_and(|s| s.enforce);
    let fd = if enforcing {
        enforced(a, &copy, &real)
    } else {
        watched(a, &copy, &real)
    };
    if fd >= 0 {
        sys::set_errno(err); // a call that works leaves errno alone
    }
    fd
}

/// Whether the name alone says which file is reached once no link is
/// followed on the way.
fn plain(a: &OpenArgs, copy: &PathCopy) -> bool {
    a.resolve & reach::ROOTED == 0 && copy.plain()
}

/// Monitor mode, or a tool the policy cannot refuse: open, then report.
fn watched(a: OpenArgs, copy: &PathCopy, real: &dyn Fn(*const c_char) -> c_int) -> c_int {
    if plain(&a, copy) {
        let how = reach::how(a.flags, a.mode, a.resolve | reach::RESOLVE_NO_SYMLINKS);
        match reach::openat2(a.dirfd, copy.ptr(), &how) {
            Ok(fd) => return reported(a, copy, Reached::Same, Ok(fd)),
            Err(e) if !reach::try_another_way(e) => {
                return reported(a, copy, Reached::Same, Err(e))
            }
            Err(_) => {}
        }
    }
    let fd = real(copy.ptr());
    let r = if fd >= 0 { Ok(fd) } else { Err(sys::errno()) };
    reported(a, copy, Reached::Fd(fd), r)
}

/// Report an open made ([`after`], with this caller's connection) and
/// return its result with its errno.
fn reported(a: OpenArgs, copy: &PathCopy, reached: Reached, r: Result<c_int, c_int>) -> c_int {
    match conn::ctx() {
        Some(cx) => after(&cx, &mut cx.conn(), a, copy, reached, r),
        None => finish(r),
    }
}

/// A result as the caller gets it: the descriptor, or -1 with errno.
fn finish(r: Result<c_int, c_int>) -> c_int {
    match r {
        Ok(fd) => fd,
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

/// Enforce mode (see the module doc).
fn enforced(a: OpenArgs, copy: &PathCopy, real: &dyn Fn(*const c_char) -> c_int) -> c_int {
    let Some(cx) = conn::ctx() else {
        return real(copy.ptr());
    };
    let err = sys::errno();
    let mut conn = cx.conn();
    if !enforce::needs_verdict(&cx, enforce::open_tool(a.flags), conn.as_ref()) {
        drop(conn);
        sys::set_errno(err);
        return watched(a, copy, real);
    }
    let plain = plain(&a, copy);
    // (A file with another name the policy refuses is found on its pin.)
    if plain && !enforce::lists_other_names(cx.s) {
        // A name the policy cannot refuse, opened following no link: the
        // file reached is the one named. A relative name is decided and
        // opened from one pinned directory (see [`pin_base`]).
        let base = pin_base(a, copy);
        if base != Some(-1) {
            let at = OpenArgs {
                dirfd: base.unwrap_or(a.dirfd),
                ..a
            };
            let made = screened(&cx, &mut conn, at, copy);
            if let Some(pin) = base {
                return match made {
                    Some(r) => close_pin(pin, r, finish(r), a.flags),
                    None => {
                        sys::close(pin);
                        pinned(&cx, &mut conn, a, copy, plain, real)
                    }
                };
            }
            if let Some(r) = made {
                return finish(r);
            }
        }
    }
    pinned(&cx, &mut conn, a, copy, plain, real)
}

/// The directory a relative name is read from, pinned for one call: the
/// working directory (`"."` opened with `O_PATH`) or a copy of `dirfd`.
/// The name is then decided and opened from the same directory, whatever
/// another thread does to the working directory or to `dirfd` meanwhile,
/// and whatever `chdir` the hooks never saw (a raw system call) came
/// before. `None` for an absolute name; `Some(-1)` when there is no
/// descriptor to spare (then the file reached is pinned instead). A copy
/// of `dirfd` goes above [`conn::HIGH_FD`] where the limit allows, out of
/// the program's way: the file then opened gets the number it would have
/// got, with no move afterwards (an `openat` walker's every open saves two
/// system calls).
fn pin_base(a: OpenArgs, copy: &PathCopy) -> Option<c_int> {
    if copy.bytes().first() == Some(&b'/') {
        return None;
    }
    let flags = (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as usize;
    let dot = c".".as_ptr() as usize;
    // SAFETY: plain system calls on our own arguments; a new descriptor
    // comes back, which the caller closes.
    let pin = unsafe {
        if a.dirfd == libc::AT_FDCWD {
            sys::raw(libc::SYS_openat, libc::AT_FDCWD as usize, dot, flags, 0)
        } else {
            let dup = libc::F_DUPFD_CLOEXEC as usize;
            let high = conn::HIGH_FD as usize;
            sys::raw(libc::SYS_fcntl, a.dirfd as usize, dup, high, 0)
                .or_else(|_| sys::raw(libc::SYS_fcntl, a.dirfd as usize, dup, 0, 0))
        }
    };
    Some(pin.map_or(-1, |fd| fd as c_int))
}

/// The screened open of [`enforced`] (`a.dirfd` pinned for a relative
/// name), reported: its result, or `None` when it must be decided on the
/// file it reaches.
fn screened(
    cx: &Ctx,
    conn: &mut Option<crate::conn::Conn>,
    a: OpenArgs,
    copy: &PathCopy,
) -> Option<Result<c_int, c_int>> {
    report::open_gate_if_screened(
        cx,
        conn,
        a.base(),
        copy.bytes(),
        a.flags,
        a.by,
        |conn, gate, frame| {
            let Gate::Run { .. } = gate else {
                return Some(Err(libc::EACCES));
            };
            let how = reach::how(a.flags, a.mode, a.resolve | reach::RESOLVE_NO_SYMLINKS);
            let r = match reach::openat2(a.dirfd, copy.ptr(), &how) {
                Err(e) if reach::try_another_way(e) => return None,
                r => r,
            };
            let oc = match r {
                Ok(_) => outcome(true, 0),
                Err(e) => outcome(false, e),
            };
            // Its frame, built for the gate, is its record.
            report::send_with_outcome(cx, conn, frame, oc);
            Some(r)
        },
    )
    .flatten()
}

/// Report an open made (monitor mode, or after a gate that left the
/// report to the call's end; `Reached::Fd` is read only when the open
/// worked) and return its result with its errno.
fn after(
    cx: &Ctx,
    conn: &mut Option<crate::conn::Conn>,
    a: OpenArgs,
    copy: &PathCopy,
    reached: Reached,
    r: Result<c_int, c_int>,
) -> c_int {
    let reached = match (reached, r) {
        (Reached::Fd(_), Err(_)) => Reached::Same,
        (reached, _) => reached,
    };
    let oc = match r {
        Ok(_) => outcome(true, 0),
        Err(e) => outcome(false, e),
    };
    report::open(cx, conn, a.base(), copy.bytes(), a.flags, reached, oc, a.by);
    finish(r)
}

/// Decide an open on the name and on the file it reaches, then make it on
/// exactly that file.
fn pinned(
    cx: &Ctx,
    conn: &mut Option<crate::conn::Conn>,
    a: OpenArgs,
    copy: &PathCopy,
    plain: bool,
    real: &dyn Fn(*const c_char) -> c_int,
) -> c_int {
    let mut reached = Reached::Same;
    let mut pin = reach::pin(a.dirfd, copy.ptr(), a.flags, a.resolve, plain);
    // A relative name was made absolute against the working directory or
    // `dirfd` as they were a moment ago; the pin was opened from them as
    // they are now (another thread may have changed them): decided on the
    // file pinned too.
    let relative = copy.bytes().first() != Some(&b'/');
    if !plain || relative || matches!(pin, Err(e) if reach::try_another_way(e)) {
        if plain && matches!(pin, Err(e) if reach::try_another_way(e)) {
            pin = reach::pin(a.dirfd, copy.ptr(), a.flags, a.resolve, false);
        }
        if let Ok(p) = pin {
            reached = Reached::Fd(p);
        }
    }
    let p = match pin {
        Ok(p) => p,
        Err(libc::ENOENT) if a.flags & libc::O_CREAT != 0 => {
            return created(cx, conn, a, copy);
        }
        Err(e) => return unreached(cx, conn, a, copy, e),
    };
    if enforce::lists_other_names(cx.s) {
        // A hard link to a file the policy refuses by another name.
        if let Some(name) = sys::fstat(p).and_then(|st| enforce::other_name(cx.s, &st)) {
            reached = Reached::Named(name);
        }
    }
    let gate = report::open_gate(cx, conn, a.base(), copy.bytes(), a.flags, reached, a.by);
    if gate == Gate::Refuse {
        sys::close(p);
        return finish(Err(libc::EACCES));
    }
    let r = through_pin(p, a, copy, real);
    let r = match gate {
        Gate::Run { report_after: true } => {
            // `reached` may read the pin: report before it is closed.
            let fd = after(cx, conn, a, copy, reached, r);
            return close_pin(p, r, fd, a.flags);
        }
        _ => r,
    };
    close_pin(p, r, finish(r), a.flags)
}

/// Close the pin unless it is the descriptor handed back (`O_PATH`), and
/// return `ret` with its errno, at the number the open would have had
/// without the pin ([`lowest`]).
fn close_pin(pin: c_int, r: Result<c_int, c_int>, ret: c_int, flags: c_int) -> c_int {
    if r == Ok(pin) {
        return ret;
    }
    let err = sys::errno();
    sys::close(pin);
    let ret = if ret > pin { lowest(ret, flags) } else { ret };
    sys::set_errno(err);
    ret
}

/// `fd` moved to the lowest free descriptor when that is lower: an open
/// made while a pin held a lower number gets the number it would have
/// got without it (`close(0); open("/dev/null")` must give 0). Keeps
/// close-on-exec as `flags` asked.
fn lowest(fd: c_int, flags: c_int) -> c_int {
    let cmd = if flags & libc::O_CLOEXEC != 0 {
        libc::F_DUPFD_CLOEXEC
    } else {
        libc::F_DUPFD
    };
    // SAFETY: fcntl on a descriptor this hook holds.
    match unsafe { sys::raw(libc::SYS_fcntl, fd as usize, cmd as usize, 0, 0) } {
        Ok(low) if (low as c_int) < fd => {
            sys::close(fd);
            low as c_int
        }
        Ok(other) => {
            sys::close(other as c_int);
            fd
        }
        Err(_) => fd,
    }
}

/// The open the caller asked for, of the file `pin` holds.
fn through_pin(
    pin: c_int,
    a: OpenArgs,
    copy: &PathCopy,
    real: &dyn Fn(*const c_char) -> c_int,
) -> Result<c_int, c_int> {
    let f = a.flags;
    if f & libc::O_PATH != 0 {
        // The pin is that open; only close-on-exec may differ.
        if f & libc::O_CLOEXEC == 0 {
            // SAFETY: F_SETFD on our own descriptor.
            let _ =
                unsafe { sys::raw(libc::SYS_fcntl, pin as usize, libc::F_SETFD as usize, 0, 0) };
        }
        return Ok(pin);
    }
    if f & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL {
        return Err(libc::EEXIST);
    }
    if f & libc::O_NOFOLLOW != 0 && reach::is_link(pin) {
        return Err(libc::ELOOP);
    }
    match reach::reopen(pin, f, a.mode) {
        Err(libc::ENOENT) => {
            // No /proc to reopen through: the caller's open, kept only if
            // it reached the pinned file.
            let fd = real(copy.ptr());
            if fd < 0 {
                return Err(sys::errno());
            }
            let same = match (sys::fstat(fd), sys::fstat(pin)) {
                (Some(x), Some(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino,
                _ => false,
            };
            if same {
                Ok(fd)
            } else {
                sys::close(fd);
                Err(libc::EACCES)
            }
        }
        r => r,
    }
}

/// An open of a name that reaches nothing (the pin failed with `err`):
/// decided on the name, failed with `err` (a refusal fails with it too
/// when it says the path is not there).
fn unreached(
    cx: &Ctx,
    conn: &mut Option<crate::conn::Conn>,
    a: OpenArgs,
    copy: &PathCopy,
    err: c_int,
) -> c_int {
    match report::open_gate(
        cx,
        conn,
        a.base(),
        copy.bytes(),
        a.flags,
        Reached::Same,
        a.by,
    ) {
        Gate::Refuse => {
            let e = match err {
                libc::ENOENT | libc::ENOTDIR if a.flags & libc::O_CREAT == 0 => err,
                _ => libc::EACCES,
            };
            finish(Err(e))
        }
        Gate::Run { report_after: true } => after(cx, conn, a, copy, Reached::Same, Err(err)),
        Gate::Run { .. } => finish(Err(err)),
    }
}

/// How many links a creating open follows to the file it creates.
const MAX_CREATE_LINKS: usize = 8;

/// An `O_CREAT` open of a name that reaches no file: the file is created
/// in its parent directory, pinned, under its last name, with
/// `O_NOFOLLOW`, after a decision on the name and on that file. A dangling
/// link in its place is followed, as the kernel would, to where it points.
fn created(cx: &Ctx, conn: &mut Option<crate::conn::Conn>, a: OpenArgs, copy: &PathCopy) -> c_int {
    let mut cur = [0u8; PATH_MAX + 2];
    let mut len = copy.bytes().len();
    cur[..len].copy_from_slice(copy.bytes());
    let mut dirfd = a.dirfd;
    let mut owned: Option<c_int> = None;
    let mut resolve = a.resolve;
    let release = |fd: Option<c_int>| {
        if let Some(fd) = fd {
            sys::close(fd);
        }
    };
    for _ in 0..MAX_CREATE_LINKS {
        let Some(at) = reach::split_last(&mut cur, len) else {
            release(owned);
            return unreached(cx, conn, a, copy, libc::ENOENT);
        };
        let dir = match reach::pin(
            dirfd,
            cur.as_ptr().cast(),
            libc::O_DIRECTORY,
            resolve,
            false,
        ) {
            Ok(d) => d,
            Err(e) => {
                release(owned);
                return unreached(cx, conn, a, copy, e);
            }
        };
        release(owned.replace(dir));
        dirfd = dir;
        resolve = 0;
        let name = cur[at..].as_ptr().cast::<c_char>();
        let mut target = [0u8; PATH_MAX + 1];
        match reach::readlinkat(dir, name, &mut target) {
            Ok(n) => {
                // A dangling link where the file would be.
                let fails = if a.flags & libc::O_EXCL != 0 {
                    Some(libc::EEXIST)
                } else if a.flags & libc::O_NOFOLLOW != 0 {
                    Some(libc::ELOOP)
                } else {
                    None
                };
                if let Some(e) = fails {
                    release(owned);
                    return unreached(cx, conn, a, copy, e);
                }
                cur[..n + 1].copy_from_slice(&target[..n + 1]);
                len = n;
                continue;
            }
            Err(libc::EINVAL | libc::ENOENT) => {}
            Err(e) => {
                release(owned);
                return unreached(cx, conn, a, copy, e);
            }
        }
        let reached = Reached::DirName(dir, name.cast());
        let gate = report::open_gate(cx, conn, a.base(), copy.bytes(), a.flags, reached, a.by);
        if gate == Gate::Refuse {
            release(owned);
            return finish(Err(libc::EACCES));
        }
        let r = reach::openat(dir, name, a.flags | libc::O_NOFOLLOW, a.mode);
        if r == Err(libc::ELOOP) && a.flags & libc::O_NOFOLLOW == 0 {
            // A link planted since: follow it, deciding again.
            let name_len = cur[at..].iter().position(|&b| b == 0).unwrap_or(0);
            cur.copy_within(at..at + name_len + 1, 0);
            len = name_len;
            continue;
        }
        let ret = match gate {
            Gate::Run { report_after: true } => after(cx, conn, a, copy, reached, r),
            _ => finish(r),
        };
        let err = sys::errno();
        release(owned);
        let ret = if ret > dir { lowest(ret, a.flags) } else { ret };
        sys::set_errno(err);
        return ret;
    }
    release(owned);
    unreached(cx, conn, a, copy, libc::ELOOP)
}

/// The open system call itself, for a real function that is missing.
fn sys_openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    finish(reach::openat(dirfd, path, flags, mode))
}

/// Entry from the C shim's `open`/`open64`.
#[no_mangle]
pub unsafe extern "C" fn rampart_open(
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
    large: c_int,
) -> c_int {
    let a = OpenArgs::at(libc::AT_FDCWD, flags, mode);
    open_fd(a, path, |p| {
        let real = if large != 0 {
            get::open64()
        } else {
            get::open()
        };
        match real {
            Some(f) => f(p, flags, mode),
            None => sys_openat(libc::AT_FDCWD, p, flags, mode),
        }
    })
}

/// Entry of libc's own `__open_nocancel`, which [`crate::internal`]
/// points here: the opens libc makes inside its functions (locale files,
/// gconv modules, `opendir`), made like `open`'s and reported as calls
/// past the hooks ([`OpenBy::Libc`]). The mode is read only with `O_CREAT`
/// or `O_TMPFILE`, as the variadic original reads it; no cancellation
/// point, as the original is none.
pub unsafe extern "C" fn rampart_libc_open(
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    let needs_mode = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
    let mode = if needs_mode { mode } else { 0 };
    let a = OpenArgs {
        by: OpenBy::Libc,
        ..OpenArgs::at(libc::AT_FDCWD, flags, mode)
    };
    let mut fd = None;
    crate::internal::on_own_stack(|| {
        // A library that cannot reach its collector from here leaves the
        // call to the tap, which has its own connection.
        if conn::ctx().is_some_and(|cx| cx.conn().is_some()) {
            fd = Some(open_fd(a, path, |p| {
                sys_openat(libc::AT_FDCWD, p, flags, mode)
            }));
        }
    });
    match fd {
        // Out of descriptors for the hook's own (a pinned directory):
        // made as libc would, for the tap, which needs none of the
        // program's.
        Some(-1) if sys::errno() == libc::EMFILE => libc_made(path, flags, mode),
        Some(fd) => fd,
        // No stack of the library's free, or no collector from here.
        None => libc_made(path, flags, mode),
    }
}

/// libc's open made as libc makes it (not from the gadget page): the filter
/// of unhooked calls hands it to the tap.
fn libc_made(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    let args = [
        libc::AT_FDCWD as usize,
        path as usize,
        flags as usize,
        mode as usize,
        0,
        0,
    ];
    // SAFETY: the caller's own arguments to an openat.
    finish(unsafe { sys::raw6_seen(libc::SYS_openat, args) }.map(|fd| fd as c_int))
}

/// Entry from the C shim's `openat`/`openat64`.
#[no_mangle]
pub unsafe extern "C" fn rampart_openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
    large: c_int,
) -> c_int {
    open_fd(OpenArgs::at(dirfd, flags, mode), path, |p| {
        let real = if large != 0 {
            get::openat64()
        } else {
            get::openat()
        };
        match real {
            Some(f) => f(dirfd, p, flags, mode),
            None => sys_openat(dirfd, p, flags, mode),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    let a = OpenArgs::at(libc::AT_FDCWD, flags, 0);
    open_fd(a, path, |p| match get::__open_2() {
        Some(f) => f(p, flags),
        None => sys_openat(libc::AT_FDCWD, p, flags, 0),
    })
}

#[no_mangle]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    let a = OpenArgs::at(libc::AT_FDCWD, flags, 0);
    open_fd(a, path, |p| match get::__open64_2() {
        Some(f) => f(p, flags),
        None => sys_openat(libc::AT_FDCWD, p, flags, 0),
    })
}

#[no_mangle]
pub unsafe extern "C" fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    open_fd(
        OpenArgs::at(dirfd, flags, 0),
        path,
        |p| match get::__openat_2() {
            Some(f) => f(dirfd, p, flags),
            None => sys_openat(dirfd, p, flags, 0),
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    open_fd(
        OpenArgs::at(dirfd, flags, 0),
        path,
        |p| match get::__openat64_2() {
            Some(f) => f(dirfd, p, flags),
            None => sys_openat(dirfd, p, flags, 0),
        },
    )
}

const CREAT_FLAGS: c_int = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;

#[no_mangle]
pub unsafe extern "C" fn creat(path: *const c_char, mode: mode_t) -> c_int {
    let a = OpenArgs::at(libc::AT_FDCWD, CREAT_FLAGS, mode);
    open_fd(a, path, |p| match get::creat() {
        Some(f) => f(p, mode),
        None => sys_openat(libc::AT_FDCWD, p, CREAT_FLAGS, mode),
    })
}

#[no_mangle]
pub unsafe extern "C" fn creat64(path: *const c_char, mode: mode_t) -> c_int {
    let a = OpenArgs::at(libc::AT_FDCWD, CREAT_FLAGS, mode);
    open_fd(a, path, |p| match get::creat64() {
        Some(f) => f(p, mode),
        None => sys_openat(libc::AT_FDCWD, p, CREAT_FLAGS | libc::O_LARGEFILE, mode),
    })
}

/// The `open(2)` flags an `fopen` mode string stands for.
pub fn fopen_flags(mode: &[u8]) -> c_int {
    let mut f = match mode.first() {
        Some(b'w') => libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
        Some(b'a') => libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND,
        _ => libc::O_RDONLY,
    };
    for &c in mode.iter().skip(1).take_while(|&&c| c != b',') {
        match c {
            b'+' => f = (f & !libc::O_ACCMODE) | libc::O_RDWR,
            b'x' => f |= libc::O_EXCL,
            b'e' => f |= libc::O_CLOEXEC,
            _ => {}
        }
    }
    f
}

/// `fopen`: the descriptor from [`open_fd`] (with the flags of `mode` and
/// the creation mode 0666 that `fopen` uses), handed to libc's `fdopen`. A
/// mode `fdopen` does not know (`ccs=`) goes the way of [`decided`].
fn open_file(
    path: *const c_char,
    mode: *const c_char,
    call: impl FnOnce() -> *mut FILE,
) -> *mut FILE {
    // SAFETY: fopen reads the mode string.
    let m = if mode.is_null() {
        &[][..]
    } else {
        unsafe { sys::cstr_bytes(mode) }
    };
    if path.is_null() || m.is_empty() || m.contains(&b',') {
        return wrap_file(path, mode, core::ptr::null_mut(), call);
    }
    let flags = fopen_flags(m);
    let a = OpenArgs::at(libc::AT_FDCWD, flags, 0o666);
    let fd = open_fd(a, path, |p| sys_openat(libc::AT_FDCWD, p, flags, 0o666));
    if fd < 0 {
        return core::ptr::null_mut();
    }
    // SAFETY: our own descriptor and the caller's mode string; fdopen is
    // not hooked.
    let fp = unsafe { libc::fdopen(fd, mode) };
    if fp.is_null() {
        let err = sys::errno();
        sys::close(fd);
        sys::set_errno(err);
    }
    fp
}

/// [`decided`] for a stdio open of `path` with `mode`; a refused one
/// returns `refused`.
fn wrap_file(
    path: *const c_char,
    mode: *const c_char,
    refused: *mut FILE,
    call: impl FnOnce() -> *mut FILE,
) -> *mut FILE {
    // SAFETY: fopen reads the mode string.
    let flags = if mode.is_null() {
        0
    } else {
        fopen_flags(unsafe { sys::cstr_bytes(mode) })
    };
    decided(
        Base::Cwd,
        path,
        |_, _| flags,
        refused,
        call,
        |fp| !fp.is_null(),
    )
}

fn missing<T>() -> *mut T {
    sys::set_errno(libc::ENOSYS);
    core::ptr::null_mut()
}

#[no_mangle]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut FILE {
    open_file(path, mode, || match must::fopen() {
        Some(f) => f(path, mode),
        None => missing(),
    })
}

#[no_mangle]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut FILE {
    open_file(path, mode, || match must::fopen64() {
        Some(f) => f(path, mode),
        None => missing(),
    })
}

/// `freopen(NULL, mode, stream)` reopens the stream's own file: name it
/// from its descriptor before the call.
unsafe fn freopen_common(
    path: *const c_char,
    mode: *const c_char,
    stream: *mut FILE,
    large: bool,
) -> *mut FILE {
    let mut own = [0u8; PATH_MAX + 1];
    let mut shown = path;
    if path.is_null() && !stream.is_null() {
        let fd = libc::fileno(stream);
        if let Some(n) = crate::path::fd_path(fd, &mut own[..PATH_MAX]) {
            own[n] = 0;
            shown = own.as_ptr().cast();
        }
    }
    let real = if large {
        must::freopen64()
    } else {
        must::freopen()
    };
    if let Some(fp) = freopen_pinned(path, mode, stream, real) {
        return fp;
    }
    // A refusal is told apart from a failure of the real call: only the
    // latter has closed the stream already.
    let refused = REFUSED_STREAM as *mut FILE;
    let fp = wrap_file(shown, mode, refused, || match real {
        Some(f) => f(path, mode, stream),
        None => missing(),
    });
    if fp == refused {
        return refuse_freopen(real, mode, stream);
    }
    fp
}

/// Never a `FILE *`: [`decided`]'s answer for a refused `freopen`.
const REFUSED_STREAM: usize = 1;

/// Fail a refused `freopen` as a failed one does: the stream is closed
/// (libc's own freopen of an empty name does that and fails), and the
/// errno of the refusal is kept.
unsafe fn refuse_freopen(
    real: Option<Freopen>,
    mode: *const c_char,
    stream: *mut FILE,
) -> *mut FILE {
    let errno = sys::errno();
    if let Some(f) = real {
        if !stream.is_null() && !mode.is_null() {
            f(c"".as_ptr(), mode, stream);
        }
    }
    sys::set_errno(errno);
    core::ptr::null_mut()
}

type Freopen = unsafe extern "C" fn(*const c_char, *const c_char, *mut FILE) -> *mut FILE;

/// Enforce mode, a file that exists: `freopen` decided on its name and
/// the file it reaches (pinned), and kept only if the stream reached that
/// file (else closed, EACCES). libc opens the file itself, so a file
/// truncated by mode `w` through a link swapped in between is not undone.
/// `None`: not this case (then [`decided`] on the name).
unsafe fn freopen_pinned(
    path: *const c_char,
    mode: *const c_char,
    stream: *mut FILE,
    real: Option<Freopen>,
) -> Option<*mut FILE> {
    let f = real?;
    if path.is_null() || mode.is_null() || !crate::state::saved().is_some_and(|s| s.enforce) {
        return None;
    }
    let copy = PathCopy::of(path)?;
    let flags = fopen_flags(sys::cstr_bytes(mode));
    let cx = conn::ctx()?;
    let mut conn = cx.conn();
    if !enforce::needs_verdict(&cx, enforce::open_tool(flags), conn.as_ref()) {
        return None;
    }
    let pin = reach::pin(libc::AT_FDCWD, copy.ptr(), flags, 0, false).ok()?;
    let reached = Reached::Fd(pin);
    let base = Base::Cwd;
    let gate = report::open_gate(
        &cx,
        &mut conn,
        base,
        copy.bytes(),
        flags,
        reached,
        OpenBy::Program,
    );
    if gate == Gate::Refuse {
        sys::close(pin);
        sys::set_errno(libc::EACCES);
        return Some(refuse_freopen(Some(f), mode, stream));
    }
    let mut fp = f(copy.ptr(), mode, stream);
    let mut err = sys::errno();
    if !fp.is_null() {
        let same = match (sys::fstat(libc::fileno(fp)), sys::fstat(pin)) {
            (Some(x), Some(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino,
            _ => false,
        };
        if !same {
            // Closed as a failed freopen leaves it (not freed: the
            // program still holds `stream`).
            sys::set_errno(libc::EACCES);
            fp = refuse_freopen(Some(f), mode, fp);
            err = libc::EACCES;
        }
    }
    if gate == (Gate::Run { report_after: true }) {
        let oc = outcome(!fp.is_null(), err);
        report::open(
            &cx,
            &mut conn,
            base,
            copy.bytes(),
            flags,
            reached,
            oc,
            OpenBy::Program,
        );
    }
    sys::close(pin);
    sys::set_errno(err);
    Some(fp)
}

#[no_mangle]
pub unsafe extern "C" fn freopen(
    path: *const c_char,
    mode: *const c_char,
    stream: *mut FILE,
) -> *mut FILE {
    freopen_common(path, mode, stream, false)
}

#[no_mangle]
pub unsafe extern "C" fn freopen64(
    path: *const c_char,
    mode: *const c_char,
    stream: *mut FILE,
) -> *mut FILE {
    freopen_common(path, mode, stream, true)
}
