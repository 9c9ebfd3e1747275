//! Monitor-mode overhead of librampart_preload.so on the design's workloads
//! (`../shared/bench/workloads/`): each workload runs bare and under the
//! library, alternately, and the ratio of medians is printed (wall time and
//! CPU time of the whole process tree).
//!
//! The collector here is a reference one: epoll, drain every ready
//! connection, decode every frame. `RAMPART_BENCH_NAP_US` (default 200) makes
//! it pause that long after a busy round, so a stream of frames does not cost
//! one wake-up (and, on a busy machine, one context switch) per frame; set
//! it to 0 to see the wake-per-frame cost.
//!
//! Run: `cargo bench -p rampart-preload --bench overhead [-- NAMES]`, with
//! `RAMPART_BENCH_RUNS` (default 9) runs of each.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_core::wire;

fn shared_dir() -> PathBuf {
    std::env::var_os("RAMPART_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target = dir.parent().unwrap().to_path_buf();
    let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "rampart-preload",
            "--target-dir",
        ])
        .arg(&target)
        .status()
        .unwrap();
    assert!(st.success());
    target.join("release/librampart_preload.so")
}

struct Collector {
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
    bad: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Collector {
    fn start(nap: Duration) -> Collector {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("c.sock");
        let stop = Arc::new(AtomicBool::new(false));
        let frames = Arc::new(AtomicU64::new(0));
        let bad = Arc::new(AtomicU64::new(0));
        // SAFETY: plain socket and epoll calls on our own descriptors.
        let (lfd, ep) = unsafe {
            let lfd = libc::socket(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            );
            let mut a: libc::sockaddr_un = std::mem::zeroed();
            a.sun_family = libc::AF_UNIX as _;
            for (d, s) in a.sun_path.iter_mut().zip(socket.as_os_str().as_bytes()) {
                *d = *s as _;
            }
            assert_eq!(
                libc::bind(
                    lfd,
                    &a as *const _ as *const _,
                    std::mem::size_of_val(&a) as _
                ),
                0
            );
            assert_eq!(libc::listen(lfd, 4096), 0);
            let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: lfd as u64,
            };
            libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, lfd, &mut ev);
            (lfd, ep)
        };
        let thread = {
            let (stop, frames, bad) = (stop.clone(), frames.clone(), bad.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; wire::MAX_FRAME];
                let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: evs is a valid buffer.
                    let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), evs.len() as i32, 50) };
                    for ev in evs.iter().take(n.max(0) as usize) {
                        let fd = ev.u64 as i32;
                        if fd == lfd {
                            loop {
                                let c = unsafe {
                                    libc::accept4(
                                        lfd,
                                        std::ptr::null_mut(),
                                        std::ptr::null_mut(),
                                        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                                    )
                                };
                                if c < 0 {
                                    break;
                                }
                                let mut e = libc::epoll_event {
                                    events: libc::EPOLLIN as u32,
                                    u64: c as u64,
                                };
                                unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, c, &mut e) };
                            }
                            continue;
                        }
                        loop {
                            let r =
                                unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
                            if r > 0 {
                                match wire::decode(&buf[..r as usize]) {
                                    Ok(_) => frames.fetch_add(1, Ordering::Relaxed),
                                    Err(_) => bad.fetch_add(1, Ordering::Relaxed),
                                };
                                continue;
                            }
                            if r == 0 {
                                unsafe { libc::close(fd) };
                            }
                            break;
                        }
                    }
                    if n > 0 && !nap.is_zero() {
                        std::thread::sleep(nap);
                    }
                }
            })
        };
        Collector {
            socket,
            stop,
            frames,
            bad,
            thread: Some(thread),
            _dir: dir,
        }
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

fn children_cpu() -> f64 {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut r) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(r.ru_utime) + t(r.ru_stime)
}

/// (wall s, cpu s) of one run.
fn run(argv: &[String], preload: Option<(&Path, &Path)>) -> (f64, f64) {
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env_remove("LD_PRELOAD");
    if let Some((lib, sock)) = preload {
        c.env("LD_PRELOAD", lib).env("RAMPART_SOCKET", sock);
    }
    let cpu0 = children_cpu();
    let t0 = Instant::now();
    c.status().unwrap();
    (t0.elapsed().as_secs_f64(), children_cpu() - cpu0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this
    // binary too, and a test run is no place for minutes of benchmarks.
    if !std::env::args().any(|a| a == "--bench") {
        println!("overhead: skipped (run it with cargo bench)");
        return;
    }
    let w = shared_dir().join("bench/workloads");
    let s = |p: &str| p.to_string();
    let workloads: Vec<(&str, Vec<String>)> = vec![
        (
            "imports",
            vec![
                s("/usr/bin/python3"),
                w.join("imports.py").display().to_string(),
            ],
        ),
        (
            "gcc",
            vec![s("/bin/bash"), w.join("mixed.sh").display().to_string()],
        ),
        (
            "exec500",
            vec![s("/bin/bash"), w.join("exec.sh").display().to_string()],
        ),
        (
            "grep",
            vec![s("grep"), s("-r"), s("zzqqxx"), s("/usr/include")],
        ),
    ];
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs: usize = std::env::var("RAMPART_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9);
    let nap_us: u64 = std::env::var("RAMPART_BENCH_NAP_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let lib = library();
    let col = Collector::start(Duration::from_micros(nap_us));
    println!(
        "library {} · {runs} runs each · collector nap {nap_us} µs",
        lib.display()
    );
    for (name, argv) in &workloads {
        if !wanted.is_empty() && !wanted.iter().any(|x| x == name) {
            continue;
        }
        let _ = run(argv, None);
        let _ = run(argv, Some((&lib, &col.socket)));
        let (mut bw, mut bc, mut pw, mut pc) = (vec![], vec![], vec![], vec![]);
        let before = col.frames.load(Ordering::Relaxed);
        for _ in 0..runs {
            let (w, c) = run(argv, None);
            bw.push(w);
            bc.push(c);
            let (w, c) = run(argv, Some((&lib, &col.socket)));
            pw.push(w);
            pc.push(c);
        }
        std::thread::sleep(Duration::from_millis(300));
        let frames = (col.frames.load(Ordering::Relaxed) - before) / runs as u64;
        let (bw, bc, pw, pc) = (median(bw), median(bc), median(pw), median(pc));
        println!(
            "{name:8} wall {:7.1} → {:7.1} ms  ×{:.3}   cpu {:7.1} → {:7.1} ms  ×{:.3}   {frames} frames/run",
            bw * 1e3,
            pw * 1e3,
            pw / bw,
            bc * 1e3,
            pc * 1e3,
            pc / bc
        );
    }
    assert_eq!(col.bad.load(Ordering::Relaxed), 0, "undecodable frames");
}
