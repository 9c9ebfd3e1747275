//! The handler of unhooked calls: the other end of the filter
//! [`crate::filter::unhooked`], which a preloaded tree runs under in
//! both modes, and a traced one in monitor mode (no library:
//! [`crate::Options::preloaded`] off). Every watched call the preload
//! library did not make itself (the loader's opens, libc's own opens and
//! execs, an inline `syscall` instruction, any call of a static program;
//! without the library, every one) waits in the kernel until this handler
//! answers its notification (`SECCOMP_RET_USER_NOTIF`). Its standby
//! ([`crate::standby`]) answers in its place if it dies.
//!
//! For each one it reads the call into an [`Event`] (with the reader the
//! ptrace supervisor uses), marked `source: unhooked` when the caller's
//! program is one the library is loaded into (the call went past its
//! hooks) and `source: trace` in a static or Go program,
//! checks that the notification is still live (so the memory it read was
//! the caller's, not a recycled pid's), asks the sink, and answers: a
//! refused call fails with the sink's errno and never runs. An allowed
//! open is made here, from what was read and decided, and the descriptor
//! handed over (`crate::proxy`): the kernel never reads its arguments
//! again, so a thread of the caller that rewrites them after the decision
//! changes nothing, and its outcome is known. Any other allowed call
//! continues (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`) and is recorded with an
//! unknown outcome, as the kernel runs it after the answer. In monitor mode
//! nothing is asked: a call past the hooks continues first and is recorded
//! after; a call of a program the library is not in is made here as an
//! allowed one would be (an open, a mutation, a connect that cannot wait),
//! for its outcome, unless its process sees other files than this one
//! (another root, mount or user namespace), and an exec's outcome is found
//! before it runs. A call whose arguments cannot be read is refused with
//! `EACCES` under enforcement, unrecorded, as the tracer does; one whose
//! argument is at an address no one but the kernel may read fails with
//! `EFAULT` in both modes.
//!
//! An allowed mutation is made here too (`crate::mutate`) and answered
//! with its result, and an allowed connect to an inet address is made, or
//! for a blocking TCP socket started, on the address decided
//! (`crate::connect`), and then waited for on a thread that answers.
//! What continuing leaves open: an allowed exec, send or Unix-socket
//! connect is run by the kernel on arguments it reads again, so another
//! thread of the caller may rewrite them in between. An exec is checked afterwards,
//! at the process's next call here (`crate::loaded`): another program or
//! other arguments than decided are decided again, and a refused one is
//! killed; a send is not. It never stops or changes a thread
//! otherwise, and returns once no process uses the filter any more.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use std::collections::HashMap;
use std::os::unix::fs::{FileExt, MetadataExt};

use rampart_core::elf;
use rampart_core::event::{Call, Event, Outcome, Source};

use crate::calls::Calls;
use crate::exits::Exits;
use crate::loaded::Loaded;
use crate::proxy::{Check, Connected, Opened, Proxy, Reach};
use crate::regs::nr;
use crate::standby::{self, Held, Stuck};
use crate::{procfs, ChildSetup, Options, Sink, Verdict};

/// `SECCOMP_IOCTL_NOTIF_SET_FLAGS` (`SECCOMP_IOW(4, __u64)`; Linux 6.6),
/// which libc does not name yet.
const NOTIF_SET_FLAGS: libc::c_ulong = 0x4008_2104;
/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`.
const FD_SYNC_WAKE_UP: u64 = 1;

/// Ask the kernel to hand each notification of `listener` over
/// synchronously: the waiting task wakes its handler on its own CPU and
/// the answer wakes it the same way, as one would hand over to the other
/// (what a handler that answers at once wants). `false` on a kernel
/// without it (before 6.6), where wake-ups stay as they are.
pub fn synchronous_wakeups(listener: &impl AsRawFd) -> bool {
    // SAFETY: the ioctl takes the flags by value.
    unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_SET_FLAGS, FD_SYNC_WAKE_UP) == 0 }
}

/// Records held back at most (calls that keep coming without a pause).
const UNSENT_MAX: usize = 256;
/// How long the tree must make no call here before the records held back
/// are sent, in ms. A process start makes its calls here (the loader's
/// opens, libc's locale files) a few dozen µs apart: sent one by one, each
/// record woke the collector while the caller waited for its next answer,
/// and cost the tree about as much as the notification itself.
const QUIET_MS: i32 = 2;
/// Records held back that are sent as soon as no call waits, without
/// waiting for the tree to be quiet.
const UNSENT_BATCH: usize = 32;

/// What the handler did, for the run's summary and the tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Notifications answered.
    pub calls: u64,
    /// Calls answered with a failure: refused, or an open made here that
    /// failed.
    pub refused: u64,
    /// Calls answered that no record holds (a standby's: see
    /// [`crate::standby`]).
    pub unrecorded: u64,
}

/// Answer every notification of `listener` until no process uses its
/// filter. `own_program`: the caller's own binary, whose process makes the
/// exec of the command (searched along `PATH`), which the caller records
/// (no hook sees it): execs made by that binary before any other call
/// continue unrecorded. Any other exec, a static command's first one
/// included, is the command's and is decided. `floor`: the setup that
/// confines a thread by the run's Landlock floor, for the thread opens are
/// made on in enforce mode (`crate::proxy`).
pub fn serve(
    listener: OwnedFd,
    opts: &Options,
    sink: &mut dyn Sink,
    own_program: Option<&str>,
    floor: Option<ChildSetup>,
    held: &Held,
    stuck: Vec<Stuck>,
) -> io::Result<Report> {
    // Without the library, every change of working directory comes here
    // (the filter sends them), so each process's is kept between calls.
    let opts = &Options {
        track_cwd: !opts.preloaded,
        ..opts.clone()
    };
    let mut calls = Calls::new(opts);
    let mut known = Known {
        exits: (!opts.preloaded).then(Exits::new).flatten(),
        ..Known::default()
    };
    let mut loaded = Loaded::default();
    // Opens and mutations are made here (an allowed one under enforcement;
    // in monitor mode, those of a program the library is not in, for their
    // outcome). Without the proxy, monitor lets them continue.
    let proxy = match Proxy::new(&listener, floor) {
        Ok(p) => Some(p),
        Err(e) if opts.enforce => {
            return Err(io::Error::other(format!(
                "cannot make opens for the tree: {e}"
            )))
        }
        // Their records say so: outcome `unknown`.
        Err(_) => None,
    };
    let mut report = Report::default();
    let mut first = own_program.is_some();
    // Each call is a round trip to this process: idle CPUs that poll make
    // both wake-ups cheap (`crate::latency`), while this handler runs.
    let _latency = opts
        .cpu_latency_hint
        .then(crate::latency::CpuLatency::request);
    let fd = listener.as_raw_fd();
    // Each caller waits for this handler, which answers at once.
    synchronous_wakeups(&listener);
    // Records of calls that already ran, sent once no call came for
    // `QUIET_MS` (a burst of calls, as a process start makes, wakes the
    // collector once).
    let mut unsent: Vec<(Event, bool)> = Vec::new();
    // What a handler that died left waiting (this is its standby): read
    // again and handled first.
    let mut again: Vec<libc::seccomp_notif> = Vec::new();
    for s in stuck.into_iter().rev() {
        if let Some(result) = s.made {
            // Made by the handler that died: answered with what it returned.
            report.calls += 1;
            answer(
                fd,
                s.id,
                if result < 0 {
                    Answer::Fail(-result as i32)
                } else {
                    Answer::Return(result)
                },
            );
            continue;
        }
        match s.tid.and_then(|tid| Some((tid, standby::call_of(tid)?))) {
            Some((tid, (nr, args, ip))) => again.push(rebuilt(s.id, tid, nr, args, ip)),
            None => {
                // Nobody knows whose call it is: it runs unwatched in
                // monitor mode, and not at all under enforcement; either
                // way the trail does not hold it.
                report.calls += 1;
                report.unrecorded += 1;
                let how = if opts.enforce {
                    report.refused += 1;
                    Answer::Fail(libc::EACCES)
                } else {
                    Answer::Continue
                };
                answer(fd, s.id, how);
            }
        }
    }
    loop {
        let req = match again.pop() {
            Some(req) => req,
            None => {
                // The listener, and the threads that ended (`Exits`: read
                // before the next notification, which may be from a new
                // thread with the number of one that ended).
                let mut pfd = [
                    libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    },
                    libc::pollfd {
                        fd: known.exits.as_ref().map_or(-1, Exits::fd),
                        events: libc::POLLIN,
                        revents: 0,
                    },
                ];
                let mut r = 0;
                if unsent.len() >= UNSENT_MAX {
                    send(sink, &mut unsent, held);
                }
                if !unsent.is_empty() {
                    // A tree that keeps calling (a `grep -r`) gets its
                    // records sent whenever no call waits, while it works;
                    // a few (a process start's) wait for a quiet moment.
                    let wait = if unsent.len() >= UNSENT_BATCH {
                        0
                    } else {
                        QUIET_MS
                    };
                    // SAFETY: our pollfds; a short wait.
                    r = unsafe { libc::poll(pfd.as_mut_ptr(), 2, wait) };
                    if r == 0 {
                        send(sink, &mut unsent, held);
                    }
                }
                if r == 0 {
                    // SAFETY: our pollfds.
                    r = unsafe { libc::poll(pfd.as_mut_ptr(), 2, -1) };
                }
                if r < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                if pfd[1].revents & libc::POLLIN != 0 {
                    known.forget_ended(&mut calls, proxy.as_ref());
                }
                if pfd[0].revents & libc::POLLIN == 0 {
                    if pfd[0].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                        send(sink, &mut unsent, held);
                        return Ok(report); // no process uses the filter any more
                    }
                    continue;
                }
                // SAFETY: zeroed as the kernel requires; it fills the notification.
                let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
                // SAFETY: receiving into our own struct.
                if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
                    // ENOENT: the caller went away (or was interrupted) meanwhile.
                    continue;
                }
                req
            }
        };
        held.received(req.id, req.pid as i32);
        report.calls += 1;
        let nr = i64::from(req.data.nr);
        let exec = nr == nr::EXECVE || nr == nr::EXECVEAT;
        if first && exec && procfs::exe(req.pid as i32).ok().as_deref() == own_program {
            // The command's exec (the caller records it), and the attempts
            // of its search along `PATH`, until its first call of its own.
            // In monitor mode, what it loaded is recorded at that call when
            // its name differs (a link; a script's interpreter).
            if !opts.enforce {
                let tid = req.pid as i32;
                let tgid = procfs::tgid(tid).unwrap_or(tid);
                if let Some(event) = calls.event_of(tid, tgid, nr, &req.data.args) {
                    loaded.expect_name(tgid, tid, &event);
                }
            }
            answer(fd, req.id, Answer::Continue);
            held.answered();
            continue;
        }
        first = false;
        if nr::WORLD_CHANGES.contains(&nr) {
            // Not a watched call: its process may see other files from now
            // on (chroot, another mount namespace), looked at again at its
            // next call.
            // (Every process's: a `CLONE_FS` sibling shares its root.)
            known.same_world.clear();
            if let Some(p) = &proxy {
                p.forget(req.pid as i32);
            }
            answer(fd, req.id, Answer::Continue);
            held.answered();
            continue;
        }
        if nr == nr::CHDIR || nr == nr::FCHDIR {
            // Not a watched call (the filter sends these without the
            // library): the working directory kept for its process is read
            // again at its next call, and no longer kept for one with other
            // threads, which may call while this one changes it.
            let tid = req.pid as i32;
            let (tgid, _) = known.of(&mut calls, tid, proxy.as_ref());
            calls.changes_dir(tgid, !procfs::single_threaded(tgid));
            answer(fd, req.id, Answer::Continue);
            held.answered();
            continue;
        }
        if nr == nr::LANDLOCK_RESTRICT_SELF {
            // Not a watched call: the calls made here for this process
            // from now on are confined as it confines itself. (Before it
            // runs: its ruleset may be closed once it did.)
            if let Some(p) = &proxy {
                let tid = req.pid as i32;
                let tgid = procfs::tgid(tid).unwrap_or(tid);
                p.restricting(tid, tgid, req.data.args[0] as i32);
            }
            answer(fd, req.id, Answer::Continue);
            held.answered();
            continue;
        }
        // (A prctl comes here only for capabilities: see the filter.)
        if nr::CREDENTIALS.contains(&nr) || nr == nr::PRCTL {
            // Not a watched call: the opens made from now on take each
            // caller's credentials. (Before it runs: no open after it
            // is made with the old ones.)
            if let Some(p) = &proxy {
                p.forget(req.pid as i32);
            }
            answer(fd, req.id, Answer::Continue);
            held.answered();
            continue;
        }
        let mut handler = Handler {
            calls: &mut calls,
            known: &mut known,
            loaded: &mut loaded,
            proxy: proxy.as_ref(),
            opts,
            sink: &mut *sink,
            fd,
            held,
        };
        // A call made here is answered inside `handle`: its record (one,
        // as most calls have) is counted as unsent from before then.
        held.answering(unsent.len() + 1, 1);
        let (answer_is, later) = handler.handle(&req);
        if matches!(answer_is, Answer::Fail(_)) {
            report.refused += 1;
        }
        held.answering(unsent.len() + later.len(), later.len());
        answer(fd, req.id, answer_is);
        match answer_is {
            Answer::Later => held.parked(),
            _ => held.answered(),
        }
        if later.iter().any(|(e, _)| renames(e)) {
            // A directory may have another name now.
            calls.renamed();
        }
        // Recorded once the caller runs again.
        unsent.extend(later);
        if exec && answer_is == Answer::Continue {
            // A new image (perhaps setuid): its credentials, exe, cwd cache
            // and directory descriptors are read again.
            if let Some(p) = &proxy {
                p.forget(req.pid as i32);
            }
            if let Some((tgid, ..)) = known.tasks.get(&(req.pid as i32)) {
                let tgid = *tgid;
                known.execs(&mut calls, tgid);
            }
        }
    }
}

/// How a notification is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// The call runs.
    Continue,
    /// The call does not run; it returns -1 with this errno.
    Fail(i32),
    /// Answered already (an open made on the caller's behalf), or nobody
    /// waits any more.
    Answered,
    /// A thread of the handler answers it (a FIFO open waiting for its
    /// other end).
    Later,
    /// The call was made here: it returns this value.
    Return(i64),
}

/// What the handler remembers between notifications: each thread's
/// process and program, and which programs the library is loaded into, by
/// file. In a tree with the library, a thread's program is checked against
/// `/proc/TID/exe` at every call (an exec through the library's hooks
/// never comes here); without it every exec comes here, so a thread whose
/// end the kernel will report ([`Exits`]) is taken as known until it
/// execs or ends.
#[derive(Default)]
struct Known {
    /// tid → (tgid, its program's path, whether the library is loaded
    /// into it).
    tasks: HashMap<i32, (i32, String, bool)>,
    /// (path, inode, mtime) of a program → the library is loaded into it.
    programs: HashMap<(String, u64, i64), bool>,
    /// tgid → whether the process sees the files this handler sees as this
    /// handler does (its root, mount and user namespaces are this
    /// process's): calls are made here only for one that does. Forgotten
    /// when any process changes any of them.
    same_world: HashMap<i32, bool>,
    /// This process's root and mount namespace, as `(dev, ino)` pairs.
    own_world: Option<World>,
    /// Without the library: the threads whose end is reported.
    exits: Option<Exits>,
}

/// A process's root directory, mount namespace and user namespace, as
/// `(dev, ino)` pairs.
type World = [(u64, u64); 3];

/// What `/proc/PID/root`, `/proc/PID/ns/mnt` and `/proc/PID/ns/user` are
/// for `pid`. (In another user namespace a process's credentials and
/// capabilities are not what they would be here.)
fn world_of(pid: &str) -> Option<World> {
    let id = |p: String| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    Some([
        id(format!("/proc/{pid}/root"))?,
        id(format!("/proc/{pid}/ns/mnt"))?,
        id(format!("/proc/{pid}/ns/user"))?,
    ])
}

impl Known {
    /// Whether process `tgid` (thread `tid`) sees the files this handler
    /// sees: a chroot, or another mount namespace, would have the calls
    /// made here reach other files than its own.
    fn same_world(&mut self, tid: i32, tgid: i32) -> bool {
        if let Some(same) = self.same_world.get(&tgid) {
            return *same;
        }
        if self.own_world.is_none() {
            self.own_world = world_of("self");
        }
        let same = self.own_world.is_some() && world_of(&tid.to_string()) == self.own_world;
        if self.same_world.len() >= 65536 {
            self.same_world.clear();
        }
        self.same_world.insert(tgid, same);
        same
    }

    /// The process of `tid`, and whether its calls here went past the
    /// library's hooks. A thread whose program changed starts afresh in
    /// `calls` and in `proxy`.
    fn of(&mut self, calls: &mut Calls, tid: i32, proxy: Option<&Proxy>) -> (i32, bool) {
        let watched = self.exits.as_ref().is_some_and(|e| e.watches(tid));
        if watched {
            if let Some((tgid, _, hooked)) = self.tasks.get(&tid) {
                return (*tgid, *hooked);
            }
        }
        let exe = procfs::exe(tid).unwrap_or_default();
        if let Some((tgid, was, hooked)) = self.tasks.get(&tid) {
            if *was == exe {
                return (*tgid, *hooked);
            }
        }
        self.learn(calls, tid, exe, proxy)
    }

    /// What is kept of thread `tid`, which runs `exe`, read afresh.
    fn learn(
        &mut self,
        calls: &mut Calls,
        tid: i32,
        exe: String,
        proxy: Option<&Proxy>,
    ) -> (i32, bool) {
        // Its process and parent, from a pidfd of the thread, or one read
        // of `/proc/TID/status` (before Linux 6.13), and its program as
        // just read: what its first record needs of them.
        let (tgid, ppid) = procfs::ids_of_thread(tid)
            .or_else(|| procfs::ids(tid).ok())
            .map_or((tid, None), |(t, p)| (t, Some(p)));
        calls.procs.remove(&tgid);
        let fresh = calls.procs.entry(tgid).or_default();
        fresh.ppid = ppid;
        fresh.exe = Some(exe.clone());
        // Another program (an exec the library made, perhaps of a setuid
        // one), or another thread with this number: its credentials anew.
        if let Some(p) = proxy {
            p.forget(tid);
        }
        self.same_world.remove(&tgid);
        let meta = std::fs::metadata(format!("/proc/{tid}/exe")).ok();
        let key = (
            exe.clone(),
            meta.as_ref().map_or(0, |m| m.ino()),
            meta.as_ref().map_or(0, |m| m.mtime()),
        );
        let hooked = match self.programs.get(&key) {
            Some(h) => *h,
            None => {
                let h = watched_program(tid);
                if self.programs.len() >= 4096 {
                    self.programs.clear();
                }
                self.programs.insert(key, h);
                h
            }
        };
        if self.tasks.len() >= 65536 {
            self.tasks.clear();
        }
        self.tasks.insert(tid, (tgid, exe, hooked));
        if let Some(exits) = &mut self.exits {
            exits.watch(tid, tgid);
        }
        (tgid, hooked)
    }

    /// Process `tgid` runs another program from now on (an exec that may
    /// work): each of its threads is read again at its next call.
    fn execs(&mut self, calls: &mut Calls, tgid: i32) {
        let threads: Vec<i32> = self
            .tasks
            .iter()
            .filter(|(_, (g, ..))| *g == tgid)
            .map(|(t, _)| *t)
            .collect();
        for tid in threads {
            self.tasks.remove(&tid);
        }
        calls.procs.remove(&tgid);
    }

    /// The threads that ended since the last look, forgotten with what is
    /// kept of their processes (and their credentials in `proxy`).
    fn forget_ended(&mut self, calls: &mut Calls, proxy: Option<&Proxy>) {
        let Some(exits) = &mut self.exits else {
            return;
        };
        for tid in exits.ended() {
            if let Some((tgid, ..)) = self.tasks.remove(&tid) {
                if tgid == tid {
                    calls.procs.remove(&tgid);
                    self.same_world.remove(&tgid);
                }
            }
            if let Some(p) = proxy {
                p.forget(tid);
            }
        }
    }
}

/// What one notification is handled with.
struct Handler<'a, 'o> {
    calls: &'a mut Calls<'o>,
    known: &'a mut Known,
    /// Enforce mode: the execs let through, checked at the next call.
    loaded: &'a mut Loaded,
    /// Enforce mode: opens are made here, on the caller's behalf.
    proxy: Option<&'a Proxy>,
    opts: &'a Options,
    sink: &'a mut dyn Sink,
    fd: i32,
    /// Where a mutation made here is published before it is answered.
    held: &'a Held,
}

impl Handler<'_, '_> {
    fn handle(&mut self, req: &libc::seccomp_notif) -> (Answer, Vec<(Event, bool)>) {
        let calls = &mut *self.calls;
        let tid = req.pid as i32;
        let (tgid, in_preloaded) = self.known.of(calls, tid, self.proxy);
        let past_hooks = in_preloaded && self.opts.preloaded;
        if self.opts.enforce {
            // The first call since an exec this handler let through: the
            // program it runs is the one decided, or is decided now.
            if let Some(loose) = self.loaded.check(tgid, tid) {
                for event in &loose.events {
                    if let Verdict::Deny { errno } = self.sink.decide(event) {
                        loose.kill();
                        let mut event = event.clone();
                        event.outcome = Outcome::Errno(errno);
                        self.sink.record(event);
                        return (Answer::Fail(errno), Vec::new());
                    }
                }
            }
        }
        // Monitor: the file an exec let through really loaded, recorded
        // before the new image's first call.
        let loaded_first = if self.opts.enforce {
            Vec::new()
        } else {
            self.loaded.loaded_name(tgid, tid)
        };
        let (answer, mut later) = self.handle_call(req, tid, tgid, past_hooks);
        later.splice(0..0, loaded_first.into_iter().map(|via| (via, false)));
        (answer, later)
    }

    fn handle_call(
        &mut self,
        req: &libc::seccomp_notif,
        tid: i32,
        tgid: i32,
        past_hooks: bool,
    ) -> (Answer, Vec<(Event, bool)>) {
        let nr = i64::from(req.data.nr);
        let args = req.data.args;
        let calls = &mut *self.calls;
        calls.blind = false;
        calls.faulted = false;
        calls.open_args = None;
        // A static program's open is recorded with the file it reaches, as the
        // trace backend records it (its calls are learned); the others' are not.
        calls.resolve_at_entry = !past_hooks;
        if !self.opts.enforce && self.proxy.is_some() {
            // Made here: the file it reached is read from the descriptor.
            calls.resolve_at_entry = false;
        }
        let mut events: Vec<Event> = if nr == nr::SENDMMSG {
            calls
                .sendmmsg_call(tid, tgid, args[0] as i32, args[1], args[2] as u32)
                .into_iter()
                .map(|(_, event)| event)
                .collect()
        } else {
            calls
                .event_of(tid, tgid, nr, &args)
                .into_iter()
                .collect::<Vec<_>>()
        };
        // What was read is the caller's only if the notification is still live
        // (the pid was not reused meanwhile).
        if !live(self.fd, req.id) {
            return (Answer::Answered, Vec::new()); // nobody waits any more
        }
        if std::mem::take(&mut calls.faulted) {
            // An argument no one but the kernel may read: failed as the
            // kernel fails a bad pointer, unmade (in both modes).
            return (Answer::Fail(libc::EFAULT), Vec::new());
        }
        if std::mem::take(&mut calls.blind) && self.opts.enforce {
            return (Answer::Fail(libc::EACCES), Vec::new());
        }
        // In a program the library watches, this call went past its hooks; in
        // a static or Go one, it is one of the program's calls like any other.
        if past_hooks {
            for e in &mut events {
                e.source = Source::Unhooked;
            }
        }
        let monitor = !self.opts.enforce;
        if monitor && self.proxy.is_some() && !past_hooks && !self.known.same_world(tid, tgid) {
            // Its files are not this process's: the kernel makes its calls.
            self.proxy = None;
        }
        if monitor && (past_hooks || self.proxy.is_none()) {
            for e in &events {
                remember_send(self.calls, tgid, nr, &e.call);
            }
            return (
                Answer::Continue,
                events.into_iter().map(|e| (e, false)).collect(),
            );
        }
        let mut later = Vec::new();
        for mut event in events {
            if monitor {
                // Nothing to decide: made here, for the outcome it records.
                remember_send(self.calls, tgid, nr, &event.call);
                if let (Some(proxy), Call::Exec { path, .. }) = (self.proxy, &event.call) {
                    // It runs as it is; its outcome is what the kernel
                    // will answer, found first, for an exec of a name (not
                    // of a descriptor: a memfd's name is not a file's).
                    let by_name = nr == nr::EXECVE
                        || (args[0] as i32 == libc::AT_FDCWD
                            && args[4] & libc::AT_EMPTY_PATH as u64 == 0);
                    if by_name {
                        event.outcome = proxy.exec_outcome(tid, tgid, path);
                    }
                    self.loaded.expect_name(tgid, tid, &event);
                }
                later.push((event, false));
                continue;
            }
            match self.sink.decide(&event) {
                Verdict::Deny { errno } => {
                    // A directory descriptor that is not open: the call
                    // fails as the kernel would have failed it.
                    let errno = if self.calls.dirfd_closed {
                        libc::EBADF
                    } else {
                        errno
                    };
                    event.outcome = Outcome::Errno(errno);
                    self.sink.record(event);
                    return (Answer::Fail(errno), Vec::new()); // the call did not run
                }
                Verdict::Pass => {
                    remember_send(self.calls, tgid, nr, &event.call);
                    later.push((event, true));
                }
                Verdict::Allow => {
                    remember_send(self.calls, tgid, nr, &event.call);
                    later.push((event, false));
                }
            }
        }
        if !monitor && (nr == nr::EXECVE || nr == nr::EXECVEAT) {
            if let Some((event, _)) = later.first() {
                self.loaded.expect(tgid, tid, event);
            }
        }
        let answer = match (self.proxy, self.calls.open_args.take(), later.first_mut()) {
            (Some(proxy), Some(open), Some((event, _))) => {
                let (path, predicted) = match &event.call {
                    Call::Open { path, resolved, .. } => (path.clone(), resolved.clone()),
                    _ => return (Answer::Continue, self.recorded(later)),
                };
                // The caller's directory descriptor as read for this call,
                // when the name is relative to it.
                let dir = self.calls.dir_copy(tgid, open.dirfd);
                let sink = &mut *self.sink;
                let mut refused_again = false;
                // Monitor: the file reached when it has another name, for
                // the record (nothing is refused).
                let mut reached_name: Option<String> = None;
                let mut check = |reach: Reach<'_>| -> Result<(), i32> {
                    if monitor {
                        if let Reach::Name(r) = reach {
                            reached_name = Some(r.to_string());
                        }
                        return Ok(());
                    }
                    let reached = match reach {
                        Reach::Name(r) if predicted.as_deref() == Some(r) => {
                            return Ok(()); // decided on it already
                        }
                        Reach::Name(r) => r.to_string(),
                        Reach::File(dev, ino) => match sink.other_name(dev, ino) {
                            Some(name) => name,
                            None => return Ok(()),
                        },
                    };
                    match sink.recheck(&crate::linked::named(event, reached)) {
                        Verdict::Deny { errno } => {
                            refused_again = true;
                            Err(errno)
                        }
                        Verdict::Allow | Verdict::Pass => Ok(()),
                    }
                };
                let opened = proxy.open(
                    tid,
                    tgid,
                    req.id,
                    &open,
                    dir,
                    &path,
                    Check {
                        check: &mut check,
                        decides: !monitor,
                    },
                );
                if let (Some(name), Call::Open { resolved, .. }) = (reached_name, &mut event.call) {
                    *resolved = Some(name);
                }
                let answer = match opened {
                    Opened::Handed(_) => {
                        event.outcome = Outcome::Ok;
                        Answer::Answered
                    }
                    Opened::Failed(errno) => {
                        event.outcome = Outcome::Errno(errno);
                        Answer::Fail(errno)
                    }
                    Opened::Waiting => Answer::Later,
                    Opened::Gone => Answer::Answered,
                    Opened::Continue => Answer::Continue,
                };
                if monitor && event.outcome == Outcome::Ok && crate::dns::opens_hosts_file(event) {
                    // Its connects to the addresses named there carry the name.
                    self.calls.read_hosts_file(tid, tgid);
                }
                if refused_again {
                    // The refusal is the call's record: it did not run.
                    later.clear();
                }
                answer
            }
            // Monitor: made here for its outcome. Enforce: made (or
            // started) here on the address decided, which another thread
            // of the caller may have rewritten since.
            (Some(proxy), None, Some((event, _))) if nr == nr::CONNECT => {
                match self.calls.connect_args.take() {
                    Some((sock, addr)) => {
                        match proxy.connect(tid, tgid, req.id, sock, &addr, !monitor) {
                            Connected::Now(Ok(())) => {
                                event.outcome = Outcome::Ok;
                                Answer::Return(0)
                            }
                            Connected::Now(Err(errno)) => {
                                event.outcome = connect_outcome(errno);
                                Answer::Fail(errno)
                            }
                            Connected::Waiting => Answer::Later,
                            Connected::Started(_) | Connected::Continue => Answer::Continue,
                        }
                    }
                    None => Answer::Continue,
                }
            }
            _ => {
                let event = later.first_mut().map(|(e, _)| e);
                let (answer, refused_again) = self.mutation(tid, tgid, nr, &args, event);
                if refused_again {
                    later.clear();
                }
                answer
            }
        };
        if monitor {
            return (answer, later); // recorded once the caller runs again
        }
        (answer, self.recorded(later))
    }

    /// An allowed mutation, made here from what was decided
    /// (`crate::mutate`) and answered with its result; any other call
    /// continues. `true` with it when the call was refused where it
    /// really lands (that refusal is its record).
    fn mutation(
        &mut self,
        tid: i32,
        tgid: i32,
        nr: i64,
        args: &[u64; 6],
        event: Option<&mut Event>,
    ) -> (Answer, bool) {
        let (Some(proxy), Some(strings), Some(event)) =
            (self.proxy, self.calls.mutation_args.take(), event)
        else {
            return (Answer::Continue, false);
        };
        let made = match crate::mutate::prepare(tid, tgid, nr, args, &strings) {
            None => return (Answer::Continue, false),
            Some(Err(errno)) => Err(Opened::Failed(errno)),
            Some(Ok(m)) if !self.opts.enforce => proxy.mutate(tid, tgid, m),
            // Somewhere else than decided: decided again there first.
            Some(Ok(m)) => match crate::mutate::decided_again(event, &m, &mut *self.sink) {
                Some(Verdict::Deny { errno }) => return (Answer::Fail(errno), true),
                _ => proxy.mutate(tid, tgid, m),
            },
        };
        let answer = match made {
            Ok(val) => {
                self.held.made(val);
                event.outcome = Outcome::Ok;
                Answer::Return(val)
            }
            Err(Opened::Failed(errno)) => {
                self.held.made(-i64::from(errno));
                event.outcome = Outcome::Errno(errno);
                Answer::Fail(errno)
            }
            Err(Opened::Continue) => Answer::Continue,
            Err(_) => Answer::Answered,
        };
        (answer, false)
    }

    /// Of the allowed calls, those still to be recorded once they ran
    /// (the others were recorded when they were decided).
    fn recorded(&mut self, later: Vec<(Event, bool)>) -> Vec<(Event, bool)> {
        let mut out = Vec::new();
        for (event, passed) in later {
            if passed {
                out.push((event, true));
            } else {
                self.sink.record(event);
            }
        }
        out
    }
}

/// Hand the sink the records of calls that ran (`true`: passed undecided).
/// The outcome of a connect that failed with `errno`: a non-blocking one
/// under way is recorded as such, as the ptrace supervisor records it.
fn connect_outcome(errno: i32) -> Outcome {
    if errno == libc::EINPROGRESS {
        Outcome::InProgress
    } else {
        Outcome::Errno(errno)
    }
}

/// Each one sent is counted out of `held`.
fn send(sink: &mut dyn Sink, unsent: &mut Vec<(Event, bool)>, held: &Held) {
    let mut left = unsent.len();
    for (event, passed) in unsent.drain(..) {
        if passed {
            sink.record_passed(event);
        } else {
            sink.record(event);
        }
        left -= 1;
        held.unsent(left);
    }
}

/// Whether the thread's program is one the preload library is loaded into
/// (dynamically linked, not Go; `rampart_core::elf`), from its executable.
fn watched_program(tid: i32) -> bool {
    let Ok(file) = std::fs::File::open(format!("/proc/{tid}/exe")) else {
        return false;
    };
    let mut head = [0u8; elf::HEAD];
    let n = file.read_at(&mut head, 0).unwrap_or(0);
    let read_at = |off: u64, out: &mut [u8]| file.read_at(out, off).unwrap_or(0);
    elf::classify(&head[..n], read_at) == elf::Kind::Dynamic
}

/// Whether `event` is a rename that may have been made (after which a kept
/// directory name may be wrong).
fn renames(event: &Event) -> bool {
    matches!(
        event.call,
        Call::Mutate {
            op: rampart_core::event::Op::Rename,
            ..
        }
    ) && !matches!(event.outcome, Outcome::Errno(_))
}

/// An allowed send with an address: later sends there are not net calls.
fn remember_send(calls: &mut Calls, tgid: i32, nr: i64, call: &Call) {
    if [nr::SENDTO, nr::SENDMSG, nr::SENDMMSG].contains(&nr) {
        calls.sent(tgid, call);
    }
}

/// The notification a dead handler received for `tid`'s call, made again
/// from what `/proc` says the thread waits in.
fn rebuilt(id: u64, tid: i32, nr: i32, args: [u64; 6], ip: u64) -> libc::seccomp_notif {
    // SAFETY: a plain C struct; every field is set or zero.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    req.id = id;
    req.pid = tid as u32;
    req.data.nr = nr;
    req.data.arch = NATIVE_ARCH;
    req.data.instruction_pointer = ip;
    req.data.args = args;
    req
}

/// The audit architecture of this build's native calls (those the filter
/// sends here).
#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 0xC000_00B7;

fn live(fd: i32, id: u64) -> bool {
    let mut id = id;
    // SAFETY: the ioctl reads one u64.
    unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id) == 0 }
}

fn answer(fd: i32, id: u64, how: Answer) {
    if matches!(how, Answer::Answered | Answer::Later) {
        return;
    }
    let mut resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: 0,
        flags: 0,
    };
    match how {
        Answer::Continue => resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
        Answer::Fail(errno) => resp.error = -errno,
        Answer::Return(val) => resp.val = val,
        Answer::Answered | Answer::Later => {}
    }
    // SAFETY: answering a notification of ours; ENOENT (the caller is gone)
    // needs nothing more.
    unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
}
