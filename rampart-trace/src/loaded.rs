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
    /// What to decide, in order: the file loaded when it is not the one
    /// decided, and the program the dynamic loader runs when the image is
    /// the loader run as a program ([`run_by_loader`]).
    pub events: Vec<Event>,
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
    pub fn loaded_name(&mut self, tgid: i32, tid: i32) -> Vec<Event> {
        let Some(expected) = self.names.remove(&tgid) else {
            return Vec::new();
        };
        if !alive(&expected.process) || running(tid).is_none_or(|now| now == expected.before) {
            return Vec::new(); // another process with its pid, or the exec failed
        }
        let Ok(loaded) = procfs::exe(tid) else {
            return Vec::new();
        };
        let Call::Exec { path, .. } = &expected.event.call else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if loaded != *path {
            let mut via = expected.event.clone();
            via.call = Call::Exec {
                path: loaded.clone(),
                argv: procfs::cmdline(tgid).unwrap_or_default(),
                via: Some(path.clone()),
            };
            out.push(via);
        }
        out.extend(run_by_loader(&expected.event, &loaded, tid));
        out.retain(|e| e.command() != expected.event.command());
        for e in &mut out {
            e.outcome = rampart_core::event::Outcome::Ok;
        }
        out
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
        let image = procfs::exe(tid).unwrap_or_default();
        let run = run_by_loader(&again, &image, tid);
        let mut events = Vec::new();
        if now != expected.decided || !same_words(decided, &argv, again.truncated) {
            again.call = Call::Exec {
                path: image,
                argv,
                via: Some(path.clone()),
            };
            events.push(again);
        }
        events.extend(run);
        (!events.is_empty()).then_some(Unexpected {
            events,
            process: expected.process,
        })
    }
}

/// When the new image `loaded` of thread `tid` is the dynamic loader run
/// as a program (`rampart_core::loader`): the program it runs, from the
/// argv it got ([`program_of_loader`]).
pub fn run_by_loader(event: &Event, loaded: &str, tid: i32) -> Option<Event> {
    if !rampart_core::loader::is_loader(loaded.as_bytes()) {
        return None;
    }
    let argv = procfs::cmdline(tid).ok()?;
    let cwd = format!("/proc/{tid}/cwd");
    program_of_loader(event, loaded, &argv, std::path::Path::new(&cwd))
}

/// When `loaded` is the dynamic loader run as a program with `argv` in
/// directory `cwd`: the program it runs, with the argv it gets, as an
/// exec of its own `via` the loader (its name resolved from `cwd`).
pub fn program_of_loader(
    event: &Event,
    loaded: &str,
    argv: &[String],
    cwd: &std::path::Path,
) -> Option<Event> {
    use rampart_core::event::{name_from_bytes, name_to_bytes};
    use std::os::unix::ffi::OsStrExt;
    if !rampart_core::loader::is_loader(loaded.as_bytes()) {
        return None;
    }
    let run = rampart_core::loader::program(argv.iter().map(|a| a.as_bytes()))?;
    let name = std::str::from_utf8(run.name).ok()?.to_string();
    let path = if name.contains('/') {
        // Its own name, links resolved, from the tracee's directory.
        let raw = name_to_bytes(&name);
        let at = cwd.join(std::ffi::OsStr::from_bytes(&raw));
        std::fs::canonicalize(at)
            .map(|p| name_from_bytes(p.as_os_str().as_bytes()).into_owned())
            .unwrap_or_else(|_| name.clone())
    } else {
        name.clone()
    };
    let argv0 = run
        .argv0
        .and_then(|a| std::str::from_utf8(a).ok())
        .map_or(name, str::to_string);
    let mut also = event.clone();
    also.call = Call::Exec {
        path,
        argv: std::iter::once(argv0)
            .chain(argv.iter().skip(run.index + 1).cloned())
            .collect(),
        via: Some(loaded.to_string()),
    };
    Some(also)
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
