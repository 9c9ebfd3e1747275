//! `librampart_preload.so`: interposes libc's exec, open, connect, DNS and
//! file-system mutation (`unlink`, `rename`, `chmod`...) entry points in any
//! dynamically linked process and reports each call to
//! the collector named by `RAMPART_SOCKET`, one wire frame per call (see
//! `rampart_core::wire`), on its socket or, once a process reported a few,
//! through its shared-memory record ring (see [`ring`]).
//!
//! Monitor mode (`RAMPART_MODE=monitor`): a hook calls the real function
//! and reports what happened (an exec is reported just before the call, its
//! failure after). The library must never change what the program sees:
//! results, errno and output are those of the real call, and without a
//! collector the hooks do nothing extra.
//!
//! Enforce mode (`RAMPART_MODE=enforce`, see [`enforce`]): a hook decides
//! the call before making it, from its verdict cache or by asking the
//! collector and waiting at most `RAMPART_DECISION_TIMEOUT_MS`; a refused
//! call is not made and fails the way programs expect (exec family EPERM,
//! `posix_spawn*` returning EPERM, `system` -1/EPERM and `popen` NULL/EPERM
//! without a shell, opens and connects EACCES, `fopen` NULL, mutations -1
//! with EACCES, `chmod` and `chown` EPERM); `ask` is
//! refused; without a verdict `RAMPART_FAIL_OPEN=1` allows, anything else
//! refuses. Allowed calls behave exactly as in monitor mode.
//!
//! In both modes an exec of a static or Go binary (which the library could
//! not watch, see [`elf`]) goes to the trace backend through `RAMPART_BIN
//! __trace-exec` when `RAMPART_BIN` is set.
//!
//! Hooks run anywhere (signal handlers, vfork children, the child of a fork
//! of a multithreaded parent), so nothing in a hook allocates, locks, uses
//! std's I/O or panics: raw system calls, atomics and bounded stack buffers
//! only.
//!
//! Modules: [`sys`] raw system calls; [`gadget`] the page they run from
//! under the filter of unhooked calls; [`real`] the real libc functions;
//! [`state`] what is saved at load time; [`conn`] the caller and its
//! collector connection; [`path`] the names the kernel gives (cwd, fd
//! paths); [`at`] a path argument made absolute; [`reach`] the file an
//! open reaches and an open that cannot reach another; [`cache`] cwd and
//! directory paths; [`dns`] address → name table; [`envp`] the children's
//! environment; [`report`] building frames; [`ring`] the process's record ring; [`enforce`] verdicts and their
//! cache; [`elf`] targets the library cannot watch; [`loads`] the file an
//! exec of a name really loads (a link's target, a script's interpreter);
//! [`internal`] libc's own opens, routed to the open hook;
//! [`hooks`] the exported
//! entry points (plus `shim.c` for the variadic ones). This file owns the
//! process's lifecycle hooks (load, fork, exit). No module cycles
//! (`tests/module_graph.rs`).

// The hooks take raw pointers from C callers by design.
#![allow(clippy::missing_safety_doc)]

mod at;
mod cache;
mod conn;
mod dns;
mod elf;
mod enforce;
mod envp;
mod gadget;
mod hooks;
mod internal;
mod loads;
mod path;
mod place;
mod reach;
mod real;
mod report;
mod ring;
mod sent;
mod state;
mod sys;

/// Read the environment at load time, before the program can change it.
extern "C" fn load() {
    state::init();
    // Under the filter of unhooked calls, libc's own opens go to the open
    // hook rather than to the tap (`internal`), before the program runs.
    if state::saved().is_some_and(|s| s.active && s.unhooked) {
        internal::route(hooks::open::rampart_libc_open as *const () as usize);
    }
}

#[used]
#[link_section = ".init_array"]
static LOAD: extern "C" fn() = load;

/// Around `fork`, registered once when `state` is first read: the verdict
/// cache is created before a fork so that parent and child share it, and
/// the child drops the parent's connection.
pub(crate) fn register_fork_handlers() {
    // SAFETY: registering plain functions; glibc copies the record.
    unsafe {
        libc::pthread_atfork(
            Some(enforce::before_fork),
            None,
            Some(conn::after_fork_in_child),
        )
    };
}

/// At exit: report the records that never reached the collector.
extern "C" fn unload() {
    let err = sys::errno();
    conn::report_lost_now();
    sys::set_errno(err);
}

#[used]
#[link_section = ".fini_array"]
static UNLOAD: extern "C" fn() = unload;
