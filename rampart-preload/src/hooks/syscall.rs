//! `syscall()`: the numbers that open files, exec or connect are reported
//! like their libc wrappers (`SYS_open`, `SYS_openat`, `SYS_openat2`,
//! `SYS_execve`, `SYS_execveat`, `SYS_connect`, `SYS_sendto`,
//! `SYS_sendmsg`, `SYS_sendmmsg`), and so are the mutations
//! ([`mutate::of_syscall`]: `SYS_unlinkat`, `SYS_renameat2`,
//! `SYS_fchmodat2` and the rest), the descriptor and cwd
//! changes the library tracks (`SYS_close`, `SYS_close_range`, `SYS_dup2`,
//! `SYS_dup3`, `SYS_chdir`, `SYS_fchdir`); every other number goes
//! straight to the real `syscall`. Entered from the C shim, which reads the
//! variadic arguments.

use libc::{c_char, c_int, c_long, c_uint};

use crate::at::Base;
use crate::hooks::{exec, mutate, net, open};
use crate::reach::OpenHow;
use crate::real::get;
use crate::sys;

unsafe fn real_syscall(n: c_long, a: [c_long; 6]) -> c_long {
    libc_or(n, a, sys::raw6)
}

/// A call no hook decides, made where the filter of unhooked calls sees
/// it (libc's `syscall`, or the library's own `syscall` instruction, never
/// the gadget page): a watched one it does not know goes to the tap, as
/// when the program makes it itself.
unsafe fn seen_syscall(n: c_long, a: [c_long; 6]) -> c_long {
    libc_or(n, a, sys::raw6_seen)
}

/// libc's `syscall`, else `raw`, with its errno set.
unsafe fn libc_or(
    n: c_long,
    a: [c_long; 6],
    raw: unsafe fn(c_long, [usize; 6]) -> Result<usize, c_int>,
) -> c_long {
    match get::syscall() {
        Some(f) => f(n, a[0], a[1], a[2], a[3], a[4], a[5]),
        None => match raw(n, a.map(|v| v as usize)) {
            Ok(v) => v as c_long,
            Err(e) => {
                sys::set_errno(e);
                -1
            }
        },
    }
}

/// An open made through `syscall`, exactly like the libc wrappers
/// ([`open::open_fd`]): `a[path_at]` is the path, which the open is made
/// on a copy of.
unsafe fn open_fd_call(n: c_long, a: [c_long; 6], path_at: usize, args: open::OpenArgs) -> c_long {
    open::open_fd(args, a[path_at] as *const c_char, |p| {
        let mut b = a;
        b[path_at] = p as c_long;
        real_syscall(n, b) as c_int
    }) as c_long
}

/// Entry from the C shim's `syscall`.
#[no_mangle]
pub unsafe extern "C" fn rampart_syscall(
    n: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) -> c_long {
    let a = [a1, a2, a3, a4, a5, a6];
    match n {
        #[cfg(target_arch = "x86_64")]
        libc::SYS_open => open_fd_call(
            n,
            a,
            0,
            open::OpenArgs::at(libc::AT_FDCWD, a2 as c_int, a3 as c_uint),
        ),
        libc::SYS_openat => open_fd_call(
            n,
            a,
            1,
            open::OpenArgs::at(a1 as c_int, a3 as c_int, a4 as c_uint),
        ),
        libc::SYS_openat2 => match read_open_how(a3 as usize, a4 as usize) {
            Ok(how) if a2 != 0 => {
                // (`O_TMPFILE` holds `O_DIRECTORY`'s bit: all of it, not any.)
                let tmpfile = libc::O_TMPFILE as u64;
                let creates =
                    how.flags & libc::O_CREAT as u64 != 0 || how.flags & tmpfile == tmpfile;
                if how.flags > u64::from(u32::MAX) || (how.mode != 0 && !creates) {
                    // The kernel refuses these before it reads the name.
                    return failed(libc::EINVAL);
                }
                let args = open::OpenArgs {
                    resolve: how.resolve,
                    ..open::OpenArgs::at(a1 as c_int, how.flags as c_int, how.mode as c_uint)
                };
                // Made with this copy of `how`, whatever the program's
                // memory says by then.
                open::open_fd(args, a2 as *const c_char, |p| {
                    let size = core::mem::size_of::<OpenHow>() as c_long;
                    let b = [a1, p as c_long, &how as *const _ as c_long, size, a5, a6];
                    real_syscall(n, b) as c_int
                }) as c_long
            }
            // Refused by the kernel before it reads a name: nothing opens,
            // and nothing is made here that another thread could turn into
            // an open by changing `how` meanwhile.
            Ok(_) => failed(libc::EFAULT),
            Err(errno) => failed(errno),
        },
        libc::SYS_execve => exec::exec_reported(
            exec::Real::Syscall,
            Base::Cwd,
            sys::cstr_bytes(a1 as *const c_char),
            a1 as *const c_char,
            a2 as *const *const c_char,
            a3 as *const *const c_char,
        ) as c_long,
        libc::SYS_execveat => exec::execveat(
            a1 as c_int,
            a2 as *const c_char,
            a3 as *const *const c_char,
            a4 as *const *const c_char,
            a5 as c_int,
        ) as c_long,
        libc::SYS_connect => net::connect_gated(
            a1 as c_int,
            a2 as *const libc::sockaddr,
            a3 as libc::socklen_t,
            |addr| {
                let mut b = a;
                b[1] = addr as c_long;
                real_syscall(n, b) as c_int
            },
        ) as c_long,
        libc::SYS_sendto => net::sendto_gated(
            a1 as c_int,
            a5 as *const libc::sockaddr,
            a6 as libc::socklen_t,
            |addr| {
                let mut b = a;
                b[4] = addr as c_long;
                real_syscall(n, b) as isize
            },
        ) as c_long,
        libc::SYS_sendmsg => net::sendmsg_gated(a1 as c_int, a2 as *const libc::msghdr, |msg| {
            let mut b = a;
            b[1] = msg as c_long;
            real_syscall(n, b) as isize
        }) as c_long,
        libc::SYS_sendmmsg => net::sendmmsg_gated(
            a1 as c_int,
            a2 as *mut libc::mmsghdr,
            a3 as libc::c_uint,
            |vec, count| {
                let mut b = a;
                b[1] = vec as c_long;
                b[2] = count as c_long;
                real_syscall(n, b) as c_int
            },
        ) as c_long,
        libc::SYS_close | libc::SYS_dup3 => {
            let r = real_syscall(n, a);
            let fd = if n == libc::SYS_close { a1 } else { a2 } as c_int;
            crate::conn::fds_touched(fd, fd);
            r
        }
        #[cfg(target_arch = "x86_64")]
        libc::SYS_dup2 => {
            let r = real_syscall(n, a);
            crate::conn::fds_touched(a2 as c_int, a2 as c_int);
            r
        }
        libc::SYS_close_range => {
            let r = real_syscall(n, a);
            let lo = (a1 as u32).min(i32::MAX as u32) as c_int;
            let hi = (a2 as u32).min(i32::MAX as u32) as c_int;
            crate::conn::fds_touched(lo, hi);
            r
        }
        libc::SYS_chdir | libc::SYS_fchdir => {
            let r = real_syscall(n, a);
            crate::cache::cwd_changed();
            r
        }
        _ => match mutate::of_syscall(n, a) {
            Some(m) => mutate::mutated(m, || real_syscall(n, a) as c_int) as c_long,
            None => seen_syscall(n, a),
        },
    }
}

/// Fail the call with `errno`, as the kernel would have.
fn failed(errno: c_int) -> c_long {
    sys::set_errno(errno);
    -1
}

/// The `struct open_how` of an `openat2` at `addr`, of `size` bytes, read
/// once: the 24 bytes the kernel knows, when the rest (up to a page, as
/// the kernel takes) is zero; else the errno the kernel answers without
/// opening anything (EINVAL too short, E2BIG too long or a tail it does
/// not know, EFAULT unreadable).
fn read_open_how(addr: usize, size: usize) -> Result<OpenHow, c_int> {
    const VER0: usize = core::mem::size_of::<OpenHow>();
    if size < VER0 {
        return Err(libc::EINVAL);
    }
    if size > 4096 {
        return Err(libc::E2BIG);
    }
    let mut raw = [0u8; VER0];
    if addr == 0 || !sys::copy_own(addr, &mut raw) {
        return Err(libc::EFAULT);
    }
    match sys::all_zero(addr + VER0, size - VER0) {
        Some(true) => {}
        Some(false) => return Err(libc::E2BIG),
        None => return Err(libc::EFAULT),
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&raw[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(w)
    };
    Ok(OpenHow {
        flags: word(0),
        mode: word(1),
        resolve: word(2),
    })
}
