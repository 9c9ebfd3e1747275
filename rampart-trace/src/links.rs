//! Following a path's links from the tracer, as the kernel will for a
//! creating open: `open("l", O_CREAT)` where `l` is a dangling symlink
//! creates the file `l` points to, and `open("d/new", O_CREAT)` where `d`
//! is a link to a directory creates it there; that file must be decided
//! before it exists. (An open of an existing file is decided again at its exit on
//! the file it reached, which needs no prediction.)
//!
//! It also names the file any open reaches before it runs ([`reached_at`]).
//! It reads the file system (`lstat`, `readlink`, `realpath` of the
//! directory, `O_PATH` opens) and never changes it. What it says can be out of date by the
//! time the kernel walks the path; the exit check covers what was opened,
//! and an empty file created through a link swapped in between is the
//! known limit (README: threat model).

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rampart_core::event::{name_from_bytes, name_to_bytes};

use rampart_core::path;

/// The kernel's limit on links followed in one walk.
const MAX_LINKS: usize = 40;

/// Where a creating open of the absolute, cleaned `path` lands when a link
/// leads elsewhere (its last name, followed as the kernel does, or a
/// directory on the way); `None` when it lands on `path` itself, or the
/// walk fails (the kernel then fails the open too).
pub fn created_at(path: &str) -> Option<String> {
    // A tracee's /proc/self is not the tracer's: leave those to the exit check.
    if path.starts_with("/proc/") {
        return None;
    }
    let mut at = PathBuf::from(OsStr::from_bytes(&name_to_bytes(path)));
    for _ in 0..MAX_LINKS {
        let meta = fs::symlink_metadata(&at).ok();
        if !meta.is_some_and(|m| m.file_type().is_symlink()) {
            break;
        }
        let target = fs::read_link(&at).ok()?;
        let dir = at.parent().unwrap_or(Path::new("/")).to_path_buf();
        at = dir.join(target);
    }
    // The directory as the kernel reaches it (links in it followed, a
    // last name that is no link included: `dl/new` with `dl` a link).
    let name = at.file_name()?.to_os_string();
    let dir = fs::canonicalize(at.parent()?).ok()?;
    let landed = path::clean(&name_from_bytes(dir.join(name).as_os_str().as_bytes())).into_owned();
    (landed != path).then_some(landed)
}

/// The file an open of the absolute, cleaned `path` by thread `tid` of
/// `tgid` reaches now, when that is another name (a link on the way, the
/// last name a link the open follows): the tracer opens it itself with
/// `O_PATH` (nothing is opened for real) and reads the name back, so the
/// open is decided before the program holds a descriptor. `/proc/self`,
/// `/proc/thread-self` and `/dev/fd` names are the thread's, not the
/// tracer's. `None`: it reaches `path` itself, or nothing (a creating open
/// is [`created_at`]'s).
pub fn reached_at(path: &str, follow_last: bool, tid: i32, tgid: i32) -> Option<String> {
    let own = thread_own(path, tid, tgid);
    let name = own.as_deref().unwrap_or(path);
    let c_name = std::ffi::CString::new(name_to_bytes(name).into_owned()).ok()?;
    let last = if follow_last { 0 } else { libc::O_NOFOLLOW };
    // A name with no link on its way is reached as it is: one openat2.
    // struct open_how: flags, mode, resolve (RESOLVE_NO_SYMLINKS |
    // RESOLVE_NO_MAGICLINKS).
    let how: [u64; 3] = [
        (libc::O_PATH | libc::O_CLOEXEC | last) as u64,
        0,
        0x04 | 0x02,
    ];
    // SAFETY: openat2 reads the name and `how`; a descriptor we own comes back.
    let plain = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c_name.as_ptr(),
            how.as_ptr(),
            std::mem::size_of_val(&how),
        )
    };
    if plain >= 0 {
        // SAFETY: closing the descriptor openat2 gave us.
        unsafe { libc::close(plain as i32) };
        return own.filter(|o| o != path);
    }
    // SAFETY: errno of the call above.
    let err = unsafe { *libc::__errno_location() };
    if err != libc::ELOOP && err != libc::EXDEV && err != libc::ENOSYS && err != libc::EPERM {
        return None; // reaches nothing: the kernel fails the open too
    }
    // SAFETY: plain open with O_PATH; a descriptor we own comes back.
    let pin = unsafe { libc::open(c_name.as_ptr(), libc::O_PATH | libc::O_CLOEXEC | last) };
    if pin < 0 {
        return None;
    }
    let reached = fs::read_link(format!("/proc/self/fd/{pin}")).ok();
    // SAFETY: closing our pin.
    unsafe { libc::close(pin) };
    let reached = path::clean(&name_from_bytes(reached?.as_os_str().as_bytes())).into_owned();
    (reached.starts_with('/') && reached != path).then_some(reached)
}

/// `path` spelled with the thread's own `/proc` entries for the names that
/// mean "this process" (`None`: no such name in it).
fn thread_own(path: &str, tid: i32, tgid: i32) -> Option<String> {
    thread_own_bytes(path.as_bytes(), tid, tgid).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// [`thread_own`] for the bytes of a path as a program gave it.
pub(crate) fn thread_own_bytes(path: &[u8], tid: i32, tgid: i32) -> Option<Vec<u8>> {
    let swaps = [
        ("/proc/self", format!("/proc/{tgid}")),
        ("/proc/thread-self", format!("/proc/{tgid}/task/{tid}")),
        ("/dev/fd", format!("/proc/{tgid}/fd")),
        ("/dev/stdin", format!("/proc/{tgid}/fd/0")),
        ("/dev/stdout", format!("/proc/{tgid}/fd/1")),
        ("/dev/stderr", format!("/proc/{tgid}/fd/2")),
    ];
    swaps.iter().find_map(|(from, to)| {
        let rest = path.strip_prefix(from.as_bytes())?;
        (rest.is_empty() || rest[0] == b'/').then(|| [to.as_bytes(), rest].concat())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_dangling_link_lands_where_it_points() {
        let d = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(d.path()).unwrap();
        fs::create_dir(root.join("real")).unwrap();
        symlink(root.join("real"), root.join("dirlink")).unwrap();
        symlink("dirlink/new.txt", root.join("l1")).unwrap();
        symlink("l1", root.join("l2")).unwrap();
        let l2 = root.join("l2");
        assert_eq!(
            created_at(l2.to_str().unwrap()).as_deref(),
            root.join("real/new.txt").to_str()
        );
        // Not a link, or missing: the name itself.
        assert_eq!(created_at(root.join("real").to_str().unwrap()), None);
        assert_eq!(created_at(root.join("missing").to_str().unwrap()), None);
        // A link on the way: where the directory really is.
        let through = root.join("dirlink/new.txt");
        assert_eq!(
            created_at(through.to_str().unwrap()).as_deref(),
            root.join("real/new.txt").to_str()
        );
        // An open of an existing file through links: the file.
        std::fs::write(root.join("real/f"), "x").unwrap();
        symlink(root.join("real/f"), root.join("flink")).unwrap();
        let me = std::process::id() as i32;
        let flink = root.join("flink");
        assert_eq!(
            reached_at(flink.to_str().unwrap(), true, me, me).as_deref(),
            root.join("real/f").to_str()
        );
        let via_dir = root.join("dirlink/f");
        assert_eq!(
            reached_at(via_dir.to_str().unwrap(), true, me, me).as_deref(),
            root.join("real/f").to_str()
        );
        // No link on the way, or O_NOFOLLOW on a last-name link: itself.
        let plain = root.join("real/f");
        assert_eq!(reached_at(plain.to_str().unwrap(), true, me, me), None);
        assert_eq!(reached_at(flink.to_str().unwrap(), false, me, me), None);
        // A loop fails as the kernel's walk would.
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(created_at(root.join("loop").to_str().unwrap()), None);
    }
}
