//! Test harness for the preload library: builds `librampart_preload.so` and
//! the C probe, runs programs under `LD_PRELOAD` against a real
//! `SOCK_SEQPACKET` collector (a listener thread that decodes every frame
//! with `wire::decode`), and hands back what arrived, per connection.
//!
//! It asserts the wire contract on the way: each connection starts with a
//! Hello, every frame decodes, every event on a connection carries the
//! Hello's pid.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rampart_core::event::{Call, Event, Outcome};
use rampart_core::ring;
use rampart_core::wire::{self, Frame};

/// `<target>/<profile>` of the running test binary.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent() // deps
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// The library, built by cargo for the test's own profile (once per run).
pub fn library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = profile_dir();
        let target = dir.parent().expect("target dir").to_path_buf();
        let profile = dir
            .file_name()
            .expect("profile")
            .to_string_lossy()
            .into_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "rampart-preload", "--target-dir"])
            .arg(&target);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let status = cmd
            .status()
            .expect("run cargo build for the preload library");
        assert!(status.success(), "building librampart_preload.so failed");
        let lib = dir.join("librampart_preload.so");
        assert!(lib.exists(), "{} missing after the build", lib.display());
        lib
    })
}

/// The C probe (tests/probe.c), compiled once per test run.
pub fn probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probe.c");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let tmp = dir.join(format!("probe.{}", std::process::id()));
        rampart_e2e::build::gcc(&src, &tmp, &[]);
        // One stable name; rename is atomic for anyone still running the old one.
        let out = dir.join("probe");
        std::fs::rename(&tmp, &out).unwrap();
        out
    })
}

/// Compile a C program given as source into `dir`.
pub fn compile(dir: &Path, name: &str, source: &str) -> PathBuf {
    rampart_e2e::build::gcc_source(dir, name, source, &[])
}

#[derive(Debug, Default, Clone)]
pub struct ConnLog {
    pub frames: Vec<Frame>,
    pub eof: bool,
    pub errors: Vec<String>,
}

#[derive(Default)]
struct Shared {
    conns: Vec<ConnLog>,
    last_activity: Option<Instant>,
    /// Poll rounds the serving thread completed.
    rounds: u64,
    /// Close every open connection, unread, as a collector that dies does.
    hang_up: bool,
}

/// A real collector: a SOCK_SEQPACKET listener and a thread that accepts
/// and decodes.
/// How a test collector answers calls that wait for a verdict: `true`
/// allows.
pub type Decide = Arc<dyn Fn(&Event) -> bool + Send + Sync>;

pub struct Collector {
    dir: tempfile::TempDir,
    pub socket: PathBuf,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<()>>,
}

fn cvt(r: libc::c_int, what: &str) -> libc::c_int {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
    r
}

impl Collector {
    pub fn start() -> Collector {
        Self::start_deciding(None)
    }

    /// A collector that answers verdict requests with `decide` (none: they
    /// are never answered).
    pub fn start_deciding(decide: Option<Decide>) -> Collector {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("collector.sock");
        // SAFETY: plain socket calls with valid arguments.
        let fd = unsafe {
            let fd = cvt(
                libc::socket(
                    libc::AF_UNIX,
                    libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                    0,
                ),
                "socket",
            );
            let mut addr: libc::sockaddr_un = std::mem::zeroed();
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            for (d, s) in addr.sun_path.iter_mut().zip(socket.as_os_str().as_bytes()) {
                *d = *s as libc::c_char;
            }
            cvt(
                libc::bind(
                    fd,
                    &addr as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                ),
                "bind",
            );
            cvt(libc::listen(fd, 512), "listen");
            fd
        };
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let thread = {
            let stop = stop.clone();
            let shared = shared.clone();
            std::thread::spawn(move || serve(fd, &stop, &shared, decide))
        };
        Collector {
            dir,
            socket,
            stop,
            shared,
            thread: Some(thread),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Wait until every connection made since connection `from` reached
    /// EOF, the listener's backlog was drained, and nothing arrived for a
    /// moment; return those connections.
    pub fn settle_from(&self, from: usize) -> Vec<ConnLog> {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(20);
        let start_round = self.shared.lock().unwrap().rounds;
        loop {
            {
                let s = self.shared.lock().unwrap();
                let since = s.last_activity.map_or(start, |t| t.max(start));
                let quiet =
                    since.elapsed() > Duration::from_millis(150) && s.rounds >= start_round + 3;
                if quiet && s.conns.iter().all(|c| c.eof) {
                    return s.conns[from.min(s.conns.len())..].to_vec();
                }
                if Instant::now() > deadline {
                    panic!(
                        "collector never settled: {} of {} connections still open",
                        s.conns.iter().filter(|c| !c.eof).count(),
                        s.conns.len()
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Run `cmd` under the library with this collector; wait for it and for
    /// all its connections to close; return what this run sent.
    pub fn run(&self, cmd: &mut Command) -> Watched {
        cmd.env("LD_PRELOAD", library())
            .env("RAMPART_SOCKET", &self.socket)
            .stdin(Stdio::null());
        let from = self.shared.lock().unwrap().conns.len();
        let out = cmd.output().expect("spawn watched command");
        let conns = self.settle_from(from);
        Watched::new(out, conns)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Frames received so far, on every connection.
impl Collector {
    /// Close every connection now without reading what is left in it (its
    /// socket or its ring), as a collector that dies does; keep listening.
    pub fn hang_up(&self) {
        self.shared.lock().unwrap().hang_up = true;
        let round = self.shared.lock().unwrap().rounds;
        while self.shared.lock().unwrap().rounds < round + 2 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Every connection so far, as received.
    pub fn conns_so_far(&self) -> Vec<ConnLog> {
        self.shared.lock().unwrap().conns.clone()
    }

    pub fn frames_so_far(&self) -> Vec<Frame> {
        let s = self.shared.lock().unwrap();
        s.conns.iter().flat_map(|c| c.frames.clone()).collect()
    }
}

/// Decode one frame into `log`, answering a verdict request.
fn take_frame(fd: libc::c_int, bytes: &[u8], log: &mut ConnLog, decide: &Option<Decide>) {
    match wire::decode(bytes) {
        Ok(f) => {
            if let (
                Frame::Event {
                    seq,
                    wants_verdict: true,
                    event,
                },
                Some(decide),
            ) = (&f, decide)
            {
                let mut v = [0u8; 16];
                let n = wire::encode_verdict(*seq, decide(event), &mut v);
                // SAFETY: sending our own buffer on our socket.
                unsafe { libc::send(fd, v.as_ptr().cast(), n, libc::MSG_NOSIGNAL) };
            }
            if !matches!(f, Frame::Ring { .. } | Frame::Wake) {
                log.frames.push(f)
            }
        }
        Err(e) => log.errors.push(e.to_string()),
    }
}

/// Every frame waiting in the ring of a connection.
fn drain(
    fd: libc::c_int,
    ring: &mut Option<ring::Mapped>,
    log: &mut ConnLog,
    decide: &Option<Decide>,
    buf: &mut [u8],
) {
    let Some(r) = ring else { return };
    loop {
        match r.next(buf) {
            ring::Next::Frame(n) => take_frame(fd, &buf[..n], log, decide),
            ring::Next::Empty => return,
            ring::Next::Corrupt => panic!("corrupt record ring"),
        }
    }
}

fn serve(listener: libc::c_int, stop: &AtomicBool, shared: &Mutex<Shared>, decide: Option<Decide>) {
    let mut conns: Vec<(libc::c_int, usize, Option<ring::Mapped>)> = Vec::new();
    let mut buf = vec![0u8; wire::MAX_FRAME + 1];
    while !stop.load(Ordering::Relaxed) {
        let mut fds: Vec<libc::pollfd> = std::iter::once(listener)
            .chain(conns.iter().map(|c| c.0))
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: fds is a valid array of pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 5) };
        shared.lock().unwrap().rounds += 1;
        if std::mem::take(&mut shared.lock().unwrap().hang_up) {
            let mut s = shared.lock().unwrap();
            for (fd, idx, _) in conns.drain(..) {
                // SAFETY: closing our accepted socket; its ring goes unread.
                unsafe { libc::close(fd) };
                s.conns[idx].eof = true;
            }
        }
        for (fd, idx, ring) in conns.iter_mut() {
            if ring.is_some() {
                let mut s = shared.lock().unwrap();
                let before = s.conns[*idx].frames.len();
                drain(*fd, ring, &mut s.conns[*idx], &decide, &mut buf);
                if s.conns[*idx].frames.len() != before {
                    s.last_activity = Some(Instant::now());
                }
            }
        }
        if n <= 0 {
            continue;
        }
        if fds[0].revents != 0 {
            loop {
                // SAFETY: accept on our listener.
                let c = unsafe {
                    libc::accept4(
                        listener,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_CLOEXEC,
                    )
                };
                if c < 0 {
                    break;
                }
                let mut s = shared.lock().unwrap();
                s.conns.push(ConnLog::default());
                s.last_activity = Some(Instant::now());
                conns.push((c, s.conns.len() - 1, None));
            }
        }
        let mut closed = Vec::new();
        for (pfd, (fd, idx, ring)) in fds[1..].iter().zip(conns.iter_mut()) {
            if pfd.revents == 0 {
                continue;
            }
            let (fd, idx) = (*fd, *idx);
            let mut s = shared.lock().unwrap();
            s.last_activity = Some(Instant::now());
            let log = &mut s.conns[idx];
            // What the ring holds came before what the socket brings.
            drain(fd, ring, log, &decide, &mut buf);
            // SAFETY: recv into our buffer.
            let r =
                unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if r > 0 {
                if let (Ok(Frame::Ring { capacity }), None) =
                    (wire::decode(&buf[..r as usize]), &ring)
                {
                    *ring = Some(ring::Mapped::grant(fd, capacity).expect("a ring granted"));
                }
                take_frame(fd, &buf[..r as usize], log, &decide);
            } else if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN)
            {
                drain(fd, ring, log, &decide, &mut buf);
                log.eof = true;
                closed.push(fd);
            }
        }
        for fd in closed {
            // SAFETY: closing our accepted socket.
            unsafe { libc::close(fd) };
            conns.retain(|c| c.0 != fd);
        }
    }
    for (fd, _, _) in conns {
        unsafe { libc::close(fd) };
    }
    unsafe { libc::close(listener) };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub pid: i32,
    pub ppid: i32,
    pub exe: String,
    pub cwd: String,
    pub agent: String,
    pub session: String,
}

/// What a watched run produced.
#[derive(Debug)]
pub struct Watched {
    pub out: Output,
    pub hellos: Vec<Hello>,
    /// Every event, pending execs resolved (ExecFailed → errno, EOF → ok).
    pub events: Vec<Event>,
}

impl Watched {
    fn new(out: Output, conns: Vec<ConnLog>) -> Watched {
        let mut hellos = Vec::new();
        let mut events = Vec::new();
        for (i, c) in conns.iter().enumerate() {
            assert!(
                c.errors.is_empty(),
                "connection {i}: undecodable frames {:?}",
                c.errors
            );
            let mut frames = c.frames.iter();
            let hello = match frames.next() {
                Some(Frame::Hello {
                    pid,
                    ppid,
                    exe,
                    cwd,
                    agent,
                    session,
                }) => Hello {
                    pid: *pid,
                    ppid: *ppid,
                    exe: exe.clone(),
                    cwd: cwd.clone(),
                    agent: agent.clone(),
                    session: session.clone(),
                },
                other => panic!("connection {i} starts with {other:?}, not a Hello"),
            };
            let mut pending: HashMap<u32, usize> = HashMap::new();
            for f in frames {
                match f {
                    Frame::Hello { .. } => panic!("second Hello on connection {i}"),
                    Frame::Event { seq, event, .. } => {
                        assert_eq!(event.pid, hello.pid, "event pid differs from its Hello's");
                        if matches!(event.call, Call::Exec { .. })
                            && event.outcome == Outcome::Unknown
                        {
                            pending.insert(*seq, events.len());
                        }
                        events.push(event.clone());
                    }
                    Frame::ExecFailed { seq, errno } => {
                        let at = pending
                            .remove(seq)
                            .unwrap_or_else(|| panic!("ExecFailed for unknown seq {seq}"));
                        events[at].outcome = Outcome::Errno(*errno);
                    }
                    Frame::Lost { count } => {
                        panic!("{count} records of pid {} were lost", hello.pid)
                    }
                    Frame::Ring { .. } | Frame::Wake => {}
                }
            }
            for (_, at) in pending {
                assert!(c.eof, "pending exec on a connection that never closed");
                events[at].outcome = Outcome::Ok;
            }
            hellos.push(hello);
        }
        Watched {
            out,
            hellos,
            events,
        }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    pub fn execs(&self) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| matches!(e.call, Call::Exec { .. }))
            .collect()
    }

    /// Events opening exactly `path`.
    pub fn opens_of(&self, path: &str) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| matches!(&e.call, Call::Open { path: p, .. } if p == path))
            .collect()
    }

    pub fn open_paths(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match &e.call {
                Call::Open { path, .. } => Some(path.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Run without the library, for comparison.
pub fn run_bare(cmd: &mut Command) -> Output {
    cmd.env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .output()
        .expect("spawn bare command")
}

/// A path as a C string (for building argv in tests).
pub fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// argv of an exec event.
pub fn argv_of(e: &Event) -> (&str, Vec<&str>) {
    match &e.call {
        Call::Exec { path, argv, .. } => (path.as_str(), argv.iter().map(String::as_str).collect()),
        other => panic!("not an exec: {other:?}"),
    }
}
