//! The trace backend: a ptrace supervisor with a seccomp-bpf prefilter that
//! sees every exec, open, connect, send with an address (`sendto`,
//! `sendmsg`, `sendmmsg`) and file-system mutation (`unlink`,
//! `rename`, `link`, `symlink`, `mkdir`, `chmod`, `chown`, `truncate`,
//! `utimensat` and their variants, see [`mutation`]) of a whole process tree — static
//! binaries, Go programs and raw syscalls included — and hands each one to a
//! [`Sink`] as a [`rampart_core::event::Event`] with `source: trace`.
//!
//! [`run`] spawns the command seized with `PTRACE_SEIZE` (fork, vfork, clone,
//! exec, exit and seccomp events, `PTRACE_O_EXITKILL`); the child installs a
//! seccomp filter just before `exec` that stops only the watched syscalls, so
//! everything else runs at full speed. The supervisor reads arguments with
//! `PTRACE_GET_SYSCALL_INFO` and `process_vm_readv`, takes each outcome at
//! syscall exit, and under enforcement skips denied calls.
//!
//! [`notify`] is the other supervisor: the handler of a seccomp listener
//! (with a standby that answers if it dies, [`standby`]), which answers the
//! calls past the preload library's hooks, and every call of a tree traced
//! in monitor mode, where a tracer that died would take the tree with it.
//!
//! This crate decides nothing itself: verdicts come from the sink. It never
//! writes the audit trail and never changes what an allowed call does.
//!
//! Known limits:
//! - 32-bit (i386 `int 0x80`) and x32 entries of the watched calls are
//!   refused with `ENOSYS` by the filter, not decoded; an unknown ABI kills
//!   the process.
//! - Enforcement reads a path from tracee memory before the kernel does:
//!   another thread of the same process could change it in between. Execs are
//!   checked again against the file actually loaded, and opens against the
//!   file they reached (a denied one is closed before the call returns;
//!   `O_TRUNC` is put off until then, except for `openat2`); an allowed
//!   mutation is made by the supervisor itself from what it decided
//!   (`mutate.rs`) and the thread's own call skipped; connects are not
//!   checked again.
//! - DNS names come from answers read with `recvfrom` and a sender address
//!   (glibc, musl); a resolver that uses `read` on a connected socket (Go's
//!   pure-Go resolver) leaves `domain` empty.
//! - A call interrupted by a signal and not restarted is recorded (`EINTR`)
//!   when its thread exits or is interrupted again, not at once.
//! - In monitor mode `io_uring` is allowed and its opens are not seen.
//! - An enforced open whose `O_TRUNC` was put off and that the kernel
//!   restarts after a signal (a blocking open: a FIFO, a slow network file
//!   system) comes back with other arguments: it is recorded twice and its
//!   truncation is lost (a FIFO ignores `O_TRUNC` anyway).
//! - Between an enforced open and the `close` that refuses it at its exit,
//!   another thread of the process holds a live descriptor (README:
//!   enforcement against a hostile program).

mod calls;
mod connect;
mod dirfds;
mod dns;
mod domains;
mod exits;
mod filter;
mod latency;
mod linked;
mod links;
mod loaded;
mod memory;
mod mutate;
mod mutation;
mod net;
pub mod notify;
mod procfs;
mod proxy;
mod regs;
mod spawn;
pub mod standby;
mod supervisor;

use std::ffi::OsString;
use std::io;
use std::path::Path;

use rampart_core::event::Event;

pub use filter::{
    enforce_refusals, install as install_filter, install_listened, listener_available,
    unhooked as unhooked_filter, InstallError, Unhooked,
};
pub use loaded::program_of_loader;

/// What the sink says about a call before it runs (enforce mode only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Run the call.
    Allow,
    /// Skip the call; the program sees it fail with `errno`.
    Deny { errno: i32 },
    /// Run the call: it needed no decision (nothing could refuse it), and
    /// it goes to [`Sink::record_passed`] with its outcome.
    Pass,
}

/// Where the supervisor sends what it sees. Called on the supervisor thread,
/// while the calling thread of the tracee is stopped: keep it quick.
pub trait Sink: Send {
    /// Called at syscall entry when `enforce` is on (before the call runs):
    /// decide, or pass a call that nothing could refuse. Monitor mode never
    /// calls it.
    fn decide(&mut self, event: &Event) -> Verdict;
    /// Called once per call with the final outcome (taken at syscall exit;
    /// exec: `Ok` at `PTRACE_EVENT_EXEC`, `Errno` at a failed exit).
    fn record(&mut self, event: Event);
    /// Called at the exit of an open that [`Sink::decide`] allowed or
    /// passed, when the file it reached has another name (`resolved`):
    /// decide again on both names. A refusal is recorded; an allowed call
    /// already was (or is recorded as passed), so it need not be again.
    fn recheck(&mut self, event: &Event) -> Verdict {
        self.decide(event)
    }
    /// [`Sink::record`] for a call that [`Sink::decide`] passed
    /// ([`Verdict::Pass`]): it ran undecided, and this is its outcome.
    fn record_passed(&mut self, event: Event) {
        self.record(event)
    }
    /// The name the policy refuses the file `(dev, ino)` by, when it is a
    /// refused file that has other names (hard links): a call that reaches
    /// it by another name is decided again on that one.
    fn other_name(&mut self, _dev: u64, _ino: u64) -> Option<String> {
        None
    }
    /// Called when no tracee is waiting for the supervisor, while the
    /// tracees run: do a small slice of deferred work (tens of microseconds
    /// at most; a tracee that stops meanwhile waits for it) and say whether
    /// more is left. The supervisor calls it again until it says no, checking for
    /// stops in between, and only then sleeps.
    fn idle(&mut self) -> bool {
        false
    }
    /// Called before the supervisor sleeps until the next stop: finish
    /// deferred work (nothing is left waiting for a tracee to stop again).
    fn sleeping(&mut self) {}
}

/// A setup the traced child runs just before its exec
/// ([`Options::child_setup`]): an async-signal-safe function and its
/// argument; a nonzero return is the errno of a failure.
pub type ChildSetup = (fn(i32) -> i32, i32);

/// How to trace.
#[derive(Clone, Debug)]
pub struct Options {
    /// Ask [`Sink::decide`] before each call and skip denied ones; refuse
    /// `io_uring_setup` with `ENOSYS`.
    pub enforce: bool,
    /// Read DNS answers (`recvfrom` from port 53) so a later connect to an
    /// answered address carries the name that was asked for.
    pub dns: bool,
    /// Trace `chdir`/`fchdir` to keep each process's cached working
    /// directory right; without it the directory is read from
    /// `/proc/PID/cwd` at every call.
    pub track_cwd: bool,
    /// Most bytes of argv kept for an exec (the event is flagged truncated).
    pub max_argv_bytes: usize,
    /// Hold a 0 µs CPU wake-up latency request (PM QoS) while the command
    /// runs, so idle CPUs poll and a ptrace stop wakes its peer at once
    /// ([`latency`] explains the cost it saves). Only root can; when the
    /// request is not granted the supervisor polls for stops itself for a
    /// moment before it sleeps.
    pub cpu_latency_hint: bool,
    /// Called in the child after its filter is installed, just before it
    /// execs the command, with its argument: an async-signal-safe setup of
    /// the caller's (rampart's Landlock floor). A nonzero return is the
    /// errno of a failed setup: the command is not run.
    pub child_setup: Option<ChildSetup>,
    /// The handler of unhooked calls ([`notify`]): the preload library is
    /// in the tree, so a call from a program it is loaded into went past its
    /// hooks. Without it every program's calls are its own.
    pub preloaded: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            enforce: false,
            dns: true,
            track_cwd: true,
            max_argv_bytes: 256 * 1024,
            cpu_latency_hint: true,
            child_setup: None,
            preloaded: true,
        }
    }
}

/// What a traced run did, besides its exit status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// The exit status as a shell shows it: the code, or 128 + signal.
    pub status: i32,
    /// ptrace stops the supervisor handled (each one a context switch the
    /// traced program paid for).
    pub stops: u64,
    /// Events handed to [`Sink::record`].
    pub events: u64,
    /// Processes (thread groups) seen in the tree, the first one included.
    pub processes: u64,
    /// The signal that ended the command, when one did (`status` is then
    /// 128 + it): a caller that stands in for the command can die the same way.
    pub signal: Option<i32>,
}

/// Spawn `argv` (argv[0] resolved through `PATH`, the one in `env` if it has
/// one) with exactly the environment `env` under the tracer; return its exit
/// status as a shell would (code, or 128+signal) once the whole tree has
/// exited.
///
/// Must be called on the thread that is to supervise (ptrace binds tracees to
/// a thread); that thread is busy until the tree is gone. A command that
/// cannot be found is an `ErrorKind::NotFound` error naming it.
pub fn run(
    argv: &[OsString],
    env: &[(OsString, OsString)],
    opts: &Options,
    sink: &mut dyn Sink,
) -> io::Result<i32> {
    run_report(argv, env, opts, sink).map(|r| r.status)
}

/// [`run`], also counting the stops and events of the run.
pub fn run_report(
    argv: &[OsString],
    env: &[(OsString, OsString)],
    opts: &Options,
    sink: &mut dyn Sink,
) -> io::Result<RunReport> {
    traced(None, argv, env, opts, sink)
}

/// [`run_report`] executing the file `path` (not looked up in `PATH`) with
/// `argv` as given: `argv[0]` need not name it, as with `exec -a NAME`.
pub fn run_file_report(
    path: &Path,
    argv: &[OsString],
    env: &[(OsString, OsString)],
    opts: &Options,
    sink: &mut dyn Sink,
) -> io::Result<RunReport> {
    traced(Some(path), argv, env, opts, sink)
}

fn traced(
    path: Option<&Path>,
    argv: &[OsString],
    env: &[(OsString, OsString)],
    opts: &Options,
    sink: &mut dyn Sink,
) -> io::Result<RunReport> {
    let spec = filter::FilterSpec {
        enforce: opts.enforce,
        track_cwd: opts.track_cwd,
        dns: opts.dns,
    };
    let program = filter::build(&spec);
    let hint = opts
        .cpu_latency_hint
        .then(latency::CpuLatency::request)
        .flatten();
    let child = spawn::spawn_seized(path, argv, env, &program, opts.child_setup)?;
    // With idle CPUs polling, a stop reaches a sleeping supervisor as fast
    // as its own polling would, without spending a CPU on it.
    let mut sup = supervisor::Supervisor::new(opts, sink, child.pid, hint.is_none());
    let report = sup.run();
    drop(hint);
    child.finish(report)
}
