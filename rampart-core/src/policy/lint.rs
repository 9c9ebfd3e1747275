//! `rampart policy lint`: policies that load but do not do what they say.
//!
//! Owns the warnings about valid policies: rules shadowed by an earlier
//! catch-all, `default_action: allow`, conditions that can never match (in
//! general or for the calls `rampart run` produces: `exec`, `read`, `write`,
//! `net`), and allow rules broader than `**`. Policies that do not load are
//! not linted: their [`LoadError`]s come back instead. Lint never changes a
//! policy and never decides a call.

use std::fmt;
use std::path::PathBuf;

use super::engine::{Engine, LoadOptions};
use super::glob::{Glob, GlobKind};
use super::schema::{self, ConditionDef, Located, PolicyDef, RuleAction, RuleDef};
use super::{Action, LoadError};

/// A policy that loads but deserves a second look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintWarning {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LintWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: warning: {}",
            self.file.display(),
            self.line,
            self.message
        )
    }
}

/// The tools `rampart run` produces.
const PROCESS_TOOLS: [&str; 4] = ["exec", "read", "write", "net"];

/// Lints policy sources; load errors win over warnings.
pub fn lint(sources: &[(PathBuf, String)]) -> Result<Vec<LintWarning>, Vec<LoadError>> {
    let set = schema::parse_sources(sources)?;
    // Compiling reports what only compilation can (home-expanded patterns).
    Engine::compile(&set, &LoadOptions::default())?;
    let mut out = Vec::new();
    for file in &set.files {
        let mut warn = |line: usize, message: String| {
            out.push(LintWarning {
                file: file.file.clone(),
                line,
                message,
            })
        };
        if let Some(d) = &file.default_action {
            if d.value == Action::Allow {
                warn(
                    d.line,
                    "default_action: allow lets through every call no rule decides; prefer \
                     deny (or watch) with explicit allow rules"
                        .to_string(),
                );
            }
        }
        for policy in &file.policies {
            lint_policy(policy, &mut warn);
        }
    }
    Ok(out)
}

fn tools_admitting(policy: &PolicyDef) -> Vec<&'static str> {
    if policy.tools.is_empty() {
        return PROCESS_TOOLS.to_vec();
    }
    let globs: Vec<Glob> = policy
        .tools
        .iter()
        .filter_map(|t| Glob::new(&t.value, GlobKind::Text).ok())
        .collect();
    PROCESS_TOOLS
        .into_iter()
        .filter(|tool| globs.iter().any(|g| g.is_match(tool)))
        .collect()
}

fn is_catch_all(rule: &RuleDef) -> bool {
    match &rule.when {
        None => true,
        Some(c) => c.default.as_ref().is_some_and(|d| d.value) || c.is_empty(),
    }
}

fn lint_policy(policy: &PolicyDef, warn: &mut impl FnMut(usize, String)) {
    let tools = tools_admitting(policy);
    if tools.is_empty() {
        let named: Vec<&str> = policy.tools.iter().map(|t| t.value.as_str()).collect();
        warn(
            policy.line,
            format!(
                "policy {:?} applies to tools {} but rampart run only produces exec, read, \
                 write and net calls; it never applies",
                policy.name,
                named.join(", ")
            ),
        );
    }
    let mut catch_all: Option<usize> = None;
    for rule in &policy.rules {
        if let Some(line) = catch_all {
            warn(
                rule.line,
                format!(
                    "rule never applies: the rule at line {line} in policy {:?} matches every \
                     call first",
                    policy.name
                ),
            );
            continue;
        }
        if is_catch_all(rule) {
            catch_all = Some(rule.line);
        }
        if let Some(c) = &rule.when {
            lint_condition(policy, rule, c, &tools, warn);
        }
    }
}

fn lint_condition(
    policy: &PolicyDef,
    rule: &RuleDef,
    c: &ConditionDef,
    tools: &[&str],
    warn: &mut impl FnMut(usize, String),
) {
    if c.default.as_ref().is_some_and(|d| d.value) {
        return;
    }
    if c.is_empty() {
        if let Some(d) = &c.default {
            warn(
                d.line,
                "default: false does nothing: an empty when matches every call".to_string(),
            );
        }
        return;
    }
    let positive = !c.command_matches.is_empty()
        || !c.command_contains.is_empty()
        || !c.command_env_assignments.is_empty()
        || !c.path_matches.is_empty()
        || !c.url_matches.is_empty()
        || !c.domain_matches.is_empty()
        || !c.session_matches.is_empty()
        || !c.tool_param_matches.is_empty()
        || c.agent_depth.is_some()
        || c.call_count.is_some();
    let response = !c.response_matches.is_empty() || !c.response_not_matches.is_empty();
    if !positive {
        if response {
            warn(
                c.line,
                "response_matches never matches a syscall (there is no response body); this \
                 rule never applies"
                    .to_string(),
            );
        } else {
            warn(
                c.line,
                "when holds only exclusions (*_not_matches), which never match on their own; \
                 add the field they narrow"
                    .to_string(),
            );
        }
        return;
    }
    if let Some((param, _)) = c.tool_param_matches.first() {
        warn(
            param.line,
            "tool_param_matches never matches a syscall (it carries no tool parameters); this \
             rule never applies"
                .to_string(),
        );
    }
    if let Some(cc) = &c.call_count {
        warn(
            cc.line,
            "call_count never matches here (the engine keeps no call counters); this rule \
             never applies"
                .to_string(),
        );
    }
    if let Some(d) = &c.agent_depth {
        if d.gte.is_some_and(|g| g > 0) || d.eq.is_some_and(|e| e != 0) {
            warn(
                d.line,
                "agent_depth asks for a sub-agent, but every call under rampart run is the \
                 top-level agent (depth 0); this rule never applies"
                    .to_string(),
            );
        }
    }
    /// A condition field, its name, and the tools that carry its value.
    type FieldTools<'c> = (&'c [Located<String>], &'static str, &'static [&'static str]);
    let field_tools: [FieldTools; 6] = [
        (&c.command_matches, "command_matches", &["exec"]),
        (&c.command_contains, "command_contains", &["exec"]),
        (
            &c.command_env_assignments,
            "command_env_assignments",
            &["exec"],
        ),
        (&c.path_matches, "path_matches", &["read", "write", "net"]),
        (&c.url_matches, "url_matches", &["net"]),
        (&c.domain_matches, "domain_matches", &["net"]),
    ];
    if !tools.is_empty() {
        for (items, field, needs) in field_tools {
            if let Some(first) = items.first() {
                if !needs.iter().any(|t| tools.contains(t)) {
                    warn(
                        first.line,
                        format!(
                            "{field} only sees {} calls, but policy {:?} applies to {}; this \
                             condition never matches",
                            needs.join("/"),
                            policy.name,
                            tools.join(", ")
                        ),
                    );
                }
            }
        }
    }
    for item in c.command_matches.iter().chain(&c.command_not_matches) {
        if item.value.starts_with('*') && !item.value.contains("**") && item.value.contains('[') {
            warn(
                item.line,
                format!(
                    "{:?} starts with *, so its [ ] are literal characters, not a class",
                    item.value
                ),
            );
        }
    }
    if matches!(rule.action.value, RuleAction::Allow) {
        let broad = [
            (&c.command_matches, GlobKind::Text, "command"),
            (&c.path_matches, GlobKind::Path, "path"),
            (&c.url_matches, GlobKind::Text, "URL"),
        ];
        for (items, kind, what) in broad {
            for item in items {
                if Glob::new(&item.value, kind).is_ok_and(|g| g.matches_everything()) {
                    warn(
                        item.line,
                        format!(
                            "allow rule pattern {:?} matches every {what}: broader than **",
                            item.value
                        ),
                    );
                }
            }
        }
        for item in &c.domain_matches {
            if item.value.trim() == "*" {
                warn(
                    item.line,
                    "allow rule pattern \"*\" matches every domain: broader than **".to_string(),
                );
            }
        }
    }
}
