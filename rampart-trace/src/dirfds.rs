//! Which directory a tracee's `dirfd` names, for `openat(dirfd, "rel")`:
//! the answer of `/proc/TID/fd/N` is cached per process together with a
//! duplicate of the descriptor, and reused while `kcmp(KCMP_FILE)` says the
//! tracee's descriptor is still that same open file (one cheap syscall
//! instead of a `/proc` path walk per call; `grep -r` opens every file this way).
//!
//! It holds at most [`CAPACITY`] directory descriptors per process, dropped
//! when the process exits or the entry is replaced. It never reads or writes
//! through them. A directory renamed while cached keeps its old name here
//! until the supervisor sees a rename and drops every cache.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::{net, procfs};

/// Directory descriptors remembered per process.
pub const CAPACITY: usize = 4;

/// `kcmp` type: compare two file descriptors' open files.
const KCMP_FILE: libc::c_int = 0;

struct Entry {
    fd: i32,
    dup: OwnedFd,
    path: String,
}

/// One process's cache.
#[derive(Default)]
pub struct DirFds {
    entries: Vec<Entry>,
}

impl DirFds {
    /// The path of the tracee's descriptor `fd` (empty when unknown).
    pub fn path(&mut self, tid: i32, pidfd: Option<&OwnedFd>, fd: i32) -> String {
        if let Some(i) = self.entries.iter().position(|e| e.fd == fd) {
            if same_open_file(tid, fd, &self.entries[i].dup) {
                return self.entries[i].path.clone();
            }
            self.entries.remove(i);
        }
        let path = procfs::fd_target(tid, fd).unwrap_or_default();
        if path.starts_with('/') {
            if let Some(dup) = pidfd.and_then(|p| net::dup_from(p, fd)) {
                if self.entries.len() == CAPACITY {
                    self.entries.remove(0);
                }
                self.entries.push(Entry {
                    fd,
                    dup,
                    path: path.clone(),
                });
            }
        }
        path
    }
}

impl DirFds {
    /// A copy of the duplicate of the tracee's `fd`, for a call whose
    /// [`DirFds::path`] was just asked (and checked it).
    pub fn copy(&self, fd: i32) -> Option<OwnedFd> {
        let e = self.entries.iter().find(|e| e.fd == fd)?;
        e.dup.try_clone().ok()
    }
}

/// Whether the tracee's `fd` is the open file `ours` duplicates.
fn same_open_file(tid: i32, fd: i32, ours: &OwnedFd) -> bool {
    // Our own pid, cached: no syscall per lookup.
    static ME: std::sync::OnceLock<libc::pid_t> = std::sync::OnceLock::new();
    let me = *ME.get_or_init(|| std::process::id() as libc::pid_t);
    // SAFETY: kcmp only compares kernel objects.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, me, tid, KCMP_FILE, ours.as_raw_fd(), fd) };
    r == 0
}
