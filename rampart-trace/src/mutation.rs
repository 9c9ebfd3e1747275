//! The mutation syscalls: those that change the file system without
//! opening a file (`unlinkat`, `renameat2`, `linkat`, `symlinkat`,
//! `mkdirat`, `mknodat`, `fchmodat`, `fchmodat2`, `fchownat`, `truncate`, `utimensat`,
//! `fchmod` and `fchown` (which change the file a descriptor holds: one
//! opened for reading is enough to change a file no write may touch, as
//! it is for `utimensat` with a NULL path, `futimens`, and for the
//! extended-attribute calls, `setxattrat` and `removexattrat` among them),
//! `file_setattr` (a file's inode flags, by name), and
//! on x86_64 the older `unlink`, `rmdir`, `rename`, `link`, `symlink`,
//! `mkdir`, `chmod`, `chown`, `lchown`, `utime`, `utimes`, `futimesat`),
//! the op each is recorded as, and which of its arguments hold what.
//!
//! One table serves the filter (which syscalls stop) and the supervisor
//! (how to read them), so the two cannot disagree. It reads no memory.

use rampart_core::event::Op;

/// Argument indexes of one mutation syscall.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub op: Op,
    /// The path it changes: its directory descriptor argument (`None`:
    /// relative to the cwd) and its path argument.
    pub path: (Option<usize>, usize),
    /// A rename's or link's new path, likewise.
    pub new_path: Option<(Option<usize>, usize)>,
    /// A symlink's target.
    pub target: Option<usize>,
    /// The flags argument in which `AT_EMPTY_PATH` makes an empty path
    /// name the descriptor's own file.
    pub empty_path_flags: Option<usize>,
    /// No path argument: the call changes the file of the descriptor in
    /// argument `path.0` (`fchmod`, `fchown`).
    pub on_descriptor: bool,
    /// A NULL path with a directory descriptor does the same
    /// (`utimensat(fd, NULL, ...)`, which is `futimens`; `futimesat`).
    pub null_path_on_descriptor: bool,
}

const fn one(op: Op, dir: Option<usize>, path: usize) -> Layout {
    Layout {
        op,
        path: (dir, path),
        new_path: None,
        target: None,
        empty_path_flags: None,
        on_descriptor: false,
        null_path_on_descriptor: false,
    }
}

const fn two(
    op: Op,
    dir: Option<usize>,
    path: usize,
    new_dir: Option<usize>,
    new: usize,
) -> Layout {
    Layout {
        op,
        path: (dir, path),
        new_path: Some((new_dir, new)),
        target: None,
        empty_path_flags: None,
        on_descriptor: false,
        null_path_on_descriptor: false,
    }
}

const fn symlink(target: usize, dir: Option<usize>, link: usize) -> Layout {
    Layout {
        op: Op::Symlink,
        path: (dir, link),
        new_path: None,
        target: Some(target),
        empty_path_flags: None,
        on_descriptor: false,
        null_path_on_descriptor: false,
    }
}

const fn on_descriptor(op: Op) -> Layout {
    Layout {
        op,
        path: (Some(0), 0),
        new_path: None,
        target: None,
        empty_path_flags: None,
        on_descriptor: true,
        null_path_on_descriptor: false,
    }
}

const fn or_descriptor(l: Layout) -> Layout {
    Layout {
        null_path_on_descriptor: true,
        ..l
    }
}

const fn empty_path(l: Layout, flags: usize) -> Layout {
    Layout {
        empty_path_flags: Some(flags),
        ..l
    }
}

/// `setxattrat` (Linux 6.13).
pub const SYS_SETXATTRAT: i64 = 463;
/// `removexattrat` (Linux 6.13).
pub const SYS_REMOVEXATTRAT: i64 = 466;
/// `file_setattr` (Linux 6.17).
pub const SYS_FILE_SETATTR: i64 = 469;

/// Syscall numbers every architecture has, and their layouts.
#[allow(clippy::unnecessary_cast)] // c_long is i64 on the supported arches
const AT: &[(i64, Layout)] = &[
    (libc::SYS_unlinkat as i64, one(Op::Delete, Some(0), 1)),
    (
        libc::SYS_renameat as i64,
        two(Op::Rename, Some(0), 1, Some(2), 3),
    ),
    (
        libc::SYS_renameat2 as i64,
        two(Op::Rename, Some(0), 1, Some(2), 3),
    ),
    (
        libc::SYS_linkat as i64,
        empty_path(two(Op::Link, Some(0), 1, Some(2), 3), 4),
    ),
    (libc::SYS_symlinkat as i64, symlink(0, Some(1), 2)),
    (libc::SYS_mkdirat as i64, one(Op::Mkdir, Some(0), 1)),
    (libc::SYS_mknodat as i64, one(Op::Mknod, Some(0), 1)),
    (libc::SYS_fchmodat as i64, one(Op::Chmod, Some(0), 1)),
    (
        libc::SYS_fchmodat2 as i64,
        empty_path(one(Op::Chmod, Some(0), 1), 3),
    ),
    (
        libc::SYS_fchownat as i64,
        empty_path(one(Op::Chown, Some(0), 1), 4),
    ),
    (libc::SYS_truncate as i64, one(Op::Truncate, None, 0)),
    (libc::SYS_fchmod as i64, on_descriptor(Op::Chmod)),
    (libc::SYS_setxattr as i64, one(Op::Xattr, None, 0)),
    (libc::SYS_lsetxattr as i64, one(Op::Xattr, None, 0)),
    (libc::SYS_fsetxattr as i64, on_descriptor(Op::Xattr)),
    (libc::SYS_removexattr as i64, one(Op::Xattr, None, 0)),
    (libc::SYS_lremovexattr as i64, one(Op::Xattr, None, 0)),
    (libc::SYS_fremovexattr as i64, on_descriptor(Op::Xattr)),
    (libc::SYS_fchown as i64, on_descriptor(Op::Chown)),
    // The `*at` spellings of Linux 6.13 and 6.17, by number (libc does not
    // name them yet; new calls have one number on every architecture):
    // `setxattrat(dfd, path, at_flags, name, args, size)`,
    // `removexattrat(dfd, path, at_flags, name)`, and
    // `file_setattr(dfd, path, attr, size, at_flags)`, which sets a file's
    // inode flags (immutable, append-only) as `FS_IOC_FSSETXATTR` does.
    (SYS_SETXATTRAT, empty_path(one(Op::Xattr, Some(0), 1), 2)),
    (SYS_REMOVEXATTRAT, empty_path(one(Op::Xattr, Some(0), 1), 2)),
    (SYS_FILE_SETATTR, empty_path(one(Op::Chattr, Some(0), 1), 4)),
    // With a NULL path it works on the descriptor (futimens): the filter
    // lets that through untraced.
    (
        libc::SYS_utimensat as i64,
        or_descriptor(one(Op::Utime, Some(0), 1)),
    ),
];

/// The calls before the `*at` ones, which only x86_64 still has.
#[cfg(target_arch = "x86_64")]
const LEGACY: &[(i64, Layout)] = &[
    (libc::SYS_unlink, one(Op::Delete, None, 0)),
    (libc::SYS_rmdir, one(Op::Delete, None, 0)),
    (libc::SYS_rename, two(Op::Rename, None, 0, None, 1)),
    (libc::SYS_link, two(Op::Link, None, 0, None, 1)),
    (libc::SYS_symlink, symlink(0, None, 1)),
    (libc::SYS_mkdir, one(Op::Mkdir, None, 0)),
    (libc::SYS_mknod, one(Op::Mknod, None, 0)),
    (libc::SYS_chmod, one(Op::Chmod, None, 0)),
    (libc::SYS_chown, one(Op::Chown, None, 0)),
    (libc::SYS_lchown, one(Op::Chown, None, 0)),
    (libc::SYS_utime, one(Op::Utime, None, 0)),
    (libc::SYS_utimes, one(Op::Utime, None, 0)),
    (
        libc::SYS_futimesat,
        or_descriptor(one(Op::Utime, Some(0), 1)),
    ),
];
#[cfg(not(target_arch = "x86_64"))]
const LEGACY: &[(i64, Layout)] = &[];

/// Every mutation syscall with its layout.
pub fn all() -> impl Iterator<Item = &'static (i64, Layout)> {
    AT.iter().chain(LEGACY)
}

/// `ioctl(fd, FS_IOC_SETFLAGS, ...)` and the other requests of
/// `regs::nr::CHATTR_IOCTLS`: the descriptor's file gets other inode
/// flags. Not in [`all`]: the filter sends only these requests of `ioctl`.
pub const CHATTR: Layout = on_descriptor(Op::Chattr);

/// The layout of syscall `nr`, if it is a mutation.
pub fn layout(nr: i64) -> Option<&'static Layout> {
    all().find(|(n, _)| *n == nr).map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unnecessary_cast)] // c_long is i64 on the supported arches
    fn each_syscall_once_with_the_strings_its_op_takes() {
        let mut seen = std::collections::HashSet::new();
        for (nr, l) in all() {
            assert!(seen.insert(*nr), "syscall {nr} listed twice");
            assert_eq!(l.new_path.is_some(), l.op.has_new_path(), "{nr}");
            assert_eq!(l.target.is_some(), l.op.has_target(), "{nr}");
        }
        assert_eq!(
            layout(libc::SYS_renameat2 as i64).map(|l| l.op),
            Some(Op::Rename)
        );
        assert!(layout(libc::SYS_openat as i64).is_none());
    }
}
