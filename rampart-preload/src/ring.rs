//! This process's record ring (see `rampart_core::ring`): a sealed memfd
//! mapped here and handed to the collector with a Ring frame, into which
//! [`post`] copies the frames that need no verdict instead of sending them.
//!
//! A process makes its ring only after [`RING_AFTER`] frames went on its
//! socket, so the many short processes that report a call or two (an exec)
//! pay nothing for it. The ring belongs to one connection of one process:
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

/// Frames a process sends on its socket before it makes a ring.
pub const RING_AFTER: u32 = 4;

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

/// A frame went on the socket of connection `word` (`fd`): after a few,
/// make the ring and announce it there. True when the ring is in use.
pub fn count_and_maybe_make(word: u64, fd: c_int) -> bool {
    if OWNER.load(Ordering::Acquire) == word {
        return false;
    }
    if SENT.fetch_add(1, Ordering::Relaxed) + 1 < RING_AFTER || FAILED.load(Ordering::Relaxed) {
        return false;
    }
    if MAKING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    let made = make(fd);
    if let Some(base) = made {
        BASE.store(base, Ordering::Release);
        OWNER.store(word, Ordering::Release);
    } else {
        FAILED.store(true, Ordering::Relaxed);
    }
    MAKING.store(false, Ordering::Release);
    made.is_some()
}

/// memfd, size, seals, mapping, Ring frame with the descriptor; the
/// descriptor is closed again (the mapping keeps the memory).
fn make(sock: c_int) -> Option<usize> {
    let len = layout::mapping_len(layout::CAPACITY);
    // SAFETY: plain system calls on our own descriptors and stack values.
    unsafe {
        let fd = sys::raw(
            libc::SYS_memfd_create,
            c"rampart-ring".as_ptr() as usize,
            (libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) as usize,
            0,
            0,
        )
        .ok()? as c_int;
        let base = (|| {
            sys::raw(libc::SYS_ftruncate, fd as usize, len, 0, 0).ok()?;
            sys::raw(
                libc::SYS_fcntl,
                fd as usize,
                libc::F_ADD_SEALS as usize,
                (libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL) as usize,
                0,
            )
            .ok()?;
            let base = sys::raw6(
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
            .ok()?;
            Ring::init(base as *mut u8, layout::CAPACITY);
            if announce(sock, fd) {
                Some(base)
            } else {
                sys::munmap(base, len);
                None
            }
        })();
        sys::close(fd);
        base
    }
}

/// Send the Ring frame with `memfd` on `sock`, without waiting.
fn announce(sock: c_int, memfd: c_int) -> bool {
    let mut frame = [0u8; 16];
    let n = wire::encode_ring(&mut frame, layout::CAPACITY as u32);
    let mut iov = libc::iovec {
        iov_base: frame.as_mut_ptr().cast(),
        iov_len: n,
    };
    // Room for one descriptor, aligned as cmsghdr wants.
    let mut control = [0u64; 4];
    // SAFETY: msghdr and cmsghdr are plain data filled below; CMSG_*
    // compute offsets inside `control`, which has room for one int.
    unsafe {
        let mut msg: libc::msghdr = core::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(core::mem::size_of::<c_int>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(core::mem::size_of::<c_int>() as u32) as usize;
        core::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>(), memfd);
        sys::raw(
            libc::SYS_sendmsg,
            sock as usize,
            &msg as *const libc::msghdr as usize,
            (libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) as usize,
            0,
        )
        .is_ok()
    }
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
