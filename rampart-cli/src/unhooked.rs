//! The tap on unhooked calls of a preloaded, enforced run: the command
//! starts under `rampart_trace`'s filter of unhooked calls, and a process of
//! rampart's own, the tap ([`Tap::start`]), answers its notifications with
//! `rampart_trace::notify::serve`, reporting to the run's collector over
//! its socket as `rampart __trace-exec` does ([`WireSink`]).
//! The child tells the tap which descriptor is the listener before its exec
//! ([`send_listener`]); the tap takes a copy of it.
//!
//! So a call the preload library never saw — the loader's opens, an open
//! or exec made inside libc, an inline `syscall` instruction, any call of a
//! static program — is decided against the policy and recorded all the
//! same, and a refused one never runs. The library's own calls run from the
//! gadget page (`rampart_core::gadget`) and do not come here.
//!
//! The tap is a process apart from the collector so that it keeps the
//! contract of a watched process when the collector misbehaves: a stopped
//! collector holds up no call that needs no verdict, and a killed one
//! leaves the calls that need one to `RAMPART_FAIL_OPEN` (and to the
//! decision timeout), as for the library's own calls. It is forked from
//! rampart while rampart has one thread, and runs on without an exec (an
//! exec of rampart's binary cost the command's start about 2 ms): it keeps
//! only its socket to the child and the run's floor, reads `/dev/null`,
//! writes nowhere, and is named `rampart-tap`, in `/proc/PID/comm` and
//! over its arguments (a `pkill -f` meant for `rampart run` must not take
//! it). Where rampart has another thread already (a library preloaded into
//! rampart itself started one), the tap is `rampart __unhooked`, run.
//! Either way it is not dumpable, runs in a process group of its own (the
//! terminal's Ctrl-C is the command's, not its) and exits when no process
//! of the tree is left.
//!
//! This module owns the hand-over of the listener and the tap's life; it
//! decides nothing itself.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use rampart_core::env;
use rampart_trace::standby::{self, Held, Split};

use crate::backend::sinks::{Enforce, WireSink};
use crate::floor::{self, Floor};

/// The descriptor the tap keeps its socket to the child on.
const TAP_FD: RawFd = 3;
/// The descriptor it keeps the run's Landlock floor on, when it has one.
const FLOOR_FD: RawFd = 4;
/// The tap's name (`/proc/PID/comm`), and its standby's.
const NAME: &std::ffi::CStr = c"rampart-tap";

/// What the tap is told: where the collector is, how to enforce, and how
/// to serve.
struct Settings {
    socket: PathBuf,
    agent: String,
    session: String,
    enforce: Option<Enforce>,
    policy_gen: OsString,
    /// Opens made for the tree are confined by the floor (the ruleset at
    /// [`FLOOR_FD`]).
    floor: bool,
    /// The preload library is in the tree (else every call is the
    /// program's own: a traced run in monitor mode).
    preloaded: bool,
    /// Hold the CPU latency request while serving
    /// (`rampart_trace::Options::cpu_latency_hint`).
    latency_hint: bool,
}

impl Settings {
    /// From the session's variables: `env` first, then this process's own.
    fn of(env: &[(String, OsString)], floor: bool, preloaded: bool, latency_hint: bool) -> Self {
        let var = |k: &str| {
            env.iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var_os(k))
                .unwrap_or_default()
        };
        let bytes = |k: &str| var(k).into_encoded_bytes();
        let text = |k: &str| var(k).to_string_lossy().into_owned();
        Settings {
            socket: PathBuf::from(var(env::SOCKET)),
            agent: text(env::AGENT),
            session: text(env::SESSION),
            enforce: env::enforces(&bytes(env::MODE)).then(|| Enforce {
                timeout: Duration::from_millis(env::timeout_ms(&bytes(env::DECISION_TIMEOUT_MS))),
                fail_open: env::flag(&bytes(env::FAIL_OPEN)),
            }),
            policy_gen: var(env::POLICY_GEN),
            floor,
            preloaded,
            latency_hint,
        }
    }
}

/// The tap process of one run.
pub struct Tap {
    pid: i32,
    /// The child's end of the pair, until the child has it.
    child_end: Option<OwnedFd>,
    /// Where a forked tap writes its standby's pid before the child goes
    /// on (a page shared with it).
    standby: Option<&'static AtomicI32>,
}

impl Tap {
    /// Start the tap, with the session's environment `env` (socket, mode,
    /// generation file, agent, session, timeout, fail-open; a variable not
    /// in it is this process's own); it waits for the listener on a socket
    /// pair whose other end ([`Tap::child_fd`]) the child writes to.
    /// `floor`: the run's Landlock floor, which confines the opens the tap
    /// makes for the tree (when it restricts files at all).
    ///
    /// Forked, while this process has one thread; else (a library loaded
    /// into rampart started one) `rampart __unhooked` is run, as the child
    /// of a process with threads must exec before it does anything else.
    pub fn start(
        env: &[(String, OsString)],
        floor: Option<&Floor>,
        preloaded: bool,
        latency_hint: bool,
    ) -> Result<Tap> {
        // A floor that restricts no file access has nothing to say of an open.
        let floor = floor.filter(|f| f.restricts_files);
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("cannot create the socket pair for the unhooked-call tap")?;
        let threads = std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count);
        let (pid, standby) = if threads == 1 {
            let settings = Settings::of(env, floor.is_some(), preloaded, latency_hint);
            let (pid, standby) = fork_tap(&ours, floor, &settings)?;
            (pid, Some(standby))
        } else {
            (exec_tap(&ours, env, floor, preloaded, latency_hint)?, None)
        };
        drop(ours);
        Ok(Tap {
            pid,
            child_end: Some(theirs),
            standby,
        })
    }

    /// The tap's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The socket the child tells the tap about its listener on
    /// ([`crate::child::Confinement::unhooked`]).
    pub fn child_fd(&self) -> RawFd {
        self.child_end.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// The child has been spawned (or failed to be): drop our copy of its
    /// end, so that a tap whose child never wrote ends its wait.
    /// Returns the tap's standby, a helper of rampart's too (the child went
    /// on once the tap had forked it). A forked tap wrote its pid down
    /// before the child went on; of `rampart __unhooked` it is the child
    /// that is still the tap's: a command that ended at once may have taken
    /// the tap along, leaving its standby to this process.
    pub fn spawned(&mut self) -> Vec<i32> {
        self.child_end = None;
        if let Some(pid) = self
            .standby
            .map(|s| s.load(Ordering::Acquire))
            .filter(|&pid| pid > 0)
        {
            return vec![pid];
        }
        let tap = self.pid();
        std::fs::read_to_string(format!("/proc/{tap}/task/{tap}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect()
    }

    /// The run is over: wait (at most `grace`) for the tap, which exits
    /// once no process of the tree is left; one still serving processes
    /// that outlive the run goes on with them.
    pub fn finish(mut self, grace: Duration) {
        self.child_end = None;
        let end = Instant::now() + grace;
        // Its pidfd is readable once it has ended: no nap between looks.
        // SAFETY: plain system call; the descriptor returned is new and ours.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, self.pid, 0) };
        // SAFETY: a descriptor pidfd_open just returned.
        let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) });
        while Instant::now() < end {
            let mut status = 0;
            // SAFETY: plain system call on our own child.
            match unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } {
                0 => {}
                _ => return, // reaped, or not ours to wait for any more
            }
            match &pidfd {
                Some(fd) => {
                    let left = end.saturating_duration_since(Instant::now());
                    let mut pfd = libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                    // SAFETY: one pollfd of ours.
                    unsafe { libc::poll(&mut pfd, 1, ms) };
                }
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    }
}

/// Fork the tap (this process has one thread, so the child is a whole
/// copy of it and may run any code); it never returns here. Returns its
/// pid and the word it writes its standby's pid to.
fn fork_tap(
    ours: &OwnedFd,
    floor: Option<&Floor>,
    settings: &Settings,
) -> Result<(i32, &'static AtomicI32)> {
    let null = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("cannot open /dev/null for the unhooked-call tap")?;
    // One word shared with the tap, mapped for the rest of this process.
    // SAFETY: a new anonymous mapping of one page, checked below.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err(io::Error::last_os_error())
            .context("cannot map the page the unhooked-call tap shares");
    }
    // SAFETY: the page is mapped, zeroed, aligned, and never unmapped.
    let standby: &'static AtomicI32 = unsafe { &*page.cast::<AtomicI32>() };
    let fds = [
        ours.as_raw_fd(),
        floor.map_or(-1, Floor::raw_fd),
        null.as_raw_fd(),
    ];
    // SAFETY: this process has one thread (the caller checked).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()).context("cannot start the unhooked-call tap (fork)"),
        0 => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                match become_tap(fds) {
                    // SAFETY: `become_tap` put our end there.
                    Ok(()) => serve(
                        unsafe { OwnedFd::from_raw_fd(TAP_FD) },
                        settings,
                        Some(standby),
                    ),
                    Err(_) => 1,
                }
            }));
            // SAFETY: leaving without running anything of rampart run's.
            unsafe { libc::_exit(code.unwrap_or(101)) }
        }
        pid => Ok((pid, standby)),
    }
}

/// Run `rampart __unhooked` ([`run_tap`]) with the session's variables of
/// `env`, its socket at [`TAP_FD`] and the floor at [`FLOOR_FD`].
fn exec_tap(
    ours: &OwnedFd,
    env: &[(String, OsString)],
    floor: Option<&Floor>,
    preloaded: bool,
    latency_hint: bool,
) -> Result<i32> {
    let exe = std::env::current_exe().context("cannot find the rampart binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg(INTERNAL)
        .env_clear()
        .envs(std::env::vars_os().filter(|(k, _)| k != "LD_PRELOAD"))
        .envs(
            env.iter()
                .filter(|(k, _)| k.starts_with(env::PREFIX))
                .map(|(k, v)| (k.as_str(), v.as_os_str())),
        )
        .stdin(Stdio::null())
        // Nothing of the command's: a pipe it holds open would keep the
        // command's reader waiting while it serves a daemon.
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if floor.is_some() {
        cmd.arg(FLOOR_ARG);
    }
    if !preloaded {
        cmd.arg(NO_LIBRARY_ARG);
    }
    if latency_hint {
        cmd.arg(LATENCY_ARG);
    }
    let tap_end = ours.as_raw_fd();
    let floor_fd = floor.map_or(-1, Floor::raw_fd);
    // SAFETY: fcntl, dup2 and setpgid are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            // Both out of the way first (either could be 3 or 4), then in
            // place: dup2 clears close-on-exec on the copy.
            let mut moved = [(-1, TAP_FD), (-1, FLOOR_FD)];
            for (i, from) in [tap_end, floor_fd].into_iter().enumerate() {
                if from >= 0 {
                    moved[i].0 = libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 10);
                    if moved[i].0 < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
            }
            for (high, to) in moved {
                if high >= 0 && libc::dup2(high, to) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if libc::setpgid(0, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .context("cannot start the unhooked-call tap (rampart __unhooked)")?;
    // Waited for by its pid ([`Tap::finish`]).
    Ok(child.id() as i32)
}

/// The hidden command that runs the tap when it cannot be forked.
pub const INTERNAL: &str = "__unhooked";
/// `rampart __unhooked --floor`: the floor is at [`FLOOR_FD`].
const FLOOR_ARG: &str = "--floor";
/// `rampart __unhooked --no-library`: the preload library is not in the
/// tree.
const NO_LIBRARY_ARG: &str = "--no-library";
/// `rampart __unhooked --cpu-latency-hint`.
const LATENCY_ARG: &str = "--cpu-latency-hint";

/// `rampart __unhooked`: the tap, run by [`exec_tap`]. Its socket to the
/// child is [`TAP_FD`]; the session's `RAMPART_*` variables say where the
/// collector is and how to enforce.
pub fn run_tap() -> Result<i32> {
    let given = |arg: &str| std::env::args_os().skip(2).any(|a| a == arg);
    let settings = Settings::of(
        &[],
        given(FLOOR_ARG),
        !given(NO_LIBRARY_ARG),
        given(LATENCY_ARG),
    );
    // SAFETY: plain prctl on this process.
    unsafe { libc::prctl(libc::PR_SET_NAME, NAME.as_ptr()) };
    // SAFETY: TAP_FD was put there for us by `exec_tap`.
    let sock = unsafe { OwnedFd::from_raw_fd(TAP_FD) };
    Ok(serve(sock, &settings, None))
}

/// In the forked tap: its socket at [`TAP_FD`], the floor at [`FLOOR_FD`]
/// (`fds`: socket, floor or -1, `/dev/null`), `/dev/null` for its standard
/// streams, no other descriptor of rampart's, its name, and a process group
/// of its own.
fn become_tap(fds: [RawFd; 3]) -> io::Result<()> {
    let [sock, floor, null] = fds;
    let check = |r: libc::c_int| {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    };
    // SAFETY: plain system calls on descriptors of this process.
    unsafe {
        // Each out of the way first (any could be 3 or 4), then in place.
        let sock = check(libc::fcntl(sock, libc::F_DUPFD_CLOEXEC, 10))?;
        let floor = if floor >= 0 {
            check(libc::fcntl(floor, libc::F_DUPFD_CLOEXEC, 10))?
        } else {
            -1
        };
        for std in 0..3 {
            check(libc::dup2(null, std))?;
        }
        check(libc::dup2(sock, TAP_FD))?;
        let mut first_closed = FLOOR_FD;
        if floor >= 0 {
            check(libc::dup2(floor, FLOOR_FD))?;
            first_closed = FLOOR_FD + 1;
        }
        check(libc::syscall(libc::SYS_close_range, first_closed, libc::c_uint::MAX, 0) as i32)?;
        check(libc::prctl(libc::PR_SET_NAME, NAME.as_ptr()))?;
        check(libc::setpgid(0, 0))?;
    }
    retitle();
    Ok(())
}

/// Write the tap's name over the arguments it was forked with, which
/// `/proc/PID/cmdline` (`ps`, `pgrep -f`, `pkill -f`) shows: a pattern
/// meant for `rampart run -- cmd` would take the tap (and with it every
/// call of the tree past the hooks) along. Where the arguments are is in
/// `/proc/self/stat` (`arg_start`, `arg_end`); they are this process's own
/// copy, which nothing reads any more (the settings were taken before the
/// fork).
fn retitle() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // The fields after the name (which may hold spaces) in parentheses;
    // `arg_start` and `arg_end` are the 48th and 49th (`proc_pid_stat(5)`).
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let at = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<usize>().ok());
    let (Some(start), Some(end)) = (at(48), at(49)) else {
        return;
    };
    if end <= start {
        return;
    }
    let name = NAME.to_bytes_with_nul();
    // SAFETY: [start, end) is this process's argument area, mapped and
    // writable (the top of its initial stack); written within its bounds.
    unsafe {
        let area = std::slice::from_raw_parts_mut(start as *mut u8, end - start);
        area.fill(0);
        let n = name.len().min(area.len());
        area[..n].copy_from_slice(&name[..n]);
    }
}

/// The tap, forked or run: `sock` is its socket to the child; `settings`
/// say where the collector is and how to enforce; `standby_pid` is where a
/// forked tap writes its standby's pid, before the child goes on. Returns
/// its exit status.
fn serve(sock: OwnedFd, settings: &Settings, standby_pid: Option<&AtomicI32>) -> i32 {
    // Not the tree's to read or trace: a process of the same user that is
    // not root may then neither copy the listener (`pidfd_getfd`) nor read
    // or write this process's memory.
    // SAFETY: plain prctl on this process.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    // Its caller waits for each answer, so it runs on the CPU the caller
    // leaves; its records wake the collector without preempting anyone.
    crate::background::yield_to_the_tree();
    let Some(listener) = receive_listener(&sock) else {
        let_child_go_on(&sock);
        return 0; // the child never started
    };
    // The standby, forked before the child goes on: should this process be
    // killed, it answers the tree's calls in its place.
    let Ok(held) = Held::new() else {
        tracing::warn!("unhooked calls: cannot share what the tap holds with its standby");
        return 1;
    };
    let (standing_by, took_over) = match standby::split(&held) {
        Ok(Split::Handler { alive, standby }) => {
            if let Some(slot) = standby_pid {
                slot.store(standby, Ordering::Release);
            }
            (Some(alive), false)
        }
        Ok(Split::TookOver) => (None, true),
        Err(e) => {
            tracing::warn!("unhooked calls: no standby: {e}");
            (None, false)
        }
    };
    if !took_over {
        let_child_go_on(&sock);
    }
    drop(sock);
    let (mut sink, connected) = WireSink::connect(
        &settings.socket,
        &settings.agent,
        &settings.session,
        settings.enforce,
    );
    if let Err(e) = connected {
        tracing::warn!(
            "unhooked calls: no collector at {}: {e}",
            settings.socket.display()
        );
    }
    if !settings.policy_gen.is_empty() {
        sink.read_refusals_from(std::path::Path::new(OsStr::new(&settings.policy_gen)));
    }
    let opts = rampart_trace::Options {
        enforce: settings.enforce.is_some(),
        dns: false,
        track_cwd: false,
        cpu_latency_hint: settings.latency_hint,
        preloaded: settings.preloaded,
        ..Default::default()
    };
    // The child is this binary until the command's exec.
    let own = std::env::current_exe()
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    // The floor's ruleset, for the thread the tap's opens are made on.
    let floor = settings
        .floor
        .then_some((floor::enter as fn(i32) -> i32, FLOOR_FD));
    let stuck = if took_over {
        // The records the tap had not sent died with it.
        let stuck = held.stuck(&listener);
        sink.lost += held.lost(&stuck);
        held.unsent(0);
        stuck
    } else {
        Vec::new()
    };
    let served = rampart_trace::notify::serve(
        listener,
        &opts,
        &mut sink,
        own.as_deref(),
        floor,
        &held,
        stuck,
    );
    match served {
        Ok(r) => {
            held.finished();
            sink.lost += r.unrecorded;
            tracing::debug!("unhooked calls: {} answered, {} failed", r.calls, r.refused)
        }
        Err(e) => tracing::warn!("unhooked calls: {e}"),
    }
    sink.report_lost();
    drop(sink);
    // The standby sees this end close: after `finished`, it leaves too.
    drop(standing_by);
    0
}

/// The tap's end: the child says which process it is and which of its
/// descriptors is the listener; take a copy (`pidfd_getfd`) and let it go on.
/// (It cannot pass the descriptor itself: `sendmsg` is a watched call, and
/// the filter is already on.)
fn receive_listener(sock: &OwnedFd) -> Option<OwnedFd> {
    let mut said = [0i32; 2];
    let n = loop {
        // SAFETY: reading into our buffer.
        let n = unsafe {
            libc::read(
                sock.as_raw_fd(),
                said.as_mut_ptr().cast(),
                std::mem::size_of_val(&said),
            )
        };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        break n;
    };
    if n != std::mem::size_of_val(&said) as isize {
        return None; // the child never got this far
    }
    let [pid, fd] = said;
    // SAFETY: plain system calls; the descriptors returned are new and ours.
    let listener = unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0);
        if pidfd < 0 {
            tracing::warn!("unhooked calls: pidfd_open: {}", io::Error::last_os_error());
            None
        } else {
            let pidfd = OwnedFd::from_raw_fd(pidfd as RawFd);
            let l = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0);
            if l < 0 {
                tracing::warn!(
                    "unhooked calls: pidfd_getfd: {}",
                    io::Error::last_os_error()
                );
                None
            } else {
                Some(OwnedFd::from_raw_fd(l as RawFd))
            }
        }
    };
    listener
}

/// Let the child go on (it waits for this byte), with or without a copy of
/// its listener here.
fn let_child_go_on(sock: &OwnedFd) {
    // SAFETY: one byte from a local.
    unsafe { libc::write(sock.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
}

/// The child's end, between `fork` and `exec`: tell the tap which process
/// this is and which descriptor `listener` is, and wait until it took its
/// copy. Async-signal-safe (`getpid`, `write`, `read`: calls the filter
/// does not watch); returns 0 or the errno.
pub fn send_listener(sock: RawFd, listener: RawFd) -> i32 {
    // SAFETY: plain system calls on stack buffers.
    unsafe {
        let said = [libc::getpid(), listener];
        let len = std::mem::size_of_val(&said);
        if libc::write(sock, said.as_ptr().cast(), len) != len as isize {
            return *libc::__errno_location();
        }
        let mut ack = 0u8;
        loop {
            let n = libc::read(sock, (&mut ack as *mut u8).cast(), 1);
            if n == 1 {
                return 0;
            }
            let e = *libc::__errno_location();
            if n < 0 && e == libc::EINTR {
                continue;
            }
            return if n == 0 { libc::EPIPE } else { e };
        }
    }
}
