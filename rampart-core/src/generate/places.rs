//! Where the observed paths live: the home directory (written `~`), the
//! projects (written `$PROJECT`, and `$PARENTS` above them), the temp
//! directories, the shared roots no glob may be rooted at, and the
//! sensitive locations a collapsed glob must never reach.
//!
//! Owns [`Places`]. It never normalises a name (that
//! is [`super::volatile`]), never writes a rule and never reads the file
//! system: the roots come from the records and the options.

use std::collections::{BTreeMap, BTreeSet};

use super::volatile::normalise_word;

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
    /// absolute path) lies in, else the one its first operand does (a
    /// script the program runs by its absolute path).
    pub fn command_project(&self, command: &str) -> Option<&str> {
        command
            .split(' ')
            .take(2)
            .filter(|w| w.starts_with('/'))
            .find_map(|w| self.project_of(w))
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

    /// Whether `dir` is a root every program shares (`/`, `/usr`, `/home`,
    /// ...) or the home itself; unlike [`Places::is_shared`], not the
    /// shared directories in the home (`~/.config`).
    pub fn is_shared_root(&self, dir: &str) -> bool {
        SHARED_ROOTS.contains(&dir) || self.is_home(dir)
    }

    /// Whether a project lies below `dir` (`~/work`): `dir/**` would
    /// reach the other entries there, other projects.
    pub fn holds_projects(&self, dir: &str) -> bool {
        self.projects.iter().any(|p| is_under(p, dir))
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
    pub(super) fn stable_prefix_len(&self, path: &str) -> usize {
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

/// How a policy names the project root.
pub const PROJECT: &str = "$PROJECT";

/// How a policy names a file in the directories above the project
/// (`$PARENTS/NAME`).
pub const PARENTS: &str = "$PARENTS";

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
