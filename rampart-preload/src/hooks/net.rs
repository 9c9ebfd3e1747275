//! `connect`, the sends that carry their own address (`sendto`,
//! `sendmsg`, `sendmmsg`: a datagram, or a TCP Fast Open connect), and the
//! DNS calls that tell a connect its `domain`: `getaddrinfo`,
//! `gethostbyname`, `gethostbyname2`, `gethostbyname_r`,
//! `gethostbyname2_r`.
//!
//! A send with an address is a net call to that address, decided and
//! reported like a connect, once per destination per process
//! ([`crate::sent`]); a send without one goes straight to the real call.
//! `sendmmsg` asks about one new destination per call: the messages from
//! the next new one on are left for the caller to send again (a shorter
//! count, as the kernel may return anyway).
//!
//! The DNS hooks call the real function and remember each address it
//! returned under the name asked for (see [`crate::dns`]); numeric names are
//! not remembered. `connect` reports inet (tcp/udp by socket type) and
//! unix-socket connects after the real call; a non-blocking connect that
//! returns EINPROGRESS is reported as in progress. In enforce mode the
//! connect is decided first; a refused one fails with EACCES.

use libc::{c_char, c_int, sockaddr, socklen_t};
use rampart_core::wire::{self, InetAddr, WireOutcome, WireProto};

use crate::conn;
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
    let Some(cx) = conn::ctx() else { return };
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
            let mut conn = cx.conn();
            report::connect_inet(
                &cx,
                &mut conn,
                InetAddr::V4(a),
                u16::from_be(sin.sin_port),
                proto(fd),
                oc,
            );
        }
        libc::AF_INET6 if len as usize >= SIN6_MIN => {
            let sin6 = &*(addr as *const libc::sockaddr_in6);
            let mut conn = cx.conn();
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
            let mut conn = cx.conn();
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
    let cx = conn::ctx()?;
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
        libc::AF_INET6 if len as usize >= SIN6_MIN => {
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
    real: impl FnOnce(*const sockaddr) -> c_int,
) -> c_int {
    let copy = AddrCopy::of(addr, len);
    gated(
        fd,
        copy.ptr(),
        len,
        -1,
        || real(copy.ptr()),
        |r| r == 0,
        || {},
    )
}

/// The caller's address, copied: it is decided, recorded and handed to the
/// kernel as this copy, so that another thread writing over the caller's
/// between the check and the call changes nothing (it reached a refused
/// port 261 times in 2,000 blocking connects). An address longer than any
/// the kernel takes, or none, is handed over as it is: the kernel refuses
/// it.
struct AddrCopy {
    storage: libc::sockaddr_storage,
    given: *const sockaddr,
    copied: bool,
}

impl AddrCopy {
    unsafe fn of(addr: *const sockaddr, len: socklen_t) -> AddrCopy {
        let mut copy = AddrCopy {
            storage: core::mem::zeroed(),
            given: addr,
            copied: false,
        };
        let len = len as usize;
        if !addr.is_null() && len <= core::mem::size_of::<libc::sockaddr_storage>() {
            core::ptr::copy_nonoverlapping(
                addr.cast::<u8>(),
                core::ptr::addr_of_mut!(copy.storage).cast::<u8>(),
                len,
            );
            copy.copied = true;
        }
        copy
    }

    fn ptr(&self) -> *const sockaddr {
        if self.copied {
            core::ptr::addr_of!(self.storage).cast()
        } else {
            self.given
        }
    }
}

/// A call that reaches `addr` from `fd` (a connect, a send with an
/// address): decided like a connect (enforce mode), made with `real`,
/// reported with its outcome (`ok` says whether it worked). `allowed`
/// runs when it was let through. A refused one fails with EACCES
/// (returning `refused`) without being made.
unsafe fn gated<R: Copy>(
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
    refused: R,
    real: impl FnOnce() -> R,
    ok: impl Fn(R) -> bool,
    allowed: impl FnOnce(),
) -> R {
    match before_connect(fd, addr, len) {
        Some(Gate::Refuse) => {
            sys::set_errno(libc::EACCES);
            return refused;
        }
        Some(Gate::Run {
            report_after: false,
        }) => {
            allowed();
            return real();
        }
        Some(Gate::Run { report_after: true }) | None => {}
    }
    let r = real();
    let err = sys::errno();
    after_connect(fd, addr, len, ok(r), err);
    allowed();
    sys::set_errno(err);
    r
}

/// The shortest IPv6 address the kernel takes: `sockaddr_in6` without its
/// scope id (RFC 2133's 24 bytes).
const SIN6_MIN: usize = 24;

fn proto(fd: c_int) -> WireProto {
    match sys::socket_type(fd) {
        Some(libc::SOCK_DGRAM) => WireProto::Udp,
        _ => WireProto::Tcp,
    }
}

#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    connect_gated(fd, addr, len, |addr| match get::connect() {
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

// ---- sends with an address ------------------------------------------------------

/// The bytes that name the destination of a send of `fd` to `addr`, for
/// the sent table: transport, family, address and port (the name of a unix
/// socket); `None` for a family that is not recorded.
unsafe fn destination(
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
    out: &mut [u8; 128],
) -> Option<usize> {
    let len = len as usize;
    let family = (*addr).sa_family as c_int;
    out[0] = proto(fd) as u8;
    out[1] = family as u8;
    let body: &[u8] = match family {
        libc::AF_INET if len >= core::mem::size_of::<libc::sockaddr_in>() => {
            let sin = &*(addr as *const libc::sockaddr_in);
            out[2..4].copy_from_slice(&sin.sin_port.to_ne_bytes());
            &*(&sin.sin_addr as *const libc::in_addr as *const [u8; 4])
        }
        libc::AF_INET6 if len >= SIN6_MIN => {
            let sin6 = &*(addr as *const libc::sockaddr_in6);
            out[2..4].copy_from_slice(&sin6.sin6_port.to_ne_bytes());
            &sin6.sin6_addr.s6_addr
        }
        libc::AF_UNIX => {
            let off = core::mem::size_of::<libc::sa_family_t>();
            let n = len.min(core::mem::size_of::<libc::sockaddr_un>()) - off;
            core::slice::from_raw_parts((addr as *const u8).add(off), n)
        }
        _ => return None,
    };
    let n = body.len().min(out.len() - 4);
    out[4..4 + n].copy_from_slice(&body[..n]);
    Some(4 + n)
}

/// The sent-table key of a send of `fd` to `addr`; `None` when the send is
/// not a net call (no address, a family not recorded, not under rampart).
unsafe fn send_key(fd: c_int, addr: *const sockaddr, len: socklen_t) -> Option<u64> {
    if addr.is_null() || (len as usize) < core::mem::size_of::<libc::sa_family_t>() {
        return None;
    }
    let s = crate::state::saved().filter(|s| s.active)?;
    let err = sys::errno();
    let mut dest = [0u8; 128];
    let k = destination(fd, addr, len, &mut dest).map(|n| crate::sent::key(s, &dest[..n]));
    sys::set_errno(err);
    k
}

/// A send of `fd` to `addr` (`key`: its [`send_key`], not seen yet),
/// [`gated`]; the destination is remembered once the send was let through.
unsafe fn send_gated<R: Copy>(
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
    key: u64,
    real: impl FnOnce() -> R,
    ok: impl Fn(R) -> bool,
    refused: R,
) -> R {
    gated(fd, addr, len, refused, real, ok, || {
        crate::sent::remember(key)
    })
}

/// The address a send goes to, as it is decided and recorded: an IPv4
/// socket sends to an `AF_UNSPEC` address as to `AF_INET`, so such an
/// address is copied into `as_inet` as one (the real call still gets what
/// it was given).
unsafe fn sent_to(
    addr: *const sockaddr,
    len: socklen_t,
    as_inet: &mut libc::sockaddr_in,
) -> (*const sockaddr, socklen_t) {
    let inet_len = core::mem::size_of::<libc::sockaddr_in>();
    if addr.is_null() || (len as usize) < inet_len || (*addr).sa_family as c_int != libc::AF_UNSPEC
    {
        return (addr, len);
    }
    core::ptr::copy_nonoverlapping(
        addr.cast::<u8>(),
        (as_inet as *mut libc::sockaddr_in).cast::<u8>(),
        inet_len,
    );
    as_inet.sin_family = libc::AF_INET as libc::sa_family_t;
    (
        (as_inet as *const libc::sockaddr_in).cast::<sockaddr>(),
        inet_len as socklen_t,
    )
}

/// `sendto(fd, buf, n, flags, addr, len)` made with `real`.
pub unsafe fn sendto_gated(
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
    real: impl FnOnce(*const sockaddr) -> isize,
) -> isize {
    // Decided and sent as one copy ([`AddrCopy`]), also to a destination
    // seen before (a swap after that check would send elsewhere).
    let copy = AddrCopy::of(addr, len);
    let given = copy.ptr();
    let mut as_inet: libc::sockaddr_in = core::mem::zeroed();
    let (addr, len) = sent_to(given, len, &mut as_inet);
    match send_key(fd, addr, len) {
        Some(k) if !crate::sent::seen(k) => {
            send_gated(fd, addr, len, k, || real(given), |r| r >= 0, -1)
        }
        _ => real(given),
    }
}

/// `sendmsg(fd, msg, flags)` made with `real`.
pub unsafe fn sendmsg_gated(
    fd: c_int,
    msg: *const libc::msghdr,
    real: impl FnOnce(*const libc::msghdr) -> isize,
) -> isize {
    if msg.is_null() {
        return real(msg);
    }
    // The header copied too, to carry the copied address.
    let mut own = *msg;
    sendto_gated(
        fd,
        own.msg_name as *const sockaddr,
        own.msg_namelen,
        |addr| {
            own.msg_name = addr as *mut libc::c_void;
            real(&own)
        },
    )
}

/// `sendmmsg(fd, vec, vlen, flags)` made with `real(count)`: one new
/// destination is decided per call, and the count is cut before the next.
pub unsafe fn sendmmsg_gated(
    fd: c_int,
    vec: *mut libc::mmsghdr,
    vlen: libc::c_uint,
    real: impl FnOnce(*mut libc::mmsghdr, libc::c_uint) -> c_int,
) -> c_int {
    if vec.is_null() {
        return real(vec, vlen);
    }
    // At most MMSG_COPIED messages a call (a short count is a send's right),
    // their headers and addresses copied and the copies decided and sent:
    // another thread writing over the caller's changes nothing. The kernel
    // writes each message's length into the copies, which go back.
    let vlen = vlen.min(MMSG_COPIED as libc::c_uint);
    let mut heads: [libc::mmsghdr; MMSG_COPIED] = core::mem::zeroed();
    let mut names: [libc::sockaddr_storage; MMSG_COPIED] = core::mem::zeroed();
    let room = core::mem::size_of::<libc::sockaddr_storage>() as socklen_t;
    for i in 0..vlen as usize {
        heads[i] = *vec.add(i);
        let h = &mut heads[i].msg_hdr;
        if !h.msg_name.is_null() && h.msg_namelen <= room {
            core::ptr::copy_nonoverlapping(
                h.msg_name.cast::<u8>(),
                core::ptr::addr_of_mut!(names[i]).cast::<u8>(),
                h.msg_namelen as usize,
            );
            h.msg_name = core::ptr::addr_of_mut!(names[i]).cast();
        }
    }
    let sent = sendmmsg_copied(fd, heads.as_mut_ptr(), vlen, real);
    let done = (sent.max(0) as usize).min(vlen as usize);
    for (i, h) in heads.iter().enumerate().take(done) {
        (*vec.add(i)).msg_len = h.msg_len;
    }
    sent
}

/// Messages [`sendmmsg_gated`] copies and sends in one call.
const MMSG_COPIED: usize = 16;

/// [`sendmmsg_gated`] on the copies.
unsafe fn sendmmsg_copied(
    fd: c_int,
    vec: *mut libc::mmsghdr,
    vlen: libc::c_uint,
    real: impl FnOnce(*mut libc::mmsghdr, libc::c_uint) -> c_int,
) -> c_int {
    let real = |n| real(vec, n);
    // The first message to a destination not seen yet, and where the
    // messages to a second one begin.
    let mut first: Option<(usize, u64)> = None;
    let mut cut = vlen;
    for i in 0..vlen.min(1024) as usize {
        let h = &(*vec.add(i)).msg_hdr;
        let mut as_inet: libc::sockaddr_in = core::mem::zeroed();
        let (name, name_len) = sent_to(h.msg_name as *const sockaddr, h.msg_namelen, &mut as_inet);
        let Some(k) = send_key(fd, name, name_len) else {
            continue;
        };
        if crate::sent::seen(k) {
            continue;
        }
        match first {
            None => first = Some((i, k)),
            Some((_, k0)) if k0 == k => {}
            Some(_) => {
                cut = i as libc::c_uint;
                break;
            }
        }
    }
    let Some((i, k)) = first else {
        return real(vlen);
    };
    let h = &(*vec.add(i)).msg_hdr;
    let mut as_inet: libc::sockaddr_in = core::mem::zeroed();
    let (addr, len) = sent_to(h.msg_name as *const sockaddr, h.msg_namelen, &mut as_inet);
    if i > 0 {
        // What goes before it is sent now; it is decided on the next call.
        return real(i as libc::c_uint);
    }
    send_gated(fd, addr, len, k, || real(cut), |r| r > 0, -1)
}

#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const libc::c_void,
    n: libc::size_t,
    flags: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> libc::ssize_t {
    sendto_gated(fd, addr, len, |addr| match get::sendto() {
        Some(f) => f(fd, buf, n, flags, addr, len),
        None => raw_result(sys::raw6(
            libc::SYS_sendto,
            [
                fd as usize,
                buf as usize,
                n,
                flags as usize,
                addr as usize,
                len as usize,
            ],
        )),
    })
}

#[no_mangle]
pub unsafe extern "C" fn sendmsg(
    fd: c_int,
    msg: *const libc::msghdr,
    flags: c_int,
) -> libc::ssize_t {
    sendmsg_gated(fd, msg, |msg| match get::sendmsg() {
        Some(f) => f(fd, msg, flags),
        None => raw_result(sys::raw(
            libc::SYS_sendmsg,
            fd as usize,
            msg as usize,
            flags as usize,
            0,
        )),
    })
}

#[no_mangle]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    vec: *mut libc::mmsghdr,
    vlen: libc::c_uint,
    flags: c_int,
) -> c_int {
    sendmmsg_gated(fd, vec, vlen, |vec, count| match get::sendmmsg() {
        Some(f) => f(fd, vec, count, flags),
        None => raw_result(sys::raw(
            libc::SYS_sendmmsg,
            fd as usize,
            vec as usize,
            count as usize,
            flags as usize,
        )) as c_int,
    })
}

/// A raw system call's result as libc returns it (-1 and errno).
fn raw_result(r: Result<usize, c_int>) -> isize {
    match r {
        Ok(v) => v as isize,
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
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
