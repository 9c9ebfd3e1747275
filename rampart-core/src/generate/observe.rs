//! What the generator learns from: one audit record reduced to an
//! [`Observation`], and the decision whether it is learned at all.
//!
//! Learned: calls the policy allowed (`allow`, `watch`, and Go Rampart's
//! `log`) that succeeded, reads that found nothing (`ENOENT`,
//! `ENOTDIR`: programs probe for optional files, and the next session's
//! probes must pass too), a `mkdir` of a directory that is there (`EEXIST`)
//! and a delete of a file that is not (`ENOENT`), which programs expect
//! alike. Skipped, each with a reason for the summary: denied
//! and `ask` calls, failed opens, execs and connects, calls outside the time
//! window or the agent/session filter, records without the key a rule needs.
//! Reads both this project's trails and Go Rampart's (tools `exec`, `read`,
//! `write`, `edit`, `fetch`, request keys `command`, `path`/`file_path`,
//! `url`). It never builds rules.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::audit::scan::Link;
use crate::policy::glob::{Glob, GlobKind};
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
    /// A `lost` record: calls the trail does not hold, so nothing to learn
    /// from (init warns that the policy may miss what they did).
    Lost,
    /// A call past the preload library's hooks (`source: unhooked`: the
    /// loader's opens, libc's own): the policy's rules that match every
    /// call never refuse these (the Landlock floor does), so nothing needs
    /// to be learned for them, and learning the loader's search along its
    /// library path would only widen the policy.
    Unhooked,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Denied => write!(f, "denied by the policy in force"),
            SkipReason::Unhooked => write!(f, "a call past the hooks (source unhooked)"),
            SkipReason::Lost => write!(
                f,
                "a `lost` record (calls that never reached the collector: not learned)"
            ),
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
                crate::policy::glob::MAX_INPUT_LEN
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
    Exec {
        command: &'a str,
    },
    File {
        access: Access,
        path: Cow<'a, str>,
    },
    /// An inet connect (`net` with a `url`).
    Connect {
        url: &'a str,
    },
    /// A unix-socket connect (`net` with a `path`).
    Socket {
        path: &'a str,
    },
    /// A Go Rampart `fetch` (or any tool carrying a `url`).
    Fetch {
        url: &'a str,
    },
    /// Any other tool: learned by name only.
    Other,
}

pub(crate) fn str_key<'a>(req: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| req.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
}

/// The fields of one record the generator looks at, borrowed from an
/// [`Observation`] or straight from a JSONL line.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rec<'a> {
    pub tool: &'a str,
    pub action: &'a str,
    pub timestamp: &'a str,
    pub agent: &'a str,
    pub session: &'a str,
    pub exit_code: Option<i64>,
    pub command: Option<&'a str>,
    /// `path`, else Go Rampart's `file_path`, `file`, `filepath`, `target`.
    pub path: Option<&'a str>,
    /// `url`, else `uri`, `href`.
    pub url: Option<&'a str>,
    pub domain: Option<&'a str>,
    /// `cwd`, else `workdir`.
    pub cwd: Option<&'a str>,
    /// The session's project root (`request.project`).
    pub project: Option<&'a str>,
    /// A mutation's `op` (`rename`, `link`, ...) and the second path it
    /// writes (`new_path`: the new name of a rename or link).
    pub op: Option<&'a str>,
    pub new_path: Option<&'a str>,
    /// The file an open reached where it differs from `path`.
    pub resolved: Option<&'a str>,
    pub outcome: Option<&'a str>,
    /// Which interceptor saw the call (`request.source`).
    pub source: Option<&'a str>,
}

pub(crate) const PATH_KEYS: &[&str] = &["path", "file_path", "file", "filepath", "target"];
pub(crate) const URL_KEYS: &[&str] = &["url", "uri", "href"];

impl<'a> Rec<'a> {
    pub fn from_observation(o: &'a Observation) -> Rec<'a> {
        let r = &o.request;
        Rec {
            tool: &o.tool,
            action: &o.action,
            timestamp: &o.timestamp,
            agent: &o.agent,
            session: &o.session,
            exit_code: o.exit_code,
            command: str_key(r, &["command"]),
            path: str_key(r, PATH_KEYS),
            url: str_key(r, URL_KEYS),
            domain: str_key(r, &["domain"]),
            cwd: str_key(r, &["cwd", "workdir"]),
            project: str_key(r, &["project"]),
            op: str_key(r, &["op"]),
            new_path: str_key(r, &["new_path"]),
            resolved: str_key(r, &["resolved"]),
            outcome: r.get("outcome").and_then(Value::as_str),
            source: str_key(r, &["source"]),
        }
    }
}

/// A JSON string, or nothing for any other value.
pub(crate) struct LenientStr<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for LenientStr<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = LenientStr<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Cow::Owned(v))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(LenientStr(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(LenientStr(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'a> LenientStr<'a> {
    fn get(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.is_empty())
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RequestRef<'a> {
    #[serde(borrow)]
    command: Option<LenientStr<'a>>,
    #[serde(borrow)]
    path: Option<LenientStr<'a>>,
    #[serde(borrow)]
    file_path: Option<LenientStr<'a>>,
    #[serde(borrow)]
    file: Option<LenientStr<'a>>,
    #[serde(borrow)]
    filepath: Option<LenientStr<'a>>,
    #[serde(borrow)]
    target: Option<LenientStr<'a>>,
    #[serde(borrow)]
    url: Option<LenientStr<'a>>,
    #[serde(borrow)]
    uri: Option<LenientStr<'a>>,
    #[serde(borrow)]
    href: Option<LenientStr<'a>>,
    #[serde(borrow)]
    domain: Option<LenientStr<'a>>,
    #[serde(borrow)]
    cwd: Option<LenientStr<'a>>,
    #[serde(borrow)]
    workdir: Option<LenientStr<'a>>,
    #[serde(borrow)]
    project: Option<LenientStr<'a>>,
    #[serde(borrow)]
    op: Option<LenientStr<'a>>,
    #[serde(borrow)]
    new_path: Option<LenientStr<'a>>,
    #[serde(borrow)]
    resolved: Option<LenientStr<'a>>,
    #[serde(borrow)]
    outcome: Option<LenientStr<'a>>,
    #[serde(borrow)]
    source: Option<LenientStr<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct DecisionRef<'a> {
    #[serde(borrow)]
    action: Option<LenientStr<'a>>,
}

/// One JSONL line, borrowed: no map, no copies of what is not needed.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct LineRef<'a> {
    #[serde(borrow)]
    tool: Option<LenientStr<'a>>,
    #[serde(borrow)]
    request: Option<RequestRef<'a>>,
    #[serde(borrow)]
    decision: Option<DecisionRef<'a>>,
    #[serde(borrow)]
    timestamp: Option<LenientStr<'a>>,
    #[serde(borrow)]
    agent: Option<LenientStr<'a>>,
    #[serde(borrow)]
    session: Option<LenientStr<'a>>,
    response: Option<ResponseView>,
    // Where the line sits in the chain (audit::scan).
    #[serde(borrow)]
    id: Option<LenientStr<'a>>,
    #[serde(borrow)]
    prev_hash: Option<LenientStr<'a>>,
    #[serde(borrow)]
    hash: Option<LenientStr<'a>>,
    #[serde(borrow)]
    chain_continue: Option<LenientStr<'a>>,
    #[serde(borrow)]
    prev_file: Option<LenientStr<'a>>,
}

fn ls<'b>(v: &'b Option<LenientStr<'_>>) -> Option<&'b str> {
    v.as_ref().and_then(LenientStr::get)
}

impl<'a> LineRef<'a> {
    pub fn parse(line: &'a str) -> Result<LineRef<'a>, String> {
        serde_json::from_str(line).map_err(|e| e.to_string())
    }

    /// What the line is to the hash chain.
    pub fn link(self) -> Link<'a> {
        let take = |v: Option<LenientStr<'a>>| v.and_then(|l| l.0);
        match take(self.id) {
            Some(id) if !id.is_empty() => Link::Record {
                id,
                prev_hash: take(self.prev_hash).unwrap_or_default(),
                hash: take(self.hash).unwrap_or_default(),
            },
            _ => match (take(self.prev_file), take(self.chain_continue)) {
                (Some(prev_file), Some(chain_continue)) => Link::Header {
                    prev_file,
                    chain_continue,
                },
                _ => Link::Loose,
            },
        }
    }

    /// `None` for a rotated file's header line.
    pub fn rec(&self) -> Option<Rec<'_>> {
        if self.tool.is_none() && self.decision.is_none() {
            return None;
        }
        let r = self.request.as_ref();
        Some(Rec {
            tool: ls(&self.tool).unwrap_or(""),
            action: self
                .decision
                .as_ref()
                .and_then(|d| ls(&d.action))
                .unwrap_or(""),
            timestamp: ls(&self.timestamp).unwrap_or(""),
            agent: ls(&self.agent).unwrap_or(""),
            session: ls(&self.session).unwrap_or(""),
            exit_code: self.response.as_ref().and_then(|r| r.exit_code),
            command: r.and_then(|r| ls(&r.command)),
            path: r.and_then(|r| {
                [&r.path, &r.file_path, &r.file, &r.filepath, &r.target]
                    .into_iter()
                    .find_map(ls)
            }),
            url: r.and_then(|r| [&r.url, &r.uri, &r.href].into_iter().find_map(ls)),
            domain: r.and_then(|r| ls(&r.domain)),
            cwd: r.and_then(|r| [&r.cwd, &r.workdir].into_iter().find_map(ls)),
            project: r.and_then(|r| ls(&r.project)),
            op: r.and_then(|r| ls(&r.op)),
            new_path: r.and_then(|r| ls(&r.new_path)),
            resolved: r.and_then(|r| ls(&r.resolved)),
            outcome: r.and_then(|r| r.outcome.as_ref().and_then(|o| o.0.as_deref())),
            source: r.and_then(|r| ls(&r.source)),
        })
    }
}

/// A denied call a reviewer accepts (`--include-denied TOOL:PATTERN`): the
/// tool a glob, the pattern a glob over the call's command (Go Rampart's
/// text globs), path (path globs; `~/` is the home directory) or URL.
#[derive(Clone, Debug)]
pub(crate) struct Accept {
    tool: Glob,
    text: Glob,
    path: Option<Glob>,
}

impl Accept {
    pub fn new(spec: &str, home: Option<&str>) -> Result<Accept, String> {
        let bad = |why: String| {
            format!(
                "invalid --include-denied {spec:?}: {why} (expected TOOL:PATTERN, e.g. \
                 'exec:git push origin *' or 'read:/etc/app/**')"
            )
        };
        let (tool, pattern) = spec
            .split_once(':')
            .filter(|(t, p)| !t.is_empty() && !p.is_empty())
            .ok_or_else(|| bad("no tool or no pattern".into()))?;
        let path_pattern = match (pattern.strip_prefix("~/"), home) {
            (Some(rest), Some(h)) => format!("{}/{rest}", h.trim_end_matches('/')),
            _ => pattern.to_string(),
        };
        Ok(Accept {
            tool: Glob::new(tool, GlobKind::Text).map_err(|e| bad(e.to_string()))?,
            text: Glob::new(pattern, GlobKind::Text).map_err(|e| bad(e.to_string()))?,
            path: path_pattern
                .starts_with('/')
                .then(|| Glob::new(&path_pattern, GlobKind::Path))
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
        })
    }

    /// Whether the call is one this accepts.
    pub fn accepts(&self, rec: &Rec<'_>) -> bool {
        if !self.tool.is_match(rec.tool) {
            return false;
        }
        if let Some(c) = rec.command {
            return self.text.is_match(c);
        }
        if let Some(p) = rec.path {
            let p = absolute(p, rec.cwd);
            return self.path.as_ref().is_some_and(|g| g.is_match(&p));
        }
        if let Some(u) = rec.url {
            return self.text.is_match(u) || rec.domain.is_some_and(|d| self.text.is_match(d));
        }
        false
    }
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
pub(crate) fn outcome(rec: &Rec<'_>) -> Result<(), SkipReason> {
    if let Some(o) = rec.outcome {
        return match o {
            "ok" | "in_progress" | "unknown" | "" => Ok(()),
            "ENOENT" | "ENOTDIR" if rec.tool == "read" => Ok(()),
            // A directory made where one is (`mkdir -p`, a cache dir at
            // start) and a delete of what is not there (`rm -f`): the
            // program expects that errno and goes on; refused, it gets
            // `EACCES` and stops.
            "EEXIST" if rec.tool == "write" && rec.op == Some("mkdir") => Ok(()),
            "ENOENT" if rec.tool == "write" && rec.op == Some("delete") => Ok(()),
            errno => Err(SkipReason::Failed(errno.to_string())),
        };
    }
    if rec.tool == "exec" {
        if let Some(code @ (126 | 127)) = rec.exit_code {
            return Err(SkipReason::Failed(format!("exit code {code}")));
        }
    }
    Ok(())
}

/// The other paths a file call is decided on, each as the access it is
/// decided as (the collector decides every one, see
/// `event::Event::path_checks`): the file an open reached (`resolved`) as
/// the open's own access, the new name of a rename or link as a write, and
/// a link's or rename's source as a read as well (a hard link is a second
/// name for its content, a rename another).
pub(crate) fn more_paths<'a>(rec: &Rec<'a>) -> Vec<(Access, Cow<'a, str>)> {
    let mut out = Vec::new();
    if let Some(r) = rec.resolved.filter(|r| r.starts_with('/')) {
        match rec.tool {
            "read" => out.push((Access::Read, absolute(r, None))),
            "write" | "edit" => out.push((Access::Write, absolute(r, None))),
            _ => {}
        }
    }
    if rec.tool != "write" {
        return out;
    }
    if let Some(n) = rec.new_path {
        out.push((Access::Write, absolute(n, rec.cwd)));
    }
    if matches!(rec.op, Some("link" | "rename")) {
        if let Some(p) = rec.path {
            out.push((Access::Read, absolute(p, rec.cwd)));
        }
    }
    out
}

/// Extracts the call a rule is built from.
pub(crate) fn call<'a>(rec: &Rec<'a>) -> Result<Call<'a>, SkipReason> {
    match rec.tool {
        crate::audit::LOST_TOOL => Err(SkipReason::Lost),
        _ if rec.source == Some("unhooked") => Err(SkipReason::Unhooked),
        "exec" => {
            let command = rec.command.ok_or(SkipReason::MissingKey("command"))?;
            if command.len() > crate::policy::glob::MAX_INPUT_LEN {
                return Err(SkipReason::TooLong);
            }
            Ok(Call::Exec { command })
        }
        "read" | "write" | "edit" => {
            let raw = rec.path.ok_or(SkipReason::MissingKey("path"))?;
            let access = if rec.tool == "read" {
                Access::Read
            } else {
                Access::Write
            };
            let path = absolute(raw, rec.cwd);
            if path.len() > crate::policy::glob::MAX_INPUT_LEN {
                return Err(SkipReason::TooLong);
            }
            Ok(Call::File { access, path })
        }
        "net" => {
            if let Some(url) = rec.url {
                Ok(Call::Connect { url })
            } else if let Some(path) = rec.path {
                Ok(Call::Socket { path })
            } else {
                Err(SkipReason::MissingKey("url or path"))
            }
        }
        _ => match rec.url {
            Some(url) if rec.tool == "fetch" || url.contains("://") => Ok(Call::Fetch { url }),
            _ => Ok(Call::Other),
        },
    }
}

/// The path as Rampart compares it: relative paths joined to the working
/// directory when one is known, then cleaned lexically ([`crate::path`]).
/// An empty path with no directory stays empty.
pub(crate) fn absolute<'a>(path: &'a str, cwd: Option<&str>) -> Cow<'a, str> {
    let base = cwd.filter(|d| d.starts_with('/')).unwrap_or("");
    if path.is_empty() && base.is_empty() {
        return Cow::Borrowed(path);
    }
    crate::path::join(base, path)
}

/// A point in time as the bytes of its canonical RFC 3339 UTC form with
/// nanoseconds (`2026-03-01T10:00:00.000000000Z`): byte order is time order.
pub(crate) type Stamp = [u8; 30];

/// The canonical stamp of `t`.
pub(crate) fn stamp_of(t: DateTime<Utc>) -> Stamp {
    let s = t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let mut out = [b'0'; 30];
    if s.len() == 30 {
        out.copy_from_slice(s.as_bytes());
    }
    out
}

/// Reads a timestamp: this project's writer already uses the canonical
/// form (no parsing then); anything else RFC 3339 is parsed.
pub(crate) fn timestamp(s: &str) -> Option<Stamp> {
    let b = s.as_bytes();
    let canonical = b.len() == 30
        && b[29] == b'Z'
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19 | 29) || c.is_ascii_digit());
    if canonical {
        let mut out = [0u8; 30];
        out.copy_from_slice(b);
        return Some(out);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| stamp_of(t.with_timezone(&Utc)))
}

/// The stamp as a readable RFC 3339 time (trailing zero digits dropped).
pub(crate) fn stamp_text(s: &Stamp) -> String {
    let text = std::str::from_utf8(s).unwrap_or("");
    DateTime::parse_from_rfc3339(text)
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        })
        .unwrap_or_else(|_| text.to_string())
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
