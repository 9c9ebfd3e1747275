//! The wire between the preload library and the collector: one binary frame
//! per `SOCK_SEQPACKET` message.
//!
//! The encoder half ([`Encoder`], the `encode_*` functions, [`decode_verdict`])
//! is `no_std` and allocation-free: it runs inside hooks in other people's
//! processes, so it never panics, never allocates and writes into a caller's
//! buffer, cutting strings (and flagging the frame `truncated`) rather than
//! failing. The decoder half (feature `full`) turns frames back into
//! [`crate::event::Event`]s for the collector and rejects anything malformed;
//! it must never panic on any input.
//!
//! # Frame layout
//!
//! All integers are little-endian. A string (`str`) is a `u16` byte length
//! followed by the bytes (not NUL-terminated, not necessarily UTF-8).
//!
//! ```text
//! prefix   'R' 'W' version:u8 kind:u8
//! Hello    pid:i32 ppid:i32 exe:str cwd:str agent:str session:str
//! Event    seq:u32 flags:u8 call:u8 outcome:u8 errno:i32 pid:i32 ppid:i32
//!          exe:str cwd:str body
//!            flags   bit 0 wants_verdict, bit 1 truncated, bit 2 source trace,
//!                    bit 3 source unhooked (a call past the hooks)
//!                    (the call was seen by the ptrace backend, e.g. in
//!                    `rampart __trace-exec`; else by the preload library)
//!            outcome 0 ok, 1 in progress, 2 errno (errno > 0), 3 unknown
//!            call 1 exec     path:str argc:u16 argc × arg:str [via:str]
//!                            via: the name whose exec loaded `path` (a
//!                            link, a script), from the trace backend only
//!            call 2 open     flags:i32 path:str [resolved:str]
//!                            resolved: the file reached where it is not
//!                            `path` (absent or empty: the same)
//!            call 3 inet     family:u8 (4|6) addr:[u8; 4|16] port:u16 proto:u8 (1 tcp, 2 udp)
//!                            domain:str (empty: none seen)
//!            call 4 unix     path:str
//!            call 5 mutate   op:u8 path:str second:str [resolved:str [new_resolved:str]]
//!                            op: see [`Op`]; second: the new path of a rename
//!                            or link, the target of a symlink as written,
//!                            empty for the other ops; resolved, new_resolved:
//!                            where the change lands where it is not `path`,
//!                            the new path (absent or empty: the same)
//! ExecFailed seq:u32 errno:i32
//! Verdict    seq:u32 allow:u8          (collector → preload, enforce mode)
//! Lost       count:u32                 (records of this process that never
//!                                       reached the collector; count ≥ 1)
//! Ring       capacity:u32              (a process asks for a record ring of
//!                                       that many data bytes, see
//!                                       [`crate::ring`])
//! RingGrant  capacity:u32              (collector → preload, with
//!                                       SCM_RIGHTS: the sealed memfd of the
//!                                       ring, made and mapped by the
//!                                       collector)
//! Wake       (nothing)                 (the ring has records; the
//!                                       collector asked to be woken)
//! ```
//!
//! Frames that need no verdict may go through the process's record ring
//! instead of the socket, once it received a RingGrant; the collector reads
//! the ring before each read of the socket and at its end, so a process's
//! frames keep their order. Descriptors only ever go from the collector to
//! a process: the collector refuses to be sent any (`SO_PASSRIGHTS`), since
//! closing a descriptor a program chose can block (a TCP socket lingering
//! on a peer that never reads).
//!
//! The first frame on a connection is a Hello. An exec is reported *before*
//! the real call with outcome "unknown" (the call does not return on
//! success); if the call fails an ExecFailed frame with the same `seq`
//! follows on the same connection. The collector treats a pending exec as
//! succeeded when the connection reaches EOF without an ExecFailed for it
//! (the preload's socket is close-on-exec). Calls whose outcome is known when
//! the frame is written (opens, connects, mutations, `posix_spawn`,
//! `system`, `popen`) carry it directly.

use core::mem::MaybeUninit;
use core::ops::Range;

pub use crate::tool::{Op, TOOL_EXEC, TOOL_NET, TOOL_READ, TOOL_WRITE};

/// Largest frame on the wire: the collector's receive buffer size. A
/// datagram longer than this is a protocol error.
pub const MAX_FRAME: usize = 16 * 1024;

/// Wire format version, byte 2 of every frame.
pub const VERSION: u8 = 1;

const MAGIC: [u8; 2] = *b"RW";

/// Frame kinds (byte 3).
pub const KIND_HELLO: u8 = 1;
pub const KIND_EVENT: u8 = 2;
pub const KIND_EXEC_FAILED: u8 = 3;
pub const KIND_VERDICT: u8 = 4;
pub const KIND_LOST: u8 = 5;
pub const KIND_RING: u8 = 6;
pub const KIND_WAKE: u8 = 7;
pub const KIND_RING_GRANT: u8 = 8;

const FLAG_WANTS_VERDICT: u8 = 1;
const FLAG_TRUNCATED: u8 = 2;
const FLAG_SOURCE_TRACE: u8 = 4;
const FLAG_SOURCE_UNHOOKED: u8 = 8;
#[cfg(feature = "event")]
const KNOWN_FLAGS: u8 =
    FLAG_WANTS_VERDICT | FLAG_TRUNCATED | FLAG_SOURCE_TRACE | FLAG_SOURCE_UNHOOKED;

/// Offset of the flags byte in an Event frame (after prefix and seq).
const EVENT_FLAGS_AT: usize = 8;
/// Offset of the call kind, the outcome code and the errno in an Event frame.
const EVENT_CALL_AT: usize = 9;
const EVENT_OUTCOME_AT: usize = 10;
const EVENT_ERRNO_AT: usize = 11;
/// Offset of the exe string in an Event frame: what follows (exe, cwd,
/// body) is everything a policy decision can depend on.
pub const EVENT_SUBJECT_AT: usize = 23;

/// The kind of call an Event frame reports (its body layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CallKind {
    Exec = 1,
    Open = 2,
    ConnectInet = 3,
    ConnectUnix = 4,
    Mutate = 5,
}

/// The outcome of a call as the encoder writes it (the `no_std` twin of
/// [`crate::event::Outcome`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireOutcome {
    Ok,
    InProgress,
    Errno(i32),
    Unknown,
}

impl WireOutcome {
    /// The outcome code and errno an Event frame carries. An errno that is
    /// not positive is no errno: it goes as "unknown" (the decoder refuses
    /// code 2 without one).
    const fn to_wire(self) -> (u8, i32) {
        match self {
            WireOutcome::Ok => (0, 0),
            WireOutcome::InProgress => (1, 0),
            WireOutcome::Errno(n) if n > 0 => (2, n),
            WireOutcome::Errno(_) | WireOutcome::Unknown => (3, 0),
        }
    }
}

/// Transport protocol of an inet connect (twin of [`crate::event::Proto`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum WireProto {
    Tcp = 1,
    Udp = 2,
}

/// An inet address as raw bytes: `V4` uses the first four bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InetAddr {
    V4([u8; 4]),
    V6([u8; 16]),
}

/// The fixed part of an Event frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventHead {
    pub seq: u32,
    pub wants_verdict: bool,
    pub outcome: WireOutcome,
    pub pid: i32,
    pub ppid: i32,
}

/// Writes one frame into a caller's buffer without allocating or panicking.
///
/// Fixed-size fields that do not fit make the whole frame invalid
/// ([`Encoder::finish`] then returns 0); strings that do not fit are cut and
/// the frame flagged `truncated` (only Event frames carry the flag).
pub struct Encoder<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    len: usize,
    truncated: bool,
    overflow: bool,
    event: bool,
}

impl<'a> Encoder<'a> {
    fn start(buf: &'a mut [MaybeUninit<u8>], kind: u8) -> Self {
        let mut e = Encoder {
            buf,
            len: 0,
            truncated: false,
            overflow: false,
            event: kind == KIND_EVENT,
        };
        e.bytes(&MAGIC);
        e.u8(VERSION);
        e.u8(kind);
        e
    }

    /// A Hello frame; follow with `str` for exe, cwd, agent, session.
    pub fn hello(buf: &'a mut [MaybeUninit<u8>], pid: i32, ppid: i32) -> Self {
        let mut e = Self::start(buf, KIND_HELLO);
        e.i32(pid);
        e.i32(ppid);
        e
    }

    /// An Event frame; follow with `str` for exe and cwd, then the body of
    /// `call` (see the module doc and the `encode_*` functions).
    pub fn event(buf: &'a mut [MaybeUninit<u8>], call: CallKind, head: &EventHead) -> Self {
        let mut e = Self::start(buf, KIND_EVENT);
        e.u32(head.seq);
        e.u8(if head.wants_verdict {
            FLAG_WANTS_VERDICT
        } else {
            0
        });
        e.u8(call as u8);
        let (code, errno) = head.outcome.to_wire();
        e.u8(code);
        e.i32(errno);
        e.i32(head.pid);
        e.i32(head.ppid);
        e
    }

    /// Bytes left in the buffer.
    pub fn room(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    /// Mark the frame as carrying a cut string (set by the encoder itself
    /// when it cuts; callers use it when they cut before encoding).
    pub fn mark_truncated(&mut self) {
        self.truncated = true;
    }

    /// Mark an Event frame as seen by the trace backend (decoded with
    /// `source: trace`).
    pub fn mark_source_trace(&mut self) {
        self.mark_flag(FLAG_SOURCE_TRACE);
    }

    /// Mark an Event frame as a call past the hooks, seen by the filter of
    /// unhooked calls (decoded with `source: unhooked`).
    pub fn mark_source_unhooked(&mut self) {
        self.mark_flag(FLAG_SOURCE_UNHOOKED);
    }

    fn mark_flag(&mut self, flag: u8) {
        if !self.event || self.len <= EVENT_FLAGS_AT {
            return;
        }
        if let Some(f) = self.buf.get_mut(EVENT_FLAGS_AT) {
            // SAFETY: the flags byte was written by `event()` (len is past it).
            let v = unsafe { f.assume_init() };
            f.write(v | flag);
        }
    }

    /// Raw bytes of a fixed-size field.
    pub fn bytes(&mut self, b: &[u8]) {
        if self.overflow || b.len() > self.room() {
            self.overflow = true;
            return;
        }
        let dst = &mut self.buf[self.len..self.len + b.len()];
        for (d, s) in dst.iter_mut().zip(b) {
            d.write(*s);
        }
        self.len += b.len();
    }

    pub fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    pub fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }

    fn put_u16_at(&mut self, at: usize, v: u16) {
        let b = v.to_le_bytes();
        if let Some(dst) = self.buf.get_mut(at..at + 2) {
            dst[0].write(b[0]);
            dst[1].write(b[1]);
        }
    }

    /// A string field, cut to the room left (the frame is then flagged
    /// truncated). Returns where its bytes lie in the frame.
    pub fn str(&mut self, s: &[u8]) -> Range<usize> {
        self.str_with(|_, out| {
            let n = s.len().min(out.len());
            for (d, b) in out.iter_mut().zip(&s[..n]) {
                d.write(*b);
            }
            (n, n < s.len())
        })
    }

    /// A string field written in place by `fill`, which gets the frame
    /// written so far (to read earlier fields) and the space available, and
    /// returns how many bytes it initialised (a prefix of the space) and
    /// whether it had to cut. Returns where the bytes lie in the frame.
    pub fn str_with(
        &mut self,
        fill: impl FnOnce(&[u8], &mut [MaybeUninit<u8>]) -> (usize, bool),
    ) -> Range<usize> {
        if self.overflow || self.room() < 2 {
            self.overflow = true;
            return 0..0;
        }
        let len_at = self.len;
        let start = len_at + 2;
        let cap = (self.buf.len() - start).min(u16::MAX as usize);
        let (done, rest) = self.buf.split_at_mut(start);
        let space = &mut rest[..cap];
        // SAFETY: `done` is the prefix this encoder initialised (self.len
        // bytes, plus 2 bytes of length not yet written, which `written`
        // excludes).
        let written: &[u8] =
            unsafe { core::slice::from_raw_parts(done.as_ptr().cast::<u8>(), len_at) };
        let (n, cut) = fill(written, space);
        let n = n.min(cap);
        self.put_u16_at(len_at, n as u16);
        self.len = start + n;
        if cut {
            self.truncated = true;
        }
        start..start + n
    }

    /// The argv of an exec body: a count, then as many args as fit (the last
    /// one possibly cut); anything left out flags the frame truncated.
    pub fn argv<'s, I: IntoIterator<Item = &'s [u8]>>(&mut self, args: I) {
        if self.overflow || self.room() < 2 {
            self.overflow = true;
            return;
        }
        let count_at = self.len;
        self.u16(0);
        let mut count: u16 = 0;
        for a in args {
            if self.room() < 2 || count == u16::MAX {
                self.truncated = true;
                break;
            }
            self.str(a);
            count += 1;
        }
        self.put_u16_at(count_at, count);
    }

    /// Patch the truncated flag and return the frame's length, or 0 when a
    /// fixed field did not fit (nothing valid to send).
    pub fn finish(self) -> usize {
        if self.overflow {
            return 0;
        }
        if self.event && self.truncated {
            if let Some(f) = self.buf.get_mut(EVENT_FLAGS_AT) {
                // SAFETY: the flags byte was written by `event()`.
                let v = unsafe { f.assume_init() };
                f.write(v | FLAG_TRUNCATED);
            }
        }
        self.len
    }

    /// The frame written so far.
    pub fn written(&self) -> &[u8] {
        // SAFETY: the first `len` bytes were initialised by this encoder.
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr().cast::<u8>(), self.len) }
    }
}

/// View an initialised byte buffer as encoder space.
pub fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: MaybeUninit<u8> has the layout of u8, and the encoder only ever
    // writes initialised bytes, so the buffer stays initialised.
    unsafe { core::slice::from_raw_parts_mut(buf.as_mut_ptr().cast(), buf.len()) }
}

/// Encode a Hello frame; returns its length (0 if `buf` is too small).
pub fn encode_hello(
    buf: &mut [u8],
    pid: i32,
    ppid: i32,
    exe: &[u8],
    cwd: &[u8],
    agent: &[u8],
    session: &[u8],
) -> usize {
    let mut e = Encoder::hello(as_uninit(buf), pid, ppid);
    e.str(exe);
    e.str(cwd);
    e.str(agent);
    e.str(session);
    e.finish()
}

/// Encode an exec Event frame.
pub fn encode_exec<'s>(
    buf: &mut [u8],
    head: &EventHead,
    exe: &[u8],
    cwd: &[u8],
    path: &[u8],
    argv: impl IntoIterator<Item = &'s [u8]>,
) -> usize {
    let mut e = Encoder::event(as_uninit(buf), CallKind::Exec, head);
    e.str(exe);
    e.str(cwd);
    e.str(path);
    e.argv(argv);
    e.finish()
}

/// Encode an open Event frame: `resolved` is the file the open reached
/// where that differs from `path`, else empty. It is the frame's last
/// field and only there when not empty (an encoder that cuts the path to
/// fit leaves room for it first).
#[allow(clippy::too_many_arguments)]
pub fn encode_open(
    buf: &mut [u8],
    head: &EventHead,
    exe: &[u8],
    cwd: &[u8],
    path: &[u8],
    flags: i32,
    resolved: &[u8],
) -> usize {
    let mut e = Encoder::event(as_uninit(buf), CallKind::Open, head);
    e.str(exe);
    e.str(cwd);
    e.i32(flags);
    e.str(path);
    if !resolved.is_empty() {
        e.str(resolved);
    }
    e.finish()
}

/// Encode a mutation Event frame; `m.second` as [`Op::has_new_path`] and
/// [`Op::has_target`] say (empty for the other ops).
pub fn encode_mutation(
    buf: &mut [u8],
    head: &EventHead,
    exe: &[u8],
    cwd: &[u8],
    m: &MutationFields<'_>,
) -> usize {
    let mut e = Encoder::event(as_uninit(buf), CallKind::Mutate, head);
    e.str(exe);
    e.str(cwd);
    e.u8(m.op as u8);
    e.str(m.path);
    e.str(m.second);
    if !m.resolved.is_empty() || !m.new_resolved.is_empty() {
        e.str(m.resolved);
    }
    if !m.new_resolved.is_empty() {
        e.str(m.new_resolved);
    }
    e.finish()
}

/// The strings of a mutation Event frame (see the frame table above):
/// `resolved` and `new_resolved` empty where the change lands where the
/// names say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MutationFields<'a> {
    pub op: Op,
    pub path: &'a [u8],
    pub second: &'a [u8],
    pub resolved: &'a [u8],
    pub new_resolved: &'a [u8],
}

/// Write the body of an inet connect (after exe and cwd).
pub fn put_inet_body(
    e: &mut Encoder<'_>,
    addr: &InetAddr,
    port: u16,
    proto: WireProto,
    domain: &[u8],
) {
    match addr {
        InetAddr::V4(a) => {
            e.u8(4);
            e.bytes(a);
        }
        InetAddr::V6(a) => {
            e.u8(6);
            e.bytes(a);
        }
    }
    e.u16(port);
    e.u8(proto as u8);
    e.str(domain);
}

/// Encode an inet connect Event frame; `domain` empty when none was seen.
#[allow(clippy::too_many_arguments)]
pub fn encode_connect_inet(
    buf: &mut [u8],
    head: &EventHead,
    exe: &[u8],
    cwd: &[u8],
    addr: &InetAddr,
    port: u16,
    proto: WireProto,
    domain: &[u8],
) -> usize {
    let mut e = Encoder::event(as_uninit(buf), CallKind::ConnectInet, head);
    e.str(exe);
    e.str(cwd);
    put_inet_body(&mut e, addr, port, proto, domain);
    e.finish()
}

/// Encode a unix-socket connect Event frame.
pub fn encode_connect_unix(
    buf: &mut [u8],
    head: &EventHead,
    exe: &[u8],
    cwd: &[u8],
    path: &[u8],
) -> usize {
    let mut e = Encoder::event(as_uninit(buf), CallKind::ConnectUnix, head);
    e.str(exe);
    e.str(cwd);
    e.str(path);
    e.finish()
}

/// Encode an ExecFailed frame for the exec Event `seq`.
pub fn encode_exec_failed(buf: &mut [u8], seq: u32, errno: i32) -> usize {
    let mut e = Encoder::start(as_uninit(buf), KIND_EXEC_FAILED);
    e.u32(seq);
    e.i32(errno);
    e.finish()
}

/// Encode a Lost frame: `count` Event frames of this process never reached
/// the collector (it was gone or wedged when they were sent). The
/// collector records it as a `lost` record; the library sends it on the
/// first connection that works again, or when the process exits or execs.
pub fn encode_lost(buf: &mut [u8], count: u32) -> usize {
    let mut e = Encoder::start(as_uninit(buf), KIND_LOST);
    e.u32(count);
    e.finish()
}

/// Encode a Ring frame: this process asks for a record ring of `capacity`
/// data bytes.
pub fn encode_ring(buf: &mut [u8], capacity: u32) -> usize {
    let mut e = Encoder::start(as_uninit(buf), KIND_RING);
    e.u32(capacity);
    e.finish()
}

/// Encode a Wake frame: records wait in the ring of a sleeping collector.
pub fn encode_wake(buf: &mut [u8]) -> usize {
    Encoder::start(as_uninit(buf), KIND_WAKE).finish()
}

/// Whether `frame` is an encoded Event frame (prefix and fixed part present).
pub fn is_event(frame: &[u8]) -> bool {
    frame.len() >= EVENT_SUBJECT_AT
        && frame[..2] == MAGIC
        && frame[2] == VERSION
        && frame[3] == KIND_EVENT
}

/// Rewrite the outcome of an encoded Event frame in place (a hook that built
/// the frame before the call fills in what happened). Returns false, and
/// changes nothing, when `frame` is not an Event frame.
pub fn set_event_outcome(frame: &mut [u8], outcome: WireOutcome) -> bool {
    if !is_event(frame) {
        return false;
    }
    let (code, errno) = outcome.to_wire();
    frame[EVENT_OUTCOME_AT] = code;
    frame[EVENT_ERRNO_AT..EVENT_ERRNO_AT + 4].copy_from_slice(&errno.to_le_bytes());
    true
}

/// Set or clear the wants-verdict flag of an encoded Event frame in place.
/// Returns false, and changes nothing, when `frame` is not an Event frame.
pub fn set_wants_verdict(frame: &mut [u8], wants: bool) -> bool {
    if !is_event(frame) {
        return false;
    }
    if wants {
        frame[EVENT_FLAGS_AT] |= FLAG_WANTS_VERDICT;
    } else {
        frame[EVENT_FLAGS_AT] &= !FLAG_WANTS_VERDICT;
    }
    true
}

/// The sequence number and call kind of an encoded Event frame, and its
/// subject: the bytes from the exe on (exe, cwd and the call's body), the
/// part of the frame a policy decision depends on. `None` for anything but
/// an Event frame.
pub fn event_subject(frame: &[u8]) -> Option<(u32, u8, &[u8])> {
    if !is_event(frame) {
        return None;
    }
    let seq = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    Some((seq, frame[EVENT_CALL_AT], &frame[EVENT_SUBJECT_AT..]))
}

/// The open flags, path and resolved path (empty: the same) of an encoded
/// Open Event frame, `None` for any other frame.
pub fn open_event_fields(frame: &[u8]) -> Option<(i32, &[u8], &[u8])> {
    if !is_event(frame) || frame[EVENT_CALL_AT] != CallKind::Open as u8 {
        return None;
    }
    let mut r = Reader {
        buf: frame,
        at: EVENT_SUBJECT_AT,
    };
    r.str().ok()?; // exe
    r.str().ok()?; // cwd
    let flags = r.i32().ok()?;
    let path = r.str().ok()?;
    Some((flags, path, r.rest_str().ok()?))
}

/// The strings of an encoded mutation Event frame, `None` for any other
/// frame or an unknown op.
pub fn mutation_event_fields(frame: &[u8]) -> Option<MutationFields<'_>> {
    if !is_event(frame) || frame[EVENT_CALL_AT] != CallKind::Mutate as u8 {
        return None;
    }
    let mut r = Reader {
        buf: frame,
        at: EVENT_SUBJECT_AT,
    };
    r.str().ok()?; // exe
    r.str().ok()?; // cwd
    let op = Op::from_u8(r.u8().ok()?)?;
    let path = r.str().ok()?;
    let second = r.str().ok()?;
    let resolved = r.rest_str().ok()?;
    Some(MutationFields {
        op,
        path,
        second,
        resolved,
        new_resolved: r.rest_str().ok()?,
    })
}

/// Whether an encoded Event frame is marked as a call past the hooks
/// (`source: unhooked`).
pub fn event_past_hooks(frame: &[u8]) -> bool {
    is_event(frame) && frame[EVENT_FLAGS_AT] & FLAG_SOURCE_UNHOOKED != 0
}

/// Whether an encoded Event frame carries a cut string (argv or path too
/// long for the frame).
pub fn event_truncated(frame: &[u8]) -> bool {
    is_event(frame) && frame[EVENT_FLAGS_AT] & FLAG_TRUNCATED != 0
}

/// Encode a Verdict frame (collector → preload) for the Event `seq`.
pub fn encode_verdict(seq: u32, allow: bool, buf: &mut [u8]) -> usize {
    let mut e = Encoder::start(as_uninit(buf), KIND_VERDICT);
    e.u32(seq);
    e.u8(allow as u8);
    e.finish()
}

/// Encode a RingGrant frame (the collector's answer to a Ring frame; the
/// ring's memfd goes with it as `SCM_RIGHTS`).
pub fn encode_ring_grant(buf: &mut [u8], capacity: u32) -> usize {
    let mut e = Encoder::start(as_uninit(buf), KIND_RING_GRANT);
    e.u32(capacity);
    e.finish()
}

/// Decode a RingGrant frame: its capacity, or `None` if `buf` is not
/// exactly a well-formed RingGrant.
pub fn decode_ring_grant(buf: &[u8]) -> Option<u32> {
    let mut r = Reader { buf, at: 0 };
    r.prefix(KIND_RING_GRANT).ok()?;
    let capacity = r.u32().ok()?;
    r.end().ok()?;
    Some(capacity)
}

/// Decode a Verdict frame: `(seq, allow)`, or `None` if `buf` is not exactly
/// a well-formed Verdict.
pub fn decode_verdict(buf: &[u8]) -> Option<(u32, bool)> {
    let mut r = Reader { buf, at: 0 };
    r.prefix(KIND_VERDICT).ok()?;
    let seq = r.u32().ok()?;
    let allow = match r.u8().ok()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    r.end().ok()?;
    Some((seq, allow))
}

/// Why a frame was rejected: what was wrong, and at which byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub what: &'static str,
    pub at: usize,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "malformed wire frame: {} at byte {}", self.what, self.at)
    }
}

#[cfg(feature = "event")]
impl std::error::Error for DecodeError {}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

#[cfg_attr(not(feature = "event"), allow(dead_code))]
impl<'a> Reader<'a> {
    fn err(&self, what: &'static str) -> DecodeError {
        DecodeError { what, at: self.at }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err("frame ends inside a field"))?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(self.u32()? as i32)
    }

    fn str(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u16()? as usize;
        self.take(n)
    }

    fn prefix(&mut self, want: u8) -> Result<u8, DecodeError> {
        if self.buf.len() > MAX_FRAME {
            return Err(self.err("frame longer than MAX_FRAME"));
        }
        if self.take(2)? != MAGIC {
            return Err(DecodeError {
                what: "bad magic",
                at: 0,
            });
        }
        if self.u8()? != VERSION {
            return Err(DecodeError {
                what: "unsupported version",
                at: 2,
            });
        }
        let kind = self.u8()?;
        if want != 0 && kind != want {
            return Err(DecodeError {
                what: "unexpected frame kind",
                at: 3,
            });
        }
        Ok(kind)
    }

    /// An optional last string: empty when the frame ends here.
    fn rest_str(&mut self) -> Result<&'a [u8], DecodeError> {
        if self.at == self.buf.len() {
            Ok(&[])
        } else {
            self.str()
        }
    }

    fn end(&self) -> Result<(), DecodeError> {
        if self.at == self.buf.len() {
            Ok(())
        } else {
            Err(self.err("trailing bytes after frame"))
        }
    }
}

#[cfg(feature = "event")]
pub use event_frames::{decode, encode_event, Frame};

/// Event ↔ frame, both directions in one place: [`decode`] turns any frame
/// into a [`Frame`] (the collector), [`encode_event`] turns an [`Event`]
/// into an Event frame (the trace sinks, and tests).
#[cfg(feature = "event")]
mod event_frames {
    use super::*;
    use crate::event::{Call, Event, Outcome, Proto, Source};
    use std::borrow::Cow;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    /// A decoded frame.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Frame {
        /// First frame of every connection: who is calling.
        Hello {
            pid: i32,
            ppid: i32,
            exe: String,
            cwd: String,
            agent: String,
            session: String,
        },
        /// One intercepted call; `event.source` is [`Source::Preload`] unless
        /// the frame is marked as the trace backend's. An
        /// exec with outcome [`Outcome::Unknown`] is pending: it failed if an
        /// ExecFailed with the same `seq` follows, else it succeeded when the
        /// connection reaches EOF.
        Event {
            seq: u32,
            wants_verdict: bool,
            event: Event,
        },
        /// The pending exec `seq` failed with `errno`.
        ExecFailed { seq: u32, errno: i32 },
        /// `count` Event frames of this connection's process were lost.
        Lost { count: u32 },
        /// The process asks for a record ring of `capacity` data bytes.
        Ring { capacity: u32 },
        /// Records wait in the connection's ring.
        Wake,
    }

    /// Encode `event` as an Event frame, the inverse of [`decode`]: marked
    /// `source: trace` when the event is the trace backend's; names as the
    /// program's bytes ([`crate::event::name_to_bytes`]). 0 if it cannot be
    /// (the buffer is too small for the fixed part); a frame cut short is
    /// flagged truncated.
    pub fn encode_event(buf: &mut [u8], seq: u32, wants_verdict: bool, event: &Event) -> usize {
        let outcome = match event.outcome {
            Outcome::Ok => WireOutcome::Ok,
            Outcome::InProgress => WireOutcome::InProgress,
            Outcome::Errno(e) if e > 0 => WireOutcome::Errno(e),
            Outcome::Errno(_) | Outcome::Unknown => WireOutcome::Unknown,
        };
        let head = EventHead {
            seq,
            wants_verdict,
            outcome,
            pid: event.pid,
            ppid: event.ppid,
        };
        let kind = match event.call {
            Call::Exec { .. } => CallKind::Exec,
            Call::Open { .. } => CallKind::Open,
            Call::ConnectInet { .. } => CallKind::ConnectInet,
            Call::ConnectUnix { .. } => CallKind::ConnectUnix,
            Call::Mutate { .. } => CallKind::Mutate,
        };
        let mut e = Encoder::event(as_uninit(buf), kind, &head);
        e.str(&bytes(&event.exe));
        e.str(&bytes(&event.cwd));
        match &event.call {
            Call::Exec { path, argv, via } => {
                e.str(&bytes(path));
                let argv: Vec<Cow<'_, [u8]>> = argv.iter().map(|a| bytes(a)).collect();
                e.argv(argv.iter().map(|a| a.as_ref()));
                // Last and optional: left out (the frame flagged cut) rather
                // than cut or made to overflow when argv took the room.
                if let Some(via) = via {
                    let via = bytes(via);
                    if e.room() >= 2 + via.len() {
                        e.str(&via);
                    } else {
                        e.mark_truncated();
                    }
                }
            }
            Call::Open {
                path,
                flags,
                resolved,
            } => {
                e.i32(*flags);
                e.str(&bytes(path));
                if let Some(r) = resolved {
                    e.str(&bytes(r));
                }
            }
            Call::ConnectInet {
                addr,
                port,
                proto,
                domain,
            } => {
                let addr = match addr {
                    std::net::IpAddr::V4(a) => InetAddr::V4(a.octets()),
                    std::net::IpAddr::V6(a) => InetAddr::V6(a.octets()),
                };
                let proto = match proto {
                    Proto::Tcp => WireProto::Tcp,
                    Proto::Udp => WireProto::Udp,
                };
                let domain = domain.as_deref().unwrap_or("");
                put_inet_body(&mut e, &addr, *port, proto, domain.as_bytes());
            }
            Call::ConnectUnix { path } => {
                e.str(&bytes(path));
            }
            Call::Mutate {
                op,
                path,
                new_path,
                target,
                resolved,
                new_resolved,
            } => {
                e.u8(*op as u8);
                e.str(&bytes(path));
                let second = new_path.as_ref().or(target.as_ref());
                e.str(&second.map_or(Cow::Borrowed(&[][..]), |s| bytes(s)));
                if resolved.is_some() || new_resolved.is_some() {
                    e.str(
                        &resolved
                            .as_ref()
                            .map_or(Cow::Borrowed(&[][..]), |s| bytes(s)),
                    );
                }
                if let Some(r) = new_resolved {
                    e.str(&bytes(r));
                }
            }
        }
        if event.truncated {
            e.mark_truncated();
        }
        match event.source {
            Source::Trace => e.mark_source_trace(),
            Source::Unhooked => e.mark_source_unhooked(),
            Source::Preload => {}
        }
        e.finish()
    }

    /// A name or word as the program's bytes.
    fn bytes(name: &str) -> Cow<'_, [u8]> {
        crate::event::name_to_bytes(name)
    }

    /// A name or word from the process, losslessly (see
    /// [`crate::event::name_from_bytes`]).
    fn text(b: &[u8]) -> String {
        crate::event::name_from_bytes(b).into_owned()
    }

    /// Decode one frame (one datagram). Never panics; rejects unknown
    /// kinds, bad enums, short fields and trailing bytes.
    pub fn decode(buf: &[u8]) -> Result<Frame, DecodeError> {
        let mut r = Reader { buf, at: 0 };
        let kind = r.prefix(0)?;
        let frame = match kind {
            KIND_HELLO => {
                let pid = r.i32()?;
                let ppid = r.i32()?;
                let exe = text(r.str()?);
                let cwd = text(r.str()?);
                let agent = text(r.str()?);
                let session = text(r.str()?);
                Frame::Hello {
                    pid,
                    ppid,
                    exe,
                    cwd,
                    agent,
                    session,
                }
            }
            KIND_EVENT => decode_event(&mut r)?,
            KIND_EXEC_FAILED => {
                let seq = r.u32()?;
                let errno = r.i32()?;
                if errno <= 0 {
                    return Err(r.err("exec-failed errno must be positive"));
                }
                Frame::ExecFailed { seq, errno }
            }
            KIND_LOST => {
                let count = r.u32()?;
                if count == 0 {
                    return Err(r.err("a lost frame counts at least one record"));
                }
                Frame::Lost { count }
            }
            KIND_RING => Frame::Ring { capacity: r.u32()? },
            KIND_WAKE => Frame::Wake,
            KIND_RING_GRANT => {
                return Err(DecodeError {
                    what: "ring grant sent to the collector",
                    at: 3,
                })
            }
            KIND_VERDICT => {
                return Err(DecodeError {
                    what: "verdict frame sent to the collector",
                    at: 3,
                })
            }
            _ => {
                return Err(DecodeError {
                    what: "unknown frame kind",
                    at: 3,
                })
            }
        };
        r.end()?;
        Ok(frame)
    }

    fn decode_event(r: &mut Reader<'_>) -> Result<Frame, DecodeError> {
        let seq = r.u32()?;
        let flags = r.u8()?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(r.err("unknown event flags"));
        }
        let call_kind = r.u8()?;
        let outcome_code = r.u8()?;
        let errno = r.i32()?;
        let outcome = match (outcome_code, errno) {
            (0, 0) => Outcome::Ok,
            (1, 0) => Outcome::InProgress,
            (2, e) if e > 0 => Outcome::Errno(e),
            (3, 0) => Outcome::Unknown,
            _ => return Err(r.err("bad outcome")),
        };
        let pid = r.i32()?;
        let ppid = r.i32()?;
        let exe = text(r.str()?);
        let cwd = text(r.str()?);
        let call = match call_kind {
            1 => {
                let path = text(r.str()?);
                let argc = r.u16()?;
                let mut argv = Vec::with_capacity(argc as usize);
                for _ in 0..argc {
                    argv.push(text(r.str()?));
                }
                let via = r.rest_str()?;
                let via = (!via.is_empty()).then(|| text(via));
                Call::Exec { path, argv, via }
            }
            2 => {
                let flags = r.i32()?;
                let path = text(r.str()?);
                let resolved = r.rest_str()?;
                let resolved = (!resolved.is_empty()).then(|| text(resolved));
                Call::Open {
                    path,
                    flags,
                    resolved,
                }
            }
            3 => {
                let addr = match r.u8()? {
                    4 => {
                        let b = r.take(4)?;
                        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
                    }
                    6 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(r.take(16)?);
                        IpAddr::V6(Ipv6Addr::from(a))
                    }
                    _ => return Err(r.err("bad address family")),
                };
                let port = r.u16()?;
                let proto = match r.u8()? {
                    1 => Proto::Tcp,
                    2 => Proto::Udp,
                    _ => return Err(r.err("bad protocol")),
                };
                let domain = r.str()?;
                let domain = (!domain.is_empty()).then(|| text(domain));
                Call::ConnectInet {
                    addr,
                    port,
                    proto,
                    domain,
                }
            }
            4 => Call::ConnectUnix {
                path: text(r.str()?),
            },
            5 => {
                let op = Op::from_u8(r.u8()?).ok_or_else(|| r.err("unknown mutation op"))?;
                let path = text(r.str()?);
                let second = r.str()?;
                let (mut new_path, mut target) = (None, None);
                if op.has_new_path() {
                    new_path = Some(text(second));
                } else if op.has_target() {
                    target = Some(text(second));
                } else if !second.is_empty() {
                    return Err(r.err("second string of a one-path mutation"));
                }
                let resolved = r.rest_str()?;
                let new_resolved = r.rest_str()?;
                if !new_resolved.is_empty() && !op.has_new_path() {
                    return Err(r.err("new_resolved of a one-path mutation"));
                }
                let some = |b: &[u8]| (!b.is_empty()).then(|| text(b));
                Call::Mutate {
                    op,
                    path,
                    new_path,
                    target,
                    resolved: some(resolved),
                    new_resolved: some(new_resolved),
                }
            }
            _ => return Err(r.err("unknown call kind")),
        };
        Ok(Frame::Event {
            seq,
            wants_verdict: flags & FLAG_WANTS_VERDICT != 0,
            event: Event {
                pid,
                ppid,
                exe,
                cwd,
                source: if flags & FLAG_SOURCE_UNHOOKED != 0 {
                    Source::Unhooked
                } else if flags & FLAG_SOURCE_TRACE != 0 {
                    Source::Trace
                } else {
                    Source::Preload
                },
                call,
                outcome,
                truncated: flags & FLAG_TRUNCATED != 0,
            },
        })
    }
}

#[cfg(all(test, feature = "full"))]
mod tests {
    use super::*;
    use crate::event::{Call, Event, Outcome, Proto, Source};
    use std::net::IpAddr;

    fn traced(call: Call, outcome: Outcome) -> Event {
        Event {
            pid: 10,
            ppid: 1,
            exe: "/opt/static-tool".into(),
            cwd: "/work".into(),
            source: Source::Trace,
            call,
            outcome,
            truncated: false,
        }
    }

    #[test]
    fn every_event_round_trips_through_encode_event_and_decode() {
        let calls = [
            (
                Call::Exec {
                    path: "/bin/true".into(),
                    argv: vec!["true".into(), "a b".into()],
                    via: None,
                },
                Outcome::Ok,
            ),
            (
                Call::Exec {
                    path: "/usr/bin/python3.11".into(),
                    argv: vec!["python3".into(), "-c".into(), "pass".into()],
                    via: Some("/usr/bin/python3".into()),
                },
                Outcome::Ok,
            ),
            (
                Call::Open {
                    path: "/etc/hostname".into(),
                    flags: libc::O_RDONLY,
                    resolved: None,
                },
                Outcome::Errno(libc::ENOENT),
            ),
            (
                Call::Open {
                    path: "/usr/lib/ssl/openssl.cnf".into(),
                    flags: libc::O_RDONLY,
                    resolved: Some("/etc/ssl/openssl.cnf".into()),
                },
                Outcome::Errno(libc::ENOENT),
            ),
            (
                Call::ConnectInet {
                    addr: "::1".parse().unwrap(),
                    port: 443,
                    proto: Proto::Tcp,
                    domain: Some("example.org".into()),
                },
                Outcome::InProgress,
            ),
            (
                Call::ConnectUnix {
                    path: "/run/x.sock".into(),
                },
                Outcome::Unknown,
            ),
            (
                Call::Mutate {
                    op: Op::Rename,
                    path: "/work/a".into(),
                    new_path: Some("/work/b".into()),
                    target: None,
                    resolved: None,
                    new_resolved: Some("/home/u/b".into()),
                },
                Outcome::Ok,
            ),
            (
                Call::Mutate {
                    op: Op::Symlink,
                    path: "/work/l".into(),
                    new_path: None,
                    target: Some("../x".into()),
                    resolved: None,
                    new_resolved: None,
                },
                Outcome::Errno(libc::EEXIST),
            ),
            (
                Call::Open {
                    path: "/work/caf%E9.txt".into(),
                    flags: libc::O_RDONLY,
                    resolved: None,
                },
                Outcome::Ok,
            ),
            (
                Call::Mutate {
                    op: Op::Chmod,
                    path: "/work/f".into(),
                    new_path: None,
                    target: None,
                    resolved: Some("/etc/f".into()),
                    new_resolved: None,
                },
                Outcome::Errno(libc::EPERM),
            ),
        ];
        let mut buf = vec![0u8; MAX_FRAME];
        for (i, (call, outcome)) in calls.into_iter().enumerate() {
            let ev = traced(call, outcome);
            let n = encode_event(&mut buf, i as u32, i % 2 == 0, &ev);
            match decode(&buf[..n]).unwrap() {
                Frame::Event {
                    seq,
                    wants_verdict,
                    event,
                } => {
                    assert_eq!(seq, i as u32);
                    assert_eq!(wants_verdict, i % 2 == 0);
                    assert_eq!(event, ev);
                }
                other => panic!("{other:?}"),
            }
            // A name that is not UTF-8 travels as the program's bytes.
            if let Call::Open { path, .. } = &ev.call {
                let raw = b"/work/caf\xe9.txt";
                let has_raw = buf[..n].windows(raw.len()).any(|w| w == raw);
                assert_eq!(has_raw, path.contains('%'), "{path}");
            }
        }
        let preload = Event {
            source: Source::Preload,
            ..traced(Call::ConnectUnix { path: "@x".into() }, Outcome::Ok)
        };
        let n = encode_event(&mut buf, 7, false, &preload);
        assert!(
            matches!(decode(&buf[..n]).unwrap(), Frame::Event { event, .. } if event == preload)
        );
    }

    #[test]
    fn an_exec_whose_argv_fills_the_frame_is_sent_without_its_via() {
        let ev = traced(
            Call::Exec {
                path: "/usr/bin/python3.11".into(),
                argv: vec!["x".repeat(1000); 200],
                via: Some("/usr/bin/python3".into()),
            },
            Outcome::Ok,
        );
        let mut buf = vec![0u8; MAX_FRAME];
        let n = encode_event(&mut buf, 1, false, &ev);
        assert!(n > 0, "the frame is sent");
        let Frame::Event { event, .. } = decode(&buf[..n]).unwrap() else {
            panic!()
        };
        assert!(event.truncated);
        let Call::Exec { path, via, .. } = event.call else {
            panic!()
        };
        assert_eq!(path, "/usr/bin/python3.11");
        assert_eq!(via, None);
    }

    fn head(seq: u32, outcome: WireOutcome) -> EventHead {
        EventHead {
            seq,
            wants_verdict: false,
            outcome,
            pid: 4242,
            ppid: 1,
        }
    }

    fn event_of(frame: Frame) -> (u32, bool, Event) {
        match frame {
            Frame::Event {
                seq,
                wants_verdict,
                event,
            } => (seq, wants_verdict, event),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn hello_round_trips() {
        let mut buf = [0u8; MAX_FRAME];
        let n = encode_hello(
            &mut buf,
            17,
            3,
            b"/usr/bin/python3.11",
            b"/home/u/proj",
            b"claude",
            b"s-1",
        );
        assert_eq!(
            decode(&buf[..n]).unwrap(),
            Frame::Hello {
                pid: 17,
                ppid: 3,
                exe: "/usr/bin/python3.11".into(),
                cwd: "/home/u/proj".into(),
                agent: "claude".into(),
                session: "s-1".into(),
            }
        );
    }

    #[test]
    fn an_errno_that_is_not_positive_goes_as_unknown() {
        let mut buf = [0u8; MAX_FRAME];
        for n in [0, -5] {
            let h = head(4, WireOutcome::Errno(n));
            let len = encode_open(&mut buf, &h, b"/bin/cat", b"/w", b"/w/a", 0, b"");
            let (_, _, ev) = event_of(decode(&buf[..len]).unwrap());
            assert_eq!(ev.outcome, Outcome::Unknown, "Errno({n}) built in");
            let h = head(4, WireOutcome::Ok);
            let len = encode_open(&mut buf, &h, b"/bin/cat", b"/w", b"/w/a", 0, b"");
            assert!(set_event_outcome(&mut buf[..len], WireOutcome::Errno(n)));
            let (_, _, ev) = event_of(decode(&buf[..len]).unwrap());
            assert_eq!(ev.outcome, Outcome::Unknown, "Errno({n}) set after");
        }
    }

    #[test]
    fn the_flags_and_path_of_an_open_frame_are_found_in_place() {
        let mut buf = [0u8; MAX_FRAME];
        let h = head(3, WireOutcome::Unknown);
        let n = encode_open(&mut buf, &h, b"/usr/bin/cat", b"/w", b"/w/.env", 0o101, b"");
        assert_eq!(
            open_event_fields(&buf[..n]),
            Some((0o101, &b"/w/.env"[..], &b""[..]))
        );
        assert_eq!(open_event_fields(&buf[..n - 1]), None);
        let argv: [&[u8]; 1] = [b"cat"];
        let n = encode_exec(&mut buf, &h, b"/bin/sh", b"/w", b"/usr/bin/cat", argv);
        assert_eq!(open_event_fields(&buf[..n]), None);
    }

    #[test]
    fn exec_round_trips_with_pending_outcome() {
        let mut buf = [0u8; MAX_FRAME];
        let h = EventHead {
            wants_verdict: true,
            ..head(9, WireOutcome::Unknown)
        };
        let argv: [&[u8]; 3] = [b"git", b"commit", b"-m it's"];
        let n = encode_exec(&mut buf, &h, b"/bin/bash", b"/w", b"/usr/bin/git", argv);
        let (seq, wv, ev) = event_of(decode(&buf[..n]).unwrap());
        assert_eq!((seq, wv), (9, true));
        assert_eq!(
            ev,
            Event {
                pid: 4242,
                ppid: 1,
                exe: "/bin/bash".into(),
                cwd: "/w".into(),
                source: Source::Preload,
                call: Call::Exec {
                    path: "/usr/bin/git".into(),
                    argv: vec!["git".into(), "commit".into(), "-m it's".into()],
                    via: None,
                },
                outcome: Outcome::Unknown,
                truncated: false,
            }
        );
        assert_eq!(ev.command().unwrap(), r"git commit '-m it'\''s'");
    }

    #[test]
    fn open_round_trips_each_outcome() {
        for (wire, want) in [
            (WireOutcome::Ok, Outcome::Ok),
            (
                WireOutcome::Errno(libc::ENOENT),
                Outcome::Errno(libc::ENOENT),
            ),
            (WireOutcome::InProgress, Outcome::InProgress),
        ] {
            let mut buf = [0u8; 512];
            let flags = libc::O_WRONLY | libc::O_CREAT;
            let n = encode_open(&mut buf, &head(1, wire), b"/x", b"/", b"/tmp/f", flags, b"");
            let (_, _, ev) = event_of(decode(&buf[..n]).unwrap());
            assert_eq!(ev.outcome, want);
            assert_eq!(
                ev.call,
                Call::Open {
                    path: "/tmp/f".into(),
                    flags,
                    resolved: None,
                }
            );
            assert_eq!(ev.tool(), "write");
        }
    }

    #[test]
    fn an_open_carries_the_file_it_reached() {
        let mut buf = [0u8; 512];
        let n = encode_open(
            &mut buf,
            &head(1, WireOutcome::Ok),
            b"/x",
            b"/",
            b"/usr/lib/ssl/openssl.cnf",
            libc::O_RDONLY,
            b"/etc/ssl/openssl.cnf",
        );
        assert_eq!(
            open_event_fields(&buf[..n]),
            Some((
                libc::O_RDONLY,
                &b"/usr/lib/ssl/openssl.cnf"[..],
                &b"/etc/ssl/openssl.cnf"[..]
            ))
        );
        let (_, _, ev) = event_of(decode(&buf[..n]).unwrap());
        assert_eq!(
            ev.call,
            Call::Open {
                path: "/usr/lib/ssl/openssl.cnf".into(),
                flags: libc::O_RDONLY,
                resolved: Some("/etc/ssl/openssl.cnf".into()),
            }
        );
        assert_eq!(ev.request()["resolved"], "/etc/ssl/openssl.cnf");
    }

    #[test]
    fn connects_round_trip() {
        let mut buf = [0u8; 512];
        let n = encode_connect_inet(
            &mut buf,
            &head(2, WireOutcome::InProgress),
            b"/usr/bin/curl",
            b"/",
            &InetAddr::V4([93, 184, 216, 34]),
            443,
            WireProto::Tcp,
            b"example.com",
        );
        let (_, _, ev) = event_of(decode(&buf[..n]).unwrap());
        assert_eq!(ev.url().unwrap(), "tcp://example.com:443");
        assert_eq!(ev.outcome, Outcome::InProgress);

        let v6: std::net::Ipv6Addr = "::1".parse().unwrap();
        let n = encode_connect_inet(
            &mut buf,
            &head(3, WireOutcome::Errno(libc::ECONNREFUSED)),
            b"/x",
            b"/",
            &InetAddr::V6(v6.octets()),
            53,
            WireProto::Udp,
            b"",
        );
        let (_, _, ev) = event_of(decode(&buf[..n]).unwrap());
        assert_eq!(
            ev.call,
            Call::ConnectInet {
                addr: IpAddr::V6(v6),
                port: 53,
                proto: Proto::Udp,
                domain: None
            }
        );
        assert_eq!(ev.url().unwrap(), "udp://[::1]:53");

        let n = encode_connect_unix(
            &mut buf,
            &head(4, WireOutcome::Ok),
            b"/x",
            b"/",
            b"@abstract",
        );
        let (_, _, ev) = event_of(decode(&buf[..n]).unwrap());
        assert_eq!(ev.path(), Some("@abstract"));
    }

    #[test]
    fn mutations_round_trip_and_are_found_in_place() {
        let mut buf = [0u8; 512];
        for op in Op::ALL {
            let second: &[u8] = if op.has_new_path() {
                b"/w/new"
            } else if op.has_target() {
                b"../t"
            } else {
                b""
            };
            let h = head(8, WireOutcome::Errno(libc::ENOENT));
            let new_resolved: &[u8] = if op.has_new_path() { b"/h/new" } else { b"" };
            let m = MutationFields {
                op,
                path: b"/w/old",
                second,
                resolved: b"/h/old",
                new_resolved,
            };
            let n = encode_mutation(&mut buf, &h, b"/bin/mv", b"/w", &m);
            assert_eq!(mutation_event_fields(&buf[..n]), Some(m));
            assert_eq!(open_event_fields(&buf[..n]), None);
            let (_, _, ev) = event_of(decode(&buf[..n]).unwrap());
            assert_eq!(
                ev.call,
                Call::Mutate {
                    op,
                    path: "/w/old".into(),
                    new_path: op.has_new_path().then(|| "/w/new".into()),
                    target: op.has_target().then(|| "../t".into()),
                    resolved: Some("/h/old".into()),
                    new_resolved: op.has_new_path().then(|| "/h/new".into()),
                }
            );
            assert_eq!(ev.outcome, Outcome::Errno(libc::ENOENT));
            assert_eq!(ev.tool(), "write");
            assert_eq!(op.refused_errno(), ev.denied_errno());
        }
        let n = encode_open(
            &mut buf,
            &head(1, WireOutcome::Ok),
            b"/x",
            b"/",
            b"/f",
            0,
            b"",
        );
        assert_eq!(mutation_event_fields(&buf[..n]), None);
    }

    #[test]
    fn malformed_mutations_are_rejected() {
        let mut buf = [0u8; 256];
        let h = head(1, WireOutcome::Ok);
        let one = |op, second: &'static [u8]| MutationFields {
            op,
            path: b"/f",
            second,
            resolved: b"",
            new_resolved: b"",
        };
        let n = encode_mutation(&mut buf, &h, b"/x", b"/", &one(Op::Delete, b""));
        assert!(decode(&buf[..n]).is_ok());
        let op_at = EVENT_SUBJECT_AT + 2 + 2 + 2 + 1; // exe "/x", cwd "/"
        assert_eq!(buf[op_at], Op::Delete as u8);
        let mut bad = buf[..n].to_vec();
        bad[op_at] = 0;
        assert_eq!(decode(&bad).unwrap_err().what, "unknown mutation op");
        assert_eq!(mutation_event_fields(&bad), None);
        let n = encode_mutation(&mut buf, &h, b"/x", b"/", &one(Op::Chmod, b"/g"));
        assert_eq!(
            decode(&buf[..n]).unwrap_err().what,
            "second string of a one-path mutation"
        );
        let m = MutationFields {
            new_resolved: b"/g",
            ..one(Op::Chmod, b"")
        };
        let n = encode_mutation(&mut buf, &h, b"/x", b"/", &m);
        assert_eq!(
            decode(&buf[..n]).unwrap_err().what,
            "new_resolved of a one-path mutation"
        );
    }

    #[test]
    fn exec_failed_and_verdict_round_trip() {
        let mut buf = [0u8; 64];
        let n = encode_exec_failed(&mut buf, 77, libc::EACCES);
        assert_eq!(
            decode(&buf[..n]).unwrap(),
            Frame::ExecFailed {
                seq: 77,
                errno: libc::EACCES
            }
        );
        let n = encode_verdict(78, true, &mut buf);
        assert_eq!(decode_verdict(&buf[..n]), Some((78, true)));
        let n = encode_verdict(79, false, &mut buf);
        assert_eq!(decode_verdict(&buf[..n]), Some((79, false)));
        assert!(
            decode(&buf[..n]).is_err(),
            "a verdict is not a collector frame"
        );
        assert_eq!(decode_verdict(&buf[..n - 1]), None);
    }

    #[test]
    fn ring_and_wake_round_trip() {
        let mut buf = [0u8; 16];
        let n = encode_ring(&mut buf, 262_144);
        assert_eq!(
            decode(&buf[..n]).unwrap(),
            Frame::Ring { capacity: 262_144 }
        );
        assert!(decode(&buf[..n - 1]).is_err(), "short");
        let n = encode_ring_grant(&mut buf, 4096);
        assert_eq!(decode_ring_grant(&buf[..n]), Some(4096));
        assert!(decode(&buf[..n]).is_err(), "grants go to processes only");
        assert_eq!(decode_ring_grant(&buf[..n - 1]), None);
        let n = encode_wake(&mut buf);
        assert_eq!(n, 4);
        assert_eq!(decode(&buf[..n]).unwrap(), Frame::Wake);
        assert!(
            decode(&[b'R', b'W', VERSION, KIND_WAKE, 0]).is_err(),
            "long"
        );
    }

    #[test]
    fn lost_round_trips_and_counts_at_least_one() {
        let mut buf = [0u8; 16];
        let n = encode_lost(&mut buf, 1234);
        assert_eq!(decode(&buf[..n]).unwrap(), Frame::Lost { count: 1234 });
        let n = encode_lost(&mut buf, 0);
        assert!(decode(&buf[..n]).is_err());
        let n = encode_lost(&mut buf, 5);
        assert!(decode(&buf[..n - 1]).is_err(), "short");
    }

    #[test]
    fn outcome_and_verdict_flag_are_rewritten_in_place() {
        let mut buf = [0u8; 256];
        let n = encode_open(
            &mut buf,
            &head(41, WireOutcome::Unknown),
            b"/usr/bin/cat",
            b"/w",
            b"/etc/hosts",
            libc::O_RDONLY,
            b"",
        );
        let frame = &mut buf[..n];
        let (seq, call, subject) = event_subject(frame).unwrap();
        assert_eq!((seq, call), (41, CallKind::Open as u8));
        assert!(subject.windows(10).any(|w| w == b"/etc/hosts"));
        assert!(subject.starts_with(&[12, 0]), "subject starts at the exe");

        assert!(set_wants_verdict(frame, true));
        assert!(set_event_outcome(frame, WireOutcome::Errno(libc::EACCES)));
        let (_, wants, ev) = event_of(decode(frame).unwrap());
        assert!(wants);
        assert_eq!(ev.outcome, Outcome::Errno(libc::EACCES));

        assert!(set_wants_verdict(frame, false));
        assert!(set_event_outcome(frame, WireOutcome::Ok));
        let (_, wants, ev) = event_of(decode(frame).unwrap());
        assert!(!wants);
        assert_eq!(ev.outcome, Outcome::Ok);
        assert!(!ev.truncated);

        let mut not_event = [0u8; 32];
        let m = encode_exec_failed(&mut not_event, 1, libc::ENOENT);
        let before = not_event;
        assert!(!set_event_outcome(&mut not_event[..m], WireOutcome::Ok));
        assert!(!set_wants_verdict(&mut not_event[..m], true));
        assert_eq!(event_subject(&not_event[..m]), None);
        assert_eq!(not_event, before);
    }

    #[test]
    fn long_argv_is_cut_and_flagged_never_dropped() {
        let mut buf = [0u8; 1024];
        let long = vec![b'a'; 300];
        let args: Vec<&[u8]> = (0..10).map(|_| long.as_slice()).collect();
        let n = encode_exec(
            &mut buf,
            &head(5, WireOutcome::Unknown),
            b"/bin/sh",
            b"/",
            b"/usr/bin/echo",
            args.iter().copied(),
        );
        assert!(n > 0 && n <= buf.len());
        let (_, _, ev) = event_of(decode(&buf[..n]).unwrap());
        assert!(ev.truncated);
        let Call::Exec { path, argv, .. } = ev.call else {
            panic!()
        };
        assert_eq!(path, "/usr/bin/echo");
        assert!(!argv.is_empty() && argv.len() < 10);
        assert_eq!(argv[0].len(), 300);
        assert!(argv.iter().all(|a| a.bytes().all(|b| b == b'a')));
    }

    #[test]
    fn long_path_is_cut_and_flagged() {
        let mut buf = [0u8; 256];
        let path = vec![b'p'; 1000];
        let n = encode_open(
            &mut buf,
            &head(6, WireOutcome::Ok),
            b"/x",
            b"/",
            &path,
            0,
            b"",
        );
        assert_eq!(n, buf.len());
        assert!(event_truncated(&buf[..n]));
        let (_, _, ev) = event_of(decode(&buf[..n]).unwrap());
        assert!(ev.truncated);
        assert!(ev.path().unwrap().len() < 1000);
    }

    #[test]
    fn short_frames_are_fine_untruncated() {
        let mut buf = [0u8; 256];
        let n = encode_open(
            &mut buf,
            &head(6, WireOutcome::Ok),
            b"/x",
            b"/",
            b"/etc/hosts",
            0,
            b"",
        );
        let (_, _, ev) = event_of(decode(&buf[..n]).unwrap());
        assert!(!ev.truncated);
        assert!(!event_truncated(&buf[..n]));
        assert_eq!(ev.source, Source::Preload);
    }

    #[test]
    fn trace_frames_decode_as_trace_events() {
        let mut buf = [0u8; 256];
        let mut e = Encoder::event(
            as_uninit(&mut buf),
            CallKind::Open,
            &head(7, WireOutcome::Ok),
        );
        e.str(b"/static/prog");
        e.str(b"/");
        e.i32(libc::O_RDONLY);
        e.str(b"/etc/hosts");
        e.mark_source_trace();
        e.mark_truncated();
        let n = e.finish();
        let (seq, wants, ev) = event_of(decode(&buf[..n]).unwrap());
        assert_eq!((seq, wants), (7, false));
        assert_eq!(ev.source, Source::Trace);
        assert!(ev.truncated);
        assert_eq!(ev.path(), Some("/etc/hosts"));
    }

    #[test]
    fn buffer_too_small_for_the_fixed_part_encodes_nothing() {
        let mut buf = [0u8; 10];
        assert_eq!(
            encode_open(
                &mut buf,
                &head(1, WireOutcome::Ok),
                b"/x",
                b"/",
                b"/f",
                0,
                b""
            ),
            0
        );
    }

    #[test]
    fn malformed_frames_are_rejected() {
        let mut buf = [0u8; 256];
        let n = encode_open(
            &mut buf,
            &head(1, WireOutcome::Ok),
            b"/x",
            b"/",
            b"/f",
            0,
            b"",
        );
        let good = buf[..n].to_vec();
        assert!(decode(&good).is_ok());

        let err = |mut f: Vec<u8>, edit: &dyn Fn(&mut Vec<u8>)| {
            edit(&mut f);
            decode(&f).unwrap_err()
        };
        assert_eq!(err(good.clone(), &|f| f[0] = b'X').what, "bad magic");
        assert_eq!(err(good.clone(), &|f| f[2] = 9).what, "unsupported version");
        assert_eq!(err(good.clone(), &|f| f[3] = 99).what, "unknown frame kind");
        assert_eq!(
            err(good.clone(), &|f| f[8] = 0x80).what,
            "unknown event flags"
        );
        assert_eq!(err(good.clone(), &|f| f[9] = 7).what, "unknown call kind");
        assert_eq!(err(good.clone(), &|f| f[10] = 2).what, "bad outcome");
        assert_eq!(
            // (an empty `resolved`, then one byte too many)
            err(good.clone(), &|f| f.extend([0, 0, 0])).what,
            "trailing bytes after frame"
        );
        for cut in 0..good.len() {
            assert!(
                decode(&good[..cut]).is_err(),
                "prefix of {cut} bytes accepted"
            );
        }
        assert!(decode(&vec![0u8; MAX_FRAME + 1]).is_err());
        let e = decode(b"RW").unwrap_err();
        assert!(e.to_string().contains("at byte 2"), "{e}");
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift: deterministic, no extra crate.
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut buf = [0u8; 256];
        let n = encode_exec(
            &mut buf,
            &head(1, WireOutcome::Unknown),
            b"/x",
            b"/",
            b"/bin/true",
            [b"true".as_slice(), b"a"],
        );
        let seed = buf[..n].to_vec();
        let mut accepted = 0;
        for i in 0..200_000 {
            let mut f = if i % 2 == 0 {
                // Mutate a valid frame: exercises the deep paths.
                let mut f = seed.clone();
                let at = (next() as usize) % f.len();
                f[at] = next() as u8;
                f.truncate(f.len() - (next() as usize % 3));
                f
            } else {
                let len = (next() as usize) % 96;
                let mut f: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if len >= 4 {
                    f[..3].copy_from_slice(b"RW\x01");
                    f[3] = (next() % 5) as u8;
                }
                f
            };
            if decode(&f).is_ok() {
                accepted += 1;
            }
            f.clear();
        }
        // Mutations of string bytes keep a frame valid: some must pass.
        assert!(accepted > 0);
    }
}
