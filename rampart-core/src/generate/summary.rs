//! What generation hands back: the [`Generated`] policy with its
//! [`Summary`] (records read, calls learned and skipped, warnings, rules per
//! tool, the replay, what `--merge` changed) and the [`GenerateError`]s.
//!
//! Owns these shapes and their text for the terminal. It never decides
//! anything about a rule and never writes YAML.

use std::collections::BTreeMap;
use std::fmt;

use super::model::{stat_comment, Stat};

/// A policy and what the generator has to say about it.
#[derive(Clone, Debug)]
pub struct Generated {
    pub yaml: String,
    pub summary: Summary,
}

/// Why generation failed.
#[derive(Clone, Debug)]
pub enum GenerateError {
    /// Bad options or an unreadable existing policy.
    Input(String),
    /// The generated policy does not admit every learned call. The policy
    /// and summary are kept for diagnosis.
    Replay(Box<Generated>),
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenerateError::Input(m) => write!(f, "{m}"),
            GenerateError::Replay(g) => {
                let r = g.summary.replay.as_ref();
                write!(
                    f,
                    "replay: {}/{} observed calls allowed; the generated policy would deny:",
                    r.map_or(0, |r| r.allowed),
                    r.map_or(0, |r| r.total)
                )?;
                for d in r.map(|r| r.denied.as_slice()).unwrap_or(&[]) {
                    write!(f, "\n  {d}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for GenerateError {}

/// A warning for the reviewer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    pub message: String,
    pub stat: Stat,
}

/// Rules written for one tool.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolSummary {
    pub tool: String,
    pub calls: u64,
    pub rules: usize,
    /// Up to three of the rules' patterns.
    pub examples: Vec<String>,
}

/// The replay check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    pub allowed: u64,
    pub total: u64,
    /// Calls the policy would deny (`tool value`), at most 20.
    pub denied: Vec<String>,
}

/// A change `--merge` made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub policy: String,
    /// The new pattern.
    pub pattern: String,
    /// Patterns it replaced (empty when added).
    pub replaced: Vec<String>,
    pub stat: Stat,
}

/// What the generator read, learned, skipped and wrote.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub records: u64,
    pub learned: u64,
    /// Denied calls learned on purpose (`Options::include_denied`).
    pub included_denied: Stat,
    /// Each `TOOL:PATTERN` given and the denied calls it let in.
    pub include_denied: Vec<(String, u64)>,
    pub skipped: BTreeMap<String, Stat>,
    pub sessions: usize,
    pub agents: usize,
    /// The agents and sessions learned from, sorted.
    pub agent_names: Vec<String>,
    pub session_names: Vec<String>,
    pub first: Option<String>,
    pub last: Option<String>,
    pub home: Option<String>,
    pub projects: Vec<String>,
    pub warnings: Vec<Warning>,
    pub tools: Vec<ToolSummary>,
    pub baselines: Vec<(String, u64)>,
    pub replay: Option<Replay>,
    /// Probe calls the policy admits (each also a warning).
    pub probe_admitted: Vec<String>,
    pub added: Vec<Change>,
    pub widened: Vec<Change>,
}

impl Summary {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().map(|s| s.count).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.warnings.is_empty() {
            writeln!(f, "warnings:")?;
            for w in &self.warnings {
                writeln!(
                    f,
                    "  ! {} ({})",
                    w.message,
                    stat_comment(&w.stat).trim_start_matches("# ")
                )?;
            }
        }
        writeln!(
            f,
            "records read: {}; sessions: {}; agents: {}",
            self.records, self.sessions, self.agents
        )?;
        if let (Some(a), Some(b)) = (&self.first, &self.last) {
            writeln!(f, "observed from {a} to {b}")?;
        }
        writeln!(
            f,
            "calls learned: {}; skipped: {}",
            self.learned,
            self.skipped_total()
        )?;
        if self.included_denied.count > 0 {
            writeln!(
                f,
                "  learned although denied (--include-denied): {}",
                stat_comment(&self.included_denied).trim_start_matches("# ")
            )?;
        }
        for (i, n) in &self.include_denied {
            if *n == 0 {
                writeln!(f, "  ! --include-denied {i:?} matched no denied call")?;
            }
        }
        for (reason, s) in &self.skipped {
            writeln!(
                f,
                "  skipped, {reason}: {}",
                stat_comment(s).trim_start_matches("# ")
            )?;
        }
        if let Some(h) = &self.home {
            writeln!(f, "home: {h}")?;
        }
        for p in &self.projects {
            writeln!(f, "project: {p}")?;
        }
        for t in &self.tools {
            writeln!(
                f,
                "{}: {} rule{} for {} call{}, e.g. {}",
                t.tool,
                t.rules,
                if t.rules == 1 { "" } else { "s" },
                t.calls,
                if t.calls == 1 { "" } else { "s" },
                t.examples.join(", ")
            )?;
        }
        for (b, n) in &self.baselines {
            writeln!(f, "baseline {b}: {n} calls")?;
        }
        for c in &self.added {
            writeln!(f, "added to {}: {}", c.policy, c.pattern)?;
        }
        for c in &self.widened {
            writeln!(
                f,
                "widened in {}: {} -> {}",
                c.policy,
                c.replaced.join(", "),
                c.pattern
            )?;
        }
        if let Some(r) = &self.replay {
            writeln!(
                f,
                "replay: {}/{} observed calls allowed",
                r.allowed, r.total
            )?;
        }
        Ok(())
    }
}
