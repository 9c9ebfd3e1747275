//! Socket facts about a tracee's `connect`: the address it names (inet, inet6
//! or unix, read from the tracee's sockaddr) and whether the socket is a
//! datagram socket (asked of a duplicate obtained with `pidfd_getfd`).
//!
//! It never talks on the tracee's sockets: the duplicate is only asked its
//! type and closed at once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use rampart_core::event::Proto;

/// The address a `connect` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Inet {
        addr: IpAddr,
        port: u16,
    },
    /// A unix socket path as given (relative, absolute, or `@abstract`).
    Unix {
        path: String,
    },
    /// Another family (netlink, `AF_UNSPEC` disconnect, ...): not a network
    /// connection Rampart records.
    Other,
}

/// Decode the first `len` bytes of a sockaddr.
pub fn parse_sockaddr(raw: &[u8]) -> Target {
    if raw.len() < 2 {
        return Target::Other;
    }
    let family = u16::from_ne_bytes([raw[0], raw[1]]) as i32;
    match family {
        libc::AF_INET if raw.len() >= 8 => Target::Inet {
            port: u16::from_be_bytes([raw[2], raw[3]]),
            addr: IpAddr::V4(Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7])),
        },
        libc::AF_INET6 if raw.len() >= 24 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&raw[8..24]);
            Target::Inet {
                port: u16::from_be_bytes([raw[2], raw[3]]),
                addr: IpAddr::V6(Ipv6Addr::from(a)),
            }
        }
        libc::AF_UNIX => {
            let name = &raw[2..];
            let path = match name.first() {
                None => String::new(),
                Some(0) => format!(
                    "@{}",
                    rampart_core::event::name_from_bytes(&name[1..]).replace('\0', "@")
                ),
                Some(_) => {
                    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                    rampart_core::event::name_from_bytes(&name[..end]).into_owned()
                }
            };
            Target::Unix { path }
        }
        _ => Target::Other,
    }
}

/// A pidfd for `pid` (kept by the caller for the process's lifetime).
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: plain syscall; a non-negative result is a new descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A duplicate of the tracee's descriptor `fd` (`pidfd_getfd`).
pub fn dup_from(pidfd: &OwnedFd, fd: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_getfd returns a new descriptor we own, or -1.
    let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if dup < 0 {
        return None;
    }
    Some(unsafe { OwnedFd::from_raw_fd(dup as i32) })
}

/// The transport of the tracee's socket `fd`: UDP when it is a datagram
/// socket, else TCP (also when the type cannot be learned).
pub fn socket_proto(pidfd: Option<&OwnedFd>, fd: i32) -> Proto {
    let Some(pidfd) = pidfd else {
        return Proto::Tcp;
    };
    let Some(dup) = dup_from(pidfd, fd) else {
        return Proto::Tcp;
    };
    if is_datagram(&dup) {
        Proto::Udp
    } else {
        Proto::Tcp
    }
}

/// The `SOL_SOCKET` option `name` of `sock`, an `int` one
/// (`SO_PROTOCOL`, `SO_TYPE`, `SO_ERROR`), if it can be read.
pub fn int_option(sock: &impl AsRawFd, name: libc::c_int) -> Option<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value/len are live and sized as announced.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(value)
}

/// The protocol of `sock` (`SO_PROTOCOL`: `IPPROTO_TCP`, ...), if it
/// can be read.
pub fn protocol(sock: &OwnedFd) -> Option<i32> {
    int_option(sock, libc::SO_PROTOCOL)
}

/// Whether `sock` is a datagram socket (also: its connect never waits).
pub fn is_datagram(sock: &OwnedFd) -> bool {
    int_option(sock, libc::SO_TYPE) == Some(libc::SOCK_DGRAM)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sockaddr_in(port: u16, ip: [u8; 4]) -> Vec<u8> {
        let mut v = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        v.extend(port.to_be_bytes());
        v.extend(ip);
        v.extend([0u8; 8]);
        v
    }

    #[test]
    fn decodes_inet_inet6_and_unix() {
        assert_eq!(
            parse_sockaddr(&sockaddr_in(443, [1, 2, 3, 4])),
            Target::Inet {
                addr: "1.2.3.4".parse().unwrap(),
                port: 443
            }
        );
        let mut v6 = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        v6.extend(53u16.to_be_bytes());
        v6.extend([0u8; 4]);
        v6.extend("::1".parse::<Ipv6Addr>().unwrap().octets());
        v6.extend([0u8; 4]);
        assert_eq!(
            parse_sockaddr(&v6),
            Target::Inet {
                addr: "::1".parse().unwrap(),
                port: 53
            }
        );
        let mut un = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        un.extend(b"/run/x.sock\0garbage");
        assert_eq!(
            parse_sockaddr(&un),
            Target::Unix {
                path: "/run/x.sock".into()
            }
        );
        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend(b"\0hidden");
        assert_eq!(
            parse_sockaddr(&abs),
            Target::Unix {
                path: "@hidden".into()
            }
        );
        assert_eq!(
            parse_sockaddr(&(libc::AF_NETLINK as u16).to_ne_bytes()),
            Target::Other
        );
    }
}
