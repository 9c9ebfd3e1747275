//! What the supervisor learns about a tracee from `/proc`: its executable,
//! working directory, parent, thread group and open descriptors.
//!
//! Each function is one small read; callers cache. Nothing here writes to
//! `/proc` or to the tracee.

use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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

/// `PIDFD_GET_INFO` (Linux 6.13): `_IOWR(0xFF, 11, struct pidfd_info)`.
const PIDFD_GET_INFO: libc::c_ulong = 0xC040_FF0B;
/// `PIDFD_THREAD` (Linux 6.9): a pidfd of any thread, not only a leader.
const PIDFD_THREAD: libc::c_int = libc::O_EXCL;
/// `PIDFD_INFO_PID`: the ids are filled in.
const PIDFD_INFO_PID: u64 = 1;

/// `struct pidfd_info` as its first version is laid out (64 bytes).
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    pid: u32,
    tgid: u32,
    ppid: u32,
    creds: [u32; 8],
    spare: u32,
}

/// Thread `tid`'s process and that process's parent, as [`ids`] reads
/// them, from a pidfd of the thread: two calls and a close, where
/// `/proc/TID/status` formats fifty lines (several times the cost, on a
/// process that just started). `None` on a kernel before 6.13, or when
/// the thread is gone.
pub fn ids_of_thread(tid: i32) -> Option<(i32, i32)> {
    // SAFETY: plain syscall; a non-negative result is a new descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) };
    if fd < 0 {
        return None;
    }
    // SAFETY: just opened, ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_PID,
        ..PidfdInfo::default()
    };
    // SAFETY: the ioctl fills our struct, of the size its number says.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), PIDFD_GET_INFO, &mut info) };
    (r == 0 && info.mask & PIDFD_INFO_PID != 0 && info.pid == tid as u32)
        .then_some((info.tgid as i32, info.ppid as i32))
}

/// Whether process `tgid` has one thread (its `/proc/PID/task` directory
/// counts its threads in its links: one `stat`). False when unknown.
pub fn single_threaded(tgid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    // Two links of its own (`.` and its name), and one per thread.
    std::fs::metadata(format!("/proc/{tgid}/task")).is_ok_and(|m| m.nlink() == 3)
}

/// Whether thread `tid` has a signal pending that it does not block (its
/// own or its process's: `SigPnd`, `ShdPnd`, `SigBlk` of
/// `/proc/TID/status`). `false` when that cannot be read.
pub fn signal_pending(tid: i32) -> bool {
    let Ok(status) = read_small(&format!("/proc/{tid}/status")) else {
        return false;
    };
    let (mut pending, mut blocked) = (0u64, 0u64);
    for line in String::from_utf8_lossy(&status).lines() {
        let mask = |v: &str| u64::from_str_radix(v.trim(), 16).unwrap_or(0);
        if let Some(v) = line
            .strip_prefix("SigPnd:")
            .or_else(|| line.strip_prefix("ShdPnd:"))
        {
            pending |= mask(v);
        } else if let Some(v) = line.strip_prefix("SigBlk:") {
            blocked = mask(v);
        }
    }
    pending & !blocked != 0
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

    #[test]
    fn a_threads_process_and_parent_come_alike_from_its_pidfd_and_from_proc() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            // SAFETY: plain syscall.
            tx.send(unsafe { libc::gettid() }).unwrap();
            let _ = wait.recv();
        });
        let tid = rx.recv().unwrap();
        let me = std::process::id() as i32;
        let from_proc = ids(tid).unwrap();
        assert_eq!(from_proc, (me, unsafe { libc::getppid() }));
        // Before Linux 6.13 there is no such ioctl (the caller reads /proc).
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut v = release
            .split(['.', '-'])
            .map(|n| n.parse::<u32>().unwrap_or(0));
        let has_it = (v.next().unwrap(), v.next().unwrap()) >= (6, 13);
        assert_eq!(ids_of_thread(tid), has_it.then_some(from_proc), "{release}");
        assert_eq!(ids_of_thread(me), has_it.then_some(from_proc), "{release}");
        done.send(()).unwrap();
        t.join().unwrap();
    }
}
