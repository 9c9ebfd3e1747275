//! Self-protection: what the watched tree may never do to rampart itself,
//! whatever policy is loaded.
//!
//! Owns the list of rampart's own state for one collector (the policy files
//! and directories, `~/.rampart`, the audit directory, the collector's
//! socket and its directory) and the verdict on calls that would change it:
//! a write, delete, rename, link, `chmod`, ... of anything at or under one
//! of them (every path a mutation touches, after resolving the symbolic
//! links of its directory as the collector sees them now), a rename of a
//! directory above one (which would move it, or swap another tree in), a connect to the
//! collector's socket from a program (the library's own connection never
//! passes through a hook), and running `rampart serve` (which stops a
//! running serve or starts one with another policy or mode). Such a call is
//! denied, in monitor mode too (recorded as `deny` by the policy
//! `rampart-self-protection`), before the policy is asked. It never allows
//! anything: a call it lets through is decided by the policy as usual.

use std::path::{Component, Path, PathBuf};

use rampart_core::event::{Call, Event, Op};
use rampart_core::policy::{Action, Decision};

/// The name denials carry in `matched_policies`.
pub const POLICY_NAME: &str = "rampart-self-protection";

/// Rampart's own state, as one collector knows it.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    /// Absolute, cleaned; each also in its resolved spelling.
    roots: Vec<PathBuf>,
    /// The collector's sockets.
    sockets: Vec<PathBuf>,
    /// This rampart binary.
    me: Option<PathBuf>,
}

impl Guard {
    /// A guard of `roots` (files or directories; need not exist yet).
    pub fn new<I: IntoIterator<Item = PathBuf>>(roots: I) -> Guard {
        let mut g = Guard {
            me: std::env::current_exe().ok(),
            ..Guard::default()
        };
        for r in roots {
            g.protect(&r);
        }
        g
    }

    /// The state of a collector that loads `policy` (files or
    /// directories; none means the user's policy directory) and writes its
    /// trail to `audit_dir`: those, and `~/.rampart` whole.
    pub fn of_state(policy: &[PathBuf], audit_dir: &Path) -> Guard {
        let mut g = Guard::new(policy.iter().cloned());
        if let Some(user) = crate::policies::user_dir() {
            g.protect(user.parent().unwrap_or(&user));
            g.protect(&user);
        }
        g.protect(audit_dir);
        g
    }

    /// Protects `path` and everything under it.
    pub fn protect(&mut self, path: &Path) {
        for p in spellings(path) {
            if !self.roots.contains(&p) {
                self.roots.push(p);
            }
        }
    }

    /// Protects the collector's socket (and its directory, which rampart
    /// made for it alone).
    pub fn protect_socket(&mut self, socket: &Path) {
        self.sockets.extend(spellings(socket));
        if let Some(dir) = socket.parent() {
            self.protect(dir);
        }
    }

    /// What the guard adds to the screens of the policy generation file:
    /// literals every path it refuses contains, for `write` (so that those
    /// writes and mutations always wait for their verdict). Execs and
    /// connects have no screen; the guard does not make every one of them
    /// wait: `rampart serve` and a connect to the socket are refused when
    /// the policy makes execs and connects wait (a policy with a default of
    /// deny, as a learned one), and only recorded as denied otherwise.
    pub fn refusal_literals(&self, tool: &str) -> Option<Vec<String>> {
        match tool {
            "write" => Some(
                self.roots
                    .iter()
                    .map(|r| r.to_string_lossy().into_owned())
                    .collect(),
            ),
            _ => Some(Vec::new()),
        }
    }

    /// The denial of `event`, when it would change rampart's own state.
    pub fn refuses(&self, event: &Event) -> Option<Decision> {
        let deny = |what: &str| Decision {
            action: Action::Deny,
            catch_all: false,
            matched_policies: vec![POLICY_NAME.to_string()],
            message: format!("{what}: rampart's own state is not the watched tree's to change"),
        };
        match &event.call {
            Call::Exec { path, argv, .. } => {
                let rampart = Path::new(path).file_name().is_some_and(|n| n == "rampart")
                    || self.me.as_deref() == Some(Path::new(path));
                let sub = argv.get(1).map(String::as_str);
                if rampart && sub == Some("serve") {
                    return Some(deny("running `rampart serve`"));
                }
            }
            Call::Mutate {
                path,
                target: Some(target),
                ..
            } => {
                // A symbolic link into rampart's state: another spelling of
                // it for every later call.
                let dir = Path::new(path).parent().unwrap_or(Path::new("/"));
                let p = absolute(&dir.to_string_lossy(), target);
                if self.covers(&p) {
                    return Some(deny(&format!("linking to {}", p.display())));
                }
            }
            Call::ConnectUnix { path } => {
                let p = absolute(&event.cwd, path);
                if self.sockets.contains(&p) {
                    return Some(deny("connecting to the collector's socket"));
                }
            }
            _ => {}
        }
        let writes: Vec<&str> = match event.path_checks() {
            Some(checks) => checks
                .filter(|(tool, _)| *tool == "write")
                .map(|(_, p)| p)
                .collect(),
            None if event.tool() == "write" => event.path().into_iter().collect(),
            None => Vec::new(),
        };
        for w in writes {
            let p = absolute(&event.cwd, w);
            if self.covers(&p) {
                return Some(deny(&format!("changing {}", p.display())));
            }
        }
        // A rename of a directory above rampart's state moves it (or, with
        // `RENAME_EXCHANGE`, puts another tree in its place).
        if let Call::Mutate {
            op: Op::Rename,
            path,
            new_path,
            ..
        } = &event.call
        {
            for end in std::iter::once(path).chain(new_path) {
                let p = absolute(&event.cwd, end);
                if self.is_above(&p) {
                    return Some(deny(&format!("moving {}, which holds it", p.display())));
                }
            }
        }
        None
    }

    /// Whether `dir` (or the directory it resolves to) holds a protected
    /// place.
    fn is_above(&self, dir: &Path) -> bool {
        let above = |d: &Path| self.roots.iter().any(|r| r != d && r.starts_with(d));
        above(dir) || std::fs::canonicalize(dir).is_ok_and(|real| above(&real))
    }

    fn covers(&self, path: &Path) -> bool {
        let under = |p: &Path| self.roots.iter().any(|r| p.starts_with(r));
        if under(path) {
            return true;
        }
        // Another spelling of a protected place: a symbolic link in the
        // directories above the path (the path itself may not exist yet).
        let mut dir = path.parent();
        while let Some(d) = dir {
            if let Ok(real) = std::fs::canonicalize(d) {
                return real != d && under(&real.join(path.strip_prefix(d).unwrap_or(path)));
            }
            dir = d.parent();
        }
        false
    }
}

/// `path` as an absolute, lexically cleaned path, joined to `cwd` when
/// relative.
fn absolute(cwd: &str, path: &str) -> PathBuf {
    let joined = if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        Path::new(cwd).join(path)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// The cleaned path, and its resolved spelling when it exists and differs.
fn spellings(path: &Path) -> Vec<PathBuf> {
    let clean = absolute("/", &path.to_string_lossy());
    let mut out = vec![clean.clone()];
    if let Ok(real) = std::fs::canonicalize(&clean) {
        if real != clean {
            out.push(real);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_and_joined() {
        assert_eq!(absolute("/w", "a/../b"), PathBuf::from("/w/b"));
        assert_eq!(absolute("/w", "/x/./y/../z"), PathBuf::from("/x/z"));
        assert_eq!(absolute("/", "/../.."), PathBuf::from("/"));
    }

    #[test]
    fn a_symlinked_directory_is_another_spelling_of_a_protected_one() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        std::os::unix::fs::symlink(&state, dir.path().join("alias")).unwrap();
        let g = Guard::new([state.clone()]);
        assert!(g.covers(&state.join("p.yaml")));
        assert!(g.covers(&dir.path().join("alias/p.yaml")));
        assert!(g.covers(&dir.path().join("alias/new/deeper")));
        assert!(!g.covers(&dir.path().join("elsewhere/p.yaml")));
        assert!(!g.covers(&dir.path().join("statefile")));
    }
}
