//! This process's record ring (see `rampart_core::ring`): a sealed memfd
//! the collector makes when the process asks (a Ring frame) and sends back
//! (a RingGrant frame), mapped here, into which [`post`] copies the frames
//! that need no verdict instead of sending them.
//!
//! A process asks for its ring only after [`RING_AFTER`] frames went on its
//! socket, so the many short processes that report a few dozen calls (an
//! exec, a locale, a file or two) pay nothing for it; it waits for the answer once, at most 200 ms. The ring belongs to one connection of one process:
//! it is used only while the connection it was announced on is this
//! process's connection, and it is dropped with that connection (left
//! mapped, never unmapped under a thread that may be posting) and, in a
//! forked child, unmapped at once (the parent's ring is not the child's).
//! A full ring refuses the post and the caller sends on the socket (so a
//! process whose ring overflowed may see its records written out of order).
//! A process that only posts would not notice its collector die, so a post
//! checks the socket at most every 100 ms; when the collector is gone, the
//! frames left unread in the ring are counted as lost, like frames that
//! could not be sent.
//! Never allocates, locks, waits or panics.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use libc::c_int;
use rampart_core::ring::{self as layout, Post, Ring};
use rampart_core::wire;

use crate::sys;

/// Frames a process sends on its socket before it makes a ring: most
/// processes (a shell command that sets its locale and reads a file or two
/// makes about 30) never wait for one; a program that keeps calling asks
/// once. (At 4, `cat` run by `posix_spawn` paid the grant's round trip
/// in every process: 1.89x bare in monitor mode against 1.67x at 64.)
pub const RING_AFTER: u32 = 64;

/// The ring's mapping (0: none) and the connection word (`pid << 32 | fd`,
/// see `conn`) it was announced on.
static BASE: AtomicUsize = AtomicUsize::new(0);
static OWNER: AtomicU64 = AtomicU64::new(0);
/// Frames sent on the socket of the current connection.
static SENT: AtomicU32 = AtomicU32::new(0);
/// A thread is making the ring; `FAILED`: making one failed, do not retry.
static MAKING: AtomicBool = AtomicBool::new(false);
static FAILED: AtomicBool = AtomicBool::new(false);

fn ring() -> Option<Ring> {
    let base = BASE.load(Ordering::Acquire);
    // SAFETY: a mapping this module made and initialised, never unmapped
    // while it is published.
    (base != 0).then(|| unsafe { Ring::view(base as *mut u8, layout::CAPACITY) })
}

/// Post `frame` on the ring of connection `word`, when there is one:
/// `Some(wake)` when it is in the ring (`wake`: send a Wake frame), `None`
/// when it must go on the socket.
pub fn post(word: u64, frame: &[u8]) -> Option<bool> {
    if OWNER.load(Ordering::Acquire) != word {
        return None;
    }
    match ring()?.post(frame) {
        Post::Posted { wake } => Some(wake),
        Post::Full => None,
    }
}

/// How long a process waits for the collector's answer to its Ring frame,
/// once: a collector that does not answer in time leaves it without ring.
const GRANT_WAIT_MS: u64 = 200;

/// A frame went on the socket of connection `word`: whether it is time to
/// ask for a ring (after [`RING_AFTER`] frames, once per connection, never
/// again after an attempt failed).
pub fn due(word: u64) -> bool {
    OWNER.load(Ordering::Acquire) != word
        && SENT.fetch_add(1, Ordering::Relaxed) >= RING_AFTER - 1
        && !FAILED.load(Ordering::Relaxed)
        && !MAKING.load(Ordering::Relaxed)
}

/// Ask the collector on `sock` (connection `word`) for a ring and map the
/// memfd it sends back. The caller holds the connection's read side (no
/// other thread waits for a verdict on it). True when the ring is in use.
pub fn ask(word: u64, sock: c_int) -> bool {
    if MAKING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    let made = request(sock).and_then(receive);
    if let Some(base) = made {
        BASE.store(base, Ordering::Release);
        OWNER.store(word, Ordering::Release);
    } else {
        FAILED.store(true, Ordering::Relaxed);
    }
    MAKING.store(false, Ordering::Release);
    made.is_some()
}

/// Send the Ring frame, without waiting.
fn request(sock: c_int) -> Option<c_int> {
    let mut frame = [0u8; 16];
    let n = wire::encode_ring(&mut frame, layout::CAPACITY as u32);
    // SAFETY: our buffer, our socket; no address (it is connected).
    unsafe {
        sys::raw6(
            libc::SYS_sendto,
            [
                sock as usize,
                frame.as_ptr() as usize,
                n,
                (libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) as usize,
                0,
                0,
            ],
        )
    }
    .ok()
    .map(|_| sock)
}

/// Wait (at most [`GRANT_WAIT_MS`]) for the RingGrant and its memfd, check
/// its size, map it and close the descriptor. Frames that are not a grant
/// (a verdict left from an ask that timed out) are dropped.
fn receive(sock: c_int) -> Option<usize> {
    let deadline = sys::now_ms() + GRANT_WAIT_MS;
    let mut frame = [0u8; 64];
    let mut control = [0u64; 4];
    loop {
        let now = sys::now_ms();
        if now >= deadline {
            return None;
        }
        let left = deadline - now;
        let mut pfd = libc::pollfd {
            fd: sock,
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: (left / 1000) as libc::time_t,
            tv_nsec: ((left % 1000) * 1_000_000) as libc::c_long,
        };
        // SAFETY: one pollfd and one timespec on our stack.
        match unsafe {
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
        } {
            Ok(0) | Err(libc::EINTR) => continue,
            Ok(_) => {}
            Err(_) => return None,
        }
        let mut iov = libc::iovec {
            iov_base: frame.as_mut_ptr().cast(),
            iov_len: frame.len(),
        };
        // SAFETY: msghdr is plain data pointing at our buffers; the kernel
        // writes at most their lengths.
        let (n, fd) = unsafe {
            let mut msg: libc::msghdr = core::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = core::mem::size_of_val(&control);
            let n = match sys::raw(
                libc::SYS_recvmsg,
                sock as usize,
                &mut msg as *mut libc::msghdr as usize,
                (libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) as usize,
                0,
            ) {
                Ok(n) => n,
                Err(libc::EAGAIN | libc::EINTR) => continue,
                Err(_) => return None,
            };
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            let fd = if !cmsg.is_null()
                && (*cmsg).cmsg_level == libc::SOL_SOCKET
                && (*cmsg).cmsg_type == libc::SCM_RIGHTS
            {
                core::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>())
            } else {
                -1
            };
            (n, fd)
        };
        if n == 0 {
            return None; // the collector closed the connection
        }
        let granted = wire::decode_ring_grant(&frame[..n.min(frame.len())]);
        match (granted, fd) {
            (Some(cap), fd) if fd >= 0 && cap as usize == layout::CAPACITY => {
                let base = map(fd);
                sys::close(fd);
                return base;
            }
            (_, fd) => {
                if fd >= 0 {
                    sys::close(fd);
                }
                if granted.is_some() {
                    return None;
                }
            }
        }
    }
}

/// Map the ring in `fd` (the collector's memfd, of the size asked for).
fn map(fd: c_int) -> Option<usize> {
    let len = layout::mapping_len(layout::CAPACITY);
    if sys::fstat(fd)?.st_size as usize != len {
        return None;
    }
    // SAFETY: a new shared mapping of the whole memfd.
    let base = unsafe {
        sys::raw6(
            libc::SYS_mmap,
            [
                0,
                len,
                (libc::PROT_READ | libc::PROT_WRITE) as usize,
                libc::MAP_SHARED as usize,
                fd as usize,
                0,
            ],
        )
    }
    .ok()?;
    // SAFETY: the mapping above, of `len` bytes.
    if unsafe { Ring::attach(base as *mut u8, len) }.is_none() {
        // SAFETY: our mapping, used by nothing.
        unsafe { sys::munmap(base, len) };
        return None;
    }
    Some(base)
}

/// The connection the ring was announced on is dropped: stop using the
/// ring (its mapping stays: another thread may be posting into it right
/// now). `collector_gone`: nobody will read what is left in it (else the
/// collector reads it at the connection's end); returns how many frames
/// that leaves unread, for the lost count.
pub fn drop_connection(collector_gone: bool) -> u32 {
    OWNER.store(0, Ordering::Release);
    let base = BASE.swap(0, Ordering::AcqRel);
    SENT.store(0, Ordering::Relaxed);
    if !collector_gone || base == 0 {
        return 0;
    }
    // SAFETY: as in `ring`: our mapping, never unmapped while published
    // (it was until the swap above).
    let ring = unsafe { Ring::view(base as *mut u8, layout::CAPACITY) };
    ring.unconsumed().min(u32::MAX as u64) as u32
}

/// How often a process that posts checks that its collector is alive.
const ALIVE_RECHECK_MS: u64 = 100;
static CHECKED_AT: AtomicU64 = AtomicU64::new(0);

/// Whether a post should first check that the collector is still there: a
/// process that only posts would never see it go (a send fails, a post
/// does not). At most once per [`ALIVE_RECHECK_MS`], and only with a ring.
pub fn liveness_due(word: u64) -> bool {
    if OWNER.load(Ordering::Acquire) != word {
        return false;
    }
    let now = sys::now_ms();
    let last = CHECKED_AT.load(Ordering::Relaxed);
    if now.wrapping_sub(last) < ALIVE_RECHECK_MS {
        return false;
    }
    CHECKED_AT.store(now, Ordering::Relaxed);
    true
}

/// atfork child handler: the ring is the parent's; this process is single
/// threaded here, so it can unmap it.
pub fn after_fork_in_child() {
    let base = BASE.load(Ordering::Acquire);
    if base != 0 {
        BASE.store(0, Ordering::Release);
        // SAFETY: our mapping of that length; nothing else runs here.
        unsafe { sys::munmap(base, layout::mapping_len(layout::CAPACITY)) };
    }
    if OWNER.load(Ordering::Relaxed) != 0 {
        OWNER.store(0, Ordering::Relaxed);
    }
    if SENT.load(Ordering::Relaxed) != 0 {
        SENT.store(0, Ordering::Relaxed);
    }
    if MAKING.load(Ordering::Relaxed) {
        MAKING.store(false, Ordering::Relaxed);
    }
}
