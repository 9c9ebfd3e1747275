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

use std::collections::{BTreeMap, BTreeSet};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::model::Stat;
use super::observe::Access;
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
    "/var/spool/cron/**",
];

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

/// Sensitive locations relative to a home directory, for the collapse
/// guard: no generated glob may reach them.
const SENSITIVE_IN_HOME: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".config/gcloud",
    ".kube",
    ".docker",
    ".docker/config.json",
    ".azure",
    ".password-store",
    ".local/share/keyrings",
    ".netrc",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    ".vault-token",
    ".config/gh",
    ".terraform.d",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".rampart",
    ".bash_history",
    ".zsh_history",
    ".bashrc",
    ".bash_profile",
    ".profile",
    ".zshrc",
    ".config/autostart",
    ".config/systemd",
];

const SENSITIVE_ABSOLUTE: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssl/private",
    "/var/run/docker.sock",
    "/run/docker.sock",
];

/// Directories no glob may be rooted at.
const SHARED_ROOTS: &[&str] = &[
    "/",
    "/home",
    "/root",
    "/etc",
    "/usr",
    "/usr/lib",
    "/usr/lib64",
    "/usr/local",
    "/usr/local/lib",
    "/usr/local/bin",
    "/usr/share",
    "/usr/bin",
    "/usr/sbin",
    "/usr/include",
    "/var",
    "/var/lib",
    "/var/cache",
    "/var/log",
    "/var/run",
    "/opt",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/run/user",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/mnt",
    "/media",
    "/srv",
    "/boot",
    "/snap",
    "/nix",
    "/nix/store",
];

/// Directories below a home that many applications share.
const SHARED_IN_HOME: &[&str] = &[
    ".config",
    ".local",
    ".local/share",
    ".local/state",
    ".cache",
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

/// Where the observed paths live.
#[derive(Clone, Debug, Default)]
pub struct Places {
    pub home: Option<String>,
    pub tilde: bool,
    pub projects: Vec<String>,
    pub temps: Vec<String>,
}

impl Places {
    /// The path as written in the policy: the home directory as `~`.
    pub fn display(&self, p: &str) -> String {
        if self.tilde {
            if let Some(h) = &self.home {
                if p == h {
                    return "~".into();
                }
                if let Some(rest) = p.strip_prefix(h.as_str()) {
                    if rest.starts_with('/') {
                        return format!("~{rest}");
                    }
                }
            }
        }
        p.to_string()
    }

    /// The project root `path` lies in (the longest), if any.
    pub fn project_of(&self, path: &str) -> Option<&str> {
        self.projects
            .iter()
            .filter(|p| path == p.as_str() || is_under(path, p))
            .max_by_key(|p| p.len())
            .map(String::as_str)
    }

    /// `path` with its project root written `$PROJECT`.
    pub fn project_form(&self, path: &str) -> String {
        match self.project_of(path) {
            Some(root) => format!("{PROJECT}{}", &path[root.len()..]),
            None => path.to_string(),
        }
    }

    /// The file name of `path` when its directory is strictly above a
    /// project root (a tool's walk up looking for its configuration).
    /// Not in a temp root (scratch files there are not configuration),
    /// nor a volatile name.
    pub fn above_project<'p>(&self, path: &'p str) -> Option<&'p str> {
        let dir = parent(path);
        let name = path[dir.len()..].trim_start_matches('/');
        let scratch = self.temps.iter().any(|t| t == dir) || normalise_word(name) != name;
        (self.project_below(path).is_some() && !name.is_empty() && !scratch).then_some(name)
    }

    /// The project root the program of `command` (its first word, an
    /// absolute path) lies in.
    pub fn command_project(&self, command: &str) -> Option<&str> {
        let first = command.split(' ').next().unwrap_or(command);
        first
            .starts_with('/')
            .then(|| self.project_of(first))
            .flatten()
    }

    /// A project root strictly below the directory of `path`.
    pub fn project_below(&self, path: &str) -> Option<&str> {
        let dir = parent(path);
        self.projects
            .iter()
            .find(|p| is_under(p, dir))
            .map(String::as_str)
    }

    /// The inverse of [`Places::display`].
    pub fn expand(&self, p: &str) -> String {
        match (&self.home, p.strip_prefix('~')) {
            (Some(h), Some(rest)) if rest.is_empty() || rest.starts_with('/') => {
                format!("{h}{rest}")
            }
            _ => p.to_string(),
        }
    }

    fn homes_for(&self, dir: &str) -> Vec<String> {
        let mut homes: Vec<String> = self.home.iter().cloned().collect();
        homes.push("/root".into());
        if let Some(rest) = dir.strip_prefix("/home/") {
            let user = rest.split('/').next().unwrap_or("");
            if !user.is_empty() {
                homes.push(format!("/home/{user}"));
            }
        }
        homes
    }

    fn is_home(&self, dir: &str) -> bool {
        if self.home.as_deref() == Some(dir) || dir == "/root" {
            return true;
        }
        dir.strip_prefix("/home/")
            .is_some_and(|u| !u.is_empty() && !u.contains('/'))
    }

    /// Whether writes may collapse in `dir`.
    pub fn owned_for_write(&self, dir: &str) -> bool {
        let inside = |root: &str| dir == root || is_under(dir, root);
        if self
            .projects
            .iter()
            .any(|p| inside(p) && !self.is_shared(p))
        {
            return true;
        }
        if self.temps.iter().any(|t| inside(t)) {
            return true;
        }
        // An application's cache and state (XDG): `~/.cache/<app>`,
        // `~/.local/state/<app>`.
        self.homes_for(dir).iter().any(|h| {
            [".cache/", ".local/state/"].iter().any(|d| {
                dir.strip_prefix(&format!("{h}/{d}"))
                    .is_some_and(|app| !app.is_empty())
            })
        })
    }

    /// A directory no glob may be rooted at.
    pub fn is_shared(&self, dir: &str) -> bool {
        if SHARED_ROOTS.contains(&dir) || self.is_home(dir) {
            return true;
        }
        self.homes_for(dir)
            .iter()
            .any(|h| SHARED_IN_HOME.iter().any(|s| dir == format!("{h}/{s}")))
    }

    /// Whether `dir/*` (flat) or `dir/**` (recursive) could reach a
    /// sensitive location.
    pub fn reaches_sensitive(&self, dir: &str, recursive: bool) -> bool {
        let mut locations: Vec<String> = SENSITIVE_ABSOLUTE.iter().map(|s| s.to_string()).collect();
        for h in self.homes_for(dir) {
            locations.extend(SENSITIVE_IN_HOME.iter().map(|s| format!("{h}/{s}")));
        }
        locations.iter().any(|loc| {
            if recursive {
                is_under(loc, dir)
            } else {
                parent(loc) == dir
            }
        })
    }

    /// Bytes of `path` never normalised: the home, a project, a temp root,
    /// or else the first two segments (`/usr/lib`); `/proc` alone.
    fn stable_prefix_len(&self, path: &str) -> usize {
        let mut best = None::<usize>;
        for root in self.home.iter().chain(&self.projects).chain(&self.temps) {
            if path == root || is_under(path, root) {
                best = Some(best.map_or(root.len(), |b| b.max(root.len())));
            }
        }
        if let Some(b) = best {
            return b;
        }
        if path.starts_with("/proc/") {
            return "/proc".len();
        }
        match path.match_indices('/').nth(2) {
            Some((i, _)) => i,
            None => path.len(),
        }
    }
}

pub fn is_under(path: &str, dir: &str) -> bool {
    if dir == "/" {
        return path.len() > 1 && path.starts_with('/');
    }
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

pub fn parent(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) => "/",
        Some(i) => &p[..i],
        None => "",
    }
}

fn set(patterns: &[&str]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(
            GlobBuilder::new(p)
                .literal_separator(true)
                .backslash_escape(false)
                .build()
                .expect("built-in pattern is valid"),
        );
    }
    b.build().expect("built-in patterns compile")
}

/// The sensitive and always-denied path sets, compiled once.
pub struct PathSets {
    sensitive: GlobSet,
    sensitive_write: GlobSet,
    always_deny_write: GlobSet,
}

impl Default for PathSets {
    fn default() -> Self {
        PathSets {
            sensitive: set(SENSITIVE),
            sensitive_write: set(SENSITIVE_WRITE),
            always_deny_write: set(ALWAYS_DENY_WRITE),
        }
    }
}

impl PathSets {
    pub fn is_sensitive(&self, access: Access, path: &str) -> bool {
        self.sensitive.is_match(path)
            || (access == Access::Write && self.sensitive_write.is_match(path))
    }

    pub fn always_denied_write(&self, path: &str) -> bool {
        self.always_deny_write.is_match(path)
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
        // Directly in a temp directory, a short name mixing letters and
        // digits is a generated one (mkstemp, tempfile: `9609glsc`).
        let start = out.len();
        normalise_segment(seg, in_proc, &mut out);
        if i == 1 && in_temp && &out[start..] == seg && looks_generated(seg) {
            out.truncate(start);
            out.push('*');
        }
    }
    out
}

fn looks_generated(seg: &str) -> bool {
    (6..=16).contains(&seg.len())
        && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && seg.bytes().any(|b| b.is_ascii_digit())
        && seg.bytes().any(|b| b.is_ascii_alphabetic())
}

fn normalise_segment(seg: &str, in_proc: bool, out: &mut String) {
    if seg.is_empty() {
        return;
    }
    if in_proc && seg.bytes().all(|b| b.is_ascii_digit()) {
        out.push('*');
        return;
    }
    if has_glob_meta(seg) {
        // A name that is itself glob syntax stays as it is; the caller
        // keeps such paths exact.
        out.push_str(seg);
        return;
    }
    // mkstemp / tempfile names: tmp, tmp.XXXXXX, tmpXXXXXXXX, tmp_XXXX...
    if let Some(rest) = seg.strip_prefix("tmp") {
        let (sep, body) = match rest.chars().next() {
            Some(c @ ('.' | '_' | '-')) => (Some(c), &rest[1..]),
            _ => (None, rest),
        };
        if body.len() >= 5 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            out.push_str("tmp");
            if let Some(c) = sep {
                out.push(c);
            }
            out.push('*');
            return;
        }
    }
    // Versioned shared objects: libfoo.so.1.2.3 -> libfoo.so.*
    if let Some(i) = seg.find(".so.") {
        let version = &seg[i + 4..];
        if !version.is_empty()
            && version
                .split('.')
                .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
        {
            out.push_str(&seg[..i + 4]);
            out.push('*');
            return;
        }
    }
    let start = out.len();
    let tokens = tokens(seg);
    let mut replace = vec![false; tokens.len()];
    // UUIDs: hex tokens 8-4-4-4-12 joined by '-'.
    for i in 0..(tokens.len() + 1).saturating_sub(9) {
        let lens = [8, 4, 4, 4, 12];
        let ok = (0..5).all(|k| {
            let t = &tokens[i + 2 * k];
            t.alnum
                && t.text.len() == lens[k]
                && t.text.bytes().all(|b| b.is_ascii_hexdigit())
                && (k == 4 || tokens[i + 2 * k + 1].text == "-")
        });
        if ok {
            for r in replace.iter_mut().skip(i).take(9) {
                *r = true;
            }
        }
    }
    // Hashes and random tokens.
    for (i, t) in tokens.iter().enumerate() {
        if t.alnum && (looks_random(t.text) || looks_hash(t.text)) {
            replace[i] = true;
        }
    }
    // Numbers: runs of digit tokens joined by - _ : . holding 3+ digits, but
    // not a dotted version (1.2.3, 3.12).
    let mut i = 0;
    while i < tokens.len() {
        if !is_digits(&tokens[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 2 < tokens.len()
            && !tokens[j + 1].alnum
            && tokens[j + 1].text.len() == 1
            && "-_:.".contains(tokens[j + 1].text)
            && is_digits(&tokens[j + 2])
        {
            j += 2;
        }
        let digits: usize = (i..=j).step_by(2).map(|k| tokens[k].text.len()).sum();
        let dotted_version = (i..j).skip(1).step_by(2).all(|k| tokens[k].text == ".")
            && (i..=j).step_by(2).all(|k| tokens[k].text.len() <= 3)
            && j > i;
        if digits >= 3 && !dotted_version {
            for r in replace.iter_mut().take(j + 1).skip(i) {
                *r = true;
            }
        }
        i = j + 1;
    }
    // Emit, merging neighbouring replaced tokens (and what joins them) into
    // one `*`.
    let mut k = 0;
    while k < tokens.len() {
        if replace[k] {
            let mut m = k;
            while m + 2 < tokens.len() && !tokens[m + 1].alnum && replace[m + 2] {
                m += 2;
            }
            out.push('*');
            k = m + 1;
        } else {
            out.push_str(tokens[k].text);
            k += 1;
        }
    }
    if &out[start..] == "*" && seg.len() < 3 {
        out.truncate(start);
        out.push_str(seg);
    }
}

fn has_glob_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

struct Token<'a> {
    text: &'a str,
    alnum: bool,
}

fn tokens(seg: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut alnum = None;
    for (i, c) in seg.char_indices() {
        let a = c.is_ascii_alphanumeric();
        match alnum {
            Some(prev) if prev == a && a => {}
            Some(_) => {
                out.push(Token {
                    text: &seg[start..i],
                    alnum: alnum.unwrap_or(false),
                });
                start = i;
            }
            None => {}
        }
        alnum = Some(a);
    }
    if start < seg.len() {
        out.push(Token {
            text: &seg[start..],
            alnum: alnum.unwrap_or(false),
        });
    }
    out
}

fn is_digits(t: &Token<'_>) -> bool {
    t.alnum && t.text.bytes().all(|b| b.is_ascii_digit())
}

/// A token mixing letters and digits the way generated names do.
fn looks_random(t: &str) -> bool {
    if t.len() < 6 {
        return false;
    }
    let b = t.as_bytes();
    let has_digit = b.iter().any(u8::is_ascii_digit);
    let has_alpha = b.iter().any(u8::is_ascii_alphabetic);
    if !has_digit || !has_alpha {
        return false;
    }
    let transitions = b
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    let mixed_case = b.iter().any(u8::is_ascii_uppercase) && b.iter().any(u8::is_ascii_lowercase);
    transitions >= 3 || (mixed_case && t.len() >= 8)
}

/// A hex string long enough to be a digest or an identifier.
fn looks_hash(t: &str) -> bool {
    t.len() >= 12
        && t.bytes().all(|b| b.is_ascii_hexdigit())
        && t.bytes().any(|b| b.is_ascii_digit())
        && (t.len() >= 16 || t.bytes().any(|b| b.is_ascii_alphabetic()))
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

/// How a policy names the project root.
pub const PROJECT: &str = "$PROJECT";

/// How a policy names a file in the directories above the project
/// (`$PARENTS/NAME`).
pub const PARENTS: &str = "$PARENTS";

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
        let recursive = has_subdirs && literal && dir.len() + 3 <= MAX_DOUBLE_STAR_PATTERN_LEN;
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

/// Project roots: for each session, the working directory of its earliest
/// record, or the git work tree above it when one was seen.
pub fn project_roots(
    session_cwds: &BTreeMap<String, String>,
    git_roots: &BTreeSet<String>,
) -> Vec<String> {
    let mut out = BTreeSet::new();
    for cwd in session_cwds.values() {
        let root = git_roots
            .iter()
            .filter(|g| cwd == *g || is_under(cwd, g))
            .max_by_key(|g| g.len())
            .cloned()
            .unwrap_or_else(|| cwd.clone());
        out.insert(root);
    }
    out.into_iter().collect()
}

/// The git work tree a path belongs to, when the path is inside `.git`.
pub fn git_root_of(path: &str) -> Option<&str> {
    if let Some(i) = path.find("/.git/") {
        return Some(&path[..i]).filter(|r| !r.is_empty());
    }
    path.strip_suffix("/.git").filter(|r| !r.is_empty())
}

/// A command word with its volatile parts replaced, segment by segment.
pub fn normalise_word(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for (i, seg) in word.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        normalise_segment(seg, false, &mut out);
    }
    out
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
