//! What a call is, in the terms every part shares: Rampart's tools as bits
//! (`TOOL_*`: the policy generation file's words and the library's gate)
//! and the mutation ops ([`Op`]: the `op` of a write record, a byte in the
//! wire's Mutate frames). A leaf: it uses no other module of the crate.
//!
//! `no_std`, no allocation.

/// One bit per tool, as the policy generation file ([`crate::generation`])
/// and the library's gate use them.
pub const TOOL_EXEC: u64 = 1;
pub const TOOL_READ: u64 = 2;
pub const TOOL_WRITE: u64 = 4;
pub const TOOL_NET: u64 = 8;

/// What a mutation (a call that changes the file system without opening a
/// file, `wire::CallKind::Mutate`) does: the `op` of its record. The byte
/// values are the wire's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// `unlink`, `unlinkat`, `rmdir`, `remove`.
    Delete = 1,
    /// `rename`, `renameat`, `renameat2`.
    Rename = 2,
    /// `link`, `linkat`.
    Link = 3,
    /// `symlink`, `symlinkat`.
    Symlink = 4,
    /// `mkdir`, `mkdirat`.
    Mkdir = 5,
    /// `chmod`, `lchmod`, `fchmodat`, `fchmodat2`.
    Chmod = 6,
    /// `chown`, `lchown`, `fchownat`.
    Chown = 7,
    /// `truncate`, `truncate64`.
    Truncate = 8,
    /// `utime`, `utimes`, `lutimes`, `futimesat`, `utimensat`, `futimens`.
    Utime = 9,
    /// `mknod`, `mknodat`: a file made without an open (a regular file, a
    /// FIFO, a socket or device node).
    Mknod = 10,
    /// `setxattr`, `lsetxattr`, `fsetxattr`, `removexattr`,
    /// `lremovexattr`, `fremovexattr`: a file's extended attributes (ACLs,
    /// security labels, capabilities).
    Xattr = 11,
    /// `ioctl(FS_IOC_SETFLAGS)` and `ioctl(FS_IOC_FSSETXATTR)` on a
    /// descriptor: a file's inode flags (`chattr`: immutable, append-only).
    Chattr = 12,
}

impl Op {
    pub const ALL: [Op; 12] = [
        Op::Delete,
        Op::Rename,
        Op::Link,
        Op::Symlink,
        Op::Mkdir,
        Op::Chmod,
        Op::Chown,
        Op::Truncate,
        Op::Utime,
        Op::Mknod,
        Op::Xattr,
        Op::Chattr,
    ];

    pub const fn from_u8(b: u8) -> Option<Op> {
        Some(match b {
            1 => Op::Delete,
            2 => Op::Rename,
            3 => Op::Link,
            4 => Op::Symlink,
            5 => Op::Mkdir,
            6 => Op::Chmod,
            7 => Op::Chown,
            8 => Op::Truncate,
            9 => Op::Utime,
            10 => Op::Mknod,
            11 => Op::Xattr,
            12 => Op::Chattr,
            _ => return None,
        })
    }

    /// The name in the record's `op`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Delete => "delete",
            Op::Rename => "rename",
            Op::Link => "link",
            Op::Symlink => "symlink",
            Op::Mkdir => "mkdir",
            Op::Chmod => "chmod",
            Op::Chown => "chown",
            Op::Truncate => "truncate",
            Op::Utime => "utime",
            Op::Mknod => "mknod",
            Op::Xattr => "xattr",
            Op::Chattr => "chattr",
        }
    }

    /// Whether the second string of the call is a second path it changes
    /// (the new name of a rename or a link), decided like the first. A
    /// symlink's second string is its target, recorded as written and
    /// never decided (the link's own path is what the call creates).
    pub const fn has_new_path(self) -> bool {
        matches!(self, Op::Rename | Op::Link)
    }

    /// Whether the second string is a symlink's target.
    pub const fn has_target(self) -> bool {
        matches!(self, Op::Symlink)
    }

    /// Whether the call changes the file its name reaches (its mode,
    /// owner, times, size, attributes, or a new name for it), not the
    /// name: through a hard link, the file another name stands for, which
    /// is decided on that name too.
    pub const fn changes_file(self) -> bool {
        matches!(
            self,
            Op::Chmod | Op::Chown | Op::Utime | Op::Truncate | Op::Link | Op::Xattr | Op::Chattr
        )
    }

    /// The `TOOL_*` bits the call is decided under: `write` for each path it
    /// changes, and `read` too for the source of a link or a rename (a hard
    /// link gives the file a second name, readable wherever the link is; a
    /// rename gives it another, which a rule that refused reading it by its
    /// old one may not name: `mv .env e && cat e`).
    pub const fn tools(self) -> u64 {
        match self {
            Op::Link | Op::Rename => TOOL_WRITE | TOOL_READ,
            _ => TOOL_WRITE,
        }
    }

    /// The errno a refused call fails with: `EPERM` where the call's man
    /// page gives it to a caller without permission (`chmod`, `chown`,
    /// `chattr`'s ioctl), else `EACCES` (Linux numbers: this half of the
    /// crate has no libc).
    pub const fn refused_errno(self) -> i32 {
        match self {
            Op::Chmod | Op::Chown | Op::Chattr => 1,
            _ => 13,
        }
    }
}
