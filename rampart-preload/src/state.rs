//! Per-process facts the hooks need: the environment saved at load time
//! (`RAMPART_*`, `LD_PRELOAD`), the executable, the process's own pid (in
//! a wipe-on-fork page, once it made a few calls), the parent pid, and the
//! event sequence number.
//!
//! Everything lives in statics written once (at load, or by the first hook
//! that runs before the library's constructor) and published with atomics;
//! readers never wait. Nothing here allocates or locks. A vfork child shares
//! these statics with its parent: only pid-keyed caches are ever rewritten,
//! and readers check the pid.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};

use rampart_core::env;

use crate::sys;

/// Longest `RAMPART_*` block and `LD_PRELOAD` entry kept.
const VARS_CAP: usize = 4096;
const MAX_VARS: usize = 16;
const LD_CAP: usize = 2048;
const PATH_CAP: usize = 4096;

pub struct Saved {
    /// `RAMPART_SOCKET` names a usable socket address.
    pub active: bool,
    pub addr: libc::sockaddr_un,
    pub addr_len: libc::socklen_t,
    /// `RAMPART_MODE=enforce`: calls wait for the collector's verdict.
    pub enforce: bool,
    /// `RAMPART_FAIL_OPEN=1`: without a verdict (collector unreachable or
    /// too slow) an enforced call proceeds; otherwise it is denied.
    pub fail_open: bool,
    /// `RAMPART_DECISION_TIMEOUT_MS`: how long a call waits for its verdict.
    pub timeout_ms: u64,
    /// `RAMPART_UNHOOKED=1`: the tree runs under the filter of unhooked
    /// calls, which sends every watched call made outside this library
    /// (and by static programs) to the collector (see [`crate::gadget`]).
    pub unhooked: bool,
    /// The whole `LD_PRELOAD=...` entry, NUL-terminated, or empty.
    ld_entry: [u8; LD_CAP],
    ld_len: usize,
    /// This library's path as the loader opened it, and where its basename
    /// starts.
    lib_path: [u8; PATH_CAP],
    lib_len: usize,
    lib_base: usize,
    /// `RAMPART_*` entries, each NUL-terminated, one after another.
    vars: [u8; VARS_CAP],
    var_at: [(u16, u16, u16); MAX_VARS], // (start, name length, entry length)
    nvars: usize,
}

impl Saved {
    /// `LD_PRELOAD=value` with its NUL, or empty when none was set.
    pub fn ld_entry(&self) -> &[u8] {
        &self.ld_entry[..self.ld_len]
    }

    /// This library's file name (e.g. `librampart_preload.so`).
    pub fn lib_basename(&self) -> &[u8] {
        self.lib_path
            .get(self.lib_base..self.lib_len)
            .unwrap_or(&[])
    }

    pub fn lib_path(&self) -> &[u8] {
        &self.lib_path[..self.lib_len]
    }

    /// Saved `RAMPART_*` entries: `(name, whole entry with NUL)`.
    pub fn vars(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.var_at[..self.nvars].iter().map(|&(s, n, l)| {
            let s = s as usize;
            (&self.vars[s..s + n as usize], &self.vars[s..s + l as usize])
        })
    }

    /// The value of a saved `RAMPART_*` variable (`name` without `=`).
    pub fn var(&self, name: &[u8]) -> &[u8] {
        for (n, entry) in self.vars() {
            if n == name {
                // entry = name '=' value NUL
                return entry.get(n.len() + 1..entry.len() - 1).unwrap_or(&[]);
            }
        }
        &[]
    }
}

struct SyncCell<T>(UnsafeCell<T>);
// SAFETY: written only by the thread that won INIT's 0 → 1 transition,
// before INIT is published as 2; read only after seeing 2.
unsafe impl<T> Sync for SyncCell<T> {}

// SAFETY: all-zero is a valid `Saved` (plain integers and arrays).
static SAVED: SyncCell<Saved> = SyncCell(UnsafeCell::new(unsafe { core::mem::zeroed() }));
static INIT: AtomicU8 = AtomicU8::new(0);
const INIT_RUNNING: u8 = 1;
const INIT_DONE: u8 = 2;

/// The saved environment, initialising it on first use. `None` while
/// another thread (or a re-entrant call) is initialising.
#[inline]
pub fn saved() -> Option<&'static Saved> {
    if INIT.load(Ordering::Acquire) == INIT_DONE {
        // SAFETY: published by `init` with Release.
        return Some(unsafe { &*SAVED.0.get() });
    }
    init();
    if INIT.load(Ordering::Acquire) == INIT_DONE {
        Some(unsafe { &*SAVED.0.get() })
    } else {
        None
    }
}

/// Read the environment once. Called from the library's constructor, or
/// by the first hook if another library's constructor runs first.
#[cold]
pub fn init() {
    if INIT
        .compare_exchange(0, INIT_RUNNING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return;
    }
    // SAFETY: we won the transition: nobody else reads or writes SAVED.
    let s = unsafe { &mut *SAVED.0.get() };
    // SAFETY: environ is a NULL-terminated array of C strings.
    unsafe {
        let mut p = libc_environ();
        while !p.is_null() && !(*p).is_null() {
            take_env_entry(s, sys::cstr_bytes(*p));
            p = p.add(1);
        }
    }
    let mut socket = [0u8; 108];
    let sock = s.var(env::SOCKET.as_bytes());
    let socket = match socket.get_mut(..sock.len()) {
        Some(dst) => {
            dst.copy_from_slice(sock);
            &*dst
        }
        None => &[][..],
    };
    let mut addr: libc::sockaddr_un = unsafe { core::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if !socket.is_empty() && socket.len() < addr.sun_path.len() {
        for (d, b) in addr.sun_path.iter_mut().zip(socket) {
            *d = *b as libc::c_char;
        }
        s.addr = addr;
        s.addr_len = (core::mem::size_of::<libc::sa_family_t>() + socket.len() + 1) as _;
        s.active = true;
    }
    s.enforce = env::enforces(s.var(env::MODE.as_bytes()));
    s.fail_open = env::flag(s.var(env::FAIL_OPEN.as_bytes()));
    s.timeout_ms = env::timeout_ms(s.var(env::DECISION_TIMEOUT_MS.as_bytes()));
    s.unhooked = env::flag(s.var(env::UNHOOKED.as_bytes()));
    if s.unhooked {
        crate::gadget::map();
    }
    find_own_path(s);
    // Resolve the real execve now: its first use may be in a vfork child,
    // where dlsym (which takes the loader's lock) is best avoided.
    let _ = crate::real::execve.addr();
    crate::register_fork_handlers();
    INIT.store(INIT_DONE, Ordering::Release);
}

fn take_env_entry(s: &mut Saved, e: &[u8]) {
    if let Some(rest) = e.strip_prefix(b"LD_PRELOAD=") {
        let _ = rest;
        if e.len() < LD_CAP {
            s.ld_entry[..e.len()].copy_from_slice(e);
            s.ld_entry[e.len()] = 0;
            s.ld_len = e.len() + 1;
        }
    } else if e.starts_with(env::PREFIX.as_bytes()) {
        let Some(eq) = e.iter().position(|&b| b == b'=') else {
            return;
        };
        let start = s
            .var_at
            .get(s.nvars.wrapping_sub(1))
            .filter(|_| s.nvars > 0)
            .map(|&(st, _, l)| st as usize + l as usize)
            .unwrap_or(0);
        let end = start + e.len() + 1;
        if s.nvars >= MAX_VARS || end > VARS_CAP {
            return;
        }
        s.vars[start..start + e.len()].copy_from_slice(e);
        s.vars[start + e.len()] = 0;
        s.var_at[s.nvars] = (start as u16, eq as u16, (e.len() + 1) as u16);
        s.nvars += 1;
    }
}

fn find_own_path(s: &mut Saved) {
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: dladdr fills `info` for an address inside this library.
    let ok = unsafe { libc::dladdr(find_own_path as *const libc::c_void, &mut info) };
    if ok == 0 || info.dli_fname.is_null() {
        return;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the loader.
    let p = unsafe { sys::cstr_bytes(info.dli_fname) };
    if p.len() >= PATH_CAP {
        return;
    }
    s.lib_path[..p.len()].copy_from_slice(p);
    s.lib_len = p.len();
    s.lib_base = p.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
}

extern "C" {
    #[link_name = "environ"]
    static mut ENVIRON: *const *const libc::c_char;
}

/// The process's current environment array.
pub fn libc_environ() -> *const *const libc::c_char {
    // SAFETY: reading the pointer value of libc's `environ`.
    unsafe { core::ptr::addr_of!(ENVIRON).read() }
}

/// Replace the process's environment array (used around `popen`).
///
/// # Safety
/// `env` must stay valid until it is replaced again.
pub unsafe fn set_libc_environ(env: *const *const libc::c_char) {
    core::ptr::addr_of_mut!(ENVIRON).write(env);
}

// ---- executable -----------------------------------------------------------

static EXE_STATE: AtomicU8 = AtomicU8::new(0);
static EXE: SyncCell<([u8; PATH_CAP], usize)> = SyncCell(UnsafeCell::new(([0; PATH_CAP], 0)));

/// The executable of this process (readlink of `/proc/self/exe`, cached:
/// it only changes on exec, which reloads the library).
pub fn exe() -> &'static [u8] {
    if EXE_STATE.load(Ordering::Acquire) == INIT_DONE {
        // SAFETY: published with Release after being written.
        let e = unsafe { &*EXE.0.get() };
        return &e.0[..e.1];
    }
    if EXE_STATE
        .compare_exchange(0, INIT_RUNNING, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        // SAFETY: only the winner writes.
        let e = unsafe { &mut *EXE.0.get() };
        let n = sys::readlink(
            c"/proc/self/exe".as_ptr().cast(),
            e.0.as_mut_ptr(),
            PATH_CAP,
        )
        .unwrap_or(0);
        e.1 = n.min(PATH_CAP);
        EXE_STATE.store(INIT_DONE, Ordering::Release);
        return &e.0[..e.1];
    }
    // Another thread is reading it right now: report without.
    &[]
}

// ---- own pid, kept across calls ----------------------------------------------

/// A page the kernel zeroes in a forked child (`MADV_WIPEONFORK`), holding
/// this process's pid: 0 = not made yet, 1 = could not be made (ask the
/// kernel every time), else its address.
static PID_PAGE: AtomicUsize = AtomicUsize::new(0);

/// Calls that ask the kernel for the pid before the page is made: a
/// process that makes only a few (most of them) makes no page at all.
const PID_PAGE_AFTER: u32 = 16;
static PID_ASKED: AtomicU32 = AtomicU32::new(0);

/// The caller's pid without a system call: after a process's first
/// [`PID_PAGE_AFTER`] calls it sits in a wipe-on-fork page, so a child made
/// by `fork` or a raw `clone` (no atfork handler needed) finds 0 there and
/// asks the kernel once. A vfork child (or one cloned with `CLONE_VM`)
/// shares the page and reads its parent's pid: the exec and spawn hooks,
/// which run in such children, use [`sys::getpid`] instead. (Were a vfork
/// child the one to make the page, its parent would read the child's pid:
/// its records are still its own, as the collector takes the pid of a
/// preload frame from the connection, and it connects anew.)
pub fn pid() -> i32 {
    let page = PID_PAGE.load(Ordering::Acquire);
    if page > 1 {
        // SAFETY: a live private mapping of one page, never unmapped,
        // only ever accessed atomically.
        let cell = unsafe { &*(page as *const AtomicI32) };
        let v = cell.load(Ordering::Relaxed);
        if v != 0 {
            return v;
        }
        let p = sys::getpid();
        cell.store(p, Ordering::Relaxed);
        return p;
    }
    if page == 0 && PID_ASKED.fetch_add(1, Ordering::Relaxed) >= PID_PAGE_AFTER - 1 {
        make_pid_page();
    }
    sys::getpid()
}

#[cold]
fn make_pid_page() {
    if PID_PAGE
        .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    let p = sys::getpid();
    let Ok(page) = sys::mmap_anon(4096, false) else {
        return;
    };
    // SAFETY: advice on our own fresh mapping.
    let wiped = unsafe {
        sys::raw(
            libc::SYS_madvise,
            page,
            4096,
            libc::MADV_WIPEONFORK as usize,
            0,
        )
    };
    if wiped.is_err() {
        // SAFETY: our mapping, used by nothing yet.
        unsafe { sys::munmap(page, 4096) };
        return;
    }
    // SAFETY: as in `pid`.
    unsafe { &*(page as *const AtomicI32) }.store(p, Ordering::Relaxed);
    PID_PAGE.store(page, Ordering::Release);
}

// ---- parent pid, per pid ----------------------------------------------------

static PPID: AtomicU64 = AtomicU64::new(0);

/// The parent of `pid` (which must be the caller's pid), cached per pid.
pub fn ppid(pid: i32) -> i32 {
    let v = PPID.load(Ordering::Relaxed);
    if (v >> 32) as i32 == pid && pid != 0 {
        return v as u32 as i32;
    }
    let pp = sys::getppid();
    PPID.store(
        ((pid as u32 as u64) << 32) | pp as u32 as u64,
        Ordering::Relaxed,
    );
    pp
}

// ---- sequence numbers -------------------------------------------------------

static SEQ: AtomicU32 = AtomicU32::new(1);

pub fn next_seq() -> u32 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}
