//! Connects the handlers of the tree's calls make on a waiting caller's
//! behalf: on a copy of the caller's socket (`pidfd_getfd`), which is the
//! same socket, so the connection made is the caller's, in its network
//! namespace, with its options.
//!
//! In monitor mode a connect is made here for its outcome, and only one to
//! an inet address that cannot wait: on a non-blocking socket, or a
//! datagram one (which only sets its peer); the call returns what the
//! kernel answered here.
//!
//! Under enforcement a connect is made here so that the address connected
//! to is the one decided: the kernel reads the caller's `sockaddr` again
//! when the call runs, and another thread of the caller may have rewritten
//! it since. A TCP (or MPTCP) connect on a blocking socket is *started*
//! here, on the decided address (the socket's shared file made
//! non-blocking for that one call), then waited for: by the handler of
//! unhooked calls on a thread ([`Connect::wait`], which keeps the caller's
//! `SO_SNDTIMEO` and gives way to its signals, for a caller waiting on a
//! notification is not interrupted by them: the filter's waits are
//! killable only, see `crate::filter`), or by the traced caller's own
//! call, which on a socket already connecting ignores the address it is
//! given and waits for that connection (a `sockaddr` rewritten to
//! `AF_UNSPEC` only drops it).
//!
//! A Unix socket's peer learns who connected (`SO_PEERCRED`, its pid and
//! credentials): made here, that would be this process, so the kernel
//! makes those, on the address it reads then. Other stream protocols
//! (SCTP) are the kernel's to make too. What the traced caller's own wait
//! leaves open: its call runs on its descriptor *number*, so a thread that
//! puts another socket there (`dup2`) between the start and the call has
//! the kernel connect that one to the address it reads then.
//!
//! This module never decides and never records: it makes the call.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::net;

/// A connect ready to be made: the caller's socket, and the address to
/// give it.
pub(crate) struct Connect {
    sock: OwnedFd,
    addr: Vec<u8>,
    /// A blocking TCP or MPTCP socket: the connect is started here, then
    /// waited for ([`Made::Started`]).
    starts: bool,
}

/// How often a wait for a connection looks for the caller's signals, in ms.
const SLICE_MS: i32 = 20;

/// The kernel's "restart after the handler, or fail `EINTR`" errno, which
/// a notification may be answered with.
pub const ERESTARTSYS: i32 = 512;

/// How a connect made here went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Made {
    /// It returned: `Ok` when connected, else the errno the kernel answered.
    Now(Result<(), i32>),
    /// Started on the decided address, to be waited for: by
    /// [`Connect::wait`] (the handler of unhooked calls), or by the traced
    /// caller's own call.
    Started,
}

/// The connect of process `tgid`, on its socket `fd`, to `addr` (the
/// `sockaddr` it gave), or `None` when it is the kernel's to make.
/// `start`: a blocking TCP connect may be started here ([`Made::Started`]);
/// without it, only one that cannot wait is made.
pub(crate) fn prepare(tgid: i32, fd: i32, addr: &[u8], start: bool) -> Option<Connect> {
    let family = u16::from_ne_bytes([*addr.first()?, *addr.get(1)?]) as i32;
    if family != libc::AF_INET && family != libc::AF_INET6 {
        return None;
    }
    let pidfd = net::pidfd_open(tgid)?;
    let sock = net::dup_from(&pidfd, fd)?;
    // SAFETY: F_GETFL on a descriptor we own.
    let flags = unsafe { libc::fcntl(sock.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return None;
    }
    let mut starts = false;
    if flags & libc::O_NONBLOCK == 0 && !net::is_datagram(&sock) {
        let stream = net::protocol(&sock);
        if !start || !matches!(stream, Some(libc::IPPROTO_TCP | libc::IPPROTO_MPTCP)) {
            return None;
        }
        starts = true;
    }
    Some(Connect {
        sock,
        addr: addr.to_vec(),
        starts,
    })
}

impl Connect {
    /// After [`Made::Started`]: wait for the connection as the caller's
    /// blocking connect would (its `SO_SNDTIMEO`, else for as long as it
    /// takes): `Ok` when connected, else the errno its connect would have
    /// returned (`EINPROGRESS` when the timeout ran out). Every
    /// [`SLICE_MS`] it asks `interrupted` whether the caller has a signal
    /// to take, and then returns `ERESTARTSYS`, as the kernel's wait does:
    /// answered so, the call is made again after the caller's handler
    /// (`SA_RESTART`; it then waits for the same connection) or fails
    /// `EINTR`, the connection going on.
    pub fn wait(&self, interrupted: impl Fn() -> bool) -> Result<(), i32> {
        let fd = self.sock.as_raw_fd();
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
        // SAFETY: tv/len are live and sized as announced.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_SNDTIMEO,
                (&mut tv as *mut libc::timeval).cast(),
                &mut len,
            )
        };
        let timeout_ms = if r == 0 && (tv.tv_sec > 0 || tv.tv_usec > 0) {
            (tv.tv_sec.saturating_mul(1000) + tv.tv_usec / 1000).clamp(1, i32::MAX as i64) as i32
        } else {
            -1
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        let mut left = timeout_ms;
        loop {
            let slice = if left < 0 {
                SLICE_MS
            } else {
                left.min(SLICE_MS)
            };
            // SAFETY: one pollfd of ours.
            match unsafe { libc::poll(&mut pfd, 1, slice) } {
                n if n > 0 => break,
                0 => {
                    if left >= 0 {
                        left -= slice;
                        if left <= 0 {
                            return Err(libc::EINPROGRESS);
                        }
                    }
                    if interrupted() {
                        return Err(ERESTARTSYS);
                    }
                }
                _ if errno() == libc::EINTR => continue,
                _ => return Err(errno()),
            }
        }
        match net::int_option(&self.sock, libc::SO_ERROR) {
            Some(0) => Ok(()),
            Some(e) => Err(e),
            None => Err(errno()),
        }
    }

    /// Make it (or start it, see [`Made::Started`]).
    pub fn make(&self) -> Made {
        let fd = self.sock.as_raw_fd();
        let mut flags = 0;
        if self.starts {
            // SAFETY: fcntl on a descriptor we own.
            flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            // SAFETY: as above; only O_NONBLOCK changes, for this call.
            if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0
            {
                return Made::Now(Err(libc::EIO));
            }
        }
        // SAFETY: `addr` holds a sockaddr of its length, read from the
        // caller and checked for its family.
        let r = unsafe {
            libc::connect(
                fd,
                self.addr.as_ptr().cast(),
                self.addr.len() as libc::socklen_t,
            )
        };
        let errno = errno();
        if self.starts {
            // SAFETY: as above: the flags the socket had.
            unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
        }
        match (r, errno) {
            (0, _) => Made::Now(Ok(())),
            // Under way to the decided address (or already, after a
            // signal interrupted a wait and the caller connects again): to
            // be waited for.
            (_, libc::EINPROGRESS | libc::EALREADY) if self.starts => Made::Started,
            (_, errno) => Made::Now(Err(errno)),
        }
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}
