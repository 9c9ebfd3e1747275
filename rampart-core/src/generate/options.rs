//! How to generate: the [`Options`] the CLI fills from its flags.
//!
//! Owns the option fields and their defaults (thresholds, temp
//! directories, filters). It never reads the environment, files or the
//! clock: the caller resolves `--since` and the home directory.

use chrono::{DateTime, Utc};

/// How to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// Prefix of every policy name (`my-agent` → `my-agent-exec`, ...).
    /// Empty: the agent learned from (its name made safe), or `learned`
    /// when there were several, so that two generations for one agent
    /// compare rule by rule whatever their file names.
    pub name_prefix: String,
    /// The home directory of the observed user; inferred from the paths
    /// when `None`.
    pub home: Option<String>,
    /// Write paths under the home directory as `~/...`.
    pub home_as_tilde: bool,
    /// Project directories known in advance (besides those recognised from
    /// each session's working directory and git work tree).
    pub projects: Vec<String>,
    /// Temp directories: owned places where writes may collapse.
    pub temp_dirs: Vec<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only records whose agent / session match this glob.
    pub agent: Option<String>,
    pub session: Option<String>,
    /// Distinct observed children before a directory collapses.
    pub collapse_threshold: usize,
    /// Distinct observed continuations before command arguments widen.
    pub exec_threshold: usize,
    /// Distinct observed subdomains before a `*.domain` rule.
    pub domain_threshold: usize,
    /// Denied calls to learn all the same, each `TOOL:PATTERN` (tool a
    /// glob, pattern a glob over the command, path or URL): a reviewer
    /// accepting what the policy in force refused (`--include-denied`).
    pub include_denied: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name_prefix: String::new(),
            home: None,
            home_as_tilde: true,
            projects: Vec::new(),
            temp_dirs: vec!["/tmp".into(), "/var/tmp".into(), "/dev/shm".into()],
            since: None,
            until: None,
            agent: None,
            session: None,
            collapse_threshold: 3,
            exec_threshold: 3,
            domain_threshold: 3,
            include_denied: Vec::new(),
        }
    }
}
