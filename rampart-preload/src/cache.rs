//! Caches that spare the hot path a system call or two: the cwd (kept until
//! a `chdir`/`fchdir` hook says it changed) and the paths of directory
//! descriptors (kept per descriptor, and used only while `fstat` shows the
//! same device and inode, since glibc closes descriptors behind our back).
//! A rename the library sees drops both (a directory may have moved).
//!
//! Each entry is a small seqlock: writers take the slot by making its
//! sequence odd (or give up if another writer has it), readers copy the
//! atomics out and retry nothing: a changed sequence is a miss. No locks,
//! no allocation, never a torn path.

use core::mem::MaybeUninit;
use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use libc::c_int;

use crate::path::{self, PATH_MAX};
use crate::sys;

const WORDS: usize = PATH_MAX / 8;

pub struct PathSlot {
    seq: AtomicU32,
    key: [AtomicU64; 3],
    len: AtomicU32,
    words: [AtomicU64; WORDS],
}

impl PathSlot {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        PathSlot {
            seq: AtomicU32::new(0),
            key: [const { AtomicU64::new(0) }; 3],
            len: AtomicU32::new(0),
            words: [const { AtomicU64::new(0) }; WORDS],
        }
    }

    /// The cached path for `key`, copied into `out`.
    pub fn read(&self, key: [u64; 3], out: &mut [MaybeUninit<u8>]) -> Option<usize> {
        self.read_if(|k| k == key, out)
    }

    /// The cached path, copied into `out`, if `wanted` takes its key.
    pub fn read_if(
        &self,
        wanted: impl Fn([u64; 3]) -> bool,
        out: &mut [MaybeUninit<u8>],
    ) -> Option<usize> {
        let s1 = self.seq.load(Ordering::Acquire);
        if s1 == 0 || s1 & 1 == 1 {
            return None;
        }
        let key: [u64; 3] = core::array::from_fn(|i| self.key[i].load(Ordering::Relaxed));
        if !wanted(key) {
            return None;
        }
        let len = self.len.load(Ordering::Relaxed) as usize;
        if len > out.len() || len > PATH_MAX {
            return None;
        }
        for (i, w) in self.words.iter().enumerate().take(len.div_ceil(8)) {
            let bytes = w.load(Ordering::Relaxed).to_le_bytes();
            for (j, b) in bytes.iter().enumerate() {
                if let Some(d) = out.get_mut(i * 8 + j).filter(|_| i * 8 + j < len) {
                    d.write(*b);
                }
            }
        }
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == s1).then_some(len)
    }

    /// Remember `path` for `key` (skipped if another writer holds the slot).
    pub fn write(&self, key: [u64; 3], path: &[u8]) {
        if path.len() > PATH_MAX {
            return;
        }
        let s = self.seq.load(Ordering::Relaxed);
        if s & 1 == 1
            || self
                .seq
                .compare_exchange(s, s.wrapping_add(1), Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        for (k, v) in self.key.iter().zip(key) {
            k.store(v, Ordering::Relaxed);
        }
        self.len.store(path.len() as u32, Ordering::Relaxed);
        for (i, chunk) in path.chunks(8).enumerate() {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            if let Some(w) = self.words.get(i) {
                w.store(u64::from_le_bytes(b), Ordering::Relaxed);
            }
        }
        // Skip 0 so a written slot never looks empty after wrap-around.
        let next = s.wrapping_add(2);
        self.seq
            .store(if next == 0 { 2 } else { next }, Ordering::Release);
    }
}

// ---- cwd ---------------------------------------------------------------------

/// Bumped by every chdir/fchdir hook (after the call).
static CWD_GEN: AtomicU64 = AtomicU64::new(0);
/// Keyed by `[generation, pid | device << 32, inode]` (the device's low
/// 32 bits): the generation and
/// process it was read in, and the directory it names.
static CWD: PathSlot = PathSlot::new();

pub fn cwd_changed() {
    CWD_GEN.fetch_add(1, Ordering::AcqRel);
}

/// The device and inode of the caller's working directory now.
fn cwd_id() -> Option<(u64, u64)> {
    let st = sys::fstatat(libc::AT_FDCWD, c"".as_ptr().cast(), libc::AT_EMPTY_PATH)?;
    Some((st.st_dev, st.st_ino))
}

/// Read the cwd into `out`, and keep it for `pid` when the name read is
/// the directory the process is in (another thread may change it while it
/// is read, and back).
fn read_cwd(pid: i32, out: &mut [MaybeUninit<u8>]) -> (usize, bool) {
    let gen = CWD_GEN.load(Ordering::Acquire);
    let (n, cut) = path::getcwd_into(out);
    if n == 0 || cut || n >= out.len() {
        return (n, cut);
    }
    out[n].write(0); // scratch past the name: it is n bytes long
    let named = sys::fstatat(libc::AT_FDCWD, out.as_ptr().cast(), 0);
    if let (Some(st), Some(now)) = (named, cwd_id()) {
        if (st.st_dev, st.st_ino) == now {
            // SAFETY: getcwd initialised the first n bytes.
            let got = unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<u8>(), n) };
            let (dev, ino) = now;
            CWD.write(
                [gen, pid as u32 as u64 | (dev as u32 as u64) << 32, ino],
                got,
            );
        }
    }
    (n, cut)
}

/// The cwd of process `pid` (the caller) into `out` (for
/// `Encoder::str_with`): `(len, cut)`, as the hooks last saw it change.
/// Keyed by pid as well: a vfork child shares this cache but may have
/// changed directory before its exec. (A change the hooks did not see, a
/// `chdir` made by a raw system call, shows in [`cwd_now_into`] only.)
pub fn cwd_into(pid: i32, out: &mut [MaybeUninit<u8>]) -> (usize, bool) {
    let gen = CWD_GEN.load(Ordering::Acquire);
    if let Some(n) = CWD.read_if(|k| k[0] == gen && k[1] as u32 == pid as u32, out) {
        return (n, false);
    }
    read_cwd(pid, out)
}

/// The caller's working directory as it is now, for a name relative to
/// it: the kept one while the directory is still the one it names (one
/// `fstatat`: a `chdir` the hooks never saw changes it), else read again.
/// `(0, _)` when it cannot be named.
pub fn cwd_now_into(out: &mut [MaybeUninit<u8>]) -> (usize, bool) {
    let Some((dev, ino)) = cwd_id() else {
        return (0, false);
    };
    let gen = CWD_GEN.load(Ordering::Acquire);
    if let Some(n) = CWD.read_if(
        |k| k[0] == gen && k[1] >> 32 == dev as u32 as u64 && k[2] == ino,
        out,
    ) {
        return (n, false);
    }
    read_cwd(sys::getpid(), out)
}

// ---- directory descriptors --------------------------------------------------------

const DIR_SLOTS: usize = 8;
static DIRS: [PathSlot; DIR_SLOTS] = [const { PathSlot::new() }; DIR_SLOTS];
/// Bumped by every rename hook that renamed something (after the call): a
/// cached directory path may name the old place.
static DIR_GEN: AtomicU64 = AtomicU64::new(0);

/// A rename worked: the cwd and the directories of descriptors may have
/// new names; drop what is cached.
pub fn renamed() {
    DIR_GEN.fetch_add(1, Ordering::AcqRel);
    cwd_changed();
}

/// The path of directory descriptor `fd` into `out`: cached while the
/// descriptor still names the same inode, else read from /proc.
pub fn dir_path(fd: c_int, out: &mut [u8; PATH_MAX]) -> Option<usize> {
    let st = sys::fstat(fd)?;
    let key = [
        fd as u32 as u64 | DIR_GEN.load(Ordering::Acquire) << 32,
        st.st_dev,
        st.st_ino,
    ];
    let slot = &DIRS[(fd as u32 as usize) % DIR_SLOTS];
    // SAFETY: u8 and MaybeUninit<u8> share a layout; we only write bytes.
    let view = unsafe { &mut *(out as *mut [u8; PATH_MAX] as *mut [MaybeUninit<u8>; PATH_MAX]) };
    if let Some(n) = slot.read(key, view) {
        return Some(n);
    }
    let n = path::fd_path(fd, out)?;
    // A removed directory (a working directory pinned after its `rmdir`)
    // reads as "NAME (deleted)"; its names are NAME/..., as getcwd's are.
    let n = out[..n].strip_suffix(b" (deleted)").map_or(n, <[u8]>::len);
    slot.write(key, &out[..n]);
    Some(n)
}
