//! Building one wire frame per intercepted call and sending it, or, in
//! enforce mode, handing it to [`enforce::gate`] before the call.
//!
//! Each function writes straight into one stack frame buffer (`FRAME`
//! bytes): the header, the executable, the cwd read by `getcwd` into the
//! frame, then the call's body (paths resolved and cleaned in place). The
//! functions are not inlined so their buffers do not add up on the hook's
//! stack. Nothing here allocates, locks, panics or changes errno's meaning
//! for the program (hooks save and restore errno around it).

use core::mem::MaybeUninit;
use core::ops::Range;

use libc::{c_char, c_int};
use rampart_core::wire::{
    self, CallKind, Encoder, EventHead, InetAddr, Op, WireOutcome, WireProto,
};

use crate::at::{self, Base};
use crate::conn::{self, Conn, Ctx};
use crate::enforce::{self, Gate};
use crate::path;
use crate::state;
use crate::sys;

/// Bytes of the frame buffer on a hook's stack (the wire allows up to
/// [`wire::MAX_FRAME`]; this keeps a hook's stack use under 16 KiB).
pub const FRAME: usize = 8 * 1024;

/// The outcome of a call returning -1 (with `err`) on failure.
pub fn outcome(ok: bool, err: c_int) -> WireOutcome {
    if ok {
        WireOutcome::Ok
    } else if err > 0 {
        WireOutcome::Errno(err)
    } else {
        WireOutcome::Unknown
    }
}

/// Write one Event frame into `buf`: returns its sequence number and the
/// initialised frame (empty if it could not be encoded).
#[inline(always)]
fn build_event<'b>(
    cx: &Ctx,
    buf: &'b mut [MaybeUninit<u8>; FRAME],
    call: CallKind,
    outcome: WireOutcome,
    body: impl FnOnce(&mut Encoder<'_>, Range<usize>),
) -> (u32, &'b mut [u8]) {
    let seq = state::next_seq();
    let head = EventHead {
        seq,
        wants_verdict: false,
        outcome,
        pid: cx.pid,
        ppid: cx.ppid,
    };
    let mut e = Encoder::event(buf, call, &head);
    e.str(state::exe());
    let cwd = e.str_with(|_, out| {
        let cap = out.len().min(path::PATH_MAX);
        crate::cache::cwd_into(cx.pid, &mut out[..cap])
    });
    body(&mut e, cwd);
    let n = e.finish();
    // SAFETY: the encoder initialised the first n bytes.
    let frame = unsafe { core::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), n) };
    (seq, frame)
}

/// Send one Event frame; without a connection (the collector is gone or
/// wedged) the record is counted as lost (see [`conn::lost_one`]).
fn send_event(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    call: CallKind,
    outcome: WireOutcome,
    body: impl FnOnce(&mut Encoder<'_>, Range<usize>),
) -> u32 {
    let Some(conn) = conn.as_mut() else {
        conn::lost_one();
        return state::next_seq();
    };
    let mut buf = [MaybeUninit::<u8>::uninit(); FRAME];
    let (seq, frame) = build_event(cx, &mut buf, call, outcome, body);
    if !frame.is_empty() {
        conn.send(cx.s, cx.pid, cx.ppid, frame);
    }
    seq
}

/// Enforce mode: build the call's frame (outcome unknown) and decide it
/// (see [`enforce::gate`]); returns the gate and the frame's seq.
fn gate_event(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    call: CallKind,
    refused: c_int,
    send_if_cached: bool,
    body: impl FnOnce(&mut Encoder<'_>, Range<usize>),
) -> (Gate, u32) {
    let mut buf = [MaybeUninit::<u8>::uninit(); FRAME];
    let (seq, frame) = build_event(cx, &mut buf, call, WireOutcome::Unknown, body);
    (enforce::gate(cx, conn, frame, refused, send_if_cached), seq)
}

/// The file an open reached, as far as the hook knows it (see
/// [`crate::reach`]): the frame's `resolved` string.
#[derive(Clone, Copy)]
pub enum Reached {
    /// The name given, read plainly (no link followed), or not known.
    Same,
    /// The file this descriptor holds (readlink of `/proc/self/fd/N`).
    Fd(c_int),
    /// `name` (NUL-terminated, one component) in the directory this
    /// descriptor holds: a file about to be created.
    DirName(c_int, *const u8),
    /// Another name of the file, one the policy refuses it by (a hard
    /// link's, from the policy generation file: `enforce::other_name`).
    Named(&'static [u8]),
}

/// Enforce mode: decide an open before it is made, on the name given and
/// the file it reaches.
#[inline(never)]
pub fn open_gate(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    base: Base,
    rel: &[u8],
    flags: c_int,
    reached: Reached,
    by: OpenBy,
) -> Gate {
    gate_event(cx, conn, CallKind::Open, libc::EACCES, false, |e, cwd| {
        open_body(e, cwd, base, rel, flags, reached, by)
    })
    .0
}

/// Enforce mode: the gate of an open the policy in force cannot refuse
/// (its name passes the path screen), decided without asking anyone and
/// handed to `then` with the open's frame (outcome unknown), which becomes
/// its record ([`send_with_outcome`]); `None` when the open must be
/// decided on the file it reaches.
#[inline(never)]
pub fn open_gate_if_screened<R>(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    base: Base,
    rel: &[u8],
    flags: c_int,
    by: OpenBy,
    then: impl FnOnce(&mut Option<Conn>, Gate, &mut [u8]) -> R,
) -> Option<R> {
    let mut buf = [MaybeUninit::<u8>::uninit(); FRAME];
    let (_, frame) = build_event(
        cx,
        &mut buf,
        CallKind::Open,
        WireOutcome::Unknown,
        |e, cwd| open_body(e, cwd, base, rel, flags, Reached::Same, by),
    );
    let gate = enforce::gate_if_screened(cx, conn, frame)?;
    Some(then(conn, gate, frame))
}

/// Send a frame a gate built, as the record of the call it decided, with
/// the outcome the call had; without a connection the record is counted
/// as lost.
pub fn send_with_outcome(cx: &Ctx, conn: &mut Option<Conn>, frame: &mut [u8], oc: WireOutcome) {
    let Some(conn) = conn.as_mut() else {
        conn::lost_one();
        return;
    };
    if wire::set_event_outcome(frame, oc) {
        conn.send(cx.s, cx.pid, cx.ppid, frame);
    }
}

fn open_body(
    e: &mut Encoder<'_>,
    cwd: Range<usize>,
    base: Base,
    rel: &[u8],
    flags: c_int,
    reached: Reached,
    by: OpenBy,
) {
    if by == OpenBy::Libc {
        e.mark_source_unhooked();
    }
    e.i32(flags);
    if matches!(reached, Reached::Same) {
        put_path(e, cwd, base, rel);
        return; // no `resolved` field
    }
    // The file reached is what the decision cannot do without: the name
    // given is cut first (the frame is then marked cut) so that it fits.
    let given = put_path_leaving(e, cwd, base, rel, 2 + path::PATH_MAX);
    put_reached(e, given, reached);
}

/// The `resolved` string of a name written at `given`: the place
/// `reached`, or empty when that is the name itself (or not known).
fn put_reached(e: &mut Encoder<'_>, given: Range<usize>, reached: Reached) {
    e.str_with(|written, out| {
        let cap = out.len().min(path::PATH_MAX);
        let out = &mut out[..cap];
        let n = match reached {
            Reached::Same => None,
            Reached::Fd(fd) => path::fd_path_into(fd, out),
            Reached::DirName(dir, name) => {
                // SAFETY: a NUL-terminated name from the caller's stack.
                let name = unsafe { sys::cstr_bytes(name.cast()) };
                // A trailing slash (`rmdir("d/")`) is no part of the name.
                let name =
                    &name[..name.len() - name.iter().rev().take_while(|&&b| b == b'/').count()];
                path::fd_path_into(dir, out).and_then(|n| path::append_name(out, n, name))
            }
            Reached::Named(name) => out.get_mut(..name.len()).map(|o| {
                for (d, b) in o.iter_mut().zip(name) {
                    d.write(*b);
                }
                name.len()
            }),
        };
        match n {
            Some(n) if written.get(given) != Some(path::init_prefix(out, n)) => (n, false),
            Some(_) => (0, false),
            // Not known, or no room for it.
            None => (
                0,
                out.len() < path::PATH_MAX && !matches!(reached, Reached::Same),
            ),
        }
    });
}

/// Enforce mode: decide an inet connect before it is made.
#[inline(never)]
pub fn connect_inet_gate(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    addr: InetAddr,
    port: u16,
    proto: WireProto,
) -> Gate {
    let addr = crate::dns::unmap(addr);
    gate_event(
        cx,
        conn,
        CallKind::ConnectInet,
        libc::EACCES,
        false,
        |e, _| inet_body(e, addr, port, proto),
    )
    .0
}

/// Enforce mode: decide a unix-socket connect before it is made.
#[inline(never)]
pub fn connect_unix_gate(cx: &Ctx, conn: &mut Option<Conn>, name: &[u8]) -> Gate {
    gate_event(
        cx,
        conn,
        CallKind::ConnectUnix,
        libc::EACCES,
        false,
        |e, cwd| unix_body(e, cwd, name),
    )
    .0
}

/// A mutation's strings (see [`Op`]): the path it changes and what it is
/// relative to; the second string, for a rename or a link the new path
/// (relative to `new_base`), for a symlink its target as written, else
/// empty; and where each path really lands, as far as the hook knows it
/// (the frame's `resolved` and `new_resolved`).
pub struct Mutation<'a> {
    pub op: Op,
    pub base: Base,
    pub path: &'a [u8],
    pub new_base: Base,
    pub second: &'a [u8],
    pub reached: Reached,
    pub new_reached: Reached,
}

fn mutation_body(e: &mut Encoder<'_>, cwd: Range<usize>, m: &Mutation<'_>) {
    let known = |r: Reached| !matches!(r, Reached::Same);
    let new_known = m.op.has_new_path() && known(m.new_reached);
    e.u8(m.op as u8);
    let given = put_path(e, cwd.clone(), m.base, m.path);
    let new_given = if m.op.has_new_path() {
        put_path(e, cwd, m.new_base, m.second)
    } else {
        e.str(m.second);
        0..0
    };
    // Where the change lands, in the room left (a place that does not fit
    // marks the frame cut: the collector then decides it on what it sees).
    if known(m.reached) || new_known {
        put_reached(e, given, m.reached);
    }
    if new_known {
        put_reached(e, new_given, m.new_reached);
    }
}

/// Enforce mode: decide a mutation before it is made.
#[inline(never)]
pub fn mutation_gate(cx: &Ctx, conn: &mut Option<Conn>, m: &Mutation<'_>) -> Gate {
    let refused = m.op.refused_errno();
    gate_event(cx, conn, CallKind::Mutate, refused, false, |e, cwd| {
        mutation_body(e, cwd, m)
    })
    .0
}

#[inline(never)]
pub fn mutation(cx: &Ctx, conn: &mut Option<Conn>, m: &Mutation<'_>, oc: WireOutcome) {
    send_event(cx, conn, CallKind::Mutate, oc, |e, cwd| {
        mutation_body(e, cwd, m)
    });
}

fn put_path(e: &mut Encoder<'_>, cwd: Range<usize>, base: Base, rel: &[u8]) -> Range<usize> {
    put_path_leaving(e, cwd, base, rel, 0)
}

/// [`put_path`] leaving at least `keep` bytes of the frame's room free.
fn put_path_leaving(
    e: &mut Encoder<'_>,
    cwd: Range<usize>,
    base: Base,
    rel: &[u8],
    keep: usize,
) -> Range<usize> {
    e.str_with(|written, out| {
        let cwd = written.get(cwd).unwrap_or(&[]);
        let cap = out.len().saturating_sub(keep).min(path::PATH_MAX);
        at::resolve_into(base, cwd, rel, &mut out[..cap])
    })
}

/// Who made an open the hooks report.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OpenBy {
    /// The program, through an interposed symbol (`open`, `fopen`, ...).
    Program,
    /// libc inside one of its functions (`__open_nocancel`, which
    /// [`crate::internal`] routes to the open hook): reported as a call past
    /// the hooks (`source: unhooked`), as the filter of unhooked calls
    /// would, and decided as one.
    Libc,
}

#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub fn open(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    base: Base,
    rel: &[u8],
    flags: c_int,
    reached: Reached,
    oc: WireOutcome,
    by: OpenBy,
) {
    send_event(cx, conn, CallKind::Open, oc, |e, cwd| {
        open_body(e, cwd, base, rel, flags, reached, by)
    });
}

/// The frames of one exec: the name's, and the one of the file it loads
/// when that is another ([`crate::loads`]).
#[derive(Clone, Copy)]
pub struct ExecSeqs {
    pub name: u32,
    pub loaded: Option<u32>,
}

/// An exec of `rel` (resolved against `base`) with `argv`, and, unless it
/// failed or `loaded` is false, an exec of the file it loads when that is
/// another, `via` the name; returns their seqs. Each frame is built in a
/// function of its own, so one frame buffer is on the stack at a time.
#[inline(never)]
pub unsafe fn exec(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    base: Base,
    rel: &[u8],
    argv: *const *const c_char,
    oc: WireOutcome,
    loaded: bool,
) -> ExecSeqs {
    let name = send_event(cx, conn, CallKind::Exec, oc, |e, cwd| {
        name_body(e, cwd, base, rel, argv)
    });
    let loads = match oc {
        WireOutcome::Errno(_) => None,
        _ if !loaded => None,
        _ => crate::loads::of(base, rel),
    };
    let Some(l) = loads else {
        return ExecSeqs { name, loaded: None };
    };
    let loaded = l
        .differs()
        .then(|| send_loaded(cx, conn, oc, &l, base, rel, argv));
    // The loader run as a program: the program it runs too (its frame is
    // not the exec's: only the exec of the name can fail).
    if let Some(run) = loader_run(&l, argv) {
        send_run(cx, conn, oc, l.file(), &run, argv);
    }
    ExecSeqs { name, loaded }
}

#[inline(never)]
fn send_loaded(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    oc: WireOutcome,
    l: &crate::loads::Loads,
    base: Base,
    rel: &[u8],
    argv: *const *const c_char,
) -> u32 {
    send_event(cx, conn, CallKind::Exec, oc, |e, cwd| {
        loaded_body(e, cwd, l, base, rel, argv)
    })
}

#[inline(never)]
fn send_run(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    oc: WireOutcome,
    loader: &[u8],
    run: &rampart_core::loader::Run<'static>,
    argv: *const *const c_char,
) -> u32 {
    send_event(cx, conn, CallKind::Exec, oc, |e, cwd| {
        run_body(e, cwd, loader, run, argv)
    })
}

#[inline(never)]
fn gate_loaded(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    l: &crate::loads::Loads,
    base: Base,
    rel: &[u8],
    argv: *const *const c_char,
) -> Gate {
    gate_event(cx, conn, CallKind::Exec, libc::EPERM, true, |e, cwd| {
        loaded_body(e, cwd, l, base, rel, argv)
    })
    .0
}

#[inline(never)]
fn gate_run(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    loader: &[u8],
    run: &rampart_core::loader::Run<'static>,
    argv: *const *const c_char,
) -> Gate {
    gate_event(cx, conn, CallKind::Exec, libc::EPERM, true, |e, cwd| {
        run_body(e, cwd, loader, run, argv)
    })
    .0
}

/// What the dynamic loader runs, when `l` is the loader run as a program
/// with `argv` (`rampart_core::loader`).
fn loader_run(
    l: &crate::loads::Loads,
    argv: *const *const c_char,
) -> Option<rampart_core::loader::Run<'static>> {
    if l.is_script() || !rampart_core::loader::is_loader(l.file()) {
        return None;
    }
    rampart_core::loader::program(ArgIter { argv, i: 0 })
}

/// The program a loader runs (`run`, named in `argv`), with the argv it
/// gets, `via` the loader's file.
fn run_body(
    e: &mut Encoder<'_>,
    cwd: Range<usize>,
    loader: &[u8],
    run: &rampart_core::loader::Run<'static>,
    argv: *const *const c_char,
) {
    if run.name.contains(&b'/') {
        // Its own name, links resolved, when it can be told (an argv
        // string: NUL-terminated where the slice ends).
        e.str_with(|written, out| {
            let cap = out.len().min(path::PATH_MAX);
            match crate::loads::file_of(run.name.as_ptr(), &mut out[..cap]) {
                Some(n) => (n, false),
                None => at::resolve_into(
                    Base::Cwd,
                    written.get(cwd).unwrap_or(&[]),
                    run.name,
                    &mut out[..cap],
                ),
            }
        });
    } else {
        e.str(run.name);
    }
    let rest = ArgIter {
        argv,
        i: run.index + 1,
    };
    e.argv(core::iter::once(run.argv0.unwrap_or(run.name)).chain(rest));
    e.str(loader);
}

/// Enforce mode: decide an exec of `rel` with `argv`, and then the file it
/// loads when that is another, `via` the name (its frame is sent even when
/// the verdict was cached: it is never reported after the call), and the
/// program a loader run as a program runs. Returns the gate and the name's
/// seq.
#[inline(never)]
pub unsafe fn exec_gate(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    base: Base,
    rel: &[u8],
    argv: *const *const c_char,
    send_if_cached: bool,
) -> (Gate, u32) {
    let (gate, seq) = gate_event(
        cx,
        conn,
        CallKind::Exec,
        libc::EPERM,
        send_if_cached,
        |e, cwd| name_body(e, cwd, base, rel, argv),
    );
    if matches!(gate, Gate::Refuse) {
        return (gate, seq);
    }
    let Some(l) = crate::loads::of(base, rel) else {
        return (gate, seq);
    };
    if l.differs() && matches!(gate_loaded(cx, conn, &l, base, rel, argv), Gate::Refuse) {
        return (Gate::Refuse, seq);
    }
    if let Some(run) = loader_run(&l, argv) {
        if matches!(gate_run(cx, conn, l.file(), &run, argv), Gate::Refuse) {
            return (Gate::Refuse, seq);
        }
    }
    (gate, seq)
}

/// An exec of `rel` with `argv`.
fn name_body(
    e: &mut Encoder<'_>,
    cwd: Range<usize>,
    base: Base,
    rel: &[u8],
    argv: *const *const c_char,
) {
    put_path(e, cwd, base, rel);
    e.argv(ArgIter { argv, i: 0 });
}

/// The file an exec of `rel` loads, with the argv the new program gets,
/// `via` the name.
fn loaded_body(
    e: &mut Encoder<'_>,
    cwd: Range<usize>,
    l: &crate::loads::Loads,
    base: Base,
    rel: &[u8],
    argv: *const *const c_char,
) {
    e.str(l.file());
    if l.is_script() {
        // [interpreter, argument?]..., the name as given, argv[1..].
        // SAFETY: the caller's NULL-terminated argv.
        let rest = unsafe { ArgIter::after_first(argv) }.map(|a| -> &[u8] { a });
        e.argv(l.argv_prefix().chain(core::iter::once(rel)).chain(rest));
    } else {
        e.argv(ArgIter { argv, i: 0 });
    }
    put_path(e, cwd, base, rel);
}

/// Iterates a C argv without counting it first.
struct ArgIter {
    argv: *const *const c_char,
    i: usize,
}

impl ArgIter {
    /// `argv[1..]`; nothing for an empty argv.
    ///
    /// # Safety
    /// `argv` is NULL or a NULL-terminated array.
    unsafe fn after_first(argv: *const *const c_char) -> ArgIter {
        if argv.is_null() || (*argv).is_null() {
            return ArgIter {
                argv: core::ptr::null(),
                i: 0,
            };
        }
        ArgIter { argv, i: 1 }
    }
}

impl Iterator for ArgIter {
    type Item = &'static [u8];
    fn next(&mut self) -> Option<&'static [u8]> {
        if self.argv.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees a NULL-terminated array.
        unsafe {
            let p = *self.argv.add(self.i);
            if p.is_null() {
                return None;
            }
            self.i += 1;
            Some(sys::cstr_bytes(p))
        }
    }
}

/// The exec whose frames are `seqs` failed with `err`.
#[inline(never)]
pub fn exec_failed(cx: &Ctx, conn: &mut Conn, seqs: ExecSeqs, err: c_int) {
    for seq in core::iter::once(seqs.name).chain(seqs.loaded) {
        let mut buf = [0u8; 32];
        let n = wire::encode_exec_failed(&mut buf, seq, err.max(1));
        conn.send(cx.s, cx.pid, cx.ppid, &buf[..n]);
    }
}

#[inline(never)]
pub fn connect_inet(
    cx: &Ctx,
    conn: &mut Option<Conn>,
    addr: InetAddr,
    port: u16,
    proto: WireProto,
    oc: WireOutcome,
) {
    let addr = crate::dns::unmap(addr);
    send_event(cx, conn, CallKind::ConnectInet, oc, |e, _| {
        inet_body(e, addr, port, proto)
    });
}

fn inet_body(e: &mut Encoder<'_>, addr: InetAddr, port: u16, proto: WireProto) {
    match addr {
        InetAddr::V4(a) => {
            e.u8(4);
            e.bytes(&a);
        }
        InetAddr::V6(a) => {
            e.u8(6);
            e.bytes(&a);
        }
    }
    e.u16(port);
    e.u8(proto as u8);
    e.str_with(|_, out| (crate::dns::lookup_into(&addr, out).unwrap_or(0), false));
}

/// A connect to a unix socket: `name` is the sun_path bytes (abstract
/// names start with NUL and are written `@name`).
#[inline(never)]
pub fn connect_unix(cx: &Ctx, conn: &mut Option<Conn>, name: &[u8], oc: WireOutcome) {
    send_event(cx, conn, CallKind::ConnectUnix, oc, |e, cwd| {
        unix_body(e, cwd, name)
    });
}

fn unix_body(e: &mut Encoder<'_>, cwd: Range<usize>, name: &[u8]) {
    if let Some(abs) = name.strip_prefix(&[0u8]) {
        e.str_with(|_, out| {
            let mut n = 0;
            for (d, b) in out.iter_mut().zip(b"@".iter().chain(abs)) {
                d.write(*b);
                n += 1;
            }
            (n, n < abs.len() + 1)
        });
    } else {
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        put_path(e, cwd, Base::Cwd, &name[..end]);
    }
}
