//! `rampart run`: watch one command's whole process tree.
//!
//! Starts the collector in process (no daemon, no configuration), runs the
//! command under the backend chosen by [`crate::backend`] (the preload
//! library, or the trace backend in this very process), waits for it, makes
//! sure every event is in the trail, prints a summary on stderr, and exits
//! with the command's status.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arc_swap::ArcSwap;

use crate::backend::sinks::{CollectorSink, Enforce, WireSink};
use crate::backend::{self, Backend};
use crate::child::{self, Outlived};
use crate::collector::guard::Guard;
use crate::collector::inline::Inline;
use crate::collector::{Collector, Config, Mode, Origin, Stats};
use crate::floor::{self, Floor};
use crate::policies;
use crate::runtime::{self, State};
use crate::session;
use crate::unhooked::Tap;
use crate::words::{counted, is_are};
use rampart_core::event::{Outcome, Source};

/// How long `rampart run` keeps listening, after the command exits, for
/// processes it left behind to finish sending.
const GRACE: Duration = Duration::from_secs(1);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// monitor records every call with the policy's verdict and blocks
    /// nothing; enforce blocks what the policy denies.
    /// [default: monitor, or the mode of the running `rampart serve`]
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Which interceptor watches the command: auto picks trace for static,
    /// Go and setuid/setgid programs (scripts: their interpreter), preload
    /// otherwise.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: Backend,
    /// Agent name in the trail [default: the command's basename].
    #[arg(long)]
    pub agent: Option<String>,
    /// Session name in the trail [default: $RAMPART_SESSION, else
    /// <repository>/<branch> of the working directory, else run-<id>].
    #[arg(long)]
    pub session: Option<String>,
    /// The project root that `$PROJECT` in path patterns stands for
    /// [default: the git work tree around the working directory, else the
    /// working directory].
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// When the collector cannot be reached or does not answer in time,
    /// allow the call (the default in enforce mode is to deny it).
    #[arg(long, conflicts_with = "fail_closed")]
    pub fail_open: bool,
    /// When the collector cannot be reached or does not answer in time, deny
    /// the call (the default in enforce mode).
    #[arg(long)]
    pub fail_closed: bool,
    /// How long a call waits for its verdict in enforce mode, in
    /// milliseconds, before --fail-open/--fail-closed decides.
    #[arg(long, default_value_t = rampart_core::env::DEFAULT_TIMEOUT_MS, value_name = "MS")]
    pub decision_timeout: u64,
    /// Print nothing of rampart's own (no summary, no denial lines).
    #[arg(long, short)]
    pub quiet: bool,
    /// In enforce mode, do not start the command under the Landlock floor
    /// derived from the policy (see README: the Landlock floor).
    #[arg(long)]
    pub no_landlock: bool,
    /// Preload backend: watch only what the library's hooks see. The command
    /// then starts without the filter that hands every other call (inline
    /// system calls, libc's own opens, static programs) to rampart, and
    /// static programs it starts go to the trace backend (`__trace-exec`).
    #[arg(long)]
    pub hooks_only: bool,
    /// The command to run, and its arguments. Options of `run` end at `--`
    /// or at the first word that is not one: `rampart run --mdoe x -- cmd`
    /// is an error (with "did you mean"), never a command named `--mdoe`.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

pub fn run(args: Args, policy: &[PathBuf], audit_dir: &Path) -> Result<i32> {
    let backend = backend::choose(args.backend, &args.command[0]);
    let lib = match backend {
        Backend::Trace => None,
        _ => Some(backend::find_preload_library()?),
    };
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let origin = Origin {
        agent: args
            .agent
            .clone()
            .unwrap_or_else(|| session::default_agent(&args.command[0])),
        session: args
            .session
            .clone()
            .unwrap_or_else(|| session::default_session(&cwd)),
        project: Some(project_of(args.project.as_deref(), &cwd)?),
    };
    if let Some(serve) = usable_serve(&args, policy, audit_dir) {
        return run_with_serve(&args, lib.as_deref(), &origin, &serve);
    }
    let mode = args.mode.unwrap_or(Mode::Monitor);
    let (engine, _source) = policies::load(policy)?;
    let engine = Arc::new(ArcSwap::new(engine));
    let floor_of = |needs: &[&Path]| floor_for(&args, mode, Some(&engine.load()), &origin, needs);

    // Before any thread exists, so that every thread inherits the mask.
    child::block_forwarded_signals()?;
    if mode == Mode::Enforce {
        child::no_core_files()?;
    }

    let mut config = Config {
        origin: origin.clone(),
        mode,
        engine: Arc::clone(&engine),
        audit_dir: audit_dir.to_path_buf(),
        print_denials: mode == Mode::Enforce && !args.quiet,
        fail_closed: mode == Mode::Enforce && !args.fail_open,
        guard: Guard::of_state(policy, audit_dir),
    };
    let mut outlived = Outlived::default();
    let (status, stats) = match notified(lib.as_deref(), mode) {
        Some(lib) => {
            // Preloaded processes report here, and so do the tap and
            // `rampart __trace-exec` for the calls the library cannot see.
            let socket_dir = tempfile::Builder::new()
                .prefix("rampart-")
                .tempdir()
                .context("cannot create the collector's socket directory")?;
            let socket = socket_dir.path().join("collector.sock");
            let mut env = child_env_for(lib, &socket, mode.as_str(), Some(&origin));
            env.extend(enforce_env(&args));
            let mut needs = vec![socket_dir.path()];
            needs.extend(lib);
            let floor = floor_of(&needs)?;
            // The tap starts before the collector: it gets ready while the
            // collector does.
            let mut tap = start_tap(&args, lib.is_some(), &mut env, floor.as_ref())?;
            config.guard.protect_socket(&socket);
            let mut collector = Collector::start(config)?;
            collector.listen(socket.clone(), mode == Mode::Enforce)?;
            let confined = child::Confinement {
                floor: floor.as_ref(),
                enforce_refusals: mode == Mode::Enforce,
                unhooked: tap.as_ref().map(Tap::child_fd),
                preloaded: lib.is_some(),
            };
            child::become_subreaper()?;
            // The command's own exec: decided (enforce) and recorded here,
            // as no hook sees it.
            let mut root = child::exec_event(&args.command, &cwd);
            if lib.is_none() {
                root.source = Source::Trace;
            }
            // So are the file it loads when its name leads to another (a
            // link, a script's interpreter) and the program the dynamic
            // loader runs when the command is the loader run as a program,
            // as the hooks decide an exec's. (In monitor mode the tap
            // records them, at the command's first call.)
            let mut loaded = match mode {
                Mode::Enforce => child::loaded_event(&root, &cwd),
                Mode::Monitor => None,
            };
            let mut run_by_loader = match mode {
                Mode::Enforce => child::run_by_loader(&root, loaded.as_ref(), &cwd),
                Mode::Monitor => None,
            };
            let refused = match mode {
                Mode::Enforce if !collector.allows(&root) => Some(root.clone()),
                Mode::Enforce => loaded
                    .take_if(|l| !collector.allows(l))
                    .or_else(|| run_by_loader.take_if(|l| !collector.allows(l))),
                Mode::Monitor => None,
            };
            if let Some(mut refused) = refused {
                refused.outcome = Outcome::Errno(libc::EPERM);
                collector.record_own_call(refused, true)?;
                let stats = collector.finish(GRACE)?;
                if !args.quiet {
                    print_summary(mode, &origin, &stats, Outlived::default());
                }
                eprintln!("rampart: the policy denies running {:?}", args.command[0]);
                return Ok(126);
            }
            let spawned = spawn_watched(&args.command, lib, &env, confined, &mut tap);
            spawned_as(&mut root, &spawned);
            let also: Vec<_> = loaded
                .into_iter()
                .chain(run_by_loader)
                .filter(|_| spawned.is_ok())
                .map(|mut l| {
                    spawned_as(&mut l, &spawned);
                    l
                })
                .collect();
            collector.record_own_call(root, false)?;
            for l in also {
                collector.record_own_call(l, false)?;
            }
            let mut program = match spawned {
                Ok(p) => p,
                Err(e) => {
                    let _ = collector.finish(GRACE);
                    return not_started(e);
                }
            };
            let stop = child::forward_signals(program.id() as i32);
            let status = child::wait(&mut program)?;
            outlived = outlived_command(&args, &stop);
            if let Some(t) = tap {
                t.finish(GRACE);
            }
            (status, collector.finish(GRACE)?)
        }
        None => {
            // The tracer is this thread, and the collector runs on it.
            let enforce = (mode == Mode::Enforce).then(|| enforce_settings(&args));
            let floor = floor_of(&[])?;
            let mut sink = CollectorSink::new(Inline::start(config)?, enforce);
            let status = run_traced(&args, mode, floor.as_ref(), &mut sink);
            let stats = sink.finish();
            match (status, stats) {
                (Ok(status), Ok(stats)) => (status, stats),
                (Err(e), Ok(_)) => return Err(e),
                (Ok(_), Err(e)) => return Err(e),
                (Err(e), Err(trail)) => {
                    bail!("{e:#}; the audit trail failed too: {trail:#}")
                }
            }
        }
    };
    if !args.quiet {
        print_summary(mode, &origin, &stats, outlived);
    } else if stats.lost > 0 {
        eprintln!("rampart: {}", lost_line(stats.lost));
    }
    if let Some(error) = &stats.write_error {
        // The command ran; its trail is not whole: rampart fails the run.
        bail!(
            "the audit trail could not be written ({error}): {} record{} of this run {} not in it{}",
            stats.unwritten,
            if stats.unwritten == 1 { "" } else { "s" },
            if stats.unwritten == 1 { "is" } else { "are" },
            if mode == Mode::Enforce && !args.fail_open {
                "; every call after the failure was refused (--fail-closed)"
            } else {
                ""
            }
        );
    }
    Ok(status)
}

/// The Landlock floor of a run (enforce mode, unless `--no-landlock`):
/// from `engine`, or signals only for a run reporting to a serve.
/// `needs`: what rampart reads in the child besides the policy's grants.
fn floor_for(
    args: &Args,
    mode: Mode,
    engine: Option<&rampart_core::policy::Engine>,
    origin: &Origin,
    needs: &[&Path],
) -> Result<Option<Floor>> {
    if mode != Mode::Enforce || args.no_landlock {
        return Ok(None);
    }
    let exe = std::env::current_exe().ok();
    let path_var = std::env::var_os("PATH");
    // The command itself: the user asked for it to run.
    let command = backend::inspect::resolve(&args.command[0], path_var.as_deref())
        .and_then(|p| std::path::absolute(p).ok());
    let mut files: Vec<&Path> = needs.to_vec();
    files.extend(exe.as_deref());
    files.extend(command.as_deref());
    let needs = floor::Needs {
        files: &files,
        path_var: path_var.as_deref(),
    };
    let floor = Floor::prepare(engine, origin.project.as_deref(), &needs)?;
    if let Some(f) = &floor {
        tracing::info!("{}", f.summary);
    }
    Ok(floor)
}

/// Spawn the command watched by the preload library `lib` (rampart's
/// environment with `env` set) or, without it, by the tap alone (the
/// traced environment, whole); the tap's standby is a helper of rampart's.
fn spawn_watched(
    command: &[OsString],
    lib: Option<&Path>,
    env: &[(String, OsString)],
    confined: child::Confinement,
    tap: &mut Option<Tap>,
) -> Result<std::process::Child> {
    let traced;
    let child_env = match lib {
        Some(_) => child::Env::Added(env),
        None => {
            traced = backend::traced_env();
            child::Env::Whole(&traced)
        }
    };
    let spawned = child::spawn(&command[0], command, child_env, confined);
    if let Some(t) = tap {
        t.spawned().into_iter().for_each(child::add_helper);
    }
    spawned
}

/// The command's own exec record, once it was spawned (or failed to be).
fn spawned_as(root: &mut rampart_core::event::Event, spawned: &Result<std::process::Child>) {
    root.outcome = match spawned {
        Ok(p) => {
            root.pid = p.id() as i32;
            // SAFETY: getpid cannot fail.
            root.ppid = unsafe { libc::getpid() };
            Outcome::Ok
        }
        Err(e) => Outcome::Errno(
            e.downcast_ref::<child::SpawnFailed>()
                .map_or(libc::ENOENT, |f| f.errno),
        ),
    };
}

/// The command did not start: as a shell says it, 127 not found, 126 not
/// runnable.
fn not_started(e: anyhow::Error) -> Result<i32> {
    match e.downcast_ref::<child::SpawnFailed>() {
        Some(f) => {
            eprintln!("rampart: {f}");
            Ok(if f.errno == libc::ENOENT { 127 } else { 126 })
        }
        None => Err(e),
    }
}

/// Whether the command runs under the filter of unhooked calls (and with
/// which library, if any): a preloaded one always, a traced one in monitor
/// mode, where every call of the tree goes to the tap (a tracer that is
/// killed would take the tree with it; a tap has a standby), unless the
/// tree may not have a listener of its own (rampart runs under another
/// rampart, or a container manager that answers calls). `None`: under the
/// ptrace supervisor.
fn notified(lib: Option<&Path>, mode: Mode) -> Option<Option<&Path>> {
    match lib {
        Some(lib) => Some(Some(lib)),
        None if mode == Mode::Monitor && rampart_trace::listener_available() => Some(None),
        None => None,
    }
}

/// Calls no hook sees go to the collector all the same: start the tap
/// that answers the filter of unhooked calls (with the library: unless
/// `--hooks-only`, or where the library has no gadget page), and tell the
/// child's library (in `env`) that its calls are made from the page.
fn start_tap(
    args: &Args,
    preloaded: bool,
    env: &mut Vec<(String, std::ffi::OsString)>,
    floor: Option<&Floor>,
) -> Result<Option<Tap>> {
    if preloaded && (!rampart_core::gadget::SUPPORTED || args.hooks_only) {
        return Ok(None);
    }
    if preloaded && !rampart_trace::listener_available() {
        eprintln!(
            "rampart: this process tree has a seccomp listener already (another rampart, or a \
             container manager): calls past the library's hooks are not watched (as with \
             --hooks-only)"
        );
        return Ok(None);
    }
    env.push((
        rampart_core::env::UNHOOKED.into(),
        rampart_core::env::ON.into(),
    ));
    // Where every call of the tree goes to the tap (no library), it holds
    // the CPU latency request the ptrace supervisor would.
    let hint = !preloaded && backend::trace_options(false)?.cpu_latency_hint;
    let tap = Tap::start(env, floor, preloaded, hint)?;
    child::add_helper(tap.pid());
    Ok(Some(tap))
}

/// The running serve, when this run should report to it: it listens, and
/// the run asks for nothing it does not provide (another policy, mode or
/// audit directory).
fn usable_serve(args: &Args, policy: &[PathBuf], audit_dir: &Path) -> Option<State> {
    let serve = runtime::running_serve()?;
    let same_mode = args.mode.is_none_or(|m| m.as_str() == serve.mode);
    (policy.is_empty() && same_mode && serve.audit_dir == audit_dir).then_some(serve)
}

/// The project root of a run: `--project` (made absolute), else the git
/// work tree around `cwd`, else `cwd`.
pub fn project_of(given: Option<&Path>, cwd: &Path) -> Result<String> {
    let root = match given {
        Some(p) => std::path::absolute(cwd.join(p))
            .with_context(|| format!("--project {}", p.display()))?,
        None => session::project_root(cwd),
    };
    let text = root
        .to_str()
        .with_context(|| format!("the project root {} is not UTF-8", root.display()))?;
    Ok(rampart_core::path::clean(text).into_owned())
}

fn run_with_serve(args: &Args, lib: Option<&Path>, origin: &Origin, serve: &State) -> Result<i32> {
    child::block_forwarded_signals()?;
    let mode = if serve.mode == Mode::Enforce.as_str() {
        Mode::Enforce
    } else {
        Mode::Monitor
    };
    if mode == Mode::Enforce {
        child::no_core_files()?;
    }
    let status = match notified(lib, mode) {
        Some(lib) => {
            let mut env = child_env_for(lib, &serve.socket, &serve.mode, Some(origin));
            env.extend(enforce_env(args));
            let needs: Vec<&Path> = lib.into_iter().collect();
            let floor = floor_for(args, mode, None, origin, &needs)?;
            let mut tap = start_tap(args, lib.is_some(), &mut env, floor.as_ref())?;
            let confined = child::Confinement {
                floor: floor.as_ref(),
                enforce_refusals: mode == Mode::Enforce,
                unhooked: tap.as_ref().map(Tap::child_fd),
                preloaded: lib.is_some(),
            };
            let spawned = spawn_watched(&args.command, lib, &env, confined, &mut tap);
            if lib.is_none() {
                // No hook sees the command's own exec, and the tap leaves
                // it to this process: reported here.
                let cwd = std::env::current_dir().unwrap_or_default();
                let mut root = child::exec_event(&args.command, &cwd);
                root.source = Source::Trace;
                spawned_as(&mut root, &spawned);
                let (mut sink, _) =
                    WireSink::connect(&serve.socket, &origin.agent, &origin.session, None);
                rampart_trace::Sink::record(&mut sink, root);
            }
            let mut program = match spawned {
                Ok(p) => p,
                Err(e) => return not_started(e),
            };
            child::forward_signals(program.id() as i32);
            let status = child::wait(&mut program)?;
            if let Some(t) = tap {
                t.finish(GRACE);
            }
            status
        }
        None => {
            let enforce = (mode == Mode::Enforce).then(|| enforce_settings(args));
            let (mut sink, connected) =
                WireSink::connect(&serve.socket, &origin.agent, &origin.session, enforce);
            if let Err(e) = connected {
                tracing::warn!(
                    "cannot reach rampart serve at {}: {e}",
                    serve.socket.display()
                );
            }
            let floor = floor_for(args, mode, None, origin, &[])?;
            let status = run_traced(args, mode, floor.as_ref(), &mut sink)?;
            sink.report_lost();
            if sink.lost > 0 {
                eprintln!(
                    "rampart: {} calls could not be reported to rampart serve, nor their count",
                    sink.lost
                );
            }
            status
        }
    };
    if !args.quiet {
        eprintln!(
            "rampart: reported to rampart serve (pid {}, {} mode) at {}; agent {}, session {}\n  trail in {} (rampart log)",
            serve.pid,
            serve.mode,
            serve.socket.display(),
            origin.agent,
            origin.session,
            serve.audit_dir.display()
        );
    }
    Ok(status)
}

/// Run the command under the trace backend on this thread, reporting to
/// `sink`; its status as a shell shows it.
fn run_traced(
    args: &Args,
    mode: Mode,
    floor: Option<&Floor>,
    sink: &mut dyn rampart_trace::Sink,
) -> Result<i32> {
    let mut opts = backend::trace_options(mode == Mode::Enforce)?;
    opts.child_setup = floor.map(|f| (floor::enter as fn(i32) -> i32, f.raw_fd()));
    let env = backend::traced_env();
    let argv0 = &args.command[0];
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_os_str());
    if backend::inspect::resolve(argv0, path).is_none_or(|p| !p.exists()) {
        eprintln!("rampart: {}: command not found", argv0.to_string_lossy());
        return Ok(127);
    }
    let report = backend::run_traced(None, &args.command, &env, &opts, sink)?;
    Ok(report.status)
}

/// How the trace backend waits for verdicts in enforce mode.
fn enforce_settings(args: &Args) -> Enforce {
    Enforce {
        timeout: Duration::from_millis(args.decision_timeout),
        fail_open: args.fail_open,
    }
}

/// The environment that puts a command under watch: the library preloaded
/// (ahead of any LD_PRELOAD already set), the collector's socket, the mode,
/// the rampart binary (`RAMPART_BIN`: the library hands static programs to
/// its `__trace-exec`), and the agent and session when they are known.
pub fn child_env_for(
    lib: Option<&Path>,
    socket: &Path,
    mode: &str,
    origin: Option<&Origin>,
) -> Vec<(String, OsString)> {
    let mut env = Vec::new();
    if let Some(lib) = lib {
        let mut preload = OsString::from(lib);
        if let Some(existing) = std::env::var_os("LD_PRELOAD") {
            if !existing.is_empty() {
                preload.push(":");
                preload.push(existing);
            }
        }
        env.push(("LD_PRELOAD".into(), preload));
    }
    env.extend([
        (rampart_core::env::SOCKET.into(), socket.into()),
        (rampart_core::env::MODE.into(), mode.into()),
    ]);
    if mode == Mode::Enforce.as_str() {
        // Only an enforcing library reads what the policy can refuse.
        env.push((
            rampart_core::env::POLICY_GEN.into(),
            crate::collector::policy_gen::path_for(socket).into(),
        ));
    }
    if let Ok(bin) = std::env::current_exe() {
        env.push((rampart_core::env::BIN.into(), bin.into()));
    }
    if let Some(o) = origin {
        env.push((rampart_core::env::AGENT.into(), o.agent.clone().into()));
        env.push((rampart_core::env::SESSION.into(), o.session.clone().into()));
    }
    env
}

/// How an enforcing hook behaves when no verdict comes.
fn enforce_env(args: &Args) -> Vec<(String, OsString)> {
    vec![
        (
            rampart_core::env::FAIL_OPEN.into(),
            if args.fail_open {
                rampart_core::env::ON
            } else {
                rampart_core::env::OFF
            }
            .into(),
        ),
        (
            rampart_core::env::DECISION_TIMEOUT_MS.into(),
            args.decision_timeout.to_string().into(),
        ),
    ]
}

/// After the command ended: record the processes it left running
/// (daemons, `nohup`, `setsid`) until they exit, or until rampart is told
/// to stop waiting (Ctrl-C, SIGTERM, SIGHUP).
fn outlived_command(args: &Args, stop: &AtomicBool) -> Outlived {
    let running = child::descendants().len();
    if running == 0 {
        return Outlived::default();
    }
    if !args.quiet {
        eprintln!(
            "rampart: the command exited; recording the {running} process{} it left running \
             until {} (Ctrl-C stops waiting)",
            if running == 1 { "" } else { "es" },
            if running == 1 {
                "it exits"
            } else {
                "they exit"
            },
        );
    }
    Outlived {
        running,
        left: child::linger(stop),
    }
}

/// The warning for calls the trail does not hold (printed even with --quiet).
fn lost_line(lost: u64) -> String {
    format!(
        "{} never reached the collector and {} not in the trail \
         (its `lost` records say where)",
        counted(lost, "call"),
        is_are(lost)
    )
}

fn print_summary(mode: Mode, origin: &Origin, stats: &Stats, o: Outlived) {
    let mut out = String::new();
    out.push_str(&format!(
        "rampart: {} mode, agent {}, session {}\n",
        mode.as_str(),
        origin.agent,
        origin.session
    ));
    let mut tools: Vec<&str> = stats.by_tool.keys().map(|(t, _)| t.as_str()).collect();
    tools.dedup();
    for tool in tools {
        let parts: Vec<String> = stats
            .by_tool
            .iter()
            .filter(|((t, _), _)| t == tool)
            .map(|((_, d), n)| format!("{n} {d}"))
            .collect();
        out.push_str(&format!("  {tool:<6} {}\n", parts.join(", ")));
    }
    if stats.malformed > 0 {
        out.push_str(&format!(
            "  {} malformed frames were not recorded (see -v)\n",
            stats.malformed
        ));
    }
    if stats.lost > 0 {
        out.push_str(&format!("  {}\n", lost_line(stats.lost)));
    }
    for w in &stats.cut_off {
        out.push_str(&format!(
            "  an earlier run (pid {}, started {}) was killed before it closed the trail: \
             what its command did after its last record is not in it (noted as `lost`)\n",
            w.pid, w.started
        ));
    }
    if o.running > 0 {
        out.push_str(&format!(
            "  {} outlived the command; {}\n",
            counted(o.running as u64, "process"),
            match o.left {
                0 if o.running == 1 => "recorded until it exited".to_string(),
                0 => "recorded until they exited".to_string(),
                n => format!("{n} still running, no longer recorded"),
            }
        ));
    }
    match &stats.audit_file {
        Some(f) => out.push_str(&format!(
            "  {} in {}\n",
            counted(stats.records, "record"),
            f.display()
        )),
        None => out.push_str("  nothing was recorded\n"),
    }
    eprint!("{out}");
}
