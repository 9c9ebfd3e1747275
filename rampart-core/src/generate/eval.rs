//! A checker that evaluates calls against a policy [`Doc`] with Rampart's
//! rules (first matching rule within a policy; deny wins across policies,
//! then ask, then watch/log, then allow; nothing matched → the default).
//!
//! The generator uses it to replay what it learned against what it wrote,
//! to find which new calls an existing policy already admits (`--merge`)
//! and to probe a policy with calls it should refuse. It is not the
//! enforcing engine (`crate::policy` is) and must never be used as one;
//! conditions it does not know make a rule not match.

use std::collections::HashSet;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::glob::command_glob;
use super::model::{Doc, When};
use super::paths::Places;

/// A call to evaluate: the tool and the request values rules look at.
#[derive(Clone, Copy, Debug, Default)]
pub struct Query<'a> {
    pub tool: &'a str,
    pub command: Option<&'a str>,
    pub path: Option<&'a str>,
    pub url: Option<&'a str>,
    pub domain: Option<&'a str>,
}

/// Patterns without glob characters compare by equality (a set); the
/// rest one by one.
struct Patterns {
    exact: HashSet<String>,
    globs: Vec<String>,
}

impl Patterns {
    fn new(ps: &[String]) -> Patterns {
        let (globs, exact): (Vec<String>, Vec<String>) = ps
            .iter()
            .cloned()
            .partition(|p| p.contains(['*', '?', '[', '\\']) || p.is_empty());
        Patterns {
            exact: exact.into_iter().collect(),
            globs,
        }
    }

    fn matches(&self, input: &str) -> bool {
        self.exact.contains(input) || self.globs.iter().any(|p| command_glob(p, input))
    }
}

enum Cond {
    Command(Patterns),
    NotCommand(Vec<String>),
    Contains(Vec<String>),
    /// The rule's `path_matches`; its patterns are in the policy's set.
    Path,
    NotPath(GlobSet),
    Url(Vec<String>),
    Domain(Vec<String>),
    Always,
    Never,
}

struct CRule {
    action: String,
    conds: Vec<Cond>,
}

struct CPolicy {
    name: String,
    tools: Vec<String>,
    rules: Vec<CRule>,
    /// Every rule's `path_matches` patterns in one set, and the rule each
    /// pattern belongs to.
    paths: GlobSet,
    path_owner: Vec<usize>,
}

/// A compiled policy.
pub struct Evaluator {
    default_action: String,
    policies: Vec<CPolicy>,
}

/// What the checker decided and which policy said it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub action: String,
    pub policy: Option<String>,
}

impl Verdict {
    pub fn admits(&self) -> bool {
        matches!(self.action.as_str(), "allow" | "watch" | "log")
    }
}

impl Evaluator {
    pub fn new(doc: &Doc, places: &Places) -> Evaluator {
        let paths = |ps: &[String]| {
            let mut b = GlobSetBuilder::new();
            for g in ps.iter().filter_map(|p| path_glob(&places.expand(p))) {
                b.add(g);
            }
            b.build().unwrap_or_else(|_| GlobSet::empty())
        };
        let mut policies = Vec::new();
        for p in doc.policies.iter().filter(|p| p.enabled != Some(false)) {
            let mut set = GlobSetBuilder::new();
            let mut path_owner = Vec::new();
            let mut rules = Vec::new();
            for (ri, r) in p.rules.iter().enumerate() {
                let mut conds = Vec::new();
                if r.when.is_empty() {
                    conds.push(Cond::Always);
                }
                for (f, w) in &r.when {
                    conds.push(match (f.as_str(), w) {
                        ("default", When::Flag(true)) => Cond::Always,
                        ("command_matches", When::Patterns(p)) => Cond::Command(Patterns::new(p)),
                        ("command_not_matches", When::Patterns(p)) => Cond::NotCommand(p.clone()),
                        ("command_contains", When::Patterns(p)) => {
                            Cond::Contains(p.iter().map(|s| s.to_lowercase()).collect())
                        }
                        ("path_matches", When::Patterns(ps)) => {
                            for pat in ps {
                                if let Some(g) = path_glob(&places.expand(pat)) {
                                    set.add(g);
                                    path_owner.push(ri);
                                }
                            }
                            Cond::Path
                        }
                        ("path_not_matches", When::Patterns(p)) => Cond::NotPath(paths(p)),
                        ("url_matches", When::Patterns(p)) => Cond::Url(p.clone()),
                        ("domain_matches", When::Patterns(p)) => Cond::Domain(p.clone()),
                        _ => Cond::Never,
                    });
                }
                rules.push(CRule {
                    action: r.action.clone(),
                    conds,
                });
            }
            policies.push(CPolicy {
                name: p.name.clone(),
                tools: p.tools.clone(),
                rules,
                paths: set.build().unwrap_or_else(|_| GlobSet::empty()),
                path_owner,
            });
        }
        Evaluator {
            default_action: doc.default_action.clone(),
            policies,
        }
    }

    pub fn decide(&self, q: &Query<'_>) -> Verdict {
        let mut best: Option<(u8, &str, &str)> = None;
        let mut hits = Vec::new();
        for p in &self.policies {
            if !p.tools.iter().any(|t| t == q.tool || t == "*") {
                continue;
            }
            let mut path_hit = vec![false; p.rules.len()];
            if let Some(path) = q.path {
                p.paths.matches_into(path, &mut hits);
                for &i in &hits {
                    path_hit[p.path_owner[i]] = true;
                }
            }
            let Some(rule) = p
                .rules
                .iter()
                .enumerate()
                .find(|(i, r)| matches_all(&r.conds, q, path_hit[*i]))
                .map(|(_, r)| r)
            else {
                continue;
            };
            let rank = match rule.action.as_str() {
                "deny" => 4,
                "ask" | "require_approval" => 3,
                "watch" | "log" => 2,
                "allow" => 1,
                _ => 0,
            };
            if best.is_none_or(|(r, _, _)| rank > r) {
                best = Some((rank, rule.action.as_str(), p.name.as_str()));
            }
        }
        match best {
            Some((rank, action, name)) if rank > 0 => Verdict {
                action: action.to_string(),
                policy: Some(name.to_string()),
            },
            _ => Verdict {
                action: self.default_action.clone(),
                policy: None,
            },
        }
    }
}

fn matches_all(conds: &[Cond], q: &Query<'_>, path_hit: bool) -> bool {
    let mut positive = false;
    for c in conds {
        let ok = match c {
            Cond::Always => {
                positive = true;
                true
            }
            Cond::Never => false,
            Cond::Command(ps) => {
                positive = true;
                q.command.is_some_and(|cmd| ps.matches(cmd))
                    || conds
                        .iter()
                        .any(|c| matches!(c, Cond::Contains(_)) && contains(c, q))
            }
            Cond::Contains(_) => {
                positive = true;
                contains(c, q)
                    || conds.iter().any(|c| match c {
                        Cond::Command(ps) => q.command.is_some_and(|cmd| ps.matches(cmd)),
                        _ => false,
                    })
            }
            Cond::NotCommand(ps) => !q
                .command
                .is_some_and(|cmd| ps.iter().any(|p| command_glob(p, cmd))),
            Cond::Path => {
                positive = true;
                path_hit
            }
            Cond::NotPath(gs) => !q.path.is_some_and(|p| gs.is_match(p)),
            Cond::Url(ps) => {
                positive = true;
                q.url.is_some_and(|u| ps.iter().any(|p| command_glob(p, u)))
            }
            Cond::Domain(ps) => {
                positive = true;
                q.domain
                    .is_some_and(|d| ps.iter().any(|p| command_glob(p, d)))
            }
        };
        if !ok {
            return false;
        }
    }
    positive
}

fn contains(c: &Cond, q: &Query<'_>) -> bool {
    match (c, q.command) {
        (Cond::Contains(subs), Some(cmd)) => {
            let lower = cmd.to_lowercase();
            subs.iter().any(|s| lower.contains(s.as_str()))
        }
        _ => false,
    }
}

/// A path pattern as Rampart reads it; `None` for an invalid one (or one
/// with more than two `**`), which matches nothing, as in Rampart.
fn path_glob(pattern: &str) -> Option<globset::Glob> {
    if pattern.is_empty() || pattern.matches("**").count() > 2 {
        return None;
    }
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(false)
        .build()
        .ok()
}
