//! `rampart report`: the trail as one self-contained HTML page to look at:
//! the process tree with what each process did, a timeline, the refusals
//! with the rule that gave them, the files and hosts touched, and the
//! policy `init --from-audit` would learn from it.
//!
//! The page holds everything it shows: no network, no external script or
//! style; a few lines of inline script filter the timeline. Every value
//! from the trail is HTML-escaped. It reads the trail and writes one file
//! (whole, renamed into place); it changes nothing else.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rampart_core::audit::{Reader, Record};
use rampart_core::generate::trail;
use rampart_core::generate::Options;

/// Calls listed under one process at most (the rest are counted).
const CALLS_PER_PROCESS: usize = 200;
/// Rows of the timeline at most (the rest are counted).
const TIMELINE_ROWS: usize = 5000;
/// Paths and hosts listed.
const TOP: usize = 50;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only records at or after this: a duration back from now (30m, 24h,
    /// 7d) or a date or time.
    #[arg(long)]
    pub since: Option<String>,
    /// Where to write the page.
    #[arg(
        long,
        short,
        default_value = "rampart-report.html",
        value_name = "FILE"
    )]
    pub output: PathBuf,
}

/// One process of the tree and what it did.
#[derive(Default)]
struct Proc {
    ppid: i64,
    exe: String,
    calls: Vec<usize>,
    by_tool: BTreeMap<String, u64>,
}

pub fn run(args: Args, audit_dir: &Path) -> Result<i32> {
    let since = super::since_timestamp(args.since.as_deref())?;
    let reader = Reader::open(&[audit_dir.to_path_buf()])
        .with_context(|| format!("cannot read the trail in {}", audit_dir.display()))?;
    let records: Vec<Record> = reader
        .filter_map(|r| r.ok())
        .map(|(_, rec)| rec)
        .filter(|rec| {
            since
                .as_ref()
                .is_none_or(|t| rec.timestamp.as_str() >= t.as_str())
        })
        .collect();
    let page = render(audit_dir, &records);
    let tmp = args.output.with_extension("html.tmp");
    std::fs::write(&tmp, page).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "rampart: {} records -> {}",
        records.len(),
        args.output.display()
    );
    Ok(0)
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn text<'a>(rec: &'a Record, key: &str) -> Option<&'a str> {
    rec.request.get(key).and_then(|v| v.as_str())
}

/// What a call was about: its command, path (and second path) or URL.
fn what(rec: &Record) -> String {
    if rec.lost_count().is_some() {
        return rec.decision.message.clone();
    }
    let mut w = ["command", "path", "url"]
        .iter()
        .find_map(|k| text(rec, k))
        .unwrap_or("")
        .to_string();
    if let Some(op) = text(rec, "op") {
        w = format!("{op} {w}");
    }
    if let Some(second) = text(rec, "new_path").or_else(|| text(rec, "target")) {
        w = format!("{w} -> {second}");
    }
    w
}

fn verdict_class(verdict: &str) -> &'static str {
    match verdict {
        "allow" | "watch" => "ok",
        "would deny" | "would ask" => "would",
        _ => "refused",
    }
}

fn render(audit_dir: &Path, records: &[Record]) -> String {
    let mut procs: BTreeMap<i64, Proc> = BTreeMap::new();
    let mut paths: BTreeMap<&str, u64> = BTreeMap::new();
    let mut hosts: BTreeMap<&str, u64> = BTreeMap::new();
    for (i, rec) in records.iter().enumerate() {
        let num = |k: &str| rec.request.get(k).and_then(|v| v.as_i64());
        if let Some(pid) = num("pid") {
            let p = procs.entry(pid).or_default();
            p.ppid = num("ppid").unwrap_or(0);
            if p.exe.is_empty() || rec.tool == "exec" {
                let exe = if rec.tool == "exec" {
                    text(rec, "command").or(text(rec, "exe"))
                } else {
                    text(rec, "exe")
                };
                p.exe = exe.unwrap_or("").to_string();
            }
            p.calls.push(i);
            *p.by_tool.entry(rec.tool.clone()).or_default() += 1;
        }
        // The loader's and libc's own opens (past the hooks) would crowd
        // out what the program itself touched.
        if rec.tool != "exec" && text(rec, "source") != Some("unhooked") {
            if let Some(p) = text(rec, "path") {
                *paths.entry(p).or_default() += 1;
            }
        }
        if let Some(h) = text(rec, "domain")
            .filter(|d| !d.is_empty())
            .or_else(|| text(rec, "address"))
        {
            *hosts.entry(h).or_default() += 1;
        }
    }
    let mut out = String::new();
    let first = records.first().map_or("", |r| r.timestamp.as_str());
    let last = records.last().map_or("", |r| r.timestamp.as_str());
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
         <title>rampart report</title><style>{STYLE}</style></head><body>\
         <h1>rampart report</h1><p id=\"summary\">{} records in {}, {} to {}; {} processes</p>",
        records.len(),
        esc(&audit_dir.display().to_string()),
        esc(first),
        esc(last),
        procs.len()
    );

    // The process tree.
    out.push_str("<section id=\"process-tree\"><h2>Processes</h2><ul class=\"tree\">");
    let mut children: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (&pid, p) in &procs {
        children.entry(p.ppid).or_default().push(pid);
    }
    let roots: Vec<i64> = procs
        .iter()
        .filter(|(_, p)| !procs.contains_key(&p.ppid))
        .map(|(&pid, _)| pid)
        .collect();
    for pid in roots {
        tree(&mut out, pid, &procs, &children, records, 0);
    }
    out.push_str("</ul></section>");

    // Refusals.
    out.push_str("<section id=\"denials\"><h2>Refusals</h2>");
    let refused: Vec<&Record> = records
        .iter()
        .filter(|r| verdict_class(r.verdict()) != "ok" && r.lost_count().is_none())
        .collect();
    if refused.is_empty() {
        out.push_str("<p>No call was refused or would have been.</p>");
    } else {
        out.push_str(
            "<table><tr><th>time</th><th>pid</th><th>verdict</th><th>tool</th><th>call</th><th>rule</th><th>message</th></tr>",
        );
        for r in refused {
            let _ = write!(
                out,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"rule\">{}</td><td>{}</td></tr>",
                verdict_class(r.verdict()),
                esc(&r.timestamp),
                r.request.get("pid").map(|v| v.to_string()).unwrap_or_default(),
                esc(r.verdict()),
                esc(&r.tool),
                esc(&what(r)),
                esc(&r.decision.matched_policies.join(", ")),
                esc(&r.decision.message)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>");

    // Files and hosts.
    for (id, title, map) in [
        ("files", "Files touched", &paths),
        ("hosts", "Hosts", &hosts),
    ] {
        let mut rows: Vec<(&&str, &u64)> = map.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let _ = write!(out, "<section id=\"{id}\"><h2>{title}</h2><table>");
        for (name, count) in rows.into_iter().take(TOP) {
            let _ = write!(
                out,
                "<tr><td class=\"n\">{count}</td><td>{}</td></tr>",
                esc(name)
            );
        }
        out.push_str("</table></section>");
    }

    // The timeline.
    let _ = write!(
        out,
        "<section id=\"timeline\"><h2>Timeline</h2>\
         <input id=\"filter\" type=\"search\" placeholder=\"filter: tool, path, verdict...\">\
         <table id=\"calls\"><tr><th>time</th><th>pid</th><th>tool</th><th>call</th><th>verdict</th><th>outcome</th></tr>"
    );
    for r in records.iter().take(TIMELINE_ROWS) {
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            verdict_class(r.verdict()),
            esc(r.timestamp.get(11..23).unwrap_or(&r.timestamp)),
            r.request.get("pid").map(|v| v.to_string()).unwrap_or_default(),
            esc(&r.tool),
            esc(&what(r)),
            esc(r.verdict()),
            esc(text(r, "outcome").unwrap_or(""))
        );
    }
    out.push_str("</table>");
    if records.len() > TIMELINE_ROWS {
        let _ = write!(
            out,
            "<p>{} more records (use `rampart log`).</p>",
            records.len() - TIMELINE_ROWS
        );
    }
    out.push_str("</section>");

    // What a learned policy would say.
    out.push_str("<section id=\"learned\"><h2>What a learned policy would allow</h2>");
    match learned(audit_dir) {
        Ok((summary, yaml)) => {
            out.push_str(
                "<table><tr><th>tool</th><th>calls</th><th>rules</th><th>examples</th></tr>",
            );
            for t in &summary.tools {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                    esc(&t.tool),
                    t.calls,
                    t.rules,
                    esc(&t.examples.join("  "))
                );
            }
            let _ = write!(
                out,
                "</table><details><summary>the policy `rampart init --from-audit` would write</summary><pre>{}</pre></details>",
                esc(&yaml)
            );
        }
        Err(why) => {
            let _ = write!(out, "<p>Nothing to learn: {}</p>", esc(&why));
        }
    }
    out.push_str("</section>");
    let _ = writeln!(out, "<script>{SCRIPT}</script></body></html>");
    out
}

/// One process and its children, nested.
fn tree(
    out: &mut String,
    pid: i64,
    procs: &BTreeMap<i64, Proc>,
    children: &BTreeMap<i64, Vec<i64>>,
    records: &[Record],
    depth: usize,
) {
    let Some(p) = procs.get(&pid) else {
        return;
    };
    let tools: Vec<String> = p.by_tool.iter().map(|(t, n)| format!("{n} {t}")).collect();
    let _ = write!(
        out,
        "<li class=\"proc\" data-pid=\"{pid}\"><details><summary><b>{pid}</b> {} <span class=\"counts\">{}</span></summary><ul class=\"calls\">",
        esc(&p.exe),
        esc(&tools.join(", "))
    );
    for &i in p.calls.iter().take(CALLS_PER_PROCESS) {
        let r = &records[i];
        let _ = write!(
            out,
            "<li class=\"{}\">{} {} <i>{}</i></li>",
            verdict_class(r.verdict()),
            esc(&r.tool),
            esc(&what(r)),
            esc(r.verdict())
        );
    }
    if p.calls.len() > CALLS_PER_PROCESS {
        let _ = write!(out, "<li>{} more</li>", p.calls.len() - CALLS_PER_PROCESS);
    }
    out.push_str("</ul></details>");
    if let Some(kids) = children.get(&pid).filter(|_| depth < 64) {
        out.push_str("<ul class=\"tree\">");
        for &k in kids.iter().filter(|&&k| k != pid) {
            tree(out, k, procs, children, records, depth + 1);
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>");
}

/// The policy `init --from-audit` would write for this trail: its summary
/// and YAML, or why there is none.
fn learned(audit_dir: &Path) -> Result<(rampart_core::generate::Summary, String), String> {
    let (g, report) = trail::learn(
        &[audit_dir.to_path_buf()],
        &Options::default(),
        false,
        1,
        None,
    )
    .map_err(|e| e.to_string())?;
    if report.chain.files == 0 {
        return Err("the trail is empty".into());
    }
    let generated = g.finish().map_err(|e| e.to_string())?;
    Ok((generated.summary, generated.yaml))
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h2{margin-top:1.5em;border-bottom:1px solid #ccc}table{border-collapse:collapse}\
td,th{padding:2px 8px;text-align:left;vertical-align:top}td.n{text-align:right}\
tr.refused td,li.refused{color:#b00}tr.would td,li.would{color:#b60}\
ul.tree{list-style:none;padding-left:1.2em}ul.calls{font-size:12px;color:#444}\
.counts{color:#666;font-size:12px}pre{background:#f6f6f6;padding:1em;overflow:auto}\
#filter{margin:.5em 0;width:30em}";

/// Filters the timeline; marks the page ready once it has run (the test
/// checks that every script ran without an error).
const SCRIPT: &str = "(function(){var f=document.getElementById('filter');\
var rows=Array.prototype.slice.call(document.querySelectorAll('#calls tr')).slice(1);\
f.addEventListener('input',function(){var q=f.value.toLowerCase();\
rows.forEach(function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';});});\
document.body.setAttribute('data-ready','yes');})();";
