//! Mutations the handler of unhooked calls makes on a waiting caller's
//! behalf (enforce mode), as [`crate::proxy`] makes opens: from the strings
//! it read and decided, never the caller's memory again, so a thread that
//! rewrites a path after the decision changes nothing. Each call is made
//! as its `*at` form, relative to the caller's working directory or
//! directory descriptor (pinned through `/proc/TID` by the handler's
//! thread), with the caller's credentials and, for `mkdir`, umask, on the
//! thread the proxy makes opens on (under the Landlock floor, a confined
//! one). The answer is the call's own return value or errno.
//!
//! What differs from the kernel's own: `mkdir`'s mode is cut by the
//! caller's umask even where the directory has a default ACL; `truncate`
//! of a relative name opens the file for writing first (`O_NONBLOCK`, so a
//! FIFO does not wait; `truncate` of anything but a file fails as the
//! kernel's would). This module decides nothing.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use rampart_core::event::{Call, Event};

use crate::calls::MutationArgs;
use crate::memory;
use crate::mutation::{SYS_REMOVEXATTRAT, SYS_SETXATTRAT};

/// A mutation as its `*at` call: the arguments that are not strings.
#[derive(Clone, Copy, Debug)]
enum Plan {
    Unlink {
        dir: i32,
        flags: i32,
    },
    Rename {
        dir: i32,
        new_dir: i32,
        flags: u32,
    },
    Link {
        dir: i32,
        new_dir: i32,
        flags: i32,
    },
    Symlink {
        dir: i32,
    },
    Mkdir {
        dir: i32,
        mode: u32,
    },
    Mknod {
        dir: i32,
        mode: u32,
        dev: u64,
    },
    /// An extended attribute set (`value`, `size`, `flags`: the caller's)
    /// or removed (`remove`), through the last link or not (`follow`).
    Xattr {
        dir: i32,
        name: u64,
        value: u64,
        size: u64,
        flags: u32,
        remove: bool,
        follow: bool,
    },
    Chmod {
        dir: i32,
        mode: u32,
        flags: i32,
    },
    Chown {
        dir: i32,
        uid: u32,
        gid: u32,
        flags: i32,
    },
    Truncate {
        len: i64,
    },
    /// `times`: where the caller's times are, and their form.
    Utime {
        dir: i32,
        times: Times,
        flags: i32,
    },
}

#[derive(Clone, Copy, Debug)]
enum Times {
    /// `NULL`: now.
    Now,
    /// Two `struct timespec` (utimensat).
    Spec(u64),
    /// Two `struct timeval` (utimes, futimesat).
    Val(u64),
    /// One `struct utimbuf` (utime).
    Buf(u64),
}

const FDCWD: i32 = libc::AT_FDCWD;

impl Plan {
    /// Whether the call follows a link in the last component of its
    /// (first) name: it then changes the file the link leads to.
    fn follows_last(&self) -> bool {
        let follows = |flags: i32| flags & libc::AT_SYMLINK_NOFOLLOW == 0;
        match *self {
            Plan::Chmod { flags, .. } | Plan::Chown { flags, .. } | Plan::Utime { flags, .. } => {
                follows(flags)
            }
            Plan::Truncate { .. } => true,
            Plan::Link { flags, .. } => flags & libc::AT_SYMLINK_FOLLOW != 0,
            Plan::Xattr { follow, .. } => follow,
            _ => false,
        }
    }
}

/// The `*at` form of mutation `nr(args)`; `None` for a call this module
/// does not make (it then continues as before).
fn plan(nr: i64, a: &[u64; 6]) -> Option<Plan> {
    let fd = |i: usize| a[i] as i32;
    let times = |p: u64, form: fn(u64) -> Times| if p == 0 { Times::Now } else { form(p) };
    #[cfg(target_arch = "x86_64")]
    {
        let legacy = match nr {
            libc::SYS_unlink => Some(Plan::Unlink {
                dir: FDCWD,
                flags: 0,
            }),
            libc::SYS_rmdir => Some(Plan::Unlink {
                dir: FDCWD,
                flags: libc::AT_REMOVEDIR,
            }),
            libc::SYS_rename => Some(Plan::Rename {
                dir: FDCWD,
                new_dir: FDCWD,
                flags: 0,
            }),
            libc::SYS_link => Some(Plan::Link {
                dir: FDCWD,
                new_dir: FDCWD,
                flags: 0,
            }),
            libc::SYS_symlink => Some(Plan::Symlink { dir: FDCWD }),
            libc::SYS_mkdir => Some(Plan::Mkdir {
                dir: FDCWD,
                mode: a[1] as u32,
            }),
            libc::SYS_mknod => Some(Plan::Mknod {
                dir: FDCWD,
                mode: a[1] as u32,
                dev: a[2],
            }),
            libc::SYS_chmod => Some(Plan::Chmod {
                dir: FDCWD,
                mode: a[1] as u32,
                flags: 0,
            }),
            libc::SYS_chown | libc::SYS_lchown => Some(Plan::Chown {
                dir: FDCWD,
                uid: a[1] as u32,
                gid: a[2] as u32,
                flags: if nr == libc::SYS_lchown {
                    libc::AT_SYMLINK_NOFOLLOW
                } else {
                    0
                },
            }),
            libc::SYS_utime => Some(Plan::Utime {
                dir: FDCWD,
                times: times(a[1], Times::Buf),
                flags: 0,
            }),
            libc::SYS_utimes => Some(Plan::Utime {
                dir: FDCWD,
                times: times(a[1], Times::Val),
                flags: 0,
            }),
            libc::SYS_futimesat => Some(Plan::Utime {
                dir: fd(0),
                times: times(a[2], Times::Val),
                // A NULL path: the descriptor's own file.
                flags: if a[1] == 0 { libc::AT_EMPTY_PATH } else { 0 },
            }),
            _ => None,
        };
        if legacy.is_some() {
            return legacy;
        }
    }
    #[allow(clippy::unnecessary_cast)] // c_long is i64 on the supported arches
    Some(match nr {
        n if n == libc::SYS_unlinkat as i64 => Plan::Unlink {
            dir: fd(0),
            flags: a[2] as i32,
        },
        n if n == libc::SYS_renameat as i64 => Plan::Rename {
            dir: fd(0),
            new_dir: fd(2),
            flags: 0,
        },
        n if n == libc::SYS_renameat2 as i64 => Plan::Rename {
            dir: fd(0),
            new_dir: fd(2),
            flags: a[4] as u32,
        },
        n if n == libc::SYS_linkat as i64 => Plan::Link {
            dir: fd(0),
            new_dir: fd(2),
            flags: a[4] as i32,
        },
        n if n == libc::SYS_symlinkat as i64 => Plan::Symlink { dir: fd(1) },
        n if n == libc::SYS_mkdirat as i64 => Plan::Mkdir {
            dir: fd(0),
            mode: a[2] as u32,
        },
        n if n == libc::SYS_mknodat as i64 => Plan::Mknod {
            dir: fd(0),
            mode: a[2] as u32,
            dev: a[3],
        },
        // Extended attributes: path forms from the cwd, descriptor forms
        // on the descriptor's own file.
        n if [libc::SYS_setxattr, libc::SYS_lsetxattr, libc::SYS_fsetxattr]
            .map(|n| n as i64)
            .contains(&n) =>
        {
            Plan::Xattr {
                dir: if n == libc::SYS_fsetxattr as i64 {
                    fd(0)
                } else {
                    FDCWD
                },
                name: a[1],
                value: a[2],
                size: a[3],
                flags: a[4] as u32,
                remove: false,
                follow: n != libc::SYS_lsetxattr as i64,
            }
        }
        n if [
            libc::SYS_removexattr,
            libc::SYS_lremovexattr,
            libc::SYS_fremovexattr,
        ]
        .map(|n| n as i64)
        .contains(&n) =>
        {
            Plan::Xattr {
                dir: if n == libc::SYS_fremovexattr as i64 {
                    fd(0)
                } else {
                    FDCWD
                },
                name: a[1],
                value: 0,
                size: 0,
                flags: 0,
                remove: true,
                follow: n != libc::SYS_lremovexattr as i64,
            }
        }
        n if n == libc::SYS_fchmodat as i64 => Plan::Chmod {
            dir: fd(0),
            mode: a[2] as u32,
            flags: 0,
        },
        n if n == libc::SYS_fchmodat2 as i64 => Plan::Chmod {
            dir: fd(0),
            mode: a[2] as u32,
            flags: a[3] as i32,
        },
        n if n == libc::SYS_fchownat as i64 => Plan::Chown {
            dir: fd(0),
            uid: a[2] as u32,
            gid: a[3] as u32,
            flags: a[4] as i32,
        },
        n if n == libc::SYS_truncate as i64 => Plan::Truncate { len: a[1] as i64 },
        // The descriptor's own file, as `fchmodat2`/`fchownat` with
        // `AT_EMPTY_PATH` name it.
        n if n == libc::SYS_fchmod as i64 => Plan::Chmod {
            dir: fd(0),
            mode: a[1] as u32,
            flags: libc::AT_EMPTY_PATH,
        },
        n if n == libc::SYS_fchown as i64 => Plan::Chown {
            dir: fd(0),
            uid: a[1] as u32,
            gid: a[2] as u32,
            flags: libc::AT_EMPTY_PATH,
        },
        n if n == libc::SYS_utimensat as i64 => Plan::Utime {
            dir: fd(0),
            times: times(a[2], Times::Spec),
            // A NULL path (`futimens`): the descriptor's own file.
            flags: a[3] as i32 | if a[1] == 0 { libc::AT_EMPTY_PATH } else { 0 },
        },
        _ => return None,
    })
}

/// One name a mutation changes: the directory it is in, pinned (the
/// caller's directory descriptor or working directory followed through
/// `/proc/TID`, then every directory of the name with its links followed),
/// and its last component, which the call is made on; and where that is,
/// as the pinned directory's own name says.
struct Place {
    parent: OwnedFd,
    last: CString,
    /// `parent`'s real name joined with `last`, or `whole`'s: what the
    /// mutation really changes, decided again when it is not the name
    /// decided.
    real: String,
    /// For a call that follows a link in its last component (`chmod`,
    /// `chown`, `truncate`, `utime`, `link` with `AT_SYMLINK_FOLLOW`): the
    /// file itself, pinned (`O_PATH`); the call is made on it.
    whole: Option<OwnedFd>,
}

impl Place {
    /// The (directory, name) a `*at` call is made on so that it lands on
    /// this place; `proc` keeps the name of a whole pin alive.
    fn at(&self, proc: &mut CString) -> (i32, *const libc::c_char) {
        match &self.whole {
            Some(fd) => {
                *proc = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                    .expect("no NUL in a number");
                (FDCWD, proc.as_ptr())
            }
            None => (self.parent.as_raw_fd(), self.last.as_ptr()),
        }
    }

    /// Pin the file a call that follows the last link changes: `real`
    /// becomes its name.
    fn follow_last(&mut self) -> Result<(), i32> {
        if self.last.as_bytes().is_empty() {
            return Ok(()); // the descriptor's own file
        }
        // SAFETY: plain openat of a name we own from a descriptor we own.
        let fd = unsafe {
            libc::openat(
                self.parent.as_raw_fd(),
                self.last.as_ptr(),
                libc::O_PATH | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO));
        }
        // SAFETY: a descriptor openat() just gave us.
        let fd: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
        self.real = real_name(&fd)?;
        self.whole = Some(fd);
        Ok(())
    }
}

/// The name of the file `fd` holds (`/proc/self/fd`), `EACCES` for one in
/// `/proc` or without a name.
fn real_name(fd: &OwnedFd) -> Result<String, i32> {
    // SAFETY: fstatfs fills a struct we own.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut fs) } != 0 || fs.f_type == PROC_FS {
        return Err(libc::EACCES);
    }
    let name = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|_| libc::EACCES)?;
    use std::os::unix::ffi::OsStrExt;
    let name = rampart_core::event::name_from_bytes(name.as_os_str().as_bytes()).into_owned();
    if !name.starts_with('/') {
        return Err(libc::EACCES);
    }
    Ok(name)
}

/// A mutation ready to be made: its plan, the places it changes, a
/// symlink's target, and the times it sets, read from the caller.
pub(crate) struct Mutation {
    plan: Plan,
    place: Place,
    new_place: Option<Place>,
    target: Option<CString>,
    times: Option<[libc::timespec; 2]>,
    /// An extended attribute's name and value, read from the caller.
    xattr: Option<(CString, Vec<u8>)>,
}

/// The most bytes an extended attribute's value has (`XATTR_SIZE_MAX`).
const XATTR_SIZE_MAX: u64 = 65536;

/// `struct xattr_args` of `setxattrat` (Linux 6.13).
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

/// `PROC_SUPER_MAGIC`.
const PROC_FS: libc::c_long = 0x9fa0;

/// Pin where `name` (relative to the caller's `dirfd`) is: `Err(errno)` as
/// the kernel's walk would fail, or `EACCES` for a place in `/proc` (no
/// mutation there is the tree's to make through rampart, whose own
/// `/proc` entries a spelling of `/proc/self` would reach) or one whose
/// name cannot be read.
fn pin_place(tid: i32, tgid: i32, dirfd: i32, name: &[u8], follow: bool) -> Result<Place, i32> {
    let errno = || {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
    let own = (name.first() == Some(&b'/'))
        .then(|| crate::links::thread_own_bytes(name, tid, tgid))
        .flatten();
    let name = own.as_deref().unwrap_or(name);
    // The directory part and the last component (a trailing slash stays
    // with it: `rmdir("d/")`); an empty name is the descriptor's own file.
    let trimmed = name.len() - name.iter().rev().take_while(|&&b| b == b'/').count();
    let (dir_part, last): (&[u8], &[u8]) = match name[..trimmed].iter().rposition(|&b| b == b'/') {
        Some(i) => (&name[..i + 1], &name[i + 1..]),
        None => (b"", name),
    };
    let parent = if name.first() == Some(&b'/') {
        let dir = CString::new(dir_part).map_err(|_| libc::EINVAL)?;
        // SAFETY: plain open of a name we own; the descriptor is ours.
        let fd = unsafe {
            libc::open(
                dir.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(errno());
        }
        // SAFETY: a descriptor open() just gave us.
        unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }
    } else {
        let base = crate::procfs::pin_dir(tid, dirfd)?;
        if dir_part.is_empty() {
            base
        } else {
            let dir = CString::new(dir_part).map_err(|_| libc::EINVAL)?;
            // SAFETY: plain openat of a name we own from a descriptor we own.
            let fd = unsafe {
                libc::openat(
                    base.as_raw_fd(),
                    dir.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(errno());
            }
            // SAFETY: a descriptor openat() just gave us.
            unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }
        }
    };
    let parent: OwnedFd = parent;
    if follow && own.is_some() && !last.is_empty() {
        // The caller's own `/proc` entry (`/proc/self/fd/N`, as gnulib's
        // `lchmod` spells a descriptor's file): the call changes the file
        // it leads to, which is its place; its directory is no place to
        // make anything in (a name in `/proc` is refused).
        let mut place = Place {
            parent,
            last: CString::new(last).map_err(|_| libc::EINVAL)?,
            real: String::new(),
            whole: None,
        };
        place.follow_last()?;
        return Ok(place);
    }
    let dir = real_name(&parent)?;
    let last_text = rampart_core::event::name_from_bytes(last).into_owned();
    let real = if last.is_empty() {
        dir
    } else {
        rampart_core::path::join(&dir, &last_text).into_owned()
    };
    Ok(Place {
        parent,
        last: CString::new(last).map_err(|_| libc::EINVAL)?,
        real,
        whole: None,
    })
}

/// Read mutation `nr(args)` of thread `tid` of `tgid` for making (on the
/// handler's thread: the caller's `/proc` entries are followed here);
/// `None` when it is not one this module makes, `Err(errno)` when it
/// cannot be made as asked.
pub(crate) fn prepare(
    tid: i32,
    tgid: i32,
    nr: i64,
    args: &[u64; 6],
    strings: &MutationArgs,
) -> Option<Result<Mutation, i32>> {
    let plan = plan(nr, args)?;
    let (dir, new_dir) = match plan {
        Plan::Rename { dir, new_dir, .. } | Plan::Link { dir, new_dir, .. } => (dir, Some(new_dir)),
        Plan::Unlink { dir, .. }
        | Plan::Mkdir { dir, .. }
        | Plan::Mknod { dir, .. }
        | Plan::Xattr { dir, .. }
        | Plan::Chmod { dir, .. }
        | Plan::Chown { dir, .. }
        | Plan::Utime { dir, .. }
        | Plan::Symlink { dir } => (dir, None),
        Plan::Truncate { .. } => (FDCWD, None),
    };
    let target = match &strings.target {
        Some(t) => Some(CString::new(t.clone()).ok()?),
        None => None,
    };
    let made = (|| {
        let mut place = pin_place(tid, tgid, dir, &strings.path, plan.follows_last())?;
        if plan.follows_last() && place.whole.is_none() {
            place.follow_last()?;
        }
        let new_place = match (new_dir, &strings.new_path) {
            (Some(nd), Some(p)) => Some(pin_place(tid, tgid, nd, p, false)?),
            _ => None,
        };
        let times = match plan {
            Plan::Utime { times, .. } => read_times(tid, times)?,
            _ => None,
        };
        let xattr = match plan {
            Plan::Xattr {
                name, value, size, ..
            } => Some(read_xattr(tid, name, value, size)?),
            _ => None,
        };
        Ok(Mutation {
            plan,
            place,
            new_place,
            target,
            times,
            xattr,
        })
    })();
    Some(made)
}

/// The mutation `event` decided, as `m` really makes it, when that is
/// somewhere else (a link among its directories, a directory descriptor
/// or working directory that changed since it was read): to decide again.
pub(crate) fn elsewhere(event: &Event, m: &Mutation) -> Option<Event> {
    let Call::Mutate {
        op,
        path,
        new_path,
        target,
        ..
    } = &event.call
    else {
        return None;
    };
    let (real, new_real) = m.reached();
    let clean = |p: &str| rampart_core::path::clean(p).into_owned();
    let same = clean(path) == real
        && new_path.as_deref().map(clean).as_deref() == new_real.map(str::to_string).as_deref();
    if same {
        return None;
    }
    let mut again = event.clone();
    again.call = Call::Mutate {
        op: *op,
        path: real.to_string(),
        new_path: new_real.map(str::to_string),
        target: target.clone(),
        resolved: None,
        new_resolved: None,
    };
    Some(again)
}

/// The verdict on `m` where it really lands, when that is not what
/// `event` decided: somewhere else ([`elsewhere`]), or a file with more
/// than one link that the policy refuses by another name (the file itself
/// for a call that changes it or gives it a new name). `None`: nothing to
/// decide again.
pub(crate) fn decided_again(
    event: &Event,
    m: &Mutation,
    sink: &mut dyn crate::Sink,
) -> Option<crate::Verdict> {
    if let Some(again) = elsewhere(event, m) {
        if let v @ crate::Verdict::Deny { .. } = sink.recheck(&again) {
            return Some(v);
        }
    }
    let name = m
        .linked_file()
        .and_then(|(dev, ino)| sink.other_name(dev, ino))?;
    Some(sink.recheck(&crate::linked::named(event, name)))
}

/// An extended attribute's name and value, as the kernel would read them
/// from the caller (`E2BIG` past `XATTR_SIZE_MAX`, `EFAULT` for a bad
/// pointer).
fn read_xattr(tid: i32, name: u64, value: u64, size: u64) -> Result<(CString, Vec<u8>), i32> {
    let (raw, cut) = memory::read_cstring(tid, name, 256).map_err(|_| libc::EFAULT)?;
    if cut {
        return Err(libc::ERANGE);
    }
    let name = CString::new(raw).map_err(|_| libc::EINVAL)?;
    if size > XATTR_SIZE_MAX {
        return Err(libc::E2BIG);
    }
    let mut bytes = vec![0u8; size as usize];
    if size > 0 {
        let n = memory::read_bytes(tid, value, &mut bytes).map_err(|_| libc::EFAULT)?;
        if n != bytes.len() {
            return Err(libc::EFAULT);
        }
    }
    Ok((name, bytes))
}

/// The times a `utime*` call sets, as two `timespec` (`None`: now).
fn read_times(tid: i32, times: Times) -> Result<Option<[libc::timespec; 2]>, i32> {
    let fault = |_| libc::EFAULT;
    let ts = |sec: i64, nsec: i64| libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    };
    Ok(match times {
        Times::Now => None,
        Times::Spec(p) => {
            let (t, _) = memory::read_struct::<[libc::timespec; 2]>(tid, p, 32).map_err(fault)?;
            Some(t)
        }
        Times::Val(p) => {
            let (t, _) = memory::read_struct::<[libc::timeval; 2]>(tid, p, 32).map_err(fault)?;
            Some([
                ts(t[0].tv_sec, t[0].tv_usec * 1000),
                ts(t[1].tv_sec, t[1].tv_usec * 1000),
            ])
        }
        Times::Buf(p) => {
            let (t, _) = memory::read_struct::<libc::utimbuf>(tid, p, 16).map_err(fault)?;
            Some([ts(t.actime, 0), ts(t.modtime, 0)])
        }
    })
}

impl Mutation {
    /// Whether it makes something whose mode the caller's umask cuts.
    pub fn creates(&self) -> bool {
        matches!(self.plan, Plan::Mkdir { .. } | Plan::Mknod { .. })
    }

    /// What it really changes: its name's and its new name's places
    /// (`Place::real`), to decide again where they are not the names
    /// decided.
    pub fn reached(&self) -> (&str, Option<&str>) {
        (
            &self.place.real,
            self.new_place.as_ref().map(|p| p.real.as_str()),
        )
    }

    /// The file it changes itself, or gives a new name (`link`), as
    /// (device, inode) when it has more than one link.
    fn linked_file(&self) -> Option<(u64, u64)> {
        let changes_file = matches!(
            self.plan,
            Plan::Chmod { .. }
                | Plan::Chown { .. }
                | Plan::Utime { .. }
                | Plan::Truncate { .. }
                | Plan::Link { .. }
                | Plan::Xattr { .. }
        );
        if !changes_file {
            return None;
        }
        match &self.place.whole {
            Some(fd) => crate::linked::file_of_fd(fd),
            None => {
                // SAFETY: fstatat of a name we own from a descriptor we own.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                let r = unsafe {
                    libc::fstatat(
                        self.place.parent.as_raw_fd(),
                        self.place.last.as_ptr(),
                        &mut st,
                        libc::AT_SYMLINK_NOFOLLOW,
                    )
                };
                if r != 0 {
                    return None;
                }
                crate::linked::file_of(&st)
            }
        }
    }

    /// Make it (on the thread opens are made on, with the caller's
    /// credentials worn); `umask`: the caller's. The call's return value.
    pub fn make(&self, umask: u32) -> Result<i64, i32> {
        let mut proc = CString::default();
        let (at, p) = self.place.at(&mut proc);
        let (new_at, new_p) = self
            .new_place
            .as_ref()
            .map_or((FDCWD, std::ptr::null()), |n| {
                (n.parent.as_raw_fd(), n.last.as_ptr())
            });
        let target = self
            .target
            .as_ref()
            .map_or(std::ptr::null(), |t| t.as_ptr());
        // SAFETY (every arm): plain system calls on strings, buffers and
        // descriptors we own, which live until they return.
        let r = unsafe {
            match self.plan {
                Plan::Unlink { flags, .. } => libc::syscall(libc::SYS_unlinkat, at, p, flags),
                Plan::Rename { flags, .. } => {
                    libc::syscall(libc::SYS_renameat2, at, p, new_at, new_p, flags)
                }
                Plan::Link { flags, .. } => {
                    libc::syscall(libc::SYS_linkat, at, p, new_at, new_p, flags)
                }
                // symlinkat(target, dir, linkpath): the link is the place.
                Plan::Symlink { .. } => libc::syscall(libc::SYS_symlinkat, target, at, p),
                Plan::Mkdir { mode, .. } => {
                    libc::syscall(libc::SYS_mkdirat, at, p, mode & !umask & 0o7777)
                }
                Plan::Xattr {
                    remove,
                    follow,
                    flags,
                    ..
                } => {
                    let Some((name, value)) = &self.xattr else {
                        return Err(libc::EINVAL);
                    };
                    // The descriptor's own file: named through its pin,
                    // followed (an `O_PATH` pin takes no call of its own).
                    let own;
                    let (at, p) = if p.is_null() || *p == 0 {
                        own = CString::new(format!("/proc/self/fd/{at}"))
                            .expect("no NUL in a number");
                        (FDCWD, own.as_ptr())
                    } else {
                        (at, p)
                    };
                    let at_flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
                    if remove {
                        libc::syscall(SYS_REMOVEXATTRAT, at, p, at_flags, name.as_ptr())
                    } else {
                        let args = XattrArgs {
                            value: value.as_ptr() as u64,
                            size: value.len() as u32,
                            flags,
                        };
                        libc::syscall(
                            SYS_SETXATTRAT,
                            at,
                            p,
                            at_flags,
                            name.as_ptr(),
                            &args as *const XattrArgs,
                            std::mem::size_of::<XattrArgs>(),
                        )
                    }
                }
                Plan::Mknod { mode, dev, .. } => {
                    // The type bits as given, the permissions cut by the
                    // caller's umask.
                    let mode = mode & libc::S_IFMT | mode & !umask & 0o7777;
                    libc::syscall(libc::SYS_mknodat, at, p, mode, dev)
                }
                Plan::Chmod { mode, flags: 0, .. } => {
                    libc::syscall(libc::SYS_fchmodat, at, p, mode)
                }
                Plan::Chmod { mode, flags, .. } => {
                    libc::syscall(libc::SYS_fchmodat2, at, p, mode, flags)
                }
                Plan::Chown {
                    uid, gid, flags, ..
                } => libc::syscall(libc::SYS_fchownat, at, p, uid, gid, flags),
                Plan::Truncate { len } => return self.truncate(len),
                Plan::Utime { flags, .. } => {
                    let times = self.times.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
                    libc::syscall(libc::SYS_utimensat, at, p, times, flags)
                }
            }
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO));
        }
        Ok(r)
    }

    /// `truncate(path, len)`: through an open of the name from its pinned
    /// directory.
    fn truncate(&self, len: i64) -> Result<i64, i32> {
        let errno = || {
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO)
        };
        let mut proc = CString::default();
        let (dir, name) = self.place.at(&mut proc);
        let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: plain openat of a name we own; the descriptor is closed below.
        let fd = unsafe { libc::openat(dir, name, flags) };
        if fd < 0 {
            return Err(errno());
        }
        // SAFETY: fstat and ftruncate of the descriptor just opened, then close.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            let r = if libc::fstat(fd, &mut st) != 0 {
                Err(errno())
            } else if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                Err(libc::EINVAL)
            } else if libc::ftruncate(fd, len) != 0 {
                Err(errno())
            } else {
                Ok(0)
            };
            libc::close(fd);
            r
        }
    }
}
