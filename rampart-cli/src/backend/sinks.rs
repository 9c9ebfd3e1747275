//! Where the trace backend's calls go: [`CollectorSink`] gives them to the
//! collector of this process, run on the tracer's own thread
//! (`rampart run --backend trace`), [`WireSink`] sends them over the wire to
//! a collector elsewhere (`rampart __trace-exec`, or a run that reports to
//! `rampart serve`), as frames marked `source: trace`.
//!
//! In monitor mode [`CollectorSink`] queues calls and the collector decides
//! and writes them while the tracees run, when the tracer has nothing else
//! to do ([`Sink::idle`]): no thread of rampart's competes with the traced
//! program for a CPU.
//!
//! In enforce mode every call is decided and recorded before it runs: the
//! verdict comes back only once the record is written, and the later
//! outcome is not recorded again (the record keeps outcome `unknown`, as
//! under the preload backend). An exec that the tracer checks a second time
//! against the file actually loaded is recorded again only if that check
//! denies it (in process; over the wire the collector records every check).
//! These sinks never decide anything themselves, except what
//! `--fail-open`/`--fail-closed` says when no verdict comes.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    connect, recv, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::unistd::{getpid, getppid};
use rampart_core::event::{Call, Event};
use rampart_core::wire;
use rampart_trace::{Sink, Verdict};

use crate::collector::inline::Inline;
use crate::collector::policy_gen::Published;
use crate::collector::{allows, Stats};

/// How an enforcing sink waits for verdicts.
#[derive(Clone, Copy, Debug)]
pub struct Enforce {
    /// How long a call waits for its verdict.
    pub timeout: Duration,
    /// Allow the call when no verdict comes (else deny it).
    pub fail_open: bool,
}

impl Enforce {
    fn on_failure(&self, event: &Event) -> Verdict {
        if self.fail_open {
            Verdict::Allow
        } else {
            Verdict::Deny {
                errno: event.refused_errno(),
            }
        }
    }
}

fn verdict(allowed: bool, event: &Event) -> Verdict {
    if allowed {
        Verdict::Allow
    } else {
        Verdict::Deny {
            errno: event.refused_errno(),
        }
    }
}

/// Feeds the collector of this process, run on the tracer's thread
/// ([`Inline`]): monitored calls are queued and written while the tracees
/// run ([`Sink::idle`]). Under enforcement, so are the calls the policy
/// cannot refuse: they run without waiting ([`Verdict::Pass`]) and are
/// recorded with their outcome, as the preload library's screened opens are.
pub struct CollectorSink {
    inline: Inline,
    enforce: Option<Enforce>,
    /// Processes whose exec was decided and whose outcome has not come yet:
    /// another decision for one of them is the check against the loaded file.
    execs_decided: HashSet<i32>,
}

impl CollectorSink {
    /// `enforce`: `None` in monitor mode.
    pub fn new(inline: Inline, enforce: Option<Enforce>) -> CollectorSink {
        CollectorSink {
            inline,
            enforce,
            execs_decided: HashSet::new(),
        }
    }

    /// Write what is left, fsync, and return what was recorded.
    pub fn finish(self) -> anyhow::Result<Stats> {
        self.inline.finish()
    }
}

impl Sink for CollectorSink {
    fn decide(&mut self, event: &Event) -> Verdict {
        // Once the trail cannot be written, a call that needs no verdict
        // cannot be recorded either: --fail-open/--fail-closed says, below.
        if !self.inline.can_refuse(event) && !self.inline.trail_failed() {
            return Verdict::Pass;
        }
        let second_check =
            matches!(event.call, Call::Exec { .. }) && !self.execs_decided.insert(event.pid);
        match self.inline.decide_and_record(event.clone(), !second_check) {
            Some(action) => verdict(allows(action), event),
            // The trail cannot be written: as --fail-open/--fail-closed says.
            None => verdict(self.enforce.is_some_and(|e| e.fail_open), event),
        }
    }

    fn other_name(&mut self, dev: u64, ino: u64) -> Option<String> {
        self.inline.other_name(dev, ino)
    }

    fn recheck(&mut self, event: &Event) -> Verdict {
        if !self.inline.can_refuse(event) && !self.inline.trail_failed() {
            return Verdict::Allow;
        }
        // Its allowed entry is in the trail already: only a refusal is new.
        match self.inline.decide_and_record(event.clone(), false) {
            Some(action) => verdict(allows(action), event),
            None => verdict(self.enforce.is_some_and(|e| e.fail_open), event),
        }
    }

    fn record(&mut self, event: Event) {
        if self.enforce.is_some() {
            // Recorded when it was decided.
            if matches!(event.call, Call::Exec { .. }) {
                self.execs_decided.remove(&event.pid);
            }
            return;
        }
        self.inline.submit(event);
    }

    fn record_passed(&mut self, event: Event) {
        self.inline.submit(event);
    }

    fn idle(&mut self) -> bool {
        self.inline.work()
    }

    fn sleeping(&mut self) {
        self.inline.flush();
    }
}

/// Where the first exec of a `__trace-exec` run stands: the preload hook
/// that redirected it has already decided and reported it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FirstExec {
    /// Not reported here at all.
    Reported,
    /// Still to come.
    Expected,
    /// Allowed without asking; its second check (against the loaded file)
    /// and its outcome are still to come.
    Decided,
}

/// Sends to a collector's socket (`RAMPART_SOCKET`).
pub struct WireSink {
    /// `None` once the collector is gone (or was never reached).
    conn: Option<OwnedFd>,
    enforce: Option<Enforce>,
    /// What the collector's policy can refuse (its policy generation file):
    /// the other calls need no verdict.
    published: Option<Published>,
    seq: u32,
    first_exec: FirstExec,
    buf: Vec<u8>,
    /// Calls that could not be sent and are not yet reported (see
    /// [`WireSink::report_lost`]).
    pub lost: u64,
    /// Where the collector listens, and who this process is, for the
    /// connection that reports the lost count.
    socket: std::path::PathBuf,
    agent: String,
    session: String,
    /// Until when a collector that stopped reading is not waited for
    /// (sends fail at once and are counted), as the library does.
    wedged_until: Option<Instant>,
    /// Opens the collector allowed, by [`allowed_key`]: the same open again
    /// (every new process's loader opens `/etc/ld.so.cache`, which a rule
    /// about `/etc/` could refuse) is let through without asking and
    /// reported after the call, as the library's verdict cache does.
    allowed_opens: HashSet<String>,
}

/// Most opens [`WireSink`] remembers as allowed; it forgets them all when
/// it has more.
const ALLOWED_OPENS: usize = 4096;

/// What an open's verdict depends on: the policy generation in force, the
/// program, its working directory, where the call came from and the call
/// whole (names, flags). Only its process is left out: a rule cannot name
/// one. `None` for other calls, or while the generation cannot be read.
fn allowed_key(published: Option<&Published>, event: &Event) -> Option<String> {
    if !matches!(event.call, Call::Open { .. }) {
        return None;
    }
    let generation = published?.generation()?;
    Some(format!(
        "{generation}\0{}\0{}\0{:?}\0{}\0{:?}",
        event.exe, event.cwd, event.source, event.truncated, event.call
    ))
}

/// How long a send waits for room in a collector's socket before the
/// collector is taken as wedged (the preload library's wait, README: "When
/// things go wrong").
const SEND_WAIT: Duration = Duration::from_secs(3);
/// How long a wedged collector is not waited for.
const WEDGED_BACKOFF: Duration = Duration::from_secs(5);

impl WireSink {
    /// Connect to the collector at `socket` and introduce this process
    /// (agent and session may be empty: the collector's own apply). A
    /// collector that cannot be reached gives a sink that drops what it is
    /// given and fails decisions as `enforce` says.
    pub fn connect(
        socket: &Path,
        agent: &str,
        session: &str,
        enforce: Option<Enforce>,
    ) -> (WireSink, io::Result<()>) {
        let mut sink = WireSink {
            conn: None,
            enforce,
            published: None,
            seq: 0,
            first_exec: FirstExec::Reported,
            buf: vec![0u8; wire::MAX_FRAME],
            lost: 0,
            socket: socket.to_path_buf(),
            agent: agent.to_string(),
            session: session.to_string(),
            wedged_until: None,
            allowed_opens: HashSet::new(),
        };
        let res = sink.hello().map(|fd| sink.conn = Some(fd));
        (sink, res)
    }

    /// A new connection to the collector, introduced with a Hello.
    fn hello(&mut self) -> io::Result<OwnedFd> {
        let fd = connect_seqpacket(&self.socket)?;
        nix::sys::socket::setsockopt(
            &fd,
            nix::sys::socket::sockopt::SendTimeout,
            &nix::sys::time::TimeVal::new(SEND_WAIT.as_secs() as _, 0),
        )?;
        let exe = std::env::current_exe().unwrap_or_default();
        let cwd = std::env::current_dir().unwrap_or_default();
        let (pid, ppid) = (getpid().as_raw(), getppid().as_raw());
        let n = wire::encode_hello(
            &mut self.buf,
            pid,
            ppid,
            exe.as_os_str().as_bytes(),
            cwd.as_os_str().as_bytes(),
            self.agent.as_bytes(),
            self.session.as_bytes(),
        );
        send(&fd, &self.buf[..n])?;
        Ok(fd)
    }

    /// Tell the collector how many calls it never got (a Lost frame, which
    /// it records as a `lost` record), on this connection or a new one.
    /// What cannot be reported stays in [`WireSink::lost`].
    pub fn report_lost(&mut self) {
        while self.lost > 0 {
            if !self.collector_alive() {
                match self.hello() {
                    Ok(fd) => self.conn = Some(fd),
                    Err(_) => return,
                }
            }
            let Some(conn) = &self.conn else { return };
            let count = self.lost.min(u32::MAX as u64) as u32;
            let n = wire::encode_lost(&mut self.buf, count);
            match send(conn, &self.buf[..n]) {
                Ok(()) => {}
                // Still there, not reading: the count waits for a later send.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.conn = None;
                    return;
                }
            }
            self.lost -= u64::from(count);
        }
    }

    /// Ask only about the calls that the policy published in the policy
    /// generation file at `path` can refuse (`RAMPART_POLICY_GEN`), as the
    /// preload library does; the others run at once and are reported with
    /// their outcome. Without a readable file every call asks.
    pub fn read_refusals_from(&mut self, path: &Path) {
        self.published = Published::open(path);
    }

    /// Whether the collector is still at the other end (a closed peer shows
    /// as a hang-up at once); forgets the connection when it is not.
    fn collector_alive(&mut self) -> bool {
        let Some(conn) = &self.conn else {
            return false;
        };
        // A SEQPACKET socket whose peer closed reports POLLHUP whatever
        // was asked for. (POLLRDHUP is not asked for: nix's `revents`
        // gives nothing at all when the kernel sets a bit it does not name.)
        let mut pfd = [PollFd::new(conn.as_fd(), PollFlags::POLLIN)];
        let gone = poll(&mut pfd, PollTimeout::ZERO).is_ok_and(|n| n > 0)
            && pfd[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR));
        if gone {
            self.conn = None;
        }
        !gone
    }

    /// Do not report the first exec (the program's own): whoever started
    /// this process already did.
    pub fn skip_first_exec(&mut self) {
        self.first_exec = FirstExec::Expected;
    }

    fn send_event(&mut self, event: &Event, wants_verdict: bool) -> Option<u32> {
        let Some(conn) = self.conn.as_ref() else {
            self.lost += 1;
            return None;
        };
        self.seq = self.seq.wrapping_add(1);
        let n = wire::encode_event(&mut self.buf, self.seq, wants_verdict, event);
        if n == 0 {
            self.lost += 1;
            return None;
        }
        // A collector that stopped reading (SIGSTOP) is waited for
        // SEND_WAIT, then not at all for WEDGED_BACKOFF: its calls are
        // counted and the count reported once a send gets through.
        let wedged = self.wedged_until.is_some_and(|t| Instant::now() < t);
        let flags = if wedged {
            MsgFlags::MSG_DONTWAIT
        } else {
            MsgFlags::empty()
        };
        match send_with(conn, &self.buf[..n], flags) {
            Ok(()) => {
                self.wedged_until = None;
                if self.lost > 0 {
                    self.report_lost();
                }
                Some(self.seq)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.lost += 1;
                if !wedged {
                    self.wedged_until = Some(Instant::now() + WEDGED_BACKOFF);
                }
                None
            }
            Err(_) => {
                self.lost += 1;
                self.conn = None;
                None
            }
        }
    }

    /// Wait for the verdict on `seq` until `deadline`.
    fn verdict_for(&mut self, seq: u32, deadline: Instant) -> Option<bool> {
        let fd = self.conn.as_ref()?.as_raw_fd();
        let mut buf = [0u8; 64];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            let ready = {
                let conn = self.conn.as_ref()?;
                let mut pfd = [PollFd::new(conn.as_fd(), PollFlags::POLLIN)];
                poll(
                    &mut pfd,
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                )
            };
            match ready {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(_) => return None,
            }
            let n = match recv(fd, &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(0) | Err(Errno::ENOTCONN | Errno::ECONNRESET | Errno::EPIPE) => {
                    self.conn = None; // the collector is gone
                    return None;
                }
                Ok(n) => n,
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(_) => {
                    self.conn = None;
                    return None;
                }
            };
            match wire::decode_verdict(&buf[..n]) {
                Some((s, allow)) if s == seq => return Some(allow),
                _ => continue, // a late answer to a call that timed out
            }
        }
    }
}

impl Sink for WireSink {
    fn other_name(&mut self, dev: u64, ino: u64) -> Option<String> {
        self.published
            .as_mut()
            .and_then(Published::current)
            .and_then(|r| r.other_name(dev, ino))
    }

    fn decide(&mut self, event: &Event) -> Verdict {
        let is_exec = matches!(event.call, Call::Exec { .. });
        if is_exec && self.first_exec == FirstExec::Expected {
            self.first_exec = FirstExec::Decided;
            return Verdict::Allow;
        }
        let needs_no_verdict = self
            .published
            .as_mut()
            .and_then(Published::current)
            .is_some_and(|r| !r.can_refuse(event));
        // A collector that is gone cannot record a passed call either:
        // --fail-open/--fail-closed says, below.
        if needs_no_verdict && self.collector_alive() {
            return Verdict::Pass;
        }
        let key = allowed_key(self.published.as_ref(), event);
        if key.as_ref().is_some_and(|k| self.allowed_opens.contains(k)) && self.collector_alive() {
            return Verdict::Pass;
        }
        let enforce = self.enforce.unwrap_or(Enforce {
            timeout: Duration::from_millis(rampart_core::env::DEFAULT_TIMEOUT_MS),
            fail_open: false,
        });
        let deadline = Instant::now() + enforce.timeout;
        match self
            .send_event(event, true)
            .and_then(|seq| self.verdict_for(seq, deadline))
        {
            Some(allowed) => {
                if let Some(key) = key.filter(|_| allowed) {
                    if self.allowed_opens.len() >= ALLOWED_OPENS {
                        self.allowed_opens.clear();
                    }
                    self.allowed_opens.insert(key);
                }
                verdict(allowed, event)
            }
            None => enforce.on_failure(event),
        }
    }

    fn record(&mut self, event: Event) {
        if matches!(event.call, Call::Exec { .. }) && self.first_exec != FirstExec::Reported {
            self.first_exec = FirstExec::Reported;
            return;
        }
        if self.enforce.is_some() {
            return; // recorded when it was decided
        }
        self.send_event(&event, false);
    }

    fn record_passed(&mut self, event: Event) {
        self.send_event(&event, false);
    }
}

fn connect_seqpacket(path: &Path) -> io::Result<OwnedFd> {
    let addr = UnixAddr::new(path).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unusable socket path {:?}", path.display()),
        )
    })?;
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    loop {
        match connect(fd.as_raw_fd(), &addr) {
            Ok(()) => return Ok(fd),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn send(fd: &OwnedFd, frame: &[u8]) -> io::Result<()> {
    send_with(fd, frame, MsgFlags::empty())
}

/// [`send`] with extra `send(2)` flags (`MSG_DONTWAIT`).
fn send_with(fd: &OwnedFd, frame: &[u8], flags: MsgFlags) -> io::Result<()> {
    loop {
        match nix::sys::socket::send(fd.as_raw_fd(), frame, MsgFlags::MSG_NOSIGNAL | flags) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::event::{Outcome, Source};
    use rampart_core::wire::Frame;

    fn event(call: Call, outcome: Outcome) -> Event {
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
    fn an_unreachable_collector_fails_decisions_as_told() {
        let dir = tempfile::tempdir().unwrap();
        let ev = event(
            Call::Open {
                path: "/etc/passwd".into(),
                flags: 0,
                resolved: None,
            },
            Outcome::Unknown,
        );
        let closed = Enforce {
            timeout: Duration::from_millis(50),
            fail_open: false,
        };
        let (mut sink, res) = WireSink::connect(&dir.path().join("none"), "", "", Some(closed));
        assert!(res.is_err());
        assert_eq!(
            sink.decide(&ev),
            Verdict::Deny {
                errno: libc::EACCES
            }
        );
        let open = Enforce {
            fail_open: true,
            ..closed
        };
        let (mut sink, _) = WireSink::connect(&dir.path().join("none"), "", "", Some(open));
        assert_eq!(sink.decide(&ev), Verdict::Allow);
        sink.record(ev);
        assert_eq!(sink.lost, 1, "counted once, when it was decided");
    }

    #[test]
    fn calls_that_could_not_be_sent_are_reported_as_a_count_once_the_collector_listens() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("collector.sock");
        let (mut sink, res) = WireSink::connect(&socket, "agent", "s1", None);
        assert!(res.is_err(), "nobody listens yet");
        for i in 0..3 {
            sink.record(event(
                Call::Open {
                    path: format!("/work/f{i}"),
                    flags: 0,
                    resolved: None,
                },
                Outcome::Ok,
            ));
        }
        assert_eq!(sink.lost, 3);
        // std's listener is SOCK_STREAM; the collector's is SEQPACKET.
        let listener = seqpacket_listener(&socket);
        sink.report_lost();
        assert_eq!(sink.lost, 0);
        let conn = listener.accept().unwrap().0;
        let mut buf = vec![0u8; wire::MAX_FRAME];
        let mut frames = Vec::new();
        for _ in 0..2 {
            let n = std::io::Read::read(&mut &conn, &mut buf).unwrap();
            frames.push(wire::decode(&buf[..n]).unwrap());
        }
        assert!(matches!(frames[0], Frame::Hello { .. }), "{:?}", frames[0]);
        assert_eq!(frames[1], Frame::Lost { count: 3 });
    }

    #[test]
    fn a_collector_that_stops_reading_is_waited_for_then_counted_never_hung_on() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("collector.sock");
        let listener = seqpacket_listener(&socket);
        let (mut sink, res) = WireSink::connect(&socket, "agent", "s1", None);
        res.unwrap();
        let conn = listener.accept().unwrap().0;
        let open = |i: usize| {
            event(
                Call::Open {
                    path: format!("/work/f{i}"),
                    flags: 0,
                    resolved: None,
                },
                Outcome::Ok,
            )
        };
        // Nobody reads: the socket fills, one send waits SEND_WAIT, the
        // rest fail at once and are counted.
        let start = Instant::now();
        let total = 5000;
        for i in 0..total {
            sink.record(open(i));
        }
        let waited = start.elapsed();
        assert!(waited < SEND_WAIT + Duration::from_secs(2), "{waited:?}");
        let lost = sink.lost;
        assert!(lost > 0 && lost < total as u64, "{lost}");
        // The collector reads again: the next call gets through, and so
        // does the count of those that did not.
        conn.set_nonblocking(true).unwrap();
        let mut buf = vec![0u8; wire::MAX_FRAME];
        let mut frames = Vec::new();
        let mut drain = |frames: &mut Vec<Frame>| {
            while let Ok(n) = std::io::Read::read(&mut &conn, &mut buf) {
                frames.push(wire::decode(&buf[..n]).unwrap());
            }
        };
        drain(&mut frames);
        sink.record(open(total));
        assert_eq!(sink.lost, 0);
        drain(&mut frames);
        let events = frames
            .iter()
            .filter(|f| matches!(f, Frame::Event { .. }))
            .count();
        let reported: u64 = frames
            .iter()
            .map(|f| match f {
                Frame::Lost { count } => u64::from(*count),
                _ => 0,
            })
            .sum();
        assert_eq!(reported, lost);
        assert_eq!(events as u64 + reported, total as u64 + 1);
    }

    /// A listening SEQPACKET socket at `path`, as std has none.
    fn seqpacket_listener(path: &Path) -> std::os::unix::net::UnixListener {
        use std::os::unix::io::FromRawFd;
        let bytes = path.as_os_str().as_bytes();
        // SAFETY: plain socket/bind/listen on a zeroed sockaddr_un.
        unsafe {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0);
            let mut addr: libc::sockaddr_un = std::mem::zeroed();
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
                *d = *s as libc::c_char;
            }
            let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            assert_eq!(libc::bind(fd, (&raw const addr).cast(), len), 0);
            assert_eq!(libc::listen(fd, 4), 0);
            // accept(2) on a SEQPACKET listener works through std's type.
            std::os::unix::net::UnixListener::from_raw_fd(fd)
        }
    }
}
