//! Which threads of the tree ended, as the kernel says through pidfds, so
//! that what the handler of unhooked calls remembers of a thread (its
//! process, program, parent, working directory) is never taken for a later
//! thread that got the same number. (Thread ids come back: the default
//! `pid_max` is 32768, and a long build goes round it.)
//!
//! A thread is watched from its first call here: a pidfd of that thread
//! (`PIDFD_THREAD`, Linux 6.9), or of its process where the thread leads it
//! (older kernels: the number of a leading thread is not freed before its
//! whole process ends), in one epoll set. A pidfd becomes readable when its
//! thread ends, before its number can be given again, so the handler,
//! which reads [`Exits::fd`] before it takes the next notification, always
//! learns of an end before it meets the number's next owner. A thread
//! that cannot be watched (another kernel, more than half the descriptors
//! this process may hold, or [`WATCHED_MAX`]) is not: the handler then
//! checks it at every call as before.
//!
//! Owns the pidfds and the epoll set; never signals, waits for or reads
//! from a thread.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `PIDFD_THREAD` (`O_EXCL`): a pidfd of the thread, not of its process.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

/// Threads watched at most: past this, threads are checked at each call.
const WATCHED_MAX: usize = 8192;

/// The pidfds of the watched threads, in one epoll set.
pub struct Exits {
    epoll: OwnedFd,
    watched: HashMap<i32, OwnedFd>,
    /// The kernel makes pidfds of threads (Linux 6.9).
    threads: bool,
    /// Watched at most: [`WATCHED_MAX`], and no more than half the
    /// descriptors this process may hold (often 1,024), which the calls it
    /// makes for the tree need too.
    most: usize,
}

impl Exits {
    /// An empty set; `None` where there are no pidfds or no epoll.
    pub fn new() -> Option<Exits> {
        // SAFETY: a plain epoll_create1; the descriptor is ours.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: just made, owned by nobody else.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: gettid has no arguments.
        let me = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
        let threads = pidfd_open(me, PIDFD_THREAD).is_ok();
        if !threads && pidfd_open(me, 0).is_err() {
            return None;
        }
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit.
        let files = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            lim.rlim_cur as usize
        } else {
            1024
        };
        Some(Exits {
            epoll,
            watched: HashMap::new(),
            threads,
            most: (files / 2).saturating_sub(64).min(WATCHED_MAX),
        })
    }

    /// Watch thread `tid` of process `tgid`: true when its end will be
    /// reported by [`Exits::ended`] (or it already ended: then the pidfd
    /// is readable at once).
    pub fn watch(&mut self, tid: i32, tgid: i32) -> bool {
        if self.watched.contains_key(&tid) {
            return true;
        }
        if self.watched.len() >= self.most {
            return false;
        }
        let pidfd = if self.threads {
            pidfd_open(tid, PIDFD_THREAD)
        } else if tid == tgid {
            pidfd_open(tid, 0)
        } else {
            return false;
        };
        let Ok(pidfd) = pidfd else {
            return false;
        };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: tid as u32 as u64,
        };
        // SAFETY: adding a descriptor we own to our epoll set.
        let added = unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                pidfd.as_raw_fd(),
                &mut ev,
            )
        };
        if added != 0 {
            return false;
        }
        self.watched.insert(tid, pidfd);
        true
    }

    /// Whether `tid` is watched.
    pub fn watches(&self, tid: i32) -> bool {
        self.watched.contains_key(&tid)
    }

    /// Readable when a watched thread ended.
    pub fn fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }

    /// The watched threads that ended since the last call, no longer
    /// watched (empty when none did; never waits).
    pub fn ended(&mut self) -> Vec<i32> {
        let mut out = Vec::new();
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        loop {
            // SAFETY: the kernel fills at most `events.len()` entries.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    0,
                )
            };
            if n <= 0 {
                return out;
            }
            for ev in &events[..n as usize] {
                let tid = ev.u64 as u32 as i32;
                // Closing the pidfd takes it out of the set.
                if self.watched.remove(&tid).is_some() {
                    out.push(tid);
                }
            }
            if (n as usize) < events.len() {
                return out;
            }
        }
    }
}

fn pidfd_open(pid: i32, flags: libc::c_uint) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open returns a new descriptor we own, or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just returned to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_ends_is_reported_once_and_a_live_one_never() {
        let Some(mut exits) = Exits::new() else {
            panic!("this kernel has pidfds (5.3) and epoll");
        };
        // SAFETY: fork in a test process; the child only exits.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // SAFETY: waits for the parent's signal, then exits.
            unsafe {
                libc::pause();
                libc::_exit(0)
            }
        }
        assert!(exits.watch(child, child));
        let me = std::process::id() as i32;
        assert!(exits.watch(me, me));
        assert!(exits.ended().is_empty(), "nothing ended yet");
        // SAFETY: our own child.
        unsafe { libc::kill(child, libc::SIGKILL) };
        let mut status = 0;
        // SAFETY: reaping our own child (its number could be given again now).
        unsafe { libc::waitpid(child, &mut status, 0) };
        assert_eq!(exits.ended(), vec![child]);
        assert!(exits.ended().is_empty(), "reported once");
        assert!(!exits.watches(child) && exits.watches(me));
    }
}
