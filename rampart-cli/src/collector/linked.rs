//! Other names of the files the policy refuses: their hard links.
//!
//! A rule refuses a file by a name (`**/.ssh/id_*`). A second hard link to
//! it made before the run (`/tmp/notes`, the key's inode under another name)
//! reaches the same bytes by a name no rule refuses, and neither a screen
//! nor a decision on names can tell. This module owns the list of such
//! files, by device and inode, with the name the policy refuses each by
//! ([`Names`]):
//!
//! * [`Names::find`] walks the places refusing rules are about: the home
//!   directory and the working directory (four levels down) and the
//!   literal start of each read refusal anchored at a directory
//!   (`/etc/ssh/ssh_host_*_key`: `/etc/ssh`), breadth first, at most
//!   [`BUDGET`] entries in all, links not followed, and not into build
//!   output, dependency trees and caches ([`NOT_ENTERED`]: `.git`,
//!   `node_modules`, `target`, `.cache`, ...). A regular file with
//!   more than one link is kept when the policy refuses reading or writing
//!   it by a rule that names something (not by a default or a rule that
//!   matches every call: a learned policy does not refuse a file for being
//!   unnamed); when the policy's refusals all contain literals, only names
//!   that contain one are looked at.
//! * the collector publishes the list in the policy generation file
//!   (`rampart_core::generation::linked_name`): an interceptor that
//!   reaches a file with more than one link looks it up and decides the
//!   call on that name too, as `resolved`;
//! * in monitor mode nobody asks before the call, so [`resolve`] names the
//!   recorded file the same way in the collector;
//! * the walk starts when the collector does, on a thread of its own
//!   ([`Names::prefetch`], made after `rampart run` blocked the signals it
//!   forwards, as every thread of it must): a run waits for it only where the list is
//!   needed — under enforcement before the tree starts (the generation
//!   file), and for a recorded open of a file with more than one link.
//!
//! It reads the file system (directory listings, `lstat`, `stat`) and never
//! changes it. What it does not see: a file deeper than the walk or past its
//! budget, and a second name made from outside the watched tree while it
//! runs (inside it, making one is refused: a link's source is decided as a
//! read and a write). The list is made again when the policy changes.

use std::collections::{HashSet, VecDeque};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rampart_core::event::{name_from_bytes, name_to_bytes, Call, Event};
use rampart_core::generation::Linked;
use rampart_core::policy::{Action, Engine, Request};
use rampart_core::screen;

/// Most directory entries one walk reads.
pub const BUDGET: usize = 50_000;
/// How many levels of directories the walk reads from the home and the
/// working directory (`~/.ssh/id_rsa` is in the second).
const DEPTH: usize = 4;
/// How many levels from the literal start of an anchored pattern: its
/// directory, and one more when the literal ends a directory name
/// (`/etc/ssh/**`).
const ANCHORED_DEPTH: usize = 2;
/// Directories the walk does not enter: build output, dependency trees
/// and caches, which are large and hold no one's secrets (a refused file
/// hard-linked from in there is not found).
const NOT_ENTERED: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    ".cache",
    ".cargo",
    ".rustup",
    ".npm",
    ".pnpm-store",
    "__pycache__",
    ".venv",
    "venv",
    "site-packages",
    ".tox",
    ".gradle",
    ".m2",
];

/// The refusable files that have other names: (device, inode) and the
/// name the policy refuses each by.
#[derive(Debug, Default)]
pub struct Names {
    entries: Vec<(u64, u64, String)>,
}

impl Names {
    /// The list for `engine`, made once per engine (the last one is kept);
    /// waits while another thread makes it.
    pub fn for_engine(engine: &Engine) -> Arc<Names> {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((serial, names)) = &*last {
            if *serial == engine.serial() {
                return names.clone();
            }
        }
        let started = std::time::Instant::now();
        let names = Arc::new(Names::find(engine, &roots()));
        tracing::debug!(
            "other names: {} refused files with more than one link, found in {:?}",
            names.entries.len(),
            started.elapsed()
        );
        *last = Some((engine.serial(), names.clone()));
        names
    }

    /// Start making the list for `engine` on a thread of its own, so that
    /// a run does not wait for the walk before its first record, nor at
    /// its end: only a call that reaches a file with more than one link
    /// waits for it ([`resolve`]). Under enforcement the policy generation
    /// file waits for it too, before the tree starts.
    pub fn prefetch(engine: Arc<Engine>) {
        let spawned = std::thread::Builder::new()
            .name("rampart-linked".into())
            .spawn(move || {
                crate::background::yield_to_the_tree();
                Names::for_engine(&engine);
            });
        if let Err(e) = spawned {
            tracing::debug!("other names: made when first needed ({e})");
        }
    }

    /// The list for `engine` when it is made already; `None` while it is
    /// being made or not made yet (never waits).
    fn made(engine: &Engine) -> Option<Arc<Names>> {
        let last = match LAST.try_lock() {
            Ok(last) => last,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        match &*last {
            Some((serial, names)) if *serial == engine.serial() => Some(names.clone()),
            _ => None,
        }
    }

    /// Walk `roots` (directory, depth), and the directories `engine`'s
    /// anchored read refusals start in, for the files `engine` refuses
    /// that have more than one link. Those refused to read come first.
    pub fn find(engine: &Engine, roots: &[(PathBuf, usize)]) -> Names {
        let (read, read_starts) = engine.named_refusals("read");
        let (write, _) = engine.named_refusals("write");
        let literals = match (read, write) {
            (Some(r), Some(w)) if r.is_empty() && w.is_empty() => return Names::default(),
            (Some(mut r), Some(w)) => {
                r.extend(w);
                Some(r)
            }
            _ => None,
        };
        // A name that contains none of the literals is refused by no rule
        // that names something: tested with the screen's bigram table
        // (what the interceptors test paths with) where they fit in one.
        let mut literals = literals.map(|l| {
            let screen = screen::build(&l);
            (l, screen)
        });
        let mut may_be_refused = |name: &str| match &mut literals {
            None => true,
            Some((_, Some(screen))) => !screen::passes(screen, name.as_bytes()),
            Some((l, None)) => l.iter().any(|l| name.contains(l.as_str())),
        };
        let refused = |tool: &str, path: &str| {
            let d = engine.evaluate(&Request {
                tool,
                path: Some(path),
                ..Request::default()
            });
            !matches!(d.action, Action::Allow | Action::Watch) && !d.catch_all
        };
        let mut queue: VecDeque<(PathBuf, usize)> = roots.iter().cloned().collect();
        queue.extend(read_starts.iter().filter_map(|lit| {
            let dir = &lit[..lit.rfind('/')?];
            let depth = if lit.ends_with('/') {
                ANCHORED_DEPTH
            } else {
                1
            };
            Some((PathBuf::from(if dir.is_empty() { "/" } else { dir }), depth))
        }));
        let (mut unread, mut unwritten) = (Vec::new(), Vec::new());
        let mut seen_dirs = HashSet::new();
        let mut seen_files = HashSet::new();
        let mut budget = BUDGET;
        'walk: while let Some((dir, depth)) = queue.pop_front() {
            let Ok(meta) = std::fs::metadata(&dir) else {
                continue;
            };
            if !meta.is_dir() || !seen_dirs.insert((meta.dev(), meta.ino())) {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if budget == 0 {
                    tracing::debug!("other names: the walk stopped after {BUDGET} entries");
                    break 'walk;
                }
                budget -= 1;
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    let name = entry.file_name();
                    let skipped = NOT_ENTERED.iter().any(|n| name.as_bytes() == n.as_bytes());
                    if depth > 1 && !skipped {
                        queue.push_back((entry.path(), depth - 1));
                    }
                    continue;
                }
                if !kind.is_file() {
                    continue;
                }
                let path = entry.path();
                let name = name_from_bytes(path.as_os_str().as_bytes());
                if !may_be_refused(&name) {
                    continue;
                }
                let name = name.into_owned();
                let Ok(m) = entry.metadata() else {
                    continue;
                };
                if m.nlink() < 2 || !seen_files.insert((m.dev(), m.ino())) {
                    continue;
                }
                if refused("read", &name) {
                    unread.push((m.dev(), m.ino(), name));
                } else if refused("write", &name) {
                    unwritten.push((m.dev(), m.ino(), name));
                }
            }
        }
        unread.extend(unwritten);
        Names { entries: unread }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name the policy refuses the file `(dev, ino)` by.
    pub fn name_of(&self, dev: u64, ino: u64) -> Option<&str> {
        self.entries
            .iter()
            .find(|(d, i, _)| *d == dev && *i == ino)
            .map(|(_, _, n)| n.as_str())
    }

    /// The list as the policy generation file holds it.
    pub fn published(&self) -> Vec<Linked<'_>> {
        self.entries
            .iter()
            .map(|(dev, ino, name)| Linked {
                dev: *dev,
                ino: *ino,
                name: name.as_bytes(),
            })
            .collect()
    }

    /// For an open, or a call that changes a file through its name (a
    /// chmod, a truncate, a link...), recorded without another name for the
    /// file it reached: that file's refused name, when it is one of the
    /// list (monitor mode, where nothing looked before the call, and a call
    /// whose file the interceptor's table did not hold; the file is looked
    /// at now).
    pub fn resolve(&self, event: &mut Event) {
        if self.is_empty() {
            return;
        }
        let Some(m) = reached_file(event) else {
            return;
        };
        let (path, resolved) = match &mut event.call {
            Call::Open { path, resolved, .. } => (path, resolved),
            Call::Mutate {
                op, path, resolved, ..
            } if op.changes_file() => (path, resolved),
            _ => return,
        };
        if m.is_file() && m.nlink() > 1 {
            if let Some(name) = self.name_of(m.dev(), m.ino()) {
                if name != path {
                    *resolved = Some(name.to_string());
                }
            }
        }
    }
}

/// The last list made, with the serial of the engine it was made for.
static LAST: Mutex<Option<(u64, Arc<Names>)>> = Mutex::new(None);

/// For an open recorded without another name for the file it reached:
/// that file's refused name, when it is one of `engine`'s list
/// ([`Names::resolve`]). While the list is being made, only a call that
/// reached a regular file with more than one link waits for it: no other
/// file can be in it.
pub fn resolve(engine: &Engine, event: &mut Event) {
    if let Some(names) = Names::made(engine) {
        names.resolve(event);
        return;
    }
    if reached_file(event).is_some_and(|m| m.is_file() && m.nlink() > 1) {
        Names::for_engine(engine).resolve(event);
    }
}

/// The file an open or a file-changing mutation reached, as it is now:
/// `None` for another call, or a name that is not absolute or not there.
fn reached_file(event: &Event) -> Option<std::fs::Metadata> {
    let (path, resolved) = match &event.call {
        Call::Open { path, resolved, .. } => (path, resolved),
        Call::Mutate {
            op, path, resolved, ..
        } if op.changes_file() => (path, resolved),
        _ => return None,
    };
    let reached = resolved.as_deref().unwrap_or(path);
    if !reached.starts_with('/') {
        return None;
    }
    std::fs::metadata(std::ffi::OsStr::from_bytes(&name_to_bytes(reached))).ok()
}

/// Where the walk starts: the home and working directories (the
/// directories read refusals are anchored at are added by [`Names::find`]).
fn roots() -> Vec<(PathBuf, usize)> {
    let mut roots = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        roots.push((PathBuf::from(home), DEPTH));
    }
    if let Ok(cwd) = std::env::current_dir() {
        roots.push((cwd, DEPTH));
    }
    roots
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::generation;

    fn engine(yaml: &str) -> Engine {
        Engine::from_texts(&[(PathBuf::from("t.yaml"), yaml.to_string())]).unwrap()
    }

    const NO_KEYS: &str = "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: k\n    \
        match: {tool: [read]}\n    rules:\n      - action: deny\n        when: {path_matches: \
        [\"**/keys/*.pem\"]}\n";

    #[test]
    fn refused_files_with_other_names_are_listed_by_inode() {
        let d = tempfile::tempdir().unwrap();
        let keys = d.path().join("a/keys");
        std::fs::create_dir_all(&keys).unwrap();
        for f in ["linked.pem", "alone.pem", "other.txt"] {
            std::fs::write(keys.join(f), f).unwrap();
        }
        std::fs::hard_link(keys.join("linked.pem"), d.path().join("notes")).unwrap();
        std::fs::hard_link(keys.join("other.txt"), d.path().join("other2")).unwrap();
        let names = Names::find(&engine(NO_KEYS), &[(d.path().to_path_buf(), 3)]);
        let m = std::fs::metadata(keys.join("linked.pem")).unwrap();
        let listed = keys.join("linked.pem");
        assert_eq!(names.name_of(m.dev(), m.ino()), listed.to_str());
        // One link only, or not refused: not listed.
        assert_eq!(names.entries.len(), 1, "{:?}", names.entries);
        // Too deep for the walk: not found.
        let shallow = Names::find(&engine(NO_KEYS), &[(d.path().to_path_buf(), 2)]);
        assert!(shallow.is_empty());
        // A policy that refuses nothing by name walks nothing.
        let none = engine("version: \"1\"\ndefault_action: deny\npolicies: []\n");
        assert!(Names::find(&none, &[(d.path().to_path_buf(), 3)]).is_empty());
        // The table the interceptors read says the same.
        let mut file = vec![0u8; generation::LEN];
        generation::write(
            &mut file,
            2,
            0,
            [None, None],
            [None, None],
            &names.published(),
        );
        assert_eq!(
            generation::linked_name(&file, m.dev(), m.ino()),
            listed.to_str().map(str::as_bytes)
        );
        // Monitor mode: a read of the other name is resolved to the refused one.
        let mut event = Event {
            pid: 1,
            ppid: 0,
            exe: "/bin/cat".into(),
            cwd: "/".into(),
            source: rampart_core::event::Source::Preload,
            call: Call::Open {
                path: d.path().join("notes").to_str().unwrap().into(),
                flags: 0,
                resolved: None,
            },
            outcome: rampart_core::event::Outcome::Ok,
            truncated: false,
        };
        names.resolve(&mut event);
        let Call::Open { resolved, .. } = &event.call else {
            unreachable!()
        };
        assert_eq!(resolved.as_deref(), listed.to_str());
    }
}
