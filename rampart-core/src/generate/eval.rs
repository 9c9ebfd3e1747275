//! A checker that evaluates calls against a policy [`Doc`] with Rampart's
//! rules (first matching rule within a policy; deny wins across policies,
//! then ask, then watch/log, then allow; nothing matched → the default).
//!
//! The generator uses it to replay what it learned against what it wrote,
//! to find which new calls an existing policy already admits (`--merge`)
//! and to probe a policy with calls it should refuse. It is not the
//! enforcing engine (`crate::policy` is) and must never be used as one;
//! conditions it does not know make a rule not match.

use super::glob::{command_glob, PathGlob};
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

enum Cond {
    Command(Vec<String>),
    NotCommand(Vec<String>),
    Contains(Vec<String>),
    Path(Vec<PathGlob>),
    NotPath(Vec<PathGlob>),
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
            ps.iter()
                .filter_map(|p| PathGlob::new(&places.expand(p)))
                .collect::<Vec<_>>()
        };
        let policies = doc
            .policies
            .iter()
            .filter(|p| p.enabled != Some(false))
            .map(|p| CPolicy {
                name: p.name.clone(),
                tools: p.tools.clone(),
                rules: p
                    .rules
                    .iter()
                    .map(|r| CRule {
                        action: r.action.clone(),
                        conds: if r.when.is_empty() {
                            vec![Cond::Always]
                        } else {
                            r.when
                                .iter()
                                .map(|(f, w)| match (f.as_str(), w) {
                                    ("default", When::Flag(true)) => Cond::Always,
                                    ("command_matches", When::Patterns(p)) => Cond::Command(p.clone()),
                                    ("command_not_matches", When::Patterns(p)) => Cond::NotCommand(p.clone()),
                                    ("command_contains", When::Patterns(p)) => {
                                        Cond::Contains(p.iter().map(|s| s.to_lowercase()).collect())
                                    }
                                    ("path_matches", When::Patterns(p)) => Cond::Path(paths(p)),
                                    ("path_not_matches", When::Patterns(p)) => Cond::NotPath(paths(p)),
                                    ("url_matches", When::Patterns(p)) => Cond::Url(p.clone()),
                                    ("domain_matches", When::Patterns(p)) => Cond::Domain(p.clone()),
                                    _ => Cond::Never,
                                })
                                .collect()
                        },
                    })
                    .collect(),
            })
            .collect();
        Evaluator {
            default_action: doc.default_action.clone(),
            policies,
        }
    }

    pub fn decide(&self, q: &Query<'_>) -> Verdict {
        let mut best: Option<(u8, &str, &str)> = None;
        for p in &self.policies {
            if !p.tools.iter().any(|t| t == q.tool || t == "*") {
                continue;
            }
            let Some(rule) = p.rules.iter().find(|r| matches_all(&r.conds, q)) else {
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

fn matches_all(conds: &[Cond], q: &Query<'_>) -> bool {
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
                q.command.is_some_and(|cmd| ps.iter().any(|p| command_glob(p, cmd)))
                    || conds.iter().any(|c| matches!(c, Cond::Contains(_)) && contains(c, q))
            }
            Cond::Contains(_) => {
                positive = true;
                contains(c, q)
                    || conds.iter().any(|c| match c {
                        Cond::Command(ps) => q.command.is_some_and(|cmd| ps.iter().any(|p| command_glob(p, cmd))),
                        _ => false,
                    })
            }
            Cond::NotCommand(ps) => !q.command.is_some_and(|cmd| ps.iter().any(|p| command_glob(p, cmd))),
            Cond::Path(gs) => {
                positive = true;
                q.path.is_some_and(|p| gs.iter().any(|g| g.is_match(p)))
            }
            Cond::NotPath(gs) => !q.path.is_some_and(|p| gs.iter().any(|g| g.is_match(p))),
            Cond::Url(ps) => {
                positive = true;
                q.url.is_some_and(|u| ps.iter().any(|p| command_glob(p, u)))
            }
            Cond::Domain(ps) => {
                positive = true;
                q.domain.is_some_and(|d| ps.iter().any(|p| command_glob(p, d)))
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
