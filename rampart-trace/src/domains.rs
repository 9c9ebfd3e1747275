//! The Landlock domains the watched tree's processes put themselves in
//! (enforce mode, calls rampart makes for them).
//!
//! Where rampart makes a call for a process of the tree (an open handed
//! over, a mutation made from what was decided: `crate::proxy`), the kernel
//! checks the access against rampart's thread, not the caller: a program
//! that sandboxed itself with Landlock (as coding agents do for the
//! commands they run) would lose its sandbox for every such call. So each
//! `landlock_restrict_self` of the tree is sent here before it runs
//! (`crate::filter::unhooked`): the caller's ruleset is duplicated
//! (`pidfd_getfd`) and remembered for its process, stacked on the domain
//! it had; a process first seen later inherits the domain of its nearest
//! known ancestor when it started after that ancestor was confined (as
//! the kernel passes a domain on at `fork`). `crate::proxy` makes the
//! calls of a confined process on a thread that restricted itself with
//! the same rulesets, in the same order, so the kernel refuses there what
//! it would refuse the caller.
//!
//! What it does not follow: a domain is remembered per process, not per
//! thread (a program that confines one thread only, without
//! `LANDLOCK_RESTRICT_SELF_TSYNC`, has its other threads' calls confined
//! too), and a child forked in the same clock tick as its parent's
//! `landlock_restrict_self` counts as confined. This module reads `/proc`
//! and duplicates descriptors; it never decides a call.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;

use crate::{net, procfs};

/// How many ancestors are looked at for a domain to inherit.
const ANCESTORS: usize = 32;
/// Most processes remembered.
const KNOWN_MAX: usize = 65_536;

/// A stack of Landlock rulesets, in the order they were applied.
pub struct Domain {
    pub rulesets: Vec<Rc<OwnedFd>>,
}

struct Known {
    /// The process's start time (`procfs::start_time`): a pid reused by a
    /// later process is not this one.
    start: u64,
    domain: Option<Rc<Domain>>,
    /// Since when (clock ticks since boot) its children inherit `domain`.
    since: u64,
}

/// The domains of the tree's processes.
#[derive(Default)]
pub struct Domains {
    known: HashMap<i32, Known>,
}

impl Domains {
    /// Thread `tid` of `tgid` asks to restrict itself with the ruleset
    /// `fd` (before the call runs). Remembered when the call can work: the
    /// thread may (`no_new_privs`, or `CAP_SYS_ADMIN`) and `fd` is a
    /// Landlock ruleset.
    pub fn restricting(&mut self, tid: i32, tgid: i32, fd: i32) {
        if !procfs::may_restrict_self(tid) {
            return;
        }
        let Some(ruleset) = net::pidfd_open(tgid).and_then(|p| net::dup_from(&p, fd)) else {
            return;
        };
        let kind = std::fs::read_link(format!("/proc/self/fd/{}", ruleset.as_raw_fd()));
        if !kind.is_ok_and(|k| k.as_os_str() == "anon_inode:[landlock-ruleset]") {
            return;
        }
        let Some(start) = procfs::start_time(tgid) else {
            return;
        };
        let mut rulesets = self
            .of(tgid)
            .map(|d| d.rulesets.clone())
            .unwrap_or_default();
        // Each thread of a process may apply the same ruleset (Go's
        // `AllThreadsSyscall`): one domain, taken on once.
        if rulesets.iter().any(|r| same_file(r, &ruleset)) {
            return;
        }
        rulesets.push(Rc::new(ruleset));
        self.remember(
            tgid,
            Known {
                start,
                domain: Some(Rc::new(Domain { rulesets })),
                since: now_ticks(),
            },
        );
    }

    /// The domain process `tgid` is in, as far as its own
    /// `landlock_restrict_self` calls and its ancestors' tell; `None` when
    /// no process of the tree confined itself (nothing is read then).
    pub fn of(&mut self, tgid: i32) -> Option<Rc<Domain>> {
        if self.known.is_empty() {
            return None;
        }
        let start = procfs::start_time(tgid)?;
        if let Some(k) = self.known.get(&tgid).filter(|k| k.start == start) {
            return k.domain.clone();
        }
        // Inherited from the nearest ancestor rampart knows, when this
        // process started once that one was confined.
        let mut domain = None;
        let mut p = tgid;
        for _ in 0..ANCESTORS {
            p = match procfs::ppid(p) {
                Ok(pp) if pp > 1 => pp,
                _ => break,
            };
            let Some(k) = self.known.get(&p) else {
                continue;
            };
            if procfs::start_time(p) == Some(k.start) {
                domain = k.domain.clone().filter(|_| start >= k.since);
                break;
            }
        }
        self.remember(
            tgid,
            Known {
                start,
                domain: domain.clone(),
                since: start,
            },
        );
        domain
    }

    fn remember(&mut self, tgid: i32, k: Known) {
        if self.known.len() >= KNOWN_MAX {
            self.known.retain(|_, k| k.domain.is_some());
        }
        self.known.insert(tgid, k);
    }
}

/// Whether two of this process's descriptors are the same open file.
fn same_file(a: &OwnedFd, b: &OwnedFd) -> bool {
    const KCMP_FILE: i32 = 0;
    // SAFETY: kcmp compares two descriptors of this process; no effect.
    let me = unsafe { libc::getpid() };
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            me,
            me,
            KCMP_FILE,
            a.as_raw_fd(),
            b.as_raw_fd(),
        )
    };
    r == 0
}

/// Now, in the clock ticks `/proc/PID/stat` counts start times in.
fn now_ticks() -> u64 {
    // SAFETY: clock_gettime fills a struct we own; sysconf has no effect.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ts.tv_sec as u64 * hz + ts.tv_nsec as u64 * hz / 1_000_000_000
}
