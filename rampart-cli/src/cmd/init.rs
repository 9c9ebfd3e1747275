//! `rampart init`: start a policy — learned from an audit trail
//! (`--from-audit`), or copied from the shipped ones (`--registry`).
//!
//! Reading and writing files is done here; what the policy says is decided
//! by `rampart_core::generate`. Nothing is written on `--dry-run`, nothing
//! existing is replaced without `--force` or `--merge`, and a policy is
//! written whole (temporary file, then rename) or not at all.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rampart_core::audit::scan;
use rampart_core::generate::trail::{self, TrailError};
use rampart_core::generate::{self, GenerateError, Options};

use crate::policies;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["from_audit", "registry"])))]
pub struct Args {
    /// Audit files or directories (every *.jsonl inside, in chain order) to
    /// learn from; trails of Go Rampart work too; compressed rotated files
    /// (`.jsonl.gz`, `.jsonl.zst`) and `-` for standard input as well.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub from_audit: Vec<PathBuf>,
    /// Write a shipped policy to start from (without NAME: list them).
    #[arg(long, alias = "profile", num_args = 0..=1, value_name = "NAME", default_missing_value = "")]
    pub registry: Option<String>,
    /// Only records at or after this: 30m, 24h, 7d, 2w, 2026-03-01 or RFC 3339.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only records before this (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only records of agents matching this glob.
    #[arg(long, value_name = "GLOB")]
    pub agent: Option<String>,
    /// Only records of sessions matching this glob.
    #[arg(long, value_name = "GLOB")]
    pub session: Option<String>,
    /// Print the policy on stdout and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where to write the policy [default: ~/.rampart/policies/generated.yaml,
    /// or NAME.yaml there for --registry].
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Absorb the new observations into this earlier generated policy:
    /// rules are only added or widened where a new call needs it.
    #[arg(long, value_name = "FILE", conflicts_with = "registry")]
    pub merge: Option<PathBuf>,
    /// Learn from the trail without verifying its hash chain (a trail that
    /// does not verify is refused, naming the first bad record).
    #[arg(long)]
    pub no_verify: bool,
    /// Learn denied calls that match too: TOOL:PATTERN, a glob over the
    /// command, path or URL (`exec:git push origin *`, `read:~/.config/app/**`).
    /// For accepting, after review, what monitor mode said it would deny.
    #[arg(long, value_name = "TOOL:PATTERN")]
    pub include_denied: Vec<String>,
}

pub fn run(args: Args) -> Result<i32> {
    if let Some(name) = &args.registry {
        return registry(name, &args);
    }
    from_audit(&args)
}

fn policy_dir() -> Result<PathBuf> {
    policies::user_dir().context("HOME is not set: give --output")
}

fn registry(name: &str, args: &Args) -> Result<i32> {
    if name.is_empty() {
        for p in policies::SHIPPED {
            println!("{:<11} {}", p.name, p.summary);
        }
        println!("\nrampart init --registry NAME writes one to ~/.rampart/policies/NAME.yaml");
        return Ok(0);
    }
    let Some(p) = policies::shipped(name) else {
        let names: Vec<&str> = policies::SHIPPED.iter().map(|p| p.name).collect();
        bail!(
            "no shipped policy is called {name:?} (there are: {})",
            names.join(", ")
        );
    };
    if args.dry_run {
        print!("{}", p.yaml);
        return Ok(0);
    }
    let out = match &args.output {
        Some(o) => o.clone(),
        None => policy_dir()?.join(format!("{name}.yaml")),
    };
    write_new(&out, p.yaml, args.force)?;
    eprintln!("rampart: wrote the {name} policy to {}", out.display());
    Ok(0)
}

fn from_audit(args: &Args) -> Result<i32> {
    let now = chrono::Utc::now();
    let when = |flag: &str, v: &Option<String>| -> Result<_> {
        v.as_deref()
            .map(|s| generate::parse_when(s, now).map_err(|e| anyhow::anyhow!("{flag} {s:?}: {e}")))
            .transpose()
    };
    let out = match &args.output {
        Some(o) => o.clone(),
        None => match &args.merge {
            Some(m) => m.clone(),
            None => policy_dir()?.join("generated.yaml"),
        },
    };
    if !args.dry_run && args.merge.is_none() && out.exists() && !args.force {
        bail!(
            "{} exists: use --force to replace it, or --merge {} to add to it",
            out.display(),
            out.display()
        );
    }
    let opts = Options {
        // Policy names come from the agent learned from (Options).
        home: std::env::var("HOME").ok().filter(|h| !h.is_empty()),
        since: when("--since", &args.since)?,
        until: when("--until", &args.until)?,
        agent: args.agent.clone(),
        session: args.session.clone(),
        include_denied: args.include_denied.clone(),
        ..Options::default()
    };
    // One pass: every line read once, the chain checked as it is read
    // (learn only from evidence that holds together).
    // Compressed rotated files and standard input are read as plain trails.
    let input = crate::trail_input::TrailInput::open(&args.from_audit)?;
    let progress = crate::progress::Progress::start(&input.paths, "learn");
    let learned = trail::learn(
        &input.paths,
        &opts,
        !args.no_verify,
        scan::default_threads(),
        Some(progress.counter()),
    );
    progress.finish();
    let (g, report) = match learned {
        Ok(r) => r,
        Err(TrailError::Chain(failure)) if failure.line > 0 => bail!(
            "the trail does not verify, so nothing was learned: {}\n\
             (`rampart audit verify` says the same; --no-verify learns from it anyway)",
            input.show(&failure.to_string())
        ),
        Err(TrailError::Chain(failure)) => bail!(
            "cannot read the audit trail: {}",
            input.show(&failure.to_string())
        ),
        Err(e) => bail!("{e}"),
    };
    if report.chain.files == 0 {
        bail!("no *.jsonl audit files in {}", join(&args.from_audit));
    }
    for u in &report.unreadable {
        eprintln!("rampart: {}: unreadable record skipped: {}", u.at, u.why);
    }
    let unlisted = report.unreadable_count - report.unreadable.len() as u64;
    if unlisted > 0 {
        eprintln!("rampart: {unlisted} more unreadable lines not listed");
    }
    for t in &report.chain.torn {
        eprintln!("rampart: {t}: torn last line skipped");
    }
    let result = match &args.merge {
        Some(m) => {
            let existing = std::fs::read_to_string(m)
                .with_context(|| format!("cannot read {}", m.display()))?;
            generate::merge(&existing, &m.display().to_string(), g)
        }
        None => g.finish(),
    };
    let generated = match result {
        Ok(g) => g,
        Err(GenerateError::Replay(g)) => {
            eprint!("{}", g.summary);
            bail!("{}", GenerateError::Replay(g));
        }
        Err(e) => bail!("{e}"),
    };
    eprintln!("files: {}", report.chain.files);
    eprint!("{}", generated.summary);
    if generated.summary.learned == 0 {
        bail!(
            "nothing was learned from {} ({} records read, none an allowed call that \
             succeeded in the chosen window): no policy written",
            join(&args.from_audit),
            generated.summary.records
        );
    }
    if args.dry_run {
        print!("{}", generated.yaml);
        return Ok(0);
    }
    write_new(&out, &generated.yaml, true)?;
    eprintln!(
        "rampart: wrote {}; review it, then `rampart policy lint {}`",
        out.display(),
        out.display()
    );
    // The default policy directory is what every later run loads.
    if policy_dir().is_ok_and(|d| out.parent() == Some(d.as_path())) {
        eprintln!(
            "rampart: it is in {}, so every `rampart run` without --policy now uses it \
             (enforce it with --mode enforce; move it out to stop using it)",
            out.parent()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        );
    }
    Ok(0)
}

/// Write `text` to `out` whole: a temporary file beside it, then a rename.
fn write_new(out: &Path, text: &str, replace: bool) -> Result<()> {
    if out.exists() && !replace {
        bail!("{} exists: use --force to replace it", out.display());
    }
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::fs::write(tmp.path(), text)
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    tmp.persist(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
