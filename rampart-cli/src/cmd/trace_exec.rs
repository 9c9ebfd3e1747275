//! `rampart __trace-exec [--argv0 NAME] -- PATH [ARGS...]` (hidden): the
//! trace backend's entry point for the preload library.
//!
//! When a watched dynamic program execs a static or Go binary, which the
//! library cannot see into, the library replaces that exec by
//! `execve(RAMPART_BIN, [RAMPART_BIN, "__trace-exec", "--argv0", ARGV0, "--",
//! PATH, ARGS...], envp)`. This command runs PATH (with argv[0] = ARGV0 and
//! the same environment) under the trace backend, reports every call of its
//! tree to the collector at `RAMPART_SOCKET` over the wire (`source: trace`;
//! in enforce mode, `RAMPART_MODE=enforce`, each call waits for its verdict,
//! at most `RAMPART_DECISION_TIMEOUT_MS`, and `RAMPART_FAIL_OPEN` decides
//! when none comes), and exits as the program did (the same code, or dying
//! of the same signal). The exec of PATH itself is not reported: the hook
//! that redirected it already did.
//!
//! The pid caveat: the traced program is a child of this process, so it does
//! not have the pid its parent got back from `fork` — that pid is this
//! process. Waiting for it, its exit status and signals sent to it (SIGTERM,
//! SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 are forwarded) behave as
//! before, but the program's `getpid()` and `getppid()` differ from what its
//! parent knows, and in the trail its `ppid` is this process.
//!
//! The preload library is taken out of this process (re-exec without it) and
//! out of the traced tree: the tracer sees every process there, and a
//! preloaded one would be reported twice. This command never writes the
//! trail and decides nothing itself.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use rampart_core::env;

use crate::backend::sinks::{Enforce, WireSink};
use crate::backend::{self, without_preload_library};
use crate::child;
use crate::unhooked::Tap;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// argv[0] the program gets [default: PATH].
    #[arg(long, value_name = "NAME")]
    pub argv0: Option<OsString>,
    /// The file to execute, and its arguments.
    #[arg(last = true, required = true, value_name = "PATH")]
    pub command: Vec<OsString>,
}

pub fn run(args: Args) -> Result<i32> {
    shed_preload_library()?;
    let (path, rest) = args.command.split_first().context("no program given")?;
    let path = PathBuf::from(path);
    let mut argv = vec![args.argv0.clone().unwrap_or_else(|| path.clone().into())];
    argv.extend(rest.iter().cloned());

    let var = |k: &str| std::env::var_os(k);
    let bytes = |k: &str| var(k).map(|v| v.into_vec()).unwrap_or_default();
    let enforce = env::enforces(&bytes(env::MODE)).then(|| Enforce {
        timeout: Duration::from_millis(env::timeout_ms(&bytes(env::DECISION_TIMEOUT_MS))),
        fail_open: env::flag(&bytes(env::FAIL_OPEN)),
    });
    let text = |k: &str| {
        var(k)
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let socket = PathBuf::from(var(env::SOCKET).unwrap_or_default());
    let (mut sink, connected) =
        WireSink::connect(&socket, &text(env::AGENT), &text(env::SESSION), enforce);
    if let Err(e) = &connected {
        tracing::info!("no collector at {:?}: {e}", socket.display());
        if enforce.is_none() {
            // Nothing to report to and nothing to enforce: be the program.
            let e = std::process::Command::new(&path)
                .arg0(&argv[0])
                .args(rest)
                .exec();
            return Err(e).with_context(|| format!("cannot execute {}", path.display()));
        }
    }
    if enforce.is_none() {
        drop(sink);
        return run_notified(&path, &argv);
    }
    sink.skip_first_exec();
    if let Some(gen) = var(env::POLICY_GEN) {
        sink.read_refusals_from(Path::new(&gen));
    }

    child::block_forwarded_signals()?;
    let opts = backend::trace_options(enforce.is_some())?;
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let report = backend::run_traced(Some(&path), &argv, &env, &opts, &mut sink)?;
    sink.report_lost();
    if sink.lost > 0 {
        tracing::warn!(
            "{} calls could not be reported to the collector, nor their count",
            sink.lost
        );
    }
    drop(sink);
    if let Some(sig) = report.signal {
        die_of(sig);
    }
    Ok(report.status)
}

/// Monitor mode: run the program under the filter of unhooked calls, whose
/// tap (with its standby) reports every call of its tree, and no tracer: a
/// killed `__trace-exec` (or tap) leaves the program running, as monitor
/// mode promises. Exits as the program did.
fn run_notified(path: &Path, argv: &[OsString]) -> Result<i32> {
    child::block_forwarded_signals()?;
    let hint = backend::trace_options(false)?.cpu_latency_hint;
    let mut tap = Tap::start(&[], None, false, hint)?;
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let confined = child::Confinement {
        floor: None,
        enforce_refusals: false,
        unhooked: Some(tap.child_fd()),
        preloaded: false,
    };
    let spawned = child::spawn(
        &path.as_os_str().to_owned(),
        argv,
        child::Env::Whole(&env),
        confined,
    );
    tap.spawned();
    let mut program = spawned?;
    child::forward_signals(program.id() as i32);
    let status = program.wait().context("waiting for the program")?;
    tap.finish(Duration::from_secs(1));
    if let Some(sig) = std::os::unix::process::ExitStatusExt::signal(&status) {
        die_of(sig);
    }
    Ok(status.code().unwrap_or(1))
}

/// End this process by signal `sig`, so that its parent sees the program's
/// own death (no core file of rampart).
fn die_of(sig: i32) {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on valid arguments.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
}

/// If the preload library was loaded into this process (the redirecting
/// hook passes the watched environment on), execute this binary again
/// without it — with a raw system call, since the library would intercept
/// (and redirect) the libc one. Returns when there is nothing to shed.
fn shed_preload_library() -> Result<()> {
    let Some(ld) = std::env::var_os("LD_PRELOAD") else {
        return Ok(());
    };
    let kept = without_preload_library(&ld);
    let entries = ld
        .as_bytes()
        .split(|&b| b == b':' || b == b' ')
        .filter(|e| !e.is_empty())
        .count();
    let kept_entries = kept
        .as_bytes()
        .split(|&b| b == b':')
        .filter(|e| !e.is_empty())
        .count();
    if kept_entries == entries {
        return Ok(());
    }
    let c = |b: Vec<u8>| CString::new(b).context("NUL byte in an argument or variable");
    let argv: Vec<CString> = std::env::args_os()
        .map(|a| c(a.into_vec()))
        .collect::<Result<_>>()?;
    let mut envp: Vec<CString> = Vec::new();
    for (k, v) in std::env::vars_os() {
        let v = if k == "LD_PRELOAD" {
            if kept.is_empty() {
                continue;
            }
            kept.clone()
        } else {
            v
        };
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend(v.into_vec());
        envp.push(c(kv)?);
    }
    let exe = c(b"/proc/self/exe".to_vec())?;
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    // SAFETY: NUL-terminated arrays of C strings that outlive the call.
    let errno = unsafe { raw_execve(exe.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr()) };
    Err(std::io::Error::from_raw_os_error(errno))
        .context("cannot execute rampart again without the preload library")
}

/// `execve(2)` straight to the kernel; returns the errno when it fails.
///
/// # Safety
/// `path`, `argv` and `envp` must be valid as for `execve`.
unsafe fn raw_execve(
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> i32 {
    let ret: isize;
    #[cfg(target_arch = "x86_64")]
    std::arch::asm!(
        "syscall",
        inlateout("rax") libc::SYS_execve as isize => ret,
        in("rdi") path,
        in("rsi") argv,
        in("rdx") envp,
        lateout("rcx") _,
        lateout("r11") _,
        options(nostack),
    );
    #[cfg(target_arch = "aarch64")]
    std::arch::asm!(
        "svc 0",
        in("x8") libc::SYS_execve,
        inlateout("x0") path as isize => ret,
        in("x1") argv,
        in("x2") envp,
        options(nostack),
    );
    -(ret as i32)
}
