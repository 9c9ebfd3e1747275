//! What the supervisor learns about a tracee from `/proc`: its executable,
//! working directory, parent, thread group and open descriptors.
//!
//! Each function is one small read; callers cache. Nothing here writes to
//! `/proc` or to the tracee.

use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use rampart_core::event::name_from_bytes;

/// The whole of a small `/proc` file, in as few reads as it takes (one, for
/// `stat` and `status`: `fs::read` starts at 32 bytes and doubles, six
/// reads for a stat line, paid at the first call of every process).
pub(crate) fn read_small(path: &str) -> io::Result<Vec<u8>> {
    let mut file = fs::File::open(path)?;
    let mut out = Vec::with_capacity(4096);
    loop {
        let len = out.len();
        out.resize(len + 4096, 0);
        let n = file.read(&mut out[len..])?;
        out.truncate(len + n);
        // A /proc file gives all it has in one read when it fits: a read
        // that did not fill the room is the last (one system call fewer
        // than reading until nothing comes).
        if n < 4096 {
            return Ok(out);
        }
    }
}

fn link(path: &str) -> io::Result<String> {
    let target = fs::read_link(Path::new(path))?;
    Ok(name_from_bytes(&target.into_os_string().into_vec()).into_owned())
}

/// `/proc/TID/exe`: the file the process executes.
pub fn exe(tid: i32) -> io::Result<String> {
    link(&format!("/proc/{tid}/exe"))
}

/// `/proc/TID/cwd`: the working directory. One that was removed has no
/// name, but the kernel still resolves relative names from it (`..`
/// reaches its old parent): it is then the name it had, without the
/// ` (deleted)` mark the kernel adds (unless a directory by that very name
/// is the working directory).
pub fn cwd(tid: i32) -> io::Result<String> {
    let at = format!("/proc/{tid}/cwd");
    let name = link(&at)?;
    if let Some(was) = name.strip_suffix(" (deleted)") {
        use std::os::unix::fs::MetadataExt;
        let id = |p: &str| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        if id(&name).is_none() || id(&name) != id(&at) {
            return Ok(was.to_string());
        }
    }
    Ok(name)
}

/// `/proc/TID/fd/N`: what descriptor `fd` refers to (a path, `socket:[ino]`, ...).
pub fn fd_target(tid: i32, fd: i32) -> io::Result<String> {
    link(&format!("/proc/{tid}/fd/{fd}"))
}

/// The parent pid, field 4 of `/proc/PID/stat` (after the parenthesised name,
/// which may itself hold spaces and parentheses).
pub fn ppid(pid: i32) -> io::Result<i32> {
    let stat = read_small(&format!("/proc/{pid}/stat"))?;
    parse_stat_ppid(&stat).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/stat: no ppid field"),
        )
    })
}

fn parse_stat_ppid(stat: &[u8]) -> Option<i32> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    fields.next()?; // state
    fields.next()?.parse().ok()
}

/// When the process started, in clock ticks since boot (field 22 of
/// `/proc/PID/stat`): with its pid, what tells it from a later process
/// that got the same pid.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = read_small(&format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    // Field 3 (state) is the first after the name; starttime is field 22.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// Whether thread `tid` may confine itself with Landlock: it has
/// `no_new_privs`, or `CAP_SYS_ADMIN` (from `/proc/TID/status`).
pub fn may_restrict_self(tid: i32) -> bool {
    let Ok(status) = read_small(&format!("/proc/{tid}/status")) else {
        return false;
    };
    let status = String::from_utf8_lossy(&status);
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let cap_eff = field("CapEff:").and_then(|v| u64::from_str_radix(v, 16).ok());
    field("NoNewPrivs:") == Some("1") || cap_eff.is_some_and(|c| c & (1 << 21) != 0)
}

/// The thread group (process) id of thread `tid`, from `/proc/TID/status`.
pub fn tgid(tid: i32) -> io::Result<i32> {
    let status = read_small(&format!("/proc/{tid}/status"))?;
    String::from_utf8_lossy(&status)
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("/proc/{tid}/status: no Tgid line"),
            )
        })
}

/// The process (`Tgid`) and its parent (`PPid`) of thread `tid`, from
/// one read of `/proc/TID/status`.
pub fn ids(tid: i32) -> io::Result<(i32, i32)> {
    let status = read_small(&format!("/proc/{tid}/status"))?;
    let text = String::from_utf8_lossy(&status);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
    };
    match (field("Tgid:"), field("PPid:")) {
        (Some(tgid), Some(ppid)) => Ok((tgid, ppid)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{tid}/status: no Tgid or PPid line"),
        )),
    }
}

/// Whether thread `tid` leads its process (its number is the process's):
/// `pidfd_open` without `PIDFD_THREAD` opens only for a leader. One call
/// and a close, against the many lines of `/proc/TID/status`. False when
/// the thread is gone.
pub fn leads_process(tid: i32) -> bool {
    crate::net::pidfd_open(tid).is_some()
}

/// Whether process `tgid` has one thread (its `/proc/PID/task` directory
/// counts its threads in its links: one `stat`). False when unknown.
pub fn single_threaded(tgid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    // Two links of its own (`.` and its name), and one per thread.
    std::fs::metadata(format!("/proc/{tgid}/task")).is_ok_and(|m| m.nlink() == 3)
}

/// The NUL-separated argument vector of a process, `/proc/PID/cmdline`.
pub fn cmdline(pid: i32) -> io::Result<Vec<String>> {
    let raw = read_small(&format!("/proc/{pid}/cmdline"))?;
    let body = raw.strip_suffix(&[0]).unwrap_or(&raw);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    Ok(body
        .split(|&b| b == 0)
        .map(|w| name_from_bytes(w).into_owned())
        .collect())
}

/// The caller's working directory (`AT_FDCWD`) or directory descriptor
/// `dirfd`, pinned with `O_PATH` through `/proc/TID` (`EBADF`: it has no
/// such descriptor).
pub fn pin_dir(tid: i32, dirfd: i32) -> Result<std::os::fd::OwnedFd, i32> {
    let dir = if dirfd == libc::AT_FDCWD {
        format!("/proc/{tid}/cwd")
    } else {
        format!("/proc/{tid}/fd/{dirfd}")
    };
    let dir = std::ffi::CString::new(dir).map_err(|_| libc::EINVAL)?;
    // SAFETY: plain open of a name we own; the descriptor is ours.
    let fd = unsafe { libc::open(dir.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        // No such descriptor in the caller.
        return Err(if dirfd == libc::AT_FDCWD {
            libc::ENOENT
        } else {
            libc::EBADF
        });
    }
    // SAFETY: a descriptor open() just gave us.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppid_is_read_past_a_name_with_parentheses() {
        assert_eq!(parse_stat_ppid(b"42 (a) b) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parse_stat_ppid(b"1 (init) S 0 1 1"), Some(0));
        assert_eq!(parse_stat_ppid(b"garbage"), None);
    }

    #[test]
    fn own_process_is_described() {
        let me = std::process::id() as i32;
        assert_eq!(tgid(me).unwrap(), me);
        assert_eq!(ppid(me).unwrap(), unsafe { libc::getppid() });
        assert_eq!(
            exe(me).unwrap(),
            std::env::current_exe().unwrap().to_string_lossy()
        );
        assert_eq!(
            cwd(me).unwrap(),
            std::env::current_dir().unwrap().to_string_lossy()
        );
    }
}
