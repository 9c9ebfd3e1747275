//! Enforce mode: a call is decided before it is made.
//!
//! The hook builds the call's frame, and [`gate`] turns it into a
//! [`Gate`]: run the real call, or refuse it. The verdict comes from, in
//! order:
//!
//! 1. the path screen: an open whose path the policy in force cannot
//!    refuse ([`rampart_core::screen`]) is allowed at once (a `grep -r`
//!    under a policy that guards `~/.ssh` waits for nothing), and so is a
//!    mutation none of whose paths it can refuse;
//! 2. the per-process verdict cache: a repeated identical call (same tool,
//!    executable, cwd and subject: command, path or address) is decided at
//!    once. In both cases the frame still goes to the collector, without
//!    waiting, so the trail keeps one record per call (with fail-closed,
//!    an allowed call whose record cannot reach the collector is refused);
//! 3. the collector: the frame is sent with the wants-verdict flag and the
//!    hook waits for the Verdict on the same connection, at most
//!    `RAMPART_DECISION_TIMEOUT_MS` (the collector writes the record before
//!    it answers);
//! 4. without a verdict (collector unreachable, gone or too slow),
//!    `RAMPART_FAIL_OPEN`: `1` runs the call, anything else refuses it.
//!
//! The cache is invalidated by the policy generation the collector
//! publishes in the file named by `RAMPART_POLICY_GEN` (layout in
//! [`rampart_core::generation::LEN`]), mapped read-only once per
//! process: the generation is part of every cache key, so a new policy
//! makes every cached verdict miss. The same file says which tools the
//! policy in force can never refuse (their calls skip all of this and are
//! reported after the call, as in monitor mode) and holds the path screens.
//! Without that file there is no screen and no cache, and every call is
//! asked.
//!
//! The cache is a fixed table of single-word atomic entries, each the
//! verdict plus 62 bits of a SipHash of the key (keyed with the kernel's
//! per-exec random bytes, so a program cannot aim a collision at a denied
//! call): lock-free, no allocation (one shared anonymous mapping, made once),
//! a lost race only costs a miss. The table is shared with the children the
//! process forks (created before the first fork), so that a shell asks once
//! for a command it runs in a loop; an exec starts with an empty one.
//!
//! `ask` is denied: nobody can be asked inside a system call. Nothing here
//! allocates, locks, panics or changes errno.

use core::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};

use libc::c_int;
use rampart_core::generation;
use rampart_core::wire::{self, WireOutcome};

use crate::conn::Ctx;
use crate::conn::{self, Conn};
use crate::sys;

/// What the hook does with the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Make the real call. `report_after`: the call's frame has not been
    /// sent: report it after the call, with its outcome, as in monitor mode.
    Run { report_after: bool },
    /// Fail the call with the tool's refusal errno (the record, if any, is
    /// already on its way).
    Refuse,
}

// ---- the policy generation file ------------------------------------------------

const UNMAPPED: usize = 0;
const UNAVAILABLE: usize = 1;
const MAPPING: usize = 2;
static GEN_PAGE: AtomicUsize = AtomicUsize::new(UNMAPPED);

/// The policy generation file, mapped read-only (layout and reading in
/// [`rampart_core::generation`]).
#[derive(Clone, Copy)]
struct GenFile(usize);

impl GenFile {
    fn word(self, i: usize) -> &'static AtomicU64 {
        // SAFETY: a read-only shared mapping of generation::LEN bytes, never
        // unmapped, starting with aligned words that are only ever read
        // atomically.
        unsafe { &*(self.0 as *const AtomicU64).add(i) }
    }

    /// Whether the policy cannot refuse a call of `tool` (`TOOL_READ` or
    /// `TOOL_WRITE`) on `path` ([`generation::passes`]). The collector may
    /// be rewriting the file: the caller validates the answer with the
    /// generation.
    fn passes(self, tool: u64, path: &[u8]) -> bool {
        let free = self.word(generation::FREE).load(Ordering::Relaxed);
        let screened = self.word(generation::SCREENED).load(Ordering::Relaxed);
        // SAFETY: the whole mapping (LEN bytes), read-only and never unmapped.
        let file = unsafe { core::slice::from_raw_parts(self.0 as *const u8, generation::LEN) };
        generation::passes(free, screened, file, tool, path)
    }

    /// Whether a rename of `path` moves nothing the policy guards by where
    /// it is, for reads and writes ([`generation::moves_nothing`]).
    fn moves_nothing(self, path: &[u8]) -> bool {
        let free = self.word(generation::FREE).load(Ordering::Relaxed);
        let screened = self.word(generation::SCREENED).load(Ordering::Relaxed);
        // SAFETY: the whole mapping (LEN bytes), read-only and never unmapped.
        let file = unsafe { core::slice::from_raw_parts(self.0 as *const u8, generation::LEN) };
        [wire::TOOL_READ, wire::TOOL_WRITE]
            .into_iter()
            .all(|tool| generation::moves_nothing(free, screened, file, tool, path))
    }
}

/// The policy generation file, mapped on first use.
fn gen_file(s: &crate::state::Saved) -> Option<GenFile> {
    match GEN_PAGE.load(Ordering::Acquire) {
        UNAVAILABLE | MAPPING => None,
        UNMAPPED => map_gen_file(s),
        p => Some(GenFile(p)),
    }
}

#[cold]
fn map_gen_file(s: &crate::state::Saved) -> Option<GenFile> {
    if GEN_PAGE
        .compare_exchange(UNMAPPED, MAPPING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return None; // another thread is mapping it: ask the collector this once
    }
    let mapped = map_file(s.var(rampart_core::env::POLICY_GEN.as_bytes()));
    GEN_PAGE.store(mapped.unwrap_or(UNAVAILABLE), Ordering::Release);
    mapped.map(GenFile)
}

fn map_file(path: &[u8]) -> Option<usize> {
    let mut name = [0u8; 1024];
    if path.is_empty() || path.len() >= name.len() {
        return None;
    }
    name[..path.len()].copy_from_slice(path);
    // SAFETY: plain system calls on a NUL-terminated path and our own fd.
    unsafe {
        let fd = sys::raw(
            libc::SYS_openat,
            libc::AT_FDCWD as usize,
            name.as_ptr() as usize,
            (libc::O_RDONLY | libc::O_CLOEXEC) as usize,
            0,
        )
        .ok()? as c_int;
        // Reading a mapped page past the end of the file faults: insist on
        // the whole layout.
        let big_enough = sys::fstat(fd).is_some_and(|st| st.st_size >= generation::LEN as i64);
        let p = if big_enough {
            sys::raw6(
                libc::SYS_mmap,
                [
                    0,
                    generation::LEN,
                    libc::PROT_READ as usize,
                    libc::MAP_SHARED as usize,
                    fd as usize,
                    0,
                ],
            )
            .ok()
        } else {
            None
        };
        sys::close(fd);
        p.filter(|&p| p > MAPPING)
    }
}

/// Whether the policy in force refuses files that have other names (hard
/// links, see [`generation::linked_name`]): then every open that could be
/// refused is pinned and its file looked up ([`other_name`]).
#[inline]
pub fn lists_other_names(s: &crate::state::Saved) -> bool {
    gen_file(s).is_some_and(|f| f.word(generation::LINKED).load(Ordering::Acquire) != 0)
}

/// The name the policy refuses the file `st` describes by, when it is a
/// refused file with more than one link: for the call's decision, as the
/// file it reaches. The name is the mapping's own bytes (valid as long as
/// the process lives); `None` when the file is not listed, or the
/// collector was rewriting the list (then nothing can be said, and the
/// call is decided on its names alone, as before the list existed).
pub fn other_name(s: &crate::state::Saved, st: &libc::stat) -> Option<&'static [u8]> {
    if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_nlink < 2 {
        return None;
    }
    let f = gen_file(s)?;
    let g = f.word(generation::GENERATION).load(Ordering::Acquire);
    if g & 1 != 0 {
        return None;
    }
    // SAFETY: the whole mapping (LEN bytes), read-only and never unmapped.
    let file: &'static [u8] =
        unsafe { core::slice::from_raw_parts(f.0 as *const u8, generation::LEN) };
    let name = generation::linked_name(file, st.st_dev, st.st_ino)?;
    fence(Ordering::Acquire);
    (f.word(generation::GENERATION).load(Ordering::Relaxed) == g).then_some(name)
}

/// The policy generation, or `None` when no generation file is available
/// (then nothing is cached).
fn generation(s: &crate::state::Saved) -> Option<u64> {
    gen_file(s).map(|f| f.word(generation::GENERATION).load(Ordering::Acquire))
}

/// Does a call of `tool` (`wire::TOOL_*` bits: a mutation is decided as
/// more than one tool, see `wire::Op::tools`) wait for a verdict? Only in
/// enforce mode, and only when the policy in force can refuse one of them, or,
/// with fail-closed, when the collector is no longer there to record the
/// call (then asking it fails and the call is refused).
/// `conn`: the caller's connection when it holds one already (else one is
/// acquired for the liveness check).
#[inline]
pub fn needs_verdict(cx: &Ctx, tool: u64, conn: Option<&Conn>) -> bool {
    let s = cx.s;
    if !s.enforce {
        return false;
    }
    let free = gen_file(s)
        .is_some_and(|f| f.word(generation::FREE).load(Ordering::Acquire) & tool == tool);
    if !free {
        return true;
    }
    let alive = match conn {
        Some(c) => recorder_alive(c),
        None => cx.conn().is_some_and(|c| recorder_alive(&c)),
    };
    // A wedged collector is not a gone one: see `allowed_unasked`.
    !s.fail_open && !alive && !conn::wedged()
}

/// How often, at most, a call that needs no verdict checks (fail-closed)
/// that the collector is still there to record it: a collector that died
/// is noticed within this many milliseconds by such calls, at once by
/// calls that wait for a verdict.
const ALIVE_RECHECK_MS: u64 = 2;
/// When the collector was last seen alive (coarse monotonic ms), 0: not.
static ALIVE_AT: AtomicU64 = AtomicU64::new(0);

/// Is the collector at the other end of `conn`? Peeks at most once per
/// [`ALIVE_RECHECK_MS`].
fn recorder_alive(conn: &Conn) -> bool {
    let now = sys::now_ms().max(1);
    let seen = ALIVE_AT.load(Ordering::Relaxed);
    if seen != 0 && now.wrapping_sub(seen) < ALIVE_RECHECK_MS {
        return true;
    }
    let alive = conn.alive();
    ALIVE_AT.store(if alive { now } else { 0 }, Ordering::Relaxed);
    alive
}

/// Whether the open or mutation of `frame` passes the path screens of the
/// policy in force: the policy cannot refuse it, so it needs no verdict. An
/// open passes when its path and the file it reached (if another) pass. A
/// mutation passes when each path it is decided on passes the screen of the
/// tool it is decided as (`rampart_core::event::Event::path_checks`):
/// its path and a rename's or link's new path as writes, a link's source as
/// a read too, a symlink's target as a write (self-protection refuses links
/// into rampart's own state). A screen read while the collector rewrites it
/// does not count.
fn passes_screen(s: &crate::state::Saved, frame: &[u8]) -> bool {
    let Some(f) = gen_file(s) else {
        return false;
    };
    if wire::event_truncated(frame) {
        return false;
    }
    let g = f.word(generation::GENERATION).load(Ordering::Acquire);
    if g & 1 != 0 {
        return false;
    }
    let passes = if let Some((flags, path, resolved)) = wire::open_event_fields(frame) {
        // The name given and the file reached, each as the open's tool.
        let tool = open_tool(flags);
        f.passes(tool, path) && (resolved.is_empty() || f.passes(tool, resolved))
    } else if let Some(m) = wire::mutation_event_fields(frame) {
        let (op, path, second) = (m.op, m.path, m.second);
        // Where the change lands, as the names say and as resolved.
        let first = |p: &[u8]| {
            f.passes(wire::TOOL_WRITE, p)
                && (op.tools() & wire::TOOL_READ == 0 || f.passes(wire::TOOL_READ, p))
                // A rename moves what is beneath its ends.
                && (op != wire::Op::Rename || f.moves_nothing(p))
        };
        let new = |p: &[u8]| {
            f.passes(wire::TOOL_WRITE, p) && (op != wire::Op::Rename || f.moves_nothing(p))
        };
        first(path)
            && (m.resolved.is_empty() || first(m.resolved))
            && (!op.has_new_path() || new(second))
            && (m.new_resolved.is_empty() || new(m.new_resolved))
            // A symlink's target too, so that a link to rampart's own
            // state is decided first (a relative target never passes).
            && (!op.has_target() || f.passes(wire::TOOL_WRITE, second))
    } else {
        false
    };
    fence(Ordering::Acquire);
    passes && f.word(generation::GENERATION).load(Ordering::Relaxed) == g
}

/// The tool an open with `flags` is recorded under, as a `wire::TOOL_*` bit.
pub fn open_tool(flags: c_int) -> u64 {
    const WRITE: c_int =
        libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND;
    if flags & WRITE != 0 {
        wire::TOOL_WRITE
    } else {
        wire::TOOL_READ
    }
}

// ---- the verdict cache -----------------------------------------------------------

const SLOTS: usize = 2048;
const CACHE_BYTES: usize = SLOTS * 8;
/// Each entry: hash bits 2..64, bit 1 "filled", bit 0 "allow"; 0 = empty.
const FILLED: u64 = 2;
const ALLOW: u64 = 1;
const TAG: u64 = !3;

/// The cache table: a shared anonymous mapping, so that the children this
/// process forks (and theirs) share it: a shell that forks a child per
/// command learns a command's verdict from the first child that asked.
/// 0: not created yet; [`NO_CACHE`]: being created, or the mapping failed.
static CACHE_MAP: AtomicUsize = AtomicUsize::new(0);
const NO_CACHE: usize = 1;

fn cache() -> Option<&'static [AtomicU64; SLOTS]> {
    match CACHE_MAP.load(Ordering::Acquire) {
        0 => create_cache(),
        NO_CACHE => None,
        // SAFETY: a live, never unmapped, zero-initialised mapping of
        // SLOTS words, only ever accessed atomically.
        p => Some(unsafe { &*(p as *const [AtomicU64; SLOTS]) }),
    }
}

#[cold]
fn create_cache() -> Option<&'static [AtomicU64; SLOTS]> {
    if CACHE_MAP
        .compare_exchange(0, NO_CACHE, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return None;
    }
    let p = sys::mmap_anon(CACHE_BYTES, true)
        .ok()
        .filter(|&p| p > NO_CACHE)?;
    CACHE_MAP.store(p, Ordering::Release);
    // SAFETY: as in `cache`.
    Some(unsafe { &*(p as *const [AtomicU64; SLOTS]) })
}

/// atfork prepare handler (enforce mode): create the cache before the first
/// fork, so that parent and child share it.
pub extern "C" fn before_fork() {
    if crate::state::saved().is_some_and(|s| s.enforce && s.active) {
        let _ = cache();
    }
}

/// The SipHash key: the 16 random bytes the kernel gives every exec.
fn hash_keys() -> (u64, u64) {
    static KEYS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
    let k0 = KEYS[0].load(Ordering::Relaxed);
    let k1 = KEYS[1].load(Ordering::Relaxed);
    if k0 | k1 != 0 {
        return (k0, k1);
    }
    // SAFETY: AT_RANDOM is the address of 16 bytes the kernel placed on the
    // initial stack; getauxval neither allocates nor fails for it on Linux.
    let p = unsafe { libc::getauxval(libc::AT_RANDOM) } as *const u8;
    let (k0, k1) = if p.is_null() {
        (0x736f_6d65_7073_6575, 0x646f_7261_6e64_6f6d)
    } else {
        // SAFETY: 16 readable bytes, possibly unaligned.
        unsafe {
            (
                (p as *const u64).read_unaligned(),
                (p.add(8) as *const u64).read_unaligned(),
            )
        }
    };
    KEYS[0].store(k0, Ordering::Relaxed);
    KEYS[1].store(k1, Ordering::Relaxed);
    (k0, k1)
}

/// Set in the call byte of a cache key for a call past the hooks (call
/// kinds are small numbers).
const PAST_HOOKS: u8 = 0x80;

/// The cache key of a call: generation, call kind and subject.
fn key(generation: u64, call: u8, subject: &[u8]) -> u64 {
    use core::hash::Hasher;
    let (k0, k1) = hash_keys();
    #[allow(deprecated)] // SipHash-2-4 of core: no_std, allocation-free, keyed
    let mut h = core::hash::SipHasher::new_with_keys(k0, k1);
    h.write_u64(generation);
    h.write_u8(call);
    h.write(subject);
    h.finish()
}

/// [`key`] under the policy in force (generation 0 without a generation
/// file), for callers that keep their own table ([`crate::sent`]).
pub fn keyed(s: &crate::state::Saved, call: u8, subject: &[u8]) -> u64 {
    key(generation(s).unwrap_or(0), call, subject)
}

fn slot(k: u64) -> Option<&'static AtomicU64> {
    cache().map(|c| &c[(k >> 40) as usize % SLOTS])
}

fn lookup(k: u64) -> Option<bool> {
    let e = slot(k)?.load(Ordering::Relaxed);
    (e & FILLED != 0 && e & TAG == k & TAG).then_some(e & ALLOW != 0)
}

fn remember(k: u64, allow: bool) {
    if let Some(s) = slot(k) {
        s.store((k & TAG) | FILLED | u64::from(allow), Ordering::Relaxed);
    }
}

// ---- the gate --------------------------------------------------------------------

/// Decide the call whose Event frame (outcome unknown, no verdict asked)
/// is `frame`. `refused` is the errno a refused call fails with (recorded
/// in the frame of a refusal taken from the cache). `send_if_cached`:
/// on an allowing cache hit send the frame now (execs, reported before the
/// call) rather than leave it to be reported after the call.
pub fn gate(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    frame: &mut [u8],
    refused: c_int,
    send_if_cached: bool,
) -> Gate {
    let Some((seq, call, subject)) = wire::event_subject(frame) else {
        return no_verdict(cx);
    };
    // An open the policy cannot refuse is allowed like a cached verdict.
    if passes_screen(cx.s, frame) {
        return allowed_unasked(cx, conn, frame, send_if_cached);
    }
    // A frame with a cut string stands for more than one call: not cached.
    // A call past the hooks is decided as one (only a rule that names it
    // refuses it): its verdict is kept apart from the program's own calls'.
    let call = if wire::event_past_hooks(frame) {
        call | PAST_HOOKS
    } else {
        call
    };
    let k = generation(cx.s)
        .filter(|_| !wire::event_truncated(frame))
        .map(|g| key(g, call, subject));
    match k.and_then(lookup) {
        Some(true) => return allowed_unasked(cx, conn, frame, send_if_cached),
        Some(false) => {
            wire::set_event_outcome(frame, WireOutcome::Errno(refused));
            match conn.as_mut() {
                Some(c) => {
                    c.send(cx.s, cx.pid, cx.ppid, frame);
                }
                None => conn::lost_one(),
            }
            return Gate::Refuse;
        }
        None => {}
    }
    wire::set_wants_verdict(frame, true);
    if conn.is_none() {
        // Decided without a collector: nothing will record it.
        conn::lost_one();
    }
    let verdict = conn
        .as_mut()
        .and_then(|c| c.ask(cx.s, cx.pid, cx.ppid, frame, seq, cx.s.timeout_ms));
    match verdict {
        Some(allow) => {
            if let Some(k) = k {
                remember(k, allow);
            }
            if allow {
                Gate::Run {
                    report_after: false,
                }
            } else {
                Gate::Refuse
            }
        }
        None => no_verdict(cx),
    }
}

/// [`gate`] for a call the path screen passes, `None` for any other (which
/// the caller decides later, on more than it knows now).
pub fn gate_if_screened(cx: &Ctx, conn: &mut Option<Conn>, frame: &mut [u8]) -> Option<Gate> {
    passes_screen(cx.s, frame).then(|| allowed_unasked(cx, conn, frame, false))
}

/// A call allowed without asking (screen or cache): it runs, but it must
/// be recorded: with fail-closed, a collector that is gone refuses it like
/// a missing verdict.
fn allowed_unasked(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    frame: &mut [u8],
    send_if_cached: bool,
) -> Gate {
    let recorded = match conn.as_mut() {
        Some(c) if send_if_cached => c.send(cx.s, cx.pid, cx.ppid, frame),
        Some(c) => cx.s.fail_open || recorder_alive(c),
        None => false,
    };
    // A wedged collector is there, only slow: the call runs, its record
    // counted as lost (fail-closed is for a collector that is gone).
    if !recorded && !cx.s.fail_open && !conn::wedged() {
        // Refused unrecorded (a failed send counted itself).
        if !send_if_cached || conn.is_none() {
            conn::lost_one();
        }
        return Gate::Refuse;
    }
    if conn.is_none() && send_if_cached {
        conn::lost_one(); // runs unrecorded
    }
    Gate::Run {
        report_after: !send_if_cached,
    }
}

/// No verdict came: `RAMPART_FAIL_OPEN` decides.
fn no_verdict(cx: &Ctx) -> Gate {
    if cx.s.fail_open {
        Gate::Run {
            report_after: false,
        }
    } else {
        Gate::Refuse
    }
}
