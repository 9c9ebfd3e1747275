//! Reading a watched call into an [`Event`]: its path arguments made
//! absolute (against the cwd or a directory descriptor, as the kernel
//! resolves them), an exec's argv, an open's flags and the file it would
//! reach, a mutation's paths, a connect's or send's address, with the
//! per-process facts an event carries (exe, cwd, parent) cached.
//!
//! Both ways the trace backend sees a call use it: the ptrace supervisor
//! at a seccomp stop and the user-notification handler of unhooked calls. It only reads (the
//! caller's memory, `/proc`); it never stops, resumes or changes a thread,
//! and decides nothing.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;

use rampart_core::event::{name_from_bytes, Call, Event, Outcome, Source};
use rampart_core::path;

use crate::dirfds::DirFds;
use crate::memory::{self, PATH_MAX};
use crate::net::{self, Target};
use crate::regs::nr;
use crate::{dns, links, mutation, procfs, Options};

/// DNS names remembered per process.
pub(crate) const DNS_CACHE_MAX: usize = 4096;

const AT_FDCWD: i32 = libc::AT_FDCWD;
const AT_EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;

#[derive(Default)]
pub(crate) struct Process {
    pub exe: Option<String>,
    pub cwd: Option<String>,
    /// Its working directory may change while a call of it is answered
    /// (another thread changed it as this one called; see
    /// [`Calls::changes_dir`]): read at every call, never kept.
    pub cwd_shared: bool,
    pub ppid: Option<i32>,
    pub pidfd: Option<Option<OwnedFd>>,
    pub dns: HashMap<IpAddr, String>,
    pub dirfds: DirFds,
    /// Destinations already sent to with an address (allowed): a send to
    /// one is not a net call again ([`Calls::send_call`]).
    pub sent: HashSet<Dest>,
}

/// Where a send with an address goes, for [`Process::sent`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Dest {
    Inet { udp: bool, addr: IpAddr, port: u16 },
    Unix(String),
}

impl Dest {
    pub fn of(call: &Call) -> Option<Dest> {
        match call {
            Call::ConnectInet {
                addr, port, proto, ..
            } => Some(Dest::Inet {
                udp: *proto == rampart_core::event::Proto::Udp,
                addr: *addr,
                port: *port,
            }),
            Call::ConnectUnix { path } => Some(Dest::Unix(path.clone())),
            _ => None,
        }
    }
}

/// Destinations remembered per process before the set starts again.
pub(crate) const SENT_MAX: usize = 4096;

/// The reader of watched calls, with the per-process caches.
pub(crate) struct Calls<'a> {
    pub opts: &'a Options,
    pub procs: HashMap<i32, Process>,
    /// The call being read had an argument this reader may not read (see
    /// [`Calls::unreadable`]); the caller takes it back.
    pub blind: bool,
    /// The call being read has an argument at an address that cannot be
    /// read (see [`Calls::unreadable`]); the caller takes it back.
    pub faulted: bool,
    /// Find the file an open reaches before it runs in monitor mode too
    /// (for a caller that never sees the open's exit).
    pub resolve_at_entry: bool,
    /// The open just read, as the caller gave it (the bytes of its path,
    /// not read again): what an open made on its behalf must use
    /// (`crate::proxy`). Taken by whoever makes that open.
    pub open_args: Option<OpenArgs>,
    /// The mutation just read, its strings as the caller gave them: what a
    /// mutation made on its behalf must use (`crate::proxy`).
    pub mutation_args: Option<MutationArgs>,
    /// The connect just read: its socket and address as the caller gave
    /// them, what a connect made on its behalf must use (`crate::proxy`).
    pub connect_args: Option<(i32, Vec<u8>)>,
    /// The bytes of the last path argument read.
    last_raw: Vec<u8>,
    /// Without `track_cwd`: the working directory of the call being read,
    /// read once for it.
    cwd_now: Option<(i32, String)>,
    /// The call just read names a directory descriptor the process does
    /// not have open: the kernel fails it with `EBADF`, and a refusal
    /// says so too.
    pub dirfd_closed: bool,
}

/// A mutation's strings as they were read and decided: its path, its new
/// path (rename, link) and its target (symlink).
#[derive(Clone, Debug, Default)]
pub(crate) struct MutationArgs {
    pub path: Vec<u8>,
    pub new_path: Option<Vec<u8>>,
    pub target: Option<Vec<u8>>,
}

/// An open's arguments as they were read and decided.
#[derive(Clone, Debug)]
pub(crate) struct OpenArgs {
    pub dirfd: i32,
    pub path: Vec<u8>,
    pub flags: i32,
    pub mode: u32,
    /// `openat2`'s `RESOLVE_*` flags.
    pub resolve: u64,
}

impl<'a> Calls<'a> {
    pub fn new(opts: &'a Options) -> Self {
        Calls {
            opts,
            procs: HashMap::new(),
            blind: false,
            faulted: false,
            resolve_at_entry: false,
            open_args: None,
            mutation_args: None,
            connect_args: None,
            last_raw: Vec::new(),
            cwd_now: None,
            dirfd_closed: false,
        }
    }

    /// The event of a watched call `nr(args)` of thread `tid` of `tgid`:
    /// an exec, an open, a connect, a send with an address to a new
    /// destination, a mutation; `None` for anything else (and for
    /// `sendmmsg`, which has [`Calls::sendmmsg_call`]).
    pub fn event_of(&mut self, tid: i32, tgid: i32, nr: i64, args: &[u64; 6]) -> Option<Event> {
        self.dirfd_closed = false;
        self.mutation_args = None;
        self.connect_args = None;
        self.cwd_now = None;
        match nr {
            n if n == nr::EXECVE => self.exec_call(tid, tgid, AT_FDCWD, args[0], args[1], false),
            n if n == nr::EXECVEAT => {
                let empty = args[4] & AT_EMPTY_PATH != 0;
                self.exec_call(tid, tgid, args[0] as i32, args[1], args[2], empty)
            }
            n if Some(n) == nr::OPEN => {
                let how = (args[1] as i32, args[2] as u32, 0);
                self.open_call(tid, tgid, AT_FDCWD, args[0], how)
            }
            n if Some(n) == nr::CREAT => {
                let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;
                self.open_call(tid, tgid, AT_FDCWD, args[0], (flags, args[1] as u32, 0))
            }
            n if n == nr::OPENAT => {
                let how = (args[2] as i32, args[3] as u32, 0);
                self.open_call(tid, tgid, args[0] as i32, args[1], how)
            }
            n if n == nr::OPENAT2 => {
                let how = memory::read_struct::<libc::open_how>(tid, args[2], args[3] as usize)
                    .map(|(how, _)| (how.flags as i32, how.mode as u32, how.resolve))
                    .unwrap_or((0, 0, 0));
                self.open_call(tid, tgid, args[0] as i32, args[1], how)
            }
            n if n == nr::CONNECT => {
                self.address_call(tid, tgid, args[0] as i32, args[1], args[2] as usize, false)
            }
            n if n == nr::BIND => self.bind_call(tid, tgid, args[1], args[2] as usize),
            // (The request is 32 bits wide: the kernel reads no more.)
            n if n == nr::IOCTL && nr::CHATTR_IOCTLS.contains(&(args[1] as u32)) => {
                self.mutation_call(tid, tgid, &mutation::CHATTR, args)
            }
            n if n == nr::SENDTO => self.send_call(tid, tgid, args[0] as i32, args[4], args[5]),
            n if n == nr::SENDMSG => self.sendmsg_call(tid, tgid, args[0] as i32, args[1]),
            n => mutation::layout(n).and_then(|l| self.mutation_call(tid, tgid, l, args)),
        }
    }

    /// Process `tgid` (thread `tid`) opened the hosts file: the names in it
    /// are what its own resolver will find there (a static or Go program
    /// reads it itself, no DNS answer passes by), so its later connects to
    /// those addresses carry the name. The file is read as the process sees
    /// it (its root), and a name from a DNS answer is kept over it.
    pub fn read_hosts_file(&mut self, tid: i32, tgid: i32) {
        let text = std::fs::read(format!("/proc/{tid}/root{}", dns::HOSTS))
            .or_else(|_| std::fs::read(dns::HOSTS));
        let Ok(text) = text else { return };
        let found = dns::hosts_file(&String::from_utf8_lossy(&text));
        let p = self.procs.entry(tgid).or_default();
        if p.dns.len() + found.len() > DNS_CACHE_MAX {
            p.dns.clear();
        }
        for (addr, name) in found {
            p.dns.entry(addr).or_insert(name);
        }
    }

    /// Remember that `tgid` sent to the destination of `call` (allowed):
    /// later sends there are not net calls again.
    pub fn sent(&mut self, tgid: i32, call: &Call) {
        if let Some(d) = Dest::of(call) {
            let p = self.procs.entry(tgid).or_default();
            if p.sent.len() >= SENT_MAX {
                p.sent.clear();
            }
            p.sent.insert(d);
        }
    }

    /// An argument of the call being read could not be read. A bad pointer
    /// (`EFAULT`, [`Calls::faulted`]) is answered `EFAULT` without the call:
    /// the kernel would fail it the same way, unless the memory is one it
    /// alone may read (`memfd_secret`), where the call would run undecided
    /// and unrecorded. Anything else (the process is not dumpable and this
    /// tracer is not root) means the call cannot be decided: in enforce mode
    /// it is refused.
    pub fn unreadable<T: Default>(&mut self, e: io::Error) -> T {
        if e.raw_os_error() == Some(libc::EFAULT) {
            self.faulted = true;
        } else {
            self.blind = true;
        }
        T::default()
    }

    pub fn new_event(&mut self, tid: i32, tgid: i32, call: Call, truncated: bool) -> Event {
        // Where working directories are not kept: the one read for this
        // call's relative name, which is kept from now on; a call that
        // named none records the one last read for its process (the cwd of
        // a record whose names are absolute says where it ran, nothing
        // more, and the read cost a fifth of a call past the hooks).
        let read_now = if self.keeps_cwd(tgid) {
            None
        } else {
            self.cwd_now
                .as_ref()
                .filter(|(t, _)| *t == tid)
                .map(|(_, cwd)| cwd.clone())
        };
        let p = self.procs.entry(tgid).or_default();
        let exe = p
            .exe
            .get_or_insert_with(|| procfs::exe(tid).unwrap_or_default())
            .clone();
        let cwd = match read_now {
            Some(cwd) => {
                p.cwd = Some(cwd.clone());
                cwd
            }
            None => p
                .cwd
                .get_or_insert_with(|| procfs::cwd(tid).unwrap_or_default())
                .clone(),
        };
        let ppid = *p
            .ppid
            .get_or_insert_with(|| procfs::ppid(tgid).unwrap_or(0));
        Event {
            pid: tgid,
            ppid,
            exe,
            cwd,
            source: Source::Trace,
            call,
            outcome: Outcome::Unknown,
            truncated,
        }
    }

    /// The directory a `*at` path is relative to: the cwd or the dirfd's target.
    pub fn base_dir(&mut self, tid: i32, tgid: i32, dirfd: i32) -> String {
        if dirfd == AT_FDCWD {
            if self.keeps_cwd(tgid) {
                let p = self.procs.entry(tgid).or_default();
                return p
                    .cwd
                    .get_or_insert_with(|| procfs::cwd(tid).unwrap_or_default())
                    .clone();
            }
            return self.cwd_read(tid);
        }
        let p = self.procs.entry(tgid).or_default();
        let pidfd = p.pidfd.get_or_insert_with(|| net::pidfd_open(tgid));
        let path = p.dirfds.path(tid, pidfd.as_ref(), dirfd);
        if path.is_empty() {
            self.dirfd_closed =
                procfs::fd_target(tid, dirfd).is_err_and(|e| e.kind() == io::ErrorKind::NotFound);
        }
        path
    }

    /// Whether process `tgid`'s working directory is kept between calls
    /// (`track_cwd`, and it is not one whose threads change it unseen).
    fn keeps_cwd(&self, tgid: i32) -> bool {
        self.opts.track_cwd && !self.procs.get(&tgid).is_some_and(|p| p.cwd_shared)
    }

    /// Process `tgid` is about to change its working directory (`chdir`,
    /// `fchdir`, which run once answered): every kept one is read again
    /// (a process made with `CLONE_FS` shares it), and one of a process
    /// with other threads (`threads`), which may call as the change is
    /// made, is no longer kept.
    pub fn changes_dir(&mut self, tgid: i32, threads: bool) {
        for p in self.procs.values_mut() {
            p.cwd = None;
        }
        if threads {
            self.procs.entry(tgid).or_default().cwd_shared = true;
        }
    }

    /// A copy of the directory descriptor `dirfd` of process `tgid` (not
    /// `AT_FDCWD`), as checked for the call just read (see
    /// [`crate::dirfds`]); `None` when none was kept.
    pub fn dir_copy(&self, tgid: i32, dirfd: i32) -> Option<OwnedFd> {
        if dirfd == AT_FDCWD {
            return None;
        }
        self.procs.get(&tgid)?.dirfds.copy(dirfd)
    }

    /// A rename was made: any kept directory name (a working directory, a
    /// directory descriptor's) may have changed. Read them again.
    pub fn renamed(&mut self) {
        for p in self.procs.values_mut() {
            p.cwd = None;
            p.dirfds = crate::dirfds::DirFds::default();
        }
    }

    /// Without `track_cwd`: thread `tid`'s working directory, read once per
    /// call.
    fn cwd_read(&mut self, tid: i32) -> String {
        match &self.cwd_now {
            Some((t, cwd)) if *t == tid => cwd.clone(),
            _ => {
                let cwd = procfs::cwd(tid).unwrap_or_default();
                self.cwd_now = Some((tid, cwd.clone()));
                cwd
            }
        }
    }

    /// Read a path argument and make it absolute; `(path, truncated)`.
    pub fn path_arg(&mut self, tid: i32, tgid: i32, dirfd: i32, addr: u64) -> (String, bool) {
        self.path_arg_in(tid, tgid, dirfd, addr, false)
    }

    /// [`Self::path_arg`]; `rooted`: an absolute path is under `dirfd`
    /// (`openat2`'s `RESOLVE_IN_ROOT`, `RESOLVE_BENEATH`).
    pub fn path_arg_in(
        &mut self,
        tid: i32,
        tgid: i32,
        dirfd: i32,
        addr: u64,
        rooted: bool,
    ) -> (String, bool) {
        let (raw, cut) =
            memory::read_cstring(tid, addr, PATH_MAX).unwrap_or_else(|e| self.unreadable(e));
        let text = name_from_bytes(&raw).into_owned();
        self.last_raw = raw;
        let mut raw = text;
        if rooted && raw.starts_with('/') {
            raw = raw.trim_start_matches('/').to_string();
            if raw.is_empty() {
                raw.push('.');
            }
        }
        if raw.starts_with('/') {
            return (path::clean(&raw).into_owned(), cut);
        }
        if raw.is_empty() {
            return (raw, cut);
        }
        let base = self.base_dir(tid, tgid, dirfd);
        (path::join(&base, &raw).into_owned(), cut)
    }

    pub fn exec_call(
        &mut self,
        tid: i32,
        tgid: i32,
        dirfd: i32,
        path: u64,
        argv: u64,
        empty_path: bool,
    ) -> Option<Event> {
        let (mut path, mut truncated) = self.path_arg(tid, tgid, dirfd, path);
        if path.is_empty() && empty_path {
            path = procfs::fd_target(tid, dirfd).unwrap_or_default();
        }
        let (words, cut) =
            memory::read_string_array(tid, argv, self.opts.max_argv_bytes).unwrap_or_default();
        truncated |= cut;
        let argv = words
            .iter()
            .map(|w| name_from_bytes(w).into_owned())
            .collect();
        let event = self.new_event(
            tid,
            tgid,
            Call::Exec {
                path,
                argv,
                via: None,
            },
            truncated,
        );
        Some(event)
    }

    /// An open of `path` (relative to `dirfd`) with `how`: its flags,
    /// mode and `RESOLVE_*` flags.
    pub fn open_call(
        &mut self,
        tid: i32,
        tgid: i32,
        dirfd: i32,
        path: u64,
        how: (i32, u32, u64),
    ) -> Option<Event> {
        const ROOTED: u64 = 0x08 | 0x10; // RESOLVE_BENEATH | RESOLVE_IN_ROOT
        let (flags, mode, resolve) = how;
        let rooted = resolve & ROOTED != 0;
        let (path, truncated) = self.path_arg_in(tid, tgid, dirfd, path, rooted);
        self.open_args = (!truncated).then(|| OpenArgs {
            dirfd,
            path: std::mem::take(&mut self.last_raw),
            flags,
            mode,
            resolve,
        });
        // Enforce: an open is decided on the file it reaches before it runs
        // (the exit checks what it did reach), and a file created through
        // a link where it lands.
        let excl = libc::O_CREAT | libc::O_EXCL;
        let follows = flags & libc::O_NOFOLLOW == 0 && flags & excl != excl;
        let resolved = if !(self.opts.enforce || self.resolve_at_entry) || rooted {
            None
        } else {
            links::reached_at(&path, follows, tid, tgid).or_else(|| {
                (flags & libc::O_CREAT != 0 && follows)
                    .then(|| links::created_at(&path))
                    .flatten()
            })
        };
        let event = self.new_event(
            tid,
            tgid,
            Call::Open {
                path,
                flags,
                resolved,
            },
            truncated,
        );
        Some(event)
    }

    /// A mutation laid out as `layout` says; `None` for one on a
    /// descriptor alone (a NULL path: `futimesat`), which the open of the
    /// file decided.
    pub fn mutation_call(
        &mut self,
        tid: i32,
        tgid: i32,
        layout: &mutation::Layout,
        args: &[u64; 6],
    ) -> Option<Event> {
        let dirfd = |d: Option<usize>| d.map_or(AT_FDCWD, |i| args[i] as i32);
        let (dir, at) = layout.path;
        // The descriptor's own file: no path argument, or a NULL one with
        // a descriptor (`futimens`).
        let on_descriptor = layout.on_descriptor
            || (layout.null_path_on_descriptor && args[at] == 0 && dirfd(dir) != AT_FDCWD);
        if args[at] == 0 && !on_descriptor {
            return None;
        }
        let (mut path, mut truncated) = if on_descriptor {
            self.last_raw.clear();
            (String::new(), false)
        } else {
            self.path_arg(tid, tgid, dirfd(dir), args[at])
        };
        let mut strings = MutationArgs {
            path: std::mem::take(&mut self.last_raw),
            ..MutationArgs::default()
        };
        let empty_path = on_descriptor
            || layout
                .empty_path_flags
                .is_some_and(|i| args[i] & AT_EMPTY_PATH != 0);
        if path.is_empty() && empty_path {
            // The descriptor's own file (the cwd for AT_FDCWD), as under preload.
            path = self.base_dir(tid, tgid, dirfd(dir));
        }
        let new_path = match layout.new_path {
            Some((dir, at)) => {
                let (p, cut) = self.path_arg(tid, tgid, dirfd(dir), args[at]);
                truncated |= cut;
                strings.new_path = Some(std::mem::take(&mut self.last_raw));
                Some(p)
            }
            None => None,
        };
        // A symlink's target is kept as written: it is relative to the
        // link's directory, not to anything the tracer could join it to.
        let target = layout.target.map(|at| {
            let (raw, cut) = memory::read_cstring(tid, args[at], PATH_MAX).unwrap_or_default();
            truncated |= cut;
            let text = name_from_bytes(&raw).into_owned();
            strings.target = Some(raw);
            text
        });
        self.mutation_args = (!truncated).then_some(strings);
        let call = Call::Mutate {
            op: layout.op,
            path,
            new_path,
            target,
            resolved: None,
            new_resolved: None,
        };
        let event = self.new_event(tid, tgid, call, truncated);
        Some(event)
    }

    /// A send of `fd` with the address at `addr` (`len` bytes): a net call
    /// to it, like a connect, the first time this process sends there;
    /// `None` without an address or for a destination it sent to before.
    pub fn send_call(
        &mut self,
        tid: i32,
        tgid: i32,
        fd: i32,
        addr: u64,
        len: u64,
    ) -> Option<Event> {
        if addr == 0 || len == 0 {
            return None;
        }
        let event = self.address_call(tid, tgid, fd, addr, len as usize, true)?;
        let seen = Dest::of(&event.call)
            .is_some_and(|d| self.procs.get(&tgid).is_some_and(|p| p.sent.contains(&d)));
        (!seen).then_some(event)
    }

    /// `sendmsg(fd, msg, flags)`: [`Self::send_call`] on the message's name.
    pub fn sendmsg_call(&mut self, tid: i32, tgid: i32, fd: i32, msg: u64) -> Option<Event> {
        let size = std::mem::size_of::<libc::msghdr>();
        let (h, got) = memory::read_struct::<libc::msghdr>(tid, msg, size)
            .map_err(|e| self.unreadable::<()>(e))
            .ok()?;
        if got < size {
            return None;
        }
        self.send_call(tid, tgid, fd, h.msg_name as u64, u64::from(h.msg_namelen))
    }

    /// `sendmmsg(fd, vec, vlen, flags)`: each message to a destination
    /// this process has not sent to before, the first of each such
    /// destination, in order, with its index (at most 1,024 messages read).
    pub fn sendmmsg_call(
        &mut self,
        tid: i32,
        tgid: i32,
        fd: i32,
        vec: u64,
        vlen: u32,
    ) -> Vec<(usize, Event)> {
        self.cwd_now = None;
        let size = std::mem::size_of::<libc::mmsghdr>();
        let mut new: Vec<(usize, Event)> = Vec::new();
        let mut dests: Vec<Dest> = Vec::new();
        for i in 0..vlen.min(1024) as usize {
            let at = vec + (i * size) as u64;
            let (m, got) = match memory::read_struct::<libc::mmsghdr>(tid, at, size) {
                Ok(r) => r,
                Err(e) => {
                    self.unreadable::<()>(e);
                    break;
                }
            };
            if got < size {
                break;
            }
            let h = m.msg_hdr;
            let Some(event) =
                self.send_call(tid, tgid, fd, h.msg_name as u64, u64::from(h.msg_namelen))
            else {
                continue;
            };
            let Some(dest) = Dest::of(&event.call) else {
                continue;
            };
            if !dests.contains(&dest) {
                dests.push(dest);
                new.push((i, event));
            }
        }
        new
    }

    /// A call of `fd` that reaches the address at `addr`: a connect, or a
    /// send (`send`: an IPv4 socket sends to an `AF_UNSPEC` address as to
    /// `AF_INET`, where a connect takes it as "dissolve").
    /// `bind(fd, addr, len)`: a Unix socket bound to a path makes a
    /// socket file there, a write of that path (op `mknod`, as `mknod`
    /// making one would be); any other address is not a watched call. The
    /// kernel makes it (from the address it reads again: see the README's
    /// limits).
    pub fn bind_call(&mut self, tid: i32, tgid: i32, addr: u64, len: usize) -> Option<Event> {
        let (raw, got) = memory::read_struct::<libc::sockaddr_storage>(tid, addr, len)
            .map_err(|e| self.unreadable::<()>(e))
            .ok()?;
        // SAFETY: sockaddr_storage is plain data; `got` bytes of it were filled.
        let bytes = unsafe {
            std::slice::from_raw_parts((&raw as *const libc::sockaddr_storage).cast::<u8>(), got)
        };
        let Target::Unix { path } = net::parse_sockaddr(bytes) else {
            return None;
        };
        if path.is_empty() || path.starts_with('@') {
            return None; // autobind, or an abstract name: no file
        }
        let path = if path.starts_with('/') {
            path::clean(&path).into_owned()
        } else {
            let base = self.base_dir(tid, tgid, AT_FDCWD);
            path::join(&base, &path).into_owned()
        };
        let call = Call::Mutate {
            op: rampart_core::event::Op::Mknod,
            path,
            new_path: None,
            target: None,
            resolved: None,
            new_resolved: None,
        };
        Some(self.new_event(tid, tgid, call, false))
    }

    pub fn address_call(
        &mut self,
        tid: i32,
        tgid: i32,
        fd: i32,
        addr: u64,
        len: usize,
        send: bool,
    ) -> Option<Event> {
        let (mut raw, got) = memory::read_struct::<libc::sockaddr_storage>(tid, addr, len)
            .map_err(|e| self.unreadable::<()>(e))
            .ok()?;
        if send && raw.ss_family == libc::AF_UNSPEC as libc::sa_family_t && got >= 16 {
            raw.ss_family = libc::AF_INET as libc::sa_family_t;
        }
        // SAFETY: sockaddr_storage is plain data; `got` bytes of it were filled.
        let bytes = unsafe {
            std::slice::from_raw_parts((&raw as *const libc::sockaddr_storage).cast::<u8>(), got)
        };
        if !send {
            self.connect_args = Some((fd, bytes.to_vec()));
        }
        let call = match net::parse_sockaddr(bytes) {
            Target::Inet { addr, port } => {
                let p = self.procs.entry(tgid).or_default();
                let pidfd = p.pidfd.get_or_insert_with(|| net::pidfd_open(tgid));
                let proto = net::socket_proto(pidfd.as_ref(), fd);
                let domain = p.dns.get(&addr).cloned();
                Call::ConnectInet {
                    addr,
                    port,
                    proto,
                    domain,
                }
            }
            Target::Unix { path } => {
                // An empty name and an abstract socket's `@name` are kept
                // as written.
                let path = if path.is_empty() || path.starts_with('@') {
                    path
                } else if path.starts_with('/') {
                    path::clean(&path).into_owned()
                } else {
                    let base = self.base_dir(tid, tgid, AT_FDCWD);
                    path::join(&base, &path).into_owned()
                };
                Call::ConnectUnix { path }
            }
            Target::Other => return None,
        };
        let event = self.new_event(tid, tgid, call, false);
        Some(event)
    }
}
