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
pub mod merge;
pub mod model;
pub mod net;
pub mod observe;
mod options;
pub mod paths;
pub mod probe;
pub mod render;
mod summary;
pub mod trail;
pub mod when;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

pub use diff::{diff, DiffEntry, DiffKind, PolicyDiff};
pub use merge::merge;
pub use model::Stat;
pub use observe::{Observation, SkipReason};
pub use options::Options;
pub use summary::{Change, GenerateError, Generated, Replay, Summary, ToolSummary, Warning};
pub use when::{parse_when, WHEN_FORMS};

use eval::{Checker, Query};
use model::{stat_comment, Doc, Policy, Rule, When};
use observe::{Access, Call};
use paths::{PathSets, Places};

/// Generates a policy from `observations` in one call.
pub fn generate(
    observations: impl IntoIterator<Item = Observation>,
    opts: Options,
) -> Result<Generated, GenerateError> {
    let mut g = Generator::new(opts)?;
    for o in observations {
        g.observe(&o);
    }
    g.finish()
}

/// Destructive commands the policy always denies (Rampart command globs).
/// Deny rules also match the engine's equivalent spellings of a command
/// (`/bin/rm -fr /`, `rm -r -f /` as `rm -rf /`, `/sbin/mkfs.ext4` as
/// `mkfs.ext4`), so those need no pattern of their own.
pub const DESTRUCTIVE_COMMANDS: &[&str] = &[
    "rm -rf /",
    "rm -rf / *",
    // `/?`, not `/*`: a Rampart glob ending in `*` is a prefix, and would
    // deny every `rm -rf /absolute/path`; `?` matches the `*` itself.
    "rm -rf /?",
    "rm -rf --no-preserve-root *",
    "rm --no-preserve-root *",
    "rm -rf ~",
    "rm -rf ~/",
    "rm -rf $HOME",
    "rm -rf /home",
    "rm -rf /root",
    "rm -rf /etc",
    "rm -rf /usr",
    "rm -rf /var",
    "rm -rf /boot",
    "rm -rf /lib",
    "rm -rf /bin",
    "sudo rm -rf /",
    "mkfs*",
    "sudo mkfs*",
    "mke2fs *",
    "mkswap *",
    "wipefs *",
    "fdisk *",
    "sfdisk *",
    "gdisk *",
    "parted *",
    "dd **of=/dev/sd**",
    "dd **of=/dev/nvme**",
    "dd **of=/dev/vd**",
    "dd **of=/dev/hd**",
    "dd **of=/dev/mmcblk**",
    ":(){ :|:& };:",
    "chmod -R 777 /",
    "chown -R * /",
    "shutdown",
    "shutdown *",
    "reboot",
    "reboot *",
    "halt",
    "halt *",
    "poweroff",
    "poweroff *",
];

/// Whether the deny list refuses `command`, as the engine reads it (with
/// its equivalent spellings).
fn is_destructive(command: &str) -> bool {
    static ENGINE: std::sync::OnceLock<crate::policy::Engine> = std::sync::OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        let patterns: Vec<String> = DESTRUCTIVE_COMMANDS
            .iter()
            .map(|p| format!("            - {}", model::quote(p)))
            .collect();
        let yaml = format!(
            "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: d\n    match:\n      tool: [exec]\n    rules:\n      - action: deny\n        when:\n          command_matches:\n{}\n",
            patterns.join("\n")
        );
        crate::policy::Engine::from_texts_with(
            &[(std::path::PathBuf::from("destructive"), yaml)],
            &crate::policy::LoadOptions { home: None },
        )
        .expect("built-in deny list loads")
    });
    engine
        .evaluate(&crate::policy::Request {
            tool: "exec",
            command: Some(command),
            ..crate::policy::Request::default()
        })
        .action
        == crate::policy::Action::Deny
}

/// Whether `s` holds a character that is special in a Rampart glob.
pub(crate) fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '[', ']', '\\', '{', '}'])
}

#[derive(Default)]
struct SessionInfo {
    first: Option<(observe::Stamp, String)>,
}

/// The Fx hash (as in rustc): fast for short keys such as paths; the maps
/// it serves hold the learned calls, never adversarial input whose
/// collisions matter to anyone but the person generating their own policy.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type Fx = std::hash::BuildHasherDefault<FxHasher>;
/// The calls of one key (a command, a path, a URL): how many, and in
/// which sessions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    pub count: u64,
    pub sessions: model::Sessions,
}

impl Tally {
    fn absorb(&mut self, other: &Tally) {
        self.count += other.count;
        self.sessions.union(&other.sessions);
    }

    /// A [`Stat`] of these calls, with `example`.
    pub fn stat(&self, example: &str) -> Stat {
        Stat::of(example, self.count, &self.sessions)
    }
}

pub(crate) type Counts = HashMap<Box<str>, Tally, Fx>;

fn bump(map: &mut Counts, key: &str, session: u64) {
    if let Some(t) = map.get_mut(key) {
        t.count += 1;
        t.sessions.insert(session);
    } else {
        map.insert(
            key.into(),
            Tally {
                count: 1,
                sessions: model::Sessions::one(session),
            },
        );
    }
}

/// Streaming generator: feed observations, then [`Generator::finish`].
pub struct Generator {
    agent_glob: Option<globset::GlobMatcher>,
    session_glob: Option<globset::GlobMatcher>,
    include_denied: Vec<observe::Accept>,
    included_denied: Stat,
    /// Calls each of `include_denied` let in.
    included_by: Vec<u64>,
    records: u64,
    learned: u64,
    skipped: BTreeMap<SkipReason, Stat>,
    corrupt: Stat,
    sessions: HashMap<Box<str>, SessionInfo, Fx>,
    agents: HashSet<Box<str>, Fx>,
    since: Option<observe::Stamp>,
    until: Option<observe::Stamp>,
    first: Option<observe::Stamp>,
    last: Option<observe::Stamp>,
    pub(crate) exec: Counts,
    pub(crate) files: [Counts; 2],
    write_tools: BTreeSet<String>,
    pub(crate) connects: Counts,
    pub(crate) sockets: Counts,
    pub(crate) fetches: BTreeMap<String, Counts>,
    pub(crate) others: BTreeMap<String, Stat>,
    /// Project roots the records named (`request.project`).
    projects_seen: BTreeSet<String>,
    sets: PathSets,
    pub(crate) opts: Options,
}

fn glob_matcher(
    what: &str,
    pattern: &Option<String>,
) -> Result<Option<globset::GlobMatcher>, GenerateError> {
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
        let prefix_ok = opts
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
            include_denied: opts
                .include_denied
                .iter()
                .map(|i| observe::Accept::new(i, opts.home.as_deref()))
                .collect::<Result<_, _>>()
                .map_err(GenerateError::Input)?,
            included_denied: Stat::default(),
            included_by: vec![0; opts.include_denied.len()],
            records: 0,
            learned: 0,
            skipped: BTreeMap::new(),
            corrupt: Stat::default(),
            sessions: HashMap::default(),
            agents: HashSet::default(),
            since: opts.since.map(observe::stamp_of),
            until: opts.until.map(observe::stamp_of),
            first: None,
            last: None,
            exec: Counts::default(),
            files: [Counts::default(), Counts::default()],
            write_tools: BTreeSet::new(),
            connects: Counts::default(),
            sockets: Counts::default(),
            fetches: BTreeMap::new(),
            others: BTreeMap::new(),
            projects_seen: BTreeSet::new(),
            sets: PathSets::default(),
            opts,
        })
    }

    /// Counts a line that could not be read as a record; `location` is
    /// `file:line`.
    pub fn note_corrupt(&mut self, location: &str) {
        self.records += 1;
        self.corrupt.add(location, 1);
    }

    /// Counts `n` more corrupt lines whose places were not kept.
    pub fn note_corrupt_unlisted(&mut self, n: u64) {
        self.records += n;
        self.corrupt.count += n;
    }

    fn skip(&mut self, reason: SkipReason, rec: &observe::Rec<'_>) {
        let example = describe(rec);
        self.skipped.entry(reason).or_default().add(&example, 1);
    }

    /// Reads one record.
    pub fn observe(&mut self, obs: &Observation) {
        self.observe_rec(&observe::Rec::from_observation(obs));
    }

    /// Reads one JSONL line of an audit trail without building an
    /// [`Observation`] (the fast path for large trails). A rotated file's
    /// header line is not a record and is not counted. An unreadable line
    /// is an error, and is not counted either: pass its `file:line` to
    /// [`Generator::note_corrupt`].
    pub fn observe_line(&mut self, line: &str) -> Result<(), String> {
        let view = observe::LineRef::parse(line)?;
        if let Some(rec) = view.rec() {
            self.observe_rec(&rec);
        }
        Ok(())
    }

    fn observe_rec(&mut self, obs: &observe::Rec<'_>) {
        self.records += 1;
        let ts = observe::timestamp(obs.timestamp);
        if let Some(since) = self.since {
            if ts.is_none_or(|t| t < since) {
                return self.skip(SkipReason::BeforeSince, obs);
            }
        }
        if let Some(until) = self.until {
            if ts.is_none_or(|t| t > until) {
                return self.skip(SkipReason::AfterUntil, obs);
            }
        }
        if self
            .agent_glob
            .as_ref()
            .is_some_and(|g| !g.is_match(obs.agent))
        {
            return self.skip(SkipReason::AgentFilter, obs);
        }
        if self
            .session_glob
            .as_ref()
            .is_some_and(|g| !g.is_match(obs.session))
        {
            return self.skip(SkipReason::SessionFilter, obs);
        }
        match observe::verdict(obs.action) {
            // A denial the reviewer accepts: learned whatever its outcome
            // (under enforcement the call failed because it was denied).
            Err(SkipReason::Denied) if self.include_denied.iter().any(|a| a.accepts(obs)) => {
                for (a, n) in self.include_denied.iter().zip(&mut self.included_by) {
                    *n += u64::from(a.accepts(obs));
                }
                let example = describe(obs);
                self.included_denied.add(&example, 1);
            }
            verdict => {
                if let Err(r) = verdict.and_then(|_| observe::outcome(obs)) {
                    return self.skip(r, obs);
                }
            }
        }
        let call = match observe::call(obs) {
            Ok(c) => c,
            Err(r) => return self.skip(r, obs),
        };
        if let Call::File { access, path } = &call {
            let probe = obs.outcome.is_some_and(|o| o.starts_with('E'));
            if probe && self.sets.is_sensitive(*access, path) {
                return self.skip(
                    SkipReason::Failed("a probe of a sensitive path: never learned".into()),
                    obs,
                );
            }
        }
        if let Some(p) = obs.project.filter(|p| p.starts_with('/')) {
            if !self.projects_seen.contains(p) {
                self.projects_seen
                    .insert(observe::absolute(p, None).into_owned());
            }
        }
        self.learned += 1;
        if let Some(t) = ts {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        if !self.agents.contains(obs.agent) {
            self.agents.insert(obs.agent.into());
        }
        let info = match self.sessions.get_mut(obs.session) {
            Some(i) => i,
            None => self.sessions.entry(obs.session.into()).or_default(),
        };
        if let (Some(t), Some(cwd)) = (ts, obs.cwd) {
            let earlier = info
                .first
                .as_ref()
                .is_none_or(|(ft, fc)| (&t, cwd) < (ft, fc.as_str()));
            if earlier && cwd.starts_with('/') {
                info.first = Some((t, observe::absolute(cwd, None).into_owned()));
            }
        }
        let sid = model::session_id(obs.session);
        match call {
            Call::Exec { command } => bump(&mut self.exec, command, sid),
            Call::File { access, path } => {
                bump(&mut self.files[access as usize], &path, sid);
                if access == Access::Write && !self.write_tools.contains(obs.tool) {
                    self.write_tools.insert(obs.tool.to_string());
                }
                for (access, path) in observe::more_paths(obs) {
                    if path.len() <= crate::policy::glob::MAX_INPUT_LEN {
                        bump(&mut self.files[access as usize], &path, sid);
                    }
                }
            }
            Call::Connect { url } => bump(&mut self.connects, url, sid),
            Call::Socket { path } => bump(&mut self.sockets, path, sid),
            Call::Fetch { url } => {
                let m = match self.fetches.get_mut(obs.tool) {
                    Some(m) => m,
                    None => self.fetches.entry(obs.tool.to_string()).or_default(),
                };
                bump(m, url, sid);
            }
            Call::Other => {
                let example = describe(obs);
                self.others
                    .entry(obs.tool.to_string())
                    .or_default()
                    .add(&example, 1);
            }
        }
    }

    /// Takes in what another generator (same options) read, so that a trail
    /// can be read by several threads, one generator each. The result does
    /// not depend on how the records were split.
    pub fn absorb(&mut self, other: Generator) {
        self.records += other.records;
        self.learned += other.learned;
        for (r, s) in other.skipped {
            self.skipped.entry(r).or_default().absorb(&s);
        }
        self.included_denied.absorb(&other.included_denied);
        for (mine, theirs) in self.included_by.iter_mut().zip(other.included_by) {
            *mine += theirs;
        }
        self.corrupt.absorb(&other.corrupt);
        for (name, info) in other.sessions {
            let mine = self.sessions.entry(name).or_default();
            if let Some(f) = info.first {
                if mine
                    .first
                    .as_ref()
                    .is_none_or(|m| (&f.0, f.1.as_str()) < (&m.0, m.1.as_str()))
                {
                    mine.first = Some(f);
                }
            }
        }
        self.agents.extend(other.agents);
        self.first = [self.first, other.first].into_iter().flatten().min();
        self.last = [self.last, other.last].into_iter().flatten().max();
        let add = |mine: &mut Counts, theirs: Counts| {
            for (k, t) in theirs {
                mine.entry(k).or_default().absorb(&t);
            }
        };
        add(&mut self.exec, other.exec);
        let [r, w] = other.files;
        add(&mut self.files[0], r);
        add(&mut self.files[1], w);
        add(&mut self.connects, other.connects);
        add(&mut self.sockets, other.sockets);
        for (tool, m) in other.fetches {
            add(self.fetches.entry(tool).or_default(), m);
        }
        self.write_tools.extend(other.write_tools);
        self.projects_seen.extend(other.projects_seen);
        for (tool, s) in other.others {
            self.others.entry(tool).or_default().absorb(&s);
        }
    }

    /// Writes the policy, replays and probes it.
    pub fn finish(self) -> Result<Generated, GenerateError> {
        let built = self.build(None)?;
        built.into_generated()
    }

    pub(crate) fn build(mut self, existing: Option<&Doc>) -> Result<Built, GenerateError> {
        if self.opts.name_prefix.is_empty() {
            self.opts.name_prefix = self.prefix_from_agents();
        }
        let places = self.places(existing);
        let sets = PathSets::default();
        let mut summary = Summary {
            records: self.records,
            learned: self.learned,
            included_denied: self.included_denied.clone(),
            include_denied: self
                .opts
                .include_denied
                .iter()
                .cloned()
                .zip(self.included_by.iter().copied())
                .collect(),
            sessions: self.sessions.len(),
            agents: self.agents.len(),
            agent_names: model::sorted(self.agents.iter().map(|a| a.to_string())),
            session_names: model::sorted(self.sessions.keys().map(|s| s.to_string())),
            first: self.first.as_ref().map(observe::stamp_text),
            last: self.last.as_ref().map(observe::stamp_text),
            home: places.home.clone(),
            projects: places.projects.clone(),
            ..Summary::default()
        };
        let mut learned = Learned::default();
        let mut warnings: BTreeMap<String, Stat> = BTreeMap::new();

        // exec
        for (cmd, t) in &self.exec {
            if is_destructive(cmd) {
                self.skipped
                    .entry(SkipReason::AlwaysDenied("destructive command"))
                    .or_default()
                    .add(cmd, t.count);
                warnings
                    .entry("a destructive command was run; the policy denies it".into())
                    .or_default()
                    .add(cmd, t.count);
                continue;
            }
            // A program of the project's: named from the project root.
            let key = places
                .command_project(cmd)
                .and_then(|root| crate::policy::engine::project_command(cmd, Some(root)))
                .map(|c| c.replacen(crate::policy::engine::PROJECT_PREFIX, paths::PROJECT, 1))
                .unwrap_or_else(|| cmd.to_string());
            learned.exec.entry(key).or_default().absorb(&t.stat(cmd));
        }
        // files
        for access in [Access::Read, Access::Write] {
            let counts: Vec<(&str, &Tally)> = self.files[access as usize]
                .iter()
                .map(|(p, t)| (p.as_ref(), t))
                .collect();
            let classes = par_map(&counts, |&(path, _)| classify(access, path, &sets, &places));
            for (&(path, t), class) in counts.iter().zip(classes) {
                let n = t.count;
                match class {
                    Class::AlwaysDenied => {
                        self.skipped
                            .entry(SkipReason::AlwaysDenied("write to a system directory"))
                            .or_default()
                            .add(path, n);
                        warnings
                            .entry("a system directory was written to; the policy denies it".into())
                            .or_default()
                            .add(path, n);
                    }
                    Class::Sensitive => {
                        let verb = if access == Access::Read {
                            "read"
                        } else {
                            "written"
                        };
                        warnings
                            .entry(format!(
                                "sensitive path {verb}; allowed exactly, never by a glob: review"
                            ))
                            .or_default()
                            .add(path, n);
                        learned.sensitive[access as usize].insert(path.to_string(), t.stat(path));
                    }
                    Class::Bundle(b) => {
                        let bundle = &baseline::bundles()[b];
                        learned.bundles[access as usize]
                            .entry(b)
                            .or_default()
                            .record(bundle, access, path, n, &t.sessions);
                    }
                    Class::Entry(key) => {
                        learned.files[access as usize]
                            .entry(key)
                            .or_default()
                            .add_from(path, n, &t.sessions);
                    }
                }
            }
        }
        for (path, t) in &self.sockets {
            let path: &str = path;
            let n = t.count;
            if sets.is_sensitive(Access::Read, path) {
                warnings
                    .entry("sensitive socket connected to; allowed exactly: review".into())
                    .or_default()
                    .add(path, n);
            }
            learned
                .sockets
                .insert(exact_path_pattern(path), t.stat(path));
        }
        for (url, t) in &self.connects {
            learned.connects.insert(url.to_string(), t.stat(url));
        }
        for (tool, m) in &self.fetches {
            let e = learned.fetches.entry(tool.clone()).or_default();
            for (url, t) in m {
                e.insert(url.to_string(), t.stat(url));
            }
        }
        if !self.corrupt.examples.is_empty() || self.corrupt.count > 0 {
            self.skipped
                .insert(SkipReason::Corrupt, self.corrupt.clone());
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

    pub(crate) fn places(&self, existing: Option<&Doc>) -> Places {
        // A policy generated earlier says which home its `~` stood for.
        let recorded = existing.and_then(|d| {
            d.header.iter().find_map(|h| {
                h.strip_prefix("# ~ is ")
                    .and_then(|r| r.strip_suffix('.'))
                    .map(str::to_string)
            })
        });
        let home = self
            .opts
            .home
            .clone()
            .or(recorded)
            .or_else(|| self.infer_home());
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
        let mut projects: BTreeSet<String> = if self.projects_seen.is_empty() {
            paths::project_roots(&session_cwds, &git_roots)
                .into_iter()
                .collect()
        } else {
            self.projects_seen.clone()
        };
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

    /// The agent's name made safe for a policy name, or `learned`.
    fn prefix_from_agents(&self) -> String {
        let [agent] = self.agents.iter().collect::<Vec<_>>()[..] else {
            return "learned".into();
        };
        let mut out = String::new();
        for c in agent.chars() {
            let c = if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '-'
            };
            if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
                out.push(c);
            }
        }
        let out = out.trim_end_matches('-').to_string();
        if out.is_empty() {
            "learned".into()
        } else {
            out
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
            for (p, t) in c {
                consider(p, t.count);
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

/// Where a learned path goes.
enum Class {
    AlwaysDenied,
    Sensitive,
    Bundle(usize),
    /// A file entry under this (normalised) key.
    Entry(String),
}

fn classify(access: Access, path: &str, sets: &PathSets, places: &Places) -> Class {
    if access == Access::Write && sets.always_denied_write(path) {
        return Class::AlwaysDenied;
    }
    if sets.is_sensitive(access, path) {
        return Class::Sensitive;
    }
    if access == Access::Read {
        if let Some(tree) = paths::system_tree(path) {
            return Class::Entry(format!("{tree}/**"));
        }
        if let Some(name) = places.above_project(path).filter(|n| !has_glob_chars(n)) {
            return Class::Entry(format!("{}/{name}", paths::PARENTS));
        }
    }
    if let Some(b) = baseline::bundle_for(access, path) {
        return Class::Bundle(b);
    }
    Class::Entry(if !path.starts_with('/') || has_glob_chars(path) {
        exact_path_pattern(path)
    } else {
        places.project_form(&paths::normalise(path, places))
    })
}

/// `f` over `items`, spread over the machine's threads, results in order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads == 1 || items.len() < 1024 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let f = &f;
                s.spawn(move || part.iter().map(f).collect::<Vec<R>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread"))
            .collect()
    })
}

/// The pattern that admits exactly `path` as a path glob.
pub(crate) fn exact_path_pattern(path: &str) -> String {
    path.chars()
        .map(|c| {
            if matches!(c, '*' | '?' | '[' | ']' | '{' | '}') {
                '?'
            } else {
                c
            }
        })
        .collect()
}

fn describe(rec: &observe::Rec<'_>) -> String {
    let key = rec
        .command
        .or(rec.path)
        .or(rec.url)
        .or(rec.domain)
        .unwrap_or("");
    let mut s = if key.is_empty() {
        rec.tool.to_string()
    } else {
        format!("{} {}", rec.tool, key)
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
#[derive(Clone)]
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
        let (mut doc, warnings) = build_doc(&self.learned, &self.opts, &self.places, &self.summary);
        self.summary.warnings.extend(warnings);
        let mut yaml = render::render(&doc);
        // Commands the rules do not admit as the engine reads them (shell
        // syntax the generaliser could not split) are admitted exactly.
        if let Ok(checker) = Checker::new(&yaml, "generated policy", self.places.home.as_deref()) {
            let missed: Vec<String> = self
                .keys
                .exec
                .keys()
                .filter(|c| !is_destructive(c))
                .filter(|c| {
                    !checker.admits(&Query {
                        tool: "exec",
                        command: Some(c),
                        project: self.places.command_project(c),
                        ..Query::default()
                    })
                })
                .map(|c| c.to_string())
                .collect();
            if !missed.is_empty() {
                let mut stat = Stat::default();
                for c in &missed {
                    stat.add(c, self.keys.exec.get(c.as_str()).map_or(1, |t| t.count));
                }
                let name = format!("{}-exec", self.opts.name_prefix);
                if let Some(rule) = doc
                    .policies
                    .iter_mut()
                    .find(|p| p.name == name)
                    .and_then(|p| p.rules.first_mut())
                {
                    let ps = rule.patterns_mut("command_matches");
                    ps.push(one_line(&format!(
                        "# scripts kept exact (shell syntax not split into commands): {}",
                        stat_comment(&stat).trim_start_matches("# ")
                    )));
                    ps.extend(model::sorted(missed.iter().map(|c| exec::exact_pattern(c))));
                }
                self.summary.warnings.push(Warning {
                    message: "scripts kept exact (their commands could not be generalised)".into(),
                    stat,
                });
                yaml = render::render(&doc);
            }
        }
        self.summary.tools = tool_summaries(&doc, &self.opts.name_prefix);
        self.summary.baselines = baseline_summaries(&self.learned);
        self.check(yaml)
    }

    /// Replays the learned calls and probes the policy; an error when a
    /// learned call would be denied.
    pub(crate) fn check(mut self, yaml: String) -> Result<Generated, GenerateError> {
        let checker = Checker::new(&yaml, "generated policy", self.places.home.as_deref())
            .map_err(|e| {
                GenerateError::Input(format!("the generated policy does not load: {e}"))
            })?;
        let replay = replay(&checker, &self.keys, &self.learned, &self.places);
        let ok = replay.allowed == replay.total;
        self.summary.replay = Some(replay);
        for admitted in probe::probe(&checker, &self.places) {
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

fn replay(ev: &Checker, keys: &Keys, learned: &Learned, places: &Places) -> Replay {
    // (query, calls, what to show when denied)
    let mut calls: Vec<(Query<'_>, u64, &str)> = Vec::new();
    for (cmd, t) in &keys.exec {
        if !is_destructive(cmd) {
            calls.push((
                Query {
                    tool: "exec",
                    command: Some(cmd),
                    project: places.command_project(cmd),
                    ..Query::default()
                },
                t.count,
                cmd,
            ));
        }
    }
    let sets = PathSets::default();
    let write_tool = if learned.write_tools.contains("write") || learned.write_tools.is_empty() {
        "write"
    } else {
        learned
            .write_tools
            .iter()
            .next()
            .map_or("write", |s| s.as_str())
    };
    for (access, tool) in [(Access::Read, "read"), (Access::Write, write_tool)] {
        for (p, t) in &keys.files[access as usize] {
            if access == Access::Write && sets.always_denied_write(p) {
                continue;
            }
            calls.push((
                Query {
                    tool,
                    path: Some(p),
                    project: places.project_of(p).or_else(|| places.project_below(p)),
                    ..Query::default()
                },
                t.count,
                p,
            ));
        }
    }
    let mut domains = Vec::new();
    for url in keys.connects.keys() {
        domains.push(net::Endpoint::parse(url).map(|e| e.host));
    }
    for ((url, t), d) in keys.connects.iter().zip(&domains) {
        calls.push((
            Query {
                tool: "net",
                url: Some(url),
                domain: d.as_deref(),
                ..Query::default()
            },
            t.count,
            url,
        ));
    }
    for (p, t) in &keys.sockets {
        calls.push((
            Query {
                tool: "net",
                path: Some(p),
                ..Query::default()
            },
            t.count,
            p,
        ));
    }
    let mut fetch_domains = Vec::new();
    for m in keys.fetches.values() {
        for url in m.keys() {
            fetch_domains.push(net::Endpoint::parse(url).map(|e| e.host));
        }
    }
    let mut d = fetch_domains.iter();
    for (tool, m) in &keys.fetches {
        for (url, t) in m {
            let domain = d.next().and_then(|x| x.as_deref());
            calls.push((
                Query {
                    tool,
                    url: Some(url),
                    domain,
                    ..Query::default()
                },
                t.count,
                url,
            ));
        }
    }
    for (tool, s) in &keys.others {
        calls.push((
            Query {
                tool,
                ..Query::default()
            },
            s.count,
            tool,
        ));
    }
    // The calls are independent: spread them over the machine's threads.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = calls.len().div_ceil(threads).max(1);
    let parts: Vec<Replay> = std::thread::scope(|s| {
        let handles: Vec<_> = calls
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut r = Replay::default();
                    for (q, n, what) in part {
                        r.total += n;
                        if ev.admits(q) {
                            r.allowed += n;
                        } else {
                            r.denied.push(format!("{} {what}", q.tool));
                        }
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("replay thread"))
            .collect()
    });
    let mut r = Replay::default();
    for p in parts {
        r.allowed += p.allowed;
        r.total += p.total;
        r.denied.extend(p.denied);
    }
    r.denied.sort();
    r.denied.truncate(20);
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

pub(crate) fn tool_summaries(doc: &Doc, prefix: &str) -> Vec<ToolSummary> {
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

pub(crate) fn baseline_summaries(learned: &Learned) -> Vec<(String, u64)> {
    let mut m: BTreeMap<String, u64> = BTreeMap::new();
    for uses in &learned.bundles {
        for (b, u) in uses {
            *m.entry(baseline::bundles()[*b].name.clone()).or_default() += u.stat.count;
        }
    }
    m.into_iter().collect()
}

pub(crate) fn allow(stat: &Stat, field: &str, patterns: Vec<String>, extra: Vec<String>) -> Rule {
    let mut comments = vec![stat_comment(stat)];
    comments.extend(extra);
    Rule {
        comments,
        action: "allow".into(),
        when: vec![(field.to_string(), When::Patterns(patterns))],
        message: None,
        extra: Vec::new(),
    }
}

pub(crate) fn policy(
    name: String,
    description: &str,
    priority: Option<i64>,
    tools: Vec<String>,
    rules: Vec<Rule>,
) -> Policy {
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

/// The order in which a generated file lists its policies, by name suffix.
pub(crate) fn policy_rank(prefix: &str, name: &str) -> usize {
    let Some(suffix) = name.strip_prefix(prefix).and_then(|s| s.strip_prefix('-')) else {
        return usize::MAX;
    };
    if suffix.starts_with("deny-") {
        return 0;
    }
    if suffix.starts_with("baseline-") {
        return 1;
    }
    match suffix {
        "exec" => 2,
        "read" => 3,
        "write" => 4,
        "net" => 5,
        "net-local" => 6,
        "fetch" => 7,
        "tools" => 8,
        _ => usize::MAX,
    }
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
            extra: Vec::new(),
        }
    };
    let seen = |maps: &[&BTreeMap<String, Stat>]| {
        model::sorted(
            maps.iter()
                .flat_map(|m| m.keys().map(|p| places.display(p))),
        )
    };
    let seen_any = seen(&[
        &learned.sensitive[0],
        &learned.sensitive[1],
        &learned.sockets,
    ]);
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
            vec![deny(
                "path_matches",
                strs(paths::SENSITIVE),
                not,
                "sensitive path denied",
            )],
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

pub(crate) fn write_tools(learned: &Learned) -> Vec<String> {
    let mut t: BTreeSet<String> = learned.write_tools.clone();
    t.insert("write".into());
    t.into_iter().collect()
}

/// The last rule of each generated tool policy: what was not learned is
/// denied by the policy itself, so that no policy loaded beside it (a
/// registry policy's catch-all allow) can let it through.
pub(crate) fn deny_rest(what: &str) -> Rule {
    Rule {
        comments: vec![format!(
            "# anything else: denied here, whatever other policies allow ({what} not learned)"
        )],
        action: "deny".into(),
        when: vec![("default".into(), When::Flag(true))],
        message: Some(format!("{what} not learned by the generated policy")),
        extra: Vec::new(),
    }
}

/// The place a learned path pattern belongs to, for grouping: rank and
/// what the policy's comment calls it.
fn place_of(pattern: &str, places: &Places) -> (usize, &'static str) {
    if pattern.starts_with(paths::PROJECT) {
        return (1, "the project, wherever it is checked out");
    }
    if pattern.starts_with(paths::PARENTS) {
        return (
            2,
            "files tools look for in the directories above the project",
        );
    }
    if let Some(tree) = pattern.strip_suffix("/**") {
        if paths::is_system_tree(tree) {
            return (3, "system trees that packages install: read whole");
        }
    }
    if places.display(pattern).starts_with('~') {
        return (4, "the home directory");
    }
    if places.temps.iter().any(|t| paths::is_under(pattern, t)) {
        return (5, "temp directories");
    }
    (6, "elsewhere")
}

/// A comment made one line, at most 200 characters.
fn one_line(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() <= 200 {
        return s;
    }
    let mut t: String = s.chars().take(197).collect();
    t.push_str("...");
    t
}

/// A rule's comment lines: support, then what its wildcards stand for.
fn comments(stat: &Stat, generalised: &BTreeSet<&str>) -> Vec<String> {
    let mut c = vec![stat_comment(stat)];
    if !generalised.is_empty() {
        c.push(format!(
            "# generalised: * stands for {}",
            generalised.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    c
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

    // exec: one allow rule, its patterns grouped by program.
    let exec_rules = exec::generalise(&learned.exec, opts.exec_threshold);
    for r in &exec_rules {
        if r.volatile {
            warnings
                .entry(
                    "commands kept exact although they name a temp path or number that will differ next run: add a rule by hand if they recur".into(),
                )
                .or_default()
                .absorb(&r.stat);
        }
        if let Some(why) = r.exact_because {
            warnings
                .entry(format!("commands kept exact, not generalised ({why})"))
                .or_default()
                .absorb(&r.stat);
        }
    }
    let mut by_program: BTreeMap<&str, Vec<&exec::ExecRule>> = BTreeMap::new();
    for r in &exec_rules {
        by_program.entry(r.program.as_str()).or_default().push(r);
    }
    // Several shell utilities used: all of them, by name (their reads and
    // writes are still decided one by one).
    let utilities: Vec<&str> = by_program
        .keys()
        .copied()
        .filter(|p| exec::UTILITIES.contains(p))
        .collect();
    let mut baseline_utilities = None;
    if utilities.len() >= exec::UTILITIES_NEEDED {
        let mut s = Stat::default();
        for u in &utilities {
            for r in by_program.remove(u).unwrap_or_default() {
                s.absorb(&r.stat);
            }
        }
        baseline_utilities = Some((s, utilities.len()));
    }
    // Several read-only git subcommands used: all of them.
    let git_queries: BTreeSet<&str> = by_program
        .get("git")
        .into_iter()
        .flatten()
        .filter_map(|r| r.pattern.split(' ').nth(1))
        .filter(|sub| exec::GIT_QUERIES.contains(sub))
        .collect();
    let git_baseline = git_queries.len() >= 2;
    if git_baseline {
        if let Some(rs) = by_program.get_mut("git") {
            rs.retain(|r| {
                !r.pattern
                    .split(' ')
                    .nth(1)
                    .is_some_and(|sub| exec::GIT_QUERIES.contains(&sub))
            });
        }
    }
    if !by_program.is_empty() || baseline_utilities.is_some() {
        // One rule: the engine admits a script (`bash -c 'a | b'`) only when
        // a single rule covers every command it runs. Patterns are grouped
        // by program, each group under a comment with its support.
        let mut stat = Stat::default();
        let mut patterns = Vec::new();
        if let Some((s, n)) = &baseline_utilities {
            stat.absorb(s);
            patterns.push(one_line(&format!(
                "# baseline utilities: shell utilities ({n} used; {}); what they read, write and run is decided at each call",
                stat_comment(s).trim_start_matches("# ")
            )));
            for u in exec::UTILITIES {
                if exec::UTILITIES_BARE.contains(u) {
                    patterns.push(u.to_string());
                }
                patterns.push(format!("{u} *"));
            }
        }
        // The project's programs: the agent writes the project and runs its
        // code (its build, its scripts), so a program it built may run.
        let runs_project_code = exec_rules
            .iter()
            .any(|r| r.generalised.contains(exec::PROJECT_CODE));
        let writes_project = learned.files[Access::Write as usize]
            .keys()
            .any(|k| k.starts_with(paths::PROJECT));
        if runs_project_code && writes_project {
            patterns
                .push("# the project's programs: it writes the project and runs its code".into());
            patterns.push(format!("{}/**", paths::PROJECT));
        }
        if git_baseline {
            patterns.push(format!(
                "# baseline git queries: read-only git subcommands ({} used)",
                git_queries.len()
            ));
            for q in exec::GIT_QUERIES {
                patterns.push(format!("git {q}"));
                patterns.push(format!("git {q} *"));
            }
        }
        for (program, rs) in by_program {
            if rs.is_empty() {
                continue;
            }
            let mut s = Stat::default();
            let mut generalised = BTreeSet::new();
            for r in &rs {
                s.absorb(&r.stat);
                generalised.extend(r.generalised.iter().copied());
            }
            stat.absorb(&s);
            let support = stat_comment(&s);
            let support = support.trim_start_matches("# ");
            let mut line = format!("#> {program}: {support}");
            if !generalised.is_empty() {
                line.push_str(&format!(
                    "; * is {}",
                    generalised.iter().copied().collect::<Vec<_>>().join(", ")
                ));
            }
            patterns.push(one_line(&line));
            patterns.extend(model::sorted(rs.iter().map(|r| r.pattern.clone())));
        }
        let rules = vec![
            Rule {
                comments: vec![
                    stat_comment(&stat),
                    "# programs, each with its subcommands and flags; data (messages, paths, URLs' paths, inline code) is *".into(),
                ],
                action: "allow".into(),
                when: vec![("command_matches".into(), When::Patterns(patterns))],
                message: None,
                extra: Vec::new(),
            },
            deny_rest("command"),
        ];
        policies.push(policy(
            format!("{prefix}-exec"),
            "Programs the agent ran: structure kept, data free",
            None,
            strs(&["exec"]),
            rules,
        ));
    }

    // files
    for (access, suffix, tools, what) in [
        (
            Access::Read,
            "read",
            strs(&["read"]),
            "Files the agent read",
        ),
        (
            Access::Write,
            "write",
            write_tools(learned),
            "Files the agent wrote",
        ),
    ] {
        let mut rules: Vec<(String, Rule)> = Vec::new();
        // System trees learned whole make a bundle's patterns inside them
        // redundant.
        let trees: Vec<&str> = learned.files[access as usize]
            .keys()
            .filter_map(|k| k.strip_suffix("/**"))
            .filter(|t| paths::is_system_tree(t))
            .collect();
        for (b, u) in &learned.bundles[access as usize] {
            let bundle = &baseline::bundles()[*b];
            let patterns: Vec<String> = u
                .patterns(bundle, access)
                .iter()
                .filter(|p| {
                    let literal = &p[..p.find(['*', '?', '[']).unwrap_or(p.len())];
                    !trees.iter().any(|t| paths::is_under(literal, t))
                })
                .map(|p| places.display(p))
                .collect();
            if patterns.is_empty() {
                continue;
            }
            let mut c = vec![format!(
                "# baseline {}: {}",
                bundle.name, bundle.description
            )];
            c.push(stat_comment(&u.stat));
            rules.push((
                format!("0 baseline {}", bundle.name),
                Rule {
                    comments: c,
                    action: "allow".into(),
                    when: vec![("path_matches".into(), When::Patterns(patterns))],
                    message: None,
                    extra: Vec::new(),
                },
            ));
        }
        let (project, elsewhere): (BTreeMap<String, Stat>, BTreeMap<String, Stat>) = learned.files
            [access as usize]
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .partition(|(k, _)| k.starts_with(paths::PROJECT));
        let mut found = paths::project_rules(&project, access);
        found.extend(paths::collapse(
            &elsewhere,
            access,
            places,
            opts.collapse_threshold,
        ));
        // One rule per place, each pattern under a comment with its
        // support: reviewable, and a few lines a pattern.
        let mut groups: BTreeMap<(usize, &str), Vec<paths::PathRule>> = BTreeMap::new();
        for r in found {
            groups
                .entry(place_of(&r.pattern, places))
                .or_default()
                .push(r);
        }
        for ((rank, label), members) in groups {
            let mut stat = Stat::default();
            let mut patterns = Vec::new();
            for r in &members {
                stat.absorb(&r.stat);
                let shown = places.display(&r.pattern);
                if members.len() > 1 {
                    let mut line = stat_comment(&r.stat).replacen("# ", "#> ", 1);
                    if r.pattern.contains('*') && !r.pattern.ends_with("/**") {
                        line.push_str("; * is a volatile name");
                    }
                    patterns.push(one_line(&line));
                }
                // The project's or a temp root's own directory with what is
                // below it.
                if let Some(root) = r.pattern.strip_suffix("/**") {
                    if root == paths::PROJECT || places.temps.iter().any(|t| t == root) {
                        patterns.push(root.to_string());
                    }
                }
                patterns.push(shown);
            }
            rules.push((
                format!("1 {rank}"),
                Rule {
                    comments: vec![format!("# {label}"), stat_comment(&stat)],
                    action: "allow".into(),
                    when: vec![("path_matches".into(), When::Patterns(patterns))],
                    message: None,
                    extra: Vec::new(),
                },
            ));
        }
        for (p, s) in &learned.sensitive[access as usize] {
            let shown = places.display(&exact_path_pattern(p));
            rules.push((
                format!("1 {shown}"),
                allow(
                    s,
                    "path_matches",
                    vec![shown],
                    vec!["# SENSITIVE: seen during learning; allowed exactly, review".into()],
                ),
            ));
        }
        rules.sort_by(|a, b| a.0.cmp(&b.0));
        if !rules.is_empty() {
            let mut rules: Vec<Rule> = rules.into_iter().map(|(_, r)| r).collect();
            rules.push(deny_rest(if access == Access::Read {
                "read"
            } else {
                "write"
            }));
            policies.push(policy(
                format!("{prefix}-{suffix}"),
                what,
                None,
                tools,
                rules,
            ));
        }
    }

    // net
    let connect = net::connect_rules(&learned.connects, opts.domain_threshold);
    let mut net_rules: Vec<Rule> = Vec::new();
    for loopback in [false, true] {
        for r in connect.iter().filter(|r| r.loopback == loopback) {
            let mut generalised = BTreeSet::new();
            if r.patterns.len() > 1 {
                generalised.insert("a high port (the observed ports varied)");
            }
            if r.patterns.iter().any(|p| p.contains("*.")) {
                generalised.insert("a subdomain");
            }
            let mut c = comments(&r.stat, &generalised);
            if loopback {
                c.insert(0, "# loopback".into());
            }
            net_rules.push(Rule {
                comments: c,
                action: "allow".into(),
                when: vec![("url_matches".into(), When::Patterns(r.patterns.clone()))],
                message: None,
                extra: Vec::new(),
            });
        }
    }
    for (p, s) in &learned.sockets {
        let mut r = allow(s, "path_matches", vec![places.display(p)], Vec::new());
        r.comments.insert(0, "# unix socket".into());
        net_rules.push(r);
    }
    if !net_rules.is_empty() {
        net_rules.push(deny_rest("connection"));
        policies.push(policy(
            format!("{prefix}-net"),
            "Network connections by host and port; unix sockets by path",
            None,
            strs(&["net"]),
            net_rules,
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
        let mut rules: Vec<Rule> = net::fetch_rules(&all)
            .iter()
            .map(|r| allow(&r.stat, "url_matches", r.patterns.clone(), Vec::new()))
            .collect();
        rules.push(deny_rest("URL"));
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
            extra: Vec::new(),
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
        extra: Vec::new(),
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
    let list = |names: &[String]| {
        let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
        let more = names.len().saturating_sub(shown.len());
        let mut text = shown.join(", ");
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    };
    if !s.agent_names.is_empty() {
        h.push(one_line(&format!("# Agents: {}.", list(&s.agent_names))));
    }
    if !s.session_names.is_empty() {
        h.push(one_line(&format!(
            "# Sessions: {}.",
            list(&s.session_names)
        )));
    }
    h.push(
        "# Generalised: data in commands, volatile names, the project as $PROJECT; never".into(),
    );
    h.push("# secrets, keys, start-up files, hooks or system directories (README).".into());
    if let Some(home) = &s.home {
        h.push(format!("# ~ is {home}."));
    }
    if s.included_denied.count > 0 {
        h.push(one_line(&format!(
            "# Learned although denied, as the reviewer asked (--include-denied {}): {} call{}.",
            s.include_denied
                .iter()
                .map(|(i, _)| i.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            s.included_denied.count,
            if s.included_denied.count == 1 {
                ""
            } else {
                "s"
            }
        )));
    }
    h
}
