//! `connect`, and the DNS calls that tell a connect its `domain`:
//! `getaddrinfo`, `gethostbyname`, `gethostbyname2`, `gethostbyname_r`,
//! `gethostbyname2_r`.
//!
//! The DNS hooks call the real function and remember each address it
//! returned under the name asked for (see [`crate::dns`]); numeric names are
//! not remembered. `connect` reports inet (tcp/udp by socket type) and
//! unix-socket connects after the real call; a non-blocking connect that
//! returns EINPROGRESS is reported as in progress. In enforce mode the
//! connect is decided first; a refused one fails with EACCES.

use libc::{c_char, c_int, sockaddr, socklen_t};
use rampart_core::wire::{self, InetAddr, WireOutcome, WireProto};

use crate::enforce::{self, Gate};

use crate::real::{get, must};
use crate::report;
use crate::sys;

/// Report a connect of `fd` to `addr` that returned `ok`/`err`.
pub unsafe fn after_connect(
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
    ok: bool,
    err: c_int,
) {
    if addr.is_null()
        || (len as usize) < core::mem::size_of::<libc::sa_family_t>()
        || (!ok && err == libc::EFAULT)
    {
        return;
    }
    let family = (*addr).sa_family as c_int;
    if family != libc::AF_INET && family != libc::AF_INET6 && family != libc::AF_UNIX {
        return;
    }
    let Some(cx) = report::ctx() else { return };
    let oc = if ok {
        WireOutcome::Ok
    } else if err == libc::EINPROGRESS {
        WireOutcome::InProgress
    } else {
        WireOutcome::Errno(err)
    };
    match family {
        libc::AF_INET if len as usize >= core::mem::size_of::<libc::sockaddr_in>() => {
            let sin = &*(addr as *const libc::sockaddr_in);
            let a = sin.sin_addr.s_addr.to_ne_bytes();
            let Some(mut conn) = cx.conn() else { return };
            report::connect_inet(
                &cx,
                &mut conn,
                InetAddr::V4(a),
                u16::from_be(sin.sin_port),
                proto(fd),
                oc,
            );
        }
        libc::AF_INET6 if len as usize >= core::mem::size_of::<libc::sockaddr_in6>() => {
            let sin6 = &*(addr as *const libc::sockaddr_in6);
            let Some(mut conn) = cx.conn() else { return };
            report::connect_inet(
                &cx,
                &mut conn,
                InetAddr::V6(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                proto(fd),
                oc,
            );
        }
        libc::AF_UNIX => {
            let off = core::mem::size_of::<libc::sa_family_t>();
            let n = (len as usize).min(core::mem::size_of::<libc::sockaddr_un>()) - off;
            if n == 0 {
                return; // unnamed
            }
            let name = core::slice::from_raw_parts((addr as *const u8).add(off), n);
            let Some(mut conn) = cx.conn() else { return };
            report::connect_unix(&cx, &mut conn, name, oc);
        }
        _ => {}
    }
}

/// Enforce mode: decide a connect of `fd` to `addr` before it is made;
/// `None` when it is not decided first (monitor mode, a family that is not
/// recorded, a tool the policy cannot refuse): then it is reported after.
pub unsafe fn before_connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> Option<Gate> {
    if addr.is_null() || (len as usize) < core::mem::size_of::<libc::sa_family_t>() {
        return None;
    }
    let family = (*addr).sa_family as c_int;
    if !crate::state::saved()?.enforce {
        return None; // monitor mode: not even the pid is needed yet
    }
    let cx = report::ctx()?;
    let err = sys::errno();
    let mut conn = cx.conn();
    if !enforce::needs_verdict(&cx, wire::TOOL_NET, conn.as_ref()) {
        sys::set_errno(err);
        return None;
    }
    let gate = match family {
        libc::AF_INET if len as usize >= core::mem::size_of::<libc::sockaddr_in>() => {
            let sin = &*(addr as *const libc::sockaddr_in);
            Some(report::connect_inet_gate(
                &cx,
                &mut conn,
                InetAddr::V4(sin.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(sin.sin_port),
                proto(fd),
            ))
        }
        libc::AF_INET6 if len as usize >= core::mem::size_of::<libc::sockaddr_in6>() => {
            let sin6 = &*(addr as *const libc::sockaddr_in6);
            Some(report::connect_inet_gate(
                &cx,
                &mut conn,
                InetAddr::V6(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                proto(fd),
            ))
        }
        libc::AF_UNIX => {
            let off = core::mem::size_of::<libc::sa_family_t>();
            let n = (len as usize).min(core::mem::size_of::<libc::sockaddr_un>()) - off;
            if n == 0 {
                None // unnamed: not recorded
            } else {
                let name = core::slice::from_raw_parts((addr as *const u8).add(off), n);
                Some(report::connect_unix_gate(&cx, &mut conn, name))
            }
        }
        _ => None,
    };
    sys::set_errno(err);
    gate
}

/// Decide (enforce mode), connect with `real`, report. A refused connect
/// fails with EACCES without being made.
pub unsafe fn connect_gated(
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
    real: impl FnOnce() -> c_int,
) -> c_int {
    match before_connect(fd, addr, len) {
        Some(Gate::Refuse) => {
            sys::set_errno(libc::EACCES);
            return -1;
        }
        Some(Gate::Run {
            report_after: false,
        }) => return real(),
        Some(Gate::Run { report_after: true }) | None => {}
    }
    let r = real();
    let err = sys::errno();
    after_connect(fd, addr, len, r == 0, err);
    sys::set_errno(err);
    r
}

fn proto(fd: c_int) -> WireProto {
    match sys::socket_type(fd) {
        Some(libc::SOCK_DGRAM) => WireProto::Udp,
        _ => WireProto::Tcp,
    }
}

#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    connect_gated(fd, addr, len, || match get::connect() {
        Some(f) => f(fd, addr, len),
        None => match sys::raw(
            libc::SYS_connect,
            fd as usize,
            addr as usize,
            len as usize,
            0,
        ) {
            Ok(_) => 0,
            Err(e) => {
                sys::set_errno(e);
                -1
            }
        },
    })
}

// ---- DNS ---------------------------------------------------------------------

extern "C" {
    fn inet_pton(af: c_int, src: *const c_char, dst: *mut libc::c_void) -> c_int;
}

/// Is `name` an address literal rather than a name?
fn is_numeric(name: *const c_char) -> bool {
    let mut buf = [0u8; 16];
    // SAFETY: inet_pton reads a C string and writes at most 16 bytes.
    unsafe {
        inet_pton(libc::AF_INET, name, buf.as_mut_ptr().cast()) == 1
            || inet_pton(libc::AF_INET6, name, buf.as_mut_ptr().cast()) == 1
    }
}

unsafe fn remember_sockaddr(sa: *const sockaddr, name: &[u8]) {
    if sa.is_null() {
        return;
    }
    match (*sa).sa_family as c_int {
        libc::AF_INET => {
            let sin = &*(sa as *const libc::sockaddr_in);
            crate::dns::remember(InetAddr::V4(sin.sin_addr.s_addr.to_ne_bytes()), name);
        }
        libc::AF_INET6 => {
            let sin6 = &*(sa as *const libc::sockaddr_in6);
            crate::dns::remember(InetAddr::V6(sin6.sin6_addr.s6_addr), name);
        }
        _ => {}
    }
}

unsafe fn remember_hostent(h: *const libc::hostent, name: *const c_char) {
    if h.is_null() || name.is_null() || is_numeric(name) {
        return;
    }
    let name = sys::cstr_bytes(name);
    let list = (*h).h_addr_list;
    if list.is_null() {
        return;
    }
    let mut i = 0;
    while !(*list.add(i)).is_null() {
        let p = *list.add(i) as *const u8;
        match ((*h).h_addrtype, (*h).h_length) {
            (libc::AF_INET, 4) => {
                let mut a = [0u8; 4];
                a.copy_from_slice(core::slice::from_raw_parts(p, 4));
                crate::dns::remember(InetAddr::V4(a), name);
            }
            (libc::AF_INET6, 16) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(core::slice::from_raw_parts(p, 16));
                crate::dns::remember(InetAddr::V6(a), name);
            }
            _ => {}
        }
        i += 1;
        if i > 64 {
            break;
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    let Some(real) = must::getaddrinfo() else {
        return libc::EAI_SYSTEM;
    };
    let r = real(node, service, hints, res);
    if r == 0 && !node.is_null() && !res.is_null() && !is_numeric(node) {
        let err = sys::errno();
        let name = sys::cstr_bytes(node);
        let mut ai = *res;
        let mut n = 0;
        while !ai.is_null() && n < 64 {
            remember_sockaddr((*ai).ai_addr, name);
            ai = (*ai).ai_next;
            n += 1;
        }
        sys::set_errno(err);
    }
    r
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname(name: *const c_char) -> *mut libc::hostent {
    let Some(real) = must::gethostbyname() else {
        return core::ptr::null_mut();
    };
    let h = real(name);
    let err = sys::errno();
    remember_hostent(h, name);
    sys::set_errno(err);
    h
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname2(name: *const c_char, af: c_int) -> *mut libc::hostent {
    let Some(real) = must::gethostbyname2() else {
        return core::ptr::null_mut();
    };
    let h = real(name, af);
    let err = sys::errno();
    remember_hostent(h, name);
    sys::set_errno(err);
    h
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname_r(
    name: *const c_char,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    buflen: libc::size_t,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    let Some(real) = must::gethostbyname_r() else {
        return libc::ENOSYS;
    };
    let r = real(name, ret, buf, buflen, result, h_errnop);
    if r == 0 && !result.is_null() {
        let err = sys::errno();
        remember_hostent(*result, name);
        sys::set_errno(err);
    }
    r
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname2_r(
    name: *const c_char,
    af: c_int,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    buflen: libc::size_t,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    let Some(real) = must::gethostbyname2_r() else {
        return libc::ENOSYS;
    };
    let r = real(name, af, ret, buf, buflen, result, h_errnop);
    if r == 0 && !result.is_null() {
        let err = sys::errno();
        remember_hostent(*result, name);
        sys::set_errno(err);
    }
    r
}
