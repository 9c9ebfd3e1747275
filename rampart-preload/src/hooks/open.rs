//! The open family: `open`, `open64`, `openat`, `openat64`, the fortified
//! `__open*_2`, `creat`, `creat64`, `fopen`, `fopen64`, `freopen`,
//! `freopen64`. Each calls the real function first, then reports the path
//! (resolved, cleaned), the open flags and the outcome, and returns exactly
//! what the real call returned with its errno. In enforce mode the open is
//! decided first; a refused one fails with EACCES (`fopen`: NULL) without
//! being made. The variadic ones get here through the C shim.

use libc::{c_char, c_int, c_uint, mode_t, FILE};

use crate::enforce::{self, Gate};
use crate::path::{Base, PATH_MAX};
use crate::real::{get, must};
use crate::report::{self, outcome};
use crate::sys;

/// Report an open of `path` relative to `base` that returned `ok`/`err`.
pub fn after_open(base: Base, path: *const c_char, flags: c_int, ok: bool, err: c_int) {
    if path.is_null() || (!ok && err == libc::EFAULT) {
        return; // nothing was opened, and the path may not be readable
    }
    let Some(cx) = report::ctx() else { return };
    let Some(mut conn) = cx.conn() else { return };
    // SAFETY: the real call read this string successfully.
    let rel = unsafe { sys::cstr_bytes(path) };
    report::open(&cx, &mut conn, base, rel, flags, outcome(ok, err));
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
    let cx = report::ctx()?;
    let err = sys::errno();
    let mut conn = cx.conn();
    if !enforce::needs_verdict(&cx, enforce::open_tool(flags), conn.as_ref()) {
        sys::set_errno(err);
        return None;
    }
    // SAFETY: a non-NULL path from the caller, as the real call reads it.
    let rel = unsafe { sys::cstr_bytes(path) };
    let gate = report::open_gate(&cx, &mut conn, base, rel, flags);
    sys::set_errno(err);
    Some(gate)
}

/// The errno of a refused open: EACCES, except for an open that creates
/// nothing of a path that does not exist, which fails as it would have
/// anyway (ENOENT, ENOTDIR). Programs probe for optional files (git's
/// `packed-refs`, config search paths) and treat EACCES as fatal where
/// ENOENT means "absent"; a policy learned from successful calls never
/// allows those probes, and refusing them must not change the program.
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
        Err(e @ (libc::ENOENT | libc::ENOTDIR)) => e,
        _ => libc::EACCES,
    }
}

/// The open family's one path: decide the open first (enforce mode), make
/// `call`, report it, and hand back its result and errno untouched. A
/// refused open is not made: it returns `refused` with the errno of
/// [`refused_errno`]. `flags(ok, errno)` reads the open flags; it is asked
/// before the call only in enforce mode (with `(true, 0)`), since reading
/// them may touch memory the kernel has not validated yet (`openat2`).
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

/// [`decided`] for the calls that return a descriptor or -1.
#[inline(always)]
fn wrap(base: Base, path: *const c_char, flags: c_int, call: impl FnOnce() -> c_int) -> c_int {
    decided(base, path, |_, _| flags, -1, call, |fd| *fd >= 0)
}

fn sys_openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    // SAFETY: the kernel validates all arguments.
    match unsafe {
        sys::raw(
            libc::SYS_openat,
            dirfd as usize,
            path as usize,
            flags as usize,
            mode as usize,
        )
    } {
        Ok(fd) => fd as c_int,
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

/// Entry from the C shim's `open`/`open64`.
#[no_mangle]
pub unsafe extern "C" fn rampart_open(
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
    large: c_int,
) -> c_int {
    wrap(Base::Cwd, path, flags, || {
        let real = if large != 0 {
            get::open64()
        } else {
            get::open()
        };
        match real {
            Some(f) => f(path, flags, mode),
            None => sys_openat(libc::AT_FDCWD, path, flags, mode),
        }
    })
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
    wrap(Base::of(dirfd), path, flags, || {
        let real = if large != 0 {
            get::openat64()
        } else {
            get::openat()
        };
        match real {
            Some(f) => f(dirfd, path, flags, mode),
            None => sys_openat(dirfd, path, flags, mode),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    wrap(Base::Cwd, path, flags, || match get::__open_2() {
        Some(f) => f(path, flags),
        None => sys_openat(libc::AT_FDCWD, path, flags, 0),
    })
}

#[no_mangle]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    wrap(Base::Cwd, path, flags, || match get::__open64_2() {
        Some(f) => f(path, flags),
        None => sys_openat(libc::AT_FDCWD, path, flags, 0),
    })
}

#[no_mangle]
pub unsafe extern "C" fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    wrap(Base::of(dirfd), path, flags, || match get::__openat_2() {
        Some(f) => f(dirfd, path, flags),
        None => sys_openat(dirfd, path, flags, 0),
    })
}

#[no_mangle]
pub unsafe extern "C" fn __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    wrap(Base::of(dirfd), path, flags, || match get::__openat64_2() {
        Some(f) => f(dirfd, path, flags),
        None => sys_openat(dirfd, path, flags, 0),
    })
}

const CREAT_FLAGS: c_int = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;

#[no_mangle]
pub unsafe extern "C" fn creat(path: *const c_char, mode: mode_t) -> c_int {
    wrap(Base::Cwd, path, CREAT_FLAGS, || match get::creat() {
        Some(f) => f(path, mode),
        None => sys_openat(libc::AT_FDCWD, path, CREAT_FLAGS, mode),
    })
}

#[no_mangle]
pub unsafe extern "C" fn creat64(path: *const c_char, mode: mode_t) -> c_int {
    wrap(Base::Cwd, path, CREAT_FLAGS, || match get::creat64() {
        Some(f) => f(path, mode),
        None => sys_openat(libc::AT_FDCWD, path, CREAT_FLAGS | libc::O_LARGEFILE, mode),
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

fn wrap_file(
    path: *const c_char,
    mode: *const c_char,
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
        core::ptr::null_mut(),
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
    wrap_file(path, mode, || match must::fopen() {
        Some(f) => f(path, mode),
        None => missing(),
    })
}

#[no_mangle]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut FILE {
    wrap_file(path, mode, || match must::fopen64() {
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
    wrap_file(shown, mode, || match real {
        Some(f) => f(path, mode, stream),
        None => missing(),
    })
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
