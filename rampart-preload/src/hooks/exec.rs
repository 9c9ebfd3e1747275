//! The exec family: `execve`, `execv`, `execvp`, `execvpe`, `execveat`,
//! `fexecve` (and `execl`, `execlp`, `execle` through the C shim).
//!
//! glibc's `execv`, `execvp*` reach exec through internal symbols no hook
//! sees, so they are implemented here on top of the real `execve`, with the
//! PATH search done by hand (glibc's rules: ENOEXEC runs the file with
//! `/bin/sh`, EACCES is remembered, ENOENT/ENOTDIR/ESTALE/ENODEV/ETIMEDOUT
//! go on to the next directory, anything else stops), so that a search is
//! one record with its final outcome, not one per directory tried.
//!
//! An exec is reported before the real call (it does not return on
//! success); a failure follows as an ExecFailed frame. In enforce mode the
//! exec is decided first and a refused one fails with EPERM without being
//! made. Every child gets `LD_PRELOAD` and `RAMPART_*` back (see
//! [`crate::envp`]).
//!
//! A target the library could not watch (a static or Go binary, see
//! [`crate::elf`]) is not exec'd directly when `RAMPART_BIN` names the
//! rampart binary: the exec becomes `RAMPART_BIN __trace-exec --argv0
//! ARGV0 -- PATH ARGS...`, which runs it under the trace backend. The pid
//! caveat: the process that called exec keeps its pid but becomes the
//! tracer; the program itself runs as the tracer's child, under a new pid
//! (its `getppid()` is the tracer, and a signal sent to the old pid reaches
//! the tracer, which is expected to pass it on and to exit with the
//! program's status). Execs of a descriptor (`fexecve`, `execveat` with
//! `AT_EMPTY_PATH` or a directory descriptor) are not redirected.

use libc::{c_char, c_int, c_long};
use rampart_core::wire::{self, WireOutcome};

use crate::at::Base;
use crate::conn::{self, Conn, Ctx};
use crate::elf;
use crate::enforce::{self, Gate};
use crate::envp::ChildEnv;
use crate::path::PATH_MAX;
use crate::real::get;
use crate::report::{self, ExecSeqs};
use crate::state::{libc_environ, Saved};
use crate::sys;

type Argv = *const *const c_char;

/// How the real exec is made once the frame is out.
#[derive(Clone, Copy)]
pub enum Real {
    Execve,
    Execveat {
        dirfd: c_int,
        flags: c_int,
    },
    Fexecve {
        fd: c_int,
    },
    /// `syscall(SYS_execve, ...)`.
    Syscall,
}

unsafe fn call_real(how: Real, path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    let fallback = |n: c_long, a: [usize; 6]| -> c_int {
        match sys::raw6(n, a) {
            Ok(_) => 0,
            Err(e) => {
                sys::set_errno(e);
                -1
            }
        }
    };
    match how {
        Real::Execve => match get::execve() {
            Some(f) => f(path, argv, envp),
            None => fallback(
                libc::SYS_execve,
                [path as usize, argv as usize, envp as usize, 0, 0, 0],
            ),
        },
        Real::Syscall => fallback(
            libc::SYS_execve,
            [path as usize, argv as usize, envp as usize, 0, 0, 0],
        ),
        Real::Execveat { dirfd, flags } => match get::execveat() {
            Some(f) => f(dirfd, path, argv, envp, flags),
            None => fallback(
                libc::SYS_execveat,
                [
                    dirfd as usize,
                    path as usize,
                    argv as usize,
                    envp as usize,
                    flags as usize,
                    0,
                ],
            ),
        },
        Real::Fexecve { fd } => match get::fexecve() {
            Some(f) => f(fd, argv, envp),
            None => fallback(
                libc::SYS_execveat,
                [
                    fd as usize,
                    c"".as_ptr() as usize,
                    argv as usize,
                    envp as usize,
                    libc::AT_EMPTY_PATH as usize,
                    0,
                ],
            ),
        },
    }
}

// ---- programs the library cannot watch -------------------------------------------

/// Can this exec be redirected (it names its target by a path)?
fn names_a_path(how: Real, path: *const c_char) -> bool {
    match how {
        Real::Execve | Real::Syscall => true,
        Real::Execveat { dirfd, flags } => {
            flags & libc::AT_EMPTY_PATH == 0
                // SAFETY: the caller's NUL-terminated path.
                && (dirfd == libc::AT_FDCWD || unsafe { *path } == b'/' as c_char)
        }
        Real::Fexecve { .. } => false,
    }
}

/// Should the exec of `path` go through the trace backend instead: the
/// target is static or Go and `RAMPART_BIN` names the rampart binary?
#[inline(never)]
fn unwatchable(s: &Saved, how: Real, path: *const c_char) -> bool {
    !path.is_null()
        // Under the filter of unhooked calls, the collector already sees
        // every call a static program makes: it runs as it is.
        && !s.unhooked
        && !s.var(rampart_core::env::BIN.as_bytes()).is_empty()
        && names_a_path(how, path)
        && elf::classify_path(path.cast()).unwatchable()
}

/// Exec `RAMPART_BIN __trace-exec --argv0 ARGV0 -- PATH ARGS...`: the
/// rampart binary runs the program under the trace backend, reporting to
/// the same collector. Returns only on failure.
#[inline(never)]
unsafe fn exec_under_trace(s: &Saved, path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    // The saved entry is NUL-terminated right after the value.
    let bin: *const c_char = s.var(rampart_core::env::BIN.as_bytes()).as_ptr().cast();
    let argv0: *const c_char = if !argv.is_null() && !(*argv).is_null() {
        *argv
    } else {
        c"".as_ptr()
    };
    let prefix = [
        bin,
        rampart_core::env::TRACE_EXEC.as_ptr(),
        c"--argv0".as_ptr(),
        argv0,
        c"--".as_ptr(),
        path,
    ];
    let mut env = ChildEnv::new();
    let envp = env.without_library(s, envp);
    with_argv(&prefix, argv, |out| call_real(Real::Execve, bin, out, envp))
}

/// Call `f` with `prefix` followed by `argv[1..]` as one NULL-terminated
/// argv (on the stack, or mapped when it is long), and return what `f`
/// returns; -1 with the errno of a failed mapping.
unsafe fn with_argv(prefix: &[*const c_char], argv: Argv, f: impl FnOnce(Argv) -> c_int) -> c_int {
    const SLOTS: usize = 256;
    let mut argc = 0usize;
    if !argv.is_null() {
        while !(*argv.add(argc)).is_null() {
            argc += 1;
        }
    }
    let total = prefix.len() + argc.saturating_sub(1) + 1;
    let mut local = [core::ptr::null::<c_char>(); SLOTS];
    let mut mapped = None;
    let out: *mut *const c_char = if total <= SLOTS {
        local.as_mut_ptr()
    } else {
        let len = total * core::mem::size_of::<*const c_char>();
        match sys::mmap_anon(len, false) {
            Ok(p) => {
                mapped = Some((p, len));
                p as *mut *const c_char
            }
            Err(e) => {
                sys::set_errno(e);
                return -1;
            }
        }
    };
    for (i, p) in prefix.iter().enumerate() {
        *out.add(i) = *p;
    }
    for i in 1..argc {
        *out.add(prefix.len() + i - 1) = *argv.add(i);
    }
    *out.add(total - 1) = core::ptr::null();
    let r = f(out);
    if let Some((p, len)) = mapped {
        let err = sys::errno();
        sys::munmap(p, len);
        sys::set_errno(err);
    }
    r
}

/// The real exec of `path`, through the trace backend when the library
/// could not watch the program. If that fails, enforce mode fails the exec
/// (the program must not run unwatched); monitor mode execs it directly.
unsafe fn exec_target(
    s: Option<&Saved>,
    how: Real,
    path: *const c_char,
    argv: Argv,
    envp: Argv,
) -> c_int {
    // The records this image could not send are told before it goes.
    crate::conn::report_lost_now();
    if let Some(s) = s.filter(|s| s.active && unwatchable(s, how, path)) {
        let r = exec_under_trace(s, path, argv, envp);
        if s.enforce {
            return r;
        }
    }
    call_real(how, path, argv, envp)
}

/// Report, exec, and on return report the failure. `shown` is the path the
/// record names (relative to `base`). In enforce mode the exec is decided
/// first; a refused one fails with EPERM without being made.
pub unsafe fn exec_reported(
    how: Real,
    base: Base,
    shown: &[u8],
    path: *const c_char,
    argv: Argv,
    envp: Argv,
) -> c_int {
    let cx = conn::ctx_exact();
    let Some(cx) = cx else {
        return call_real(how, path, argv, envp);
    };
    let errno_before = sys::errno();
    let mut conn = cx.conn();
    let seqs = if enforce::needs_verdict(&cx, wire::TOOL_EXEC, conn.as_ref()) {
        match report::exec_gate(&cx, &mut conn, base, shown, argv, true) {
            (Gate::Refuse, _) => {
                drop(conn);
                sys::set_errno(libc::EPERM);
                return -1;
            }
            (Gate::Run { .. }, name) => ExecSeqs { name, loaded: None },
        }
    } else {
        report::exec(
            &cx,
            &mut conn,
            base,
            shown,
            argv,
            WireOutcome::Unknown,
            true,
        )
    };
    let mut env = ChildEnv::new();
    let envp = env.fix(cx.s, envp);
    sys::set_errno(errno_before);
    let r = exec_target(Some(cx.s), how, path, argv, envp);
    let err = sys::errno();
    if let Some(c) = conn.as_mut() {
        report::exec_failed(&cx, c, seqs, err);
    }
    drop(conn);
    sys::set_errno(err);
    r
}

#[no_mangle]
pub unsafe extern "C" fn execve(path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    exec_reported(
        Real::Execve,
        Base::Cwd,
        sys::cstr_bytes(path),
        path,
        argv,
        envp,
    )
}

/// Hidden entry for the C shim's `execle`.
#[no_mangle]
pub unsafe extern "C" fn rampart_execve(path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    execve(path, argv, envp)
}

#[no_mangle]
pub unsafe extern "C" fn execv(path: *const c_char, argv: Argv) -> c_int {
    execve(path, argv, libc_environ())
}

/// Hidden entry for the C shim's `execl`.
#[no_mangle]
pub unsafe extern "C" fn rampart_execv(path: *const c_char, argv: Argv) -> c_int {
    execve(path, argv, libc_environ())
}

#[no_mangle]
pub unsafe extern "C" fn execveat(
    dirfd: c_int,
    path: *const c_char,
    argv: Argv,
    envp: Argv,
    flags: c_int,
) -> c_int {
    let rel = sys::cstr_bytes(path);
    if rel.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        return fd_exec(Real::Execveat { dirfd, flags }, dirfd, path, argv, envp);
    }
    exec_reported(
        Real::Execveat { dirfd, flags },
        Base::of(dirfd),
        rel,
        path,
        argv,
        envp,
    )
}

#[no_mangle]
pub unsafe extern "C" fn fexecve(fd: c_int, argv: Argv, envp: Argv) -> c_int {
    fd_exec(Real::Fexecve { fd }, fd, c"".as_ptr().cast(), argv, envp)
}

/// An exec of an open descriptor: the record names the file it points to.
/// Out of line: its name buffer is on the stack only for these calls.
#[inline(never)]
unsafe fn fd_exec(how: Real, fd: c_int, path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    let mut name = [0u8; PATH_MAX];
    let shown = match crate::path::fd_path(fd, &mut name) {
        Some(n) => &name[..n],
        None => b"".as_slice(),
    };
    exec_reported(how, Base::Cwd, shown, path, argv, envp)
}

// ---- PATH search -------------------------------------------------------------

const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";
const NAME_MAX: usize = 255;

/// Would `execve` of this NUL-terminated candidate most likely succeed?
/// `Err` carries the errno when the file is certainly not there (ENOENT,
/// ENOTDIR: `stat` walks the path with the same ids as `execve`).
fn looks_executable(cand: &[u8]) -> Result<bool, c_int> {
    let p = cand.as_ptr();
    match sys::stat(p) {
        Ok(st) => Ok(st.st_mode & libc::S_IFMT == libc::S_IFREG && sys::access(p, libc::X_OK)),
        Err(e @ (libc::ENOENT | libc::ENOTDIR)) => Err(e),
        Err(_) => Ok(false),
    }
}

/// The PATH directories, glibc's way (`getenv("PATH")`, else the default).
fn search_path() -> &'static [u8] {
    // SAFETY: getenv returns NULL or a NUL-terminated string from environ.
    let p = unsafe { libc::getenv(c"PATH".as_ptr().cast()) };
    if p.is_null() {
        DEFAULT_PATH
    } else {
        unsafe { sys::cstr_bytes(p) }
    }
}

/// Writes `dir/file\0` into `buf` (just `file` for an empty dir); `None`
/// if it does not fit.
fn candidate<'b>(buf: &'b mut [u8; PATH_MAX + 1], dir: &[u8], file: &[u8]) -> Option<&'b [u8]> {
    let slash = usize::from(!dir.is_empty());
    let len = dir.len() + slash + file.len();
    if len + 1 > buf.len() {
        return None;
    }
    buf[..dir.len()].copy_from_slice(dir);
    if slash == 1 {
        buf[dir.len()] = b'/';
    }
    buf[dir.len() + slash..len].copy_from_slice(file);
    buf[len] = 0;
    Some(&buf[..len + 1])
}

/// glibc's fallback for a file without a known format: `/bin/sh file args`.
#[inline(never)]
unsafe fn exec_script(file: *const c_char, argv: Argv, envp: Argv) {
    let sh: *const c_char = c"/bin/sh".as_ptr().cast();
    with_argv(&[sh, file], argv, |out| {
        call_real(Real::Execve, sh, out, envp)
    });
}

fn continues_search(err: c_int) -> bool {
    matches!(
        err,
        libc::EACCES | libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT
    )
}

/// `execvpe`, reported as one exec.
pub unsafe fn execvpe_impl(file: *const c_char, argv: Argv, envp: Argv) -> c_int {
    let name = sys::cstr_bytes(file);
    // Not watched: still our search (glibc's rules), without reports.
    let cx = conn::ctx_exact();
    search_exec(cx.as_ref(), name, file, argv, envp)
}

struct Pending {
    conn: Option<Conn>,
    seq: Option<ExecSeqs>,
}

unsafe fn search_exec(
    cx: Option<&Ctx>,
    name: &[u8],
    file: *const c_char,
    argv: Argv,
    envp: Argv,
) -> c_int {
    let mut pending = Pending {
        conn: cx.and_then(|c| c.conn()),
        seq: None,
    };
    let mut env = ChildEnv::new();
    let envp = match cx {
        Some(c) => env.fix(c.s, envp),
        None => envp,
    };
    let report = |p: &mut Pending, shown: &[u8], oc: WireOutcome| -> Option<ExecSeqs> {
        let cx = cx?;
        // A bare name no search resolved stays a name.
        let base = if shown.contains(&b'/') {
            Base::Cwd
        } else {
            Base::AsIs
        };
        Some(report::exec(cx, &mut p.conn, base, shown, argv, oc, true))
    };
    // Enforce mode: the file about to be exec'd is decided first. `Err`:
    // refused (the search stops with EPERM).
    let enforcing = cx.is_some_and(|c| enforce::needs_verdict(c, wire::TOOL_EXEC, None));
    let decide = |p: &mut Pending, shown: &[u8]| -> Result<Option<ExecSeqs>, ()> {
        let Some(cx) = cx else { return Ok(None) };
        let errno_before = sys::errno();
        let got = match report::exec_gate(cx, &mut p.conn, Base::Cwd, shown, argv, true) {
            (Gate::Refuse, _) => Err(()),
            (Gate::Run { .. }, name) => Ok(Some(ExecSeqs { name, loaded: None })),
        };
        sys::set_errno(errno_before);
        got
    };
    // The exec about to be tried: decided first when enforcing, else
    // reported. `Err`: refused.
    let announce = |p: &mut Pending, shown: &[u8]| -> Result<(), ()> {
        p.seq = if enforcing {
            decide(p, shown)?
        } else {
            report(p, shown, WireOutcome::Unknown)
        };
        Ok(())
    };
    let refused = |p: &mut Pending| -> c_int {
        p.conn = None;
        sys::set_errno(libc::EPERM);
        -1
    };
    let saved = cx.map(|c| c.s);
    let fail = |p: &mut Pending, err: c_int| {
        if let (Some(cx), Some(conn), Some(seq)) = (cx, p.conn.as_mut(), p.seq.take()) {
            report::exec_failed(cx, conn, seq, err);
        }
    };

    if name.is_empty() {
        report(&mut pending, name, WireOutcome::Errno(libc::ENOENT));
        sys::set_errno(libc::ENOENT);
        return -1;
    }
    if name.contains(&b'/') {
        if announce(&mut pending, name).is_err() {
            return refused(&mut pending);
        }
        exec_target(saved, Real::Execve, file, argv, envp);
        if sys::errno() == libc::ENOEXEC {
            exec_script(file, argv, envp);
        }
        let err = sys::errno();
        fail(&mut pending, err);
        sys::set_errno(err);
        return -1;
    }
    if name.len() > NAME_MAX {
        report(&mut pending, name, WireOutcome::Errno(libc::ENAMETOOLONG));
        sys::set_errno(libc::ENAMETOOLONG);
        return -1;
    }

    let path = search_path();
    let mut buf = [0u8; PATH_MAX + 1];
    let mut got_eacces = false;
    let mut reported = false;
    let mut last_err = libc::ENOENT;
    let mut final_err = None;
    for dir in path.split(|&b| b == b':') {
        let Some(cand) = candidate(&mut buf, dir, name) else {
            continue;
        };
        let shown = &cand[..cand.len() - 1];
        let predicted = match looks_executable(cand) {
            // Not there: execve could only fail the same way; go on.
            Err(e) => {
                last_err = e;
                continue;
            }
            Ok(runnable) => runnable && pending.seq.is_none(),
        };
        if predicted {
            if announce(&mut pending, shown).is_err() {
                return refused(&mut pending);
            }
            reported = true;
        }
        let cptr: *const c_char = cand.as_ptr().cast();
        exec_target(saved, Real::Execve, cptr, argv, envp);
        if sys::errno() == libc::ENOEXEC {
            exec_script(cptr, argv, envp);
        }
        let err = sys::errno();
        last_err = err;
        if !continues_search(err) {
            final_err = Some(err);
            break;
        }
        if err == libc::EACCES {
            got_eacces = true;
        }
        if predicted {
            // The file we named failed in a way that lets the search go
            // on: close its record before naming another.
            fail(&mut pending, err);
        }
    }
    let err = final_err.unwrap_or(if got_eacces { libc::EACCES } else { last_err });
    if pending.seq.is_some() {
        fail(&mut pending, err);
    } else if !reported {
        // Nothing looked executable: one record for the name as given.
        report(&mut pending, name, WireOutcome::Errno(err));
    }
    sys::set_errno(err);
    -1
}

#[no_mangle]
pub unsafe extern "C" fn execvpe(file: *const c_char, argv: Argv, envp: Argv) -> c_int {
    execvpe_impl(file, argv, envp)
}

#[no_mangle]
pub unsafe extern "C" fn execvp(file: *const c_char, argv: Argv) -> c_int {
    execvpe_impl(file, argv, libc_environ())
}

/// Hidden entry for the C shim's `execlp`.
#[no_mangle]
pub unsafe extern "C" fn rampart_execvp(file: *const c_char, argv: Argv) -> c_int {
    execvpe_impl(file, argv, libc_environ())
}

/// The path a `posix_spawnp`/`execvp` of `name` would run, written
/// NUL-terminated into `buf`: the first PATH candidate that looks
/// executable, else `None`.
pub fn predict_search<'b>(name: &[u8], buf: &'b mut [u8; PATH_MAX + 1]) -> Option<&'b [u8]> {
    if name.is_empty() || name.contains(&b'/') {
        return None;
    }
    let mut hit = None;
    for dir in search_path().split(|&b| b == b':') {
        let Some(cand) = candidate(buf, dir, name) else {
            continue;
        };
        if looks_executable(cand) == Ok(true) {
            hit = Some(cand.len() - 1);
            break;
        }
    }
    hit.map(move |n| &buf[..n])
}
