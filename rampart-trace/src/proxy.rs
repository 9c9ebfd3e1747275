//! Opens the handler of unhooked calls makes on a waiting caller's behalf
//! (enforce mode): it opens the file the caller named itself, from the
//! bytes it read and decided, decides again on the file it reached when
//! that has another name, and hands the descriptor over
//! (`SECCOMP_IOCTL_NOTIF_ADDFD` with `SECCOMP_ADDFD_FLAG_SEND`, which ends
//! the call with the new descriptor's number). Letting the call continue
//! instead would have the kernel read the path again after the decision:
//! another thread of the caller rewriting it in between would open what
//! nobody decided.
//!
//! The open is the caller's in all that decides what it reaches and
//! whether it may: relative to the caller's working directory or
//! directory descriptor (opened through `/proc/TID`), `/proc/self` and
//! `/dev/fd` names spelled as the caller's, with the caller's file
//! credentials (fsuid, fsgid, groups, effective capabilities, taken on for
//! the open when they are not this process's) and umask, and the caller's
//! flags, mode and `RESOLVE_*` flags. What differs, and is documented: the
//! handler never gets a controlling terminal (`O_NOCTTY`); a link
//! elsewhere to `/proc/self` is this process's; a relative name in a
//! `RESOLVE_IN_ROOT` open is resolved as the kernel would.
//!
//! `O_TRUNC` waits until the file reached is decided. A FIFO opened
//! without `O_NONBLOCK` waits for its other end on a thread of its own, so
//! the handler never blocks. This module never decides: the caller's
//! `check` does.
//!
//! Under a Landlock floor the caller's open would have been checked by the
//! kernel against the floor; an open made here must be too. So the opens
//! themselves (and truncations, and FIFO waits) are made on a thread
//! confined by the same ruleset (the *floor thread*); what needs the
//! caller's `/proc` entries (its working directory, a directory
//! descriptor, a `/proc/self` name), which a confined thread may not
//! follow, is pinned with `O_PATH` on the handler's thread first. `O_PATH`
//! opens are not Landlock's to refuse, in the caller either.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;
use std::sync::{mpsc, Arc};

use rampart_core::event::{name_from_bytes, name_to_bytes, Outcome};
use rampart_core::path;

use crate::calls::OpenArgs;
use crate::domains::{Domain, Domains};
use crate::links;
use crate::ChildSetup;

/// What an open made here reached, for its decision again
/// ([`Proxy::open`]'s `check`): another name than the one decided, or a
/// file with more than one link (device, inode), which the policy may
/// refuse by another of its names.
pub enum Reach<'a> {
    Name(&'a str),
    File(u64, u64),
}

/// What an open made for a caller asks of the file it reached
/// ([`Proxy::open`]).
pub struct Check<'a> {
    /// Asked when the file reached has another name (and, when `decides`,
    /// for a file with more than one link); answers the errno of a refusal.
    pub check: &'a mut dyn FnMut(Reach<'_>) -> Result<(), i32>,
    /// The open is decided (enforce mode), not only made for its outcome.
    pub decides: bool,
}

/// How an open made on a caller's behalf ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// The caller holds the file as this descriptor; its call returned it.
    Handed(i32),
    /// The open failed, or was refused on the file it reached: the call
    /// must fail with this errno (not answered yet).
    Failed(i32),
    /// A thread waits for a FIFO's other end and answers the call.
    Waiting,
    /// The caller went away meanwhile: nothing to answer.
    Gone,
    /// Not made here (the caller's credentials could not be taken on):
    /// let the call continue.
    Continue,
}

/// A caller's (or this process's) file credentials and umask, from
/// `/proc/TID/status`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Creds {
    fsuid: u32,
    fsgid: u32,
    groups: Vec<u32>,
    cap_eff: u64,
    umask: u32,
}

impl Creds {
    fn of(tid: i32) -> Option<Creds> {
        let status = crate::procfs::read_small(&format!("/proc/{tid}/status")).ok()?;
        Creds::parse(std::str::from_utf8(&status).ok()?)
    }

    fn own() -> Option<Creds> {
        let status = crate::procfs::read_small("/proc/thread-self/status").ok()?;
        Creds::parse(std::str::from_utf8(&status).ok()?)
    }

    fn parse(status: &str) -> Option<Creds> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        let fourth =
            |name: &str| -> Option<u32> { field(name)?.split_whitespace().nth(3)?.parse().ok() };
        Some(Creds {
            fsuid: fourth("Uid:")?,
            fsgid: fourth("Gid:")?,
            groups: field("Groups:")?
                .split_whitespace()
                .map(|g| g.parse().ok())
                .collect::<Option<Vec<u32>>>()?,
            cap_eff: u64::from_str_radix(field("CapEff:")?, 16).ok()?,
            umask: u32::from_str_radix(field("Umask:").unwrap_or("0022"), 8).ok()?,
        })
    }

    /// The same credentials for the purpose of opening a file.
    fn same_access(&self, other: &Creds) -> bool {
        self.fsuid == other.fsuid
            && self.fsgid == other.fsgid
            && self.groups == other.groups
            && self.cap_eff == other.cap_eff
    }
}

/// The calling thread wears a caller's file credentials until dropped.
/// Per-thread system calls only (libc's wrappers would change every
/// thread of the process).
struct Wearing {
    own: Creds,
    caps: [libc::c_uint; 6],
}

const CAP_V3: u32 = 0x2008_0522;

fn caps_get() -> Option<[libc::c_uint; 6]> {
    let mut head = [CAP_V3, 0u32];
    let mut data = [0 as libc::c_uint; 6];
    // SAFETY: capget fills a v3 header's two data structs (six u32).
    let r = unsafe { libc::syscall(libc::SYS_capget, head.as_mut_ptr(), data.as_mut_ptr()) };
    (r == 0).then_some(data)
}

fn caps_set(data: &[libc::c_uint; 6]) -> bool {
    let mut head = [CAP_V3, 0u32];
    // SAFETY: capset reads a v3 header and two data structs.
    unsafe { libc::syscall(libc::SYS_capset, head.as_mut_ptr(), data.as_ptr()) == 0 }
}

fn set_groups(groups: &[u32]) -> bool {
    // SAFETY: setgroups reads `len` gids; the raw call changes this thread only.
    unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) == 0 }
}

fn set_fs_ids(uid: u32, gid: u32) -> bool {
    // SAFETY: setfsuid/setfsgid on this thread; they answer the previous
    // id, so a second call with -1 tells whether the change took.
    unsafe {
        libc::syscall(libc::SYS_setfsgid, gid);
        libc::syscall(libc::SYS_setfsuid, uid);
        libc::syscall(libc::SYS_setfsgid, u32::MAX) as u32 == gid
            && libc::syscall(libc::SYS_setfsuid, u32::MAX) as u32 == uid
    }
}

impl Wearing {
    fn put_on(own: &Creds, theirs: &Creds) -> Option<Wearing> {
        let caps = caps_get()?;
        let worn = Wearing {
            own: own.clone(),
            caps,
        };
        let mut eff = caps;
        // Effective: theirs, as far as this process may (the permitted set).
        eff[0] = (theirs.cap_eff as u32) & caps[1];
        eff[3] = ((theirs.cap_eff >> 32) as u32) & caps[4];
        let ok =
            set_groups(&theirs.groups) && set_fs_ids(theirs.fsuid, theirs.fsgid) && caps_set(&eff);
        // Dropped (and undone) on failure too.
        ok.then_some(worn)
    }
}

impl Drop for Wearing {
    fn drop(&mut self) {
        let ok = set_fs_ids(self.own.fsuid, self.own.fsgid)
            && caps_set(&self.caps)
            && set_groups(&self.own.groups);
        if !ok {
            // This thread would go on opening files as someone else.
            std::process::abort();
        }
    }
}

/// Where opens are made: on the calling thread, or on the floor thread.
struct Opener {
    jobs: Option<mpsc::Sender<Job>>,
}

type Job = Box<dyn FnOnce() + Send>;

impl Opener {
    /// A thread of its own, with a working directory, root and umask of
    /// its own (`unshare(CLONE_FS)`; its umask 0, each call applies its
    /// caller's), confined by `confine` (a setup that answers 0 or an
    /// errno, the floor) before it takes any job.
    fn thread(confine: Option<ChildSetup>) -> io::Result<Opener> {
        Opener::confined(confine, Vec::new())
    }

    /// [`Opener::thread`], then restricted with each of `rulesets` in
    /// turn (a Landlock domain a process of the tree put itself in, see
    /// `crate::domains`).
    fn confined(confine: Option<ChildSetup>, rulesets: Vec<OwnedFd>) -> io::Result<Opener> {
        let (jobs, take) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::sync_channel::<i32>(1);
        std::thread::Builder::new()
            .name("maker".into())
            .spawn(move || {
                // SAFETY: plain unshare and umask of this thread's own.
                let mut errno = if unsafe { libc::unshare(libc::CLONE_FS) } != 0 {
                    errno()
                } else {
                    unsafe { libc::umask(0) };
                    confine.map_or(0, |(setup, arg)| setup(arg))
                };
                if errno == 0 && !rulesets.is_empty() {
                    // SAFETY: prctl and landlock_restrict_self on this
                    // thread, with rulesets we own.
                    unsafe {
                        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                            errno = self::errno();
                        }
                        for r in &rulesets {
                            if errno == 0
                                && libc::syscall(libc::SYS_landlock_restrict_self, r.as_raw_fd(), 0)
                                    != 0
                            {
                                errno = self::errno();
                            }
                        }
                    }
                    drop(rulesets);
                }
                let _ = ready.send(errno);
                if errno != 0 {
                    return;
                }
                for job in take {
                    job();
                }
            })?;
        match started.recv() {
            Ok(0) => Ok(Opener { jobs: Some(jobs) }),
            Ok(errno) => Err(io::Error::from_raw_os_error(errno)),
            Err(_) => Err(io::Error::other(
                "the thread calls are made on did not start",
            )),
        }
    }

    /// Run `f` where opens are made; `Err(EIO)` if that thread is gone.
    fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<R, i32> + Send + 'static,
    ) -> Result<R, i32> {
        let Some(jobs) = &self.jobs else {
            return f();
        };
        let (done, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        if jobs.send(job).is_err() {
            return Err(libc::EIO);
        }
        result.recv().unwrap_or(Err(libc::EIO))
    }
}

/// Where calls are made for callers of the tree, and with whose
/// credentials.
pub(crate) struct Maker {
    own: Option<Creds>,
    /// Each caller thread's credentials, read at its first call and again
    /// after it may have changed them (a credential call, which the filter
    /// sends here; an exec, which may run a setuid program; see
    /// [`Maker::forget`]).
    known_creds: std::cell::RefCell<HashMap<i32, Creds>>,
    /// The changes are not reported: read them at every call.
    always_read: bool,
    /// Whether this process may take on another's credentials.
    privileged: bool,
    opener: Opener,
    confine: Option<ChildSetup>,
    /// The Landlock domains processes of the tree put themselves in, and a
    /// thread confined like each (by the domain's address; the domain is
    /// kept with it, so that the address names no other).
    domains: std::cell::RefCell<Domains>,
    confined: std::cell::RefCell<HashMap<usize, ConfinedOpener>>,
}

/// A domain, and the thread calls are made on in it.
type ConfinedOpener = (Rc<Domain>, Rc<Opener>);

/// Most threads kept for the domains processes of the tree are in.
const CONFINED_MAX: usize = 32;

impl Maker {
    /// Calls made on this thread (`thread: false`; the process's umask
    /// must then be 0) or on one of their own, confined by `confine` (the
    /// floor); `creds_change_unseen`: the changes of credentials in the
    /// tree are not reported ([`Maker::forget`]), so each call reads its
    /// caller's.
    pub(crate) fn new(
        thread: bool,
        confine: Option<ChildSetup>,
        creds_change_unseen: bool,
    ) -> io::Result<Maker> {
        let opener = if thread || confine.is_some() {
            Opener::thread(confine)?
        } else {
            Opener { jobs: None }
        };
        Ok(Maker {
            own: Creds::own(),
            known_creds: Default::default(),
            always_read: creds_change_unseen,
            // SAFETY: geteuid always succeeds.
            privileged: unsafe { libc::geteuid() } == 0,
            opener,
            confine,
            domains: Default::default(),
            confined: Default::default(),
        })
    }

    /// Thread `tid` of `tgid` is about to restrict itself with the
    /// Landlock ruleset `fd`: the calls made for it from then on are
    /// confined the same way (`crate::domains`).
    pub fn restricting(&self, tid: i32, tgid: i32, fd: i32) {
        self.domains.borrow_mut().restricting(tid, tgid, fd);
    }

    /// Run `f` where calls for process `tgid` are made: on a thread in its
    /// Landlock domain when it confined itself (or inherited one), else
    /// on the usual one. `Err(Opened::Continue)` when its domain cannot be
    /// taken on here: the caller's kernel call then runs as it is.
    fn run_for<R: Send + 'static>(
        &self,
        tgid: i32,
        f: impl FnOnce() -> Result<R, i32> + Send + 'static,
    ) -> Result<Result<R, i32>, Opened> {
        let Some(domain) = self.domains.borrow_mut().of(tgid) else {
            return Ok(self.opener.run(f));
        };
        let key = Rc::as_ptr(&domain) as usize;
        let known = self.confined.borrow().get(&key).map(|(_, o)| Rc::clone(o));
        let opener = match known {
            Some(o) => o,
            None => {
                let rulesets = domain
                    .rulesets
                    .iter()
                    .map(|r| r.try_clone())
                    .collect::<io::Result<Vec<_>>>()
                    .map_err(|_| Opened::Continue)?;
                let o = Rc::new(
                    Opener::confined(self.confine, rulesets).map_err(|_| Opened::Continue)?,
                );
                let mut confined = self.confined.borrow_mut();
                if confined.len() >= CONFINED_MAX {
                    confined.clear();
                }
                confined.insert(key, (Rc::clone(&domain), Rc::clone(&o)));
                o
            }
        };
        Ok(opener.run(f))
    }

    /// Thread `tid` is changing its credentials, or running another
    /// program (which may be setuid), or entering another user namespace:
    /// read them again at its next call.
    pub fn forget(&self, tid: i32) {
        self.known_creds.borrow_mut().remove(&tid);
    }

    /// The credentials of thread `tid`: as read before, unless `fresh`.
    fn creds_of(&self, tid: i32, fresh: bool) -> Option<Creds> {
        if !fresh && !self.always_read {
            if let Some(c) = self.known_creds.borrow().get(&tid) {
                return Some(c.clone());
            }
        }
        let c = Creds::of(tid)?;
        let mut known = self.known_creds.borrow_mut();
        if known.len() >= 65536 {
            known.clear();
        }
        known.insert(tid, c.clone());
        Some(c)
    }

    /// The credentials to make a call of `tid` with, and its umask (read
    /// only for a call that creates something). `Err`: how to answer
    /// instead (the caller is gone, or has credentials this process may
    /// not take on: let the call continue).
    fn wear_for(&self, tid: i32, creating: bool) -> Result<(Wear, u32), Opened> {
        let Some(own) = &self.own else {
            return Err(Opened::Continue);
        };
        // Read once per thread (it costs more than the open itself), and
        // afresh for a call that creates something: the umask changes
        // unseen. The common case, this process's own, costs a lookup.
        if !creating && !self.always_read {
            if let Some(c) = self.known_creds.borrow().get(&tid) {
                if c.same_access(own) {
                    return Ok((Wear(None), c.umask));
                }
            }
        }
        let Some(theirs) = self.creds_of(tid, creating) else {
            return Err(Opened::Gone);
        };
        let umask = theirs.umask;
        if theirs.same_access(own) {
            Ok((Wear(None), umask))
        } else if !self.privileged {
            // Another process's credentials (a setuid program without
            // no_new_privs): this process may not take them on.
            Err(Opened::Continue)
        } else {
            Ok((Wear(Some((own.clone(), theirs))), umask))
        }
    }

    /// Connect for thread `tid` of `tgid` its socket `fd` to `addr` (as it
    /// gave them; `crate::connect`), as the caller would: with its
    /// credentials and in its Landlock domain. `start`: a blocking TCP
    /// connect is started here ([`Connected::Started`]).
    pub(crate) fn connect(
        &self,
        tid: i32,
        tgid: i32,
        fd: i32,
        addr: &[u8],
        start: bool,
    ) -> Connected {
        let Some(connect) = crate::connect::prepare(tgid, fd, addr, start) else {
            return Connected::Continue;
        };
        let Ok((wear, _)) = self.wear_for(tid, false) else {
            return Connected::Continue;
        };
        match self.run_for(tgid, move || {
            let _worn = wear.on()?;
            Ok((connect.make(), connect))
        }) {
            Ok(Ok((crate::connect::Made::Now(made), _))) => Connected::Now(made),
            Ok(Ok((crate::connect::Made::Started, connect))) => Connected::Started(connect),
            _ => Connected::Continue,
        }
    }

    /// Make a mutation for thread `tid` as it was decided
    /// (`crate::mutate`): its return value or errno; `Err(None)`: let it
    /// continue (or nobody waits).
    pub(crate) fn mutate(
        &self,
        tid: i32,
        tgid: i32,
        m: crate::mutate::Mutation,
    ) -> Result<i64, Opened> {
        let (wear, umask) = self.wear_for(tid, m.creates())?;
        self.run_for(tgid, move || {
            let _worn = wear.on()?;
            Ok(m.make(umask))
        })?
        .unwrap_or_else(Err)
        .map_err(Opened::Failed)
    }
}

impl Maker {
    /// What the kernel will answer thread `tid`'s exec of `path` (absolute),
    /// found first with its credentials: the error of a file it cannot
    /// reach or may not run (`ENOENT`, `ENOTDIR`, `ELOOP`, `EACCES`; a
    /// script whose interpreter, or a program whose loader, is missing:
    /// `ENOENT`), `Ok` for an ELF file or a script it may run, `Unknown`
    /// for anything else (another format, which the kernel may still refuse
    /// with `ENOEXEC`; a caller in another root; credentials this process
    /// cannot take on).
    pub(crate) fn exec_outcome(&self, tid: i32, tgid: i32, path: &str) -> Outcome {
        let rooted =
            std::fs::read_link(format!("/proc/{tid}/root")).is_ok_and(|r| r == Path::new("/"));
        if !path.starts_with('/') || !rooted {
            return Outcome::Unknown;
        }
        let Ok((wear, _)) = self.wear_for(tid, false) else {
            return Outcome::Unknown;
        };
        let path = name_to_bytes(path).into_owned();
        self.run_for(tgid, move || {
            let _worn = wear.on()?;
            Ok(exec_would(&path))
        })
        .ok()
        .and_then(Result::ok)
        .unwrap_or(Outcome::Unknown)
    }
}

/// See [`Maker::exec_outcome`]; with the caller's credentials on.
fn exec_would(path: &[u8]) -> Outcome {
    let runnable = |p: &[u8]| -> Result<(), i32> {
        let c = CString::new(p).map_err(|_| libc::ENOENT)?;
        // SAFETY: a NUL-terminated path; checked with the credentials worn
        // (AT_EACCESS: the effective ones, as exec checks them).
        let r =
            unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::X_OK, libc::AT_EACCESS) };
        if r != 0 {
            return Err(errno());
        }
        let meta =
            std::fs::metadata(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(p))
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EACCES))?;
        if !meta.is_file() {
            return Err(libc::EACCES);
        }
        Ok(())
    };
    if let Err(errno) = runnable(path) {
        return Outcome::Errno(errno);
    }
    let mut head = [0u8; 256];
    let n =
        std::fs::File::open(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path))
            .and_then(|f| std::os::unix::fs::FileExt::read_at(&f, &mut head, 0))
            .unwrap_or(0);
    let head = &head[..n];
    if head.starts_with(b"\x7fELF") {
        // The loader it names is loaded too: the kernel says the program is
        // not found when its loader is not.
        let mut name = [0u8; 4096];
        let file = std::fs::File::open(
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path),
        );
        let read_at = |off: u64, buf: &mut [u8]| {
            file.as_ref().map_or(0, |f| {
                std::os::unix::fs::FileExt::read_at(f, buf, off).unwrap_or(0)
            })
        };
        return match rampart_core::elf::interpreter(head, read_at, &mut name).map(runnable) {
            Some(Err(libc::ENOENT)) => Outcome::Errno(libc::ENOENT),
            _ => Outcome::Ok,
        };
    }
    if let Some(line) = head.strip_prefix(b"#!") {
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        let interpreter = line
            .split(|&b| b == b' ' || b == b'\t')
            .find(|w| !w.is_empty());
        return match interpreter.map(runnable) {
            Some(Ok(())) => Outcome::Ok,
            // The kernel says the script is not found when its interpreter is not.
            Some(Err(libc::ENOENT)) => Outcome::Errno(libc::ENOENT),
            _ => Outcome::Unknown,
        };
    }
    Outcome::Unknown
}

/// Makes opens for callers and hands them over.
pub struct Proxy {
    listener: Arc<OwnedFd>,
    maker: Maker,
}

/// How a connect made for a caller went.
pub(crate) enum Connected {
    /// It returned: answer the call with this.
    Now(Result<(), i32>),
    /// Started here on the decided address (`crate::connect`): waited for
    /// here ([`Proxy::connect`] hands back [`Connected::Waiting`]), or by
    /// the caller's own call (the tracer).
    Started(crate::connect::Connect),
    /// A thread waits for the connection started here and answers the call.
    Waiting,
    /// Not made here: the call continues.
    Continue,
}

/// The credentials an open is made with: the caller's, when they are not
/// this process's (`None`: this process's own).
#[derive(Clone)]
struct Wear(Option<(Creds, Creds)>);

impl Wear {
    fn on(&self) -> Result<Option<Wearing>, i32> {
        match &self.0 {
            None => Ok(None),
            Some((own, theirs)) => Wearing::put_on(own, theirs).map(Some).ok_or(libc::EPERM),
        }
    }
}

impl Proxy {
    /// For the callers of `listener`. Sets this process's umask to 0: each
    /// open applies its caller's. `confine`: the run's Landlock floor, for
    /// the thread the opens are made on.
    pub fn new(listener: &OwnedFd, confine: Option<ChildSetup>) -> io::Result<Proxy> {
        // SAFETY: umask always succeeds.
        unsafe { libc::umask(0) };
        Ok(Proxy {
            listener: Arc::new(listener.try_clone()?),
            maker: Maker::new(false, confine, false)?,
        })
    }

    /// [`Maker::connect`] with this proxy's maker, for notification `id`.
    /// A blocking connect started here is waited for on a thread of its
    /// own, which answers the call ([`Connected::Waiting`]): continued, the
    /// kernel would make it on the caller's descriptor *number*, where
    /// another thread of the caller may have put another socket since.
    pub(crate) fn connect(
        &self,
        tid: i32,
        tgid: i32,
        id: u64,
        fd: i32,
        addr: &[u8],
        start: bool,
    ) -> Connected {
        let connect = match self.maker.connect(tid, tgid, fd, addr, start) {
            Connected::Started(connect) => connect,
            other => return other,
        };
        let listener = Arc::clone(&self.listener);
        let waiting = std::thread::Builder::new()
            .name("connect-wait".into())
            .spawn(
                move || match connect.wait(|| crate::procfs::signal_pending(tid)) {
                    Ok(()) => answer_with(&listener, id, 0),
                    Err(errno) => fail(&listener, id, errno),
                },
            );
        match waiting {
            Ok(_) => Connected::Waiting,
            Err(_) => Connected::Now(Err(libc::EAGAIN)),
        }
    }

    /// [`Maker::forget`] with this proxy's maker.
    pub fn forget(&self, tid: i32) {
        self.maker.forget(tid);
    }

    /// [`Maker::mutate`] with this proxy's maker.
    pub(crate) fn mutate(
        &self,
        tid: i32,
        tgid: i32,
        m: crate::mutate::Mutation,
    ) -> Result<i64, Opened> {
        self.maker.mutate(tid, tgid, m)
    }

    /// [`Maker::exec_outcome`] with this proxy's maker.
    pub fn exec_outcome(&self, tid: i32, tgid: i32, path: &str) -> Outcome {
        self.maker.exec_outcome(tid, tgid, path)
    }

    /// [`Maker::restricting`] with this proxy's maker.
    pub fn restricting(&self, tid: i32, tgid: i32, fd: i32) {
        self.maker.restricting(tid, tgid, fd);
    }

    /// Open `args` for thread `tid` of `tgid`, whose notification is `id`.
    /// `dir`: a copy of the caller's directory descriptor `args.dirfd`,
    /// when one was taken for this call (else it is pinned here through
    /// `/proc`). `path` is the absolute name it was decided on; `check` is
    /// asked of the file it reached.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        &self,
        tid: i32,
        tgid: i32,
        id: u64,
        args: &OpenArgs,
        dir: Option<OwnedFd>,
        path: &str,
        check: Check<'_>,
    ) -> Opened {
        if args.flags & libc::O_PATH != 0 {
            // A descriptor that reads nothing, which the kernel will not
            // hand over (`ADDFD` takes no `O_PATH` file); its reopen
            // through `/proc/self/fd` is an open like any other.
            return Opened::Continue;
        }
        if !check.decides && odd_flags(args.flags) {
            // Made for the outcome only: flags whose error (or silence)
            // only the kernel's `open` gives as it gives it.
            return Opened::Continue;
        }
        // (`O_TMPFILE` holds `O_DIRECTORY`'s bit: all of it, not any.)
        let creating =
            args.flags & libc::O_CREAT != 0 || args.flags & libc::O_TMPFILE == libc::O_TMPFILE;
        let (wear, umask) = match self.maker.wear_for(tid, creating) {
            Ok(w) => w,
            Err(not) => return not,
        };
        let pin_devices = !check.decides;
        let mut dir = dir;
        let mut attempt = |args: &OpenArgs| {
            let start = self.pin_callers_own(tid, tgid, args, &wear, dir.take())?;
            let (moved, worn) = (args.clone(), wear.clone());
            let got = self
                .maker
                .run_for(tgid, move || {
                    let _worn = worn.on()?;
                    open_as(start, &moved, umask, pin_devices)
                })
                .map_err(|_| Unconfined)??;
            // Its name, read once for both checks below.
            let link = std::fs::read_link(format!("/proc/self/fd/{}", got.0.as_raw_fd())).ok();
            match ours(&got.0, link.as_deref()) {
                None => Ok((got.0, got.1, link)),
                Some(rest) => Err(Ours(rest)),
            }
        };
        // A `/proc` entry of this process's own is the caller's own entry,
        // once: the caller spelled `/proc/self` in a way its names were
        // not rewritten from.
        let got = match attempt(args) {
            Err(Ours(Some(rest))) => {
                let mut own = args.clone();
                own.dirfd = libc::AT_FDCWD;
                own.resolve = 0;
                own.path = format!(
                    "/proc/{tgid}{}",
                    rest.replace("/task/TID", &format!("/task/{tid}"))
                )
                .into_bytes();
                attempt(&own)
            }
            other => other,
        };
        let (fd, kind, link) = match got {
            Ok(o) => o,
            Err(Ours(_)) => return Opened::Failed(libc::EACCES),
            Err(Errno(errno)) => return Opened::Failed(errno),
            Err(Unconfined) => return Opened::Continue,
        };
        // The file reached, decided again when it has another name; then
        // the truncation the open asked for.
        match reached(link.as_deref()) {
            // A file with no name to decide on (deeper than PATH_MAX).
            Err(errno) if check.decides => return Opened::Failed(errno),
            Err(_) => {}
            Ok(Some(reached)) if reached != path => {
                if let Err(errno) = (check.check)(Reach::Name(&reached)) {
                    return Opened::Failed(errno);
                }
            }
            Ok(_) => {}
        }
        // A hard link to a file the policy refuses by another name.
        if let Some((dev, ino)) = check
            .decides
            .then(|| crate::linked::file_of_fd(&fd))
            .flatten()
        {
            if let Err(errno) = (check.check)(Reach::File(dev, ino)) {
                return Opened::Failed(errno);
            }
        }
        let cloexec = (args.flags & libc::O_CLOEXEC) as u32;
        let flags = args.flags;
        if kind != Got::Open && !check.decides {
            // Made for its outcome only: a FIFO's open, which may wait, is
            // left interruptible as the kernel makes it, and a terminal is
            // the caller's to open (its controlling one, `/dev/tty`).
            return Opened::Continue;
        }
        if kind == Got::Fifo {
            // A thread of the opener's waits for the other end, and answers.
            let listener = Arc::clone(&self.listener);
            let spawned = self.maker.run_for(tgid, move || {
                let _worn = wear.on()?;
                std::thread::Builder::new()
                    .name("fifo-open".into())
                    .spawn(move || {
                        let answer = match reopen(&fd, reopen_flags(flags)) {
                            Ok(file) => hand(&listener, id, file, cloexec, Handover::Closed),
                            Err(errno) => Err(errno),
                        };
                        if let Err(errno) = answer {
                            fail(&listener, id, errno);
                        }
                    })
                    .map(drop)
                    .map_err(|_| libc::EAGAIN)
            });
            return match spawned {
                Ok(Ok(())) => Opened::Waiting,
                Ok(Err(errno)) => Opened::Failed(errno),
                Err(not) => not,
            };
        }
        let fd = if flags & libc::O_TRUNC != 0 {
            match self.maker.run_for(tgid, move || {
                let _worn = wear.on()?;
                truncate_if_asked(&fd, flags).map(|()| fd)
            }) {
                Ok(Ok(fd)) => fd,
                Ok(Err(errno)) => return Opened::Failed(errno),
                Err(not) => return not,
            }
        } else {
            fd
        };
        match hand(&self.listener, id, fd, cloexec, Handover::of(flags)) {
            Ok(n) => Opened::Handed(n),
            Err(libc::ENOENT) => Opened::Gone,
            Err(errno) => Opened::Failed(errno),
        }
    }

    /// What of the caller's own an open starts from, opened on this thread
    /// (a thread confined by Landlock may not follow another process's
    /// `/proc` links): its working directory or directory descriptor, or
    /// the file a `/proc/self`, `/dev/fd` or `/dev/std*` name reaches.
    fn pin_callers_own(
        &self,
        tid: i32,
        tgid: i32,
        args: &OpenArgs,
        wear: &Wear,
        dir: Option<OwnedFd>,
    ) -> Result<Start, i32> {
        if args.path.first() == Some(&b'/') {
            if let Some(own_name) = links::thread_own_bytes(&args.path, tid, tgid) {
                let _worn = wear.on()?;
                let name = CString::new(own_name).map_err(|_| libc::EINVAL)?;
                let flags = pin_flags(args.flags);
                return openat2(libc::AT_FDCWD, &name, flags, 0, args.resolve).map(Start::Pinned);
            }
        }
        if !starts_absolute(args) {
            if let Some(dir) = dir.filter(|_| args.dirfd != libc::AT_FDCWD) {
                // The descriptor itself, not its name in `/proc` again.
                return Ok(Start::At(Some(dir)));
            }
        }
        Ok(Start::At(base_dir(tid, args)?))
    }
}

/// Where an open starts: a directory (`None`: an absolute name), or the
/// file itself, pinned.
enum Start {
    At(Option<OwnedFd>),
    Pinned(OwnedFd),
}

fn pin_flags(flags: i32) -> i32 {
    libc::O_PATH | libc::O_CLOEXEC | (flags & (libc::O_NOFOLLOW | libc::O_DIRECTORY))
}

/// `PROC_SUPER_MAGIC`.
const PROC_FS: libc::c_long = 0x9fa0;

/// Whether `fd` is a file of this process's own `/proc` entries, which the
/// caller reached by a spelling of `/proc/self` its names were not
/// rewritten from (`/proc//self`, a relative `self` from `/proc`, a link
/// to it) or by this process's pid: never the caller's to have (this
/// process's memory, its descriptors). `link`: its name, as
/// `/proc/self/fd` says (`None`: unreadable). `Some(Some(rest))`: the rest of its
/// name after `/proc/PID`, a thread's `/task/TID` spelled so; `Some(None)`:
/// one it cannot name.
fn ours(fd: &OwnedFd, link: Option<&Path>) -> Option<Option<String>> {
    let Some(link) = link else {
        return Some(None);
    };
    // Only a name in /proc can be one (checked first: a readlink is needed
    // anyway, the file system's type costs one more call).
    if !link.starts_with("/proc/") {
        return None;
    }
    // SAFETY: fstatfs fills a struct we own.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut fs) } != 0 || fs.f_type != PROC_FS {
        return None;
    }
    let link = link.to_str()?.strip_prefix("/proc/")?.to_string();
    let (pid, rest) = link.split_at(link.find('/').unwrap_or(link.len()));
    let own = std::process::id() as i32;
    let of_ours = |p: &str| {
        p.parse::<i32>()
            .is_ok_and(|p| p == own || crate::procfs::tgid(p).is_ok_and(|t| t == own))
    };
    if !of_ours(pid) {
        return None;
    }
    let rest = match rest.strip_prefix("/task/") {
        Some(task) => {
            let (t, after) = task.split_at(task.find('/').unwrap_or(task.len()));
            if !of_ours(t) {
                return Some(None);
            }
            format!("/task/TID{after}")
        }
        None => rest.to_string(),
    };
    Some(Some(rest))
}

/// Why an attempt at an open failed: the errno, or a file of this
/// process's own `/proc` entries reached ([`ours`]).
enum Failure {
    Errno(i32),
    Ours(Option<String>),
    /// The caller's Landlock domain cannot be taken on here.
    Unconfined,
}
use Failure::{Errno, Ours, Unconfined};

impl From<i32> for Failure {
    fn from(errno: i32) -> Failure {
        Errno(errno)
    }
}

/// The flags of the real open of a file pinned with `O_PATH`.
fn reopen_flags(flags: i32) -> i32 {
    let gone = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_TRUNC | libc::O_CLOEXEC;
    (flags & !gone) | libc::O_CLOEXEC | libc::O_NOCTTY
}

/// Flags an open made here would not answer as the kernel's `open` does:
/// `O_CREAT` with `O_DIRECTORY` (`EINVAL`), and bits `open` ignores but
/// `openat2` refuses.
fn odd_flags(flags: i32) -> bool {
    const KNOWN: i32 = libc::O_ACCMODE
        | libc::O_CREAT
        | libc::O_EXCL
        | libc::O_NOCTTY
        | libc::O_TRUNC
        | libc::O_APPEND
        | libc::O_NONBLOCK
        | libc::O_DSYNC
        | libc::O_SYNC
        | libc::O_ASYNC
        | libc::O_DIRECT
        | libc::O_LARGEFILE
        | libc::O_DIRECTORY
        | libc::O_NOFOLLOW
        | libc::O_NOATIME
        | libc::O_CLOEXEC
        | libc::O_PATH
        | libc::O_TMPFILE;
    let create_dir = libc::O_CREAT | libc::O_DIRECTORY;
    flags & !KNOWN != 0 || flags & create_dir == create_dir
}

/// What [`open_as`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Got {
    /// The file, opened.
    Open,
    /// A FIFO pinned with `O_PATH` that still needs its blocking open.
    Fifo,
    /// Pinned with `O_PATH`, the kernel's to open (when made for the
    /// outcome only): a character device (a terminal, opened here, would be
    /// this process's and never the caller's controlling one), or a
    /// directory opened to write, truncate or create (whose error the
    /// kernel chooses).
    Kernels,
}

/// Open as `args` say from `start`, but for `O_TRUNC`: the descriptor
/// (this process's), and what it is.
/// `pin_devices`: what is the kernel's to open is pinned, not opened
/// ([`Got::Kernels`]).
fn open_as(
    start: Start,
    args: &OpenArgs,
    umask: u32,
    pin_devices: bool,
) -> Result<(OwnedFd, Got), i32> {
    let flags = args.flags;
    let pin = match start {
        Start::Pinned(pin) => pin,
        Start::At(base) => {
            let name = CString::new(args.path.clone()).map_err(|_| libc::EINVAL)?;
            let at = base.as_ref().map_or(libc::AT_FDCWD, |b| b.as_raw_fd());
            let mode = args.mode & !umask & 0o7777;
            let creating = flags & libc::O_CREAT != 0;
            let tmpfile = flags & libc::O_TMPFILE == libc::O_TMPFILE;
            let excl = creating && flags & libc::O_EXCL != 0;
            let whole = |flags: i32| {
                openat2(
                    at,
                    &name,
                    flags | libc::O_CLOEXEC | libc::O_NOCTTY,
                    mode,
                    args.resolve,
                )
            };
            if excl || tmpfile {
                // A new file (or none): nothing to pin first.
                return Ok((whole(flags)?, Got::Open));
            }
            match openat2(at, &name, pin_flags(flags), 0, args.resolve) {
                Ok(pin) => pin,
                Err(libc::ENOENT) if creating => {
                    return Ok((whole(flags & !libc::O_TRUNC)?, Got::Open))
                }
                Err(errno) => return Err(errno),
            }
        }
    };
    let kind = file_type(&pin)?;
    if kind == libc::S_IFLNK {
        return Err(libc::ELOOP); // O_NOFOLLOW on a link
    }
    if kind == libc::S_IFIFO && flags & libc::O_NONBLOCK == 0 {
        return Ok((pin, Got::Fifo));
    }
    let writes =
        flags & libc::O_ACCMODE != libc::O_RDONLY || flags & (libc::O_TRUNC | libc::O_CREAT) != 0;
    if pin_devices && (kind == libc::S_IFCHR || (kind == libc::S_IFDIR && writes)) {
        return Ok((pin, Got::Kernels));
    }
    Ok((reopen(&pin, reopen_flags(flags))?, Got::Open))
}

/// The directory a relative name starts from, as the caller has it
/// (`None`: the name is absolute and nothing roots it).
fn base_dir(tid: i32, args: &OpenArgs) -> Result<Option<OwnedFd>, i32> {
    if starts_absolute(args) {
        return Ok(None);
    }
    crate::procfs::pin_dir(tid, args.dirfd).map(Some)
}

/// Whether the name is absolute and nothing roots it (it starts from `/`,
/// not from a directory of the caller's).
fn starts_absolute(args: &OpenArgs) -> bool {
    const ROOTED: u64 = 0x08 | 0x10; // RESOLVE_BENEATH | RESOLVE_IN_ROOT
    args.path.first() == Some(&b'/') && args.resolve & ROOTED == 0
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn openat2(at: i32, name: &CString, flags: i32, mode: u32, resolve: u64) -> Result<OwnedFd, i32> {
    // struct open_how: flags, mode, resolve.
    let how: [u64; 3] = [flags as u32 as u64, u64::from(mode), resolve];
    // SAFETY: openat2 reads the name and `how`; a descriptor we own comes back.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            at,
            name.as_ptr(),
            how.as_ptr(),
            std::mem::size_of_val(&how),
        )
    };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: a descriptor openat2 just gave us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Open the file `pin` holds with `flags` (through `/proc/self/fd`: the
/// same file, whatever its name is now, with the permission checks of an
/// open).
fn reopen(pin: &OwnedFd, flags: i32) -> Result<OwnedFd, i32> {
    let name =
        CString::new(format!("/proc/self/fd/{}", pin.as_raw_fd())).map_err(|_| libc::EINVAL)?;
    // SAFETY: plain open of a name we own; the descriptor is ours.
    let fd = unsafe { libc::open(name.as_ptr(), flags) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: a descriptor open() just gave us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn file_type(fd: &OwnedFd) -> Result<libc::mode_t, i32> {
    // SAFETY: fstat fills a stat struct we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(errno());
    }
    Ok(st.st_mode & libc::S_IFMT)
}

/// `O_TRUNC` of a regular file, once its open is known to be allowed: the
/// kernel's truncation, which needs write permission whatever the access
/// mode.
fn truncate_if_asked(fd: &OwnedFd, flags: i32) -> Result<(), i32> {
    if flags & libc::O_TRUNC == 0 || file_type(fd)? != libc::S_IFREG {
        return Ok(());
    }
    let writable = flags & libc::O_ACCMODE != libc::O_RDONLY;
    let w;
    let target = if writable {
        fd
    } else {
        w = reopen(fd, libc::O_WRONLY | libc::O_CLOEXEC)?;
        &w
    };
    // SAFETY: ftruncate of a descriptor we own.
    if unsafe { libc::ftruncate(target.as_raw_fd(), 0) } != 0 {
        return Err(errno());
    }
    Ok(())
}

/// The name of a file, from its `/proc/self/fd` link (`None`: not a file with a path name,
/// as a pipe or a socket; `Err(EACCES)`: one whose name cannot be read,
/// deeper than `PATH_MAX`, which nothing can be decided on).
fn reached(link: Option<&Path>) -> Result<Option<String>, i32> {
    let link = link.ok_or(libc::EACCES)?;
    use std::os::unix::ffi::OsStrExt;
    let name = name_from_bytes(link.as_os_str().as_bytes()).into_owned();
    Ok(name
        .starts_with('/')
        .then(|| path::clean(&name).into_owned()))
}

/// Give the caller of notification `id` the file `fd` as its call's
/// result: the descriptor number it got, or the errno of the kernel's
/// refusal (`ENOENT`: the caller is gone; `EMFILE`: its table is full).
///
/// This process's copy of a file the caller may write, or of a FIFO, is
/// closed before the caller goes on: both name the same open file, and one
/// still open here would keep what the caller's last close ends (a FIFO's
/// reader, which another open then finds; a writer, which makes an exec of
/// the file fail with `ETXTBSY`). Where the caller's wait cannot be
/// interrupted once received (the filter's waits are killable, Linux 5.19),
/// the descriptor is installed, ours closed, and then the call answered;
/// elsewhere the two are one step, lest a caller interrupted in between
/// keep a descriptor it never got. A file opened to read only
/// ([`Handover::Read`]) is installed and answered in one step: the second
/// wake-up of the caller cost each such open about 3 µs (an eighth of a
/// traced open), and a copy that only reads, closed here right after,
/// changes nothing the caller can see but a `flock` it takes and drops in
/// those microseconds.
fn hand(listener: &OwnedFd, id: u64, fd: OwnedFd, cloexec: u32, how: Handover) -> Result<i32, i32> {
    let two_steps = how == Handover::Closed && crate::filter::waits_killable();
    let mut add = libc::seccomp_notif_addfd {
        id,
        flags: if two_steps {
            0
        } else {
            libc::SECCOMP_ADDFD_FLAG_SEND as u32
        },
        srcfd: fd.as_raw_fd() as u32,
        newfd: 0,
        newfd_flags: cloexec,
    };
    // SAFETY: the ioctl reads our struct; the kernel installs a copy of
    // `fd` in the caller (and with SEND answers its call).
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ADDFD,
            &mut add,
        )
    };
    if r < 0 {
        return Err(errno());
    }
    drop(fd);
    if two_steps {
        let mut resp = libc::seccomp_notif_resp {
            id,
            val: i64::from(r),
            error: 0,
            flags: 0,
        };
        // SAFETY: answering a notification of ours with the number installed.
        if unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND,
                &mut resp,
            )
        } < 0
        {
            return Err(errno());
        }
    }
    Ok(r)
}

/// How [`hand`] gives a file over.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Handover {
    /// This process's copy is closed before the caller goes on.
    Closed,
    /// Opened to read only, not a FIFO: answered as it is installed.
    Read,
}

impl Handover {
    /// For a file opened with `flags` that is not a FIFO.
    fn of(flags: i32) -> Handover {
        // (`O_TMPFILE` asks for write access.)
        let changes = libc::O_CREAT | libc::O_TRUNC;
        if flags & libc::O_ACCMODE == libc::O_RDONLY && flags & changes == 0 {
            Handover::Read
        } else {
            Handover::Closed
        }
    }
}

/// Answer notification `id`: its call returns `val`.
fn answer_with(listener: &OwnedFd, id: u64, val: i64) {
    respond(listener, id, val, 0);
}

/// Answer notification `id`: its call fails with `errno`.
fn fail(listener: &OwnedFd, id: u64, errno: i32) {
    respond(listener, id, 0, -errno);
}

/// Answer notification `id` with `val`, or with `error` (a negative errno).
fn respond(listener: &OwnedFd, id: u64, val: i64, error: i32) {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val,
        error,
        flags: 0,
    };
    // SAFETY: answering a notification of ours; ENOENT (the caller is
    // gone) needs nothing more.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_from_a_status_file() {
        let status = "Name:\tx\nUmask:\t0027\nUid:\t1000\t1000\t1000\t1001\n\
                      Gid:\t100\t100\t100\t101\nGroups:\t4 24 \nCapEff:\t0000000000000400\n";
        let c = Creds::parse(status).unwrap();
        assert_eq!(
            c,
            Creds {
                fsuid: 1001,
                fsgid: 101,
                groups: vec![4, 24],
                cap_eff: 0x400,
                umask: 0o027,
            }
        );
        let own = Creds::own().unwrap();
        assert!(own.same_access(&Creds::of(std::process::id() as i32).unwrap()));
    }

    #[test]
    fn the_real_open_keeps_the_callers_flags_but_those_made_earlier() {
        let f = reopen_flags(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND);
        assert_eq!(
            f,
            libc::O_WRONLY | libc::O_APPEND | libc::O_CLOEXEC | libc::O_NOCTTY
        );
    }
}
