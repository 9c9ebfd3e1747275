//! Who is being watched: the agent and session names a run is recorded
//! under, and the project it works in.
//!
//! The agent defaults to the command's basename; the session to
//! `RAMPART_SESSION`, else `<repository>/<branch>` of the git work tree
//! around the working directory (read from `.git` directly, no `git`
//! process), else a generated `run-<id>`. The project (what `$PROJECT` in a
//! path pattern stands for) is that git work tree, else the working
//! directory.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

pub fn default_agent(cmd: &OsStr) -> String {
    Path::new(cmd)
        .file_name()
        .unwrap_or(cmd)
        .to_string_lossy()
        .into_owned()
}

pub fn default_session(cwd: &Path) -> String {
    if let Ok(s) = std::env::var("RAMPART_SESSION") {
        if !s.is_empty() {
            return s;
        }
    }
    if let Some(s) = git_session(cwd) {
        return s;
    }
    format!("run-{}", ulid_like())
}

/// The project root of a run started in `cwd`: the git work tree around
/// it, else `cwd` itself.
pub fn project_root(cwd: &Path) -> PathBuf {
    git_work_tree(cwd)
        .map(|(d, _)| d.to_path_buf())
        .unwrap_or_else(|| cwd.to_path_buf())
}

/// The innermost directory at or above `cwd` with a `.git`, and its HEAD
/// file.
fn git_work_tree(cwd: &Path) -> Option<(&Path, PathBuf)> {
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        if let Some(head) = head_file(&d.join(".git")) {
            return Some((d, head));
        }
        dir = d.parent();
    }
    None
}

/// `<toplevel basename>/<branch>` (or `/<short commit>` on a detached head).
fn git_session(cwd: &Path) -> Option<String> {
    let (d, head) = git_work_tree(cwd)?;
    let head = std::fs::read_to_string(head).ok()?;
    let head = head.trim();
    let branch = match head.strip_prefix("ref: ") {
        Some(r) => r.strip_prefix("refs/heads/").unwrap_or(r).to_string(),
        None => head.chars().take(12).collect(),
    };
    let repo = d.file_name()?.to_string_lossy().into_owned();
    Some(format!("{repo}/{branch}"))
}

/// The HEAD file of a `.git` directory, or of a worktree's `.git` file
/// (`gitdir: PATH`).
fn head_file(dotgit: &Path) -> Option<PathBuf> {
    if dotgit.is_dir() {
        return Some(dotgit.join("HEAD"));
    }
    let text = std::fs::read_to_string(dotgit).ok()?;
    let gitdir = text.trim().strip_prefix("gitdir: ")?;
    let gitdir = dotgit.parent()?.join(gitdir);
    Some(gitdir.join("HEAD"))
}

/// A short unique id: time and pid, base 36.
fn ulid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut n = nanos ^ ((std::process::id() as u128) << 64);
    let mut s = String::new();
    while n > 0 && s.len() < 10 {
        let d = (n % 36) as u32;
        s.push(char::from_digit(d, 36).unwrap_or('0'));
        n /= 36;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_from_git_head_and_worktree_file() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("proj");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/feature/x\n").unwrap();
        std::fs::create_dir_all(repo.join("src/deep")).unwrap();
        assert_eq!(
            git_session(&repo.join("src/deep")).as_deref(),
            Some("proj/feature/x")
        );

        let wt = t.path().join("wt");
        std::fs::create_dir_all(repo.join(".git/worktrees/wt")).unwrap();
        std::fs::write(
            repo.join(".git/worktrees/wt/HEAD"),
            "0123456789abcdef0123\n",
        )
        .unwrap();
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(
            wt.join(".git"),
            format!("gitdir: {}\n", repo.join(".git/worktrees/wt").display()),
        )
        .unwrap();
        assert_eq!(git_session(&wt).as_deref(), Some("wt/0123456789ab"));
    }

    #[test]
    fn agent_is_the_basename() {
        assert_eq!(default_agent(OsStr::new("/usr/bin/python3")), "python3");
        assert_eq!(default_agent(OsStr::new("claude")), "claude");
    }
}
