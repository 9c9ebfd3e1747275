//! `rampart log`: the audit trail as a readable table (or JSON lines),
//! filtered, and followed as it grows (`--follow`, across rotation).
//!
//! Filters never guess: an unknown `--tool` or `--decision` is an error with
//! the closest known value, and `--path` is a policy path glob (the engine's
//! own matcher), so a pattern that selects records here selects the same
//! calls in a policy.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::builder::PossibleValuesParser;
use rampart_core::audit::{Follower, Record, LOST_TOOL};
use rampart_core::policy::glob::{Glob, GlobKind};

use crate::trail_input::TrailInput;

/// Tools a trail holds: rampart's own, its `lost` records, and the tools of
/// Go Rampart's agent integrations (their trails can be read too).
const TOOLS: &[&str] = &[
    "exec",
    "read",
    "write",
    "net",
    LOST_TOOL,
    "edit",
    "fetch",
    "web_fetch",
    "web_search",
    "mcp",
    "browser",
    "message",
];

/// How often `--follow` looks for new records.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only records at or after this: a duration back from now (30m, 24h,
    /// 7d, 2w) or a date or time (2026-03-01, RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Only this tool.
    #[arg(long, value_parser = PossibleValuesParser::new(TOOLS))]
    pub tool: Option<String>,
    /// Only this decision (the policy's verdict).
    #[arg(long, value_parser = PossibleValuesParser::new(["allow", "deny", "watch", "ask"]))]
    pub decision: Option<String>,
    /// Only this agent.
    #[arg(long)]
    pub agent: Option<String>,
    /// Only this session.
    #[arg(long)]
    pub session: Option<String>,
    /// Only calls of this process.
    #[arg(long)]
    pub pid: Option<i64>,
    /// Only calls whose path (or a mutation's second path, or the file an
    /// open reached) matches this policy path glob (`**/.ssh/**`).
    #[arg(long, value_name = "GLOB")]
    pub path: Option<String>,
    /// Only the last N matching records (of those already written, with
    /// --follow).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Keep running and print records as they are written (like `tail -f`,
    /// across the trail's rotation), until interrupted.
    #[arg(long, short)]
    pub follow: bool,
    /// Print the records as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Under each record, why the policy in force now decides that call as
    /// it does: the policy and its file:line, or the default (`rampart
    /// explain --record ID` says it in full).
    #[arg(long)]
    pub explain: bool,
    /// Trails to read instead of the audit directory: directories, `.jsonl`
    /// files, compressed `.jsonl.gz`/`.jsonl.zst` files (a fleet's shipped
    /// logs), `-` for standard input.
    pub paths: Vec<PathBuf>,
}

/// What a record must be to be shown.
struct Filter {
    since: Option<String>,
    tool: Option<String>,
    decision: Option<String>,
    agent: Option<String>,
    session: Option<String>,
    pid: Option<i64>,
    path: Option<Glob>,
}

impl Filter {
    fn of(args: &Args) -> Result<Filter> {
        let since = super::since_timestamp(args.since.as_deref())?;
        let path = match &args.path {
            Some(p) => Some(
                Glob::new(p, GlobKind::Path).map_err(|e| anyhow::anyhow!("--path {p:?}: {e}"))?,
            ),
            None => None,
        };
        Ok(Filter {
            since,
            tool: args.tool.clone(),
            decision: args.decision.clone(),
            agent: args.agent.clone(),
            session: args.session.clone(),
            pid: args.pid,
            path,
        })
    }

    fn keeps(&self, rec: &Record) -> bool {
        let text = |k: &str| rec.request.get(k).and_then(|v| v.as_str());
        // RFC 3339 UTC timestamps of equal precision sort as text.
        self.since
            .as_ref()
            .is_none_or(|s| rec.timestamp.as_str() >= s.as_str())
            && self.tool.as_ref().is_none_or(|t| *t == rec.tool)
            && self
                .decision
                .as_ref()
                .is_none_or(|d| *d == rec.decision.action)
            && self.agent.as_ref().is_none_or(|a| *a == rec.agent)
            && self.session.as_ref().is_none_or(|s| *s == rec.session)
            && self
                .pid
                .is_none_or(|p| rec.request.get("pid").and_then(|v| v.as_i64()) == Some(p))
            && self.path.as_ref().is_none_or(|g| {
                ["path", "new_path", "resolved"]
                    .iter()
                    .filter_map(|k| text(k))
                    .any(|p| g.is_match(p))
            })
    }
}

pub fn run(args: Args, audit_dir: &Path, policy: &[PathBuf]) -> Result<i32> {
    let filter = Filter::of(&args)?;
    let engine = match args.explain {
        true => Some(crate::policies::load(policy)?.0),
        false => None,
    };
    // A path given that is not there is a typo, not an empty trail.
    if let Some(missing) = args
        .paths
        .iter()
        .find(|p| p.as_os_str() != "-" && !p.exists())
    {
        bail!("{}: no such file or directory", missing.display());
    }
    let given = if args.paths.is_empty() {
        vec![audit_dir.to_path_buf()]
    } else {
        args.paths.clone()
    };
    let input = TrailInput::open(&given)?;
    if args.follow && input.is_copy() {
        bail!("--follow reads trails as they are written: not compressed files or standard input");
    }
    let mut follower = Follower::of(&input.paths);
    let mut issues = 0;
    let mut out = std::io::stdout().lock();
    let print = |rec: &Record, out: &mut std::io::StdoutLock| -> Result<bool> {
        let why = engine.as_ref().map(|e| crate::cmd::explain::why(e, rec));
        let line = match (args.json, why) {
            (true, None) => serde_json::to_string(rec)?,
            (true, Some(why)) => {
                let mut v = serde_json::to_value(rec)?;
                v["why"] = why.into();
                v.to_string()
            }
            (false, None) => row(rec),
            (false, Some(why)) => format!("{}\n    why: {why}", row(rec)),
        };
        // A reader that went away (`rampart log | head`) ends the listing.
        Ok(writeln!(out, "{line}").and_then(|_| out.flush()).is_ok())
    };
    let mut first = true;
    loop {
        let batch = follower.poll().context("cannot read the trail")?;
        let mut shown: VecDeque<Record> = VecDeque::new();
        for item in batch {
            match item {
                Ok((_, rec)) if filter.keeps(&rec) => {
                    shown.push_back(rec);
                    if first && args.limit.is_some_and(|n| shown.len() > n) {
                        shown.pop_front();
                    }
                }
                Ok(_) => {}
                Err(issue) => {
                    eprintln!("rampart: {}", input.show(&issue.to_string()));
                    issues += 1;
                }
            }
        }
        for rec in &shown {
            if !print(rec, &mut out)? {
                return Ok(0);
            }
        }
        first = false;
        if !args.follow {
            for issue in follower.torn() {
                eprintln!("rampart: {}", input.show(&issue.to_string()));
                issues += 1;
            }
            break;
        }
        std::thread::sleep(FOLLOW_EVERY);
    }
    Ok(if issues > 0 { 1 } else { 0 })
}

fn icon(verdict: &str) -> &'static str {
    match verdict {
        "allow" => "✓",
        "deny" => "✗",
        "would deny" => "!",
        "watch" => "👁",
        "ask" | "would ask" => "?",
        _ => " ",
    }
}

/// One table row: icon, time, tool, what, policy.
fn row(rec: &Record) -> String {
    let time = rec
        .timestamp
        .get(..19)
        .unwrap_or(&rec.timestamp)
        .replace('T', " ");
    let r = &rec.request;
    let text = |k: &str| r.get(k).and_then(|v| v.as_str());
    let mut what = ["command", "path", "url", "file_path", "address"]
        .iter()
        .find_map(|k| text(k))
        .unwrap_or("")
        .to_string();
    // A `lost` record says what it stands for.
    if rec.lost_count().is_some() {
        what = rec.decision.message.clone();
    }
    // A mutation: `rename /a -> /b`, `symlink /l -> target`.
    if let Some(op) = text("op") {
        what = format!("{op} {what}");
        if let Some(second) = text("new_path").or_else(|| text("target")) {
            what = format!("{what} -> {second}");
        }
    }
    let outcome = match r.get("outcome").and_then(|v| v.as_str()) {
        Some(o) if o != "ok" => format!(" ({o})"),
        _ => String::new(),
    };
    let policy = rec.decision.matched_policies.join(",");
    format!(
        "{} {:<10} {} {:<5} {}{}  {}",
        icon(rec.verdict()),
        rec.verdict(),
        time,
        rec.tool,
        what,
        outcome,
        policy
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mutation_row_names_its_op_and_paths() {
        let mut rec = Record {
            timestamp: "2026-01-02T03:04:05.123Z".into(),
            tool: "write".into(),
            ..Record::default()
        };
        rec.decision.action = "deny".into();
        rec.decision.matched_policies = vec!["guard".into()];
        for (k, v) in [
            ("op", "rename"),
            ("path", "/w/a"),
            ("new_path", "/w/b"),
            ("outcome", "EACCES"),
        ] {
            rec.request.insert(k.into(), v.into());
        }
        assert_eq!(
            row(&rec),
            "✗ deny       2026-01-02 03:04:05 write rename /w/a -> /w/b (EACCES)  guard"
        );
    }
}
