//! The connection to the collector: one `SOCK_SEQPACKET` socket per process,
//! on a high close-on-exec descriptor, opened by the first event and
//! announced with a Hello frame.
//!
//! The state is one atomic word, `pid << 32 | fd`: the connection belongs to
//! the pid that opened it. A forked child drops its inherited copy in an
//! atfork handler and connects anew; a vfork child (which shares our memory
//! but not our descriptor table) must not overwrite its parent's state, so a
//! process that finds its *parent's* pid in the state uses a throw-away
//! connection for its events. Programs close or dup2 over descriptors they
//! do not know: the close/dup hooks note when our number was touched, and
//! the next send first checks with fstat (socket, inode, device) that the
//! descriptor is still ours, reconnecting otherwise; the send itself names
//! the collector's address, which other sockets refuse. A missing collector
//! costs one connect attempt a second; sends block
//! at most `SEND_TIMEOUT` (back-pressure, never a hang).
//!
//! Frames that need no verdict go into the process's record ring once it
//! has one ([`crate::ring`]: asked for after a few frames, the answer read
//! here while no thread waits for a verdict on the socket).
//!
//! Nothing is lost silently: an Event frame that cannot be handed to the
//! kernel (no collector, a send that timed out, the wedged back-off) is
//! counted in `LOST`, and the count goes to the collector in a Lost frame
//! on the first send that works again, or, at the latest, when the process
//! execs or exits ([`report_lost_now`], on a fresh non-blocking connection
//! if need be), and becomes a `lost` record in the trail. In enforce mode
//! [`Conn::ask`] sends a frame and waits for its verdict on the same socket,
//! bounded by the decision timeout; one thread at a time reads the shared
//! connection, others ask on a connection of their own. Never allocates,
//! locks or panics.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use libc::c_int;
use rampart_core::wire;

use crate::state::{self, Saved};
use crate::sys;

/// Our descriptor goes at or above this number, out of programs' way.
pub const HIGH_FD: c_int = 900;
/// SO_SNDTIMEO: how long a send (or connect) may block on a full collector.
const SEND_TIMEOUT_S: i64 = 3;
/// Least time between two failed connect attempts.
const RETRY_MS: u64 = 1000;
/// After a send timed out (a wedged collector), how long to leave it alone.
const WEDGED_BACKOFF_MS: u64 = 5000;

/// `pid << 32 | fd`; 0 = no connection.
static STATE: AtomicU64 = AtomicU64::new(0);
/// Identity of the socket behind the descriptor: st_ino, st_dev.
static INO: AtomicU64 = AtomicU64::new(0);
static DEV: AtomicU64 = AtomicU64::new(0);
/// A thread of this process is connecting right now.
static CONNECTING: AtomicBool = AtomicBool::new(false);
/// Earliest time (coarse monotonic ms) of the next connect attempt.
static NEXT_TRY_MS: AtomicU64 = AtomicU64::new(0);
/// Until when (coarse monotonic ms) the collector counts as wedged: there,
/// but it took no frame within the send timeout.
static WEDGED_UNTIL_MS: AtomicU64 = AtomicU64::new(0);
/// Bumped whenever a close/dup hook touched our descriptor's number; the
/// socket is re-checked with fstat when this differs from `VERIFIED`.
static FD_GEN: AtomicU64 = AtomicU64::new(1);
static VERIFIED: AtomicU64 = AtomicU64::new(0);

/// A thread of this process is waiting for a verdict on the shared
/// connection: verdicts arrive in order on one socket, so only one thread
/// at a time may read it; the others wait on a connection of their own.
static WAITING: AtomicBool = AtomicBool::new(false);

/// Event frames of this process that never reached the collector and are
/// not yet reported in a Lost frame.
static LOST: AtomicU32 = AtomicU32::new(0);

/// One record of this process could not be handed to the collector.
#[inline]
pub fn lost_one() {
    LOST.fetch_add(1, Ordering::Relaxed);
}

/// A close/dup hook closed or replaced descriptors `lo..=hi`.
#[inline]
pub fn fds_touched(lo: c_int, hi: c_int) {
    let cur = STATE.load(Ordering::Relaxed);
    if cur == 0 {
        return;
    }
    let (_, fd) = unpack(cur);
    if lo <= fd && fd <= hi {
        FD_GEN.fetch_add(1, Ordering::AcqRel);
    }
}

fn pack(pid: i32, fd: c_int) -> u64 {
    ((pid as u32 as u64) << 32) | fd as u32 as u64
}

fn unpack(v: u64) -> (i32, c_int) {
    ((v >> 32) as i32, v as u32 as c_int)
}

/// A connection usable for one event (and its exec-failed follow-up).
pub struct Conn {
    fd: c_int,
    /// Opened for this event only (vfork child, or a race): closed on drop.
    own: bool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.own {
            sys::close(self.fd);
        }
    }
}

fn is_our_socket(fd: c_int) -> bool {
    match sys::fstat(fd) {
        Some(st) => {
            st.st_mode & libc::S_IFMT == libc::S_IFSOCK
                && st.st_ino == INO.load(Ordering::Relaxed)
                && st.st_dev == DEV.load(Ordering::Relaxed)
        }
        None => false,
    }
}

/// The connection for an event of `pid` (the caller's pid).
pub fn acquire(s: &Saved, pid: i32, ppid: i32) -> Option<Conn> {
    if !s.active {
        return None;
    }
    for _ in 0..3 {
        let cur = STATE.load(Ordering::Acquire);
        let (owner, fd) = unpack(cur);
        if owner == pid && cur != 0 {
            let gen = FD_GEN.load(Ordering::Acquire);
            if gen == VERIFIED.load(Ordering::Acquire) {
                return Some(Conn { fd, own: false });
            }
            if is_our_socket(fd) {
                VERIFIED.store(gen, Ordering::Release);
                return Some(Conn { fd, own: false });
            }
            // Closed or replaced by the program: not ours to close.
            if STATE
                .compare_exchange(cur, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                // The collector reads the ring when it sees the end.
                crate::ring::drop_connection(false);
            }
            continue;
        }
        if cur != 0 && owner == ppid {
            // Our parent's state in our memory: a vfork child (or a child
            // cloned without atfork handlers). Leave it alone.
            return open_new(s, pid, ppid).map(|fd| Conn { fd, own: true });
        }
        // No connection, or a stale one left by a vfork child: ours to set.
        if CONNECTING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            // Another thread is connecting: use our own connection once.
            return open_new(s, pid, ppid).map(|fd| Conn { fd, own: true });
        }
        let gen = FD_GEN.load(Ordering::Acquire);
        let got = open_new(s, pid, ppid);
        if let Some(fd) = got {
            VERIFIED.store(gen, Ordering::Release);
            if let Some(st) = sys::fstat(fd) {
                INO.store(st.st_ino, Ordering::Relaxed);
                DEV.store(st.st_dev, Ordering::Relaxed);
            }
            STATE.store(pack(pid, fd), Ordering::Release);
        }
        CONNECTING.store(false, Ordering::Release);
        return got.map(|fd| Conn { fd, own: false });
    }
    None
}

/// Connect, move to a high descriptor, send Hello (and any lost count).
/// Rate-limited.
fn open_new(s: &Saved, pid: i32, ppid: i32) -> Option<c_int> {
    let now = sys::now_ms();
    if now < NEXT_TRY_MS.load(Ordering::Relaxed) {
        return None;
    }
    let fd = connect_socket(s, false);
    let Some(fd) = fd else {
        NEXT_TRY_MS.store(now + RETRY_MS, Ordering::Relaxed);
        return None;
    };
    if !hello(s, fd, pid, ppid) {
        sys::close(fd);
        NEXT_TRY_MS.store(now + RETRY_MS, Ordering::Relaxed);
        return None;
    }
    report_lost(s, fd);
    Some(fd)
}

/// Send the Hello frame that opens every connection.
fn hello(s: &Saved, fd: c_int, pid: i32, ppid: i32) -> bool {
    // Hello: exe and cwd share 4.5 KiB (longer ones are cut).
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 4096 + 512];
    let mut e = wire::Encoder::hello(&mut buf, pid, ppid);
    e.str(state::exe());
    e.str_with(|_, out| crate::cache::cwd_into(pid, out));
    e.str(s.var(rampart_core::env::AGENT.as_bytes()));
    e.str(s.var(rampart_core::env::SESSION.as_bytes()));
    let n = e.finish();
    // SAFETY: the first n bytes were written by the encoder.
    let frame = unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
    n != 0 && send_raw(s, fd, frame, 0).is_ok()
}

/// The collector is there but wedged: leave it alone for a while.
fn back_off_wedged() {
    let until = sys::now_ms() + WEDGED_BACKOFF_MS;
    WEDGED_UNTIL_MS.store(until, Ordering::Relaxed);
    NEXT_TRY_MS.store(until, Ordering::Relaxed);
}

/// Is the collector wedged (there, but not taking frames) rather than
/// gone? Fail-closed refuses calls when the collector is gone, not when
/// it is merely slow: a call that needs no verdict runs and its record
/// is counted as lost.
pub fn wedged() -> bool {
    sys::now_ms() < WEDGED_UNTIL_MS.load(Ordering::Relaxed)
}

/// Tell the collector on `fd` how many records were lost, without waiting
/// (a full socket leaves the count for the next try).
fn report_lost(s: &Saved, fd: c_int) -> bool {
    let n = LOST.swap(0, Ordering::AcqRel);
    if n == 0 {
        return true;
    }
    let mut buf = [0u8; 16];
    let len = wire::encode_lost(&mut buf, n);
    let sent = send_raw(s, fd, &buf[..len], libc::MSG_DONTWAIT).is_ok();
    if !sent {
        LOST.fetch_add(n, Ordering::AcqRel);
    }
    sent
}

/// Report the lost count now, before the process image goes (exit, exec):
/// on this process's connection, else on a fresh non-blocking one. Never
/// waits: a collector whose backlog is full, or that is gone, leaves the
/// count unreported (the collector notes what it can, see the README's
/// "When things go wrong").
pub fn report_lost_now() {
    if LOST.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Some(s) = state::saved().filter(|s| s.active) else {
        return;
    };
    let pid = sys::getpid();
    let cur = STATE.load(Ordering::Acquire);
    let (owner, fd) = unpack(cur);
    if cur != 0 && owner == pid && is_our_socket(fd) && report_lost(s, fd) {
        return;
    }
    if let Some(fd) = connect_socket(s, true) {
        if hello(s, fd, pid, state::ppid(pid)) {
            report_lost(s, fd);
        }
        sys::close(fd);
    }
}

/// A connected socket out of the program's way; `nonblock`: connect and
/// send never wait (a full backlog fails at once).
fn connect_socket(s: &Saved, nonblock: bool) -> Option<c_int> {
    let nb = if nonblock { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: plain system calls on our own descriptor and stack values.
    unsafe {
        let fd = sys::raw(
            libc::SYS_socket,
            libc::AF_UNIX as usize,
            (libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC | nb) as usize,
            0,
            0,
        )
        .ok()? as c_int;
        let tv = libc::timeval {
            tv_sec: SEND_TIMEOUT_S,
            tv_usec: 0,
        };
        let _ = sys::raw6(
            libc::SYS_setsockopt,
            [
                fd as usize,
                libc::SOL_SOCKET as usize,
                libc::SO_SNDTIMEO as usize,
                &tv as *const libc::timeval as usize,
                core::mem::size_of::<libc::timeval>(),
                0,
            ],
        );
        let mut r = Err(0);
        for _ in 0..3 {
            r = sys::raw(
                libc::SYS_connect,
                fd as usize,
                &s.addr as *const libc::sockaddr_un as usize,
                s.addr_len as usize,
                0,
            );
            if r != Err(libc::EINTR) {
                break;
            }
        }
        if r.is_err() {
            sys::close(fd);
            return None;
        }
        match out_of_the_way(fd) {
            Some(high) => {
                sys::close(fd);
                Some(high)
            }
            // Every descriptor above the program's is taken: stay.
            None => Some(fd),
        }
    }
}

/// A copy of `fd` out of the program's way: at [`HIGH_FD`] or above, or
/// (a descriptor limit below that: `ulimit -n 64`) as near the top of the
/// allowed range as one is free, never the lowest free descriptor the
/// program's next open expects.
fn out_of_the_way(fd: c_int) -> Option<c_int> {
    let dup_at = |at: c_int| {
        // SAFETY: fcntl on our own descriptor.
        unsafe {
            sys::raw(
                libc::SYS_fcntl,
                fd as usize,
                libc::F_DUPFD_CLOEXEC as usize,
                at as usize,
                0,
            )
        }
        .ok()
        .map(|d| d as c_int)
    };
    if let Some(high) = dup_at(HIGH_FD) {
        return Some(high);
    }
    let mut lim = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit64 of this process writes one rlimit64.
    let got = unsafe {
        sys::raw(
            libc::SYS_prlimit64,
            0,
            libc::RLIMIT_NOFILE as usize,
            0,
            &mut lim as *mut libc::rlimit64 as usize,
        )
    };
    let top = match got {
        Ok(_) => lim.rlim_cur.min(HIGH_FD as u64) as c_int,
        Err(_) => return None,
    };
    // The highest free one among the top few (F_DUPFD takes the lowest
    // free at or above its argument).
    (1..=16)
        .map(|k| top - k)
        .take_while(|&at| at > fd)
        .find_map(dup_at)
}

/// One frame, one `sendto`. The collector's address goes along although the
/// socket is connected: a SEQPACKET socket ignores it, while most sockets a
/// program could have put in our descriptor's place refuse it (unix stream:
/// EISCONN; UDP, IPv6: EAFNOSUPPORT), as anything not a socket refuses
/// sendto (ENOTSOCK): a frame does not leak into the program's own socket
/// even if a close escaped the hooks.
fn send_raw(s: &Saved, fd: c_int, frame: &[u8], flags: c_int) -> Result<(), c_int> {
    let mut nobufs_waits = 0;
    loop {
        // SAFETY: `frame` is a valid buffer of its length.
        let r = unsafe {
            sys::raw6(
                libc::SYS_sendto,
                [
                    fd as usize,
                    frame.as_ptr() as usize,
                    frame.len(),
                    (libc::MSG_NOSIGNAL | flags) as usize,
                    &s.addr as *const libc::sockaddr_un as usize,
                    s.addr_len as usize,
                ],
            )
        };
        match r {
            Ok(_) => return Ok(()),
            Err(libc::EINTR) => continue,
            // Out of kernel buffers: wait a little rather than drop.
            Err(libc::ENOBUFS) if nobufs_waits < 1000 => {
                nobufs_waits += 1;
                sys::sleep_ms(1);
            }
            Err(e) => return Err(e),
        }
    }
}

impl Conn {
    /// Hand over one frame that needs no verdict: into this process's
    /// record ring when it has one (see [`crate::ring`]), else on the
    /// socket ([`Conn::send_socket`]); a few frames on the socket make the
    /// ring.
    pub fn send(&mut self, s: &Saved, pid: i32, ppid: i32, frame: &[u8]) -> bool {
        let word = pack(pid, self.fd);
        let shared = !self.own && STATE.load(Ordering::Acquire) == word;
        let mut checked_dead = false;
        if shared && crate::ring::liveness_due(word) {
            let ours = is_our_socket(self.fd);
            if !(ours && self.alive()) {
                // The collector is gone (what the ring holds will not be
                // read), or the program took our descriptor (the collector
                // reads the ring at the connection's end).
                self.forget(pid, ours);
                checked_dead = true;
            }
        }
        if shared && !checked_dead {
            if let Some(wake) = crate::ring::post(word, frame) {
                if wake {
                    let mut buf = [0u8; 8];
                    let n = wire::encode_wake(&mut buf);
                    // A full socket needs no wake: the collector has frames to read.
                    let _ = send_raw(s, self.fd, &buf[..n], libc::MSG_DONTWAIT);
                }
                return true;
            }
        }
        let sent = self.send_socket(s, pid, ppid, frame);
        if sent && shared && self.fd == unpack(word).1 && crate::ring::due(word) {
            // The answer comes on this socket: no thread may be reading it
            // for a verdict meanwhile.
            if WAITING
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                crate::ring::ask(word, self.fd);
                WAITING.store(false, Ordering::Release);
            }
        }
        sent
    }

    /// Send one frame on the socket. If the collector went away or our
    /// descriptor was taken from us, reconnect (rate-limited) and send
    /// there once. An Event frame that does not go is counted as lost.
    pub fn send_socket(&mut self, s: &Saved, pid: i32, ppid: i32, frame: &[u8]) -> bool {
        let sent = match send_raw(s, self.fd, frame, 0) {
            Ok(()) => true,
            Err(libc::EAGAIN) => {
                // SO_SNDTIMEO expired: the collector is wedged. Drop this
                // connection and leave the collector alone for a while, so
                // the program is slowed by seconds, not hung.
                self.forget(pid, false);
                back_off_wedged();
                false
            }
            Err(e) => {
                // Only a collector that is gone leaves the ring unread; a
                // descriptor the program took refuses the send otherwise.
                let gone = matches!(
                    e,
                    libc::EPIPE | libc::ECONNREFUSED | libc::ECONNRESET | libc::ENOTCONN
                );
                self.forget(pid, gone);
                match acquire(s, pid, ppid) {
                    Some(mut c) => {
                        let ok = send_raw(s, c.fd, frame, 0).is_ok();
                        core::mem::swap(self, &mut c);
                        ok
                    }
                    None => false,
                }
            }
        };
        if !sent && wire::is_event(frame) {
            lost_one();
        } else if sent && LOST.load(Ordering::Relaxed) != 0 {
            report_lost(s, self.fd);
        }
        sent
    }

    /// Send an Event frame that wants a verdict and wait for the verdict on
    /// the same connection, at most `timeout_ms`: `Some(allow)`, or `None`
    /// when no verdict came (collector gone, unreachable or too slow).
    /// Verdicts for other sequence numbers (left over from earlier waits
    /// that timed out) are discarded.
    pub fn ask(
        &mut self,
        s: &Saved,
        pid: i32,
        ppid: i32,
        frame: &[u8],
        seq: u32,
        timeout_ms: u64,
    ) -> Option<bool> {
        let deadline = sys::now_ms().saturating_add(timeout_ms);
        if !self.own
            && WAITING
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            // Another thread reads the shared connection: ask on our own.
            let fd = open_new(s, pid, ppid)?;
            let mut own = Conn { fd, own: true };
            return own.ask(s, pid, ppid, frame, seq, timeout_ms);
        }
        let holds_waiting = !self.own;
        let got = if self.send_socket(s, pid, ppid, frame) {
            wait_verdict(self.fd, seq, deadline)
        } else {
            Err(false)
        };
        if holds_waiting {
            WAITING.store(false, Ordering::Release);
        }
        match got {
            Ok(allow) => Some(allow),
            Err(timed_out) => {
                // Gone or wedged: drop the connection; a collector that
                // missed a deadline is left alone for a while, so that the
                // calls that follow are decided at once, not each after a
                // full timeout.
                self.forget(pid, !timed_out);
                if timed_out {
                    back_off_wedged();
                }
                None
            }
        }
    }

    /// Is the collector still at the other end? A peek that finds the end
    /// of the connection says it is gone.
    pub fn alive(&self) -> bool {
        let mut b = [0u8; 1];
        // SAFETY: one byte of our stack; no address wanted.
        let r = unsafe {
            sys::raw6(
                libc::SYS_recvfrom,
                [
                    self.fd as usize,
                    b.as_mut_ptr() as usize,
                    1,
                    (libc::MSG_PEEK | libc::MSG_DONTWAIT) as usize,
                    0,
                    0,
                ],
            )
        };
        matches!(r, Ok(1..) | Err(libc::EAGAIN | libc::EINTR))
    }

    /// Drop this connection; `collector_gone`: the collector will not read
    /// what the ring holds (counted as lost), else it reads it at the end.
    fn forget(&mut self, pid: i32, collector_gone: bool) {
        if self.own {
            return;
        }
        let cur = pack(pid, self.fd);
        if STATE
            .compare_exchange(cur, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            let unread = crate::ring::drop_connection(collector_gone);
            if unread > 0 {
                LOST.fetch_add(unread, Ordering::Relaxed);
            }
            if is_our_socket(self.fd) {
                sys::close(self.fd);
            }
        }
    }
}

/// Wait until `deadline` (coarse monotonic ms) for the Verdict of `seq` on
/// `fd`: `Ok(allow)`, `Err(true)` on timeout, `Err(false)` when the
/// connection broke.
fn wait_verdict(fd: c_int, seq: u32, deadline: u64) -> Result<bool, bool> {
    let mut buf = [0u8; 64];
    loop {
        let now = sys::now_ms();
        if now >= deadline {
            return Err(true);
        }
        let left = deadline - now;
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: (left / 1000) as libc::time_t,
            tv_nsec: ((left % 1000) * 1_000_000) as libc::c_long,
        };
        // SAFETY: one pollfd and one timespec on our stack; no signal mask.
        let r = unsafe {
            sys::raw6(
                libc::SYS_ppoll,
                [
                    &mut pfd as *mut libc::pollfd as usize,
                    1,
                    &ts as *const libc::timespec as usize,
                    0,
                    0,
                    0,
                ],
            )
        };
        match r {
            Ok(0) => continue, // the clock decides at the top of the loop
            Ok(_) => {}
            Err(libc::EINTR) => continue,
            Err(_) => return Err(false),
        }
        // SAFETY: `buf` is valid for its length; no address wanted.
        let n = unsafe {
            sys::raw6(
                libc::SYS_recvfrom,
                [
                    fd as usize,
                    buf.as_mut_ptr() as usize,
                    buf.len(),
                    libc::MSG_DONTWAIT as usize,
                    0,
                    0,
                ],
            )
        };
        match n {
            Ok(0) => return Err(false), // the collector closed the connection
            Ok(n) => {
                if let Some((got, allow)) = wire::decode_verdict(&buf[..n.min(buf.len())]) {
                    if got == seq {
                        return Ok(allow);
                    }
                }
                // A stale verdict (or garbage): keep waiting for ours.
            }
            Err(libc::EAGAIN | libc::EINTR) => {}
            Err(_) => return Err(false),
        }
    }
}

/// atfork child handler: the inherited descriptor is the parent's
/// connection; close it here so the parent's exec is seen (EOF) at once.
pub extern "C" fn after_fork_in_child() {
    let cur = STATE.load(Ordering::Acquire);
    if cur != 0 {
        let (_, fd) = unpack(cur);
        if is_our_socket(fd) {
            sys::close(fd);
        }
    }
    // Write only what changes: untouched pages stay shared with the parent.
    if cur != 0 {
        STATE.store(0, Ordering::Release);
    }
    crate::ring::after_fork_in_child();
    if CONNECTING.load(Ordering::Relaxed) {
        CONNECTING.store(false, Ordering::Release);
    }
    // The parent's lost records are the parent's to report.
    if LOST.load(Ordering::Relaxed) != 0 {
        LOST.store(0, Ordering::Relaxed);
    }
    // Another thread of the parent may have been waiting: not in this child.
    if WAITING.load(Ordering::Relaxed) {
        WAITING.store(false, Ordering::Release);
    }
}

/// Who is calling, resolved once per hook.
pub struct Ctx {
    pub s: &'static Saved,
    pub pid: i32,
    pub ppid: i32,
}

/// The caller, when the library is initialised and a collector is named
/// (its pid from [`crate::state::pid`], no system call after the first).
#[inline]
pub fn ctx() -> Option<Ctx> {
    ctx_with(crate::state::pid)
}

/// [`ctx`] with the pid asked of the kernel: for hooks that run in vfork
/// children (exec, spawn), which share their parent's memory.
#[inline]
pub fn ctx_exact() -> Option<Ctx> {
    ctx_with(sys::getpid)
}

#[inline(always)]
fn ctx_with(pid: fn() -> i32) -> Option<Ctx> {
    let s = crate::state::saved()?;
    if !s.active {
        return None;
    }
    let pid = pid();
    Some(Ctx {
        s,
        pid,
        ppid: crate::state::ppid(pid),
    })
}

impl Ctx {
    pub fn conn(&self) -> Option<Conn> {
        acquire(self.s, self.pid, self.ppid)
    }
}
