//! Policy generation from an audit trail (`rampart init --from-audit`).
//!
//! The generator reads [`Observation`]s (audit records) one at a time,
//! keeps only aggregated counts keyed by the call's command, path or URL,
//! and at the end writes a least-privilege Rampart policy (schema v1,
//! `default_action: deny`) that admits every learned call and as little
//! else as it can: exec rules by executable and subcommand, file rules with
//! volatile parts normalised and directories collapsed only past a
//! threshold, named baseline bundles, network rules by domain and port, and
//! deny policies for sensitive paths and destructive commands ahead of the
//! allows. Same records in any order give the same bytes.
//!
//! Before handing the policy back it replays every learned call against it
//! (`replay: N/N observed calls allowed`; anything less is an error) and
//! probes it with calls it must refuse. It never reads files or the clock:
//! the CLI passes records and the current time in.

pub mod baseline;
pub mod diff;
pub mod eval;
pub mod exec;
pub mod glob;
pub mod merge;
pub mod model;
pub mod net;
pub mod observe;
pub mod paths;
pub mod probe;
pub mod render;
pub mod when;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Utc};

pub use diff::{diff, DiffEntry, DiffKind, PolicyDiff};
pub use merge::merge;
pub use model::Stat;
pub use observe::{Observation, SkipReason};
pub use when::{parse_when, WHEN_FORMS};

use eval::{Evaluator, Query};
use model::{stat_comment, Doc, Policy, Rule, When};
use observe::{Access, Call};
use paths::{PathSets, Places};

/// How to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// Prefix of every policy name, so that several generated files in one
    /// directory do not collide (`my-agent` → `my-agent-exec`, ...).
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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name_prefix: "generated".into(),
            home: None,
            home_as_tilde: true,
            projects: Vec::new(),
            temp_dirs: vec!["/tmp".into(), "/var/tmp".into(), "/dev/shm".into()],
            since: None,
            until: None,
            agent: None,
            session: None,
            collapse_threshold: 4,
            exec_threshold: 3,
            domain_threshold: 3,
        }
    }
}

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
    pub skipped: BTreeMap<String, Stat>,
    pub sessions: usize,
    pub agents: usize,
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
                writeln!(f, "  ! {} ({})", w.message, stat_comment(&w.stat).trim_start_matches("# "))?;
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
        writeln!(f, "calls learned: {}; skipped: {}", self.learned, self.skipped_total())?;
        for (reason, s) in &self.skipped {
            writeln!(f, "  skipped, {reason}: {}", stat_comment(s).trim_start_matches("# "))?;
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
            writeln!(f, "widened in {}: {} -> {}", c.policy, c.replaced.join(", "), c.pattern)?;
        }
        if let Some(r) = &self.replay {
            writeln!(f, "replay: {}/{} observed calls allowed", r.allowed, r.total)?;
        }
        Ok(())
    }
}

/// Destructive commands the policy always denies (Rampart command globs).
pub const DESTRUCTIVE_COMMANDS: &[&str] = &[
    "rm -rf /", "rm -fr /", "rm -r -f /", "rm -f -r /", "rm -rf / *", "rm -rf /*",
    "rm -rf --no-preserve-root *", "rm --no-preserve-root *", "rm -rf ~", "rm -rf ~/",
    "rm -rf $HOME", "rm -rf /home", "rm -rf /root", "rm -rf /etc", "rm -rf /usr", "rm -rf /var",
    "rm -rf /boot", "rm -rf /lib", "rm -rf /bin", "/bin/rm -rf /", "/usr/bin/rm -rf /",
    "sudo rm -rf /", "mkfs*", "/sbin/mkfs*", "/usr/sbin/mkfs*", "sudo mkfs*", "mke2fs *",
    "mkswap *", "wipefs *", "fdisk *", "sfdisk *", "gdisk *", "parted *", "dd **of=/dev/sd**",
    "dd **of=/dev/nvme**", "dd **of=/dev/vd**", "dd **of=/dev/hd**", "dd **of=/dev/mmcblk**",
    ":(){ :|:& };:", "chmod -R 777 /", "chown -R * /", "shutdown", "shutdown *", "reboot",
    "reboot *", "halt", "halt *", "poweroff", "poweroff *",
];

fn is_destructive(command: &str) -> bool {
    // "rm -rf /*" would, as a Rampart glob, cover every absolute rm -rf;
    // the literal pattern is denied by equality only.
    DESTRUCTIVE_COMMANDS.iter().any(|p| {
        if *p == "rm -rf /*" {
            command == *p
        } else {
            glob::command_glob(p, command)
        }
    })
}

#[derive(Default)]
struct SessionInfo {
    first: Option<(DateTime<Utc>, String)>,
}

type Counts = HashMap<Box<str>, u64>;

fn bump(map: &mut Counts, key: &str, n: u64) {
    if let Some(c) = map.get_mut(key) {
        *c += n;
    } else {
        map.insert(key.into(), n);
    }
}

/// Streaming generator: feed observations, then [`Generator::finish`].
pub struct Generator {
    opts: Options,
    agent_glob: Option<globset::GlobMatcher>,
    session_glob: Option<globset::GlobMatcher>,
    records: u64,
    learned: u64,
    skipped: BTreeMap<SkipReason, Stat>,
    corrupt: Stat,
    sessions: HashMap<Box<str>, SessionInfo>,
    agents: HashSet<Box<str>>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    exec: Counts,
    files: [Counts; 2],
    write_tools: BTreeSet<String>,
    connects: Counts,
    sockets: Counts,
    fetches: BTreeMap<String, Counts>,
    others: BTreeMap<String, Stat>,
}

fn glob_matcher(what: &str, pattern: &Option<String>) -> Result<Option<globset::GlobMatcher>, GenerateError> {
    pattern
        .as_ref()
        .map(|p| {
            globset::Glob::new(p)
                .map(|g| g.compile_matcher())
                .map_err(|e| GenerateError::Input(format!("invalid --{what} glob {p:?}: {e}")))
        })
        .transpose()
}

impl Generator {
    pub fn new(opts: Options) -> Result<Generator, GenerateError> {
        let prefix_ok = !opts.name_prefix.is_empty()
            && opts
                .name_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !prefix_ok {
            return Err(GenerateError::Input(format!(
                "invalid policy name prefix {:?}: use letters, digits, '-', '_' or '.'",
                opts.name_prefix
            )));
        }
        Ok(Generator {
            agent_glob: glob_matcher("agent", &opts.agent)?,
            session_glob: glob_matcher("session", &opts.session)?,
            opts,
            records: 0,
            learned: 0,
            skipped: BTreeMap::new(),
            corrupt: Stat::default(),
            sessions: HashMap::new(),
            agents: HashSet::new(),
            first: None,
            last: None,
            exec: Counts::default(),
            files: [Counts::default(), Counts::default()],
            write_tools: BTreeSet::new(),
            connects: Counts::default(),
            sockets: Counts::default(),
            fetches: BTreeMap::new(),
            others: BTreeMap::new(),
        })
    }

    /// Counts a line that could not be read as a record; `location` is
    /// `file:line`.
    pub fn note_corrupt(&mut self, location: &str) {
        self.records += 1;
        self.corrupt.add(location, 1);
    }

    fn skip(&mut self, reason: SkipReason, obs: &Observation) {
        let example = describe(obs);
        self.skipped.entry(reason).or_default().add(&example, 1);
    }

    /// Reads one record.
    pub fn observe(&mut self, obs: &Observation) {
        self.records += 1;
        let ts = observe::timestamp(&obs.timestamp);
        if let Some(since) = self.opts.since {
            if ts.is_none_or(|t| t < since) {
                return self.skip(SkipReason::BeforeSince, obs);
            }
        }
        if let Some(until) = self.opts.until {
            if ts.is_none_or(|t| t > until) {
                return self.skip(SkipReason::AfterUntil, obs);
            }
        }
        if self.agent_glob.as_ref().is_some_and(|g| !g.is_match(&obs.agent)) {
            return self.skip(SkipReason::AgentFilter, obs);
        }
        if self.session_glob.as_ref().is_some_and(|g| !g.is_match(&obs.session)) {
            return self.skip(SkipReason::SessionFilter, obs);
        }
        if let Err(r) = observe::verdict(&obs.action).and_then(|_| observe::outcome(obs)) {
            return self.skip(r, obs);
        }
        let call = match observe::call(obs) {
            Ok(c) => c,
            Err(r) => return self.skip(r, obs),
        };
        self.learned += 1;
        if let Some(t) = ts {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        if !self.agents.contains(obs.agent.as_str()) {
            self.agents.insert(obs.agent.as_str().into());
        }
        let info = match self.sessions.get_mut(obs.session.as_str()) {
            Some(i) => i,
            None => self.sessions.entry(obs.session.as_str().into()).or_default(),
        };
        if let (Some(t), Some(cwd)) = (ts, observe::cwd(&obs.request)) {
            let earlier = info
                .first
                .as_ref()
                .is_none_or(|(ft, fc)| (t, cwd) < (*ft, fc.as_str()));
            if earlier && cwd.starts_with('/') {
                info.first = Some((t, observe::absolute(cwd, None).into_owned()));
            }
        }
        match call {
            Call::Exec { command } => bump(&mut self.exec, command, 1),
            Call::File { access, path } => {
                bump(&mut self.files[access as usize], &path, 1);
                if access == Access::Write && !self.write_tools.contains(obs.tool.as_str()) {
                    self.write_tools.insert(obs.tool.clone());
                }
            }
            Call::Connect { url } => bump(&mut self.connects, url, 1),
            Call::Socket { path } => bump(&mut self.sockets, path, 1),
            Call::Fetch { url } => {
                let m = match self.fetches.get_mut(obs.tool.as_str()) {
                    Some(m) => m,
                    None => self.fetches.entry(obs.tool.clone()).or_default(),
                };
                bump(m, url, 1);
            }
            Call::Other => {
                let example = describe(obs);
                self.others.entry(obs.tool.clone()).or_default().add(&example, 1);
            }
        }
    }

    /// Writes the policy, replays and probes it.
    pub fn finish(self) -> Result<Generated, GenerateError> {
        let built = self.build(None)?;
        built.into_generated()
    }

    pub(crate) fn build(mut self, existing: Option<&Doc>) -> Result<Built, GenerateError> {
        let places = self.places(existing);
        let sets = PathSets::default();
        let mut summary = Summary {
            records: self.records,
            learned: self.learned,
            sessions: self.sessions.len(),
            agents: self.agents.len(),
            first: self.first.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            last: self.last.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            home: places.home.clone(),
            projects: places.projects.clone(),
            ..Summary::default()
        };
        let mut learned = Learned::default();
        let mut warnings: BTreeMap<String, Stat> = BTreeMap::new();

        // exec
        for (cmd, &n) in &self.exec {
            if is_destructive(cmd) {
                self.skipped
                    .entry(SkipReason::AlwaysDenied("destructive command"))
                    .or_default()
                    .add(cmd, n);
                warnings
                    .entry("a destructive command was run; the policy denies it".into())
                    .or_default()
                    .add(cmd, n);
                continue;
            }
            learned.exec.insert(cmd.to_string(), Stat::one(cmd, n));
        }
        // files
        for access in [Access::Read, Access::Write] {
            let counts = &self.files[access as usize];
            for (path, &n) in counts {
                let path: &str = path;
                if access == Access::Write && sets.always_denied_write(path) {
                    self.skipped
                        .entry(SkipReason::AlwaysDenied("write to a system directory"))
                        .or_default()
                        .add(path, n);
                    warnings
                        .entry("a system directory was written to; the policy denies it".into())
                        .or_default()
                        .add(path, n);
                    continue;
                }
                if sets.is_sensitive(access, path) {
                    let verb = if access == Access::Read { "read" } else { "written" };
                    warnings
                        .entry(format!("sensitive path {verb}; allowed exactly, never by a glob: review"))
                        .or_default()
                        .add(path, n);
                    learned.sensitive[access as usize].insert(path.to_string(), Stat::one(path, n));
                    continue;
                }
                if let Some(b) = baseline::bundle_for(access, path) {
                    let bundle = &baseline::bundles()[b];
                    learned.bundles[access as usize]
                        .entry(b)
                        .or_default()
                        .record(bundle, access, path, n);
                    continue;
                }
                let key = if !path.starts_with('/') || glob::has_glob_chars(path) {
                    exact_path_pattern(path)
                } else {
                    paths::normalise(path, &places)
                };
                learned.files[access as usize]
                    .entry(key)
                    .or_default()
                    .add(path, n);
            }
        }
        for (path, &n) in &self.sockets {
            let path: &str = path;
            if sets.is_sensitive(Access::Read, path) {
                warnings
                    .entry("sensitive socket connected to; allowed exactly: review".into())
                    .or_default()
                    .add(path, n);
            }
            learned.sockets.insert(exact_path_pattern(path), Stat::one(path, n));
        }
        for (url, &n) in &self.connects {
            learned.connects.insert(url.to_string(), Stat::one(url, n));
        }
        for (tool, m) in &self.fetches {
            let e = learned.fetches.entry(tool.clone()).or_default();
            for (url, &n) in m {
                e.insert(url.to_string(), Stat::one(url, n));
            }
        }
        if !self.corrupt.examples.is_empty() || self.corrupt.count > 0 {
            self.skipped.insert(SkipReason::Corrupt, self.corrupt.clone());
        }
        summary.skipped = self
            .skipped
            .iter()
            .map(|(r, s)| (r.to_string(), s.clone()))
            .collect();
        summary.learned = self.learned
            - self
                .skipped
                .iter()
                .filter(|(r, _)| matches!(r, SkipReason::AlwaysDenied(_)))
                .map(|(_, s)| s.count)
                .sum::<u64>();
        learned.others = self.others.clone();
        learned.write_tools = self.write_tools.clone();
        summary.warnings = warnings
            .into_iter()
            .map(|(message, stat)| Warning { message, stat })
            .collect();
        Ok(Built {
            opts: self.opts,
            places,
            learned,
            summary,
            keys: Keys {
                exec: self.exec,
                files: self.files,
                connects: self.connects,
                sockets: self.sockets,
                fetches: self.fetches,
                others: self.others,
            },
        })
    }

    fn places(&self, existing: Option<&Doc>) -> Places {
        let _ = existing;
        let home = self.opts.home.clone().or_else(|| self.infer_home());
        let mut git_roots = BTreeSet::new();
        for counts in &self.files {
            for p in counts.keys() {
                if let Some(r) = paths::git_root_of(p) {
                    git_roots.insert(r.to_string());
                }
            }
        }
        let session_cwds: BTreeMap<String, String> = self
            .sessions
            .iter()
            .filter_map(|(s, i)| i.first.as_ref().map(|(_, c)| (s.to_string(), c.clone())))
            .collect();
        let mut projects: BTreeSet<String> = paths::project_roots(&session_cwds, &git_roots).into_iter().collect();
        projects.extend(self.opts.projects.iter().cloned());
        let probe = Places {
            home: home.clone(),
            ..Places::default()
        };
        projects.retain(|p| p.starts_with('/') && !probe.is_shared(p));
        Places {
            home,
            tilde: self.opts.home_as_tilde,
            projects: projects.into_iter().collect(),
            temps: self.opts.temp_dirs.clone(),
        }
    }

    fn infer_home(&self) -> Option<String> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut consider = |p: &str, n: u64| {
            let home = if let Some(rest) = p.strip_prefix("/home/") {
                let user = rest.split('/').next().unwrap_or("");
                (!user.is_empty()).then(|| format!("/home/{user}"))
            } else if p == "/root" || p.starts_with("/root/") {
                Some("/root".to_string())
            } else {
                None
            };
            if let Some(h) = home {
                *counts.entry(h).or_default() += n;
            }
        };
        for c in &self.files {
            for (p, &n) in c {
                consider(p, n);
            }
        }
        for s in self.sessions.values() {
            if let Some((_, c)) = &s.first {
                consider(c, 1);
            }
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(h, _)| h)
    }
}

/// The pattern that admits exactly `path` as a path glob.
pub(crate) fn exact_path_pattern(path: &str) -> String {
    path.chars()
        .map(|c| if matches!(c, '*' | '?' | '[' | ']' | '{' | '}') { '?' } else { c })
        .collect()
}

fn describe(obs: &Observation) -> String {
    let key = observe::str_key(
        &obs.request,
        &["command", "path", "file_path", "url", "uri", "href", "domain"],
    )
    .unwrap_or("");
    let mut s = if key.is_empty() {
        obs.tool.clone()
    } else {
        format!("{} {}", obs.tool, key)
    };
    if s.len() > 160 {
        let mut end = 157;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// Aggregated, classified, normalised input of the rule builders.
#[derive(Default)]
pub(crate) struct Learned {
    pub exec: BTreeMap<String, Stat>,
    pub files: [BTreeMap<String, Stat>; 2],
    pub sensitive: [BTreeMap<String, Stat>; 2],
    pub bundles: [BTreeMap<usize, baseline::Use>; 2],
    pub sockets: BTreeMap<String, Stat>,
    pub connects: BTreeMap<String, Stat>,
    pub fetches: BTreeMap<String, BTreeMap<String, Stat>>,
    pub others: BTreeMap<String, Stat>,
    pub write_tools: BTreeSet<String>,
}

/// Every distinct learned call, for the replay.
pub(crate) struct Keys {
    pub exec: Counts,
    pub files: [Counts; 2],
    pub connects: Counts,
    pub sockets: Counts,
    pub fetches: BTreeMap<String, Counts>,
    pub others: BTreeMap<String, Stat>,
}

pub(crate) struct Built {
    pub opts: Options,
    pub places: Places,
    pub learned: Learned,
    pub summary: Summary,
    pub keys: Keys,
}

impl Built {
    fn into_generated(mut self) -> Result<Generated, GenerateError> {
        let (doc, warnings) = build_doc(&self.learned, &self.opts, &self.places, &self.summary);
        self.summary.warnings.extend(warnings);
        let yaml = render::render(&doc);
        self.summary.tools = tool_summaries(&doc, &self.opts.name_prefix);
        self.summary.baselines = baseline_summaries(&self.learned);
        self.check(&doc, yaml)
    }

    /// Replays the learned calls and probes the policy; an error when a
    /// learned call would be denied.
    pub(crate) fn check(mut self, doc: &Doc, yaml: String) -> Result<Generated, GenerateError> {
        let ev = Evaluator::new(doc, &self.places);
        let replay = replay(&ev, &self.keys, &self.learned);
        let ok = replay.allowed == replay.total;
        self.summary.replay = Some(replay);
        for admitted in probe::probe(&ev, &self.places) {
            self.summary.warnings.push(Warning {
                message: format!("probe: the policy admits {admitted}"),
                stat: Stat::default(),
            });
            self.summary.probe_admitted.push(admitted);
        }
        self.summary.warnings.sort();
        let g = Generated {
            yaml,
            summary: self.summary,
        };
        if ok {
            Ok(g)
        } else {
            Err(GenerateError::Replay(Box::new(g)))
        }
    }
}

fn replay(ev: &Evaluator, keys: &Keys, learned: &Learned) -> Replay {
    let mut r = Replay::default();
    let check = |q: Query<'_>, n: u64, what: &str, r: &mut Replay| {
        r.total += n;
        if ev.decide(&q).admits() {
            r.allowed += n;
        } else if r.denied.len() < 20 {
            r.denied.push(format!("{} {what}", q.tool));
        }
    };
    let mut sorted: Vec<(&Box<str>, &u64)> = keys.exec.iter().collect();
    sorted.sort();
    for (cmd, &n) in sorted {
        if is_destructive(cmd) {
            continue;
        }
        check(Query { tool: "exec", command: Some(cmd), ..Query::default() }, n, cmd, &mut r);
    }
    let sets = PathSets::default();
    for (access, tool) in [(Access::Read, "read"), (Access::Write, "write")] {
        let mut sorted: Vec<(&Box<str>, &u64)> = keys.files[access as usize].iter().collect();
        sorted.sort();
        for (p, &n) in sorted {
            if access == Access::Write && sets.always_denied_write(p) {
                continue;
            }
            let tool = if access == Access::Write && !learned.write_tools.contains("write") {
                learned.write_tools.iter().next().map_or(tool, |s| s.as_str())
            } else {
                tool
            };
            check(Query { tool, path: Some(p), ..Query::default() }, n, p, &mut r);
        }
    }
    for (url, &n) in &keys.connects {
        let domain = net::Endpoint::parse(url).map(|e| e.host);
        check(
            Query { tool: "net", url: Some(url), domain: domain.as_deref(), ..Query::default() },
            n,
            url,
            &mut r,
        );
    }
    for (p, &n) in &keys.sockets {
        check(Query { tool: "net", path: Some(p), ..Query::default() }, n, p, &mut r);
    }
    for (tool, m) in &keys.fetches {
        for (url, &n) in m {
            let domain = net::Endpoint::parse(url).map(|e| e.host);
            check(
                Query { tool, url: Some(url), domain: domain.as_deref(), ..Query::default() },
                n,
                url,
                &mut r,
            );
        }
    }
    for (tool, s) in &keys.others {
        check(Query { tool, ..Query::default() }, s.count, tool, &mut r);
    }
    r.denied.sort();
    r
}

const TOOL_POLICIES: &[(&str, &str)] = &[
    ("exec", "exec"),
    ("read", "read"),
    ("write", "write"),
    ("net", "net"),
    ("net-local", "net (loopback and unix sockets)"),
    ("fetch", "fetch"),
    ("tools", "other tools"),
];

fn tool_summaries(doc: &Doc, prefix: &str) -> Vec<ToolSummary> {
    let mut out = Vec::new();
    for (suffix, label) in TOOL_POLICIES {
        let Some(p) = doc.policy(&format!("{prefix}-{suffix}")) else {
            continue;
        };
        let mut t = ToolSummary {
            tool: label.to_string(),
            rules: p.rules.len(),
            ..ToolSummary::default()
        };
        for r in &p.rules {
            t.calls += r.stat().map_or(0, |s| s.count);
            for (_, pat) in r.all_patterns() {
                if t.examples.len() < 3 {
                    t.examples.push(pat.to_string());
                }
            }
        }
        out.push(t);
    }
    out
}

fn baseline_summaries(learned: &Learned) -> Vec<(String, u64)> {
    let mut m: BTreeMap<String, u64> = BTreeMap::new();
    for uses in &learned.bundles {
        for (b, u) in uses {
            *m.entry(baseline::bundles()[*b].name.clone()).or_default() += u.stat.count;
        }
    }
    m.into_iter().collect()
}

fn allow(stat: &Stat, field: &str, patterns: Vec<String>, extra: Vec<String>) -> Rule {
    let mut comments = vec![stat_comment(stat)];
    comments.extend(extra);
    Rule {
        comments,
        action: "allow".into(),
        when: vec![(field.to_string(), When::Patterns(patterns))],
        message: None,
    }
}

fn policy(name: String, description: &str, priority: Option<i64>, tools: Vec<String>, rules: Vec<Rule>) -> Policy {
    Policy {
        name,
        description: Some(description.to_string()),
        priority,
        tools,
        rules,
        ..Policy::default()
    }
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The deny policies every generated file starts with.
pub(crate) fn deny_policies(prefix: &str, learned: &Learned, places: &Places) -> Vec<Policy> {
    let deny = |field: &str, patterns: Vec<String>, not: Vec<String>, message: &str| {
        let mut when = vec![(field.to_string(), When::Patterns(patterns))];
        if !not.is_empty() {
            when.push(("path_not_matches".to_string(), When::Patterns(not)));
        }
        Rule {
            comments: Vec::new(),
            action: "deny".into(),
            when,
            message: Some(message.to_string()),
        }
    };
    let seen = |maps: &[&BTreeMap<String, Stat>]| {
        model::sorted(maps.iter().flat_map(|m| m.keys().map(|p| places.display(p))))
    };
    let seen_any = seen(&[&learned.sensitive[0], &learned.sensitive[1], &learned.sockets]);
    let seen_sockets: Vec<String> = learned
        .sockets
        .keys()
        .filter(|p| PathSets::default().is_sensitive(Access::Read, p))
        .map(|p| places.display(p))
        .collect();
    let mut not = seen_any
        .into_iter()
        .filter(|p| {
            let e = places.expand(p);
            learned.sensitive[0].contains_key(&e) || learned.sensitive[1].contains_key(&e)
        })
        .collect::<Vec<_>>();
    not.extend(seen_sockets);
    let not = model::sorted(not);
    let seen_writes = seen(&[&learned.sensitive[1]]);
    let mut out = vec![
        policy(
            format!("{prefix}-deny-destructive"),
            "Destructive commands: denied whatever else allows them",
            Some(1),
            strs(&["exec"]),
            vec![deny(
                "command_matches",
                strs(DESTRUCTIVE_COMMANDS),
                Vec::new(),
                "destructive command denied",
            )],
        ),
        policy(
            format!("{prefix}-deny-system-writes"),
            "Writes to system directories: denied whatever else allows them",
            Some(1),
            strs(&["write", "edit"]),
            vec![deny(
                "path_matches",
                strs(paths::ALWAYS_DENY_WRITE),
                Vec::new(),
                "write to a system directory denied",
            )],
        ),
        policy(
            format!("{prefix}-deny-sensitive"),
            "Credentials, keys and secrets: denied unless seen and allowed exactly below",
            Some(1),
            strs(&["read", "write", "edit", "net"]),
            vec![deny("path_matches", strs(paths::SENSITIVE), not, "sensitive path denied")],
        ),
    ];
    out.push(policy(
        format!("{prefix}-deny-sensitive-writes"),
        "Files whose content runs later (shell startup, git hooks, autostart): no writes",
        Some(1),
        strs(&["write", "edit"]),
        vec![deny(
            "path_matches",
            strs(paths::SENSITIVE_WRITE),
            seen_writes
                .into_iter()
                .filter(|p| PathSets::default().is_sensitive(Access::Write, &places.expand(p)))
                .collect(),
            "write to a startup or hook file denied",
        )],
    ));
    out
}

fn write_tools(learned: &Learned) -> Vec<String> {
    let mut t: BTreeSet<String> = learned.write_tools.clone();
    t.insert("write".into());
    t.into_iter().collect()
}

pub(crate) fn build_doc(
    learned: &Learned,
    opts: &Options,
    places: &Places,
    summary: &Summary,
) -> (Doc, Vec<Warning>) {
    let mut warnings: BTreeMap<String, Stat> = BTreeMap::new();
    let prefix = &opts.name_prefix;
    let mut policies = deny_policies(prefix, learned, places);

    // Baseline bundles.
    for access in [Access::Read, Access::Write] {
        for (b, u) in &learned.bundles[access as usize] {
            let bundle = &baseline::bundles()[*b];
            let (suffix, tools) = match access {
                Access::Read => (String::new(), strs(&["read"])),
                Access::Write => ("-write".to_string(), write_tools(learned)),
            };
            let patterns: Vec<String> = u.patterns(bundle, access).iter().map(|p| places.display(p)).collect();
            policies.push(policy(
                format!("{prefix}-baseline-{}{suffix}", bundle.name),
                &format!("Baseline: {}", bundle.description),
                None,
                tools,
                vec![allow(&u.stat, "path_matches", patterns, Vec::new())],
            ));
        }
    }

    // exec
    let exec_rules = exec::generalise(&learned.exec, opts.exec_threshold);
    for r in &exec_rules {
        if let Some(why) = r.exact_because {
            warnings
                .entry(format!("commands kept exact, not generalised ({why})"))
                .or_default()
                .absorb(&r.stat);
        }
    }
    if !exec_rules.is_empty() {
        let rules = exec_rules
            .iter()
            .map(|r| allow(&r.stat, "command_matches", vec![r.pattern.clone()], Vec::new()))
            .collect();
        policies.push(policy(format!("{prefix}-exec"), "Programs the agent ran", None, strs(&["exec"]), rules));
    }

    // files
    for (access, suffix, tools, what) in [
        (Access::Read, "read", strs(&["read"]), "Files the agent read"),
        (Access::Write, "write", write_tools(learned), "Files the agent wrote"),
    ] {
        let mut rules: Vec<(String, Rule)> = Vec::new();
        for r in paths::collapse(&learned.files[access as usize], access, places, opts.collapse_threshold) {
            let shown = places.display(&r.pattern);
            rules.push((shown.clone(), allow(&r.stat, "path_matches", vec![shown], Vec::new())));
        }
        for (p, s) in &learned.sensitive[access as usize] {
            let shown = places.display(&exact_path_pattern(p));
            rules.push((
                shown.clone(),
                allow(s, "path_matches", vec![shown], vec!["# SENSITIVE: seen during learning; allowed exactly, review".into()]),
            ));
        }
        rules.sort_by(|a, b| a.0.cmp(&b.0));
        if !rules.is_empty() {
            policies.push(policy(format!("{prefix}-{suffix}"), what, None, tools, rules.into_iter().map(|(_, r)| r).collect()));
        }
    }

    // net
    let connect = net::connect_rules(&learned.connects, opts.domain_threshold);
    let remote: Vec<Rule> = connect
        .iter()
        .filter(|r| !r.loopback)
        .map(|r| allow(&r.stat, "url_matches", r.patterns.clone(), Vec::new()))
        .collect();
    if !remote.is_empty() {
        policies.push(policy(format!("{prefix}-net"), "Network connections by domain and port", None, strs(&["net"]), remote));
    }
    let mut local: Vec<Rule> = connect
        .iter()
        .filter(|r| r.loopback)
        .map(|r| allow(&r.stat, "url_matches", r.patterns.clone(), Vec::new()))
        .collect();
    for (p, s) in &learned.sockets {
        local.push(allow(s, "path_matches", vec![places.display(p)], Vec::new()));
    }
    if !local.is_empty() {
        policies.push(policy(
            format!("{prefix}-net-local"),
            "Loopback connections and unix sockets",
            None,
            strs(&["net"]),
            local,
        ));
    }

    // fetch-like tools
    if !learned.fetches.is_empty() {
        let mut all: BTreeMap<String, Stat> = BTreeMap::new();
        for m in learned.fetches.values() {
            for (u, s) in m {
                all.entry(u.clone()).or_default().absorb(s);
            }
        }
        let rules = net::fetch_rules(&all)
            .iter()
            .map(|r| allow(&r.stat, "url_matches", r.patterns.clone(), Vec::new()))
            .collect();
        policies.push(policy(
            format!("{prefix}-fetch"),
            "URLs fetched, by scheme, host and port",
            None,
            learned.fetches.keys().cloned().collect(),
            rules,
        ));
    }

    // other tools
    if !learned.others.is_empty() {
        let mut stat = Stat::default();
        for (tool, s) in &learned.others {
            stat.count += s.count;
            stat.add(tool, 0);
        }
        let rule = Rule {
            comments: vec![
                stat_comment(&stat),
                "# these tools carry no command, path or URL to learn from: allowed by name".into(),
            ],
            action: "allow".into(),
            when: vec![("default".into(), When::Flag(true))],
            message: None,
        };
        policies.push(policy(
            format!("{prefix}-tools"),
            "Other tools, allowed by name",
            None,
            learned.others.keys().cloned().collect(),
            vec![rule],
        ));
    }

    let doc = Doc {
        header: header(summary),
        version: "1".into(),
        default_action: "deny".into(),
        policies,
    };
    let warnings = warnings
        .into_iter()
        .map(|(message, stat)| Warning { message, stat })
        .collect();
    (doc, warnings)
}

fn header(s: &Summary) -> Vec<String> {
    let mut h = vec![
        "# Generated by `rampart init --from-audit`: a least-privilege policy learned".to_string(),
        format!(
            "# from {} call{} in {} session{}{}.",
            s.learned,
            if s.learned == 1 { "" } else { "s" },
            s.sessions,
            if s.sessions == 1 { "" } else { "s" },
            match (&s.first, &s.last) {
                (Some(a), Some(b)) => format!(", {a} to {b}"),
                _ => String::new(),
            }
        ),
        "# Review before enforcing. Each allow rule says how many observed calls".to_string(),
        "# support it, with up to three examples. The deny policies come first and".to_string(),
        "# win over every allow; anything not allowed here is denied.".to_string(),
    ];
    if let Some(home) = &s.home {
        h.push(format!("# ~ is {home}."));
    }
    h
}
