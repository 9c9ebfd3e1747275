//! Connects the handler of unhooked calls makes on a waiting caller's
//! behalf, for their outcome: on a copy of the caller's socket
//! (`pidfd_getfd`), which is the same socket, so the connection made is the
//! caller's, in its network namespace, with its options (a send timeout
//! included), and the call returns what the kernel answered.
//!
//! What is the caller's and must stay so: a path of a Unix socket is
//! reached as the caller reaches it (relative to its working directory,
//! through `/proc/TID/cwd`, with its credentials worn by whoever calls
//! [`connect`]); a caller in another root, or a relative path too long to
//! name that way, is left to the kernel (the call continues). A blocking
//! socket connects on a thread of its own (the handler never waits on a
//! network); a non-blocking one answers at once (`EINPROGRESS` included).
//!
//! This module never decides and never records: it makes the call.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::net;

/// A connect ready to be made: the caller's socket, and the address to
/// give it.
pub(crate) struct Connect {
    sock: OwnedFd,
    addr: Vec<u8>,
    /// The socket blocks: connect on a thread of its own.
    pub blocking: bool,
}

/// `sun_path`'s size.
const SUN_PATH_MAX: usize = 108;

/// The connect of thread `tid` of `tgid`, on its socket `fd`, to `addr`
/// (the `sockaddr` it gave), or `None` when it is the kernel's to make.
pub(crate) fn prepare(tid: i32, tgid: i32, fd: i32, addr: &[u8]) -> Option<Connect> {
    let family = u16::from_ne_bytes([*addr.first()?, *addr.get(1)?]) as i32;
    let addr = match family {
        libc::AF_INET | libc::AF_INET6 => addr.to_vec(),
        libc::AF_UNIX => unix_address(tid, addr)?,
        _ => return None,
    };
    let pidfd = net::pidfd_open(tgid)?;
    let sock = net::dup_from(&pidfd, fd)?;
    // SAFETY: F_GETFL on a descriptor we own.
    let flags = unsafe { libc::fcntl(sock.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return None;
    }
    Some(Connect {
        sock,
        addr,
        blocking: flags & libc::O_NONBLOCK == 0,
    })
}

/// A Unix socket's address as this process must give it to reach what the
/// caller names: an abstract or unnamed one as it is, an absolute path
/// when the caller's root is this process's, a relative one through the
/// caller's working directory.
fn unix_address(tid: i32, addr: &[u8]) -> Option<Vec<u8>> {
    let path = &addr[2..];
    let path = &path[..path.iter().position(|&b| b == 0).unwrap_or(path.len())];
    if path.is_empty() || addr.get(2) == Some(&0) {
        return Some(addr.to_vec()); // unnamed, or abstract: the socket's namespace
    }
    let root = std::fs::read_link(format!("/proc/{tid}/root")).ok()?;
    if root != std::path::Path::new("/") {
        return None;
    }
    if path.starts_with(b"/") {
        return Some(addr.to_vec());
    }
    let mut name = format!("/proc/{tid}/cwd/").into_bytes();
    name.extend_from_slice(path);
    if name.len() >= SUN_PATH_MAX {
        return None;
    }
    let mut out = addr[..2].to_vec();
    out.extend_from_slice(&name);
    out.push(0);
    Some(out)
}

impl Connect {
    /// Make it: `Ok` when connected, else the errno the kernel answered.
    pub fn make(&self) -> Result<(), i32> {
        // SAFETY: `addr` holds a sockaddr of its length, read from the
        // caller and checked for its family.
        let r = unsafe {
            libc::connect(
                self.sock.as_raw_fd(),
                self.addr.as_ptr().cast(),
                self.addr.len() as libc::socklen_t,
            )
        };
        if r == 0 {
            return Ok(());
        }
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_unix_path_is_reached_through_the_callers_cwd() {
        let mut addr = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        addr.extend_from_slice(b"app.sock\0");
        let me = std::process::id() as i32;
        let got = unix_address(me, &addr).unwrap();
        assert_eq!(&got[2..], format!("/proc/{me}/cwd/app.sock\0").as_bytes());
        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend_from_slice(b"/run/x.sock\0");
        assert_eq!(unix_address(me, &abs).unwrap(), abs);
        let mut abstract_ = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abstract_.extend_from_slice(b"\0name");
        assert_eq!(unix_address(me, &abstract_).unwrap(), abstract_);
        let mut long = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        long.extend_from_slice(&[b'a'; 100]);
        assert_eq!(unix_address(me, &long), None);
    }
}
