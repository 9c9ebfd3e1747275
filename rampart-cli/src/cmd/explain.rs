//! `rampart explain`: why the policy decides one call as it does. Every
//! policy for the call's tool, in evaluation order, with its file:line:
//! whether it applies to the caller, each of its rules that matches (the
//! first is its answer), which one decided, what the default would have
//! said, and for a refusal the smallest change that would allow the call.
//! `--record ID` explains a call of the trail against the policy in force.
//!
//! It reads policies and the trail; it never changes either.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rampart_core::audit::{Reader, Record};
use rampart_core::policy::{Action, Engine, Explanation};

use crate::cmd::test::{Call, CallArgs};
use crate::policies;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub call: CallArgs,
    /// Explain the recorded call with this id (`rampart log --json` shows
    /// ids) against the policy in force now.
    #[arg(long, value_name = "ID", conflicts_with = "input")]
    pub record: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// The call, as for `rampart test`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub input: Vec<String>,
}

pub fn run(args: Args, policy: &[PathBuf], audit_dir: &Path) -> Result<i32> {
    let (engine, source) = policies::load(policy)?;
    let call = match &args.record {
        Some(id) => recorded_call(audit_dir, id)?,
        None if args.input.is_empty() => {
            bail!("nothing to explain: give a call (rampart explain --tool read -- PATH) or --record ID")
        }
        None => Call::of(&args.call, &args.input)?,
    };
    let e = engine.explain(&call.request());
    if args.json {
        println!("{}", to_json(&call, &e));
    } else {
        print_text(&call, &e, &source.to_string());
    }
    Ok(match e.decision.action {
        Action::Allow | Action::Watch => 0,
        Action::Deny | Action::Ask => 1,
    })
}

/// The call recorded with `id`, as it was made.
fn recorded_call(audit_dir: &Path, id: &str) -> Result<Call> {
    let reader = Reader::open(&[audit_dir.to_path_buf()])
        .with_context(|| format!("cannot read the trail in {}", audit_dir.display()))?;
    let rec = reader
        .filter_map(|r| r.ok())
        .map(|(_, rec)| rec)
        .find(|rec| rec.id == id)
        .with_context(|| format!("no record with id {id:?} in {}", audit_dir.display()))?;
    call_of(&rec)
}

/// The call a record holds, as it was made.
pub fn call_of(rec: &Record) -> Result<Call> {
    let id = &rec.id;
    let text = |k: &str| {
        rec.request
            .get(k)
            .and_then(|v| v.as_str())
            .map(String::from)
    };
    let input = text("command")
        .or_else(|| text("path"))
        .or_else(|| text("url"))
        .with_context(|| format!("record {id} names no command, path or URL"))?;
    let cwd = text("cwd").map(PathBuf::from);
    let project = text("project").map(PathBuf::from);
    let mut call = Call::new(
        &rec.tool,
        &rec.agent,
        &rec.session,
        std::slice::from_ref(&input),
        cwd.as_deref().filter(|c| c.is_absolute()),
        project.as_deref(),
    )?;
    // The recorded name is what the policy saw; keep it as written.
    if let Some(domain) = text("domain").filter(|d| !d.is_empty()) {
        call.domain = Some(domain);
    }
    Ok(call)
}

/// Why the policy in force decides the recorded call as it does, on one
/// line (for `rampart log --explain`).
pub fn why(engine: &Engine, rec: &Record) -> String {
    let Ok(call) = call_of(rec) else {
        return "nothing to explain (no command, path or URL)".into();
    };
    let e = engine.explain(&call.request());
    match e.decided_by.map(|i| &e.policies[i]) {
        Some(p) => format!(
            "{} now: policy {:?} ({}), rule at line {}",
            e.decision.action,
            p.name,
            where_(&p.file, p.line),
            p.matched[0].line
        ),
        None => format!(
            "{} now: the default action, no rule matches",
            e.decision.action
        ),
    }
}

fn where_(file: &Path, line: usize) -> String {
    format!("{}:{line}", file.display())
}

fn print_text(call: &Call, e: &Explanation, source: &str) {
    println!("{} {} {}", e.decision.action, call.tool, call.input);
    match e.decided_by.map(|i| &e.policies[i]) {
        Some(p) => {
            let rule = &p.matched[0];
            println!(
                "  decided by policy {:?} ({}), its rule at {}: {}{}",
                p.name,
                where_(&p.file, p.line),
                where_(&p.file, rule.line),
                rule.action,
                if rule.message.is_empty() {
                    String::new()
                } else {
                    format!(" {:?}", rule.message)
                }
            );
        }
        None => println!(
            "  decided by the default action ({}) of {source}: no rule matched",
            e.default_action
        ),
    }
    if e.policies.is_empty() {
        println!("  no policy is for tool {}", call.tool);
    } else {
        println!("  policies for tool {}, in evaluation order:", call.tool);
    }
    for (i, p) in e.policies.iter().enumerate() {
        let said = if !p.in_scope {
            "not for this agent or session".to_string()
        } else if p.matched.is_empty() {
            "no rule matches".to_string()
        } else {
            let rules: Vec<String> = p
                .matched
                .iter()
                .map(|r| format!("{} (line {})", r.action, r.line))
                .collect();
            format!("matches: {}", rules.join(", then "))
        };
        let mark = if Some(i) == e.decided_by {
            "  <- decides"
        } else {
            ""
        };
        println!(
            "    {:<28} {:<40} {said}{mark}",
            p.name,
            where_(&p.file, p.line)
        );
    }
    println!(
        "  default action: {} (when no rule matches)",
        e.default_action
    );
    if let Some(fix) = smallest_change(call, e) {
        println!("  to allow it: {fix}");
    }
}

/// For a refused call, the smallest change that would let it run.
fn smallest_change(call: &Call, e: &Explanation) -> Option<String> {
    if matches!(e.decision.action, Action::Allow | Action::Watch) {
        return None;
    }
    let (key, value) = match (call.tool.as_str(), &call.url) {
        ("exec", _) => ("command_matches", call.input.clone()),
        (_, Some(_)) => (
            "domain_matches",
            call.domain.clone().unwrap_or_else(|| call.input.clone()),
        ),
        _ => ("path_matches", call.input.clone()),
    };
    let quoted = serde_json::to_string(&value).unwrap_or(value);
    if let Some(p) = e.decided_by.map(|i| &e.policies[i]) {
        let rule = &p.matched[0];
        if rule.catch_all {
            // The rest of the tool (a generated policy's last rule): what
            // is missing is an allow, not a narrower deny.
            return Some(format!(
                "no allow rule matched, so the {} of the rest at {} decided: add to an allow \
                 rule for tool {} (one of policy {:?}'s, before that line) the pattern\n      \
                 {key}: [{quoted}]",
                rule.action,
                where_(&p.file, rule.line),
                call.tool,
                p.name
            ));
        }
        return Some(format!(
            "the {} rule at {} matches this call and wins over any allow: narrow that \
             rule's patterns (or add `match.agent`/`match.session` to policy {:?}); a new \
             allow rule elsewhere would not change the verdict",
            rule.action,
            where_(&p.file, rule.line),
            p.name
        ));
    }
    Some(format!(
        "no rule matches and the default is {}: add to a policy for tool {} the rule\n      \
         - action: allow\n        when:\n          {key}: [{quoted}]",
        e.default_action, call.tool
    ))
}

fn to_json(call: &Call, e: &Explanation) -> serde_json::Value {
    let policies: Vec<serde_json::Value> = e
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            serde_json::json!({
                "name": p.name,
                "file": p.file.display().to_string(),
                "line": p.line,
                "in_scope": p.in_scope,
                "decides": Some(i) == e.decided_by,
                "matched": p.matched.iter().map(|r| serde_json::json!({
                    "line": r.line,
                    "action": r.action.to_string(),
                    "message": r.message,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "tool": call.tool,
        "input": call.input,
        "action": e.decision.action.to_string(),
        "message": e.decision.message,
        "matched_policies": e.decision.matched_policies,
        "default_action": e.default_action.to_string(),
        "policies": policies,
        "to_allow": smallest_change(call, e),
    })
}
