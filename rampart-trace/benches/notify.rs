//! What it costs a supervisor to see one open, by the mechanism it uses:
//! the question behind the trace backend's design (ptrace with a seccomp
//! prefilter) against seccomp user notification.
//!
//! A child installs a seccomp filter that sends `openat` to its supervisor
//! and times N `openat` + `close` of one file; the supervisor (this process)
//! handles each the way a mode says:
//!
//! - `bare`: no filter.
//! - `ptrace`: `SECCOMP_RET_TRACE`; a seccomp stop at entry, then
//!   `PTRACE_SYSCALL` for the stop at exit (where the trace backend reads
//!   the outcome), then `PTRACE_CONT`. Two stops, as the backend makes.
//! - `ptrace-entry`: the seccomp stop only (`PTRACE_CONT` at once): what a
//!   call costs when its outcome is not needed.
//! - `notify`: `SECCOMP_RET_USER_NOTIF`; receive, answer
//!   `SECCOMP_USER_NOTIF_FLAG_CONTINUE`. One round trip, no outcome.
//! - `notify-sync`: `notify` with synchronous wake-ups
//!   (`SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`, Linux 6.6), as the tap asks.
//! - `notify-addfd`: receive, read the path from the child's memory, open
//!   it here and hand the descriptor over with `SECCOMP_IOCTL_NOTIF_ADDFD`
//!   (`SECCOMP_ADDFD_FLAG_SEND`: it is the call's result). One round trip,
//!   and the supervisor knows the outcome and opened the file it decided.
//!
//! Each mode's cost is the median over runs of the child's own time per
//! open; the CPU wake-up latency request the trace backend makes (PM QoS,
//! root only) is held for all modes alike when it can be. Run:
//! `cargo bench -p rampart-trace --bench notify`, with `RAMPART_BENCH_RUNS`
//! (default 7).

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

const N: u64 = 20_000;
/// `AUDIT_ARCH_X86_64` (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE).
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Bare,
    Ptrace,
    PtraceEntry,
    Notify,
    NotifySync,
    NotifyAddfd,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Bare => "bare",
            Mode::Ptrace => "ptrace",
            Mode::PtraceEntry => "ptrace-entry",
            Mode::Notify => "notify",
            Mode::NotifySync => "notify-sync",
            Mode::NotifyAddfd => "notify-addfd",
        }
    }
}

/// The filter: `openat` on x86_64 gets `action`, everything else runs.
fn filter(action: u32) -> Vec<libc::sock_filter> {
    let st = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    vec![
        st(ld, 4), // arch
        jeq(AUDIT_ARCH_X86_64, 0, 3),
        st(ld, 0), // nr
        jeq(libc::SYS_openat as u32, 0, 1),
        st(ret, action),
        st(ret, libc::SECCOMP_RET_ALLOW),
    ]
}

fn send_fd(sock: &UnixStream, fd: RawFd) {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 4];
    // SAFETY: plain sendmsg with one SCM_RIGHTS descriptor.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
        assert!(libc::sendmsg(sock.as_raw_fd(), &msg, 0) == 1);
    }
}

fn recv_fd(sock: &UnixStream) -> OwnedFd {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 4];
    // SAFETY: plain recvmsg; the descriptor is ours once received.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        assert!(libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) == 1);
        let c = libc::CMSG_FIRSTHDR(&msg);
        assert!(!c.is_null());
        OwnedFd::from_raw_fd(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast()))
    }
}

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The child: wait for the go byte, install the filter, time the opens,
/// report the nanoseconds. Never returns.
fn child(mode: Mode, sock: UnixStream, path: &CString) -> ! {
    let mut go = [0u8; 1];
    (&sock).read_exact(&mut go).unwrap();
    // SAFETY: plain prctl/seccomp calls on our own process.
    unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        let action = match mode {
            Mode::Bare => None,
            Mode::Ptrace | Mode::PtraceEntry => Some((libc::SECCOMP_RET_TRACE, 0)),
            Mode::Notify | Mode::NotifySync | Mode::NotifyAddfd => Some((
                libc::SECCOMP_RET_USER_NOTIF,
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            )),
        };
        if let Some((action, flags)) = action {
            let prog = filter(action);
            let fprog = libc::sock_fprog {
                len: prog.len() as u16,
                filter: prog.as_ptr() as *mut _,
            };
            let r = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &fprog as *const libc::sock_fprog,
            );
            assert!(r >= 0, "seccomp: {}", std::io::Error::last_os_error());
            if flags != 0 {
                send_fd(&sock, r as RawFd);
                libc::close(r as RawFd);
            }
        }
    }
    let t0 = now_ns();
    for _ in 0..N {
        // SAFETY: a valid C string; the descriptor is closed at once.
        let fd = unsafe { libc::openat(libc::AT_FDCWD, path.as_ptr(), libc::O_RDONLY) };
        assert!(fd >= 0);
        unsafe { libc::close(fd) };
    }
    let ns = now_ns() - t0;
    (&sock).write_all(&ns.to_le_bytes()).unwrap();
    // SAFETY: leaving the forked child without running the parent's atexit.
    unsafe { libc::_exit(0) }
}

/// Supervise a ptrace child to its end.
fn supervise_ptrace(pid: i32, exit_stops: bool) {
    loop {
        let mut status = 0;
        // SAFETY: waiting for our own tracee.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        assert_eq!(r, pid);
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            return;
        }
        let sig = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        let (req, inject) = if sig == libc::SIGTRAP && event == libc::PTRACE_EVENT_SECCOMP {
            if exit_stops {
                (libc::PTRACE_SYSCALL, 0)
            } else {
                (libc::PTRACE_CONT, 0)
            }
        } else if sig == (libc::SIGTRAP | 0x80) || event == libc::PTRACE_EVENT_STOP {
            // The syscall-exit stop (the outcome is here), or a group stop.
            (libc::PTRACE_CONT, 0)
        } else {
            (libc::PTRACE_CONT, sig)
        };
        // SAFETY: resuming our stopped tracee.
        unsafe { libc::ptrace(req, pid, 0, inject as libc::c_long) };
    }
}

/// Answer every notification until the child is gone.
fn supervise_notify(listener: OwnedFd, pid: i32, addfd: bool) {
    let lfd = listener.as_raw_fd();
    loop {
        let mut pfd = libc::pollfd {
            fd: lfd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        unsafe { libc::poll(&mut pfd, 1, -1) };
        if pfd.revents & libc::POLLIN == 0 {
            return; // POLLHUP: no task left under the filter
        }
        // SAFETY: the kernel fills the notification; zeroed as it requires.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(lfd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
            continue; // the task was interrupted, or is gone
        }
        if !addfd {
            let mut resp = libc::seccomp_notif_resp {
                id: req.id,
                val: 0,
                error: 0,
                flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
            };
            // SAFETY: answering the notification just received.
            unsafe { libc::ioctl(lfd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
            continue;
        }
        // Read the path from the child, open it here, hand it over.
        let mut path = [0u8; 4096];
        let local = libc::iovec {
            iov_base: path.as_mut_ptr().cast(),
            iov_len: path.len(),
        };
        let remote = libc::iovec {
            iov_base: req.data.args[1] as *mut libc::c_void,
            iov_len: 256,
        };
        // SAFETY: reading the child's memory into our buffer.
        let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
        assert!(n > 0);
        let fd = unsafe {
            libc::openat(
                libc::AT_FDCWD,
                path.as_ptr().cast(),
                req.data.args[2] as libc::c_int,
            )
        };
        assert!(fd >= 0);
        let mut add = libc::seccomp_notif_addfd {
            id: req.id,
            flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
            srcfd: fd as u32,
            newfd: 0,
            newfd_flags: 0,
        };
        // SAFETY: handing our descriptor to the notified task.
        unsafe { libc::ioctl(lfd, libc::SECCOMP_IOCTL_NOTIF_ADDFD, &mut add) };
        unsafe { libc::close(fd) };
    }
}

/// One run of `mode`: nanoseconds per open, as the child measured.
fn run(mode: Mode, path: &CString) -> f64 {
    let (ours, theirs) = UnixStream::pair().unwrap();
    // SAFETY: this process is single threaded here; the child only runs
    // `child`, which ends in _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        drop(ours);
        child(mode, theirs, path);
    }
    drop(theirs);
    if matches!(mode, Mode::Ptrace | Mode::PtraceEntry) {
        let opts =
            libc::PTRACE_O_TRACESECCOMP | libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_EXITKILL;
        // SAFETY: seizing our own child.
        let r = unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0, opts as libc::c_long) };
        assert_eq!(r, 0, "PTRACE_SEIZE: {}", std::io::Error::last_os_error());
    }
    (&ours).write_all(&[1]).unwrap();
    match mode {
        Mode::Bare => {}
        Mode::Ptrace => supervise_ptrace(pid, true),
        Mode::PtraceEntry => supervise_ptrace(pid, false),
        Mode::Notify | Mode::NotifySync | Mode::NotifyAddfd => {
            let listener = recv_fd(&ours);
            if mode == Mode::NotifySync {
                assert!(rampart_trace::notify::synchronous_wakeups(&listener));
            }
            supervise_notify(listener, pid, mode == Mode::NotifyAddfd)
        }
    }
    let mut ns = [0u8; 8];
    (&ours).read_exact(&mut ns).unwrap();
    if !matches!(mode, Mode::Ptrace | Mode::PtraceEntry) {
        // SAFETY: reaping our child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
    u64::from_le_bytes(ns) as f64 / N as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    // `cargo test --all-targets` runs this binary too: no benchmarks there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("notify: skipped (run it with cargo bench)");
        return;
    }
    let runs: usize = std::env::var("RAMPART_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let path = CString::new(file.to_str().unwrap()).unwrap();
    // The trace backend's CPU latency request, held for every mode alike.
    let hint = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/cpu_dma_latency")
        .and_then(|mut f| f.write_all(&0i32.to_ne_bytes()).map(|_| f))
        .ok();
    let modes = [
        Mode::Bare,
        Mode::Ptrace,
        Mode::PtraceEntry,
        Mode::Notify,
        Mode::NotifySync,
        Mode::NotifyAddfd,
    ];
    let mut samples = vec![Vec::new(); modes.len()];
    for _ in 0..runs {
        for (i, &m) in modes.iter().enumerate() {
            samples[i].push(run(m, &path));
        }
    }
    println!(
        "ns per openat+close, medians of {runs} runs of {N} (CPU latency request: {})",
        if hint.is_some() {
            "held"
        } else {
            "not available"
        }
    );
    let bare = median(samples[0].clone());
    for (m, s) in modes.iter().zip(samples) {
        let ns = median(s);
        println!("{:14} {:8.0} ns   +{:7.0} ns", m.name(), ns, ns - bare);
    }
}
