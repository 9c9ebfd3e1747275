//! Connects the handler of unhooked calls makes on a waiting caller's
//! behalf, for their outcome: on a copy of the caller's socket
//! (`pidfd_getfd`), which is the same socket, so the connection made is the
//! caller's, in its network namespace, with its options, and the call
//! returns what the kernel answered.
//!
//! Only a connect to an inet address that cannot wait is made here: on a
//! non-blocking socket, or a datagram one (which only sets its peer). A
//! blocking stream connect may wait for the network, and a caller waiting
//! here would not be interrupted by its signals (the filter's waits are
//! killable only, see `crate::filter`): the kernel makes it, its outcome
//! unknown. A Unix
//! socket's peer learns who connected (`SO_PEERCRED`, its pid and
//! credentials): made here, that would be this process, so the kernel
//! makes those too.
//!
//! This module never decides and never records: it makes the call.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::net;

/// A connect ready to be made: the caller's socket, and the address to
/// give it.
pub(crate) struct Connect {
    sock: OwnedFd,
    addr: Vec<u8>,
}

/// The connect of process `tgid`, on its socket `fd`, to `addr` (the
/// `sockaddr` it gave), or `None` when it is the kernel's to make.
pub(crate) fn prepare(tgid: i32, fd: i32, addr: &[u8]) -> Option<Connect> {
    let family = u16::from_ne_bytes([*addr.first()?, *addr.get(1)?]) as i32;
    if family != libc::AF_INET && family != libc::AF_INET6 {
        return None;
    }
    let pidfd = net::pidfd_open(tgid)?;
    let sock = net::dup_from(&pidfd, fd)?;
    // SAFETY: F_GETFL on a descriptor we own.
    let flags = unsafe { libc::fcntl(sock.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 || (flags & libc::O_NONBLOCK == 0 && !net::is_datagram(&sock)) {
        return None;
    }
    Some(Connect {
        sock,
        addr: addr.to_vec(),
    })
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
