//! Execs made in a child the library never runs in before the exec:
//! `posix_spawn`, `posix_spawnp`, `system`, `popen`.
//!
//! glibc's versions exec through internal symbols, so the hooks report the
//! exec themselves, once the outcome is known (these calls return after the
//! child's exec succeeded or failed), and hand the child an environment with
//! `LD_PRELOAD`/`RAMPART_*` restored. `system` is re-implemented on the
//! real `posix_spawn` the way glibc does it (SIGINT/SIGQUIT ignored and
//! SIGCHLD blocked while waiting), so that the child gets the restored
//! environment and the report goes out before the wait. `popen` calls the
//! real one, with `environ` swapped for the duration of the call only when
//! the program removed our variables.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use libc::{c_char, c_int, pid_t, posix_spawn_file_actions_t, posix_spawnattr_t, FILE};
use rampart_core::wire;

use crate::at::Base;
use crate::conn;
use crate::enforce::{self, Gate};
use crate::envp::ChildEnv;
use crate::hooks::exec::predict_search;
use crate::path::PATH_MAX;
use crate::real::must;
use crate::report::{self, outcome};
use crate::state::{libc_environ, set_libc_environ};
use crate::sys;

type Argv = *const *mut c_char;

/// `loaded`: report the file the exec loaded too, when it is another
/// (not when [`before_spawn`] decided it already).
unsafe fn report_spawn(
    shown: &[u8],
    argv: *const *const c_char,
    ret_ok: bool,
    err: c_int,
    loaded: bool,
) {
    let Some(cx) = conn::ctx_exact() else { return };
    let mut conn = cx.conn();
    report::exec(
        &cx,
        &mut conn,
        Base::Cwd,
        shown,
        argv,
        outcome(ret_ok, err),
        loaded,
    );
}

/// What is left to report once a spawn returned.
#[derive(Clone, Copy)]
struct After {
    /// The exec itself (monitor mode, a tool the policy cannot refuse, or
    /// an allowing cache hit).
    report: bool,
    /// The file it loaded when that is another (not decided before).
    loaded: bool,
}

impl After {
    const ALL: After = After {
        report: true,
        loaded: true,
    };
}

/// Enforce mode: decide a spawn of `shown` with `argv` before it is made
/// (and the file it loads); `Err(())`: refused.
unsafe fn before_spawn(shown: &[u8], argv: *const *const c_char) -> Result<After, ()> {
    let Some(cx) = conn::ctx_exact() else {
        return Ok(After::ALL);
    };
    let errno_before = sys::errno();
    let mut conn = cx.conn();
    if !enforce::needs_verdict(&cx, wire::TOOL_EXEC, conn.as_ref()) {
        sys::set_errno(errno_before);
        return Ok(After::ALL);
    }
    let gate = report::exec_gate(&cx, &mut conn, Base::Cwd, shown, argv, false).0;
    sys::set_errno(errno_before);
    match gate {
        Gate::Refuse => Err(()),
        Gate::Run { report_after } => Ok(After {
            report: report_after,
            loaded: false,
        }),
    }
}

#[no_mangle]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut pid_t,
    path: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attr: *const posix_spawnattr_t,
    argv: Argv,
    envp: Argv,
) -> c_int {
    let Some(real) = must::posix_spawn() else {
        return libc::ENOSYS;
    };
    let mut env = ChildEnv::new();
    let envp = match conn::ctx_exact() {
        Some(cx) => env.fix(cx.s, envp.cast()).cast(),
        None => envp,
    };
    let errno_before = sys::errno();
    let shown = sys::cstr_bytes(path);
    let Ok(after) = before_spawn(shown, argv.cast()) else {
        return libc::EPERM;
    };
    let r = real(pid, path, actions, attr, argv, envp);
    if after.report {
        report_spawn(shown, argv.cast(), r == 0, r, after.loaded);
    }
    sys::set_errno(errno_before);
    r
}

#[no_mangle]
pub unsafe extern "C" fn posix_spawnp(
    pid: *mut pid_t,
    file: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attr: *const posix_spawnattr_t,
    argv: Argv,
    envp: Argv,
) -> c_int {
    let Some(real) = must::posix_spawnp() else {
        return libc::ENOSYS;
    };
    let mut env = ChildEnv::new();
    let envp = match conn::ctx_exact() {
        Some(cx) => env.fix(cx.s, envp.cast()).cast(),
        None => envp,
    };
    let errno_before = sys::errno();
    let name = sys::cstr_bytes(file);
    let mut buf = [0u8; PATH_MAX + 1];
    let enforcing = conn::ctx_exact().is_some_and(|cx| cx.s.enforce);
    let mut after = After::ALL;
    if enforcing {
        // Decided on the file the search will find, before the call.
        let shown = predict_search(name, &mut buf).unwrap_or(name);
        match before_spawn(shown, argv.cast()) {
            Ok(a) => after = a,
            Err(()) => return libc::EPERM,
        }
    }
    let r = real(pid, file, actions, attr, argv, envp);
    if after.report {
        let shown = predict_search(name, &mut buf).unwrap_or(name);
        report_spawn(shown, argv.cast(), r == 0, r, after.loaded);
    }
    sys::set_errno(errno_before);
    r
}

// ---- system ------------------------------------------------------------------

/// Calls of `system` in progress (glibc's reference count: the first one in
/// ignores SIGINT/SIGQUIT, the last one out restores them).
static SYSTEM_REFS: AtomicU32 = AtomicU32::new(0);
static SAVED_READY: AtomicBool = AtomicBool::new(false);
struct Saved(core::cell::UnsafeCell<(libc::sigaction, libc::sigaction)>);
// SAFETY: written by the first caller before SAVED_READY, read after it.
unsafe impl Sync for Saved {}
static SAVED_SIGS: Saved = Saved(core::cell::UnsafeCell::new(unsafe { core::mem::zeroed() }));

unsafe fn do_system(line: *const c_char) -> c_int {
    let Some(spawn) = must::posix_spawn() else {
        sys::set_errno(libc::ENOSYS);
        return -1;
    };
    let argv: [*const c_char; 4] = [
        c"sh".as_ptr().cast(),
        c"-c".as_ptr().cast(),
        line,
        core::ptr::null(),
    ];
    // Enforce mode: a refused command runs no shell; system() fails with
    // -1 and EPERM, as under Go Rampart's preload.
    let Ok(after) = before_spawn(b"/bin/sh", argv.as_ptr()) else {
        sys::set_errno(libc::EPERM);
        return -1;
    };
    let mut ign: libc::sigaction = core::mem::zeroed();
    ign.sa_sigaction = libc::SIG_IGN;
    libc::sigemptyset(&mut ign.sa_mask);
    let (intr, quit);
    if SYSTEM_REFS.fetch_add(1, Ordering::AcqRel) == 0 {
        let saved = &mut *SAVED_SIGS.0.get();
        libc::sigaction(libc::SIGINT, &ign, &mut saved.0);
        libc::sigaction(libc::SIGQUIT, &ign, &mut saved.1);
        SAVED_READY.store(true, Ordering::Release);
        (intr, quit) = *saved;
    } else {
        // Another thread is inside system(): it saved the dispositions.
        for _ in 0..10_000 {
            if SAVED_READY.load(Ordering::Acquire) {
                break;
            }
            libc::sched_yield();
        }
        (intr, quit) = *SAVED_SIGS.0.get();
    }
    let mut chld: libc::sigset_t = core::mem::zeroed();
    libc::sigemptyset(&mut chld);
    libc::sigaddset(&mut chld, libc::SIGCHLD);
    let mut omask: libc::sigset_t = core::mem::zeroed();
    libc::pthread_sigmask(libc::SIG_BLOCK, &chld, &mut omask);

    let mut attr: posix_spawnattr_t = core::mem::zeroed();
    libc::posix_spawnattr_init(&mut attr);
    let mut reset: libc::sigset_t = core::mem::zeroed();
    libc::sigemptyset(&mut reset);
    if intr.sa_sigaction != libc::SIG_IGN {
        libc::sigaddset(&mut reset, libc::SIGINT);
    }
    if quit.sa_sigaction != libc::SIG_IGN {
        libc::sigaddset(&mut reset, libc::SIGQUIT);
    }
    libc::posix_spawnattr_setsigmask(&mut attr, &omask);
    libc::posix_spawnattr_setsigdefault(&mut attr, &reset);
    libc::posix_spawnattr_setflags(
        &mut attr,
        (libc::POSIX_SPAWN_SETSIGDEF | libc::POSIX_SPAWN_SETSIGMASK) as libc::c_short,
    );

    let mut env = ChildEnv::new();
    let envp = match conn::ctx_exact() {
        Some(cx) => env.fix(cx.s, libc_environ()),
        None => libc_environ(),
    };
    let mut pid: pid_t = 0;
    let sh: *const c_char = c"/bin/sh".as_ptr().cast();
    let ret = spawn(
        &mut pid,
        sh,
        core::ptr::null(),
        &attr,
        argv.as_ptr().cast(),
        envp.cast(),
    );
    if after.report {
        report_spawn(b"/bin/sh", argv.as_ptr(), ret == 0, ret, after.loaded);
    }

    let mut status: c_int = 0;
    if ret == 0 {
        loop {
            let r = libc::waitpid(pid, &mut status, 0);
            if r == -1 && sys::errno() == libc::EINTR {
                continue;
            }
            if r != pid {
                status = -1;
            }
            break;
        }
    } else {
        // POSIX: as if the shell had exited with status 127.
        status = 127 << 8;
    }
    libc::posix_spawnattr_destroy(&mut attr);
    let err = sys::errno();
    if SYSTEM_REFS.fetch_sub(1, Ordering::AcqRel) == 1 {
        SAVED_READY.store(false, Ordering::Release);
        libc::sigaction(libc::SIGINT, &intr, core::ptr::null_mut());
        libc::sigaction(libc::SIGQUIT, &quit, core::ptr::null_mut());
    }
    libc::pthread_sigmask(libc::SIG_SETMASK, &omask, core::ptr::null_mut());
    sys::set_errno(err);
    status
}

#[no_mangle]
pub unsafe extern "C" fn system(line: *const c_char) -> c_int {
    if line.is_null() {
        // Is a shell available?
        return (do_system(c"exit 0".as_ptr().cast()) == 0) as c_int;
    }
    do_system(line)
}

// ---- popen -------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn popen(command: *const c_char, mode: *const c_char) -> *mut FILE {
    let Some(real) = must::popen() else {
        sys::set_errno(libc::ENOSYS);
        return core::ptr::null_mut();
    };
    let argv: [*const c_char; 4] = [
        c"sh".as_ptr().cast(),
        c"-c".as_ptr().cast(),
        command,
        core::ptr::null(),
    ];
    // Enforce mode: a refused command runs no shell; NULL with EPERM.
    let mut after = After::ALL;
    if !command.is_null() {
        match before_spawn(b"/bin/sh", argv.as_ptr()) {
            Ok(a) => after = a,
            Err(()) => {
                sys::set_errno(libc::EPERM);
                return core::ptr::null_mut();
            }
        }
    }
    let mut env = ChildEnv::new();
    let own = libc_environ();
    let fixed = match conn::ctx_exact() {
        Some(cx) => env.fix(cx.s, own),
        None => own,
    };
    if fixed != own {
        set_libc_environ(fixed);
    }
    let fp = real(command, mode);
    let err = sys::errno();
    if fixed != own && libc_environ() == fixed {
        set_libc_environ(own);
    }
    if !command.is_null() && after.report {
        report_spawn(b"/bin/sh", argv.as_ptr(), !fp.is_null(), err, after.loaded);
    }
    sys::set_errno(err);
    fp
}
