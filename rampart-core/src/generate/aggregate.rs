//! The streaming [`Generator`]: reads audit records one at a time and
//! keeps only counts keyed by the call's command, path or URL, with the
//! sessions they came from; combines the generators of several threads;
//! and infers from what it read where the home directory and the projects
//! are.
//!
//! Owns what is counted and how (filters, skipped calls, corrupt lines).
//! It never builds a rule or a policy (that is [`super::generalise`] and
//! [`super::emit`]), and never reads files or the clock: the caller passes
//! records in.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::model::{self, Doc, Stat};
use super::observe::{self, Access, Call, Observation, SkipReason};
use super::options::Options;
use super::paths::{self, PathSets, Places};
use super::summary::GenerateError;
use crate::policy::glob::{Glob, GlobKind};

#[derive(Default)]
pub(super) struct SessionInfo {
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
    agent_glob: Option<Glob>,
    session_glob: Option<Glob>,
    include_denied: Vec<observe::Accept>,
    pub(super) included_denied: Stat,
    /// Calls each of `include_denied` let in.
    pub(super) included_by: Vec<u64>,
    pub(super) records: u64,
    pub(super) learned: u64,
    pub(super) skipped: BTreeMap<SkipReason, Stat>,
    pub(super) corrupt: Stat,
    pub(super) sessions: HashMap<Box<str>, SessionInfo, Fx>,
    pub(super) agents: HashSet<Box<str>, Fx>,
    since: Option<observe::Stamp>,
    until: Option<observe::Stamp>,
    pub(super) first: Option<observe::Stamp>,
    pub(super) last: Option<observe::Stamp>,
    pub(crate) exec: Counts,
    pub(crate) files: [Counts; 2],
    pub(super) write_tools: BTreeSet<String>,
    pub(crate) connects: Counts,
    pub(crate) sockets: Counts,
    pub(crate) fetches: BTreeMap<String, Counts>,
    pub(crate) others: BTreeMap<String, Stat>,
    /// Project roots the records named (`request.project`).
    projects_seen: BTreeSet<String>,
    sets: PathSets,
    pub(crate) opts: Options,
}

fn glob_matcher(what: &str, pattern: &Option<String>) -> Result<Option<Glob>, GenerateError> {
    // The policy language's own text glob, as `match.agent` and
    // `match.session` use it.
    pattern
        .as_ref()
        .map(|p| {
            Glob::new(p, GlobKind::Text)
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

    pub(super) fn observe_rec(&mut self, obs: &observe::Rec<'_>) {
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
    pub(super) fn prefix_from_agents(&self) -> String {
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
