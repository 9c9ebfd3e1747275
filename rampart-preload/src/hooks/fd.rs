//! Calls that change the library's view of the process without being
//! reported: `close`, `close_range`, `closefrom`, `dup2`, `dup3` (they may
//! close or replace the collector socket: the next send re-checks it) and
//! `chdir`, `fchdir` (the cached cwd is dropped). Each calls the real
//! function and returns its result and errno untouched.

use libc::{c_char, c_int, c_uint};

use crate::real::get;
use crate::{cache, conn, sys};

fn sys_call(n: libc::c_long, a0: usize, a1: usize, a2: usize) -> c_int {
    // SAFETY: the kernel validates the arguments.
    match unsafe { sys::raw(n, a0, a1, a2, 0) } {
        Ok(v) => v as c_int,
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    let r = match get::close() {
        Some(f) => f(fd),
        None => sys_call(libc::SYS_close, fd as usize, 0, 0),
    };
    conn::fds_touched(fd, fd);
    r
}

#[no_mangle]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    let r = match get::close_range() {
        Some(f) => f(first, last, flags),
        None => sys_call(
            libc::SYS_close_range,
            first as usize,
            last as usize,
            flags as usize,
        ),
    };
    conn::fds_touched(
        first.min(i32::MAX as u32) as c_int,
        last.min(i32::MAX as u32) as c_int,
    );
    r
}

#[no_mangle]
pub unsafe extern "C" fn closefrom(first: c_int) {
    let err = sys::errno();
    match get::closefrom() {
        Some(f) => f(first),
        None => {
            let _ = sys_call(
                libc::SYS_close_range,
                first as usize,
                c_uint::MAX as usize,
                0,
            );
        }
    }
    conn::fds_touched(first, c_int::MAX);
    sys::set_errno(err);
}

#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    let r = match get::dup2() {
        Some(f) => f(old, new),
        None => sys_call(libc::SYS_dup3, old as usize, new as usize, 0),
    };
    conn::fds_touched(new, new);
    r
}

#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    let r = match get::dup3() {
        Some(f) => f(old, new, flags),
        None => sys_call(libc::SYS_dup3, old as usize, new as usize, flags as usize),
    };
    conn::fds_touched(new, new);
    r
}

#[no_mangle]
pub unsafe extern "C" fn chdir(path: *const c_char) -> c_int {
    let r = match get::chdir() {
        Some(f) => f(path),
        None => sys_call(libc::SYS_chdir, path as usize, 0, 0),
    };
    cache::cwd_changed();
    r
}

#[no_mangle]
pub unsafe extern "C" fn fchdir(fd: c_int) -> c_int {
    let r = match get::fchdir() {
        Some(f) => f(fd),
        None => sys_call(libc::SYS_fchdir, fd as usize, 0, 0),
    };
    cache::cwd_changed();
    r
}
