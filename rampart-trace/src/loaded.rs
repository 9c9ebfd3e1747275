//! Which program an exec the handler of unhooked calls let continue really
//! loaded (enforce mode). An exec cannot be made on the caller's behalf as
//! an open can (`crate::proxy`): the kernel reads its path again when it
//! runs it, and another thread of the caller may have written another name
//! there since the decision. So the handler notes which file the decided
//! path named (device and inode) and, at the process's next call here — a
//! dynamic program's first is its loader's, before any of its code runs —
//! compares it, and the argv the process got, with what was decided:
//! another file or other words are decided again, as the ptrace supervisor
//! decides the image it loaded, and a refused one is killed.
//!
//! A script is not checked (its process runs the interpreter, and the
//! script it reads is not the image); neither is a program that makes no
//! call here before it ends. The process is held by a pidfd from the exec
//! on, so a recycled pid is never taken for it. This module reads `/proc`
//! and the file system; it decides nothing, and kills only what its
//! caller refused ([`Unexpected::kill`]).

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use rampart_core::event::{name_to_bytes, Call, Event};

use crate::{net, procfs};

/// Execs waited for at most; past it, those of processes that ended are
/// forgotten.
const PENDING_MAX: usize = 1024;

/// A file's identity: device and inode.
type FileId = (u64, u64);

struct Expected {
    event: Event,
    /// The program the process ran before the exec (still running it: the
    /// exec failed).
    before: FileId,
    /// The file the decided path named.
    decided: FileId,
    process: OwnedFd,
}

/// A process that runs another program than the exec decided, and that
/// exec decided again on what it runs.
pub(crate) struct Unexpected {
    pub event: Event,
    process: OwnedFd,
}

impl Unexpected {
    /// Kill the process (it has not run the refused program's code yet if
    /// that program is dynamic: this is its loader's first call).
    pub fn kill(&self) {
        // SAFETY: pidfd_send_signal on a pidfd we hold: never another process.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.process.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
    }
}

/// Whether the argv a process runs with is the one decided: the same
/// words, the last one only begun when the decided argv was cut short (at
/// the reader's budget: what was decided is all that must match).
fn same_words(decided: &[String], now: &[String], cut: bool) -> bool {
    if !cut {
        return decided == now;
    }
    let Some((last, whole)) = decided.split_last() else {
        return true;
    };
    now.len() >= decided.len()
        && now[..whole.len()] == *whole
        && now[whole.len()].starts_with(last.as_str())
}

/// Whether the process `pidfd` holds still runs.
fn alive(pidfd: &OwnedFd) -> bool {
    // SAFETY: signal 0 through a pidfd we hold only checks.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            0,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        ) == 0
    }
}

/// Execs let through, by process, until its next call.
#[derive(Default)]
pub(crate) struct Loaded {
    pending: HashMap<i32, Expected>,
    /// Monitor mode: the execs let through, by process, to name the file
    /// the kernel loaded at the process's next call.
    names: HashMap<i32, Expected>,
}

fn id_of(path: &std::path::Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn running(tid: i32) -> Option<FileId> {
    id_of(std::path::Path::new(&format!("/proc/{tid}/exe")))
}

impl Loaded {
    /// Thread `tid` of `tgid` goes on with the allowed exec `event`:
    /// remember what it should load (nothing for a script, or a path that
    /// names nothing now: the exec fails).
    pub fn expect(&mut self, tgid: i32, tid: i32, event: &Event) {
        let Call::Exec { path, .. } = &event.call else {
            return;
        };
        let file = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&name_to_bytes(path)));
        let mut head = [0u8; 2];
        let script = std::fs::File::open(&file)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
            && head == *b"#!";
        let (Some(decided), Some(before)) = (id_of(&file), running(tid)) else {
            return;
        };
        if script {
            return;
        }
        let Some(process) = net::pidfd_open(tgid) else {
            return;
        };
        if self.pending.len() >= PENDING_MAX {
            self.pending.retain(|_, e| alive(&e.process));
        }
        self.pending.insert(
            tgid,
            Expected {
                event: event.clone(),
                before,
                decided,
                process,
            },
        );
    }

    /// The first call of `tgid` (by thread `tid`) since an exec it was let
    /// make: the exec to decide again when the process runs another program
    /// than the one decided (its real image and argv, `via` the decided
    /// path); `None` when it runs that one, or the exec failed.
    /// Monitor mode: `event`, an exec of `tid`, was let through. At the
    /// process's next call, [`Loaded::loaded_name`] says what it loaded.
    pub fn expect_name(&mut self, tgid: i32, tid: i32, event: &Event) {
        let (Some(before), Some(process)) = (running(tid), net::pidfd_open(tgid)) else {
            return;
        };
        if self.names.len() >= PENDING_MAX {
            self.names.retain(|_, e| alive(&e.process));
        }
        let event = event.clone();
        self.names.insert(
            tgid,
            Expected {
                event,
                before,
                decided: before,
                process,
            },
        );
    }

    /// Monitor mode, the first call of process `tgid` (thread `tid`) since
    /// an exec let through: when it runs another file than the exec named (a
    /// link, as `python3` is to `python3.11`; a script's interpreter), that
    /// file as an exec record of its own (`via` the name), with the argv the
    /// new image got, as the ptrace supervisor records it at the exec: a
    /// policy learned from the trail then allows what enforcement checks.
    /// Only where the policy could tell the two apart.
    pub fn loaded_name(&mut self, tgid: i32, tid: i32) -> Option<Event> {
        let expected = self.names.remove(&tgid)?;
        if !alive(&expected.process) || running(tid)? == expected.before {
            return None; // another process with its pid, or the exec failed
        }
        let loaded = procfs::exe(tid).ok()?;
        let Call::Exec { path, .. } = &expected.event.call else {
            return None;
        };
        if loaded == *path {
            return None;
        }
        let mut via = expected.event.clone();
        via.call = Call::Exec {
            path: loaded,
            argv: procfs::cmdline(tgid).unwrap_or_default(),
            via: Some(path.clone()),
        };
        via.outcome = rampart_core::event::Outcome::Ok;
        (via.command() != expected.event.command()).then_some(via)
    }

    pub fn check(&mut self, tgid: i32, tid: i32) -> Option<Unexpected> {
        let expected = self.pending.remove(&tgid)?;
        if !alive(&expected.process) {
            return None; // another process with its pid
        }
        let now = running(tid)?;
        if now == expected.before {
            return None; // the exec failed (or the program ran itself again)
        }
        let argv = procfs::cmdline(tgid).unwrap_or_default();
        let mut again = expected.event;
        let Call::Exec {
            path,
            argv: decided,
            ..
        } = &again.call
        else {
            return None;
        };
        if now == expected.decided && same_words(decided, &argv, again.truncated) {
            return None;
        }
        again.call = Call::Exec {
            path: procfs::exe(tid).unwrap_or_default(),
            argv,
            via: Some(path.clone()),
        };
        Some(Unexpected {
            event: again,
            process: expected.process,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_argv_matches_what_was_decided_of_it() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(same_words(
            &w(&["true", "ran"]),
            &w(&["true", "ran"]),
            false
        ));
        assert!(!same_words(&w(&["true", "ran"]), &w(&["nc", "ran"]), false));
        assert!(!same_words(&w(&["true"]), &w(&["true", "more"]), false));
        // Cut short at the reader's budget: what was read must match.
        assert!(same_words(
            &w(&["cat", "lo"]),
            &w(&["cat", "long-name", "x"]),
            true
        ));
        assert!(!same_words(
            &w(&["cat", "lo"]),
            &w(&["nc", "long-name"]),
            true
        ));
        assert!(!same_words(&w(&["cat", "lo"]), &w(&["cat"]), true));
    }
}
