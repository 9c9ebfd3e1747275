//! From counts to what the rules will say: [`Generator::build`] sorts every
//! counted call into a [`Learned`] set (destructive commands and system
//! writes refused, sensitive paths kept exact, baseline bundles, file
//! entries with volatile parts normalised and the project named
//! `$PROJECT`), and keeps every distinct call in [`Keys`] for the replay.
//!
//! Owns the classification of a learned path and the summary of what was
//! learned and skipped. It never writes a rule or YAML (that is
//! [`super::emit`]), and never evaluates a policy.

use std::collections::{BTreeMap, BTreeSet};

use super::aggregate::{Counts, Generator, Tally};
use super::baseline;
use super::destructive::is_destructive;
use super::model::{self, Doc, Stat};
use super::observe::{self, Access, SkipReason};
use super::options::Options;
use super::paths::{self, PathSets, Places};
use super::summary::{GenerateError, Summary, Warning};

/// Whether `s` holds a character that is special in a Rampart glob.
pub(crate) fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '[', ']', '\\', '{', '}'])
}

impl Generator {
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
            // A program in a scratch directory of the session's (a copy
            // built in `mktemp -d`): any program there, for the next
            // session's directory has another name.
            let program = cmd.split(' ').next().unwrap_or(cmd);
            let scratch = paths::temp_scratch(program, &places)
                .filter(|dir| !paths::scratch_holds_places(dir, &places));
            if let Some(dir) = scratch {
                let key = format!("{dir}/**");
                learned.exec.entry(key).or_default().absorb(&t.stat(cmd));
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
                    Class::SharedDir => {
                        self.skipped
                            .entry(SkipReason::AlwaysDenied(
                                "a write of a shared directory itself (the home, a temp root)",
                            ))
                            .or_default()
                            .add(path, n);
                    }
                    Class::Sensitive if paths::of_another_process(path) => {
                        // `/proc/PID/environ` of a process that is gone by
                        // the next session, whose number another process
                        // takes: never an exception to the deny.
                        self.skipped
                            .entry(SkipReason::AlwaysDenied("another process's sensitive file"))
                            .or_default()
                            .add(path, n);
                        warnings
                            .entry(
                                "another process's sensitive file (/proc/PID) was read; \
                                 the policy denies it"
                                    .into(),
                            )
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
}

/// Where a learned path goes.
enum Class {
    AlwaysDenied,
    /// A write of the home, a shared root, a temp root or a directory
    /// projects are in, itself: never learned (`paths::shared_dir_itself`).
    SharedDir,
    Sensitive,
    Bundle(usize),
    /// A file entry under this (normalised) key.
    Entry(String),
}

fn classify(access: Access, path: &str, sets: &PathSets, places: &Places) -> Class {
    if access == Access::Write && sets.always_denied_write(path) {
        return Class::AlwaysDenied;
    }
    if access == Access::Write && paths::shared_dir_itself(path, places) {
        return Class::SharedDir;
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
