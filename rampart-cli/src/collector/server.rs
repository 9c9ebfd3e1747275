//! The SEQPACKET server that the preload library reports to.
//!
//! One thread owns the listening socket and every connection, multiplexed
//! with epoll: thousands of short-lived processes cost a file descriptor
//! each, not a thread. It checks each peer's uid (SO_PEERCRED), decodes
//! frames and hands calls to the pipeline. It owns the per-connection state:
//! the process's Hello and its exec frames, which stay pending until either
//! an exec-failed frame (the exec failed with that errno) or the end of the
//! connection (the CLOEXEC socket closed: the exec succeeded). A process
//! that asks for a record ring (a Ring frame) gets one made here and sent
//! to it (`rampart_core::ring::Mapped`, a RingGrant frame with the memfd);
//! the server reads the ring before each read of the socket and at its
//! end, and every ring on each round; while rings keep bringing frames it
//! polls them every [`RING_POLL_MS`], and before it sleeps it asks each
//! ring for a Wake frame. Descriptors only go out: connections refuse to
//! be sent any (`SO_PASSRIGHTS`).
//!
//! It never decides and never writes the trail.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rampart_core::event::{Call, Event, Outcome, Source};
use rampart_core::ring::Next;
use rampart_core::wire::{self, Frame};

use rampart_core::ring::Mapped as RingMap;

use rampart_core::audit::Record;

use super::{Intake, Origin, Reply, Stats, Work};

const LISTENER: u64 = u64::MAX;
/// Frames read from one connection before the others get their turn: a
/// process that sends as fast as the collector reads must not starve the
/// rest (whose sends would time out).
const FAIR_SHARE: usize = 64;
/// After a round that only carried monitor frames, wait this long before
/// polling again, so that the next round drains a batch instead of waking
/// (and making the pipeline wake) once per frame. Rounds with a caller
/// waiting for a verdict never nap, nor rounds with a new process's Hello
/// (its first call, often an exec waiting for a verdict, is right behind:
/// napping on it cost every distinct exec under enforce about 0.2 ms).
const MONITOR_NAP: std::time::Duration = std::time::Duration::from_micros(200);
const WAKE: u64 = u64::MAX - 1;
/// While rings bring frames, how long the server sleeps between reads of
/// them (no Wake frames are sent meanwhile).
const RING_POLL_MS: i32 = 1;

/// The listening side, running on its own thread.
pub struct Server {
    wake: OwnedFd,
    stop_at: Arc<Mutex<Option<Instant>>>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl Server {
    /// `abandon_when`: once this is set (the trail cannot be written, under
    /// fail-closed enforcement), stop listening and drop every connection,
    /// so that the library refuses what follows as it does for a collector
    /// that is gone.
    pub fn start(
        path: PathBuf,
        intake: Intake,
        stats: Arc<Mutex<Stats>>,
        abandon_when: Option<Arc<AtomicBool>>,
    ) -> Result<Server> {
        let listener = bind_seqpacket(&path)?;
        let wake = eventfd()?;
        let wake_thread = dup(&wake)?;
        let stop_at = Arc::new(Mutex::new(None));
        let stop_thread = stop_at.clone();
        let thread = std::thread::Builder::new()
            .name("rampart-server".into())
            .spawn(move || {
                crate::background::yield_to_the_tree();
                let mut state = State {
                    intake,
                    stats,
                    conns: HashMap::new(),
                    next_id: 0,
                    round_frames: 0,
                    round_waits: false,
                    round: Vec::new(),
                    abandon_when,
                    ringed: Vec::new(),
                    accept_paused_until: None,
                    accept_warned: None,
                    max_conns: max_conns(),
                };
                if let Err(e) = state.serve(listener, wake_thread, &stop_thread) {
                    tracing::error!("collector server stopped: {e:#}");
                }
            })?;
        Ok(Server {
            wake,
            stop_at,
            thread: Some(thread),
            path,
        })
    }

    /// Stop accepting; keep reading the open connections until they close or
    /// `deadline` passes, then read what they have already sent and return.
    pub fn stop(mut self, deadline: Instant) {
        if let Ok(mut s) = self.stop_at.lock() {
            *s = Some(deadline);
        }
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a valid u64 to our eventfd.
        unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One connected process.
struct Conn {
    fd: Arc<OwnedFd>,
    origin: Arc<Origin>,
    /// The process, as its Hello named it.
    pid: i32,
    exe: String,
    /// Exec frames waiting for their outcome, by sequence number.
    pending_execs: Vec<(u32, Event)>,
    /// The process's record ring, once it asked for one.
    ring: Option<RingMap>,
    /// The process at the other end, as the kernel says (SO_PEERCRED, in
    /// the collector's pid namespace; 0 if it could not say).
    peer_pid: i32,
    /// Its parent, read once from /proc when a frame names another pid.
    peer_ppid: Option<i32>,
    /// A ring was granted on this connection (one at most).
    ring_granted: bool,
    /// The program wrote into its ring what no library writes: it is read
    /// no further, and its unread records are counted as lost at the end.
    ring_spoiled: bool,
}

struct State {
    intake: Intake,
    stats: Arc<Mutex<Stats>>,
    conns: HashMap<u64, Conn>,
    next_id: u64,
    /// Frames read in the current epoll round, and whether any of them
    /// waits for a verdict (or announces a process whose first call may).
    round_frames: usize,
    round_waits: bool,
    /// The calls of the current round, handed to the pipeline as one batch
    /// when the round ends.
    round: Vec<Work>,
    abandon_when: Option<Arc<AtomicBool>>,
    /// Connections with a ring.
    ringed: Vec<u64>,
    /// While set, the listener is out of epoll until then: the collector
    /// ran out of descriptors (or holds as many connections as it keeps),
    /// and pending connections wait in the backlog rather than make the
    /// server spin on `EMFILE` or leave the trail no descriptor to write.
    accept_paused_until: Option<Instant>,
    /// When that was last said (at most every 10 s).
    accept_warned: Option<Instant>,
    /// Connections kept open at most ([`max_conns`], read once).
    max_conns: usize,
}

/// Descriptors kept free of connections for the trail and the rest.
const FD_RESERVE: u64 = 256;
/// How long accepting pauses when it must.
const ACCEPT_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// Connections the server keeps open at most: the descriptor limit less
/// [`FD_RESERVE`].
fn max_conns() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 768;
    }
    lim.rlim_cur.saturating_sub(FD_RESERVE).max(64) as usize
}

impl State {
    fn serve(
        &mut self,
        listener: OwnedFd,
        wake: OwnedFd,
        stop_at: &Mutex<Option<Instant>>,
    ) -> Result<()> {
        let ep = epoll_create()?;
        epoll_add(&ep, listener.as_raw_fd(), LISTENER)?;
        epoll_add(&ep, wake.as_raw_fd(), WAKE)?;
        let mut listener = Some(listener);
        let mut buf = vec![0u8; wire::MAX_FRAME];
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let mut ring_frames = 0;
        loop {
            let deadline = stop_at.lock().map(|s| *s).unwrap_or(None);
            if let Some(d) = deadline {
                // Stopping: no new connections; done when all have closed.
                // Those already made (in the backlog) are taken whatever
                // the cap: their processes may have sent all they will.
                if let Some(l) = listener.take() {
                    self.accept_remaining(&ep, &l, &mut buf);
                }
                if self.conns.is_empty() || Instant::now() >= d {
                    break;
                }
            }
            let mut timeout = match deadline {
                Some(d) => {
                    d.saturating_duration_since(Instant::now())
                        .as_millis()
                        .min(1000) as i32
                        + 1
                }
                None => -1,
            };
            if let Some(t) = self.ring_timeout(ring_frames) {
                timeout = if timeout < 0 { t } else { timeout.min(t) };
            }
            if let (Some(until), Some(l)) = (self.accept_paused_until, &listener) {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    self.accept_paused_until = None;
                    if let Err(e) = epoll_add(&ep, l.as_raw_fd(), LISTENER) {
                        tracing::warn!("epoll_ctl: {e}");
                    }
                } else {
                    let ms = left.as_millis() as i32 + 1;
                    timeout = if timeout < 0 { ms } else { timeout.min(ms) };
                }
            }
            // SAFETY: `events` is a valid buffer of that many epoll_event.
            let n = unsafe {
                libc::epoll_wait(
                    ep.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    timeout,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e).context("epoll_wait");
            }
            self.round_frames = 0;
            self.round_waits = false;
            for ev in &events[..n as usize] {
                match ev.u64 {
                    LISTENER => {
                        if let Some(l) = &listener {
                            self.accept_all(&ep, l);
                        }
                    }
                    WAKE => {
                        let mut v = 0u64;
                        // SAFETY: reading 8 bytes into a valid u64 from our eventfd.
                        unsafe { libc::read(wake.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
                    }
                    id => {
                        self.read_conn(id, &mut buf);
                    }
                }
            }
            ring_frames = self.drain_rings(&mut buf);
            self.intake.submit_calls(std::mem::take(&mut self.round));
            if listener.is_some()
                && self
                    .abandon_when
                    .as_ref()
                    .is_some_and(|a| a.load(Ordering::Acquire))
            {
                tracing::error!("the trail cannot be written: the collector stops taking calls");
                listener = None;
                for (_, conn) in self.conns.drain() {
                    drop(conn);
                }
            }
            // Stopping, nothing is worth batching: the run waits to end.
            let stopping = stop_at.lock().map(|s| s.is_some()).unwrap_or(true);
            if self.round_frames > 0 && !self.round_waits && !stopping {
                std::thread::sleep(MONITOR_NAP);
            }
        }
        // Whatever the remaining connections have sent already is read;
        // their pending execs are recorded with an unknown outcome.
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            while self.read_conn(id, &mut buf) {}
            self.drain_ring(id, &mut buf, usize::MAX);
            if let Some(conn) = self.conns.remove(&id) {
                self.flush_pending(conn, Outcome::Unknown);
            }
        }
        self.intake.submit_calls(std::mem::take(&mut self.round));
        Ok(())
    }

    fn accept_all(&mut self, ep: &OwnedFd, listener: &OwnedFd) {
        self.accept_up_to(ep, listener, self.max_conns);
    }

    /// At the stop: accept every connection still in the backlog; when
    /// descriptors run out, read the open connections (those that ended
    /// close and free theirs) and go on.
    fn accept_remaining(&mut self, ep: &OwnedFd, listener: &OwnedFd, buf: &mut [u8]) {
        // A pause still in effect means nothing here: only one this makes.
        self.accept_paused_until = None;
        loop {
            let before = self.conns.len();
            self.accept_up_to(ep, listener, usize::MAX);
            if self.accept_paused_until.take().is_none() {
                return; // the backlog is empty
            }
            let ids: Vec<u64> = self.conns.keys().copied().collect();
            for id in ids {
                while self.read_conn(id, buf) {}
            }
            if self.conns.len() >= before {
                tracing::warn!("connections left unread at the stop: no descriptor to take them");
                return;
            }
        }
    }

    fn accept_up_to(&mut self, ep: &OwnedFd, listener: &OwnedFd, max: usize) {
        loop {
            if self.conns.len() >= max {
                self.pause_accepting(
                    ep,
                    listener,
                    "the collector holds as many connections as it keeps",
                );
                return;
            }
            // SAFETY: accept4 with null address arguments.
            let fd = unsafe {
                libc::accept4(
                    listener.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => return,
                    Some(libc::EINTR) | Some(libc::ECONNABORTED) => continue,
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                        self.pause_accepting(ep, listener, &e.to_string());
                        return;
                    }
                    _ => {
                        tracing::warn!("accept: {e}");
                        return;
                    }
                }
            }
            // SAFETY: accept4 returned a new descriptor that we now own.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let peer_pid = match peer_cred(fd.as_raw_fd()) {
                // SAFETY: geteuid cannot fail.
                Ok((uid, pid)) if uid == unsafe { libc::geteuid() } => pid,
                Ok((uid, _)) => {
                    tracing::warn!("refused a connection from uid {uid}");
                    continue;
                }
                Err(e) => {
                    tracing::warn!("SO_PEERCRED: {e}");
                    continue;
                }
            };
            let id = self.next_id;
            self.next_id += 1;
            if let Err(e) = epoll_add(ep, fd.as_raw_fd(), id) {
                tracing::warn!("epoll_ctl: {e}");
                continue;
            }
            self.conns.insert(
                id,
                Conn {
                    fd: Arc::new(fd),
                    origin: self.intake.default_origin.clone(),
                    pid: 0,
                    exe: String::new(),
                    pending_execs: Vec::new(),
                    ring: None,
                    peer_pid,
                    peer_ppid: None,
                    ring_granted: false,
                    ring_spoiled: false,
                },
            );
        }
    }

    /// Take the listener out of epoll for [`ACCEPT_PAUSE`] (the serve loop
    /// puts it back): connections wait in the backlog meanwhile.
    fn pause_accepting(&mut self, ep: &OwnedFd, listener: &OwnedFd, why: &str) {
        if self.accept_paused_until.is_some() {
            return;
        }
        let now = Instant::now();
        if self
            .accept_warned
            .is_none_or(|t| now.duration_since(t) >= std::time::Duration::from_secs(10))
        {
            tracing::warn!("not accepting connections for a moment: {why}");
            self.accept_warned = Some(now);
        }
        // SAFETY: removing our listener from our epoll set.
        unsafe {
            libc::epoll_ctl(
                ep.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                listener.as_raw_fd(),
                std::ptr::null_mut(),
            )
        };
        self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
    }

    /// Read up to [`FAIR_SHARE`] frames the connection has queued (epoll is
    /// level-triggered: the rest is read in the next round, after the other
    /// connections had their turn); on end of file, close it. True when the
    /// share ran out with frames perhaps still queued.
    fn read_conn(&mut self, id: u64, buf: &mut [u8]) -> bool {
        // What the process put in its ring came before what it sends now
        // (a fair share of it: a process that floods its ring must not hold
        // up the others; it is read on at the end of the round).
        self.drain_ring(id, buf, FAIR_SHARE * 4);
        for _ in 0..FAIR_SHARE {
            let Some(conn) = self.conns.get_mut(&id) else {
                return false;
            };
            // SAFETY: `buf` is valid for `buf.len()` bytes.
            let n = unsafe {
                libc::recv(
                    conn.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                self.round_frames += 1;
                self.frame(id, &buf[..n as usize]);
                continue;
            }
            if n < 0 {
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EAGAIN) => return false,
                    Some(libc::EINTR) => continue,
                    // The process closed its end with frames of ours it had
                    // not read (a verdict or ring grant that came too late):
                    // the kernel reports that once, before the frames it
                    // sent us, which are still there to read.
                    Some(libc::ECONNRESET) => continue,
                    _ => {}
                }
            }
            // End of file or a broken connection: every exec still pending
            // replaced the process image (the socket is close-on-exec).
            self.drain_ring(id, buf, usize::MAX);
            if let Some(conn) = self.conns.remove(&id) {
                self.ringed.retain(|&r| r != id);
                self.round.extend(cut_ring_note(&conn));
                self.flush_pending(conn, Outcome::Ok);
            }
            return false;
        }
        true
    }

    /// Read up to `max` frames from the ring of connection `id`.
    fn drain_ring(&mut self, id: u64, buf: &mut [u8], max: usize) -> usize {
        let mut n = 0;
        while n < max {
            let Some(ring) = self
                .conns
                .get_mut(&id)
                .filter(|c| !c.ring_spoiled)
                .and_then(|c| c.ring.as_mut())
            else {
                break;
            };
            match ring.next(buf) {
                Next::Frame(len) => {
                    n += 1;
                    self.round_frames += 1;
                    self.frame(id, &buf[..len]);
                }
                Next::Empty => break,
                Next::Corrupt => {
                    // Read no further; the ring stays mapped so that, at the
                    // end, the trail says how many records it kept from us.
                    tracing::warn!("a record ring holds what no library writes: not read further");
                    if let Some(conn) = self.conns.get_mut(&id) {
                        conn.ring_spoiled = true;
                    }
                    self.ringed.retain(|&r| r != id);
                    if let Ok(mut s) = self.stats.lock() {
                        s.malformed += 1;
                    }
                    break;
                }
            }
        }
        n
    }

    /// Read every ring, a fair share each; the number of frames read.
    fn drain_rings(&mut self, buf: &mut [u8]) -> usize {
        let ids = self.ringed.clone();
        ids.into_iter()
            .map(|id| self.drain_ring(id, buf, FAIR_SHARE * 4))
            .sum()
    }

    /// How long the next wait may last for the rings: soon again while
    /// they bring frames; else each is asked for a Wake frame, and one that
    /// got a frame meanwhile is read at once. `None`: no ring, no limit.
    fn ring_timeout(&self, ring_frames: usize) -> Option<i32> {
        if self.ringed.is_empty() {
            return None;
        }
        if ring_frames > 0 {
            return Some(RING_POLL_MS);
        }
        let mut all_armed = true;
        for id in &self.ringed {
            if let Some(ring) = self.conns.get(id).and_then(|c| c.ring.as_ref()) {
                all_armed &= ring.arm();
            }
        }
        if all_armed {
            None
        } else {
            Some(0)
        }
    }

    fn frame(&mut self, id: u64, bytes: &[u8]) {
        let frame = match wire::decode(bytes) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("malformed frame ({} bytes): {e}", bytes.len());
                if let Ok(mut s) = self.stats.lock() {
                    s.malformed += 1;
                }
                return;
            }
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        match frame {
            Frame::Hello {
                pid,
                exe,
                agent,
                session,
                ..
            } => {
                conn.pid = if conn.peer_pid > 0 {
                    conn.peer_pid
                } else {
                    pid
                };
                conn.exe = exe;
                // A new process: its first call, often an exec that waits
                // for a verdict, follows at once; do not nap on it.
                self.round_waits = true;
                if !agent.is_empty() || !session.is_empty() {
                    let d = &self.intake.default_origin;
                    conn.origin = Arc::new(Origin {
                        agent: if agent.is_empty() {
                            d.agent.clone()
                        } else {
                            agent
                        },
                        session: if session.is_empty() {
                            d.session.clone()
                        } else {
                            session
                        },
                        project: d.project.clone(),
                    });
                }
            }
            Frame::Event {
                seq,
                wants_verdict,
                mut event,
            } => {
                own_pids(conn, &mut event);
                self.round_waits |= wants_verdict;
                let reply = wants_verdict.then(|| Reply {
                    conn: conn.fd.clone(),
                    seq,
                });
                // A monitored exec waits for its outcome; an enforced one is
                // decided now (its outcome stays unknown in the trail).
                if reply.is_none() && event.tool() == "exec" && event.outcome == Outcome::Unknown {
                    conn.pending_execs.push((seq, event));
                } else {
                    self.round
                        .push(Work::call(conn.origin.clone(), event, reply));
                }
            }
            Frame::Lost { count } => {
                let o = &conn.origin;
                let record = Record::lost(&o.agent, &o.session, conn.pid, &conn.exe, count.into());
                self.round.push(Work::Note(record));
            }
            Frame::Ring { capacity } => {
                // One ring per connection, made here and sent to the process.
                if !conn.ring_granted {
                    match RingMap::grant(conn.fd.as_raw_fd(), capacity) {
                        Ok(ring) => {
                            conn.ring = Some(ring);
                            conn.ring_granted = true;
                            self.ringed.push(id);
                        }
                        Err(e) => tracing::debug!("no record ring for pid {}: {e}", conn.pid),
                    }
                }
            }
            Frame::Wake => {}
            Frame::ExecFailed { seq, errno } => {
                if let Some(i) = conn.pending_execs.iter().position(|(s, _)| *s == seq) {
                    let (_, mut event) = conn.pending_execs.remove(i);
                    if matches!(event.call, Call::Exec { via: Some(_), .. }) {
                        // The file the exec would have loaded: it never
                        // ran (the exec of the name is recorded failed).
                        return;
                    }
                    event.outcome = Outcome::Errno(errno);
                    self.round
                        .push(Work::call(conn.origin.clone(), event, None));
                }
            }
        }
    }

    fn flush_pending(&mut self, conn: Conn, outcome: Outcome) {
        for (_, mut event) in conn.pending_execs {
            event.outcome = outcome;
            self.round
                .push(Work::call(conn.origin.clone(), event, None));
        }
    }
}

/// A ring the process left with a post begun and never finished (a thread
/// killed in the middle of it), or one that could not be read on: its
/// records from there on are lost, and the trail says so (as one record:
/// At a connection's end: the records its ring holds and the collector did
/// not read (a ring the program spoiled, a post cut short by a thread
/// killed in the middle of it) are lost, and the trail says how many, as
/// the ring's posted count has it (the program's own word: at least one).
fn cut_ring_note(conn: &Conn) -> Option<Work> {
    let ring = conn.ring.as_ref()?;
    let mut count = ring.unread_frames();
    if ring.unread_bytes() > 0 || conn.ring_spoiled {
        count = count.max(1);
    }
    if count == 0 {
        return None;
    }
    let o = &conn.origin;
    Some(Work::Note(Record::lost(
        &o.agent, &o.session, conn.pid, &conn.exe, count,
    )))
}

/// A frame of the preload library is about the process that sent it: the
/// pid it names must be the connection's, as the kernel says. One that
/// names another (a program forging records for another process, or one
/// in another pid namespace, whose pids are its own) is recorded with the
/// kernel's pid and, while the process is there to ask, its parent, in the
/// collector's view. Frames of the trace
/// backend (`__trace-exec`, a traced run reporting to `rampart serve`)
/// name the tracees of the sender and are left as they are.
fn own_pids(conn: &mut Conn, event: &mut Event) {
    if conn.peer_pid <= 0 || event.source != Source::Preload || event.pid == conn.peer_pid {
        return;
    }
    let peer = conn.peer_pid;
    if conn.peer_ppid.is_none() {
        conn.peer_ppid = parent_of(peer);
    }
    event.pid = peer;
    // A process already gone keeps the parent its frame names.
    if let Some(ppid) = conn.peer_ppid {
        event.ppid = ppid;
    }
}

/// The parent pid of `pid` (`/proc/PID/stat`, field 4).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold anything.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `SO_PASSRIGHTS` (Linux 6.16): whether a socket may be sent descriptors.
const SO_PASSRIGHTS: libc::c_int = 83;

/// Refuse descriptors on the listening socket and so on every connection
/// it accepts (they inherit it, from their connect on): the collector is never
/// sent any (it sends rings), and closing one a program chose can block
/// (a TCP socket lingering on a peer that never reads), which would stop
/// the collector. Kernels before 6.16 lack the option: there a program can
/// still pass descriptors, which the kernel closes as the frame is read.
fn refuse_rights(sock: &OwnedFd) {
    let no: libc::c_int = 0;
    // SAFETY: setsockopt reads one int.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_PASSRIGHTS,
            (&no as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

fn bind_seqpacket(path: &PathBuf) -> Result<OwnedFd> {
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain old data.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() {
        bail!(
            "socket path too long ({} bytes): {}",
            bytes.len(),
            path.display()
        );
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: plain socket(2) call.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error()).context("socket(AF_UNIX, SOCK_SEQPACKET)");
    }
    // SAFETY: fd is a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    // SAFETY: addr is a valid sockaddr_un of at least `len` bytes.
    if unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len as u32,
        )
    } < 0
    {
        return Err(io::Error::last_os_error()).with_context(|| format!("bind {}", path.display()));
    }
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .with_context(|| format!("chmod {}", path.display()))?;
    // Before listening: every connection inherits it, from its connect on
    // (a frame may be queued before the connection is accepted).
    refuse_rights(&fd);
    // SAFETY: listen on our bound socket.
    if unsafe { libc::listen(fd.as_raw_fd(), 4096) } < 0 {
        return Err(io::Error::last_os_error()).context("listen");
    }
    Ok(fd)
}

fn peer_cred(fd: RawFd) -> io::Result<(u32, i32)> {
    // SAFETY: ucred is plain old data; getsockopt writes at most `len` bytes.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((cred.uid, cred.pid))
}

fn epoll_create() -> io::Result<OwnedFd> {
    // SAFETY: plain epoll_create1 call.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn epoll_add(ep: &OwnedFd, fd: RawFd, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
        u64: token,
    };
    // SAFETY: ev is a valid epoll_event.
    if unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain eventfd call.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn dup(fd: &OwnedFd) -> io::Result<OwnedFd> {
    fd.try_clone()
}
