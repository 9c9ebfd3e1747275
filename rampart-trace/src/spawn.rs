//! Starting the traced command: resolve argv[0] through `PATH`, fork, seize
//! the child with `PTRACE_SEIZE` before it runs anything of its own, then let
//! it install the seccomp filter and `execve` the command.
//!
//! Everything the child needs is prepared before `fork`; between `fork` and
//! `exec` the child makes only raw, async-signal-safe syscalls. It never runs
//! the command untraced: if the filter cannot be installed it exits 127 and
//! the error reaches the caller.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::{filter, ChildSetup, RunReport};

/// ptrace options: every event the supervisor follows, and EXITKILL so a
/// supervisor that dies leaves no tracee running unwatched.
pub const SEIZE_OPTIONS: libc::c_int = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACEEXIT
    | libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_EXITKILL;

/// The seized child and the pipe on which it reports a failed setup.
pub struct Child {
    pub pid: i32,
    setup_errors: OwnedFd,
}

fn cstring(bytes: &[u8], what: &str) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{what} contains a NUL byte: {:?}",
                String::from_utf8_lossy(bytes)
            ),
        )
    })
}

/// Find `name` as a shell would: as given when it holds a `/`, else the first
/// executable regular file of that name in `PATH`.
pub fn resolve_program(name: &OsStr, env: &[(OsString, OsString)]) -> io::Result<PathBuf> {
    if name.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(name));
    }
    if name.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "empty command name",
        ));
    }
    let path_var = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    for dir in path_var.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(name);
        if is_executable_file(&candidate) {
            return Ok(candidate);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("command not found in PATH: {}", name.to_string_lossy()),
    ))
}

fn is_executable_file(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access() on a valid C string.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

fn pipe_cloexec() -> io::Result<(i32, i32)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((fds[0], fds[1]))
}

/// Steps of the child's setup, as reported on the error pipe.
const STEPS: [&str; 4] = [
    "sync with the supervisor",
    "prctl(PR_SET_NO_NEW_PRIVS)",
    "seccomp(SECCOMP_SET_MODE_FILTER)",
    "the caller's setup (Options::child_setup)",
];

/// Fork, seize and release the child; it installs `program` and execs
/// `path`, else argv[0] resolved through `PATH`.
pub fn spawn_seized(
    path: Option<&Path>,
    argv: &[OsString],
    env: &[(OsString, OsString)],
    program: &[libc::sock_filter],
    setup: Option<ChildSetup>,
) -> io::Result<Child> {
    let argv0 = argv
        .first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command line"))?;
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => resolve_program(argv0, env)?,
    };
    let c_path = cstring(path.as_os_str().as_bytes(), "command path")?;
    let c_argv: Vec<CString> = argv
        .iter()
        .map(|a| cstring(a.as_bytes(), "argument"))
        .collect::<io::Result<_>>()?;
    let c_env: Vec<CString> = env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.clone().into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(&kv, "environment variable")
        })
        .collect::<io::Result<_>>()?;
    let mut argv_ptrs: Vec<*const libc::c_char> = c_argv.iter().map(|c| c.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = c_env.iter().map(|c| c.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());

    let (sync_r, sync_w) = pipe_cloexec()?;
    let (err_r, err_w) = match pipe_cloexec() {
        Ok(p) => p,
        Err(e) => {
            close(sync_r);
            close(sync_w);
            return Err(e);
        }
    };

    // SAFETY: the child only makes async-signal-safe calls on data prepared above.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = io::Error::last_os_error();
        for fd in [sync_r, sync_w, err_r, err_w] {
            close(fd);
        }
        return Err(e);
    }
    if pid == 0 {
        // Child.
        unsafe {
            child_after_fork(
                sync_r, sync_w, err_r, err_w, &c_path, &argv_ptrs, &env_ptrs, program, setup,
            )
        }
    }
    close(sync_r);
    close(err_w);
    // SAFETY: plain ptrace request on our own child.
    let seized = unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0, SEIZE_OPTIONS as libc::c_long) };
    if seized == -1 {
        let e = io::Error::last_os_error();
        close(sync_w);
        close(err_r);
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        return Err(io::Error::new(
            e.kind(),
            format!("PTRACE_SEIZE of the command failed: {e}"),
        ));
    }
    // Release the child: it may now install its filter and exec.
    let go = [1u8];
    // SAFETY: writing one byte from a live buffer.
    unsafe { libc::write(sync_w, go.as_ptr().cast(), 1) };
    close(sync_w);
    // SAFETY: err_r is our pipe's read end, owned from here on.
    let setup_errors = unsafe { OwnedFd::from_raw_fd(err_r) };
    Ok(Child { pid, setup_errors })
}

fn close(fd: i32) {
    // SAFETY: closing a descriptor this module opened.
    unsafe { libc::close(fd) };
}

/// The child between fork and exec. Never returns.
#[allow(clippy::too_many_arguments)]
unsafe fn child_after_fork(
    sync_r: i32,
    sync_w: i32,
    err_r: i32,
    err_w: i32,
    path: &CString,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    program: &[libc::sock_filter],
    setup: Option<ChildSetup>,
) -> ! {
    let fail = |step: u8, errno: i32| -> ! {
        let msg = [step, (errno & 0xff) as u8, ((errno >> 8) & 0xff) as u8];
        libc::write(err_w, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    };
    libc::close(sync_w);
    libc::close(err_r);
    // Wait until the supervisor has seized us.
    let mut b = [0u8; 1];
    loop {
        let n = libc::read(sync_r, b.as_mut_ptr().cast(), 1);
        if n == 1 {
            break;
        }
        if n < 0 && *libc::__errno_location() == libc::EINTR {
            continue;
        }
        fail(
            0,
            if n < 0 {
                *libc::__errno_location()
            } else {
                libc::EPIPE
            },
        );
    }
    libc::close(sync_r);
    // A program starts with no blocked signals and SIGPIPE at its default
    // (the Rust runtime of the supervisor ignores SIGPIPE).
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    if let Err(e) = filter::install(program) {
        let step = if e.step.starts_with("prctl") { 1 } else { 2 };
        fail(step, e.errno);
    }
    if let Some((f, arg)) = setup {
        let errno = f(arg);
        if errno != 0 {
            fail(3, errno);
        }
    }
    libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
    // The supervisor recorded the failed exec; exit as a shell would.
    let errno = *libc::__errno_location();
    libc::_exit(if errno == libc::ENOENT { 127 } else { 126 })
}

impl Child {
    /// After the tree is gone: a failed setup in the child is the caller's error.
    pub fn finish(self, report: io::Result<RunReport>) -> io::Result<RunReport> {
        let mut msg = [0u8; 3];
        // SAFETY: reading into a live buffer from our pipe, whose writer is gone.
        let n = unsafe { libc::read(self.setup_errors.as_raw_fd(), msg.as_mut_ptr().cast(), 3) };
        if n == 3 {
            let errno = msg[1] as i32 | (msg[2] as i32) << 8;
            let step = STEPS.get(msg[0] as usize).copied().unwrap_or("setup");
            let e = io::Error::from_raw_os_error(errno);
            return Err(io::Error::new(
                e.kind(),
                format!("traced child failed at {step}: {e}"),
            ));
        }
        report
    }
}
