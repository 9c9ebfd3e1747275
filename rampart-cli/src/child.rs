//! Running the watched program: spawning it, forwarding signals, and
//! turning its end into `rampart run`'s exit status.
//!
//! The program stays in rampart's process group and keeps the terminal, so
//! interactive agents work as if started directly: job control, window size
//! and Ctrl-C reach it from the terminal itself. Signals that another process
//! sends to rampart alone (`kill PID`) are forwarded; signals the terminal
//! sends to the whole group are not sent twice. This module never touches
//! the program's standard streams.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command};

use anyhow::{Context, Result};

use crate::floor::Floor;
use nix::sys::signal::{SigSet, Signal};

/// The signals rampart forwards to the program when they are sent to rampart
/// alone.
const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

fn forwarded_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set
}

/// Block the forwarded signals in the calling thread (and so in every thread
/// it starts afterwards). Call before starting any thread. The child gets an
/// empty signal mask back (see [`spawn`]).
pub fn block_forwarded_signals() -> Result<()> {
    forwarded_set()
        .thread_block()
        .context("cannot block signals")
}

/// How the command is confined from its start (enforce mode).
#[derive(Default)]
pub struct Confinement<'a> {
    /// The Landlock floor.
    pub floor: Option<&'a Floor>,
    /// `io_uring_setup` fails with `ENOSYS` (the preload library cannot
    /// see what an io_uring does; the trace backend's filter refuses it
    /// itself).
    pub refuse_io_uring: bool,
}

/// Spawn `argv` with extra environment variables, confined as `confined` says.
pub fn spawn(
    argv: &[OsString],
    env: &[(String, OsString)],
    confined: Confinement,
) -> Result<Child> {
    let (prog, args) = argv.split_first().context("no command given")?;
    let mut cmd = Command::new(prog);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let floor = confined.floor.map(Floor::raw_fd);
    let no_io_uring = confined
        .refuse_io_uring
        .then(rampart_trace::refuse_io_uring);
    // SAFETY: the closure only calls sigprocmask and raw system calls on
    // data prepared before the fork, which are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            // The program starts with no signal blocked, whatever rampart blocked.
            let empty = SigSet::empty();
            empty.thread_set_mask().map_err(io::Error::from)?;
            if let Some(prog) = &no_io_uring {
                rampart_trace::install_filter(prog)
                    .map_err(|e| io::Error::from_raw_os_error(e.errno))?;
            }
            match floor.map(crate::floor::enter) {
                Some(errno) if errno != 0 => Err(io::Error::from_raw_os_error(errno)),
                _ => Ok(()),
            }
        });
    }
    cmd.spawn().map_err(|e| spawn_error(prog, e))
}

fn spawn_error(prog: &OsString, e: io::Error) -> anyhow::Error {
    let what = prog.to_string_lossy();
    match e.kind() {
        io::ErrorKind::NotFound => anyhow::anyhow!("{what}: command not found"),
        io::ErrorKind::PermissionDenied => anyhow::anyhow!("{what}: permission denied"),
        _ => anyhow::anyhow!("{what}: {e}"),
    }
}

/// Forward signals sent to rampart alone to `pid`, on a thread of its own,
/// for as long as the process lives.
pub fn forward_signals(pid: i32) {
    let _ = std::thread::Builder::new()
        .name("rampart-signals".into())
        .spawn(move || {
            let set = forwarded_set();
            loop {
                // SAFETY: siginfo_t is plain old data filled by sigwaitinfo.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                let sig = unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) };
                if sig < 0 {
                    continue;
                }
                // A signal from the terminal (si_code SI_KERNEL) went to the
                // whole foreground group, the program included: do not send
                // it twice. One from a process (kill, sigqueue) is forwarded,
                // unless the program itself sent it.
                let from_process = info.si_code <= 0;
                // SAFETY: si_pid is valid for user-sent signals.
                let sender = unsafe { info.si_pid() };
                if from_process && sender != pid {
                    // SAFETY: plain kill(2).
                    unsafe { libc::kill(pid, sig) };
                }
            }
        });
}

/// Wait for the program and return the status a shell would report: its
/// exit code, or 128+N when signal N killed it.
pub fn wait(child: &mut Child) -> Result<i32> {
    let status = child.wait().context("waiting for the program")?;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1))
}
