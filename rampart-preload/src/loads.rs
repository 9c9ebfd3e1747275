//! The file an exec of a name really loads, found before the exec is made:
//! the name's target when a link is on the way (`python3` is a link to
//! `python3.11`, `/bin` to `/usr/bin`), and for a script its interpreter,
//! as the kernel runs it (`rampart_core::shebang`: up to five deep), with
//! the argv the new program gets.
//!
//! The exec hooks record and decide that file as an exec of its own, `via`
//! the name (`crate::report::exec`, `exec_gate`), as the trace backend does
//! once the exec is made: a command rule that refuses `perl` then refuses
//! a script that starts with `#!/usr/bin/perl`, and a link to `perl` under
//! another name, and a policy learned from a monitor run allows what
//! enforce will decide.
//!
//! It opens the name (and each interpreter) to read its first line, and
//! reads the file's own name from `/proc/self/fd`; it changes nothing, never
//! allocates, and its descriptors are closed before it returns. What it
//! does not see: a format the kernel hands to a `binfmt_misc` interpreter,
//! and a file changed between this look and the exec (the trace backend
//! checks the exec afterwards; this library does not).

use core::mem::MaybeUninit;

use libc::c_int;
use rampart_core::shebang::{self, DEPTH, HEAD};

use crate::at::{self, Base};
use crate::path::{self, PATH_MAX};
use crate::sys;

/// What an exec of a name loads, when that is not the name itself.
pub struct Loads {
    /// The file the kernel loads: its own name, links resolved.
    file: [u8; PATH_MAX],
    file_len: usize,
    /// The `#!` lines on the way, outermost first.
    lines: [Hop; DEPTH],
    depth: usize,
    /// Whether the file is the name's own.
    same: bool,
}

/// One `#!` line: its interpreter and argument, copied out of the file.
#[derive(Clone, Copy)]
struct Hop {
    bytes: [u8; HEAD],
    /// The interpreter: `bytes[..interpreter]`.
    interpreter: usize,
    /// The argument's start and length in `bytes`.
    argument: Option<(usize, usize)>,
}

impl Hop {
    const EMPTY: Hop = Hop {
        bytes: [0; HEAD],
        interpreter: 0,
        argument: None,
    };
}

impl Loads {
    /// The file the kernel loads.
    pub fn file(&self) -> &[u8] {
        &self.file[..self.file_len]
    }

    /// What the interpreters put before the name in the new program's
    /// argv, innermost first: `[interpreter, argument?]` for each.
    pub fn argv_prefix(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.lines[..self.depth].iter().rev().flat_map(|h| {
            let arg = h.argument.map(|(s, l)| &h.bytes[s..s + l]);
            core::iter::once(&h.bytes[..h.interpreter]).chain(arg)
        })
    }

    /// Whether a script's interpreter is loaded (the argv changes), not
    /// only another name of the file.
    pub fn is_script(&self) -> bool {
        self.depth > 0
    }

    /// Whether the file loaded is not the name's own (a link's target, a
    /// script's interpreter): it is then an exec of its own.
    pub fn differs(&self) -> bool {
        !self.same
    }
}

/// What an exec of `rel` (against `base`) loads (perhaps the file of that
/// very name: see [`Loads::differs`]), or `None` when it cannot be told
/// (no such file, a name too long, a directory descriptor `base` that is
/// not open).
#[inline(never)]
pub fn of(base: Base, rel: &[u8]) -> Option<Loads> {
    let mut dirfd = match base {
        Base::Cwd => libc::AT_FDCWD,
        Base::Dir(fd) => fd,
        // A bare name no search resolved: nothing to open.
        Base::AsIs => return None,
    };
    let mut name = [0u8; PATH_MAX + 1];
    if rel.is_empty() || rel.len() >= name.len() || rel.contains(&0) {
        return None;
    }
    name[..rel.len()].copy_from_slice(rel);
    let mut out = Loads {
        file: [0; PATH_MAX],
        file_len: 0,
        lines: [Hop::EMPTY; DEPTH],
        depth: 0,
        same: false,
    };
    loop {
        let (fd, readable) = open(dirfd, &name)?;
        let mut head = [0u8; HEAD];
        let n = if readable {
            sys::pread(fd, &mut head, 0)
        } else {
            0
        };
        match shebang::line(&head[..n]) {
            Some(line) if out.depth < DEPTH => {
                sys::close(fd);
                let hop = &mut out.lines[out.depth];
                let interp = line.interpreter;
                hop.bytes[..interp.len()].copy_from_slice(interp);
                hop.interpreter = interp.len();
                // The argument follows at least one blank: it fits after.
                hop.argument = line.argument.map(|a| {
                    let at = interp.len() + 1;
                    hop.bytes[at..at + a.len()].copy_from_slice(a);
                    (at, a.len())
                });
                out.depth += 1;
                // The kernel opens the interpreter as the caller would.
                name[..interp.len()].copy_from_slice(interp);
                name[interp.len()] = 0;
                dirfd = libc::AT_FDCWD;
            }
            _ => {
                let len = path::fd_path(fd, &mut out.file);
                sys::close(fd);
                out.file_len = len?;
                break;
            }
        }
    }
    out.same = out.depth == 0 && names(base, rel, out.file());
    Some(out)
}

/// The file `name` (NUL-terminated, relative to the working directory)
/// is, links resolved, written into `out`: its length.
pub fn file_of(name: *const u8, out: &mut [MaybeUninit<u8>]) -> Option<usize> {
    // SAFETY: a NUL-terminated name; the kernel checks the rest.
    let fd = unsafe {
        sys::raw(
            libc::SYS_openat,
            libc::AT_FDCWD as usize,
            name as usize,
            (libc::O_PATH | libc::O_CLOEXEC) as usize,
            0,
        )
    }
    .ok()? as c_int;
    let len = path::fd_path_into(fd, out);
    sys::close(fd);
    len
}

/// Whether `rel` against `base`, cleaned, is `file`. Out of line for its
/// buffer.
#[inline(never)]
fn names(base: Base, rel: &[u8], file: &[u8]) -> bool {
    let mut shown = [MaybeUninit::<u8>::uninit(); PATH_MAX];
    let (n, cut) = at::resolve_into(base, b"", rel, &mut shown);
    // A name too long to tell is taken as the file's.
    cut || path::init_prefix(&shown, n) == file
}

/// `name` (NUL-terminated) opened to read its first line, or only as a
/// name when it may not be read (an executable without read permission):
/// the descriptor and whether it can be read.
fn open(dirfd: c_int, name: &[u8; PATH_MAX + 1]) -> Option<(c_int, bool)> {
    let at = |flags: c_int| {
        // SAFETY: a NUL-terminated name; the kernel checks the rest.
        unsafe {
            sys::raw(
                libc::SYS_openat,
                dirfd as usize,
                name.as_ptr() as usize,
                flags as usize,
                0,
            )
        }
    };
    let read = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK;
    match at(read) {
        Ok(fd) => Some((fd as c_int, true)),
        Err(libc::EACCES | libc::EPERM) => at(libc::O_PATH | libc::O_CLOEXEC)
            .ok()
            .map(|fd| (fd as c_int, false)),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn script(path: &std::path::Path, text: &str) {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn loads(path: &std::path::Path) -> Option<(String, Vec<String>)> {
        let l = of(Base::Cwd, path.to_str().unwrap().as_bytes()).filter(|l| l.differs())?;
        let file = String::from_utf8(l.file().to_vec()).unwrap();
        let prefix = l
            .argv_prefix()
            .map(|a| String::from_utf8(a.to_vec()).unwrap())
            .collect();
        Some((file, prefix))
    }

    #[test]
    fn a_link_loads_its_target_and_a_script_its_interpreters_innermost_first() {
        let dir = tempfile::tempdir().unwrap();
        let real_sh = std::fs::canonicalize("/bin/sh").unwrap();
        let real_sh = real_sh.to_str().unwrap();
        let link = dir.path().join("t");
        symlink("/bin/sh", &link).unwrap();
        assert_eq!(loads(&link), Some((real_sh.to_string(), vec![])));
        // A name that is the file itself loads nothing else.
        assert_eq!(loads(std::path::Path::new(real_sh)), None);
        let outer = dir.path().join("outer");
        let inner = dir.path().join("inner");
        script(&inner, "#!/bin/sh -e\n");
        script(&outer, &format!("#! {} one two \n", inner.display()));
        assert_eq!(
            loads(&outer),
            Some((
                real_sh.to_string(),
                vec![
                    "/bin/sh".into(),
                    "-e".into(),
                    inner.to_str().unwrap().into(),
                    "one two".into()
                ]
            ))
        );
        // Not there: nothing can be told.
        assert_eq!(loads(&dir.path().join("missing")), None);
    }
}
