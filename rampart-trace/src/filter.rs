//! The seccomp-bpf prefilter each traced process carries: it checks the
//! architecture first, hands the watched syscalls to the supervisor
//! (`SECCOMP_RET_TRACE`) and lets every other syscall run at full speed.
//!
//! The program is built in the supervisor before `fork`; [`install`] is the
//! only part that runs in the child between `fork` and `exec`, so it
//! allocates nothing and calls only async-signal-safe syscalls. This module
//! never decides a call itself, except the fixed refusals (32-bit and x32
//! entries of watched calls, `io_uring_setup` under enforcement) and
//! `prctl(PR_SET_DUMPABLE, 0)` under enforcement, which succeeds without
//! effect.

use libc::{sock_filter, sock_fprog};

use crate::mutation;
use crate::regs::{self, nr};

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;

/// `SOCK_PACKET`: Linux 2.0's packet socket of `AF_INET`, still made for
/// root (libc deprecates the name).
const SOCK_PACKET: u32 = 10;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Offsets in `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
fn off_arg_lo(i: u32) -> u32 {
    16 + 8 * i
}
fn off_arg_hi(i: u32) -> u32 {
    16 + 8 * i + 4
}

const OFF_IP: u32 = 8;
const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const RET_NOTIFY: u32 = libc::SECCOMP_RET_USER_NOTIF;
const RET_TRACE: u32 = libc::SECCOMP_RET_TRACE;
const RET_KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
const RET_EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
/// Skip the call and return 0.
const RET_SUCCEED: u32 = libc::SECCOMP_RET_ERRNO;

/// The calls enforcement refuses because they would let a path name
/// another file than the one every decision was made on: a bind mount of
/// `~/.ssh` over an allowed directory, a `chroot` or `pivot_root` under
/// which `/` is elsewhere, entering another mount namespace. (A new mount
/// or user namespace, through `unshare` or `clone`, is refused by flag.)
const NAMESPACE_CALLS: &[i64] = &[
    nr::MOUNT,
    nr::UMOUNT2,
    nr::PIVOT_ROOT,
    nr::CHROOT,
    nr::SETNS,
    nr::OPEN_TREE,
    nr::OPEN_TREE_ATTR,
    nr::MOVE_MOUNT,
    nr::FSOPEN,
    nr::FSCONFIG,
    nr::FSMOUNT,
    nr::FSPICK,
    nr::MOUNT_SETATTR,
];

/// The calls enforcement refuses because the kernel would write or hand
/// over a file for them with no path for an interceptor to decide:
/// `acct` (process accounting appended to any file) and `fanotify_init`
/// (descriptors of the files other processes open).
const BEHIND_THE_BACK_CALLS: &[i64] = &[nr::ACCT, nr::FANOTIFY_INIT];

/// `SECCOMP_SET_MODE_FILTER` and `SECCOMP_FILTER_FLAG_NEW_LISTENER`: a
/// filter of the program's own whose notifications a thread of its own
/// answers outranks the supervisor's `SECCOMP_RET_TRACE`, so the calls it
/// catches would run unseen.
const SET_MODE_FILTER: u32 = 1;
const NEW_LISTENER: u32 = 1 << 3;
const RET_EBUSY: u32 = libc::SECCOMP_RET_ERRNO | libc::EBUSY as u32;

/// `CLONE_NEWNS | CLONE_NEWUSER`: a new mount namespace, or a user
/// namespace in which the process may make one.
const NEW_NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS | libc::CLONE_NEWUSER) as u32;

/// What `clone` may not ask for under enforcement: a new namespace (as
/// above), or `CLONE_UNTRACED`, a child the tracer is not attached to,
/// which could then trace a child of its own and answer the `SECCOMP_RET_TRACE`
/// stops of the tree's filter itself (every call of that child unseen).
/// (`clone3`, whose flags a filter cannot read, is refused whole.)
const CLONE_REFUSED_FLAGS: u32 = NEW_NAMESPACE_FLAGS | libc::CLONE_UNTRACED as u32;

/// What the filter hands to the supervisor.
#[derive(Clone, Copy, Debug)]
pub struct FilterSpec {
    /// Enforce mode: add enforcement's fixed refusals (io_uring, which
    /// would open files and sockets behind the supervisor's back; mounts
    /// and namespaces, which would change what a path names; see
    /// `Program::enforce_refusals`).
    pub enforce: bool,
    /// Trace `chdir`/`fchdir` so the cached working directory stays right.
    pub track_cwd: bool,
    /// Trace `recvfrom` calls that ask for the sender's address (DNS answers).
    pub dns: bool,
}

/// The syscalls stopped for the supervisor on the native ABI, whatever
/// their arguments (`sendto` and `recvfrom` stop only for some, see
/// [`build`]).
pub fn traced_syscalls(spec: &FilterSpec) -> Vec<i64> {
    let mut v = vec![
        nr::EXECVE,
        nr::EXECVEAT,
        nr::OPENAT,
        nr::OPENAT2,
        nr::CONNECT,
        nr::BIND,
        nr::SENDMSG,
        nr::SENDMMSG,
    ];
    v.extend(nr::OPEN);
    v.extend(nr::CREAT);
    v.extend(mutation::all().map(|(n, _)| *n));
    if spec.track_cwd {
        v.extend([nr::CHDIR, nr::FCHDIR]);
    }
    v
}

/// A BPF program under construction, with forward jumps patched by label.
struct Program {
    ins: Vec<sock_filter>,
}

impl Program {
    fn stmt(&mut self, code: u16, k: u32) {
        self.ins.push(sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        });
    }
    fn jump(&mut self, code: u16, k: u32, jt: u8, jf: u8) {
        self.ins.push(sock_filter { code, jt, jf, k });
    }

    /// Start the native block: check the architecture (the jump to the
    /// other ABIs, whose index is returned, is patched when the native
    /// block ends) and load the syscall number; x32 entries are refused
    /// outright (nothing here decodes them).
    fn native_start(&mut self) -> usize {
        self.stmt(LD_W_ABS, OFF_ARCH);
        let arch_jump = self.ins.len();
        self.jump(JEQ_K, regs::NATIVE_ARCH, 0, 0);
        self.stmt(LD_W_ABS, OFF_NR);
        if let Some(bit) = regs::X32_SYSCALL_BIT {
            self.jump(JGE_K, bit, 0, 1);
            self.stmt(RET_K, RET_ENOSYS);
        }
        arch_jump
    }

    /// End the native block: the arch check at `arch_jump` jumps here, to
    /// the other ABIs, where every call of the compat one but those
    /// [`regs::COMPAT`] lets through is refused (`ENOSYS`) and an ABI the
    /// filter does not know kills the process.
    fn compat_after(&mut self, arch_jump: usize) {
        let off = self.ins.len() - arch_jump - 1;
        assert!(off < 256, "seccomp filter native block too long");
        self.ins[arch_jump].jf = off as u8;
        match regs::COMPAT {
            Some((arch, let_through)) => {
                self.jump(JEQ_K, arch, 1, 0);
                self.stmt(RET_K, RET_KILL); // an ABI this filter does not know
                self.stmt(LD_W_ABS, OFF_NR);
                for n in let_through {
                    self.jump(JEQ_K, *n, 0, 1);
                    self.stmt(RET_K, RET_ALLOW);
                }
                self.stmt(RET_K, RET_ENOSYS);
            }
            None => self.stmt(RET_K, RET_KILL),
        }
    }

    /// Enforcement's fixed answers, with the syscall number loaded (and
    /// loaded again after): `io_uring_setup` fails with `ENOSYS`,
    /// `open_by_handle_at` (an open that names no path to decide, for
    /// holders of `CAP_DAC_READ_SEARCH`) with `EPERM`, every call that
    /// changes what a path names ([`NAMESPACE_CALLS`], and `unshare` or
    /// `clone` asking for a new mount or user namespace) with `EPERM`,
    /// `clone3` (whose flags a filter cannot read) with `ENOSYS`, so that
    /// libc falls back to `clone`, and `prctl(PR_SET_DUMPABLE, 0)`, which
    /// would make the process one the supervisor may no longer read
    /// (`/proc/PID/fd`, its memory) when it is not root, returns 0 and
    /// changes nothing.
    fn enforce_refusals(&mut self) {
        self.jump(JEQ_K, nr::IO_URING_SETUP as u32, 0, 1);
        self.stmt(RET_K, RET_ENOSYS);
        self.jump(JEQ_K, nr::CLONE3 as u32, 0, 1);
        self.stmt(RET_K, RET_ENOSYS);
        self.jump(JEQ_K, nr::OPEN_BY_HANDLE_AT as u32, 0, 1);
        self.stmt(RET_K, RET_EPERM);
        for n in NAMESPACE_CALLS.iter().chain(BEHIND_THE_BACK_CALLS) {
            self.jump(JEQ_K, *n as u32, 0, 1);
            self.stmt(RET_K, RET_EPERM);
        }
        for (n, refused) in [
            (nr::UNSHARE, NEW_NAMESPACE_FLAGS),
            (nr::CLONE, CLONE_REFUSED_FLAGS),
        ] {
            // unshare(flags), clone(flags, ...): the flags are argument 0.
            self.jump(JEQ_K, n as u32, 0, 4);
            self.stmt(LD_W_ABS, off_arg_lo(0));
            self.jump(JSET_K, refused, 0, 1);
            self.stmt(RET_K, RET_EPERM);
            self.stmt(LD_W_ABS, OFF_NR);
        }
        self.limits_refusals();
        self.raw_socket_refusals();
        self.jump(JEQ_K, nr::PRCTL as u32, 0, 6);
        self.stmt(LD_W_ABS, off_arg_lo(0));
        self.jump(JEQ_K, libc::PR_SET_DUMPABLE as u32, 0, 3);
        self.stmt(LD_W_ABS, off_arg_lo(1));
        self.jump(JEQ_K, 0, 0, 1);
        self.stmt(RET_K, RET_SUCCEED);
        // Another prctl: the number again for what follows.
        self.stmt(LD_W_ABS, OFF_NR);
    }

    /// The resource limits the tree may not set: another process's (its
    /// collector's, tracer's or tap's: a file size limit of one byte kills
    /// a collector at its next write), and its own core-file size, which
    /// `rampart run` sets to 0 under enforcement (the kernel writes a core
    /// file into the working directory with no call to decide: one made in
    /// a protected directory would replace a file there). Reading limits,
    /// and setting any other of its own, runs. `EPERM`, as for a process
    /// without the privilege; the syscall number is loaded again after.
    fn limits_refusals(&mut self) {
        // prlimit64(pid, resource, new_limit, old_limit): refused when it
        // sets (new_limit given) and pid is another's or resource the
        // core-file size. (pid_t and the resource are 32-bit: the kernel
        // reads no more.)
        self.jump(JEQ_K, nr::PRLIMIT64 as u32, 0, 10);
        self.stmt(LD_W_ABS, off_arg_lo(2));
        self.jump(JEQ_K, 0, 0, 2);
        self.stmt(LD_W_ABS, off_arg_hi(2));
        self.jump(JEQ_K, 0, 5, 0); // only reads: runs
        self.stmt(LD_W_ABS, off_arg_lo(0));
        self.jump(JEQ_K, 0, 0, 2); // another process's
        self.stmt(LD_W_ABS, off_arg_lo(1));
        self.jump(JEQ_K, libc::RLIMIT_CORE, 0, 1);
        self.stmt(RET_K, RET_EPERM);
        self.stmt(LD_W_ABS, OFF_NR);
        // setrlimit(resource, limit): its own, the core-file size refused.
        self.jump(JEQ_K, nr::SETRLIMIT as u32, 0, 4);
        self.stmt(LD_W_ABS, off_arg_lo(0));
        self.jump(JEQ_K, libc::RLIMIT_CORE, 0, 1);
        self.stmt(RET_K, RET_EPERM);
        self.stmt(LD_W_ABS, OFF_NR);
    }

    /// Raw and packet sockets (root, or `CAP_NET_RAW`): what they send
    /// carries its destination in headers the program writes, which no
    /// interceptor decides (a raw UDP datagram to a refused port, an IP
    /// packet whose header names a refused host). `socket` of `AF_PACKET`,
    /// or of `AF_INET`/`AF_INET6` with type `SOCK_RAW` or `SOCK_PACKET`,
    /// fails with `EPERM`; the syscall number is loaded again after.
    fn raw_socket_refusals(&mut self) {
        self.jump(JEQ_K, nr::SOCKET as u32, 0, 10);
        self.stmt(LD_W_ABS, off_arg_lo(0));
        self.jump(JEQ_K, libc::AF_PACKET as u32, 6, 0);
        self.jump(JEQ_K, libc::AF_INET as u32, 1, 0);
        self.jump(JEQ_K, libc::AF_INET6 as u32, 0, 5);
        self.stmt(LD_W_ABS, off_arg_lo(1));
        self.stmt(AND_K, 0xf); // the type without SOCK_CLOEXEC, SOCK_NONBLOCK
        self.jump(JEQ_K, libc::SOCK_RAW as u32, 1, 0);
        self.jump(JEQ_K, SOCK_PACKET, 0, 1);
        self.stmt(RET_K, RET_EPERM);
        self.stmt(LD_W_ABS, OFF_NR);
    }

    /// A seccomp filter with a listener of the program's own fails with
    /// `EBUSY` (as the kernel answers when the tree's filters have one
    /// already, which the filter of unhooked calls does), with the syscall
    /// number loaded again after.
    fn no_other_listener(&mut self) {
        self.jump(JEQ_K, nr::SECCOMP as u32, 0, 6);
        self.stmt(LD_W_ABS, off_arg_lo(0));
        self.jump(JEQ_K, SET_MODE_FILTER, 0, 3);
        self.stmt(LD_W_ABS, off_arg_lo(1));
        self.jump(JSET_K, NEW_LISTENER, 0, 1);
        self.stmt(RET_K, RET_EBUSY);
        self.stmt(LD_W_ABS, OFF_NR);
    }

    /// Syscall `n` stops when argument `arg` is not 0 (a pointer given)
    /// and runs untraced when it is; any other syscall goes on to what
    /// follows with the syscall number still loaded.
    fn trace_if_arg_set(&mut self, n: i64, arg: u32) {
        self.jump(JEQ_K, n as u32, 0, 6);
        self.stmt(LD_W_ABS, off_arg_lo(arg));
        self.jump(JEQ_K, 0, 0, 2);
        self.stmt(LD_W_ABS, off_arg_hi(arg));
        self.jump(JEQ_K, 0, 1, 0);
        self.stmt(RET_K, RET_TRACE);
        self.stmt(RET_K, RET_ALLOW);
    }
}

/// Build the filter program.
pub fn build(spec: &FilterSpec) -> Vec<sock_filter> {
    let mut p = Program { ins: Vec::new() };
    let traced = traced_syscalls(spec);

    // arch check: native continues, anything else jumps to the compat block.
    let arch_jump = p.native_start();
    for n in &traced {
        p.jump(JEQ_K, *n as u32, 0, 1);
        p.stmt(RET_K, RET_TRACE);
    }
    p.no_other_listener();
    if spec.enforce {
        p.enforce_refusals();
        // A Landlock domain a process puts itself in, which the mutations
        // the supervisor makes for it take on too.
        p.jump(JEQ_K, nr::LANDLOCK_RESTRICT_SELF as u32, 0, 1);
        p.stmt(RET_K, RET_TRACE);
    }
    // ioctl(fd, request, ...): only the requests that set a file's inode
    // flags (`chattr`), a mutation of the descriptor's file.
    p.jump(JEQ_K, nr::IOCTL as u32, 0, 6);
    p.stmt(LD_W_ABS, off_arg_lo(1));
    for (i, request) in nr::CHATTR_IOCTLS.iter().enumerate() {
        // Past the requests: the allow below.
        p.jump(JEQ_K, *request, (nr::CHATTR_IOCTLS.len() - i) as u8, 0);
    }
    p.stmt(RET_K, RET_ALLOW);
    p.stmt(RET_K, RET_TRACE);
    // sendto(fd, buf, len, flags, dest_addr, addrlen): a net call only
    // with an address (a datagram, or TCP Fast Open); send() has none.
    p.trace_if_arg_set(nr::SENDTO, 4);
    if spec.dns {
        // recvfrom(fd, buf, len, flags, src_addr, addrlen): trace only when
        // src_addr is given (resolvers ask for it; a plain recv() does not).
        p.trace_if_arg_set(nr::RECVFROM, 4);
    }
    p.stmt(RET_K, RET_ALLOW);
    p.compat_after(arch_jump);
    p.ins
}

/// What the filter of unhooked calls is for.
#[derive(Clone, Copy, Debug)]
pub struct Unhooked {
    /// Enforce mode: enforcement's fixed refusals too.
    pub enforce: bool,
    /// The preload library is loaded in the tree: its calls from the gadget
    /// page (`rampart_core::gadget`) are its own and run. Without it, no
    /// call is let through by where it is made from.
    pub from_page: bool,
}

/// The filter of unhooked calls: every watched syscall (those [`build`]
/// traces, with the same argument conditions) made anywhere but from the
/// library's gadget page (when [`Unhooked::from_page`]) goes to the listener
/// (`SECCOMP_RET_USER_NOTIF`): the loader's opens, opens libc makes inside
/// itself, an inline `syscall` instruction, a static program; without the
/// library, every one. So do the changes of credentials and Landlock
/// domains, under which the handler makes calls for the caller, and,
/// without the library, the changes of working directory (the handler
/// keeps each process's: `crate::notify`). The watched
/// calls of 32-bit and x32 entries are refused (`ENOSYS`) as in [`build`].
pub fn unhooked(u: Unhooked) -> Vec<sock_filter> {
    let spec = FilterSpec {
        enforce: u.enforce,
        track_cwd: false,
        dns: false,
    };
    let mut p = Program { ins: Vec::new() };
    // Jumps to the gadget check, patched once it is placed.
    let mut to_check: Vec<(usize, bool)> = Vec::new();

    let arch_jump = p.native_start();
    for n in traced_syscalls(&spec) {
        to_check.push((p.ins.len(), true));
        p.jump(JEQ_K, n as u32, 0, 0);
    }
    if u.enforce {
        p.enforce_refusals();
    }
    {
        // The handler makes calls for the tree (opens, mutations): a change
        // of credentials, wherever it is made from, and it takes each
        // caller's own for the calls it makes for it.
        for n in nr::CREDENTIALS {
            p.jump(JEQ_K, *n as u32, 0, 1);
            p.stmt(RET_K, RET_NOTIFY);
        }
        // A Landlock domain a process puts itself in, which the handler's
        // calls for it take on too.
        p.jump(JEQ_K, nr::LANDLOCK_RESTRICT_SELF as u32, 0, 1);
        p.stmt(RET_K, RET_NOTIFY);
        // And the prctl calls that lower capabilities at the next exec
        // (the bounding set, ambient ones) or change how they are kept.
        p.jump(JEQ_K, nr::PRCTL as u32, 0, 5);
        p.stmt(LD_W_ABS, off_arg_lo(0));
        p.jump(JEQ_K, libc::PR_CAPBSET_DROP as u32, 2, 0);
        p.jump(JEQ_K, libc::PR_CAP_AMBIENT as u32, 1, 0);
        p.jump(JEQ_K, libc::PR_SET_SECUREBITS as u32, 0, 1);
        p.stmt(RET_K, RET_NOTIFY);
        p.stmt(LD_W_ABS, OFF_NR);
    }
    if !u.enforce {
        // A chroot, or another mount namespace: the process may see other
        // files under the same names, which the handler then leaves to the
        // kernel. (Enforcement refuses these calls above.)
        for n in nr::WORLD_CHANGES {
            p.jump(JEQ_K, *n as u32, 0, 1);
            p.stmt(RET_K, RET_NOTIFY);
        }
    }
    if !u.from_page {
        // Without the library every process's working directory is the
        // handler's to know: it changes here, and nowhere else.
        for n in [nr::CHDIR, nr::FCHDIR] {
            p.jump(JEQ_K, n as u32, 0, 1);
            p.stmt(RET_K, RET_NOTIFY);
        }
    }
    // ioctl of a request that sets a file's inode flags (see `build`).
    p.jump(JEQ_K, nr::IOCTL as u32, 0, 5);
    p.stmt(LD_W_ABS, off_arg_lo(1));
    for request in nr::CHATTR_IOCTLS {
        to_check.push((p.ins.len(), true));
        p.jump(JEQ_K, request, 0, 0);
    }
    p.stmt(RET_K, RET_ALLOW);
    // sendto with an address (argument 4; see `build`).
    p.jump(JEQ_K, nr::SENDTO as u32, 0, 5);
    p.stmt(LD_W_ABS, off_arg_lo(4));
    to_check.push((p.ins.len(), false));
    p.jump(JEQ_K, 0, 0, 0);
    p.stmt(LD_W_ABS, off_arg_hi(4));
    to_check.push((p.ins.len(), false));
    p.jump(JEQ_K, 0, 0, 0);
    p.stmt(RET_K, RET_ALLOW);
    p.stmt(RET_K, RET_ALLOW);

    // The gadget check: from the page, the call runs; from anywhere else,
    // it goes to the listener.
    let check = p.ins.len();
    for (at, on_match) in to_check {
        let off = check - at - 1;
        assert!(off < 256, "seccomp filter: gadget check out of reach");
        if on_match {
            p.ins[at].jt = off as u8;
        } else {
            p.ins[at].jf = off as u8;
        }
    }
    if u.from_page {
        let ip = rampart_core::gadget::CALL_IP;
        p.stmt(LD_W_ABS, OFF_IP);
        p.jump(JEQ_K, ip as u32, 0, 3);
        p.stmt(LD_W_ABS, OFF_IP + 4);
        p.jump(JEQ_K, (ip >> 32) as u32, 0, 1);
        p.stmt(RET_K, RET_ALLOW);
    }
    p.stmt(RET_K, RET_NOTIFY);
    p.compat_after(arch_jump);
    p.ins
}

/// A filter that only makes enforcement's fixed refusals (see
/// `Program::enforce_refusals`), for a tree whose calls the preload
/// library watches without the filter of unhooked calls: it cannot see
/// what an io_uring does, nor tell a bind-mounted path from the file it
/// names. Programs fall back to plain system calls, as on kernels without
/// io_uring. The 32-bit ABI gets the io_uring refusal only, x32 entries
/// are refused.
pub fn enforce_refusals() -> Vec<sock_filter> {
    let mut p = Program { ins: Vec::new() };
    let arch_jump = p.native_start();
    p.enforce_refusals();
    p.stmt(RET_K, RET_ALLOW);
    let off = p.ins.len() - arch_jump - 1;
    assert!(off < 256, "seccomp filter native block too long");
    p.ins[arch_jump].jf = off as u8;
    // Another ABI: io_uring_setup has the same number on each.
    p.stmt(LD_W_ABS, OFF_NR);
    p.jump(JEQ_K, nr::IO_URING_SETUP as u32, 0, 1);
    p.stmt(RET_K, RET_ENOSYS);
    p.stmt(RET_K, RET_ALLOW);
    p.ins
}

/// Why [`install`] failed: the step and its errno.
#[derive(Clone, Copy, Debug)]
pub struct InstallError {
    pub step: &'static str,
    pub errno: i32,
}

/// Install `prog` on the calling thread. Runs between `fork` and `exec`:
/// no allocation, raw syscalls only. Without `CAP_SYS_ADMIN` the kernel
/// demands `no_new_privs`, which is then set (setuid programs in the tree
/// then run without their privileges, as under any unprivileged tracer).
pub fn install(prog: &[sock_filter]) -> Result<(), InstallError> {
    install_with(prog, 0).map(|_| ())
}

/// Whether a process started from here may have a filter with a listener:
/// not where one of its filters has one already (the kernel allows one per
/// tree: under another rampart, or a container manager that answers
/// calls itself), nor where seccomp is unavailable. Asked of a child that
/// tries and exits.
pub fn listener_available() -> bool {
    // No filter at all (the usual case): nothing to ask.
    let filtered = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            !s.lines()
                .any(|l| l.split_whitespace().eq(["Seccomp:", "0"]))
        })
        .unwrap_or(true);
    if !filtered {
        return true;
    }
    /// The child: install a filter that allows everything, with a
    /// listener, and exit 0 when that worked.
    extern "C" fn try_listener(_: *mut libc::c_void) -> libc::c_int {
        let allow = [sock_filter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: RET_ALLOW,
        }];
        match install_listened(&allow) {
            Ok(_) => 0,
            Err(_) => 1,
        }
    }
    // The child shares this process's memory and runs while this thread
    // waits (`CLONE_VFORK`): no copy of the page tables, as a fork would
    // make (about half a millisecond of every run's start). A filter and
    // `no_new_privs` are the calling task's own, and its descriptors (the
    // listener) are its own copy: nothing of this process changes.
    let mut stack = vec![0u8; 64 * 1024];
    // SAFETY: the child runs `try_listener` on its own stack, makes raw
    // system calls that allocate nothing, and exits (the clone wrapper's
    // `_exit` with its return value); this thread is suspended meanwhile.
    let pid = unsafe {
        libc::clone(
            try_listener,
            stack.as_mut_ptr().add(stack.len()).cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            std::ptr::null_mut(),
        )
    };
    if pid < 0 {
        return false;
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// Whether filters installed here get `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`
/// (Linux 5.19 and later; [`install_listened`] falls back without it): a
/// caller's wait, once its call is received, ends only with the answer or
/// its death.
pub fn waits_killable() -> bool {
    static KNOWN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KNOWN.get_or_init(|| {
        // SAFETY: uname into a zeroed struct of ours.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut u) } != 0 {
            return false;
        }
        // SAFETY: uname NUL-terminates the release.
        let release = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) };
        let mut parts = release
            .to_str()
            .unwrap_or("")
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|p| p.parse::<u32>().ok());
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        (major, minor) >= (5, 19)
    })
}

/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 5.19).
const WAIT_KILLABLE_RECV: libc::c_ulong = 1 << 5;

/// [`install`] with a new listener for its `SECCOMP_RET_USER_NOTIF`
/// calls: returns the listener's descriptor (close-on-exec).
///
/// Once the handler has received a call, only a fatal signal interrupts
/// the caller's wait (`SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`, where the
/// kernel has it): the handler may be making that call for it, and a
/// caller interrupted then would make it again when its call restarts (an
/// `unlink` twice, an `O_EXCL` open that finds its own file). So the
/// handler makes no call that may wait long (a FIFO's open, a blocking
/// connect): it lets the kernel make those, interruptible as they are.
pub fn install_listened(prog: &[sock_filter]) -> Result<i32, InstallError> {
    install_with(
        prog,
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | WAIT_KILLABLE_RECV,
    )
    .or_else(|e| match e.errno {
        libc::EINVAL => install_with(prog, libc::SECCOMP_FILTER_FLAG_NEW_LISTENER),
        _ => Err(e),
    })
}

fn install_with(prog: &[sock_filter], extra: libc::c_ulong) -> Result<i32, InstallError> {
    let fprog = sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut sock_filter,
    };
    // SAFETY: errno is thread-local; reading it allocates nothing.
    let errno = || unsafe { *libc::__errno_location() };
    let try_install = |flags: libc::c_ulong| -> Result<i32, i32> {
        // SAFETY: fprog points at a live program for the duration of the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags | extra,
                &fprog as *const sock_fprog,
            )
        };
        if r >= 0 {
            Ok(r as i32)
        } else {
            Err(errno())
        }
    };
    // SPEC_ALLOW: do not switch on the speculative-store-bypass mitigation a
    // seccomp filter otherwise implies; this filter is a tap, not a sandbox
    // against side channels, and the mitigation slows every program down.
    let attempt = || match try_install(libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW) {
        Err(libc::EINVAL) => try_install(0),
        other => other,
    };
    match attempt() {
        Ok(fd) => Ok(fd),
        Err(libc::EACCES) => {
            // SAFETY: plain prctl.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return Err(InstallError {
                    step: "prctl(PR_SET_NO_NEW_PRIVS)",
                    errno: errno(),
                });
            }
            attempt().map_err(|errno| InstallError {
                step: "seccomp(SECCOMP_SET_MODE_FILTER)",
                errno,
            })
        }
        Err(errno) => Err(InstallError {
            step: "seccomp(SECCOMP_SET_MODE_FILTER)",
            errno,
        }),
    }
}
