//! Rampart YAML policies: strict loading, compiled matching, evaluation, lint.
//!
//! This module owns the policy language: reading Rampart's schema v1 from
//! files, directories or embedded texts ([`schema`]), Go Rampart's glob
//! semantics ([`glob`]), the compiled [`Engine`] that decides each call
//! ([`engine`]) and the warnings of `rampart policy lint` ([`mod@lint`]). It never
//! touches a process, a socket or the audit trail, and evaluation never reads
//! the file system: a decision is pure computation over a [`Request`].
//!
//! # Evaluation (as Go Rampart)
//!
//! 1. A policy is in scope when it is enabled and its `match.agent`,
//!    `match.session` (globs, absent = any) and `match.tool` (globs, absent or
//!    empty = every tool) fit the call.
//! 2. Policies in scope are taken by priority (`0` or absent = 100, lower
//!    first); ties keep file order (sources in the order given, files of a
//!    directory sorted by path).
//! 3. Within a policy the first rule whose `when` matches decides; the others
//!    are not looked at.
//! 4. Across policies a `deny` wins at once; otherwise `ask` beats `watch`
//!    beats `allow`. The message is the one of the first rule that set the
//!    winning level ([`Decision::matched_policies`] lists the policies whose
//!    rules fired, in evaluation order; Go Rampart also appends, on a deny,
//!    the in-scope policies it did not get to, which this engine does not).
//! 5. Nothing in scope, or nothing fired: `default_action` (absent = `deny`).
//!
//! # Conditions
//!
//! All fields of a `when` must match (AND); the patterns of one field are
//! alternatives (OR). A `when` that is absent or empty matches every call in
//! scope, as in Go Rampart (`default: false` counts as empty). `default: true`
//! matches every call whatever else the `when` says. A `when` made only of
//! exclusions (`*_not_matches`) never matches.
//!
//! | field | matched against |
//! |---|---|
//! | `command_matches`, `command_not_matches` | the exec's command line (argv as POSIX shell words, or a hook's raw shell string) read as a shell would ([`shell`]): deny/ask rules match any spelling or component, allow/watch rules must cover every component; exclusions apply per component; [`glob::GlobKind::Text`] |
//! | `command_contains` | deny/ask: the command, as a case-insensitive substring; allow/watch: every component, case-sensitively (an empty entry is a load error) |
//! | `command_env_assignments` | names of `NAME=value` words in front of any command the line runs, after `env`, or after `export`/`declare`/`typeset` (globs) |
//! | `path_matches`, `path_not_matches` | the path of an open or of a unix-socket connect, [`glob::GlobKind::Path`] |
//! | `url_matches` | `tcp://host:port` / `udp://host:port` of an inet connect |
//! | `domain_matches` | the connect's domain (else the URL's host), case-insensitive, trailing dot ignored |
//! | `session_matches`, `session_not_matches` | [`Request::session`] |
//!
//! Glob conditions never match an input longer than 8 KiB (Go Rampart's
//! bound, [`glob::MAX_INPUT_LEN`]); `command_contains` still sees the whole
//! command.
//!
//! Paths: a relative path is joined to the call's `cwd` and every path is
//! cleaned lexically (`.`, `..`, repeated `/`; an abstract socket name
//! starting with `@` is taken as it is), never resolved through
//! symbolic links (the interceptors report the path the program named). A
//! relative pattern (`*.env`, `secrets/**`) also matches the path spelled
//! relative to `cwd`, as Go Rampart joins such patterns to the working
//! directory. In path patterns `~`, `~/…`, `$HOME` and `$HOME/…` at the start
//! mean the home directory ([`LoadOptions::home`]); Go Rampart leaves `~`
//! literal there, so a Go policy written with `~/` only takes effect here.
//! `$PROJECT` and `$PROJECT/…` at the start of a path pattern mean the
//! session's project root ([`Request::project`]): a generated policy names
//! the files of the project it learned from wherever the next checkout is.
//! Such a pattern matches only a path inside that root, and nothing when the
//! call has no project.
//! In command patterns, `$PROJECT/` at the start names a program of the
//! project: a command whose program is an absolute path inside the
//! project root is decided as `$PROJECT/…` and its arguments
//! ([`engine::project_command`]).
//! `$PARENTS/NAME` means a file called NAME directly inside any directory
//! above the project root (tools walk up from the project looking for
//! their configuration).
//! Command patterns keep `~` literal in both, since they match the command's
//! text.
//!
//! # What the remaining keys do at the syscall level
//!
//! These keys load and are validated strictly, but a process tree offers
//! less than an agent's tool call:
//!
//! - `response_matches`, `response_not_matches`: regular expressions (RE2
//!   syntax, at most 500 characters, no nested quantifiers) over a tool's
//!   *response*. A syscall has no response body, and Go Rampart ignores them
//!   when it decides a request, so they never match here; a `when` holding
//!   nothing else never matches.
//! - `tool_param_matches`: globs over an MCP tool's input parameters. An
//!   exec, open or connect carries no tool parameters, so the condition never
//!   matches (Go Rampart likewise fails it when no named parameter is there).
//! - `agent_depth`: the depth of a sub-agent. Everything under `rampart run`
//!   is the top-level agent, depth 0, and `gte`/`lte`/`eq` compare against 0.
//! - `call_count`: sliding-window rate limits. The engine keeps no counters
//!   (it is a pure function of the request), and Go Rampart fails the
//!   condition when it has no counter, so it never matches.
//! - `action: webhook` with `webhook:`: an external service would decide. No
//!   HTTP call is made from the path of a syscall; the rule decides as an
//!   unreachable webhook would: `fail_open: true` allows, otherwise it denies.
//! - `action: ask` (and a rule's `ask:` block): the verdict is [`Action::Ask`];
//!   the caller (collector) decides how to ask or, without a way to ask, to
//!   refuse. `log` is read as the deprecated alias of `watch`.
//! - `notify:`: loaded and validated; sending notifications is not the
//!   engine's job.
//! - `tests:`: inline test cases, loaded and validated (the expected action
//!   must be a known one), kept in [`schema::PolicyFile::tests`] and run by
//!   [`Engine::run_inline_tests`].

pub mod engine;
pub mod glob;
pub mod lint;
pub mod schema;
pub mod shell;
pub(crate) mod yaml;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use engine::{Engine, Explanation, LoadOptions, PolicyTrace, RuleTrace, TestOutcome};
pub use lint::{lint, LintWarning};

/// A verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Allow,
    Deny,
    Watch,
    Ask,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Watch => "watch",
            Action::Ask => "ask",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`Action::from_str`]: the text that is not an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownAction(pub String);

impl fmt::Display for UnknownAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown action {:?} (expected allow, deny, watch or ask)",
            self.0
        )
    }
}

impl std::error::Error for UnknownAction {}

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Action::Allow),
            "deny" => Ok(Action::Deny),
            "watch" => Ok(Action::Watch),
            "ask" => Ok(Action::Ask),
            _ => Err(UnknownAction(s.to_string())),
        }
    }
}

/// One call to decide: the Rampart tool and the request keys a policy can
/// look at. Fields that do not apply to the tool are `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request<'a> {
    /// `exec`, `read`, `write`, `net` (any string: Go policies name others).
    pub tool: &'a str,
    pub agent: &'a str,
    pub session: &'a str,
    /// The command line of an exec.
    pub command: Option<&'a str>,
    /// The path of an open or of a unix-socket connect.
    pub path: Option<&'a str>,
    /// `tcp://host:port` or `udp://host:port` of an inet connect.
    pub url: Option<&'a str>,
    /// The name the process resolved for the connect's address.
    pub domain: Option<&'a str>,
    /// The calling process's working directory, for relative paths.
    pub cwd: Option<&'a str>,
    /// The root of the project the session works in (the git work tree
    /// around `rampart run`'s working directory, else that directory), which
    /// `$PROJECT` at the start of a path pattern stands for. `None`: such
    /// patterns match nothing.
    pub project: Option<&'a str>,
}

/// The engine's verdict on one [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// Decided by the default action or by a rule that matches every call
    /// (`default: true`: the end of each tool of a generated policy), not by
    /// a rule that names something.
    pub catch_all: bool,
    /// Names of the policies whose rules fired, in evaluation order (empty
    /// when the default action decided).
    pub matched_policies: Vec<String>,
    pub message: String,
}

/// A policy that cannot be loaded: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    /// 1-based; 0 when the error concerns the whole file (unreadable, too
    /// large).
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

impl std::error::Error for LoadError {}
