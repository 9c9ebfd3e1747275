//! `rampart`: watch what a program really does, decide each call against a
//! Rampart policy, keep a tamper-evident trail, and learn policies from it.
//!
//! Each subcommand lives in its own module under [`cmd`]; the collector that
//! both interceptors feed is [`collector`].

mod backend;
mod background;
mod child;
mod cmd;
mod collector;
mod floor;
mod policies;
mod progress;
mod runtime;
mod session;
mod trail_input;
mod unhooked;
mod words;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "rampart",
    version,
    about = "Watch what a program really does, decide each call against a policy, keep the trail",
    long_about = "Watch what a program (an AI coding agent, a build, any automation) really does: \
every program it executes, file it opens and connection it makes, across its whole process tree. \
Each call is decided against a Rampart YAML policy and written to a hash-chained audit trail.\n\n\
The journey: `rampart run -- AGENT` (monitor), `rampart init --from-audit` (generate), review, \
`rampart run --mode enforce -- AGENT`."
)]
struct Cli {
    /// Policy file or directory (repeatable) [default: ~/.rampart/policies/
    /// when it holds policies, else the built-in standard policy].
    #[arg(long, global = true, value_name = "PATH")]
    policy: Vec<PathBuf>,
    /// Audit trail directory.
    #[arg(long, global = true, env = "RAMPART_AUDIT_DIR", value_name = "DIR")]
    audit_dir: Option<PathBuf>,
    /// More diagnostics on stderr (repeat for more; RUST_LOG works too).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a command and watch its whole process tree.
    Run(cmd::run::Args),
    /// Decide one call against the policy, as if a program had made it, or
    /// run a test suite (SUITE.yaml, or a policy file's inline tests).
    Test(cmd::test::Args),
    /// Why the policy decides a call as it does: every policy and rule that
    /// matches, with file:line, the one that decides, and what would allow
    /// a refused call (--record ID: a call of the trail).
    Explain(cmd::explain::Args),
    /// Check, lint, list and show policies.
    #[command(subcommand)]
    Policy(cmd::policy::Command),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// Show the audit trail as a table.
    Log(cmd::log::Args),
    /// Write the trail as one self-contained HTML page: the process tree,
    /// a timeline, refusals, files and hosts, what a learned policy allows.
    Report(cmd::report::Args),
    /// Start a policy: learn it from an audit trail (--from-audit), or copy
    /// a shipped one (--registry).
    Init(cmd::init::Args),
    /// Run the collector as a daemon that `rampart run` and preloaded
    /// processes report to (`rampart serve stop` stops it).
    Serve(cmd::serve::Args),
    /// Say whether a `rampart serve` is running, and how.
    Status(cmd::status::Args),
    /// Print the variables that put a shell's children under the running
    /// serve's watch: `eval "$(rampart env)"`.
    Env(cmd::status::Args),
    /// Check that rampart can work here: library, ptrace, seccomp, Landlock,
    /// audit directory, policy, serve.
    Doctor(cmd::doctor::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::completions::Args),
    /// Print the man page (roff): `rampart man | man -l -`.
    Man,
}

/// `rampart __trace-exec ...`: the preload library's hand-off of a static
/// or Go program to the trace backend. Internal: parsed apart from the
/// user's commands, so `--help`, completions and the man page never offer
/// it.
#[derive(Parser, Debug)]
#[command(name = "rampart __trace-exec")]
struct TraceExecCli {
    #[command(flatten)]
    args: cmd::trace_exec::Args,
}

fn main() -> ExitCode {
    let internal = rampart_core::env::TRACE_EXEC.to_str().unwrap_or_default();
    if std::env::args_os().nth(1).is_some_and(|a| a == internal) {
        let internal = TraceExecCli::parse_from(
            std::iter::once("rampart __trace-exec".into()).chain(std::env::args_os().skip(2)),
        );
        init_tracing(0);
        return exit_code(cmd::trace_exec::run(internal.args));
    }
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == unhooked::INTERNAL)
    {
        init_tracing(0);
        return exit_code(unhooked::run_tap());
    }
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    if !matches!(cli.command, Command::Run(_) | Command::Serve(_)) {
        quiet_on_a_closed_pipe();
    }
    let audit_dir = cli.audit_dir.clone().unwrap_or_else(default_audit_dir);
    let result = match cli.command {
        Command::Run(args) => cmd::run::run(args, &cli.policy, &audit_dir),
        Command::Test(args) => cmd::test::run(args, &cli.policy, cli.verbose > 0),
        Command::Explain(args) => cmd::explain::run(args, &cli.policy, &audit_dir),
        Command::Policy(c) => cmd::policy::run(c, &cli.policy),
        Command::Audit(c) => cmd::audit::run(c, &audit_dir),
        Command::Log(args) => cmd::log::run(args, &audit_dir, &cli.policy),
        Command::Init(args) => cmd::init::run(args),
        Command::Report(args) => cmd::report::run(args, &audit_dir),
        Command::Serve(args) => cmd::serve::run(args, &cli.policy, &audit_dir),
        Command::Status(args) => cmd::status::status(args),
        Command::Env(args) => cmd::status::env(args),
        Command::Doctor(args) => cmd::doctor::run(args, &cli.policy, &audit_dir),
        Command::Completions(args) => cmd::completions::completions(args, Cli::command()),
        Command::Man => cmd::completions::man(Cli::command()),
    };
    exit_code(result)
}

/// The process's exit status for a command's result; an error is printed
/// and exits 2.
fn exit_code(result: anyhow::Result<i32>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("rampart: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A command that only prints ends quietly when its reader goes away
/// (`rampart policy show standard | head`), as Unix tools do, instead of
/// panicking on a failed print. Not for `run` and `serve`: their collector
/// writes to sockets whose peer may close at any time, and must never die
/// of it.
fn quiet_on_a_closed_pipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: restoring the default action of one signal, before any thread
    // is started.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

fn default_audit_dir() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
    PathBuf::from(home).join(".rampart/audit")
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a terminal: a log file (a background serve's
        // rampart.log) or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
