//! The policy generation file: how the collector tells the preload library
//! in every enforcing process what the policy in force can refuse, and
//! that its cached verdicts are stale.
//!
//! A file next to the collector's socket (layout and reading in
//! [`rampart_core::generation`]): the generation (2 at start,
//! bumped by 2 after every policy change, odd while being rewritten), the
//! tools the policy can never refuse, and the path screens of `read` and
//! `write` ([`rampart_core::screen`]): an open is screened as its tool, a
//! mutation as each of the paths and tools it is decided on (a rename's
//! two ends as writes, a link's source as a read too), and the refused
//! files that have other names ([`super::linked`]). The library maps it read-only once
//! per process (`RAMPART_POLICY_GEN` names it); the collector rewrites it
//! in place through its own shared mapping, never truncates it, and
//! replaces a stale one from an earlier collector by renaming a new file
//! over it (processes still mapping the old one keep valid pages).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicU64, Ordering};

use anyhow::{Context, Result};
use rampart_core::event::{Call, Event, Op};
use rampart_core::policy::Engine;
use rampart_core::{generation, screen, wire};

use super::guard::Guard;

/// The file's name, in the socket's directory.
pub const FILE_NAME: &str = "policy-generation";

/// The policy generation file of the collector listening at `socket`.
pub fn path_for(socket: &Path) -> PathBuf {
    socket.with_file_name(FILE_NAME)
}

/// Each tool's bit in the file and its name.
const TOOLS: [(u64, &str); 4] = [
    (wire::TOOL_EXEC, "exec"),
    (wire::TOOL_READ, "read"),
    (wire::TOOL_WRITE, "write"),
    (wire::TOOL_NET, "net"),
];

/// The file as it stands for `engine` and `guard` (generation word 0): the
/// tools they can never refuse, and the screens of `read` and `write`
/// where they refuse some but not all opens of the tool and the screen
/// fits. Where the policy refuses every open it does not allow (a learned
/// one), the screen holds the literals of its refusals and the places it
/// opens whole go with it (`Engine::opened_places`); `project` is the
/// directory `$PROJECT` stands for in every call this collector decides,
/// when there is one.
fn contents(engine: &Engine, guard: &Guard, project: Option<&str>) -> Vec<u8> {
    let mut free = 0u64;
    let mut screens: [Option<Vec<u8>>; 2] = [None, None];
    let mut places: [Option<Vec<u8>>; 2] = [None, None];
    for (bit, tool) in TOOLS {
        let index = generation::screen_index(bit);
        let (mut literals, opened) = match engine.refusal_literals(tool, index.is_some()) {
            Some(literals) => (literals, None),
            None => match index.and_then(|_| engine.opened_places(tool, project)) {
                Some((literals, opened)) => (literals, Some(opened)),
                None => continue,
            },
        };
        match guard.refusal_literals(tool) {
            None => continue,
            Some(more) => literals.extend(more),
        }
        if literals.is_empty() && opened.is_none() {
            free |= bit;
        } else if let Some(i) = index {
            // Under places, no literal at all is a screen that stops nothing.
            screens[i] = screen::build(&literals);
            if let Some(opened) = &opened {
                places[i] = screen::build_places(opened);
                if places[i].is_none() {
                    screens[i] = None; // places that do not fit: every open asks
                }
            }
        }
    }
    let names = super::linked::Names::for_engine(engine);
    let linked = names.published();
    let mut out = vec![0u8; generation::LEN];
    let held = generation::write(
        &mut out,
        0,
        free,
        [screens[0].as_deref(), screens[1].as_deref()],
        [places[0].as_deref(), places[1].as_deref()],
        &linked,
    );
    if held < linked.len() {
        // A refused file left out of the table would pass a screen by
        // its other name: without the screens, every open and mutation
        // waits for the collector, which looks each file up in the whole
        // list (`linked::resolve`).
        tracing::warn!(
            "{} refused files have other names, more than the interceptors can look up: every open waits for a verdict",
            linked.len()
        );
        generation::write(&mut out, 0, free, [None, None], [None, None], &linked);
    }
    out
}

/// What the policy in force can refuse, read from the same contents the
/// preload library reads in the file: for the collector's own tracer
/// (`rampart run --backend trace` in enforce mode), which asks before each
/// call whether it must wait for a verdict.
pub struct Refusals {
    contents: Vec<u8>,
}

impl Refusals {
    pub fn of(engine: &Engine, guard: &Guard, project: Option<&str>) -> Refusals {
        Refusals {
            contents: contents(engine, guard, project),
        }
    }

    /// The name the policy refuses the file `(dev, ino)` by, when it is a
    /// refused file with other names ([`super::linked`]).
    pub fn other_name(&self, dev: u64, ino: u64) -> Option<String> {
        generation::linked_name(&self.contents, dev, ino)
            .map(|n| String::from_utf8_lossy(n).into_owned())
    }

    /// Whether the policy could refuse `event`, so that it must be decided
    /// before it runs. A call that cannot be refused runs at once and is
    /// recorded with its outcome, as in monitor mode; a cut path is always
    /// decided (the screen cannot vouch for what was cut off). A mutation
    /// can be refused when any of the paths it is decided on can be, as the
    /// tool it is decided as ([`Event::path_checks`]).
    pub fn can_refuse(&self, event: &Event) -> bool {
        if let Call::Mutate {
            target: Some(target),
            ..
        } = &event.call
        {
            // As the library does: a symlink's target is screened as a
            // write (a relative one never passes).
            if self.can_refuse_as("write", Some(target), event.truncated) {
                return true;
            }
        }
        if let Call::Mutate {
            resolved,
            new_resolved,
            ..
        } = &event.call
        {
            // Where it lands, when that is elsewhere: as a write.
            for p in resolved.iter().chain(new_resolved) {
                if self.can_refuse_as("write", Some(p), event.truncated) {
                    return true;
                }
            }
        }
        if let Call::Mutate {
            op: Op::Rename,
            path,
            new_path,
            resolved,
            new_resolved,
            ..
        } = &event.call
        {
            // As the library does: a rename moves what is beneath both ends.
            let free = generation::word(&self.contents, generation::FREE);
            let screened = generation::word(&self.contents, generation::SCREENED);
            let moves = |p: &str| {
                [wire::TOOL_READ, wire::TOOL_WRITE].into_iter().any(|bit| {
                    !generation::moves_nothing(free, screened, &self.contents, bit, p.as_bytes())
                })
            };
            if moves(path)
                || [new_path, resolved, new_resolved]
                    .into_iter()
                    .any(|p| p.as_deref().is_some_and(moves))
            {
                return true;
            }
        }
        match event.path_checks() {
            Some(mut checks) => {
                checks.any(|(tool, path)| self.can_refuse_as(tool, Some(path), event.truncated))
            }
            None => self.can_refuse_as(event.tool(), event.path(), event.truncated),
        }
    }

    /// Whether the policy could refuse a call of `tool` on `path`.
    fn can_refuse_as(&self, tool: &str, path: Option<&str>, truncated: bool) -> bool {
        let Some(&(bit, _)) = TOOLS.iter().find(|(_, name)| *name == tool) else {
            return true;
        };
        let free = generation::word(&self.contents, generation::FREE);
        if free & bit != 0 {
            return false;
        }
        let (false, Some(path)) = (truncated, path) else {
            return true;
        };
        let screened = generation::word(&self.contents, generation::SCREENED);
        !generation::passes(free, screened, &self.contents, bit, path.as_bytes())
    }
}

/// The refusals a collector published in its policy generation file, for
/// a process of the watched tree that asks itself whether a call needs a
/// verdict (`rampart __trace-exec`): read again whenever the generation
/// changes.
pub struct Published {
    file: std::fs::File,
    generation: u64,
    refusals: Option<Refusals>,
}

impl Published {
    /// The file at `path`; `None` when it cannot be opened.
    pub fn open(path: &Path) -> Option<Published> {
        Some(Published {
            file: std::fs::File::open(path).ok()?,
            generation: 0,
            refusals: None,
        })
    }

    /// The generation [`Published::current`] last read whole; `None` when
    /// it could not.
    pub fn generation(&self) -> Option<u64> {
        self.refusals.as_ref().map(|_| self.generation)
    }

    fn generation_now(&self) -> Option<u64> {
        let mut word = [0u8; 8];
        self.file.read_exact_at(&mut word, 0).ok()?;
        Some(u64::from_le_bytes(word))
    }

    /// What the policy in force can refuse; `None` while the collector
    /// rewrites the file (an odd generation, or one that changed while it
    /// was read) or when it cannot be read: then every call asks.
    pub fn current(&mut self) -> Option<&Refusals> {
        let g = self.generation_now()?;
        if g & 1 == 0 && g == self.generation && self.refusals.is_some() {
            return self.refusals.as_ref();
        }
        self.refusals = None;
        let mut file = vec![0u8; generation::LEN];
        self.file.read_exact_at(&mut file, 0).ok()?;
        let read = generation::word(&file, generation::GENERATION);
        if read & 1 != 0 || read != g || self.generation_now()? != g {
            return None;
        }
        self.generation = g;
        self.refusals = Some(Refusals { contents: file });
        self.refusals.as_ref()
    }
}

/// The collector's writable mapping of the file.
pub struct PolicyGeneration {
    words: *const AtomicU64,
    /// Self-protection, refused whatever the policy.
    guard: Guard,
    /// What `$PROJECT` stands for in every call decided here, if anything.
    project: Option<String>,
}

// SAFETY: the mapping is only ever accessed through atomics.
unsafe impl Send for PolicyGeneration {}
unsafe impl Sync for PolicyGeneration {}

impl PolicyGeneration {
    /// Create (or replace) the file at `path` with generation 2.
    /// `project`: what `$PROJECT` stands for in every call this collector
    /// decides (one `rampart run`); `None` when calls come from runs in
    /// other projects (`rampart serve`).
    pub fn create(
        path: &Path,
        engine: &Engine,
        guard: &Guard,
        project: Option<&str>,
    ) -> Result<PolicyGeneration> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
        let mut init = contents(engine, guard, project);
        init[..8].copy_from_slice(&generation::FIRST.to_le_bytes());
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        file.write_all(&init)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
        // SAFETY: a shared read-write mapping of the whole file, just
        // written; it stays valid after the descriptor is closed.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                generation::LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("cannot map {}", path.display()));
        }
        Ok(PolicyGeneration {
            words: p.cast(),
            guard: guard.clone(),
            project: project.map(str::to_string),
        })
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        // SAFETY: aligned u64 words at the start of a live mapping.
        unsafe { &*self.words.add(i) }
    }

    /// The generation in force.
    pub fn generation(&self) -> u64 {
        self.word(generation::GENERATION).load(Ordering::Acquire)
    }

    /// Publish a policy change: mark the file as being rewritten (odd
    /// generation), write what `engine` refuses, then the next even
    /// generation. Readers that overlap the rewrite see a generation change
    /// and ask the collector.
    pub fn bump(&self, engine: &Engine) {
        let data = contents(engine, &self.guard, self.project.as_deref());
        let g = self.word(generation::GENERATION).load(Ordering::Relaxed);
        self.word(generation::GENERATION)
            .store(g | 1, Ordering::Relaxed);
        fence(Ordering::Release);
        for i in generation::FREE..generation::SCREENS_AT / 8 {
            self.word(i)
                .store(generation::word(&data, i), Ordering::Relaxed);
        }
        // SAFETY: the rest of the mapping, past the words: plain bytes no
        // one in this process holds a reference to; readers in other
        // processes validate what they read against the generation.
        let past_words = generation::SCREENS_AT;
        unsafe {
            std::ptr::copy_nonoverlapping(
                data[past_words..].as_ptr(),
                (self.words as *mut u8).add(past_words),
                data.len() - past_words,
            )
        };
        self.word(generation::GENERATION)
            .store((g | 1) + 1, Ordering::Release);
    }
}

impl Drop for PolicyGeneration {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `create` mapped.
        unsafe { libc::munmap(self.words as *mut libc::c_void, generation::LEN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(yaml: &str) -> Engine {
        Engine::from_texts(&[(PathBuf::from("p.yaml"), yaml.to_string())]).unwrap()
    }

    fn read_words(path: &Path) -> (u64, u64, u64) {
        let b = std::fs::read(path).unwrap();
        assert_eq!(b.len(), generation::LEN);
        let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
        (w(0), w(1), w(2))
    }

    fn screen_of(path: &Path, i: usize) -> Vec<u8> {
        let b = std::fs::read(path).unwrap();
        b[generation::screen_range(i)].to_vec()
    }

    const NO_SSH: &str = "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: no-ssh\n    match:\n      tool: read\n    rules:\n      - action: deny\n        when:\n          path_matches: [\"**/.ssh/**\"]\n";

    #[test]
    fn starts_at_two_and_bumps_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("collector.sock"));
        let open = engine("version: \"1\"\ndefault_action: allow\npolicies: []\n");
        let g = PolicyGeneration::create(&path, &open, &Guard::default(), None).unwrap();
        let all = wire::TOOL_EXEC | wire::TOOL_READ | wire::TOOL_WRITE | wire::TOOL_NET;
        assert_eq!(read_words(&path), (2, all, 0));
        g.bump(&engine(NO_SSH));
        let free = wire::TOOL_EXEC | wire::TOOL_WRITE | wire::TOOL_NET;
        assert_eq!(read_words(&path), (4, free, wire::TOOL_READ));
        let read = screen_of(&path, 0);
        assert!(!screen::passes(&read, b"/home/u/.ssh/id_rsa"));
        assert!(screen::passes(&read, b"/usr/include/stdio.h"));
        assert_eq!(g.generation(), 4);
        // Back to a policy without screens: the old screen is gone.
        g.bump(&open);
        assert_eq!(read_words(&path), (6, all, 0));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
    }

    /// A traced open of `path` with `flags`.
    fn open(path: &str, flags: i32) -> Event {
        use rampart_core::event::{Call, Outcome, Source};
        Event {
            pid: 1,
            ppid: 0,
            exe: "/bin/cat".into(),
            cwd: "/".into(),
            source: Source::Trace,
            call: Call::Open {
                path: path.into(),
                flags,
                resolved: None,
            },
            outcome: Outcome::Unknown,
            truncated: false,
        }
    }

    #[test]
    fn refusals_say_which_calls_must_wait_for_a_verdict() {
        use rampart_core::event::Call;
        let r = Refusals::of(&engine(NO_SSH), &Guard::default(), None);
        assert!(r.can_refuse(&open("/home/u/.ssh/id_rsa", 0)));
        assert!(!r.can_refuse(&open("/usr/include/stdio.h", 0)));
        assert!(
            !r.can_refuse(&open("/home/u/.ssh/id_rsa", libc::O_WRONLY)),
            "the policy refuses no write"
        );
        let mut cut = open("/usr/include/stdio.h", 0);
        cut.truncated = true;
        assert!(r.can_refuse(&cut), "a cut path is always decided");
        let exec = Event {
            call: Call::Exec {
                path: "/bin/rm".into(),
                argv: vec!["rm".into()],
                via: None,
            },
            ..open("/", 0)
        };
        assert!(!r.can_refuse(&exec));
        let strict = Refusals::of(
            &engine("version: \"1\"\ndefault_action: deny\npolicies: []\n"),
            &Guard::default(),
            None,
        );
        assert!(strict.can_refuse(&exec));
        assert!(strict.can_refuse(&open("/usr/include/stdio.h", 0)));
    }

    /// A traced mutation of `path` (and `second`).
    fn mutation(op: rampart_core::event::Op, path: &str, second: Option<&str>) -> Event {
        use rampart_core::event::Call;
        Event {
            call: Call::Mutate {
                op,
                path: path.into(),
                new_path: second.filter(|_| op.has_new_path()).map(Into::into),
                target: second.filter(|_| op.has_target()).map(Into::into),
                resolved: None,
                new_resolved: None,
            },
            ..open("/", 0)
        }
    }

    #[test]
    fn a_mutation_waits_when_any_of_its_paths_could_be_refused() {
        use rampart_core::event::Op;
        let guard = engine(
            "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: p\n    match:\n      tool: write\n    rules:\n      - action: deny\n        when:\n          path_matches: [\"**/protected/**\"]\n",
        );
        let r = Refusals::of(&guard, &Guard::default(), None);
        assert!(r.can_refuse(&mutation(Op::Delete, "/w/protected/f", None)));
        assert!(!r.can_refuse(&mutation(Op::Delete, "/w/f", None)));
        assert!(r.can_refuse(&mutation(Op::Rename, "/w/x", Some("/w/protected/f"))));
        assert!(r.can_refuse(&mutation(Op::Rename, "/w/protected/f", Some("/w/x"))));
        assert!(!r.can_refuse(&mutation(Op::Rename, "/w/x", Some("/w/y"))));
        // A symlink's target is screened as a write (self-protection
        // refuses links into rampart's state); a relative one never passes.
        assert!(r.can_refuse(&mutation(Op::Symlink, "/w/l", Some("/w/protected/f"))));
        assert!(!r.can_refuse(&mutation(Op::Symlink, "/w/l", Some("/w/t"))));
        assert!(r.can_refuse(&mutation(Op::Symlink, "/w/l", Some("t"))));
        assert!(!r.can_refuse(&mutation(Op::Link, "/w/x", Some("/w/y"))));
        // A policy that guards reads only: a link's source is read-screened,
        // and a rename's (another name to read it by).
        let r = Refusals::of(&engine(NO_SSH), &Guard::default(), None);
        assert!(r.can_refuse(&mutation(Op::Link, "/h/.ssh/id_rsa", Some("/tmp/k"))));
        assert!(r.can_refuse(&mutation(Op::Rename, "/h/.ssh/id_rsa", Some("/tmp/k"))));
        assert!(!r.can_refuse(&mutation(Op::Chmod, "/h/.ssh/id_rsa", None)));
    }

    #[test]
    fn a_policy_that_refuses_what_it_does_not_allow_publishes_its_places() {
        use rampart_core::event::Op;
        let learned = "version: \"1\"\ndefault_action: deny\npolicies:\n  - name: no-env\n    rules:\n      - action: deny\n        when:\n          path_matches: [\"**/.env\"]\n  - name: read\n    match:\n      tool: read\n    rules:\n      - action: allow\n        when:\n          path_matches: [\"$PROJECT/**\", \"/usr/include/**\"]\n";
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("p.sock"));
        let open_all = engine("version: \"1\"\ndefault_action: allow\npolicies: []\n");
        let g = PolicyGeneration::create(&path, &engine(learned), &Guard::default(), Some("/w/p"))
            .unwrap();
        let words = std::fs::read(&path).unwrap();
        let word = |i| generation::word(&words, i);
        // Reads have places; writes none (nothing allows one): unscreened.
        let read = wire::TOOL_READ;
        assert_eq!(
            (word(generation::SCREENED), word(generation::OPENED)),
            (read, read)
        );
        let mut p = Published::open(&path).unwrap();
        let r = p.current().unwrap();
        assert!(!r.can_refuse(&open("/w/p/src/main.c", 0)));
        assert!(!r.can_refuse(&open("/usr/include/stdio.h", 0)));
        assert!(r.can_refuse(&open("/w/p/.env", 0)), "a refusal's literal");
        assert!(r.can_refuse(&open("/w/q/main.c", 0)), "in no place");
        assert!(
            r.can_refuse(&open("/w/p/src/main.c", libc::O_WRONLY)),
            "writes have none"
        );
        // A rename could carry refused files into a place: it is decided.
        assert!(r.can_refuse(&mutation(Op::Rename, "/w/p/a", Some("/w/p/b"))));
        // Without the project, `$PROJECT/**` is no place; with another
        // policy, the places are gone.
        let bare = Refusals::of(&engine(learned), &Guard::default(), None);
        assert!(bare.can_refuse(&open("/w/p/src/main.c", 0)));
        assert!(!bare.can_refuse(&open("/usr/include/stdio.h", 0)));
        g.bump(&open_all);
        let words = std::fs::read(&path).unwrap();
        assert_eq!(generation::word(&words, generation::OPENED), 0);
        assert!(!p.current().unwrap().can_refuse(&open("/w/q/main.c", 0)));
        g.bump(&engine(learned));
        assert!(!p.current().unwrap().can_refuse(&open("/w/p/src/main.c", 0)));
    }

    #[test]
    fn published_refusals_follow_every_policy_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("p.sock"));
        let ssh_key = open("/home/u/.ssh/id_rsa", 0);
        let open = engine("version: \"1\"\ndefault_action: allow\npolicies: []\n");
        let g = PolicyGeneration::create(&path, &open, &Guard::default(), None).unwrap();
        let mut p = Published::open(&path).unwrap();
        assert!(!p.current().unwrap().can_refuse(&ssh_key));
        g.bump(&engine(NO_SSH));
        assert!(p.current().unwrap().can_refuse(&ssh_key));
        g.bump(&open);
        assert!(!p.current().unwrap().can_refuse(&ssh_key));
        assert!(Published::open(&dir.path().join("absent")).is_none());
    }

    #[test]
    fn a_stale_file_is_replaced_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("s.sock"));
        let e = engine("version: \"1\"\ndefault_action: deny\npolicies: []\n");
        let old =
            PolicyGeneration::create(&path, &engine(NO_SSH), &Guard::default(), None).unwrap();
        old.bump(&e);
        old.bump(&e);
        let new = PolicyGeneration::create(&path, &e, &Guard::default(), None).unwrap();
        assert_eq!(read_words(&path), (2, 0, 0));
        // The old mapping still works (a process that mapped it is safe).
        assert_eq!(old.generation(), 6);
        assert_eq!(new.generation(), 2);
    }
}
