//! Following a path's links from the tracer, as the kernel will for a
//! creating open: `open("l", O_CREAT)` where `l` is a dangling symlink
//! creates the file `l` points to, and `open("d/new", O_CREAT)` where `d`
//! is a link to a directory creates it there; that file must be decided
//! before it exists. (An open of an existing file is decided again at its exit on
//! the file it reached, which needs no prediction.)
//!
//! It reads the file system (`lstat`, `readlink`, `realpath` of the
//! directory) and never changes it. What it says can be out of date by the
//! time the kernel walks the path; the exit check covers what was opened,
//! and an empty file created through a link swapped in between is the
//! known limit (README: threat model).

use std::fs;
use std::path::{Path, PathBuf};

use crate::paths;

/// The kernel's limit on links followed in one walk.
const MAX_LINKS: usize = 40;

/// Where a creating open of the absolute, cleaned `path` lands when a link
/// leads elsewhere (its last name, followed as the kernel does, or a
/// directory on the way); `None` when it lands on `path` itself, or the
/// walk fails (the kernel then fails the open too).
pub fn created_at(path: &str) -> Option<String> {
    // A tracee's /proc/self is not the tracer's: leave those to the exit check.
    if path.starts_with("/proc/") {
        return None;
    }
    let mut at = PathBuf::from(path);
    for _ in 0..MAX_LINKS {
        let meta = fs::symlink_metadata(&at).ok();
        if !meta.is_some_and(|m| m.file_type().is_symlink()) {
            break;
        }
        let target = fs::read_link(&at).ok()?;
        let dir = at.parent().unwrap_or(Path::new("/")).to_path_buf();
        at = dir.join(target);
    }
    // The directory as the kernel reaches it (links in it followed, a
    // last name that is no link included: `dl/new` with `dl` a link).
    let name = at.file_name()?.to_os_string();
    let dir = fs::canonicalize(at.parent()?).ok()?;
    let landed = paths::clean(dir.join(name).to_str()?);
    (landed != path).then_some(landed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_dangling_link_lands_where_it_points() {
        let d = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(d.path()).unwrap();
        fs::create_dir(root.join("real")).unwrap();
        symlink(root.join("real"), root.join("dirlink")).unwrap();
        symlink("dirlink/new.txt", root.join("l1")).unwrap();
        symlink("l1", root.join("l2")).unwrap();
        let l2 = root.join("l2");
        assert_eq!(
            created_at(l2.to_str().unwrap()).as_deref(),
            root.join("real/new.txt").to_str()
        );
        // Not a link, or missing: the name itself.
        assert_eq!(created_at(root.join("real").to_str().unwrap()), None);
        assert_eq!(created_at(root.join("missing").to_str().unwrap()), None);
        // A link on the way: where the directory really is.
        let through = root.join("dirlink/new.txt");
        assert_eq!(
            created_at(through.to_str().unwrap()).as_deref(),
            root.join("real/new.txt").to_str()
        );
        // A loop fails as the kernel's walk would.
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(created_at(root.join("loop").to_str().unwrap()), None);
    }
}
