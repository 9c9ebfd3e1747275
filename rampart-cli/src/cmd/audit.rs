//! `rampart audit`: check the hash chain of the trail (`verify`), and sum
//! it up (`stats`: calls by tool, verdict and program, top paths and hosts).

use std::collections::BTreeMap;
use std::path::Path;

use std::path::PathBuf;

use anyhow::{Context, Result};
use rampart_core::audit::{self, Reader, Record};

use crate::trail_input::TrailInput;
use crate::words::{counted, is_are};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Verify the whole chain across files and rotations (Go Rampart's
    /// trails included). On failure, name the first bad record (file:line)
    /// and why, and exit 1; a torn record (a write that did not finish)
    /// is named too, and so are `lost` records (calls the trail does not
    /// hold): both exit 1.
    Verify {
        /// Trails to verify instead of the audit directory: directories,
        /// `.jsonl` files, compressed `.jsonl.gz`/`.jsonl.zst` files, `-`
        /// for standard input.
        paths: Vec<PathBuf>,
    },
    /// Sum the trail up: calls by tool, by verdict (as it happened: `would
    /// deny` in monitor mode) and by program, the most used paths and
    /// hosts, and the calls it does not hold (`lost`).
    Stats {
        /// Only records at or after this: a duration back from now (30m,
        /// 24h, 7d) or a date or time.
        #[arg(long)]
        since: Option<String>,
        /// How many paths and hosts to list.
        #[arg(long, default_value_t = 10, value_name = "N")]
        top: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Trails to read instead of the audit directory (as for verify).
        paths: Vec<PathBuf>,
    },
}

/// The trails a command reads: the ones given, else the audit directory.
fn trails(given: &[PathBuf], audit_dir: &Path) -> Result<TrailInput> {
    if given.is_empty() {
        TrailInput::open(&[audit_dir.to_path_buf()])
    } else {
        TrailInput::open(given)
    }
}

pub fn run(cmd: Command, audit_dir: &Path) -> Result<i32> {
    match cmd {
        Command::Stats {
            since,
            top,
            json,
            paths,
        } => stats(&trails(&paths, audit_dir)?, since.as_deref(), top, json),
        Command::Verify { paths } => {
            verify(&trails(&paths, audit_dir)?, audit_dir, paths.is_empty())
        }
    }
}

fn verify(input: &TrailInput, audit_dir: &Path, is_audit_dir: bool) -> Result<i32> {
    let shown = if is_audit_dir {
        audit_dir.display().to_string()
    } else {
        "the given trails".to_string()
    };
    {
        let progress = crate::progress::Progress::start(&input.paths, "verify");
        let verified = audit::verify_with(&input.paths, Some(progress.counter()));
        progress.finish();
        match verified {
            Ok(report) => {
                // A torn record (a write that did not finish) is not a
                // broken chain, but the trail does not hold that record;
                // nor does it hold the calls its `lost` records count.
                for t in &report.torn {
                    println!(
                        "{}:{}: the record there is torn: a write that did not finish \
                         (the writer was killed, or the disk filled); it is not in the trail",
                        input.show(&t.file.display().to_string()),
                        t.line
                    );
                }
                if report.lost > 0 {
                    println!(
                        "{} {} not in the trail: its `lost` records count them \
                         (see `rampart log --tool lost`)",
                        counted(report.lost, "call"),
                        is_are(report.lost)
                    );
                }
                for gap in &report.cut_off {
                    println!("{gap}");
                }
                let complete =
                    report.torn.is_empty() && report.lost == 0 && report.cut_off.is_empty();
                println!(
                    "{}{} in {}, chain intact{} ({})",
                    if complete { "ok: " } else { "" },
                    counted(report.records, "record"),
                    counted(report.files as u64, "file"),
                    if report.torn.is_empty() {
                        ""
                    } else {
                        " up to the torn record"
                    },
                    shown
                );
                Ok(if complete { 0 } else { 1 })
            }
            Err(failure) => {
                println!("{}", input.show(&failure.to_string()));
                Ok(1)
            }
        }
    }
}

/// Counts of one trail, for `audit stats`.
#[derive(Default)]
struct Stats {
    records: u64,
    lost: u64,
    by_tool: BTreeMap<String, u64>,
    by_verdict: BTreeMap<String, u64>,
    by_program: BTreeMap<String, u64>,
    paths: BTreeMap<String, u64>,
    hosts: BTreeMap<String, u64>,
}

impl Stats {
    fn add(&mut self, rec: &Record) {
        self.records += 1;
        if let Some(n) = rec.lost_count() {
            self.lost += n;
            return;
        }
        let text = |k: &str| rec.request.get(k).and_then(|v| v.as_str());
        *self.by_tool.entry(rec.tool.clone()).or_default() += 1;
        *self
            .by_verdict
            .entry(rec.verdict().to_string())
            .or_default() += 1;
        // The program that made the call: the one an exec starts, else the caller.
        let program = match rec.tool.as_str() {
            "exec" => text("path").or_else(|| text("exe")),
            _ => text("exe"),
        };
        if let Some(p) = program {
            *self.by_program.entry(p.to_string()).or_default() += 1;
        }
        // The loader's and libc's own opens (past the hooks) would crowd
        // out what the program itself touched.
        if rec.tool != "exec" && text("source") != Some("unhooked") {
            if let Some(p) = text("path") {
                *self.paths.entry(p.to_string()).or_default() += 1;
            }
        }
        if let Some(h) = text("domain")
            .filter(|d| !d.is_empty())
            .or_else(|| text("address"))
        {
            *self.hosts.entry(h.to_string()).or_default() += 1;
        }
    }
}

/// The `n` largest counts, largest first (ties by name).
fn top(map: &BTreeMap<String, u64>, n: usize) -> Vec<(&str, u64)> {
    let mut v: Vec<(&str, u64)> = map.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.truncate(n);
    v
}

fn stats(input: &TrailInput, since: Option<&str>, n: usize, json: bool) -> Result<i32> {
    let since = super::since_timestamp(since)?;
    let reader = Reader::open(&input.paths).context("cannot read the trail")?;
    let mut s = Stats::default();
    let mut issues = 0;
    for item in reader {
        match item {
            Ok((_, rec)) => {
                if since
                    .as_ref()
                    .is_none_or(|t| rec.timestamp.as_str() >= t.as_str())
                {
                    s.add(&rec);
                }
            }
            Err(issue) => {
                eprintln!("rampart: {issue}");
                issues += 1;
            }
        }
    }
    if json {
        let pairs = |v: Vec<(&str, u64)>| -> Vec<serde_json::Value> {
            v.into_iter()
                .map(|(k, c)| serde_json::json!({"name": k, "count": c}))
                .collect()
        };
        let v = serde_json::json!({
            "records": s.records,
            "lost": s.lost,
            "by_tool": s.by_tool,
            "by_verdict": s.by_verdict,
            "by_program": pairs(top(&s.by_program, n)),
            "top_paths": pairs(top(&s.paths, n)),
            "top_hosts": pairs(top(&s.hosts, n)),
        });
        println!("{v}");
    } else {
        let shown: Vec<String> = input
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        println!("{} in {}", counted(s.records, "record"), shown.join(", "));
        if s.lost > 0 {
            println!("{} not in the trail (lost)", counted(s.lost, "call"));
        }
        let section = |title: &str, rows: Vec<(&str, u64)>| {
            if rows.is_empty() {
                return;
            }
            println!("{title}:");
            for (k, c) in rows {
                println!("  {c:>8}  {k}");
            }
        };
        section("by tool", top(&s.by_tool, usize::MAX));
        section("by verdict", top(&s.by_verdict, usize::MAX));
        section("by program", top(&s.by_program, n));
        section("top paths", top(&s.paths, n));
        section("top hosts", top(&s.hosts, n));
    }
    Ok(if issues > 0 { 1 } else { 0 })
}
