//! The parts every generated policy is made of, shared by a fresh
//! generation ([`super::emit`]) and `--merge` ([`super::merge`]): the deny
//! policies it starts with, an allow rule with its support comment, the
//! closing deny-rest rule of each tool policy, a policy with its
//! description, the order of policies by name, the write tools, and the
//! rules-per-tool and baseline summaries of a finished document.
//!
//! Owns the names, descriptions and messages of these parts. It never
//! decides which calls are learned and never reads or renders YAML.

use std::collections::{BTreeMap, BTreeSet};

use super::baseline;
use super::destructive::DESTRUCTIVE_COMMANDS;
use super::generalise::Learned;
use super::model::{self, stat_comment, Doc, Policy, Rule, Stat, When};
use super::observe::Access;
use super::paths::{self, PathSets, Places};
use super::summary::ToolSummary;

const TOOL_POLICIES: &[(&str, &str)] = &[
    ("exec", "exec"),
    ("read", "read"),
    ("write", "write"),
    ("net", "net"),
    ("net-local", "net (loopback and unix sockets)"),
    ("fetch", "fetch"),
    ("tools", "other tools"),
];

pub(crate) fn tool_summaries(doc: &Doc, prefix: &str) -> Vec<ToolSummary> {
    let mut out = Vec::new();
    for (suffix, label) in TOOL_POLICIES {
        let Some(p) = doc.policy(&format!("{prefix}-{suffix}")) else {
            continue;
        };
        let mut t = ToolSummary {
            tool: label.to_string(),
            rules: p.rules.len(),
            ..ToolSummary::default()
        };
        for r in &p.rules {
            t.calls += r.stat().map_or(0, |s| s.count);
            for (_, pat) in r.all_patterns() {
                if t.examples.len() < 3 {
                    t.examples.push(pat.to_string());
                }
            }
        }
        out.push(t);
    }
    out
}

pub(crate) fn baseline_summaries(learned: &Learned) -> Vec<(String, u64)> {
    let mut m: BTreeMap<String, u64> = BTreeMap::new();
    for uses in &learned.bundles {
        for (b, u) in uses {
            *m.entry(baseline::bundles()[*b].name.clone()).or_default() += u.stat.count;
        }
    }
    m.into_iter().collect()
}

pub(crate) fn allow(stat: &Stat, field: &str, patterns: Vec<String>, extra: Vec<String>) -> Rule {
    let mut comments = vec![stat_comment(stat)];
    comments.extend(extra);
    Rule {
        comments,
        action: "allow".into(),
        when: vec![(field.to_string(), When::Patterns(patterns))],
        message: None,
        extra: Vec::new(),
    }
}

pub(crate) fn policy(
    name: String,
    description: &str,
    priority: Option<i64>,
    tools: Vec<String>,
    rules: Vec<Rule>,
) -> Policy {
    Policy {
        name,
        description: Some(description.to_string()),
        priority,
        tools,
        rules,
        ..Policy::default()
    }
}

pub(super) fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The order in which a generated file lists its policies, by name suffix.
pub(crate) fn policy_rank(prefix: &str, name: &str) -> usize {
    let Some(suffix) = name.strip_prefix(prefix).and_then(|s| s.strip_prefix('-')) else {
        return usize::MAX;
    };
    if suffix.starts_with("deny-") {
        return 0;
    }
    if suffix.starts_with("baseline-") {
        return 1;
    }
    match suffix {
        "exec" => 2,
        "read" => 3,
        "write" => 4,
        "net" => 5,
        "net-local" => 6,
        "fetch" => 7,
        "tools" => 8,
        _ => usize::MAX,
    }
}

/// The deny policies every generated file starts with.
pub(crate) fn deny_policies(prefix: &str, learned: &Learned, places: &Places) -> Vec<Policy> {
    let deny = |field: &str, patterns: Vec<String>, not: Vec<String>, message: &str| {
        let mut when = vec![(field.to_string(), When::Patterns(patterns))];
        if !not.is_empty() {
            when.push(("path_not_matches".to_string(), When::Patterns(not)));
        }
        Rule {
            comments: Vec::new(),
            action: "deny".into(),
            when,
            message: Some(message.to_string()),
            extra: Vec::new(),
        }
    };
    let seen = |maps: &[&BTreeMap<String, Stat>]| {
        model::sorted(
            maps.iter()
                .flat_map(|m| m.keys().map(|p| places.display(p))),
        )
    };
    let seen_any = seen(&[
        &learned.sensitive[0],
        &learned.sensitive[1],
        &learned.sockets,
    ]);
    let seen_sockets: Vec<String> = learned
        .sockets
        .keys()
        .filter(|p| PathSets::default().is_sensitive(Access::Read, p))
        .map(|p| places.display(p))
        .collect();
    let mut not = seen_any
        .into_iter()
        .filter(|p| {
            let e = places.expand(p);
            learned.sensitive[0].contains_key(&e) || learned.sensitive[1].contains_key(&e)
        })
        .collect::<Vec<_>>();
    not.extend(seen_sockets);
    let not = model::sorted(not);
    let seen_writes = seen(&[&learned.sensitive[1]]);
    let mut out = vec![
        policy(
            format!("{prefix}-deny-destructive"),
            "Destructive commands: denied whatever else allows them",
            Some(1),
            strs(&["exec"]),
            vec![deny(
                "command_matches",
                strs(DESTRUCTIVE_COMMANDS),
                Vec::new(),
                "destructive command denied",
            )],
        ),
        policy(
            format!("{prefix}-deny-system-writes"),
            "Writes to system directories: denied whatever else allows them",
            Some(1),
            strs(&["write", "edit"]),
            vec![deny(
                "path_matches",
                strs(paths::ALWAYS_DENY_WRITE),
                Vec::new(),
                "write to a system directory denied",
            )],
        ),
        policy(
            format!("{prefix}-deny-sensitive"),
            "Credentials, keys and secrets: denied unless seen and allowed exactly below",
            Some(1),
            strs(&["read", "write", "edit", "net"]),
            vec![deny(
                "path_matches",
                strs(paths::SENSITIVE),
                not,
                "sensitive path denied",
            )],
        ),
    ];
    out.push(policy(
        format!("{prefix}-deny-sensitive-writes"),
        "Files whose content runs later (shell startup, git hooks, autostart): no writes",
        Some(1),
        strs(&["write", "edit"]),
        vec![deny(
            "path_matches",
            strs(paths::SENSITIVE_WRITE),
            strs(paths::SENSITIVE_WRITE_EXCEPT)
                .into_iter()
                .chain(
                    seen_writes.into_iter().filter(|p| {
                        PathSets::default().is_sensitive(Access::Write, &places.expand(p))
                    }),
                )
                .collect(),
            "write to a startup or hook file denied",
        )],
    ));
    out
}

pub(crate) fn write_tools(learned: &Learned) -> Vec<String> {
    let mut t: BTreeSet<String> = learned.write_tools.clone();
    t.insert("write".into());
    t.into_iter().collect()
}

/// The last rule of each generated tool policy: what was not learned is
/// denied by the policy itself, so that no policy loaded beside it (a
/// registry policy's catch-all allow) can let it through.
pub(crate) fn deny_rest(what: &str) -> Rule {
    Rule {
        comments: vec![format!(
            "# anything else: denied here, whatever other policies allow ({what} not learned)"
        )],
        action: "deny".into(),
        when: vec![("default".into(), When::Flag(true))],
        message: Some(format!("{what} not learned by the generated policy")),
        extra: Vec::new(),
    }
}

/// A comment made one line, at most 200 characters.
pub(super) fn one_line(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() <= 200 {
        return s;
    }
    let mut t: String = s.chars().take(197).collect();
    t.push_str("...");
    t
}
