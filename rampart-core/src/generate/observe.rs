//! What the generator learns from: one audit record reduced to an
//! [`Observation`], and the decision whether it is learned at all.
//!
//! Learned: calls the policy allowed (`allow`, `watch`, and Go Rampart's
//! `log`) that succeeded. Skipped, each with a reason for the summary: denied
//! and `ask` calls, failed opens, execs and connects, calls outside the time
//! window or the agent/session filter, records without the key a rule needs.
//! Reads both this project's trails and Go Rampart's (tools `exec`, `read`,
//! `write`, `edit`, `fetch`, request keys `command`, `path`/`file_path`,
//! `url`). It never builds rules.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One audit record, as much of it as the generator needs: fields of a
/// `rampart.audit.v1` record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    pub tool: String,
    pub request: Map<String, Value>,
    /// `decision.action`: `allow`, `deny`, `watch`, `ask` (Go Rampart also
    /// writes `log`, `require_approval`, `webhook`).
    pub action: String,
    /// RFC 3339.
    pub timestamp: String,
    pub agent: String,
    pub session: String,
    /// `response.exit_code` of Go Rampart records, when present.
    pub exit_code: Option<i64>,
}

#[derive(Deserialize)]
struct RecordView {
    #[serde(default)]
    tool: String,
    #[serde(default)]
    request: Map<String, Value>,
    #[serde(default)]
    decision: Option<DecisionView>,
    #[serde(default)]
    timestamp: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    response: Option<ResponseView>,
}

#[derive(Deserialize)]
struct DecisionView {
    #[serde(default)]
    action: String,
}

#[derive(Deserialize)]
struct ResponseView {
    #[serde(default)]
    exit_code: Option<i64>,
}

impl Observation {
    /// Reads one JSONL line of an audit trail. A rotated file's header line
    /// (`chain_continue`) is not a record: `Ok(None)`.
    pub fn from_json_line(line: &str) -> Result<Option<Observation>, String> {
        let view: RecordView = serde_json::from_str(line).map_err(|e| e.to_string())?;
        Ok(view.into_observation())
    }

    /// Reads one already parsed record.
    pub fn from_record(record: &Value) -> Result<Option<Observation>, String> {
        let view = RecordView::deserialize(record).map_err(|e| e.to_string())?;
        Ok(view.into_observation())
    }
}

impl RecordView {
    fn into_observation(self) -> Option<Observation> {
        if self.tool.is_empty() && self.decision.is_none() {
            return None;
        }
        Some(Observation {
            tool: self.tool,
            request: self.request,
            action: self.decision.map(|d| d.action).unwrap_or_default(),
            timestamp: self.timestamp,
            agent: self.agent,
            session: self.session,
            exit_code: self.response.and_then(|r| r.exit_code),
        })
    }
}

/// Why a record was not learned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    Denied,
    Ask,
    OtherVerdict(String),
    Failed(String),
    BeforeSince,
    AfterUntil,
    AgentFilter,
    SessionFilter,
    MissingKey(&'static str),
    AlwaysDenied(&'static str),
    TooLong,
    Corrupt,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Denied => write!(f, "denied by the policy in force"),
            SkipReason::Ask => write!(f, "ask (needed a human's approval)"),
            SkipReason::OtherVerdict(v) => write!(f, "verdict {v:?} is not an allow"),
            SkipReason::Failed(why) => write!(f, "failed call ({why})"),
            SkipReason::BeforeSince => write!(f, "before --since"),
            SkipReason::AfterUntil => write!(f, "after --until"),
            SkipReason::AgentFilter => write!(f, "agent not selected by --agent"),
            SkipReason::SessionFilter => write!(f, "session not selected by --session"),
            SkipReason::MissingKey(k) => write!(f, "request has no {k}"),
            SkipReason::AlwaysDenied(what) => write!(f, "always denied: {what}"),
            SkipReason::TooLong => write!(
                f,
                "longer than a policy pattern may be ({} bytes)",
                crate::generate::glob::MAX_INPUT_LEN
            ),
            SkipReason::Corrupt => write!(f, "corrupt or unreadable record"),
        }
    }
}

/// File access class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    Read,
    Write,
}

/// The part of a learned call a rule is built from.
#[derive(Debug, PartialEq)]
pub(crate) enum Call<'a> {
    Exec { command: &'a str },
    File { access: Access, path: Cow<'a, str> },
    /// An inet connect (`net` with a `url`).
    Connect { url: &'a str },
    /// A unix-socket connect (`net` with a `path`).
    Socket { path: &'a str },
    /// A Go Rampart `fetch` (or any tool carrying a `url`).
    Fetch { url: &'a str },
    /// Any other tool: learned by name only.
    Other,
}

pub(crate) fn str_key<'a>(req: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| req.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
}

/// The working directory a record names, if any.
pub(crate) fn cwd(req: &Map<String, Value>) -> Option<&str> {
    str_key(req, &["cwd", "workdir"])
}

/// Whether the verdict lets the call be learned.
pub(crate) fn verdict(action: &str) -> Result<(), SkipReason> {
    match action {
        "allow" | "watch" | "log" => Ok(()),
        "deny" => Err(SkipReason::Denied),
        "ask" | "require_approval" => Err(SkipReason::Ask),
        other => Err(SkipReason::OtherVerdict(other.to_string())),
    }
}

/// Whether the call succeeded, from `request.outcome` (this project) or
/// `response.exit_code` (Go Rampart: 126/127 mean the exec never ran).
pub(crate) fn outcome(obs: &Observation) -> Result<(), SkipReason> {
    if let Some(o) = obs.request.get("outcome").and_then(Value::as_str) {
        return match o {
            "ok" | "in_progress" | "unknown" | "" => Ok(()),
            errno => Err(SkipReason::Failed(errno.to_string())),
        };
    }
    if obs.tool == "exec" {
        if let Some(code @ (126 | 127)) = obs.exit_code {
            return Err(SkipReason::Failed(format!("exit code {code}")));
        }
    }
    Ok(())
}

/// Extracts the call a rule is built from.
pub(crate) fn call(obs: &Observation) -> Result<Call<'_>, SkipReason> {
    let req = &obs.request;
    match obs.tool.as_str() {
        "exec" => {
            let command = str_key(req, &["command"]).ok_or(SkipReason::MissingKey("command"))?;
            if command.len() > crate::generate::glob::MAX_INPUT_LEN {
                return Err(SkipReason::TooLong);
            }
            Ok(Call::Exec { command })
        }
        "read" | "write" | "edit" => {
            let raw = str_key(req, &["path", "file_path", "file", "filepath", "target"])
                .ok_or(SkipReason::MissingKey("path"))?;
            let access = if obs.tool == "read" {
                Access::Read
            } else {
                Access::Write
            };
            let path = absolute(raw, cwd(req));
            if path.len() > crate::generate::glob::MAX_INPUT_LEN {
                return Err(SkipReason::TooLong);
            }
            Ok(Call::File { access, path })
        }
        "net" => {
            if let Some(url) = str_key(req, &["url"]) {
                Ok(Call::Connect { url })
            } else if let Some(path) = str_key(req, &["path"]) {
                Ok(Call::Socket { path })
            } else {
                Err(SkipReason::MissingKey("url or path"))
            }
        }
        _ => match str_key(req, &["url", "uri", "href"]) {
            Some(url) if obs.tool == "fetch" || url.contains("://") => Ok(Call::Fetch { url }),
            _ => Ok(Call::Other),
        },
    }
}

/// The path as Rampart compares it: relative paths joined to the working
/// directory when one is known, then cleaned lexically.
pub(crate) fn absolute<'a>(path: &'a str, cwd: Option<&str>) -> Cow<'a, str> {
    let joined: Cow<'a, str> = match cwd {
        Some(dir) if !path.starts_with('/') && dir.starts_with('/') => {
            Cow::Owned(format!("{dir}/{path}"))
        }
        _ => Cow::Borrowed(path),
    };
    if !needs_cleaning(&joined) {
        return joined;
    }
    let rooted = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in joined.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    Cow::Owned(match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    })
}

fn needs_cleaning(p: &str) -> bool {
    p.contains("//")
        || p.contains("/./")
        || p.contains("/../")
        || p.ends_with("/.")
        || p.ends_with("/..")
        || (p.len() > 1 && p.ends_with('/'))
        || p.starts_with("./")
        || p.starts_with("../")
}

/// Parses an RFC 3339 timestamp.
pub(crate) fn timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_and_joined() {
        assert_eq!(absolute("/a/./b//c/../d", None), "/a/b/d");
        assert_eq!(absolute("src/x.rs", Some("/p")), "/p/src/x.rs");
        assert_eq!(absolute("/", None), "/");
        assert_eq!(absolute("/../etc", None), "/etc");
    }
}
