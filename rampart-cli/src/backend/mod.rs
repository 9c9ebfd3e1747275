//! Choosing and driving the interceptor of a watched command.
//!
//! Two backends see the same calls: the preload library (cheap, but only
//! inside dynamically linked programs that call libc) and the ptrace backend
//! of `rampart-trace` (everything in the tree, at a higher cost per call).
//! `--backend auto` looks at the command first ([`inspect`]) and traces it
//! only when preload would miss calls. [`run_traced`] runs a command under
//! the trace backend on the calling thread, with signals forwarded to it as
//! [`crate::child`] does for a preloaded one; [`sinks`] carries its calls to
//! a collector. This module never decides a call and never writes the trail.

pub mod inspect;
pub mod sinks;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rampart_core::event::Event;
use rampart_trace::{Options, RunReport, Sink, Verdict};

use crate::child;

/// The preload library's file name.
pub const PRELOAD_LIB: &str = "librampart_preload.so";

/// `RAMPART_PRELOAD_LIB`, else next to the rampart binary, else `../lib/`.
pub fn find_preload_library() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("RAMPART_PRELOAD_LIB") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(std::fs::canonicalize(&p).unwrap_or(p));
        }
        bail!(
            "RAMPART_PRELOAD_LIB names {}, which does not exist",
            p.display()
        );
    }
    let exe = std::env::current_exe().context("cannot find the rampart binary's own path")?;
    let dir = exe
        .parent()
        .context("the rampart binary has no directory")?;
    let candidates = [dir.join(PRELOAD_LIB), dir.join("../lib").join(PRELOAD_LIB)];
    for c in &candidates {
        if c.is_file() {
            return Ok(std::fs::canonicalize(c).unwrap_or_else(|_| c.clone()));
        }
    }
    bail!(
        "cannot find {PRELOAD_LIB} (looked in {} and {}); without it nothing would be watched. \
         Install it next to the rampart binary or set RAMPART_PRELOAD_LIB",
        candidates[0].display(),
        candidates[1].display()
    )
}

/// Which interceptor watches the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The trace backend when the command is static, a Go program, or
    /// setuid/setgid (preload would miss its calls); preload otherwise.
    Auto,
    /// LD_PRELOAD library: dynamically linked programs (a static program
    /// they start is handed to the trace backend).
    Preload,
    /// ptrace with a seccomp filter: every process of the tree, whatever it
    /// is made of.
    Trace,
}

/// The backend that runs `argv0`: `requested`, or for `auto` what the
/// program needs (found through `PATH` as the spawn will find it).
pub fn choose(requested: Backend, argv0: &OsStr) -> Backend {
    if requested != Backend::Auto {
        return requested;
    }
    let path = std::env::var_os("PATH");
    match inspect::needs_trace(argv0, path.as_deref()) {
        Some(why) => {
            tracing::info!("backend trace: {why}");
            Backend::Trace
        }
        None => {
            tracing::info!(
                "backend preload: {} is dynamically linked",
                argv0.to_string_lossy()
            );
            Backend::Preload
        }
    }
}

/// Turns the trace backend's CPU latency request off (`off`) or on (`on`,
/// the default): see `rampart_trace::Options::cpu_latency_hint`.
pub const CPU_LATENCY_HINT_VAR: &str = "RAMPART_CPU_LATENCY_HINT";

/// How the trace backend runs a command here: enforcing or not, and the CPU
/// latency request as `RAMPART_CPU_LATENCY_HINT` says.
pub fn trace_options(enforce: bool) -> Result<Options> {
    let cpu_latency_hint = match std::env::var_os(CPU_LATENCY_HINT_VAR) {
        None => true,
        // A user's setting, not the session's contract (`rampart_core::env`).
        Some(v) if matches!(v.to_str(), Some("1" | "true" | "yes" | "on")) => true,
        Some(v) if matches!(v.to_str(), Some("0" | "false" | "no" | "off")) => false,
        Some(v) => anyhow::bail!(
            "{CPU_LATENCY_HINT_VAR} must be on or off, not {:?}",
            v.to_string_lossy()
        ),
    };
    Ok(Options {
        enforce,
        cpu_latency_hint,
        ..Default::default()
    })
}

/// The environment of a traced command: rampart's own, without the preload
/// library and its socket — the tracer sees every process of the tree, and
/// a preloaded one would be reported twice.
pub fn traced_env() -> Vec<(OsString, OsString)> {
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        if k == rampart_core::env::SOCKET {
            continue;
        }
        if k == "LD_PRELOAD" {
            let kept = without_preload_library(&v);
            if !kept.is_empty() {
                env.push((k, kept));
            }
            continue;
        }
        env.push((k, v));
    }
    env
}

/// `LD_PRELOAD` without the entries naming rampart's library (entries are
/// separated by `:` or spaces, as the loader reads them).
pub fn without_preload_library(value: &OsStr) -> OsString {
    let kept: Vec<&[u8]> = value
        .as_bytes()
        .split(|&b| b == b':' || b == b' ')
        .filter(|e| !e.is_empty() && !names_preload_library(e))
        .collect();
    OsString::from(std::ffi::OsStr::from_bytes(&kept.join(&b':')))
}

fn names_preload_library(entry: &[u8]) -> bool {
    entry.rsplit(|&b| b == b'/').next() == Some(PRELOAD_LIB.as_bytes())
}

/// Passes the first process's pid on (for signal forwarding) the first time
/// the tracer reports anything — its own exec, before it runs any code.
struct RootPid<'a> {
    inner: &'a mut dyn Sink,
    tell: Option<crossbeam_channel::Sender<i32>>,
}

impl RootPid<'_> {
    fn saw(&mut self, event: &Event) {
        if let Some(tx) = self.tell.take() {
            let _ = tx.send(event.pid);
        }
    }
}

impl Sink for RootPid<'_> {
    fn decide(&mut self, event: &Event) -> Verdict {
        self.saw(event);
        self.inner.decide(event)
    }
    fn record(&mut self, event: Event) {
        self.saw(&event);
        self.inner.record(event)
    }
    fn record_passed(&mut self, event: Event) {
        self.saw(&event);
        self.inner.record_passed(event)
    }
    fn recheck(&mut self, event: &Event) -> Verdict {
        self.inner.recheck(event)
    }
    fn other_name(&mut self, dev: u64, ino: u64) -> Option<String> {
        self.inner.other_name(dev, ino)
    }
    fn idle(&mut self) -> bool {
        self.inner.idle()
    }
    fn sleeping(&mut self) {
        self.inner.sleeping()
    }
}

/// Run `argv` under the trace backend on this thread (`program`: the file to
/// execute, else argv[0] through `PATH`) with exactly `env`, and return its
/// report once the whole tree has exited. Signals sent to rampart alone are
/// forwarded to the command as under preload; call
/// [`child::block_forwarded_signals`] before starting any thread.
pub fn run_traced(
    program: Option<&Path>,
    argv: &[OsString],
    env: &[(OsString, OsString)],
    opts: &Options,
    sink: &mut dyn Sink,
) -> Result<RunReport> {
    let (tell, told) = crossbeam_channel::bounded::<i32>(1);
    std::thread::Builder::new()
        .name("rampart-signals".into())
        .spawn(move || {
            if let Ok(pid) = told.recv() {
                child::forward_signals(pid);
            }
        })
        .context("cannot start the signal forwarder")?;
    let mut root = RootPid {
        inner: sink,
        tell: Some(tell),
    };
    let what = argv.first().map(|a| a.to_string_lossy().into_owned());
    let res = match program {
        Some(p) => rampart_trace::run_file_report(p, argv, env, opts, &mut root),
        None => rampart_trace::run_report(argv, env, opts, &mut root),
    };
    res.map_err(|e| {
        let what = what.unwrap_or_default();
        match e.kind() {
            std::io::ErrorKind::NotFound => anyhow::anyhow!("{what}: command not found"),
            std::io::ErrorKind::PermissionDenied => anyhow::anyhow!("{what}: permission denied"),
            _ => anyhow::anyhow!("{what}: {e}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rampart_library_is_taken_out_of_ld_preload() {
        let v = OsStr::new("/opt/rampart/lib/librampart_preload.so:/usr/lib/libother.so");
        assert_eq!(without_preload_library(v), "/usr/lib/libother.so");
        assert_eq!(
            without_preload_library(OsStr::new("librampart_preload.so")),
            ""
        );
        assert_eq!(
            without_preload_library(OsStr::new("a.so b.so")),
            OsString::from("a.so:b.so")
        );
    }
}
