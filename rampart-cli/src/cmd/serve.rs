//! `rampart serve`: the collector as a long-running daemon that any number
//! of `rampart run` sessions, or any process with the library preloaded
//! (`eval "$(rampart env)"`), report to; and `rampart serve stop`.
//!
//! Policy files are watched: a valid edit applies to the next decision, a
//! broken one keeps the policy in force and logs the error with file:line.
//! SIGHUP reloads too. SIGTERM and SIGINT flush the trail and remove the
//! socket.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arc_swap::ArcSwap;
use nix::sys::signal::{SigSet, Signal};

use crate::collector::guard::Guard;
use crate::collector::policy_gen::PolicyGeneration;
use crate::collector::{Collector, Config, Mode, Origin};
use crate::policies;
use crate::runtime::{self, State};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// monitor records every call with the policy's verdict; enforce blocks
    /// what the policy denies.
    #[arg(long, value_enum, default_value = "monitor")]
    pub mode: Mode,
    /// Socket to listen on [default: $XDG_RUNTIME_DIR/rampart/rampart.sock,
    /// else ~/.rampart/run/rampart.sock].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Detach and run in the background; prints the pid once listening.
    #[arg(long)]
    pub background: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Stop the running serve (it flushes the trail and removes its socket).
    Stop {
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
}

/// How long a stopping serve keeps reading connections that are still open.
const STOP_GRACE: Duration = Duration::from_millis(300);

pub fn run(args: Args, policy: &[PathBuf], audit_dir: &Path) -> Result<i32> {
    if let Some(Action::Stop { socket }) = args.action {
        return stop(&socket.unwrap_or_else(runtime::default_socket));
    }
    let socket = args.socket.clone().unwrap_or_else(runtime::default_socket);
    runtime::private_dir(&socket)?;
    if runtime::listening(&socket) {
        let who = State::read(&socket)
            .map(|s| format!(" (pid {})", s.pid))
            .unwrap_or_default();
        bail!(
            "a rampart serve is already listening at {}{who}",
            socket.display()
        );
    }
    runtime::remove_stale(&socket)
        .with_context(|| format!("cannot remove the stale socket {}", socket.display()))?;
    // Load before detaching, so that a broken policy is reported here.
    let (engine, source) = policies::load(policy)?;
    if args.background {
        return detach(&socket);
    }

    let mut signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(s);
    }
    signals.thread_block().context("cannot block signals")?;

    let live = Arc::new(ArcSwap::new(engine));
    let mut collector = Collector::start(Config {
        mode: args.mode,
        origin: Origin {
            agent: "unknown".into(),
            session: "serve".into(),
            project: None,
        },
        engine: live.clone(),
        audit_dir: audit_dir.to_path_buf(),
        // In the serve's log (its stderr).
        print_denials: true,
        // Its clients enforce fail-closed unless they were told otherwise.
        fail_closed: args.mode == Mode::Enforce,
        guard: {
            let mut g = Guard::of_state(policy, audit_dir);
            g.protect_socket(&socket);
            g
        },
    })?;
    // Always published: a reload may come with any mode's clients.
    collector.listen(socket.clone(), true)?;
    let generation = collector.policy_generation();
    let now = chrono::Utc::now().to_rfc3339();
    let state = State {
        pid: std::process::id() as i32,
        mode: args.mode.as_str().into(),
        socket: socket.clone(),
        audit_dir: audit_dir.to_path_buf(),
        policy: source.to_string(),
        started: now.clone(),
        policy_generation: generation.as_ref().map_or(0, |g| g.generation()),
        policy_loaded: now,
        policies: live.load().policy_count(),
        reload_error: None,
    };
    state.write()?;
    let state = Arc::new(std::sync::Mutex::new(state));
    tracing::info!(
        "listening on {} ({} mode, policy: {source})",
        socket.display(),
        args.mode.as_str()
    );

    let explicit = policy.to_vec();
    let _watcher = watch_policies(&source, {
        let live = live.clone();
        let explicit = explicit.clone();
        let generation = generation.clone();
        let state = state.clone();
        move || reload(&live, &explicit, generation.as_deref(), &state)
    });
    loop {
        match signals.wait() {
            Ok(Signal::SIGHUP) => {
                tracing::warn!("SIGHUP: reloading the policy");
                reload(&live, &explicit, generation.as_deref(), &state)
            }
            Ok(_) => break,
            Err(_) => continue,
        }
    }
    let _ = std::fs::remove_file(runtime::state_file(&socket));
    collector.finish(STOP_GRACE)?;
    tracing::info!("stopped; trail flushed");
    Ok(0)
}

/// Load the policy again; keep the one in force if the new one is broken.
/// Enforcing processes drop their cached verdicts once the new policy is in
/// place.
fn reload(
    live: &ArcSwap<rampart_core::policy::Engine>,
    explicit: &[PathBuf],
    generation: Option<&PolicyGeneration>,
    state: &std::sync::Mutex<State>,
) {
    let Ok(mut state) = state.lock() else {
        return;
    };
    match policies::load(explicit) {
        Ok((engine, source)) => {
            live.store(engine.clone());
            if let Some(g) = generation {
                g.bump(&engine);
                state.policy_generation = g.generation();
            }
            state.policy = source.to_string();
            state.policy_loaded = chrono::Utc::now().to_rfc3339();
            state.policies = engine.policy_count();
            state.reload_error = None;
            write_state(&state);
            tracing::warn!("policy reloaded from {source}");
        }
        Err(e) => {
            let now = chrono::Utc::now().to_rfc3339();
            // One line for `rampart status`: the loader's errors, each with its file:line.
            let why: Vec<String> = format!("{e:#}")
                .lines()
                .map(|l| l.trim().to_string())
                .collect();
            state.reload_error = Some(format!("failed at {now}: {}", why.join("; ")));
            write_state(&state);
            tracing::error!("policy not reloaded, the previous one stays in force: {e:#}");
        }
    }
}

/// The state file says what is in force before the log says it changed.
fn write_state(state: &State) {
    if let Err(e) = state.write() {
        tracing::error!("cannot update the state file: {e:#}");
    }
}

/// Watch the policy files and directories; call `on_change` after a burst
/// of changes settles.
fn watch_policies(
    source: &policies::Source,
    on_change: impl Fn() + Send + 'static,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let policies::Source::Paths(paths) = source else {
        return None;
    };
    let (tx, rx) = crossbeam_channel::unbounded::<()>();
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if ev.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    })
    .map_err(|e| tracing::error!("cannot watch policy files: {e}"))
    .ok()?;
    for p in paths {
        // Watch the directory of a file too: editors replace files by rename.
        let target = if p.is_dir() {
            p.clone()
        } else {
            p.parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| p.clone())
        };
        if let Err(e) = watcher.watch(&target, RecursiveMode::NonRecursive) {
            tracing::error!("cannot watch {}: {e}", target.display());
        }
    }
    std::thread::spawn(move || {
        while rx.recv().is_ok() {
            // Let the burst of events of one save settle.
            while rx.recv_timeout(Duration::from_millis(150)).is_ok() {}
            on_change();
        }
    });
    Some(watcher)
}

/// Start this same command again without `--background`, detached from the
/// terminal, and return once it listens.
fn detach(socket: &Path) -> Result<i32> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--background")
        .collect();
    let log = socket.with_extension("log");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("cannot start the background serve")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the background serve exited ({status}); see {}",
                log.display()
            );
        }
        if runtime::listening(socket) && State::read(socket).is_some() {
            println!(
                "rampart serve: listening on {} (pid {}, log {})",
                socket.display(),
                child.id(),
                log.display()
            );
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!(
        "the background serve did not start listening within 10 s; see {}",
        log.display()
    )
}

fn stop(socket: &Path) -> Result<i32> {
    let Some(state) = State::read(socket) else {
        if runtime::listening(socket) {
            bail!(
                "something listens at {} but left no state file; stop it by hand",
                socket.display()
            );
        }
        println!("rampart serve is not running ({})", socket.display());
        return Ok(1);
    };
    // SAFETY: plain kill(2).
    if unsafe { libc::kill(state.pid, libc::SIGTERM) } != 0 {
        runtime::remove_stale(socket)?;
        println!(
            "rampart serve (pid {}) was not running; removed its stale socket",
            state.pid
        );
        return Ok(0);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        // SAFETY: signal 0 only checks that the pid exists.
        if unsafe { libc::kill(state.pid, 0) } != 0 {
            println!("rampart serve (pid {}) stopped", state.pid);
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("rampart serve (pid {}) did not stop within 10 s", state.pid)
}
