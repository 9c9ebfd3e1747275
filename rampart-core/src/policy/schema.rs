//! Rampart's YAML policy schema v1: the model and its strict loading.
//!
//! Owns reading policy sources (files, directories, embedded texts) into a
//! [`PolicySet`] whose every item remembers its line. Strict: every key Go
//! Rampart knows is recognised and anything else is an error naming the
//! file, the line and the key or value — unknown keys at any level, a second
//! document, duplicate policy names (also across files), an unsupported
//! `version`, unknown actions (`require_approval` is explained as removed),
//! wrong types, empty `command_contains` entries, malformed globs and
//! regular expressions, bad durations, files over [`MAX_FILE_SIZE`]. It never
//! evaluates anything; [`super::engine`] compiles the set.

use std::path::{Path, PathBuf};

use super::glob::{Glob, GlobKind};
use super::yaml::{self, scalar_is_bool, Node, Value};
use super::{Action, LoadError};

/// Largest policy file accepted (1 MiB).
pub const MAX_FILE_SIZE: u64 = 1 << 20;

/// A value and the line (1-based) it was written on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
}

/// What a rule does when it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleAction {
    Allow,
    Deny,
    /// `watch`, or its deprecated alias `log`.
    Watch,
    Ask,
    /// Delegation to an external HTTP endpoint (see the module docs of
    /// [`super`] for what it does at the syscall level).
    Webhook,
}

/// One policy file (or embedded text), as written.
#[derive(Clone, Debug)]
pub struct PolicyFile {
    pub file: PathBuf,
    pub version: Option<Located<String>>,
    pub default_action: Option<Located<Action>>,
    pub policies: Vec<PolicyDef>,
    pub notify: Option<NotifyDef>,
    pub tests: Vec<TestCase>,
}

#[derive(Clone, Debug)]
pub struct PolicyDef {
    pub name: String,
    /// The line of the policy's `name`.
    pub line: usize,
    pub description: String,
    pub priority: Option<Located<i64>>,
    pub enabled: bool,
    pub agent: Option<Located<String>>,
    pub session: Option<Located<String>>,
    /// Tool globs; empty means every tool.
    pub tools: Vec<Located<String>>,
    pub rules: Vec<RuleDef>,
}

impl PolicyDef {
    /// Go Rampart's `EffectivePriority`: 0 or absent is 100.
    pub fn effective_priority(&self) -> i64 {
        match self.priority.as_ref().map(|p| p.value) {
            None | Some(0) => 100,
            Some(p) => p,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RuleDef {
    /// The line where the rule starts.
    pub line: usize,
    pub action: Located<RuleAction>,
    pub when: Option<ConditionDef>,
    pub message: String,
    pub webhook: Option<WebhookDef>,
    pub ask: Option<AskDef>,
}

/// A rule's `when`.
#[derive(Clone, Debug, Default)]
pub struct ConditionDef {
    pub line: usize,
    pub command_matches: Vec<Located<String>>,
    pub command_not_matches: Vec<Located<String>>,
    pub command_contains: Vec<Located<String>>,
    pub command_env_assignments: Vec<Located<String>>,
    pub path_matches: Vec<Located<String>>,
    pub path_not_matches: Vec<Located<String>>,
    pub url_matches: Vec<Located<String>>,
    pub domain_matches: Vec<Located<String>>,
    pub session_matches: Vec<Located<String>>,
    pub session_not_matches: Vec<Located<String>>,
    pub response_matches: Vec<Located<String>>,
    pub response_not_matches: Vec<Located<String>>,
    /// Parameter name and glob.
    pub tool_param_matches: Vec<(Located<String>, Located<String>)>,
    pub agent_depth: Option<AgentDepthDef>,
    pub call_count: Option<CallCountDef>,
    pub default: Option<Located<bool>>,
}

impl ConditionDef {
    /// Go Rampart's `IsEmpty`: nothing that could narrow the rule. An empty
    /// condition matches every call.
    pub fn is_empty(&self) -> bool {
        !self.default.as_ref().is_some_and(|d| d.value)
            && self.command_matches.is_empty()
            && self.command_not_matches.is_empty()
            && self.command_contains.is_empty()
            && self.command_env_assignments.is_empty()
            && self.path_matches.is_empty()
            && self.path_not_matches.is_empty()
            && self.url_matches.is_empty()
            && self.domain_matches.is_empty()
            && self.session_matches.is_empty()
            && self.session_not_matches.is_empty()
            && self.response_matches.is_empty()
            && self.response_not_matches.is_empty()
            && self.tool_param_matches.is_empty()
            && self.agent_depth.is_none()
            && self.call_count.is_none()
    }
}

#[derive(Clone, Debug)]
pub struct AgentDepthDef {
    pub line: usize,
    pub gte: Option<i64>,
    pub lte: Option<i64>,
    pub eq: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct CallCountDef {
    pub line: usize,
    pub tool: Option<String>,
    pub gte: i64,
    /// The window in seconds.
    pub window_secs: f64,
}

#[derive(Clone, Debug)]
pub struct WebhookDef {
    pub line: usize,
    pub url: String,
    pub timeout_secs: Option<f64>,
    pub fail_open: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct AskDef {
    pub line: usize,
    pub audit: Option<bool>,
    pub headless_only: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct NotifyDef {
    pub line: usize,
    pub url: String,
    pub platform: Option<String>,
    pub on: Vec<String>,
}

/// An inline test case (`tests:`).
#[derive(Clone, Debug)]
pub struct TestCase {
    pub line: usize,
    pub name: String,
    pub tool: String,
    pub agent: Option<String>,
    pub session: Option<String>,
    /// Scalar parameters (`command`, `path`, `url`, `domain`, ...).
    pub params: Vec<(String, String)>,
    pub expect: Action,
    pub expect_message: Option<String>,
}

/// Every source of an engine, merged.
#[derive(Clone, Debug)]
pub struct PolicySet {
    pub files: Vec<PolicyFile>,
    /// From the first file (in load order) that sets it; `deny` when none
    /// does.
    pub default_action: Action,
}

/// Reads policy sources: files as they are, directories as the `*.yaml` and
/// `*.yml` files directly inside them, sorted by path.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<(PathBuf, String)>, Vec<LoadError>> {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        let whole = |message: String| LoadError {
            file: path.clone(),
            line: 0,
            message,
        };
        match std::fs::metadata(path) {
            Err(e) => errors.push(whole(format!("cannot read policy source: {e}"))),
            Ok(meta) if meta.is_dir() => match std::fs::read_dir(path) {
                Err(e) => errors.push(whole(format!("cannot list policy directory: {e}"))),
                Ok(entries) => {
                    let mut inside: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| {
                            matches!(
                                p.extension().and_then(|e| e.to_str()),
                                Some("yaml") | Some("yml")
                            ) && p.is_file()
                        })
                        .collect();
                    inside.sort();
                    files.extend(inside);
                }
            },
            Ok(_) => files.push(path.clone()),
        }
    }
    let mut texts = Vec::new();
    for file in files {
        let whole = |message: String| LoadError {
            file: file.clone(),
            line: 0,
            message,
        };
        match std::fs::metadata(&file) {
            Ok(meta) if meta.len() > MAX_FILE_SIZE => {
                errors.push(whole(too_large(meta.len())));
                continue;
            }
            Err(e) => {
                errors.push(whole(format!("cannot read policy file: {e}")));
                continue;
            }
            Ok(_) => {}
        }
        match std::fs::read(&file) {
            Err(e) => errors.push(whole(format!("cannot read policy file: {e}"))),
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => texts.push((file, text)),
                Err(e) => {
                    let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count();
                    errors.push(LoadError {
                        file: file.clone(),
                        line,
                        message: "policy file is not valid UTF-8".to_string(),
                    });
                }
            },
        }
    }
    if errors.is_empty() {
        Ok(texts)
    } else {
        Err(errors)
    }
}

fn too_large(len: u64) -> String {
    format!("policy file is {len} bytes; policy files are limited to 1 MiB ({MAX_FILE_SIZE} bytes)")
}

/// Parses every source and merges them: `default_action` from the first
/// source that sets it, policy names unique across all of them.
pub fn parse_sources(sources: &[(PathBuf, String)]) -> Result<PolicySet, Vec<LoadError>> {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for (file, text) in sources {
        match parse_file(file, text) {
            Ok(f) => files.push(f),
            Err(mut e) => errors.append(&mut e),
        }
    }
    let mut seen: std::collections::HashMap<&str, (&Path, usize)> = Default::default();
    for f in &files {
        for p in &f.policies {
            match seen.get(p.name.as_str()) {
                Some((first_file, first_line)) => errors.push(LoadError {
                    file: f.file.clone(),
                    line: p.line,
                    message: format!(
                        "duplicate policy name {:?} (first defined at {}:{})",
                        p.name,
                        first_file.display(),
                        first_line
                    ),
                }),
                None => {
                    seen.insert(&p.name, (&f.file, p.line));
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let default_action = files
        .iter()
        .find_map(|f| f.default_action.as_ref().map(|d| d.value))
        .unwrap_or(Action::Deny);
    Ok(PolicySet {
        files,
        default_action,
    })
}

/// Parses one policy source strictly.
pub fn parse_file(file: &Path, text: &str) -> Result<PolicyFile, Vec<LoadError>> {
    let mut ctx = Ctx {
        file,
        errors: Vec::new(),
    };
    let mut out = PolicyFile {
        file: file.to_path_buf(),
        version: None,
        default_action: None,
        policies: Vec::new(),
        notify: None,
        tests: Vec::new(),
    };
    if text.len() as u64 > MAX_FILE_SIZE {
        ctx.err(0, too_large(text.len() as u64));
        return Err(ctx.errors);
    }
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => return Ok(out),
        Err(e) => {
            ctx.err(e.line, e.message);
            return Err(ctx.errors);
        }
    };
    let entries = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => return Ok(out),
        _ => {
            ctx.err(
                root.line,
                format!(
                    "a policy file must be a mapping (version, default_action, policies, ...), found {}",
                    root.describe()
                ),
            );
            return Err(ctx.errors);
        }
    };
    for (key, kline, node) in entries {
        match key.as_str() {
            "version" => {
                if let Some(v) = ctx.string(key, node) {
                    if v == "1" {
                        out.version = Some(Located {
                            value: v,
                            line: node.line,
                        });
                    } else {
                        ctx.err(
                            node.line,
                            format!(
                                "unsupported version {v:?}: this engine reads Rampart policy schema version \"1\""
                            ),
                        );
                    }
                }
            }
            "default_action" => {
                if let Some(v) = ctx.string(key, node) {
                    if let Some(a) = ctx.default_action(&v, node.line) {
                        out.default_action = Some(Located {
                            value: a,
                            line: node.line,
                        });
                    }
                }
            }
            "policies" => {
                for item in ctx.seq(key, node) {
                    if let Some(p) = ctx.policy(item) {
                        out.policies.push(p);
                    }
                }
            }
            "notify" => out.notify = ctx.notify(node),
            "tests" => {
                for item in ctx.seq(key, node) {
                    if let Some(t) = ctx.test_case(item) {
                        out.tests.push(t);
                    }
                }
            }
            _ => ctx.unknown_key(
                key,
                *kline,
                "the policy file",
                &["version", "default_action", "policies", "notify", "tests"],
            ),
        }
    }
    if ctx.errors.is_empty() {
        Ok(out)
    } else {
        Err(ctx.errors)
    }
}

/// A test suite file in Go Rampart's format: the policy it tests (a path
/// relative to the suite's directory, or several) and its `tests:`.
#[derive(Clone, Debug)]
pub struct SuiteFile {
    pub file: PathBuf,
    /// `policy:` paths as written, each with its line.
    pub policy: Vec<Located<String>>,
    pub tests: Vec<TestCase>,
}

/// Parses a test suite (`policy:` and `tests:`). Errors name the file, the
/// line and the value, as for policy files.
pub fn parse_suite(file: &Path, text: &str) -> Result<SuiteFile, Vec<LoadError>> {
    let mut ctx = Ctx {
        file,
        errors: Vec::new(),
    };
    let mut out = SuiteFile {
        file: file.to_path_buf(),
        policy: Vec::new(),
        tests: Vec::new(),
    };
    if text.len() as u64 > MAX_FILE_SIZE {
        ctx.err(0, too_large(text.len() as u64));
        return Err(ctx.errors);
    }
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            ctx.err(
                0,
                "an empty test suite (expected policy: and tests:)".into(),
            );
            return Err(ctx.errors);
        }
        Err(e) => {
            ctx.err(e.line, e.message);
            return Err(ctx.errors);
        }
    };
    let Value::Map(entries) = &root.value else {
        ctx.err(
            root.line,
            format!(
                "a test suite must be a mapping (policy, tests), found {}",
                root.describe()
            ),
        );
        return Err(ctx.errors);
    };
    let mut saw_tests = false;
    for (key, kline, node) in entries {
        match key.as_str() {
            "policy" => match &node.value {
                Value::Seq(items) => {
                    for item in items {
                        if let Some(p) = ctx.string(key, item) {
                            out.policy.push(Located {
                                value: p,
                                line: item.line,
                            });
                        }
                    }
                }
                _ => {
                    if let Some(p) = ctx.string(key, node) {
                        out.policy.push(Located {
                            value: p,
                            line: node.line,
                        });
                    }
                }
            },
            "tests" => {
                saw_tests = true;
                for item in ctx.seq(key, node) {
                    if let Some(t) = ctx.test_case(item) {
                        out.tests.push(t);
                    }
                }
            }
            _ => ctx.unknown_key(key, *kline, "a test suite", &["policy", "tests"]),
        }
    }
    if !saw_tests {
        ctx.err(
            root.line,
            "a test suite without tests: (nothing to run)".into(),
        );
    }
    if ctx.errors.is_empty() {
        Ok(out)
    } else {
        Err(ctx.errors)
    }
}

/// A file `rampart test` was given: a policy file (its inline `tests:`) or
/// a test suite.
#[derive(Clone, Debug)]
pub enum TestFile {
    Policy(PolicyFile),
    Suite(SuiteFile),
}

/// Reads a file given to `rampart test`: a policy file when it has
/// `policies`, `version` or `default_action` and no `policy`, else a test
/// suite.
pub fn parse_test_file(file: &Path, text: &str) -> Result<TestFile, Vec<LoadError>> {
    let is_policy = match yaml::parse(text) {
        Ok(Some(Node {
            value: Value::Map(entries),
            ..
        })) => {
            let has = |k: &str| entries.iter().any(|(key, _, _)| key == k);
            !has("policy") && (has("policies") || has("version") || has("default_action"))
        }
        _ => false,
    };
    if is_policy {
        parse_file(file, text).map(TestFile::Policy)
    } else {
        parse_suite(file, text).map(TestFile::Suite)
    }
}

struct Ctx<'a> {
    file: &'a Path,
    errors: Vec<LoadError>,
}

type Entries = [(String, usize, Node)];

impl Ctx<'_> {
    fn err(&mut self, line: usize, message: String) {
        self.errors.push(LoadError {
            file: self.file.to_path_buf(),
            line,
            message,
        });
    }

    fn unknown_key(&mut self, key: &str, line: usize, place: &str, known: &[&str]) {
        self.err(
            line,
            format!(
                "unknown key {key:?} in {place} (known keys: {})",
                known.join(", ")
            ),
        );
    }

    fn wrong_type(&mut self, key: &str, node: &Node, expected: &str) {
        self.err(
            node.line,
            format!(
                "wrong type for {key:?}: expected {expected}, found {}",
                node.describe()
            ),
        );
    }

    /// A mapping's entries; null reads as an empty mapping.
    fn map<'n>(&mut self, key: &str, node: &'n Node) -> Option<&'n Entries> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            Value::Null => Some(&[]),
            _ => {
                self.wrong_type(key, node, "a mapping");
                None
            }
        }
    }

    /// A sequence's items; null reads as an empty list.
    fn seq<'n>(&mut self, key: &str, node: &'n Node) -> &'n [Node] {
        match &node.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => {
                self.wrong_type(key, node, "a list");
                &[]
            }
        }
    }

    fn string(&mut self, key: &str, node: &Node) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            Value::Null => None,
            _ => {
                self.wrong_type(key, node, "a string");
                None
            }
        }
    }

    fn int(&mut self, key: &str, node: &Node) -> Option<i64> {
        match &node.value {
            Value::Scalar { text, plain: true } => match text.parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    self.wrong_type(key, node, "an integer");
                    None
                }
            },
            Value::Null => None,
            _ => {
                self.wrong_type(key, node, "an integer");
                None
            }
        }
    }

    fn bool(&mut self, key: &str, node: &Node) -> Option<bool> {
        match &node.value {
            Value::Scalar { text, plain: true } if scalar_is_bool(text) => {
                Some(text.eq_ignore_ascii_case("true"))
            }
            Value::Null => None,
            _ => {
                self.wrong_type(key, node, "true or false");
                None
            }
        }
    }

    /// A list of strings; each item keeps its line.
    fn strings(&mut self, key: &str, node: &Node) -> Vec<Located<String>> {
        let mut out = Vec::new();
        for item in self.seq(key, node) {
            match &item.value {
                Value::Scalar { text, .. } => out.push(Located {
                    value: text.clone(),
                    line: item.line,
                }),
                Value::Null => out.push(Located {
                    value: String::new(),
                    line: item.line,
                }),
                _ => self.wrong_type(key, item, "a string"),
            }
        }
        out
    }

    /// A string or a list of strings (`match.tool`, `notify.on`).
    fn string_or_list(&mut self, key: &str, node: &Node) -> Vec<Located<String>> {
        match &node.value {
            Value::Scalar { text, .. } => vec![Located {
                value: text.clone(),
                line: node.line,
            }],
            _ => self.strings(key, node),
        }
    }

    /// A list of globs of `kind`, each checked.
    fn globs(&mut self, key: &str, node: &Node, kind: GlobKind) -> Vec<Located<String>> {
        let items = self.strings(key, node);
        for item in &items {
            if let Err(e) = Glob::new(&item.value, kind) {
                self.err(
                    item.line,
                    format!("malformed glob {:?} in {key}: {e}", item.value),
                );
            }
        }
        items
    }

    fn regexes(&mut self, key: &str, node: &Node) -> Vec<Located<String>> {
        let items = self.strings(key, node);
        for item in &items {
            if let Err(e) = check_response_regex(&item.value) {
                self.err(
                    item.line,
                    format!("invalid regular expression {:?} in {key}: {e}", item.value),
                );
            }
        }
        items
    }

    fn default_action(&mut self, v: &str, line: usize) -> Option<Action> {
        match v {
            "allow" => Some(Action::Allow),
            "deny" => Some(Action::Deny),
            "watch" | "log" => Some(Action::Watch),
            "ask" => Some(Action::Ask),
            "require_approval" => {
                self.err(line, removed_require_approval("default_action"));
                None
            }
            _ => {
                self.err(
                    line,
                    format!("unknown default_action {v:?} (expected allow, deny, watch or ask)"),
                );
                None
            }
        }
    }

    fn policy(&mut self, node: &Node) -> Option<PolicyDef> {
        let entries = self.map("policies", node)?;
        let errors_before = self.errors.len();
        let mut p = PolicyDef {
            name: String::new(),
            line: node.line,
            description: String::new(),
            priority: None,
            enabled: true,
            agent: None,
            session: None,
            tools: Vec::new(),
            rules: Vec::new(),
        };
        let mut named = false;
        for (key, kline, value) in entries {
            match key.as_str() {
                "name" => {
                    if let Some(n) = self.string(key, value) {
                        named = !n.is_empty();
                        p.name = n;
                        p.line = value.line;
                    }
                }
                "description" => p.description = self.string(key, value).unwrap_or_default(),
                "priority" => {
                    p.priority = self.int(key, value).map(|v| Located {
                        value: v,
                        line: value.line,
                    })
                }
                "enabled" => p.enabled = self.bool(key, value).unwrap_or(true),
                "match" => {
                    let Some(m) = self.map(key, value) else {
                        continue;
                    };
                    for (mkey, mline, mvalue) in m {
                        match mkey.as_str() {
                            "agent" | "session" => {
                                let pattern = self.string(mkey, mvalue).filter(|s| !s.is_empty());
                                if let Some(pat) = &pattern {
                                    if let Err(e) = Glob::new(pat, GlobKind::Text) {
                                        self.err(
                                            mvalue.line,
                                            format!("malformed glob {pat:?} in match.{mkey}: {e}"),
                                        );
                                    }
                                }
                                let located = pattern.map(|v| Located {
                                    value: v,
                                    line: mvalue.line,
                                });
                                if mkey == "agent" {
                                    p.agent = located;
                                } else {
                                    p.session = located;
                                }
                            }
                            "tool" => {
                                p.tools = self.string_or_list(mkey, mvalue);
                                for t in p.tools.clone() {
                                    if let Err(e) = Glob::new(&t.value, GlobKind::Text) {
                                        self.err(
                                            t.line,
                                            format!(
                                                "malformed glob {:?} in match.tool: {e}",
                                                t.value
                                            ),
                                        );
                                    }
                                }
                            }
                            _ => self.unknown_key(
                                mkey,
                                *mline,
                                "a policy's match",
                                &["agent", "session", "tool"],
                            ),
                        }
                    }
                }
                "rules" => {
                    for item in self.seq(key, value) {
                        if let Some(r) = self.rule(item) {
                            p.rules.push(r);
                        }
                    }
                }
                _ => self.unknown_key(
                    key,
                    *kline,
                    "a policy",
                    &[
                        "name",
                        "description",
                        "priority",
                        "enabled",
                        "match",
                        "rules",
                    ],
                ),
            }
        }
        if !named {
            self.err(node.line, "policy has no name".to_string());
        }
        (self.errors.len() == errors_before).then_some(p)
    }

    fn rule(&mut self, node: &Node) -> Option<RuleDef> {
        let entries = self.map("rules", node)?;
        let errors_before = self.errors.len();
        let mut action: Option<Located<RuleAction>> = None;
        let mut rule = RuleDef {
            line: node.line,
            action: Located {
                value: RuleAction::Deny,
                line: node.line,
            },
            when: None,
            message: String::new(),
            webhook: None,
            ask: None,
        };
        for (key, kline, value) in entries {
            match key.as_str() {
                "action" => {
                    if let Some(a) = self.string(key, value) {
                        action = self.rule_action(&a, value.line).map(|v| Located {
                            value: v,
                            line: value.line,
                        });
                        if action.is_none() {
                            // Reported; keep the rule from reporting "no action".
                            action = Some(Located {
                                value: RuleAction::Deny,
                                line: value.line,
                            });
                        }
                    }
                }
                "when" => rule.when = self.condition(value),
                "message" => rule.message = self.string(key, value).unwrap_or_default(),
                "webhook" => rule.webhook = self.webhook(value),
                "ask" => rule.ask = self.ask(value),
                _ => self.unknown_key(
                    key,
                    *kline,
                    "a rule",
                    &["action", "when", "message", "webhook", "ask"],
                ),
            }
        }
        match action {
            None => self.err(node.line, "rule has no action".to_string()),
            Some(a) => {
                if a.value == RuleAction::Webhook
                    && rule.webhook.as_ref().is_none_or(|w| w.url.is_empty())
                {
                    self.err(
                        a.line,
                        "action \"webhook\" needs webhook.url (the endpoint that decides)"
                            .to_string(),
                    );
                }
                rule.action = a;
            }
        }
        (self.errors.len() == errors_before).then_some(rule)
    }

    fn rule_action(&mut self, v: &str, line: usize) -> Option<RuleAction> {
        match v.to_lowercase().as_str() {
            "allow" => Some(RuleAction::Allow),
            "deny" => Some(RuleAction::Deny),
            "watch" | "log" => Some(RuleAction::Watch),
            "ask" => Some(RuleAction::Ask),
            "webhook" => Some(RuleAction::Webhook),
            "require_approval" => {
                self.err(line, removed_require_approval("action"));
                None
            }
            _ => {
                self.err(
                    line,
                    format!("unknown action {v:?} (expected allow, deny, watch, ask or webhook)"),
                );
                None
            }
        }
    }

    fn condition(&mut self, node: &Node) -> Option<ConditionDef> {
        let entries = self.map("when", node)?;
        let mut c = ConditionDef {
            line: node.line,
            ..ConditionDef::default()
        };
        for (key, kline, value) in entries {
            let k = key.as_str();
            match k {
                "command_matches" => c.command_matches = self.globs(k, value, GlobKind::Text),
                "command_not_matches" => {
                    c.command_not_matches = self.globs(k, value, GlobKind::Text)
                }
                "command_contains" => {
                    c.command_contains = self.strings(k, value);
                    for item in &c.command_contains {
                        if item.value.is_empty() {
                            self.err(
                                item.line,
                                "empty entry in command_contains would match every command"
                                    .to_string(),
                            );
                        }
                    }
                }
                "command_env_assignments" => {
                    c.command_env_assignments = self.globs(k, value, GlobKind::Text)
                }
                "path_matches" => c.path_matches = self.globs(k, value, GlobKind::Path),
                "path_not_matches" => c.path_not_matches = self.globs(k, value, GlobKind::Path),
                "url_matches" => c.url_matches = self.globs(k, value, GlobKind::Text),
                "domain_matches" => c.domain_matches = self.globs(k, value, GlobKind::Domain),
                "session_matches" => c.session_matches = self.globs(k, value, GlobKind::Text),
                "session_not_matches" => {
                    c.session_not_matches = self.globs(k, value, GlobKind::Text)
                }
                "response_matches" => c.response_matches = self.regexes(k, value),
                "response_not_matches" => c.response_not_matches = self.regexes(k, value),
                "tool_param_matches" => {
                    let Some(params) = self.map(k, value) else {
                        continue;
                    };
                    for (param, pline, pattern) in params {
                        let Some(pat) = self.string(param, pattern) else {
                            self.wrong_type(param, pattern, "a glob string");
                            continue;
                        };
                        if let Err(e) = Glob::new(&pat, GlobKind::Text) {
                            self.err(
                                pattern.line,
                                format!(
                                    "malformed glob {pat:?} in tool_param_matches.{param}: {e}"
                                ),
                            );
                        }
                        c.tool_param_matches.push((
                            Located {
                                value: param.clone(),
                                line: *pline,
                            },
                            Located {
                                value: pat,
                                line: pattern.line,
                            },
                        ));
                    }
                }
                "agent_depth" => {
                    let Some(fields) = self.map(k, value) else {
                        continue;
                    };
                    let mut d = AgentDepthDef {
                        line: value.line,
                        gte: None,
                        lte: None,
                        eq: None,
                    };
                    for (dk, dline, dv) in fields {
                        let slot = match dk.as_str() {
                            "gte" => &mut d.gte,
                            "lte" => &mut d.lte,
                            "eq" => &mut d.eq,
                            _ => {
                                self.unknown_key(dk, *dline, "agent_depth", &["gte", "lte", "eq"]);
                                continue;
                            }
                        };
                        *slot = self.int(dk, dv);
                        if slot.is_some_and(|v| v < 0) {
                            self.err(dv.line, format!("agent_depth.{dk} must not be negative"));
                        }
                    }
                    c.agent_depth = Some(d);
                }
                "call_count" => {
                    let Some(fields) = self.map(k, value) else {
                        continue;
                    };
                    let mut tool = None;
                    let mut gte = None;
                    let mut window = None;
                    let mut window_reported = false;
                    for (ck, cline, cv) in fields {
                        match ck.as_str() {
                            "tool" => tool = self.string(ck, cv),
                            "gte" => gte = self.int(ck, cv),
                            "window" => {
                                if let Some(w) = self.string(ck, cv) {
                                    match parse_go_duration(w.trim()) {
                                        Ok(secs) if secs > 0.0 => window = Some(secs),
                                        Ok(_) => {
                                            window_reported = true;
                                            self.err(
                                                cv.line,
                                                format!("call_count.window {w:?} must be positive"),
                                            )
                                        }
                                        Err(e) => {
                                            window_reported = true;
                                            self.err(
                                                cv.line,
                                                format!(
                                                    "invalid duration {w:?} in call_count.window: {e}"
                                                ),
                                            )
                                        }
                                    }
                                }
                            }
                            _ => self.unknown_key(
                                ck,
                                *cline,
                                "call_count",
                                &["tool", "gte", "window"],
                            ),
                        }
                    }
                    match window {
                        Some(window_secs) => {
                            c.call_count = Some(CallCountDef {
                                line: value.line,
                                tool,
                                gte: gte.unwrap_or(0),
                                window_secs,
                            })
                        }
                        None if !window_reported => self.err(
                            value.line,
                            "call_count needs a window (e.g. \"1h\", \"5m\")".to_string(),
                        ),
                        None => {}
                    }
                }
                "default" => {
                    c.default = self.bool(k, value).map(|v| Located {
                        value: v,
                        line: value.line,
                    })
                }
                _ => self.unknown_key(
                    key,
                    *kline,
                    "a rule's when",
                    &[
                        "command_matches",
                        "command_not_matches",
                        "command_contains",
                        "command_env_assignments",
                        "path_matches",
                        "path_not_matches",
                        "url_matches",
                        "domain_matches",
                        "session_matches",
                        "session_not_matches",
                        "response_matches",
                        "response_not_matches",
                        "tool_param_matches",
                        "agent_depth",
                        "call_count",
                        "default",
                    ],
                ),
            }
        }
        Some(c)
    }

    fn webhook(&mut self, node: &Node) -> Option<WebhookDef> {
        let entries = self.map("webhook", node)?;
        let mut w = WebhookDef {
            line: node.line,
            url: String::new(),
            timeout_secs: None,
            fail_open: None,
        };
        for (key, kline, value) in entries {
            match key.as_str() {
                "url" => {
                    w.url = self.string(key, value).unwrap_or_default();
                    if !w.url.starts_with("https://") && !w.url.starts_with("http://") {
                        self.err(
                            value.line,
                            format!("webhook.url {:?} must be an http:// or https:// URL", w.url),
                        );
                    }
                }
                "timeout" => {
                    if let Some(t) = self.string(key, value) {
                        match parse_go_duration(&t) {
                            Ok(secs) => w.timeout_secs = Some(secs),
                            Err(e) => self.err(
                                value.line,
                                format!("invalid duration {t:?} in webhook.timeout: {e}"),
                            ),
                        }
                    }
                }
                "fail_open" => w.fail_open = self.bool(key, value),
                _ => self.unknown_key(key, *kline, "webhook", &["url", "timeout", "fail_open"]),
            }
        }
        Some(w)
    }

    fn ask(&mut self, node: &Node) -> Option<AskDef> {
        let entries = self.map("ask", node)?;
        let mut a = AskDef {
            line: node.line,
            audit: None,
            headless_only: None,
        };
        for (key, kline, value) in entries {
            match key.as_str() {
                "audit" => a.audit = self.bool(key, value),
                "headless_only" => a.headless_only = self.bool(key, value),
                _ => self.unknown_key(key, *kline, "ask", &["audit", "headless_only"]),
            }
        }
        Some(a)
    }

    fn notify(&mut self, node: &Node) -> Option<NotifyDef> {
        let entries = self.map("notify", node)?;
        let mut n = NotifyDef {
            line: node.line,
            url: String::new(),
            platform: None,
            on: Vec::new(),
        };
        for (key, kline, value) in entries {
            match key.as_str() {
                "url" => n.url = self.string(key, value).unwrap_or_default(),
                "platform" => {
                    if let Some(p) = self.string(key, value) {
                        const PLATFORMS: [&str; 6] =
                            ["auto", "slack", "discord", "teams", "openclaw", "webhook"];
                        if !PLATFORMS.contains(&p.as_str()) {
                            self.err(
                                value.line,
                                format!(
                                    "unknown notify.platform {p:?} (expected one of: {})",
                                    PLATFORMS.join(", ")
                                ),
                            );
                        }
                        n.platform = Some(p);
                    }
                }
                "on" => {
                    for event in self.string_or_list(key, value) {
                        const EVENTS: [&str; 5] =
                            ["deny", "watch", "log", "ask", "require_approval"];
                        if !EVENTS.contains(&event.value.as_str()) {
                            self.err(
                                event.line,
                                format!(
                                    "unknown notify.on event {:?} (expected deny, watch or ask)",
                                    event.value
                                ),
                            );
                        }
                        n.on.push(event.value);
                    }
                }
                _ => self.unknown_key(key, *kline, "notify", &["url", "platform", "on"]),
            }
        }
        Some(n)
    }

    fn test_case(&mut self, node: &Node) -> Option<TestCase> {
        let entries = self.map("tests", node)?;
        let errors_before = self.errors.len();
        let mut t = TestCase {
            line: node.line,
            name: String::new(),
            tool: String::new(),
            agent: None,
            session: None,
            params: Vec::new(),
            expect: Action::Deny,
            expect_message: None,
        };
        let mut expect = None;
        for (key, kline, value) in entries {
            match key.as_str() {
                "name" => t.name = self.string(key, value).unwrap_or_default(),
                "tool" => t.tool = self.string(key, value).unwrap_or_default(),
                "agent" => t.agent = self.string(key, value),
                "session" => t.session = self.string(key, value),
                "params" => {
                    if let Some(params) = self.map(key, value) {
                        for (pk, _, pv) in params {
                            if let Value::Scalar { text, .. } = &pv.value {
                                t.params.push((pk.clone(), text.clone()));
                            }
                        }
                    }
                }
                "expect" => {
                    if let Some(e) = self.string(key, value) {
                        expect = match e.as_str() {
                            "require_approval" => {
                                self.err(value.line, removed_require_approval("expect"));
                                None
                            }
                            "log" => Some(Action::Watch),
                            other => match other.parse::<Action>() {
                                Ok(a) => Some(a),
                                Err(err) => {
                                    self.err(value.line, format!("{err} in a test's expect"));
                                    None
                                }
                            },
                        };
                    }
                }
                "expect_message" => t.expect_message = self.string(key, value),
                _ => self.unknown_key(
                    key,
                    *kline,
                    "a test",
                    &[
                        "name",
                        "tool",
                        "agent",
                        "session",
                        "params",
                        "expect",
                        "expect_message",
                    ],
                ),
            }
        }
        if t.tool.is_empty() {
            self.err(node.line, "test has no tool".to_string());
        }
        match expect {
            Some(e) => t.expect = e,
            None if self.errors.len() == errors_before => {
                self.err(node.line, "test has no expect".to_string())
            }
            None => {}
        }
        (self.errors.len() == errors_before).then_some(t)
    }
}

fn removed_require_approval(key: &str) -> String {
    format!(
        "{key} \"require_approval\" was removed from Rampart; use \"ask\" (a human decides) instead"
    )
}

/// Checks a `response_matches` expression as Go Rampart does: at most 500
/// characters, valid syntax, no quantified group that holds a quantifier.
pub fn check_response_regex(pattern: &str) -> Result<(), String> {
    if pattern.chars().count() > 500 {
        return Err(format!(
            "pattern too long ({} > 500 characters)",
            pattern.chars().count()
        ));
    }
    let ast = regex_syntax::ast::parse::Parser::new()
        .parse(pattern)
        .map_err(|e| e.kind().to_string())?;
    regex_syntax::hir::translate::Translator::new()
        .translate(pattern, &ast)
        .map_err(|e| e.kind().to_string())?;
    if has_nested_quantifier(&ast, false) {
        return Err("nested quantifiers are not allowed".to_string());
    }
    Ok(())
}

fn has_nested_quantifier(ast: &regex_syntax::ast::Ast, inside_repetition: bool) -> bool {
    use regex_syntax::ast::Ast;
    match ast {
        Ast::Repetition(rep) => inside_repetition || has_nested_quantifier(&rep.ast, true),
        Ast::Group(g) => has_nested_quantifier(&g.ast, inside_repetition),
        Ast::Concat(c) => c
            .asts
            .iter()
            .any(|a| has_nested_quantifier(a, inside_repetition)),
        Ast::Alternation(a) => a
            .asts
            .iter()
            .any(|a| has_nested_quantifier(a, inside_repetition)),
        _ => false,
    }
}

/// Parses a Go `time.ParseDuration` string (`300ms`, `1.5h`, `2h45m`) into
/// seconds.
pub fn parse_go_duration(s: &str) -> Result<f64, String> {
    let mut rest = s;
    let negative = if let Some(r) = rest.strip_prefix('-') {
        rest = r;
        true
    } else {
        rest = rest.strip_prefix('+').unwrap_or(rest);
        false
    };
    if rest == "0" {
        return Ok(0.0);
    }
    if rest.is_empty() {
        return Err("empty duration".to_string());
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err("expected a number".to_string());
        }
        let value: f64 = number
            .parse()
            .map_err(|_| "expected a number".to_string())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err("missing unit (ns, us, ms, s, m or h)".to_string()),
            other => return Err(format!("unknown unit {other:?}")),
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("1h"), Ok(3600.0));
        assert_eq!(parse_go_duration("1h30m"), Ok(5400.0));
        assert_eq!(parse_go_duration("500ms"), Ok(0.5));
        assert_eq!(parse_go_duration("1.5s"), Ok(1.5));
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("1d").is_err());
        assert!(parse_go_duration("").is_err());
    }

    #[test]
    fn response_regexes_are_checked_like_go() {
        assert!(check_response_regex("AKIA[0-9A-Z]{16}").is_ok());
        assert!(check_response_regex("(?i)ignore (all |your )instructions").is_ok());
        assert!(check_response_regex("(a+)+").is_err());
        assert!(check_response_regex("(unclosed").is_err());
        assert!(check_response_regex(&"a".repeat(501)).is_err());
    }
}
