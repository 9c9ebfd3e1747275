//! `rampart policy diff OLD NEW`: what a new policy adds, removes and
//! widens, rule by rule. Works on any Rampart policy files, generated or
//! not. A pattern of the new policy that covers patterns of the old one
//! (same policy, action and condition: `dir/*` over `dir/a`, `git log *`
//! over `git log -3`) is a widening; one that covers none is an addition;
//! an old pattern no new pattern covers is a removal. This module only
//! compares; it never evaluates calls or writes files.

use std::collections::BTreeSet;
use std::fmt;

use crate::policy::glob::{Glob, GlobKind};

use super::model::{Doc, Policy, When};
use super::render;

/// What kind of difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiffKind {
    Added,
    Widened,
    Removed,
    Changed,
}

/// One difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffEntry {
    pub kind: DiffKind,
    /// The policy it concerns (empty for the file's top level).
    pub policy: String,
    /// `allow path_matches`, `match.tool`, `default_action`, ...
    pub what: String,
    /// Old patterns or values (empty when added).
    pub old: Vec<String>,
    /// New patterns or values (empty when removed).
    pub new: Vec<String>,
}

/// Every difference, in the new file's order, removals of whole policies
/// last.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyDiff {
    pub entries: Vec<DiffEntry>,
}

impl PolicyDiff {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn count(&self, kind: DiffKind) -> usize {
        self.entries.iter().filter(|e| e.kind == kind).count()
    }
}

impl fmt::Display for PolicyDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            let (mark, verb) = match e.kind {
                DiffKind::Added => ('+', "adds"),
                DiffKind::Widened => ('~', "widens"),
                DiffKind::Removed => ('-', "removes"),
                DiffKind::Changed => ('!', "changes"),
            };
            let place = if e.policy.is_empty() {
                String::new()
            } else {
                format!("{}: ", e.policy)
            };
            match e.kind {
                DiffKind::Added => {
                    writeln!(f, "{mark} {place}{verb} {} {}", e.what, e.new.join(", "))?
                }
                DiffKind::Removed => {
                    writeln!(f, "{mark} {place}{verb} {} {}", e.what, e.old.join(", "))?
                }
                DiffKind::Widened | DiffKind::Changed => writeln!(
                    f,
                    "{mark} {place}{verb} {} {} -> {}",
                    e.what,
                    e.old.join(", "),
                    e.new.join(", ")
                )?,
            }
        }
        writeln!(
            f,
            "{} added, {} widened, {} removed, {} changed",
            self.count(DiffKind::Added),
            self.count(DiffKind::Widened),
            self.count(DiffKind::Removed),
            self.count(DiffKind::Changed)
        )
    }
}

/// Compares two policy texts (`*_origin` name them in errors).
pub fn diff(
    old: &str,
    old_origin: &str,
    new: &str,
    new_origin: &str,
) -> Result<PolicyDiff, String> {
    let a = render::parse(old, old_origin)?;
    let b = render::parse(new, new_origin)?;
    Ok(diff_docs(&a, &b))
}

/// (action, field, pattern) of every rule of a policy.
fn triples(p: &Policy) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for r in &p.rules {
        for (field, w) in &r.when {
            match w {
                When::Patterns(ps) => {
                    // `#` entries are comments among the patterns.
                    for pat in ps.iter().filter(|p| !p.starts_with('#')) {
                        out.insert((r.action.clone(), field.clone(), pat.clone()));
                    }
                }
                When::Flag(b) => {
                    out.insert((r.action.clone(), field.clone(), b.to_string()));
                }
                When::Other(v) => {
                    out.insert((r.action.clone(), field.clone(), render::inline(v)));
                }
            }
        }
        if r.when.is_empty() {
            out.insert((r.action.clone(), "when".into(), "(always)".into()));
        }
    }
    out
}

fn kind_of(field: &str) -> Option<GlobKind> {
    if field.starts_with("path") {
        Some(GlobKind::Path)
    } else if field.starts_with("domain") {
        Some(GlobKind::Domain)
    } else if field.ends_with("matches") {
        Some(GlobKind::Text)
    } else {
        None
    }
}

/// Whether pattern `wide` covers pattern `narrow` (read as text).
fn covers(field: &str, wide: &str, narrow: &str) -> bool {
    if field == "default" && wide == "true" {
        return true;
    }
    match kind_of(field).and_then(|k| Glob::new(wide, k).ok()) {
        Some(g) => g.is_match(narrow),
        None => false,
    }
}

pub(crate) fn diff_docs(a: &Doc, b: &Doc) -> PolicyDiff {
    let mut entries = Vec::new();
    let top = |what: &str, old: &str, new: &str| DiffEntry {
        kind: DiffKind::Changed,
        policy: String::new(),
        what: what.into(),
        old: vec![old.into()],
        new: vec![new.into()],
    };
    if a.default_action != b.default_action {
        entries.push(top("default_action", &a.default_action, &b.default_action));
    }
    if a.version != b.version {
        entries.push(top("version", &a.version, &b.version));
    }
    for pb in &b.policies {
        let Some(pa) = a.policy(&pb.name) else {
            for (action, field, pat) in triples(pb) {
                entries.push(DiffEntry {
                    kind: DiffKind::Added,
                    policy: pb.name.clone(),
                    what: format!("{action} {field} (new policy for {})", pb.tools.join(", ")),
                    old: Vec::new(),
                    new: vec![pat],
                });
            }
            continue;
        };
        let changed = |what: &str, old: String, new: String, entries: &mut Vec<DiffEntry>| {
            if old != new {
                entries.push(DiffEntry {
                    kind: DiffKind::Changed,
                    policy: pb.name.clone(),
                    what: what.into(),
                    old: vec![old],
                    new: vec![new],
                });
            }
        };
        changed(
            "match.tool",
            pa.tools.join(", "),
            pb.tools.join(", "),
            &mut entries,
        );
        changed(
            "match.agent",
            pa.agent.clone().unwrap_or_default(),
            pb.agent.clone().unwrap_or_default(),
            &mut entries,
        );
        changed(
            "priority",
            pa.priority.map(|p| p.to_string()).unwrap_or_default(),
            pb.priority.map(|p| p.to_string()).unwrap_or_default(),
            &mut entries,
        );
        changed(
            "enabled",
            pa.enabled.map(|p| p.to_string()).unwrap_or_default(),
            pb.enabled.map(|p| p.to_string()).unwrap_or_default(),
            &mut entries,
        );
        let ta = triples(pa);
        let tb = triples(pb);
        let mut covered_old = BTreeSet::new();
        for t in tb.difference(&ta) {
            let (action, field, pat) = t;
            let olds: Vec<String> = ta
                .difference(&tb)
                .filter(|(oa, of, op)| oa == action && of == field && covers(field, pat, op))
                .map(|(_, _, op)| op.clone())
                .collect();
            covered_old.extend(
                olds.iter()
                    .map(|o| (action.clone(), field.clone(), o.clone())),
            );
            entries.push(DiffEntry {
                kind: if olds.is_empty() {
                    DiffKind::Added
                } else {
                    DiffKind::Widened
                },
                policy: pb.name.clone(),
                what: format!("{action} {field}"),
                old: olds,
                new: vec![pat.clone()],
            });
        }
        for t in ta.difference(&tb) {
            if covered_old.contains(t) {
                continue;
            }
            let (action, field, pat) = t;
            entries.push(DiffEntry {
                kind: DiffKind::Removed,
                policy: pb.name.clone(),
                what: format!("{action} {field}"),
                old: vec![pat.clone()],
                new: Vec::new(),
            });
        }
    }
    for pa in &a.policies {
        if b.policy(&pa.name).is_none() {
            for (action, field, pat) in triples(pa) {
                entries.push(DiffEntry {
                    kind: DiffKind::Removed,
                    policy: pa.name.clone(),
                    what: format!("{action} {field} (policy removed)"),
                    old: vec![pat],
                    new: Vec::new(),
                });
            }
        }
    }
    PolicyDiff { entries }
}
