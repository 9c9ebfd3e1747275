//! The record ring: a shared-memory ring of wire frames from one watched
//! process to the collector, so a record costs the program a copy instead
//! of a `sendto`.
//!
//! Owns the ring's layout, the producer ([`Ring::post`], run by the preload
//! library inside hooks: `no_std`, no allocation, no locks, no waiting, no
//! panics) and the consumer ([`Reader`], run by the collector, which must
//! treat every byte of the ring as written by a hostile program: it keeps
//! its own cursor, checks every length and never panics), and, with feature
//! `event`, the reader's making of a ring ([`Mapped`]: a sealed memfd,
//! mapped, header written). The collector makes a ring when a process asks
//! and sends it the memfd (descriptors go from the collector to programs,
//! never back); mapping it belongs to the library
//! (`rampart-preload/src/ring.rs`), reading it on time to the collector's
//! server. The frames in the ring are [`crate::wire`] frames, the same
//! bytes as on the socket.
//!
//! # Layout
//!
//! ```text
//! offset  0    magic   u64  "RWRING01"
//!         8    capacity u64 data bytes, a power of two (the producer's;
//!                           the collector uses the size it checked itself)
//!         64   head    u64  bytes reserved by producers, ever (monotonic)
//!         128  tail    u64  bytes consumed by the collector, ever; only the
//!                           collector writes it
//!         192  waiting u64  1: the collector sleeps and wants a Wake frame
//!         256  posted  u64  frames posted, ever (the producers count each
//!                           at its reservation)
//!         320  consumed u64 frames read, ever (the collector counts)
//!         4096 data         `capacity` bytes of entries
//! entry   (8-aligned) word u64 = len:u32 | state:u32 << 32, then len bytes,
//!         padded to 8. state 0: being written; 1: committed; 2: pad (the
//!         rest of this lap is empty, go on at the next lap's start)
//! ```
//!
//! Producers (the threads of one process, signal handlers included) reserve
//! with a compare-and-swap on `head`, write, and commit with one release
//! store of the word, so the ring needs no lock; the collector reads entries
//! in order from its tail, zeroes what it read (so memory not yet committed
//! always reads as state 0) and stops at the first entry not committed. A full
//! ring refuses the post and the caller sends the frame on the socket
//! instead (back-pressure, never loss). Wake-up: a collector with nothing to
//! read sets `waiting` and, after a full fence, looks once more; a producer,
//! after its commit and a full fence, takes `waiting` back to 0 and, if it
//! was set, sends one Wake frame. One of the two always sees the other.

use core::sync::atomic::{fence, AtomicU64, Ordering};

/// Bytes before the data: the header page.
pub const HEADER_BYTES: usize = 4096;
/// The data capacity the library maps (256 KiB: a few thousand records).
pub const CAPACITY: usize = 256 * 1024;
/// The smallest and largest capacity the collector accepts.
pub const MIN_CAPACITY: usize = 4096;
pub const MAX_CAPACITY: usize = 1024 * 1024;
/// Bytes of a whole ring mapping of `capacity`.
pub const fn mapping_len(capacity: usize) -> usize {
    HEADER_BYTES + capacity
}

const MAGIC: u64 = u64::from_le_bytes(*b"RWRING01");
const OFF_MAGIC: usize = 0;
const OFF_CAPACITY: usize = 8;
const OFF_HEAD: usize = 64;
const OFF_TAIL: usize = 128;
const OFF_WAITING: usize = 192;
const OFF_POSTED: usize = 256;
const OFF_CONSUMED: usize = 320;

const STATE_COMMITTED: u64 = 1;
const STATE_PAD: u64 = 2;
const WORD: usize = 8;

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Where a frame of `need` bytes would go with the head and tail as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reserve {
    /// `total` bytes from the head (a pad to the end first when `pad_at`).
    Room {
        total: usize,
        at: usize,
        pad_at: Option<usize>,
    },
    /// Not enough room between head and tail.
    Full,
    /// The head as read is behind the tail: read before another poster
    /// moved it and the reader followed. Read the head again.
    Stale,
}

/// One step of a post's reservation, free of overflow whatever the two
/// counters hold (they live in memory the traced program can write).
fn reserve(head: u64, tail: u64, capacity: usize, need: usize) -> Reserve {
    let used = head.wrapping_sub(tail);
    if used > capacity as u64 {
        return Reserve::Stale;
    }
    let off = (head as usize) & (capacity - 1);
    let to_end = capacity - off;
    let (total, at, pad_at) = if need <= to_end {
        (need, off, None)
    } else {
        (to_end + need, 0, Some(off))
    };
    if used as usize + total > capacity {
        return Reserve::Full;
    }
    Reserve::Room { total, at, pad_at }
}

/// A ring mapped at `base`: the data of `capacity` bytes follows the header.
#[derive(Clone, Copy, Debug)]
pub struct Ring {
    base: *mut u8,
    capacity: usize,
}

// SAFETY: every access to the shared memory is through atomics or plain
// byte copies the protocol orders with them.
unsafe impl Send for Ring {}
unsafe impl Sync for Ring {}

/// What became of a post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Post {
    /// In the ring; `wake`: the collector sleeps, send it a Wake frame.
    Posted { wake: bool },
    /// No room now (or a frame too long for this ring): send it otherwise.
    Full,
}

impl Ring {
    /// A new ring in fresh zeroed memory of [`mapping_len`]`(capacity)`
    /// bytes at `base` (the producer's side).
    ///
    /// # Safety
    /// `base` is a writable, zeroed, 8-aligned mapping of that length that
    /// lives as long as the `Ring`; `capacity` is a power of two.
    pub unsafe fn init(base: *mut u8, capacity: usize) -> Ring {
        let ring = Ring { base, capacity };
        ring.word(OFF_CAPACITY)
            .store(capacity as u64, Ordering::Relaxed);
        ring.word(OFF_MAGIC).store(MAGIC, Ordering::Release);
        ring
    }

    /// The ring this process made with [`Ring::init`] at `base`.
    ///
    /// # Safety
    /// As for [`Ring::init`], and `init` was called there with `capacity`.
    pub unsafe fn view(base: *mut u8, capacity: usize) -> Ring {
        Ring { base, capacity }
    }

    /// The ring in a mapping another process made (the collector's side):
    /// `None` when `mapped` bytes are not a ring of a capacity allowed here.
    /// The capacity is the mapping's, not what the header claims.
    ///
    /// # Safety
    /// `base` is a readable and writable, 8-aligned mapping of `mapped`
    /// bytes that lives as long as the `Ring` and cannot shrink (sealed).
    pub unsafe fn attach(base: *mut u8, mapped: usize) -> Option<Ring> {
        let capacity = mapped.checked_sub(HEADER_BYTES)?;
        if !capacity.is_power_of_two() || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
            return None;
        }
        let ring = Ring { base, capacity };
        (ring.word(OFF_MAGIC).load(Ordering::Acquire) == MAGIC).then_some(ring)
    }

    /// The data capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        // SAFETY: `off` is a header offset or an 8-aligned data offset below
        // the mapping's end (callers keep it so); AtomicU64 has u64's layout.
        unsafe { &*(self.base.add(off) as *const AtomicU64) }
    }

    fn entry(&self, at: usize) -> &AtomicU64 {
        self.word(HEADER_BYTES + at)
    }

    /// Put `frame` in the ring. Never waits and never fails but for room.
    pub fn post(&self, frame: &[u8]) -> Post {
        let need = WORD + align8(frame.len());
        if need > self.capacity / 4 || frame.len() > u32::MAX as usize {
            return Post::Full;
        }
        let head_word = self.word(OFF_HEAD);
        let mut head = head_word.load(Ordering::Relaxed);
        let (at, pad_at) = loop {
            let tail = self.word(OFF_TAIL).load(Ordering::Acquire);
            let (total, at, pad_at) = match reserve(head, tail, self.capacity, need) {
                Reserve::Room { total, at, pad_at } => (total, at, pad_at),
                Reserve::Full => return Post::Full,
                Reserve::Stale => {
                    let now = head_word.load(Ordering::Relaxed);
                    if now == head {
                        // A head behind the tail that no poster moves on:
                        // a header no producer of ours writes.
                        return Post::Full;
                    }
                    head = now;
                    continue;
                }
            };
            match head_word.compare_exchange_weak(
                head,
                head.wrapping_add(total as u64),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break (at, pad_at),
                Err(now) => head = now,
            }
        };
        // Counted as posted from the reservation on: a post cut short (a
        // thread killed before its commit) is one the reader did not get.
        self.word(OFF_POSTED).fetch_add(1, Ordering::Relaxed);
        if let Some(p) = pad_at {
            self.entry(p).store(STATE_PAD << 32, Ordering::Release);
        }
        // SAFETY: [at + WORD, at + need) is ours alone until the commit.
        unsafe {
            core::ptr::copy_nonoverlapping(
                frame.as_ptr(),
                self.base.add(HEADER_BYTES + at + WORD),
                frame.len(),
            );
        }
        self.entry(at).store(
            frame.len() as u64 | STATE_COMMITTED << 32,
            Ordering::Release,
        );
        fence(Ordering::SeqCst);
        let waiting = self.word(OFF_WAITING);
        let wake = waiting.load(Ordering::Relaxed) != 0 && waiting.swap(0, Ordering::AcqRel) != 0;
        Post::Posted { wake }
    }
}

impl Ring {
    /// Frames posted and not (yet) read by the collector: what a producer
    /// whose collector is gone counts as lost. Both counts are words of
    /// the shared memory, so this is the producer's own estimate.
    pub fn unconsumed(&self) -> u64 {
        let posted = self.word(OFF_POSTED).load(Ordering::Acquire);
        let consumed = self.word(OFF_CONSUMED).load(Ordering::Acquire);
        posted.saturating_sub(consumed)
    }
}

/// What [`Reader::next`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A frame of this many bytes, copied into the caller's buffer.
    Frame(usize),
    /// Nothing committed at the tail (yet).
    Empty,
    /// The ring holds something no producer of ours writes: stop reading it.
    Corrupt,
}

/// The collector's end of one ring.
#[derive(Debug)]
pub struct Reader {
    ring: Ring,
    /// Bytes consumed, ever: the collector's own count, never read back.
    tail: u64,
    /// Frames read, ever: likewise.
    frames: u64,
}

impl Reader {
    pub fn new(ring: Ring) -> Reader {
        Reader {
            ring,
            tail: 0,
            frames: 0,
        }
    }

    /// The next committed frame, copied into `out` (which must hold
    /// [`crate::wire::MAX_FRAME`] bytes; a longer entry is corrupt). Reads
    /// past at most one pad: what it clears is bounded by what it returns.
    pub fn next(&mut self, out: &mut [u8]) -> Next {
        loop {
            let cap = self.ring.capacity;
            let at = (self.tail as usize) & (cap - 1);
            let entry = self.ring.entry(at);
            let word = entry.load(Ordering::Acquire);
            let (len, state) = (word as u32 as usize, word >> 32);
            match state {
                0 => return Next::Empty,
                // A producer pads only the end of a lap too short for an
                // entry, and entries are at most a quarter of the ring: a
                // longer pad is not ours (and would make us clear much for
                // little).
                STATE_PAD if cap - at < cap / 4 => {
                    self.clear(at, cap - at);
                    self.advance(cap - at);
                }
                STATE_COMMITTED => {
                    let need = WORD + align8(len);
                    if len > out.len() || need > cap - at {
                        return Next::Corrupt;
                    }
                    // SAFETY: the entry lies inside the data (checked above).
                    unsafe {
                        core::ptr::copy_nonoverlapping(
                            self.ring.base.add(HEADER_BYTES + at + WORD),
                            out.as_mut_ptr(),
                            len,
                        );
                    }
                    self.clear(at, need);
                    self.advance(need);
                    self.frames += 1;
                    self.ring
                        .word(OFF_CONSUMED)
                        .store(self.frames, Ordering::Release);
                    return Next::Frame(len);
                }
                _ => return Next::Corrupt,
            }
        }
    }

    /// Zero what was read, so that everything between the tail and the
    /// producers' commits reads as "being written" (state 0), never as a
    /// stale word of an earlier lap.
    fn clear(&self, at: usize, len: usize) {
        // SAFETY: [at, at + len) lies inside the data (the callers check).
        unsafe { core::ptr::write_bytes(self.ring.base.add(HEADER_BYTES + at), 0, len) };
    }

    fn advance(&mut self, by: usize) {
        self.tail = self.tail.wrapping_add(by as u64);
        self.ring.word(OFF_TAIL).store(self.tail, Ordering::Release);
    }

    /// Before the collector sleeps: ask for a Wake frame. Returns false
    /// when a frame came in meanwhile (read it instead of sleeping).
    pub fn arm(&self) -> bool {
        self.ring.word(OFF_WAITING).store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let at = (self.tail as usize) & (self.ring.capacity - 1);
        self.ring.entry(at).load(Ordering::Acquire) >> 32 == 0
    }

    /// Frames the producers say they posted and this reader has not read
    /// (the posted count is the program's word: a count for a report of
    /// its own records, never for anything else).
    pub fn unread_frames(&self) -> u64 {
        self.ring
            .word(OFF_POSTED)
            .load(Ordering::Acquire)
            .saturating_sub(self.frames)
    }

    /// Bytes reserved by producers and not consumed: after the process is
    /// gone, more than zero means a post was cut short (a thread killed
    /// between its reservation and its commit). The head is the program's
    /// word, so this is a hint for a report, never a count to trust.
    pub fn unread_bytes(&self) -> u64 {
        self.ring
            .word(OFF_HEAD)
            .load(Ordering::Acquire)
            .wrapping_sub(self.tail)
    }
}

#[cfg(feature = "event")]
pub use mapped::Mapped;

/// The reading side's mapping of a ring (std: descriptors and errors).
#[cfg(feature = "event")]
mod mapped {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    use super::{mapping_len, Next, Reader, Ring, MAX_CAPACITY, MIN_CAPACITY};

    /// One process's ring as its reader makes it: a memfd of the ring's
    /// size, sealed so that the program it goes to cannot shrink it under
    /// the reader's mapping (a read would fault) nor grow or reseal it,
    /// mapped here with its header written.
    pub struct Mapped {
        base: *mut libc::c_void,
        len: usize,
        reader: Reader,
    }

    // SAFETY: the mapping is owned by this value and used by one thread at a time.
    unsafe impl Send for Mapped {}

    impl Mapped {
        /// A new ring of `capacity` data bytes, and the memfd to send the
        /// process that asked for it (close it once sent: the mapping
        /// keeps the memory). `InvalidInput` for a capacity not allowed.
        pub fn create(capacity: u32) -> io::Result<(Mapped, OwnedFd)> {
            let capacity = capacity as usize;
            if !capacity.is_power_of_two() || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a record ring of {capacity} bytes"),
                ));
            }
            let len = mapping_len(capacity);
            // SAFETY: plain system calls on a descriptor made here.
            let fd = unsafe {
                let fd = libc::memfd_create(
                    c"rampart-ring".as_ptr(),
                    libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
                );
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                OwnedFd::from_raw_fd(fd)
            };
            let raw = fd.as_raw_fd();
            // SAFETY: as above.
            let sized = unsafe {
                libc::ftruncate(raw, len as libc::off_t) == 0
                    && libc::fcntl(
                        raw,
                        libc::F_ADD_SEALS,
                        libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL,
                    ) == 0
            };
            if !sized {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: a new shared mapping of the whole (sealed) file.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    raw,
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: zeroed (a new file), 8-aligned, `len` bytes, kept
            // until drop.
            let ring = unsafe { Ring::init(base.cast(), capacity) };
            Ok((
                Mapped {
                    base,
                    len,
                    reader: Reader::new(ring),
                },
                fd,
            ))
        }

        /// Answer a process's Ring frame: make a ring of `capacity` data
        /// bytes and send its memfd to the process at the other end of
        /// `sock` with a RingGrant frame, without waiting. The caller keeps
        /// the mapping; the descriptor is closed once sent.
        pub fn grant(sock: RawFd, capacity: u32) -> io::Result<Mapped> {
            let (ring, memfd) = Mapped::create(capacity)?;
            let mut frame = [0u8; 16];
            let n = crate::wire::encode_ring_grant(&mut frame, capacity);
            let mut iov = libc::iovec {
                iov_base: frame.as_mut_ptr().cast(),
                iov_len: n,
            };
            let mut control = [0u64; 4];
            // SAFETY: msghdr and cmsghdr are plain data filled here; CMSG_*
            // compute offsets inside `control`, which has room for one
            // descriptor.
            let sent = unsafe {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = control.as_mut_ptr().cast();
                msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), memfd.as_raw_fd());
                libc::sendmsg(sock, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
            };
            if sent < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(ring)
        }

        /// The next frame in the ring, copied into `buf`.
        pub fn next(&mut self, buf: &mut [u8]) -> Next {
            self.reader.next(buf)
        }

        /// Ask for a Wake frame before sleeping; false when frames came in.
        pub fn arm(&self) -> bool {
            self.reader.arm()
        }

        /// Bytes reserved and never committed (see [`Reader::unread_bytes`]).
        pub fn unread_bytes(&self) -> u64 {
            self.reader.unread_bytes()
        }

        /// Frames posted and not read (see [`Reader::unread_frames`]).
        pub fn unread_frames(&self) -> u64 {
            self.reader.unread_frames()
        }
    }

    impl Drop for Mapped {
        fn drop(&mut self) {
            // SAFETY: our mapping, which the reader no longer uses.
            unsafe { libc::munmap(self.base, self.len) };
        }
    }
}

#[cfg(all(test, feature = "event"))]
mod tests {
    use super::*;

    fn mapping(capacity: usize) -> Vec<u64> {
        vec![0u64; mapping_len(capacity) / 8]
    }

    #[test]
    fn frames_come_out_in_order_across_many_laps() {
        let mut mem = mapping(MIN_CAPACITY);
        let base = mem.as_mut_ptr().cast::<u8>();
        // SAFETY: zeroed, 8-aligned, of the mapping's length.
        let ring = unsafe { Ring::init(base, MIN_CAPACITY) };
        let reader_ring = unsafe { Ring::attach(base, mapping_len(MIN_CAPACITY)) }.unwrap();
        let mut reader = Reader::new(reader_ring);
        let mut out = vec![0u8; 16 * 1024];
        for i in 0..5000u32 {
            let frame: Vec<u8> = (0..(i % 97 + 1)).map(|k| (k as u8) ^ (i as u8)).collect();
            assert_eq!(ring.post(&frame), Post::Posted { wake: false });
            assert_eq!(reader.next(&mut out), Next::Frame(frame.len()), "frame {i}");
            assert_eq!(&out[..frame.len()], &frame[..]);
        }
        assert_eq!(reader.next(&mut out), Next::Empty);
        assert_eq!(reader.unread_bytes(), 0);
        assert_eq!(ring.unconsumed(), 0);
        // A pad that is not the short end of a lap is not a producer's.
        let at = (reader.tail as usize) & (MIN_CAPACITY - 1);
        mem[(HEADER_BYTES + at) / 8] = STATE_PAD << 32;
        let expect = if MIN_CAPACITY - at < MIN_CAPACITY / 4 {
            Next::Empty
        } else {
            Next::Corrupt
        };
        assert_eq!(reader.next(&mut out), expect, "pad at {at}");
        mem[(HEADER_BYTES + at) / 8] = 0;
        ring.post(b"left");
        ring.post(b"behind");
        assert_eq!(ring.unconsumed(), 2);
    }

    #[test]
    fn a_full_ring_refuses_and_takes_again_once_read() {
        let mut mem = mapping(MIN_CAPACITY);
        let base = mem.as_mut_ptr().cast::<u8>();
        let ring = unsafe { Ring::init(base, MIN_CAPACITY) };
        let mut reader =
            Reader::new(unsafe { Ring::attach(base, mapping_len(MIN_CAPACITY)) }.unwrap());
        let frame = [7u8; 100];
        let mut posted = 0;
        while ring.post(&frame) != Post::Full {
            posted += 1;
        }
        assert_eq!(posted, MIN_CAPACITY / (8 + 104));
        let mut out = vec![0u8; 16 * 1024];
        assert_eq!(reader.next(&mut out), Next::Frame(100));
        assert_eq!(ring.post(&frame), Post::Posted { wake: false });
        // Too long for this ring: refused, never cut.
        assert_eq!(ring.post(&[0u8; MIN_CAPACITY]), Post::Full);
    }

    #[test]
    fn a_sleeping_reader_is_woken_once() {
        let mut mem = mapping(MIN_CAPACITY);
        let base = mem.as_mut_ptr().cast::<u8>();
        let ring = unsafe { Ring::init(base, MIN_CAPACITY) };
        let mut reader =
            Reader::new(unsafe { Ring::attach(base, mapping_len(MIN_CAPACITY)) }.unwrap());
        assert!(reader.arm());
        assert_eq!(ring.post(b"a"), Post::Posted { wake: true });
        assert_eq!(ring.post(b"b"), Post::Posted { wake: false });
        // Not empty any more: do not sleep.
        assert!(!reader.arm());
        let mut out = [0u8; 64];
        assert_eq!(reader.next(&mut out), Next::Frame(1));
    }

    #[test]
    fn a_hostile_ring_is_corrupt_never_a_panic() {
        let mut mem = mapping(MIN_CAPACITY);
        let base = mem.as_mut_ptr().cast::<u8>();
        // No magic: not a ring.
        assert!(unsafe { Ring::attach(base, mapping_len(MIN_CAPACITY)) }.is_none());
        assert!(unsafe { Ring::attach(base, mapping_len(MIN_CAPACITY) + 8) }.is_none());
        let ring = unsafe { Ring::init(base, MIN_CAPACITY) };
        let mut reader = Reader::new(ring);
        let words = mem.len();
        let mut out = [0u8; 64];
        // A committed length past the buffer, then past the lap's end, then
        // an unknown state.
        for word in [
            1000 | STATE_COMMITTED << 32,
            60 | STATE_COMMITTED << 32,
            9 << 32,
        ] {
            mem[HEADER_BYTES / 8] = word;
            if word == 60 | STATE_COMMITTED << 32 {
                // Put it in the last word of the lap instead.
                mem[HEADER_BYTES / 8] = 0;
                mem[words - 1] = word;
                reader.tail = (MIN_CAPACITY - 8) as u64;
            } else {
                reader.tail = 0;
            }
            assert_eq!(reader.next(&mut out), Next::Corrupt, "{word:#x}");
            mem[words - 1] = 0;
        }
    }

    #[test]
    fn a_head_read_before_the_tail_moved_past_it_is_read_again() {
        // A poster read head 96; meanwhile another posted 32 bytes and the
        // reader took them: tail 128. The sum once overflowed here.
        assert_eq!(reserve(96, 128, 1024, 32), Reserve::Stale);
        assert_eq!(reserve(u64::MAX - 8, 16, 1024, 32), Reserve::Stale);
        assert_eq!(
            reserve(128, 128, 1024, 32),
            Reserve::Room {
                total: 32,
                at: 128,
                pad_at: None
            }
        );
        assert_eq!(
            reserve(1008, 1000, 1024, 32),
            Reserve::Room {
                total: 48,
                at: 0,
                pad_at: Some(1008)
            }
        );
        assert_eq!(reserve(1024, 0, 1024, 8), Reserve::Full);
        assert_eq!(reserve(1000, 0, 1024, 32), Reserve::Full);
    }

    #[test]
    fn threads_post_concurrently_and_nothing_is_lost_or_torn() {
        let cap = 64 * 1024;
        let mut mem = mapping(cap);
        let base = mem.as_mut_ptr().cast::<u8>() as usize;
        let ring = unsafe { Ring::init(base as *mut u8, cap) };
        let mut reader =
            Reader::new(unsafe { Ring::attach(base as *mut u8, mapping_len(cap)) }.unwrap());
        let per = 20_000u32;
        let writers: Vec<_> = (0..4u8)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..per {
                        let mut frame = [t; 24];
                        frame[..4].copy_from_slice(&i.to_le_bytes());
                        while ring.post(&frame) == Post::Full {
                            std::hint::spin_loop();
                        }
                    }
                })
            })
            .collect();
        let mut next = [0u32; 4];
        let mut out = vec![0u8; 64];
        let mut got = 0;
        while got < 4 * per {
            match reader.next(&mut out) {
                Next::Frame(24) => {
                    let t = out[4] as usize;
                    assert!(out[4..24].iter().all(|&b| b == out[4]), "torn frame");
                    assert_eq!(u32::from_le_bytes(out[..4].try_into().unwrap()), next[t]);
                    next[t] += 1;
                    got += 1;
                }
                Next::Empty => std::hint::spin_loop(),
                other => panic!("{other:?}"),
            }
        }
        for w in writers {
            w.join().unwrap();
        }
        drop(mem);
    }
}
