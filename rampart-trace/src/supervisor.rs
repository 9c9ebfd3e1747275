//! The supervisor loop: waits for every stop of every thread of the tree
//! (`waitpid(-1, __WALL)`), turns seccomp stops of watched syscalls into
//! events, takes their outcome at syscall exit, follows forks, clones and
//! execs (including an exec from a non-leader thread), passes signals on and
//! keeps group-stops stopped (`PTRACE_LISTEN`), and returns the exit status
//! of the first process.
//!
//! Between stops it hands the sink its idle time and, unless idle CPUs poll
//! already ([`crate::latency`]), polls briefly before it sleeps
//! ([`Supervisor::next_stop`]): most of a traced program's overhead is the
//! two wake-ups per stop, and a poll saves one.
//!
//! It keeps per-process caches (exe, cwd, ppid) so `/proc` is read only when
//! something changed. It never lets a call run before the sink decided it,
//! or passed it as one nothing could refuse (enforce), never changes what
//! an allowed call does (an open's `O_TRUNC` is only put off until the file
//! it reached is decided), and never leaves the tree stopped: on any early exit (a
//! panic in the sink) it kills the tree.

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

use rampart_core::event::{Call, Event, Op, Outcome};

use crate::calls::{Calls, Process, DNS_CACHE_MAX};
use crate::memory;
use crate::net::{self, Target};
use crate::proxy::{Connected, Maker, Opened};
use crate::regs::{self, nr, SyscallStop};
use crate::{dns, procfs, Options, RunReport, Sink, Verdict};

/// Kernel-internal "restart me" errnos seen at a syscall-exit stop.
const ERESTARTSYS: i64 = 512;
const ERESTART_RESTARTBLOCK: i64 = 516;

/// Every tracee, every thread; not the threads of this process.
const WAIT_FLAGS: i32 = libc::__WALL | libc::__WNOTHREAD;
/// How long the supervisor polls for the next stop before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// Whether polling for the next stop pays: it does while stops come within
/// [`SPIN`] of each other (a program busy with opens), and stops paying
/// after a few polls in a row that caught nothing (a program computing, or
/// waiting), until a stop comes that fast again.
#[derive(Default)]
struct Spin {
    misses: u8,
}

impl Spin {
    const GIVE_UP: u8 = 3;

    fn worth_it(&self) -> bool {
        self.misses < Self::GIVE_UP
    }
    fn caught(&mut self) {
        self.misses = 0;
    }
    fn missed(&mut self) {
        self.misses = self.misses.saturating_add(1);
    }
}

/// A mutation the supervisor made for a thread, or refused where it
/// really lands.
enum Made {
    Ran(Result<i64, i32>),
    Refused(i32),
}

/// What a thread is in the middle of, between a seccomp stop and its exit stop.
/// (`Call` is much larger than the others; boxing it would cost an
/// allocation per traced call, to save a few hundred bytes per thread.)
#[allow(clippy::large_enum_variant)]
enum Pending {
    /// A recorded call waiting for its outcome; `denied` when the sink said
    /// no, `passed` when it needed no decision ([`Verdict::Pass`]).
    Call {
        nr: i64,
        args: [u64; 6],
        event: Event,
        denied: Option<i32>,
        passed: bool,
        /// An allowed open whose `O_TRUNC` was taken out at entry: the
        /// file is truncated at exit, once it is known which file it is.
        truncate: bool,
        /// Enforce mode: an allowed mutation made by the supervisor at
        /// entry (`crate::mutate`) in place of the skipped call: its
        /// result, returned at exit.
        made: Option<Result<i64, i32>>,
    },
    /// An open refused at its exit (the file it reached is denied): the
    /// thread runs `close(fd)` in its place ([`regs::inject`]) and then
    /// returns `-errno`. Signals that arrive meanwhile wait in `signals`.
    Closing {
        event: Event,
        errno: i32,
        saved: regs::Saved,
        signals: Vec<i32>,
    },
    /// `chdir`/`fchdir`: the cached cwd is dropped again at exit.
    Chdir,
    /// `recvfrom(fd, buf, len, flags, src, srclen)` that may carry a DNS answer.
    Recv { buf: u64, src: u64 },
    /// Enforce mode: a watched call whose arguments this tracer could not
    /// read (not a bad pointer: no permission), skipped; fails with `errno`.
    Unread { errno: i32 },
}

impl Pending {
    /// A call read into `event`, not decided yet.
    fn new(event: Event) -> Pending {
        Pending::Call {
            nr: 0,
            args: [0; 6],
            event,
            denied: None,
            passed: false,
            truncate: false,
            made: None,
        }
    }
}

#[derive(Default)]
struct Thread {
    tgid: Option<i32>,
    /// Its parent's fork, vfork or clone event has been seen (the first
    /// thread: always). A new task can stop, and even exit, before that.
    born: bool,
    pending: Option<Pending>,
    /// A call whose exit said "to be restarted": dropped when the same call
    /// comes back (its restart is recorded), else recorded as `EINTR` when
    /// the thread exits or is interrupted again.
    interrupted: Option<Pending>,
}

pub struct Supervisor<'a> {
    opts: &'a Options,
    sink: &'a mut dyn Sink,
    root: i32,
    root_status: Option<i32>,
    threads: HashMap<i32, Thread>,
    /// Reads each call into an event, with the per-process caches.
    calls: Calls<'a>,
    report: RunReport,
    finished: bool,
    /// Poll for stops before sleeping ([`Spin`]); off when idle CPUs poll.
    polls: bool,
    /// Enforce mode: where allowed mutations are made, from what was
    /// decided (made on the first one; `Err`: it could not be, they run).
    maker: Option<Result<Maker, ()>>,
    spin: Spin,
    /// Tasks that exited before their parent's fork, vfork or clone event
    /// was seen, and whether they were counted as a process: the late
    /// event must neither count them again nor bring back an entry.
    exited_unborn: HashMap<i32, bool>,
}

/// How to resume a stopped tracee.
#[derive(Clone, Copy)]
enum Resume {
    /// Run to the exit stop of the current syscall.
    ToExit,
    /// Run freely (only seccomp and events stop it).
    Cont,
    /// Stay in group-stop but report its end.
    Listen,
}

fn ptrace(req: libc::c_uint, tid: i32, addr: usize, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: the requests used here take integers or pointers to live memory.
    let r = unsafe { libc::ptrace(req, tid, addr, data) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn event_msg(tid: i32) -> Option<u64> {
    let mut msg: libc::c_ulong = 0;
    ptrace(
        libc::PTRACE_GETEVENTMSG,
        tid,
        0,
        &mut msg as *mut libc::c_ulong as usize,
    )
    .ok()?;
    Some(msg as u64)
}

fn shell_status(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

impl<'a> Supervisor<'a> {
    pub fn new(opts: &'a Options, sink: &'a mut dyn Sink, root: i32, polls: bool) -> Self {
        let mut threads = HashMap::new();
        threads.insert(
            root,
            Thread {
                tgid: Some(root),
                born: true,
                ..Default::default()
            },
        );
        let mut calls = Calls::new(opts);
        calls.procs.insert(root, Process::default());
        Supervisor {
            opts,
            sink,
            root,
            root_status: None,
            threads,
            calls,
            report: RunReport {
                processes: 1,
                ..Default::default()
            },
            finished: false,
            polls,
            maker: None,
            spin: Spin::default(),
            exited_unborn: HashMap::new(),
        }
    }

    /// Supervise until no tracee is left.
    pub fn run(&mut self) -> io::Result<RunReport> {
        loop {
            let mut status = 0;
            let tid = self.next_stop(&mut status);
            if tid < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => break,
                    _ => return Err(e),
                }
            }
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                self.on_exit(tid, status);
                continue;
            }
            if !libc::WIFSTOPPED(status) {
                continue;
            }
            self.report.stops += 1;
            if !self.exited_unborn.is_empty() {
                // A task that stops is alive: an entry for its id is stale
                // (a parent died before reporting the birth; the id was reused).
                self.exited_unborn.remove(&tid);
            }
            let sig = libc::WSTOPSIG(status);
            let event = (status >> 16) & 0xff;
            let resume = if event == libc::PTRACE_EVENT_STOP {
                match sig {
                    libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => {
                        Some((Resume::Listen, 0))
                    }
                    _ => Some((self.free_run(tid), 0)),
                }
            } else if sig == libc::SIGTRAP | 0x80 {
                Some((self.on_syscall_exit(tid), 0))
            } else if sig == libc::SIGTRAP && event != 0 {
                Some((self.on_event(tid, event), 0))
            } else if let Some(Pending::Closing { signals, .. }) =
                self.threads.get_mut(&tid).and_then(|t| t.pending.as_mut())
            {
                // A handler must not run between the injected close and
                // the return it stands for: the signal is sent again after.
                signals.push(sig);
                Some((Resume::ToExit, 0))
            } else {
                // Signal-delivery stop: pass the signal on.
                Some((self.free_run(tid), sig))
            };
            if let Some((how, sig)) = resume {
                self.resume(tid, how, sig);
            }
        }
        self.finished = true;
        let status = self.root_status.ok_or_else(|| {
            io::Error::other("the traced command's exit status was never reported")
        })?;
        self.report.status = shell_status(status);
        self.report.signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
        Ok(self.report)
    }

    /// The next stop or exit of any tracee (`waitpid` semantics: the tid,
    /// or -1 with errno set).
    ///
    /// A tracee that already stopped is served at once. Otherwise the sink
    /// does its deferred work, a small piece at a time, while the tracees
    /// run; then, when no CPU latency request is held and stops have been
    /// coming fast ([`Spin`]), the supervisor polls for up to [`SPIN`],
    /// yielding its CPU between polls; only then does it sleep. Waking a
    /// sleeping supervisor on a halted CPU costs each stop a cross-CPU
    /// wake-up: polling saves it on programs dense with calls (grep -r 3×
    /// faster), but it keeps a CPU busy, and the scheduler then stops placing
    /// tracer and tracee on one CPU, which costs programs that fork and exec
    /// more than it saves (a gcc build 1.3× → 2.0× the bare run).
    fn next_stop(&mut self, status: &mut i32) -> i32 {
        let poll = |status: &mut i32| {
            // SAFETY: waitpid writes the status word.
            unsafe { libc::waitpid(-1, status, WAIT_FLAGS | libc::WNOHANG) }
        };
        loop {
            let tid = poll(status);
            if tid != 0 {
                return tid;
            }
            if !self.sink.idle() {
                break;
            }
        }
        if self.polls && self.spin.worth_it() {
            let started = Instant::now();
            loop {
                // A tracee waiting for this CPU gets it.
                // SAFETY: no arguments.
                unsafe { libc::sched_yield() };
                let tid = poll(status);
                if tid != 0 {
                    self.spin.caught();
                    return tid;
                }
                if started.elapsed() >= SPIN {
                    self.spin.missed();
                    break;
                }
            }
        }
        self.sink.sleeping();
        let asleep = Instant::now();
        // SAFETY: waitpid writes the status word.
        let tid = unsafe { libc::waitpid(-1, status, WAIT_FLAGS) };
        if asleep.elapsed() < SPIN {
            // A stop came that fast: polling pays again.
            self.spin.caught();
        }
        tid
    }

    fn free_run(&self, tid: i32) -> Resume {
        match self.threads.get(&tid) {
            Some(Thread {
                pending: Some(_), ..
            }) => Resume::ToExit,
            _ => Resume::Cont,
        }
    }

    fn resume(&self, tid: i32, how: Resume, sig: i32) {
        let req = match how {
            Resume::ToExit => libc::PTRACE_SYSCALL,
            Resume::Cont => libc::PTRACE_CONT,
            Resume::Listen => libc::PTRACE_LISTEN,
        };
        // ESRCH: the tracee died meanwhile (SIGKILL); its exit is reported next.
        let _ = ptrace(req, tid, 0, sig as usize);
    }

    fn on_event(&mut self, tid: i32, event: i32) -> Resume {
        match event {
            libc::PTRACE_EVENT_SECCOMP => self.on_seccomp(tid),
            libc::PTRACE_EVENT_EXEC => {
                self.on_exec(tid);
                Resume::Cont
            }
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                if let Some(child) = event_msg(tid) {
                    self.on_new_task(tid, child as i32, event != libc::PTRACE_EVENT_CLONE);
                }
                Resume::Cont
            }
            _ => self.free_run(tid), // PTRACE_EVENT_EXIT and anything newer
        }
    }

    fn on_new_task(&mut self, parent: i32, child: i32, is_process: bool) {
        if let Some(counted) = self.exited_unborn.remove(&child) {
            if is_process && !counted {
                self.report.processes += 1;
            }
            return;
        }
        let entry = self.threads.entry(child).or_default();
        entry.born = true;
        if !is_process {
            return; // a thread, or a clone() process: its tgid is read when needed
        }
        entry.tgid = Some(child);
        // A forked process has its parent's image and directory.
        let parent_tgid = self.tgid_of(parent);
        let (exe, cwd) = match self.calls.procs.get(&parent_tgid) {
            Some(p) => (p.exe.clone(), p.cwd.clone()),
            None => (None, None),
        };
        // The child may have stopped (even exec'd) before this event was
        // seen: what it already told us is newer than its parent's state.
        if let std::collections::hash_map::Entry::Vacant(slot) = self.calls.procs.entry(child) {
            self.report.processes += 1;
            slot.insert(Process {
                exe,
                cwd,
                ..Default::default()
            });
        }
    }

    fn tgid_of(&mut self, tid: i32) -> i32 {
        let t = self.threads.entry(tid).or_default();
        if let Some(g) = t.tgid {
            return g;
        }
        let g = procfs::tgid(tid).unwrap_or(tid);
        t.tgid = Some(g);
        if !self.calls.procs.contains_key(&g) {
            self.report.processes += 1;
            self.calls.procs.insert(g, Process::default());
        }
        g
    }

    fn on_exit(&mut self, tid: i32, status: i32) {
        let thread = self.threads.remove(&tid);
        let born = thread.as_ref().is_some_and(|t| t.born);
        if let Some(mut t) = thread {
            self.flush(&mut t);
        }
        let counted = self.calls.procs.remove(&tid).is_some();
        if counted {
            for p in self.calls.procs.values_mut() {
                if p.ppid == Some(tid) {
                    p.ppid = None; // reparented: read again when needed
                }
            }
        }
        if !born {
            self.exited_unborn.insert(tid, counted);
        }
        if tid == self.root {
            self.root_status = Some(status);
        }
    }

    /// Record what a thread left unfinished (it died, or its call vanished).
    fn flush(&mut self, t: &mut Thread) {
        if let Some(Pending::Call { event, passed, .. }) = t.interrupted.take() {
            self.record(event, Outcome::Errno(libc::EINTR), passed);
        }
        self.record_unfinished(t.pending.take());
    }

    /// Record a call whose exit never came: refused, or of unknown outcome.
    fn record_unfinished(&mut self, pending: Option<Pending>) {
        match pending {
            Some(Pending::Call {
                event,
                denied,
                passed,
                ..
            }) => {
                let outcome = denied.map_or(Outcome::Unknown, Outcome::Errno);
                self.record(event, outcome, passed);
            }
            Some(Pending::Closing { event, errno, .. }) => {
                self.record(event, Outcome::Errno(errno), false);
            }
            _ => {}
        }
    }

    /// Hand a finished call to the sink; `passed`: it ran undecided.
    fn record(&mut self, mut event: Event, outcome: Outcome, passed: bool) {
        event.outcome = outcome;
        self.report.events += 1;
        if passed {
            self.sink.record_passed(event);
        } else {
            self.sink.record(event);
        }
    }

    // ---- entry -------------------------------------------------------------

    fn on_seccomp(&mut self, tid: i32) -> Resume {
        let Ok(SyscallStop::Entry { arch, nr, args }) = regs::syscall_info(tid) else {
            return Resume::Cont;
        };
        if arch != regs::NATIVE_ARCH {
            return Resume::Cont; // the filter refuses compat calls itself
        }
        if matches!(
            self.threads.get(&tid).and_then(|t| t.pending.as_ref()),
            Some(Pending::Closing { .. })
        ) {
            // The injected close, stopped by a filter of the program's own
            // (ours does not watch close): let it run to its exit.
            return Resume::ToExit;
        }
        let mut thread = self.threads.remove(&tid).unwrap_or_default();
        // A call that said "restart" and now comes back is the same call;
        // calls in between are a signal handler's and leave it waiting.
        if let Some(Pending::Call { nr: n, args: a, .. }) = &thread.interrupted {
            if *n == nr && *a == args {
                thread.interrupted = None;
            }
        }
        // The exit of the previous call never came.
        self.record_unfinished(thread.pending.take());
        self.threads.insert(tid, thread);

        let tgid = self.tgid_of(tid);
        if nr == nr::LANDLOCK_RESTRICT_SELF {
            // (Enforce mode only.) The mutations made here for this process
            // from now on are confined as it confines itself.
            if let Some(maker) = self.maker() {
                maker.restricting(tid, tgid, args[0] as i32);
            }
            return Resume::Cont;
        }
        self.calls.faulted = false;
        let pending = match nr {
            n if n == nr::CHDIR || n == nr::FCHDIR => {
                if let Some(p) = self.calls.procs.get_mut(&tgid) {
                    p.cwd = None;
                }
                Some(Pending::Chdir)
            }
            n if n == nr::RECVFROM => Some(Pending::Recv {
                buf: args[1],
                src: args[4],
            }),
            n if n == nr::SENDMMSG => self
                .sendmmsg_call(tid, tgid, args[0] as i32, args[1], args[2] as u32)
                .map(Pending::new),
            n => self.calls.event_of(tid, tgid, n, &args).map(Pending::new),
        };
        if std::mem::take(&mut self.calls.faulted) {
            // An argument no one but the kernel may read: failed as the
            // kernel fails a bad pointer, unmade (in both modes).
            if regs::skip_syscall(tid).is_err() {
                // SAFETY: plain kill of a tracee that must not run the call.
                unsafe { libc::kill(tid, libc::SIGKILL) };
            }
            if let Some(t) = self.threads.get_mut(&tid) {
                t.pending = Some(Pending::Unread {
                    errno: libc::EFAULT,
                });
            }
            return Resume::ToExit;
        }
        if std::mem::take(&mut self.calls.blind) && self.opts.enforce {
            // Nothing trustworthy to record: the call is refused unrecorded.
            if regs::skip_syscall(tid).is_err() {
                // SAFETY: plain kill of a tracee that must not run the call.
                unsafe { libc::kill(tid, libc::SIGKILL) };
            }
            if let Some(t) = self.threads.get_mut(&tid) {
                t.pending = Some(Pending::Unread {
                    errno: libc::EACCES,
                });
            }
            return Resume::ToExit;
        }
        let Some(mut pending) = pending else {
            return Resume::Cont;
        };
        if let Pending::Call {
            nr: n,
            args: a,
            event,
            denied,
            passed,
            truncate,
            made,
        } = &mut pending
        {
            *n = nr;
            *a = args;
            if self.opts.enforce {
                match self.sink.decide(event) {
                    Verdict::Deny { errno } => {
                        // A directory descriptor that is not open: the
                        // call fails as the kernel would have failed it.
                        let errno = if self.calls.dirfd_closed {
                            libc::EBADF
                        } else {
                            errno
                        };
                        if regs::skip_syscall(tid).is_err() {
                            // Cannot skip it: the thread must not run the call.
                            // SAFETY: plain kill of a tracee.
                            unsafe { libc::kill(tid, libc::SIGKILL) };
                        }
                        *denied = Some(errno);
                    }
                    Verdict::Pass => *passed = true,
                    Verdict::Allow => {}
                }
                if denied.is_none() {
                    *truncate = truncate_later(tid, nr, &args, event);
                    match self.make_mutation(tid, tgid, nr, &args, event) {
                        // Refused where it really lands: that refusal is
                        // its record, and it did not run.
                        Some(Made::Refused(errno)) => {
                            *denied = Some(errno);
                            *passed = false;
                        }
                        Some(Made::Ran(result)) => *made = Some(result),
                        None if nr == nr::CONNECT => *made = self.make_connect(tid, tgid),
                        None => {}
                    }
                }
            }
            if denied.is_none() && [nr::SENDTO, nr::SENDMSG, nr::SENDMMSG].contains(&nr) {
                self.calls.sent(tgid, &event.call);
            }
        }
        if let Some(t) = self.threads.get_mut(&tid) {
            t.pending = Some(pending);
        }
        Resume::ToExit
    }

    /// `sendmmsg(fd, vec, vlen, flags)`: one destination not sent to
    /// before is decided per call, as under preload: when messages before
    /// it go to known ones, the call is cut to those; when messages after
    /// it go to another new one, it is cut before them (the caller sends
    /// the rest again, as after any short count).
    fn sendmmsg_call(
        &mut self,
        tid: i32,
        tgid: i32,
        fd: i32,
        vec: u64,
        vlen: u32,
    ) -> Option<Event> {
        let mut new = self
            .calls
            .sendmmsg_call(tid, tgid, fd, vec, vlen)
            .into_iter();
        let (i, event) = new.next()?;
        let cut = new.next().map(|(at, _)| at);
        let count = if i > 0 { Some(i) } else { cut };
        if let Some(count) = count {
            if regs::set_arg(tid, 2, count as u64).is_err() {
                // The count cannot be cut: refuse the call rather than let
                // an undecided destination through.
                let _ = regs::skip_syscall(tid);
            }
        }
        // Messages to known destinations go first; the new one waits.
        (i == 0).then_some(event)
    }

    // ---- exit --------------------------------------------------------------

    fn on_syscall_exit(&mut self, tid: i32) -> Resume {
        let Some(pending) = self.threads.get_mut(&tid).and_then(|t| t.pending.take()) else {
            return Resume::Cont;
        };
        let Ok(SyscallStop::Exit { rval, is_error }) = regs::syscall_info(tid) else {
            // Not the exit we waited for (the entry of an injected close):
            // keep waiting.
            let how = match pending {
                Pending::Closing { .. } => Resume::ToExit,
                _ => Resume::Cont,
            };
            if let Some(t) = self.threads.get_mut(&tid) {
                t.pending = Some(pending);
            }
            return how;
        };
        match pending {
            Pending::Call {
                event,
                denied: Some(errno),
                passed,
                ..
            } => {
                let _ = regs::set_return(tid, -(errno as i64));
                self.record(event, Outcome::Errno(errno), passed);
            }
            Pending::Call {
                event,
                made: Some(result),
                passed,
                ..
            } => {
                let _ = regs::set_return(tid, result.unwrap_or_else(|e| -(e as i64)));
                let outcome = match result {
                    Ok(_) => Outcome::Ok,
                    Err(libc::EINPROGRESS) if matches!(event.call, Call::ConnectInet { .. }) => {
                        Outcome::InProgress
                    }
                    Err(errno) => Outcome::Errno(errno),
                };
                if outcome == Outcome::Ok
                    && matches!(event.call, Call::Mutate { op: Op::Rename, .. })
                {
                    self.renamed();
                }
                self.record(event, outcome, passed);
            }
            Pending::Call {
                nr,
                args,
                mut event,
                denied: None,
                passed,
                truncate,
                made: None,
            } => {
                if !is_error {
                    let named = resolve_open(&mut event, tid, rval);
                    if self.opts.enforce {
                        // A file whose name cannot be read back cannot be
                        // decided: refused.
                        let decided = if named {
                            self.reached(tid, &event, rval as i32, truncate)
                        } else {
                            Err(libc::EACCES)
                        };
                        if let Err(errno) = decided {
                            return self.refuse_open(tid, event, rval, errno);
                        }
                    }
                }
                let outcome = if !is_error {
                    Outcome::Ok
                } else if (ERESTARTSYS..=ERESTART_RESTARTBLOCK).contains(&-rval) {
                    // Interrupted by a signal: restarted after the handler
                    // (recorded then) or returned as EINTR (recorded when the
                    // thread exits or is interrupted again).
                    let interrupted = Pending::Call {
                        nr,
                        args,
                        event,
                        denied: None,
                        passed,
                        truncate,
                        made: None,
                    };
                    let earlier = self
                        .threads
                        .get_mut(&tid)
                        .and_then(|t| t.interrupted.replace(interrupted));
                    if let Some(Pending::Call { event, passed, .. }) = earlier {
                        self.record(event, Outcome::Errno(libc::EINTR), passed);
                    }
                    return Resume::Cont;
                } else if -rval == libc::EINPROGRESS as i64
                    && matches!(
                        event.call,
                        Call::ConnectInet { .. } | Call::ConnectUnix { .. }
                    )
                {
                    Outcome::InProgress
                } else {
                    Outcome::Errno(-rval as i32)
                };
                if outcome == Outcome::Ok
                    && matches!(event.call, Call::Mutate { op: Op::Rename, .. })
                {
                    self.renamed();
                }
                if outcome == Outcome::Ok && dns::opens_hosts_file(&event) {
                    let tgid = self.tgid_of(tid);
                    self.calls.read_hosts_file(tid, tgid);
                }
                self.record(event, outcome, passed);
            }
            Pending::Closing {
                event,
                errno,
                saved,
                signals,
            } => {
                let closed = !is_error && rval == 0;
                if !closed || regs::restore(tid, &saved, -(errno as i64)).is_err() {
                    // The descriptor is still open (a filter of the
                    // program's own refused the close), or the thread cannot
                    // be put back: the process must not go on holding it.
                    let tgid = self.tgid_of(tid);
                    // SAFETY: plain kill of a traced process.
                    unsafe { libc::kill(tgid, libc::SIGKILL) };
                }
                self.record(event, Outcome::Errno(errno), false);
                let tgid = self.tgid_of(tid);
                for sig in signals {
                    // SAFETY: plain tgkill of a tracee.
                    unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, sig) };
                }
            }
            Pending::Chdir => {
                let tgid = self.tgid_of(tid);
                if let Some(p) = self.calls.procs.get_mut(&tgid) {
                    p.cwd = None;
                }
            }
            Pending::Recv { buf, src } => {
                if !is_error && rval > 0 {
                    self.read_dns_answer(tid, buf, src, rval as usize);
                }
            }
            Pending::Unread { errno } => {
                let _ = regs::set_return(tid, -(errno as i64));
            }
        }
        Resume::Cont
    }

    /// Enforce mode, at the exit of an open that worked: decide it again
    /// on the file it reached when that is another name (a link followed,
    /// or swapped in since its entry), and do the truncation its entry put
    /// off. `Err(errno)`: the open must fail after all.
    fn reached(&mut self, tid: i32, event: &Event, fd: i32, truncate: bool) -> Result<(), i32> {
        if matches!(
            &event.call,
            Call::Open {
                resolved: Some(_),
                ..
            }
        ) {
            if let Verdict::Deny { errno } = self.sink.recheck(event) {
                return Err(errno);
            }
        }
        // A hard link to a file the policy refuses by another name.
        let other = crate::linked::file_of_path(&format!("/proc/{tid}/fd/{fd}"))
            .and_then(|(dev, ino)| self.sink.other_name(dev, ino));
        if let Some(name) = other {
            if let Verdict::Deny { errno } = self.sink.recheck(&crate::linked::named(event, name)) {
                return Err(errno);
            }
        }
        if truncate {
            truncate_file(tid, fd)?;
        }
        Ok(())
    }

    /// Make an open that worked fail with `errno`: the thread closes the
    /// descriptor it got before it returns ([`Pending::Closing`]); a thread
    /// that cannot be made to is killed.
    fn refuse_open(&mut self, tid: i32, event: Event, fd: i64, errno: i32) -> Resume {
        match regs::inject(tid, nr::CLOSE, &[fd as u64]) {
            Ok(saved) => {
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.pending = Some(Pending::Closing {
                        event,
                        errno,
                        saved,
                        signals: Vec::new(),
                    });
                }
                Resume::ToExit
            }
            Err(_) => {
                // SAFETY: plain kill of a tracee that must not keep the file.
                unsafe { libc::kill(tid, libc::SIGKILL) };
                self.record(event, Outcome::Errno(errno), false);
                Resume::Cont
            }
        }
    }

    /// Enforce mode, at the entry of an allowed mutation: make it here from
    /// the strings decided (`crate::mutate`), so that a thread rewriting
    /// them before the kernel reads them again changes nothing, and skip
    /// the thread's own call; its result is returned at exit. `None`: the
    /// call runs as it is (not a mutation, or it could not be made here).
    fn make_mutation(
        &mut self,
        tid: i32,
        tgid: i32,
        nr: i64,
        args: &[u64; 6],
        event: &Event,
    ) -> Option<Made> {
        let strings = self.calls.mutation_args.take()?;
        self.maker()?;
        let maker = self.maker.as_ref()?.as_ref().ok()?;
        let result = match crate::mutate::prepare(tid, tgid, nr, args, &strings)? {
            // Somewhere else than decided: decided again there first.
            Ok(m) => match crate::mutate::decided_again(event, &m, &mut *self.sink) {
                Some(Verdict::Deny { errno }) => Made::Refused(errno),
                _ => match maker.mutate(tid, tgid, m) {
                    Ok(val) => Made::Ran(Ok(val)),
                    Err(Opened::Failed(errno)) => Made::Ran(Err(errno)),
                    Err(_) => return None,
                },
            },
            Err(errno) => Made::Ran(Err(errno)),
        };
        if regs::skip_syscall(tid).is_err() {
            // Made already: the thread must not make it again.
            // SAFETY: plain kill of a tracee.
            unsafe { libc::kill(tid, libc::SIGKILL) };
        }
        Some(result)
    }

    /// Enforce mode, at the entry of an allowed connect: make it here on
    /// the address decided (`crate::connect`) and skip the thread's own
    /// call, whose `sockaddr` another thread may have rewritten since; its
    /// result is returned at exit. A blocking TCP connect is started here
    /// and the thread's call runs, waiting for that connection. `None`:
    /// the call runs as it is (a Unix socket, another protocol).
    fn make_connect(&mut self, tid: i32, tgid: i32) -> Option<Result<i64, i32>> {
        let (sock, addr) = self.calls.connect_args.take()?;
        let result = match self.maker()?.connect(tid, tgid, sock, &addr, true) {
            Connected::Now(result) => result.map(|()| 0),
            Connected::Started(_) | Connected::Waiting | Connected::Continue => return None,
        };
        if regs::skip_syscall(tid).is_err() {
            // Made already: the thread must not make it again.
            // SAFETY: plain kill of a tracee.
            unsafe { libc::kill(tid, libc::SIGKILL) };
        }
        Some(result)
    }

    /// Where mutations are made for the tree (made on first use).
    fn maker(&mut self) -> Option<&Maker> {
        let setup = self.opts.child_setup;
        self.maker
            .get_or_insert_with(|| Maker::new(true, setup, true).map_err(drop))
            .as_ref()
            .ok()
    }

    /// A rename worked: any cached directory (a cwd, a directory
    /// descriptor's path) may have a new name. Read them again.
    fn renamed(&mut self) {
        self.calls.renamed();
    }

    fn read_dns_answer(&mut self, tid: i32, buf: u64, src: u64, len: usize) {
        let Ok((from, got)) = memory::read_struct::<libc::sockaddr_storage>(tid, src, 28) else {
            return;
        };
        // SAFETY: plain data, `got` bytes filled.
        let bytes = unsafe {
            std::slice::from_raw_parts((&from as *const libc::sockaddr_storage).cast::<u8>(), got)
        };
        if !matches!(net::parse_sockaddr(bytes), Target::Inet { port: 53, .. }) {
            return;
        }
        let mut msg = vec![0u8; len.min(65536)];
        let Ok(n) = memory::read_bytes(tid, buf, &mut msg) else {
            return;
        };
        let found = dns::answers(&msg[..n]);
        if found.is_empty() {
            return;
        }
        let tgid = self.tgid_of(tid);
        let p = self.calls.procs.entry(tgid).or_default();
        if p.dns.len() + found.len() > DNS_CACHE_MAX {
            p.dns.clear();
        }
        p.dns.extend(found);
    }

    // ---- exec --------------------------------------------------------------

    fn on_exec(&mut self, tid: i32) {
        // After an exec from a non-leader thread the thread has taken the
        // leader's id; the event message names its former id.
        let former = event_msg(tid).map_or(tid, |m| m as i32);
        if former != tid {
            let mut old_leader = self.threads.remove(&tid).unwrap_or_default();
            self.flush(&mut old_leader);
            let execing = self.threads.remove(&former).unwrap_or_default();
            self.threads.insert(tid, execing);
        }
        let tgid = tid;
        if let Some(p) = self.calls.procs.get_mut(&tgid) {
            // A new program: its sends are decided afresh.
            p.sent.clear();
        }
        if let Some(t) = self.threads.get_mut(&tid) {
            t.tgid = Some(tgid);
        }
        let loaded = procfs::exe(tid).unwrap_or_default();
        let pending = self.threads.get_mut(&tid).and_then(|t| t.pending.take());
        {
            let p = self.calls.procs.entry(tgid).or_default();
            p.exe = Some(loaded.clone());
            p.dns.clear();
        }
        let Some(Pending::Call {
            event,
            denied,
            passed,
            ..
        }) = pending
        else {
            return;
        };
        if let Some(errno) = denied {
            // Denied yet loaded: skipping failed. Kill it.
            unsafe { libc::kill(tid, libc::SIGKILL) };
            self.record(event, Outcome::Errno(errno), passed);
            return;
        }
        // The file actually loaded, when the name led elsewhere (a link,
        // as `python3` is to `python3.11`; an interpreter for a script), with
        // the argv the new image really got: decided again under enforce,
        // and recorded in monitor mode too, so that a policy learned from
        // the trail allows what enforce will check.
        let check = match &event.call {
            Call::Exec { path, .. } if *path != loaded => {
                let mut check = event.clone();
                check.call = Call::Exec {
                    path: loaded.clone(),
                    argv: procfs::cmdline(tid).unwrap_or_default(),
                    via: Some(path.clone()),
                };
                Some(check)
            }
            _ => None,
        };
        // The loader run as a program: the program it runs, too.
        let run = crate::loaded::run_by_loader(&event, &loaded, tid);
        if !self.opts.enforce {
            self.record(event.clone(), Outcome::Ok, passed);
            // Only where the policy could tell the two apart.
            for also in check.into_iter().chain(run) {
                if also.command() != event.command() {
                    self.record(also, Outcome::Ok, false);
                }
            }
            return;
        }
        for also in check.into_iter().chain(run) {
            if let Verdict::Deny { errno } = self.sink.decide(&also) {
                // SAFETY: plain kill of a tracee that has not run its new image yet.
                unsafe { libc::kill(tid, libc::SIGKILL) };
                if passed {
                    // Not recorded when it ran undecided: the exec
                    // itself did succeed.
                    self.record(event, Outcome::Ok, true);
                }
                self.record(also, Outcome::Errno(errno), false);
                return;
            }
        }
        self.record(event, Outcome::Ok, passed);
    }
}

impl Drop for Supervisor<'_> {
    /// If the loop did not finish (a panic in the sink), no tracee may stay
    /// stopped forever: kill the tree and reap it.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        for tid in self.threads.keys() {
            // SAFETY: plain kill of our tracees.
            unsafe { libc::kill(*tid, libc::SIGKILL) };
        }
        loop {
            let mut status = 0;
            let r = unsafe { libc::waitpid(-1, &mut status, WAIT_FLAGS) };
            if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
            if r > 0 && libc::WIFSTOPPED(status) {
                unsafe { libc::kill(r, libc::SIGKILL) };
                let _ = ptrace(libc::PTRACE_CONT, r, 0, 0);
            }
        }
    }
}

/// Name the file a successful open reached (`resolved`), read from the
/// descriptor it returned, where it differs from the path given.
/// `false` when the descriptor's file cannot be named (this process may
/// not read `/proc/TID/fd`); `true` for a call that is not an open.
fn resolve_open(event: &mut Event, tid: i32, fd: i64) -> bool {
    let Call::Open { path, resolved, .. } = &mut event.call else {
        return true;
    };
    match procfs::fd_target(tid, fd as i32) {
        Ok(reached) => {
            // What was reached replaces what the entry foresaw.
            *resolved = (reached.starts_with('/') && reached != *path).then_some(reached);
            true
        }
        Err(_) => false,
    }
}

/// Enforce mode, at the entry of an allowed open that truncates: take
/// `O_TRUNC` out of the call so nothing is cut before the file it reaches
/// is decided; `true` when it was taken out (the exit truncates; a
/// read-only open truncates too on Linux). Not for `openat2`, whose flags
/// are in the tracee's memory (a known limit: a link followed by such an
/// open is refused at exit, after the cut).
fn truncate_later(tid: i32, nr: i64, args: &[u64; 6], event: &Event) -> bool {
    let Call::Open { flags, .. } = event.call else {
        return false;
    };
    if flags & libc::O_TRUNC == 0 || flags & libc::O_PATH != 0 {
        return false;
    }
    let without = (flags & !libc::O_TRUNC) as u64;
    let done = if nr == nr::OPENAT {
        regs::set_arg(tid, 2, without)
    } else if Some(nr) == nr::OPEN {
        regs::set_arg(tid, 1, without)
    } else if Some(nr) == nr::CREAT {
        // creat(path, mode) is open(path, O_CREAT|O_WRONLY|O_TRUNC, mode).
        nr::OPEN
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::Unsupported))
            .and_then(|open| regs::set_nr(tid, open))
            .and_then(|()| regs::set_arg(tid, 2, args[1]))
            .and_then(|()| regs::set_arg(tid, 1, without))
    } else {
        return false;
    };
    done.is_ok()
}

/// Cut the regular file the thread's descriptor `fd` holds to nothing, as
/// the `O_TRUNC` of its open would have (other files ignore `O_TRUNC`):
/// reopened for writing through `/proc/TID/fd/N`, which works for a
/// read-only open too and needs no `pidfd_getfd`.
fn truncate_file(tid: i32, fd: i32) -> Result<(), i32> {
    let errno = |e: io::Error| e.raw_os_error().unwrap_or(libc::EIO);
    let at = format!("/proc/{tid}/fd/{fd}");
    let meta = std::fs::metadata(&at).map_err(errno)?;
    if !meta.is_file() {
        return Ok(());
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&at)
        .map_err(errno)?;
    file.set_len(0).map_err(errno)
}
