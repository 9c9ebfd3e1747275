//! `rampart log`: the audit trail as a readable table.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use rampart_core::audit::{Reader, Record};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only records at or after this: a duration back from now (30m, 24h,
    /// 7d, 2w) or a date or time (2026-03-01, RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Only this tool (exec, read, write, net, ...).
    #[arg(long)]
    pub tool: Option<String>,
    /// Only this decision (allow, deny, watch, ask).
    #[arg(long)]
    pub decision: Option<String>,
    /// Print the records as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, audit_dir: &Path) -> Result<i32> {
    let since = match &args.since {
        Some(s) => Some(
            rampart_core::generate::parse_when(s, chrono::Utc::now())
                .map_err(|e| anyhow::anyhow!("--since {s:?}: {e}"))?
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        ),
        None => None,
    };
    let reader = Reader::open(&[audit_dir.to_path_buf()])
        .with_context(|| format!("cannot read the trail in {}", audit_dir.display()))?;
    let mut issues = 0;
    let mut out = std::io::stdout().lock();
    for item in reader {
        let (_, rec) = match item {
            Ok(r) => r,
            Err(issue) => {
                eprintln!("rampart: {issue}");
                issues += 1;
                continue;
            }
        };
        if let Some(s) = &since {
            // RFC 3339 UTC timestamps of equal precision sort as text.
            if rec.timestamp.as_str() < s.as_str() {
                continue;
            }
        }
        if args.tool.as_ref().is_some_and(|t| *t != rec.tool) {
            continue;
        }
        if args
            .decision
            .as_ref()
            .is_some_and(|d| *d != rec.decision.action)
        {
            continue;
        }
        let line = if args.json {
            serde_json::to_string(&rec)?
        } else {
            row(&rec)
        };
        // A reader that went away (`rampart log | head`) ends the listing.
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    Ok(if issues > 0 { 1 } else { 0 })
}

fn icon(action: &str) -> &'static str {
    match action {
        "allow" => "✓",
        "deny" => "✗",
        "watch" => "👁",
        "ask" => "?",
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
        "{} {:<5} {} {:<5} {}{}  {}",
        icon(&rec.decision.action),
        rec.decision.action,
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
            "✗ deny  2026-01-02 03:04:05 write rename /w/a -> /w/b (EACCES)  guard"
        );
    }
}
