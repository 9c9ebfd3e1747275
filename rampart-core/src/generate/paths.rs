//! File rules: where a path lives (home, project, temp), what in it is
//! volatile (`/proc/<pid>`, random temp names, hashes, UUIDs, dates,
//! versioned `.so`), what is sensitive, and when a directory of observed
//! files may collapse to `dir/*` or `dir/**`.
//!
//! Collapse rules: only past a threshold of distinct observed children; for
//! writes only inside owned places (projects, temp directories,
//! `~/.cache/<app>`); never at `/`, `~`, `/home`, `/etc`, `/usr` or another
//! shared root; never over a sensitive location. Sensitive paths are never
//! normalised or globbed: each seen one stays an exact rule and a warning.
//!
//! Where a path lives is `places.rs` and what in a name is volatile
//! `volatile.rs`; this file owns the sensitive and system sets and
//! the file rules. It never reads the file system.

use std::collections::BTreeMap;

use crate::policy::glob::{Bits, Glob, GlobKind, GlobSet};

use super::model::Stat;
use super::observe::Access;
pub use super::places::{git_root_of, is_under, parent, project_roots, Places, PARENTS, PROJECT};
pub use super::volatile::normalise_word;
use super::volatile::{looks_generated, normalise_segment};
use crate::policy::glob::MAX_DOUBLE_STAR_PATTERN_LEN;

/// Sensitive for reads and writes alike: credentials, keys, secrets.
pub const SENSITIVE: &[&str] = &[
    "**/.ssh/**",
    "**/.aws/**",
    "**/.gnupg/**",
    "**/.config/gcloud/**",
    "**/.kube/**",
    "**/.docker/config.json",
    "**/.azure/**",
    "**/.password-store/**",
    "**/.local/share/keyrings/**",
    "**/.netrc",
    "**/.git-credentials",
    "**/.pypirc",
    "**/.npmrc",
    "**/.vault-token",
    "**/.config/gh/hosts.yml",
    "**/.terraform.d/credentials.tfrc.json",
    "**/.mozilla/**",
    "**/.config/google-chrome/**",
    "**/.config/chromium/**",
    "**/.rampart/**",
    "**/.bash_history",
    "**/.zsh_history",
    "**/.env",
    "**/.env.*",
    "**/.envrc",
    "**/docker.sock",
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d/**",
    "/etc/ssl/private/**",
    "/proc/*/environ",
    "/proc/*/mem",
    "/proc/kcore",
];

/// Sensitive for writes only: places whose content runs later.
pub const SENSITIVE_WRITE: &[&str] = &[
    "**/.bashrc",
    "**/.bash_profile",
    "**/.bash_login",
    "**/.profile",
    "**/.zshrc",
    "**/.zshenv",
    "**/.zprofile",
    "**/.config/autostart/**",
    "**/.config/systemd/**",
    "**/.git/hooks/**",
    "**/*.git/hooks/**",
    "/var/spool/cron/**",
];

/// What [`SENSITIVE_WRITE`] does not cover, in every generated policy:
/// git's hook *samples* (of a work tree's `.git` and of a bare
/// `name.git`), which `git init` and `git clone` copy into every new
/// repository and git never runs (a hook runs by its own name, and a
/// write, rename or link to that name is still refused). Kept exact, every
/// learned sample named the training repositories only, and a new one's
/// `git init` failed.
pub const SENSITIVE_WRITE_EXCEPT: &[&str] = &["**/.git/hooks/*.sample", "**/*.git/hooks/*.sample"];

/// Writes the policy always denies, whatever was observed.
pub const ALWAYS_DENY_WRITE: &[&str] = &[
    "/etc/**",
    "/boot/**",
    "/bin/**",
    "/sbin/**",
    "/usr/bin/**",
    "/usr/sbin/**",
    "/lib/modules/**",
];

/// Trees that packages install and nobody writes a secret into: a read
/// anywhere in one is learned as a read of the tree (`/usr/include/**`).
const SYSTEM_TREES: &[&str] = &[
    "/usr/include",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/share",
    "/usr/bin",
    "/usr/sbin",
    "/usr/local/include",
    "/usr/local/lib",
    "/usr/local/share",
    "/usr/local/bin",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
];

/// Whether `dir` is one of the system trees.
pub fn is_system_tree(dir: &str) -> bool {
    SYSTEM_TREES.contains(&dir)
}

/// Whether `path` is a file of a process named by its number
/// (`/proc/1234/environ`, not `/proc/self/environ`): a sensitive one is
/// never learned as an exception to the deny, for the process is gone by
/// the next session and another takes its number.
pub fn of_another_process(path: &str) -> bool {
    path.strip_prefix("/proc/")
        .and_then(|rest| rest.split('/').next())
        .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a write of `path` itself (not of what is in it) is never
/// learned: the home, a shared root (`/`, `/usr`, `/home`, ...), a temp
/// root, or a directory projects are in. The write seen there is a
/// `mkdir -p` finding it (`EEXIST`), which the program gets past when
/// refused (coreutils, Python's `makedirs` and `Path.mkdir`); learned, it
/// would let the next session `chmod` or `touch` the home.
pub fn shared_dir_itself(path: &str, places: &Places) -> bool {
    places.is_shared_root(path)
        || places.temps.iter().any(|t| t == path)
        || places.holds_projects(path)
}

/// The system tree a path lies in, when it is not itself sensitive.
pub fn system_tree(path: &str) -> Option<&'static str> {
    let tree = SYSTEM_TREES
        .iter()
        .filter(|t| is_under(path, t))
        .max_by_key(|t| t.len())?;
    // A tree that holds a private-key directory (`/usr/lib/ssl/private` is
    // a link to `/etc/ssl/private`) is never read whole through it.
    (!path.contains("/private/")).then_some(tree)
}

/// Built-in patterns as the engine matches them in a policy (the one glob
/// dialect): what is called sensitive here is what the emitted deny rules
/// refuse.
fn set(patterns: &[&str]) -> GlobSet {
    let globs = patterns
        .iter()
        .map(|p| Glob::new(p, GlobKind::Path).expect("built-in pattern is valid"))
        .collect();
    GlobSet::new(globs)
}

fn any_match(set: &GlobSet, path: &str) -> bool {
    let mut hits = Bits::new(set.len());
    set.matches_into(path, &mut hits);
    hits.any_in(0..set.len())
}

/// The sensitive and always-denied path sets, compiled once.
pub struct PathSets {
    sensitive: GlobSet,
    sensitive_write: GlobSet,
    sensitive_write_except: GlobSet,
    always_deny_write: GlobSet,
}

impl Default for PathSets {
    fn default() -> Self {
        PathSets {
            sensitive: set(SENSITIVE),
            sensitive_write: set(SENSITIVE_WRITE),
            sensitive_write_except: set(SENSITIVE_WRITE_EXCEPT),
            always_deny_write: set(ALWAYS_DENY_WRITE),
        }
    }
}

impl PathSets {
    pub fn is_sensitive(&self, access: Access, path: &str) -> bool {
        any_match(&self.sensitive, path)
            || (access == Access::Write
                && any_match(&self.sensitive_write, path)
                && !any_match(&self.sensitive_write_except, path))
    }

    pub fn always_denied_write(&self, path: &str) -> bool {
        any_match(&self.always_deny_write, path)
    }
}

/// Replaces volatile parts of `path` with `*` (never `**`, never across a
/// `/`); the result, read as a path glob, matches `path`.
pub fn normalise(path: &str, places: &Places) -> String {
    let keep = places.stable_prefix_len(path);
    let (head, tail) = path.split_at(keep);
    if tail.is_empty() {
        return path.to_string();
    }
    let in_proc = path.starts_with("/proc/");
    let in_temp = places
        .temps
        .iter()
        .any(|t| t.len() == keep && path.starts_with(t.as_str()));
    let mut out = String::with_capacity(path.len());
    out.push_str(head);
    for (i, seg) in tail.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        // Directly in a temp directory, a name with a generated part is a
        // generated one whatever its prefix: mkstemp's and tempfile's
        // (`9609glsc`, `app-frti03ux`), or one with a date or number in it
        // (`backup-proj-1733616000.tar.gz`); the prefix is often the
        // project's or the session's own name, which the next one changes.
        // (`tmp.*` and `tmp*` keep their prefix: mktemp's, always.)
        let start = out.len();
        normalise_segment(seg, in_proc, &mut out);
        let norm = &out[start..];
        let generated_part = seg
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .any(looks_generated);
        let freed = norm != seg && !norm.starts_with("tmp");
        if i == 1 && in_temp && (freed || (norm == seg && generated_part)) {
            out.truncate(start);
            out.push('*');
        }
    }
    out
}

/// The scratch directory `path` lies in, as a pattern: an entry of a temp
/// root whose name is a generated one (`/tmp/tmp.*`, `/tmp/*`; see
/// [`normalise`]), which the next session makes under another name.
/// `None` for a path directly in a temp root, or elsewhere.
pub fn temp_scratch(path: &str, places: &Places) -> Option<String> {
    let root = places.temps.iter().find(|t| is_under(path, t))?;
    let (name, _) = path[root.len()..].trim_start_matches('/').split_once('/')?;
    let dir = normalise(&format!("{root}/{name}"), places);
    dir.contains('*').then_some(dir)
}

/// Whether the home or a project lies in a temp root's entry that the
/// scratch pattern `dir` (see [`temp_scratch`]) names: `dir/**` would reach
/// them (a home in `/tmp/.tmpAb12cd/home`, as test sandboxes have it).
pub fn scratch_holds_places(dir: &str, places: &Places) -> bool {
    places
        .home
        .iter()
        .chain(&places.projects)
        .any(|p| temp_scratch(&format!("{p}/x"), places).as_deref() == Some(dir))
}

/// One file rule before rendering.
#[derive(Clone, Debug, PartialEq)]
pub struct PathRule {
    /// Absolute pattern (home not yet written as `~`).
    pub pattern: String,
    pub stat: Stat,
    /// The entries (normalised paths) the rule absorbed.
    pub absorbed: Vec<String>,
}

#[derive(Default)]
struct Node {
    own: Option<(String, Stat)>,
    children: BTreeMap<String, Node>,
}

/// File rules inside the project, from `$PROJECT/...` entries: reads of
/// the project are one rule (`$PROJECT/**`); writes are one rule per
/// top-level entry written (`$PROJECT/src/**`, `$PROJECT/notes.md`), or the
/// whole project once two or more top-level entries were written. The deny
/// policies still stand before these (`.git/hooks`, `.env`).
pub fn project_rules(entries: &BTreeMap<String, Stat>, access: Access) -> Vec<PathRule> {
    if entries.is_empty() {
        return Vec::new();
    }
    let mut tops: BTreeMap<String, (bool, Vec<(String, Stat)>)> = BTreeMap::new();
    for (p, s) in entries {
        let rest = p.strip_prefix(PROJECT).unwrap_or(p);
        let rest = rest.trim_start_matches('/');
        let (top, deeper) = match rest.split_once('/') {
            Some((t, _)) => (t, true),
            None => (rest, false),
        };
        let e = tops.entry(top.to_string()).or_default();
        e.0 |= deeper;
        e.1.push((p.clone(), s.clone()));
    }
    let whole = access == Access::Read || tops.len() >= 2;
    let merge = |pattern: String, members: Vec<(String, Stat)>| {
        let mut stat = Stat::default();
        let mut absorbed = Vec::new();
        for (p, s) in members {
            stat.absorb(&s);
            absorbed.push(p);
        }
        PathRule {
            pattern,
            stat,
            absorbed,
        }
    };
    if whole {
        let all = tops.into_values().flat_map(|(_, m)| m).collect();
        return vec![merge(format!("{PROJECT}/**"), all)];
    }
    tops.into_iter()
        .map(|(top, (deeper, members))| {
            let pattern = if top.is_empty() {
                PROJECT.to_string()
            } else if deeper {
                format!("{PROJECT}/{top}/**")
            } else {
                format!("{PROJECT}/{top}")
            };
            merge(pattern, members)
        })
        .collect()
}

/// Builds file rules from normalised entries: each entry is a path pattern
/// (possibly with `*` inside segments, or `dir/*`, `dir/**` from an earlier
/// policy) with the support it carries.
pub fn collapse(
    entries: &BTreeMap<String, Stat>,
    access: Access,
    places: &Places,
    threshold: usize,
) -> Vec<PathRule> {
    let mut root = Node::default();
    let mut loose = Vec::new();
    for (path, stat) in entries {
        if !path.starts_with('/') {
            loose.push(PathRule {
                pattern: path.clone(),
                stat: stat.clone(),
                absorbed: vec![path.clone()],
            });
            continue;
        }
        let mut node = &mut root;
        for seg in path.split('/').skip(1) {
            node = node.children.entry(seg.to_string()).or_default();
        }
        node.own = Some((path.clone(), stat.clone()));
    }
    let mut rules = collapse_node(&root, "", access, places, threshold.max(2));
    rules.extend(loose);
    rules.sort_by(|a, b| a.pattern.cmp(&b.pattern));
    rules
}

fn collapse_node(
    node: &Node,
    dir: &str,
    access: Access,
    places: &Places,
    threshold: usize,
) -> Vec<PathRule> {
    let dir_display = if dir.is_empty() { "/" } else { dir };
    let mut own_rules = Vec::new();
    let mut deeper = Vec::new();
    let mut has_subdirs = false;
    for (name, child) in &node.children {
        let child_path = format!("{dir}/{name}");
        if let Some((p, s)) = &child.own {
            own_rules.push(PathRule {
                pattern: p.clone(),
                stat: s.clone(),
                absorbed: vec![p.clone()],
            });
        }
        if !child.children.is_empty() {
            has_subdirs = true;
            deeper.extend(collapse_node(child, &child_path, access, places, threshold));
        }
    }
    if node.children.contains_key("**") {
        // An earlier `dir/**` already covers everything here.
        let mut all = own_rules;
        all.extend(deeper);
        return vec![merge_rules(format!("{dir}/**"), all)];
    }
    // A scratch directory of its own in a temp root (`/tmp/tmp.*`,
    // `/tmp/*`: a name normalised as generated) holds what the session put
    // there, under names the next session's differ in: all of it (unless
    // the home or a project is in one such: `/tmp/*/**` would reach them).
    let scratch = places.temps.iter().any(|t| {
        dir.strip_prefix(t.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|name| name.contains('*') && !name.contains('/'))
    }) && !scratch_holds_places(dir, places);
    if scratch && has_subdirs && dir.len() + 3 <= MAX_DOUBLE_STAR_PATTERN_LEN {
        let mut all = own_rules;
        all.extend(deeper);
        return vec![merge_rules(format!("{dir}/**"), all)];
    }
    let literal = !dir.contains(['*', '?', '[']);
    // Scratch names in a temp root differ every run: two make a pattern.
    let needed = if places.temps.iter().any(|t| t == dir_display) {
        2
    } else {
        threshold
    };
    let eligible = node.children.len() >= needed
        && !places.is_shared(dir_display)
        && (access == Access::Read || places.owned_for_write(dir_display));
    if eligible {
        let recursive = has_subdirs
            && literal
            && dir.len() + 3 <= MAX_DOUBLE_STAR_PATTERN_LEN
            && !places.holds_projects(dir_display);
        if recursive && !places.reaches_sensitive(dir_display, true) {
            let mut all = own_rules;
            all.extend(deeper);
            return vec![merge_rules(format!("{dir}/**"), all)];
        }
        if !places.reaches_sensitive(dir_display, false) {
            let mut out = vec![merge_rules(format!("{dir}/*"), own_rules)];
            out.extend(deeper);
            return out;
        }
    }
    own_rules.extend(deeper);
    own_rules
}

fn merge_rules(pattern: String, rules: Vec<PathRule>) -> PathRule {
    let mut stat = Stat::default();
    let mut absorbed = Vec::new();
    for r in rules {
        stat.absorb(&r.stat);
        absorbed.extend(r.absorbed);
    }
    PathRule {
        pattern,
        stat,
        absorbed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places() -> Places {
        Places {
            home: Some("/home/u".into()),
            tilde: true,
            projects: vec!["/home/u/proj".into()],
            temps: vec!["/tmp".into()],
        }
    }

    #[test]
    fn volatile_segments() {
        let p = places();
        let n = |s: &str| normalise(s, &p);
        assert_eq!(n("/proc/4242/status"), "/proc/*/status");
        assert_eq!(n("/proc/self/status"), "/proc/self/status");
        assert_eq!(n("/tmp/tmpab3xk9q_/x.py"), "/tmp/tmp*/x.py");
        assert_eq!(n("/tmp/tmp.AbCdEfGhIj"), "/tmp/tmp.*");
        assert_eq!(n("/home/u/proj/log-12345.txt"), "/home/u/proj/log-*.txt");
        assert_eq!(
            n("/home/u/proj/run-2026-03-01.log"),
            "/home/u/proj/run-*.log"
        );
        assert_eq!(
            n("/home/u/.cache/x/0f1e2d3c4b5a69788796a5b4c3d2e1f0.bin"),
            "/home/u/.cache/x/*.bin"
        );
        assert_eq!(
            n("/var/lib/x/123e4567-e89b-12d3-a456-426614174000.json"),
            "/var/lib/x/*.json"
        );
        assert_eq!(n("/opt/lib/libfoo.so.1.2.3"), "/opt/lib/libfoo.so.*");
        assert_eq!(n("/tmp/9609glsc"), "/tmp/*");
        // A generated part under any prefix, directly in a temp directory.
        assert_eq!(
            n("/tmp/ravenapp-frti03ux/stage/a.json"),
            "/tmp/*/stage/a.json"
        );
        assert_eq!(n("/tmp/backup-oak-1733616000.tar.gz"), "/tmp/*");
        assert_eq!(n("/tmp/pytest-of-root/x"), "/tmp/pytest-of-root/x");
        assert_eq!(
            temp_scratch("/tmp/tmp.AbCdEf1234/copy/build/tool", &p).as_deref(),
            Some("/tmp/tmp.*")
        );
        assert_eq!(temp_scratch("/tmp/pytest-of-root/x", &p), None);
        assert_eq!(temp_scratch("/tmp/9609glsc", &p), None);
        // npm's log names: an ISO time is one volatile part.
        assert_eq!(
            n("/home/u/.npm/_logs/2026-12-08T02_30_57_566Z-debug-0.log"),
            "/home/u/.npm/_logs/*-debug-0.log"
        );
        assert_eq!(n("/tmp/build/9609glsc"), "/tmp/build/9609glsc");
        assert_eq!(n("/usr/bin/sha256sum"), "/usr/bin/sha256sum");
        assert_eq!(n("/usr/lib/python3.12/os.py"), "/usr/lib/python3.12/os.py");
        assert_eq!(
            n("/home/u/proj/lib-1.2.3/x86_64/a"),
            "/home/u/proj/lib-1.2.3/x86_64/a"
        );
        assert_eq!(
            n("/home/u/proj/MainActivity.java"),
            "/home/u/proj/MainActivity.java"
        );
    }

    #[test]
    fn shared_roots_and_sensitive_guard() {
        let p = places();
        assert!(p.is_shared("/home/u"));
        assert!(p.is_shared("/home/other"));
        assert!(p.is_shared("/usr"));
        assert!(p.is_shared("/home/u/.config"));
        assert!(!p.is_shared("/home/u/proj"));
        assert!(p.reaches_sensitive("/home/u/.docker", false));
        assert!(!p.reaches_sensitive("/home/u/proj", true));
        assert!(p.owned_for_write("/home/u/proj/out"));
        assert!(p.owned_for_write("/home/u/.cache/pip"));
        assert!(!p.owned_for_write("/home/u/.cache"));
        assert!(!p.owned_for_write("/home/u/docs"));
    }
}
