//! Running the watched program: spawning it, forwarding signals, and
//! turning its end into `rampart run`'s exit status.
//!
//! The program stays in rampart's process group and keeps the terminal, so
//! interactive agents work as if started directly: job control, window size
//! and Ctrl-C reach it from the terminal itself. Signals that another process
//! sends to rampart alone (`kill PID`) are forwarded; signals the terminal
//! sends to the whole group are not sent twice. This module never touches
//! the program's standard streams.
//!
//! Processes the command leaves running (daemons, `nohup`, `setsid`) are
//! still watched: rampart is their reaper (`PR_SET_CHILD_SUBREAPER`), so
//! every orphan of the tree becomes its child, and [`linger`] waits for
//! them after the command ends, until they exit or rampart is told to stop
//! waiting (SIGINT, SIGTERM, SIGHUP).

use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

/// Under enforcement the tree writes no core file: the kernel writes one
/// into a crashing process's working directory with no call for anyone to
/// decide, so a program crashing on purpose in a protected directory would
/// replace a file there. The hard limit is 0, which the tree cannot raise
/// (the filter refuses it even to root: `rampart_trace::enforce_refusals`).
/// Set on rampart itself before it starts anything, so that every process
/// of the run inherits it.
pub fn no_core_files() -> Result<()> {
    use nix::sys::resource::{setrlimit, Resource};
    setrlimit(Resource::RLIMIT_CORE, 0, 0).context("cannot set the core-file size limit")
}

/// How the command is confined from its start (enforce mode).
#[derive(Default)]
pub struct Confinement<'a> {
    /// The Landlock floor.
    pub floor: Option<&'a Floor>,
    /// Enforcement's fixed refusals (`rampart_trace::enforce_refusals`:
    /// io_uring, which the preload library cannot see; mounts and new
    /// mount or user namespaces, which would change what a path names).
    /// The trace backend's filter makes them itself.
    pub enforce_refusals: bool,
    /// Start under the filter of unhooked calls (`crate::unhooked`), and
    /// send its listener over this socket (the child's end of the tap's
    /// pair; close-on-exec).
    pub unhooked: Option<i32>,
    /// The preload library is in the child's environment: the filter of
    /// unhooked calls lets its calls from the gadget page run.
    pub preloaded: bool,
}

/// The environment a command starts with.
pub enum Env<'a> {
    /// rampart's own, with these variables set.
    Added(&'a [(String, OsString)]),
    /// This one, whole.
    Whole(&'a [(OsString, OsString)]),
}

/// Spawn `argv` with environment `env`, confined as `confined` says.
/// `program` is the file (searched along `PATH` when it has no `/`),
/// `argv[0]` the name it is given.
pub fn spawn(
    program: &OsString,
    argv: &[OsString],
    env: Env<'_>,
    confined: Confinement,
) -> Result<Child> {
    let prog = program;
    let (arg0, args) = argv.split_first().context("no command given")?;
    let mut cmd = Command::new(prog);
    cmd.arg0(arg0).args(args);
    match env {
        Env::Added(vars) => {
            for (k, v) in vars {
                cmd.env(k, v);
            }
        }
        Env::Whole(vars) => {
            cmd.env_clear().envs(vars.iter().map(|(k, v)| (k, v)));
        }
    }
    let floor = confined.floor.map(Floor::raw_fd);
    let refusals = confined
        .enforce_refusals
        .then(rampart_trace::enforce_refusals);
    let unhooked = confined.unhooked.map(|sock| {
        (
            sock,
            rampart_trace::unhooked_filter(rampart_trace::Unhooked {
                enforce: confined.enforce_refusals,
                from_page: confined.preloaded,
            }),
        )
    });
    // SAFETY: the closure only calls sigprocmask and raw system calls on
    // data prepared before the fork, which are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            // The program starts with no signal blocked, whatever rampart blocked.
            let empty = SigSet::empty();
            empty.thread_set_mask().map_err(io::Error::from)?;
            if unhooked.is_none() {
                if let Some(prog) = &refusals {
                    rampart_trace::install_filter(prog)
                        .map_err(|e| io::Error::from_raw_os_error(e.errno))?;
                }
            }
            if let Some(errno) = floor.map(crate::floor::enter) {
                if errno != 0 {
                    return Err(io::Error::from_raw_os_error(errno));
                }
            }
            // Last, so that nothing of rampart's own set-up above is an
            // unhooked call: the first one is the command's exec.
            if let Some((sock, prog)) = &unhooked {
                let listener = rampart_trace::install_listened(prog)
                    .map_err(|e| io::Error::from_raw_os_error(e.errno))?;
                let sent = crate::unhooked::send_listener(*sock, listener);
                libc::close(listener);
                if sent != 0 {
                    return Err(io::Error::from_raw_os_error(sent));
                }
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| spawn_error(prog, e))
}

/// The command could not be started: what a shell would say, and the errno
/// its exec failed with.
#[derive(Debug)]
pub struct SpawnFailed {
    pub message: String,
    pub errno: i32,
}

impl std::fmt::Display for SpawnFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpawnFailed {}

fn spawn_error(prog: &OsString, e: io::Error) -> anyhow::Error {
    let what = prog.to_string_lossy();
    let message = match e.kind() {
        io::ErrorKind::NotFound => format!("{what}: command not found"),
        io::ErrorKind::PermissionDenied => format!("{what}: permission denied"),
        _ => format!("{what}: {e}"),
    };
    anyhow::Error::new(SpawnFailed {
        message,
        errno: e.raw_os_error().unwrap_or(libc::ENOENT),
    })
}

/// The exec of the command itself, as rampart makes it (no hook sees it):
/// the program found as `execvp` finds it (the name as given when no
/// `PATH` entry has it), its argv, made by a process of rampart's in
/// `cwd`. `pid` is the command's once it runs.
pub fn exec_event(argv: &[OsString], cwd: &std::path::Path) -> rampart_core::event::Event {
    use rampart_core::event::name_from_bytes;
    use rampart_core::event::{Call, Event, Outcome, Source};
    use std::os::unix::ffi::OsStrExt;
    let text = |s: &std::ffi::OsStr| name_from_bytes(s.as_bytes()).into_owned();
    let clean = |p: &std::path::Path| rampart_core::path::clean(&text(p.as_os_str())).into_owned();
    let prog = argv.first().cloned().unwrap_or_default();
    let path = if prog.as_bytes().contains(&b'/') {
        clean(&cwd.join(&prog))
    } else {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|dir| cwd.join(dir).join(&prog))
            .find(|p| is_executable(p))
            .map(|p| clean(&p))
            .unwrap_or_else(|| text(&prog))
    };
    // SAFETY: getpid and getppid cannot fail.
    let (pid, ppid) = unsafe { (libc::getpid(), libc::getppid()) };
    Event {
        pid,
        ppid,
        exe: std::env::current_exe()
            .map(|p| text(p.as_os_str()))
            .unwrap_or_default(),
        cwd: text(cwd.as_os_str()),
        source: Source::Preload,
        call: Call::Exec {
            path,
            argv: argv.iter().map(|a| text(a)).collect(),
            via: None,
        },
        outcome: Outcome::Unknown,
        truncated: false,
    }
}

/// The exec of the file the kernel loads for `root` (the command's exec,
/// [`exec_event`]) when its name leads to another one: a link's target,
/// or a script's interpreter (`#!` lines read as the kernel reads them,
/// `rampart_core::shebang`), with the argv the program gets and `via`
/// naming the command, as the library's exec hooks and the tracer record
/// it. `None` when the name is the file itself, or cannot be read.
pub fn loaded_event(
    root: &rampart_core::event::Event,
    cwd: &std::path::Path,
) -> Option<rampart_core::event::Event> {
    use rampart_core::event::{name_from_bytes, Call};
    use rampart_core::shebang;
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;
    let Call::Exec { path, argv, .. } = &root.call else {
        return None;
    };
    if !path.starts_with('/') {
        return None; // a name no search found
    }
    // The name the program is exec'd by: as given when it has a slash,
    // else the file the search found.
    let given = match argv.first() {
        Some(a0) if a0.contains('/') => a0.clone(),
        _ => path.clone(),
    };
    let mut file = std::path::PathBuf::from(path);
    let mut prefix: Vec<String> = Vec::new();
    let mut depth = 0;
    loop {
        let mut head = Vec::with_capacity(shebang::HEAD);
        if let Ok(f) = std::fs::File::open(&file) {
            let _ = f.take(shebang::HEAD as u64).read_to_end(&mut head);
        }
        let Some(line) = shebang::line(&head).filter(|_| depth < shebang::DEPTH) else {
            break;
        };
        // Innermost first: this interpreter, its argument, then the rest.
        let text = |b: &[u8]| name_from_bytes(b).into_owned();
        let mut hop = vec![text(line.interpreter)];
        hop.extend(line.argument.map(text));
        prefix.splice(0..0, hop);
        file = cwd.join(std::ffi::OsStr::from_bytes(line.interpreter));
        depth += 1;
    }
    let loaded =
        name_from_bytes(std::fs::canonicalize(&file).ok()?.as_os_str().as_bytes()).into_owned();
    if depth == 0 && loaded == *path {
        return None;
    }
    let argv = if depth == 0 {
        argv.clone()
    } else {
        prefix
            .into_iter()
            .chain(std::iter::once(given))
            .chain(argv.iter().skip(1).cloned())
            .collect()
    };
    let mut event = root.clone();
    event.call = Call::Exec {
        path: loaded,
        argv,
        via: Some(path.clone()),
    };
    Some(event)
}

/// The program the dynamic loader runs when the command `root` is the
/// loader run as a program (`/lib64/ld-linux-x86-64.so.2 /usr/bin/perl`),
/// `loaded` being the file `root` loads when another
/// ([`loaded_event`]): as an exec of its own, `via` the loader.
pub fn run_by_loader(
    root: &rampart_core::event::Event,
    loaded: Option<&rampart_core::event::Event>,
    cwd: &std::path::Path,
) -> Option<rampart_core::event::Event> {
    use rampart_core::event::Call;
    let Call::Exec { path, argv, .. } = &loaded.unwrap_or(root).call else {
        return None;
    };
    rampart_trace::program_of_loader(root, path, argv, cwd)
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Forward signals sent to rampart alone to `pid`, on a thread of its own,
/// for as long as the process lives. The flag returned is set by the first
/// SIGINT, SIGTERM or SIGHUP rampart gets (from anyone): [`linger`] stops
/// waiting then.
pub fn forward_signals(pid: i32) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let stop_set = Arc::clone(&stop);
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
                if [libc::SIGINT, libc::SIGTERM, libc::SIGHUP].contains(&sig) {
                    stop_set.store(true, Ordering::Release);
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
    stop
}

/// Make rampart the reaper of every process the command orphans, so that
/// [`linger`] can wait for them. Call before spawning.
pub fn become_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true).context("cannot become the tree's reaper")
}

/// The processes below rampart: its children (the orphans it reaps
/// included) and theirs, from `/proc/PID/task/TID/children`.
pub fn descendants() -> Vec<i32> {
    let helpers: Vec<i32> = HELPERS.iter().map(|h| h.load(Ordering::Acquire)).collect();
    let mut out = Vec::new();
    // SAFETY: getpid cannot fail.
    let mut todo = vec![unsafe { libc::getpid() }];
    while let Some(pid) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(text) = std::fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            for child in text.split_whitespace().filter_map(|c| c.parse().ok()) {
                if !helpers.contains(&child) && !out.contains(&child) {
                    out.push(child);
                    todo.push(child);
                }
            }
        }
    }
    out
}

/// Processes of rampart's own below it (the unhooked-call tap and its
/// standby, which becomes rampart's child when the tap dies), which are not
/// the command's: never counted or waited for as its.
static HELPERS: [std::sync::atomic::AtomicI32; 2] = [
    std::sync::atomic::AtomicI32::new(0),
    std::sync::atomic::AtomicI32::new(0),
];

/// `pid` is a helper of rampart's, not a process of the command (two at
/// most: a third is not remembered).
pub fn add_helper(pid: i32) {
    for h in &HELPERS {
        if h.compare_exchange(0, pid, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return;
        }
    }
}

/// The processes a command left running when it ended.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outlived {
    /// Running when the command ended.
    pub running: usize,
    /// Still running when rampart stopped waiting (0: all exited).
    pub left: usize,
}

/// After the command ended: reap the processes it left running as they
/// exit, while the collector goes on recording them, until none is left or
/// `stop` is set. Returns how many were left running when rampart stopped
/// waiting (0 when all exited).
pub fn linger(stop: &AtomicBool) -> usize {
    loop {
        // Reap whatever has exited (orphans are rampart's children now).
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid status pointer.
            let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if r <= 0 {
                break;
            }
        }
        let left = descendants().into_iter().filter(|&p| !is_zombie(p)).count();
        if left == 0 || stop.load(Ordering::Acquire) {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
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
