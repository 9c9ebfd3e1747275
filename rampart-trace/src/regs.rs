//! Everything that depends on the CPU architecture: the audit arch of the
//! seccomp filter, the syscall numbers the supervisor watches, and the
//! register writes enforcement needs (skip a syscall, set its return value
//! or an argument, run another call in place of a return: [`inject`]).
//!
//! It owns no policy and no tracee state; it never reads tracee memory.
//! x86_64 is the reference machine; aarch64 is cfg'd where cheap; any other
//! architecture fails to compile here, in one place.

use std::io;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("rampart-trace supports x86_64 and aarch64 only: add this architecture's syscall numbers and registers to regs.rs");

/// `AUDIT_ARCH_*` of the native syscall ABI, as `seccomp_data.arch` and
/// `ptrace_syscall_info.arch` report it.
#[cfg(target_arch = "x86_64")]
pub const NATIVE_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
pub const NATIVE_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// The 32-bit compat ABI the kernel also accepts from a native process
/// (`int $0x80` on x86_64), with the only calls the filter lets through
/// there: `exit` and `exit_group`. Nothing decodes that ABI, so every other
/// call of it is refused (`ENOSYS`), in both modes: a list of the
/// dangerous ones (it was one) is a list an attacker reads for what it
/// left out (an `ioctl` setting inode flags, a `bind` making a socket
/// file, a raw `socket`, a `prlimit64` on rampart). No 64-bit program
/// needs that entry, and a 32-bit one cannot run under rampart anyway (its
/// loader's opens would be refused).
#[cfg(target_arch = "x86_64")]
pub const COMPAT: Option<(u32, &[u32])> = Some((
    0x4000_0003, // AUDIT_ARCH_I386
    &[1, 252],   // exit, exit_group
));
#[cfg(target_arch = "aarch64")]
pub const COMPAT: Option<(u32, &[u32])> = None;

/// x32 syscalls carry this bit in `nr` under the native arch (x86_64 only).
#[cfg(target_arch = "x86_64")]
pub const X32_SYSCALL_BIT: Option<u32> = Some(0x4000_0000);
#[cfg(target_arch = "aarch64")]
pub const X32_SYSCALL_BIT: Option<u32> = None;

/// Native syscall numbers the supervisor cares about. `None`: the
/// architecture has no such syscall (aarch64 has no `open` or `creat`).
#[allow(clippy::unnecessary_cast)] // c_long is i64 on the supported arches, by accident
pub mod nr {
    pub const EXECVE: i64 = libc::SYS_execve as i64;
    pub const EXECVEAT: i64 = libc::SYS_execveat as i64;
    pub const OPENAT: i64 = libc::SYS_openat as i64;
    pub const OPENAT2: i64 = libc::SYS_openat2 as i64;
    pub const CONNECT: i64 = libc::SYS_connect as i64;
    pub const BIND: i64 = libc::SYS_bind as i64;
    pub const SOCKET: i64 = libc::SYS_socket as i64;
    pub const IOCTL: i64 = libc::SYS_ioctl as i64;
    /// The `ioctl` requests that set a file's inode flags (`chattr`):
    /// `FS_IOC_SETFLAGS`, its 32-bit spelling, `FS_IOC_FSSETXATTR`.
    pub const CHATTR_IOCTLS: [u32; 3] = [0x4008_6602, 0x4004_6602, 0x401c_5820];
    pub const CHDIR: i64 = libc::SYS_chdir as i64;
    pub const FCHDIR: i64 = libc::SYS_fchdir as i64;
    pub const RECVFROM: i64 = libc::SYS_recvfrom as i64;
    pub const SENDTO: i64 = libc::SYS_sendto as i64;
    pub const SENDMSG: i64 = libc::SYS_sendmsg as i64;
    pub const SENDMMSG: i64 = libc::SYS_sendmmsg as i64;
    pub const IO_URING_SETUP: i64 = libc::SYS_io_uring_setup as i64;
    pub const CLOSE: i64 = libc::SYS_close as i64;
    pub const PRCTL: i64 = libc::SYS_prctl as i64;
    pub const LANDLOCK_RESTRICT_SELF: i64 = libc::SYS_landlock_restrict_self as i64;
    pub const OPEN_BY_HANDLE_AT: i64 = libc::SYS_open_by_handle_at as i64;
    pub const CLONE: i64 = libc::SYS_clone as i64;
    pub const CLONE3: i64 = libc::SYS_clone3 as i64;
    pub const PRLIMIT64: i64 = libc::SYS_prlimit64 as i64;
    pub const SETRLIMIT: i64 = libc::SYS_setrlimit as i64;
    pub const UNSHARE: i64 = libc::SYS_unshare as i64;
    pub const MOUNT: i64 = libc::SYS_mount as i64;
    pub const UMOUNT2: i64 = libc::SYS_umount2 as i64;
    pub const PIVOT_ROOT: i64 = libc::SYS_pivot_root as i64;
    pub const CHROOT: i64 = libc::SYS_chroot as i64;
    pub const SETNS: i64 = libc::SYS_setns as i64;
    /// The calls after which a process may see other files under the same
    /// names (another root, another mount namespace).
    pub const WORLD_CHANGES: &[i64] = &[CHROOT, SETNS, UNSHARE, PIVOT_ROOT];
    pub const OPEN_TREE: i64 = libc::SYS_open_tree as i64;
    pub const MOVE_MOUNT: i64 = libc::SYS_move_mount as i64;
    pub const FSOPEN: i64 = libc::SYS_fsopen as i64;
    pub const FSCONFIG: i64 = libc::SYS_fsconfig as i64;
    pub const FSMOUNT: i64 = libc::SYS_fsmount as i64;
    pub const FSPICK: i64 = libc::SYS_fspick as i64;
    pub const MOUNT_SETATTR: i64 = libc::SYS_mount_setattr as i64;
    /// The calls that change a thread's credentials (ids, groups,
    /// capabilities).
    pub const CREDENTIALS: &[i64] = &[
        libc::SYS_setuid as i64,
        libc::SYS_setgid as i64,
        libc::SYS_setreuid as i64,
        libc::SYS_setregid as i64,
        libc::SYS_setresuid as i64,
        libc::SYS_setresgid as i64,
        libc::SYS_setfsuid as i64,
        libc::SYS_setfsgid as i64,
        libc::SYS_setgroups as i64,
        libc::SYS_capset as i64,
    ];
    /// `open_tree_attr` (Linux 6.15; the same number on every architecture
    /// since 424), which libc does not name yet.
    pub const OPEN_TREE_ATTR: i64 = 467;
    pub const ACCT: i64 = libc::SYS_acct as i64;
    pub const FANOTIFY_INIT: i64 = libc::SYS_fanotify_init as i64;
    pub const SECCOMP: i64 = libc::SYS_seccomp as i64;
    #[cfg(target_arch = "x86_64")]
    pub const OPEN: Option<i64> = Some(libc::SYS_open as i64);
    #[cfg(target_arch = "x86_64")]
    pub const CREAT: Option<i64> = Some(libc::SYS_creat as i64);
    #[cfg(target_arch = "aarch64")]
    pub const OPEN: Option<i64> = None;
    #[cfg(target_arch = "aarch64")]
    pub const CREAT: Option<i64> = None;
}

/// Skip the syscall the tracee is stopped at (a seccomp stop at entry): the
/// kernel sees syscall number -1 and runs nothing.
#[cfg(target_arch = "x86_64")]
pub fn skip_syscall(tid: i32) -> io::Result<()> {
    // offsetof(struct user_regs_struct, orig_rax)
    poke_user(tid, 15 * 8, u64::MAX)
}

/// Set the return value of the syscall the tracee is stopped at (exit stop).
#[cfg(target_arch = "x86_64")]
pub fn set_return(tid: i32, value: i64) -> io::Result<()> {
    // offsetof(struct user_regs_struct, rax)
    poke_user(tid, 10 * 8, value as u64)
}

/// Set argument `index` (0-based) of the syscall the tracee is stopped at
/// (a seccomp stop at entry): the kernel runs the call with the new value.
#[cfg(target_arch = "x86_64")]
pub fn set_arg(tid: i32, index: usize, value: u64) -> io::Result<()> {
    // offsetof(struct user_regs_struct, rdi, rsi, rdx, r10, r8, r9)
    const OFFSETS: [usize; 6] = [14, 13, 12, 7, 9, 8];
    let slot = OFFSETS
        .get(index)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    poke_user(tid, slot * 8, value)
}

/// Replace the number of the syscall the tracee is stopped at (entry).
#[cfg(target_arch = "x86_64")]
pub fn set_nr(tid: i32, nr: i64) -> io::Result<()> {
    poke_user(tid, 15 * 8, nr as u64)
}

/// The registers of a thread whose syscall exit was put off to run
/// another call in its place ([`inject`]), to be put back by [`restore`].
#[cfg(target_arch = "x86_64")]
pub struct Saved(libc::user_regs_struct);

/// At a syscall-exit stop, make the thread run syscall `nr(args)` before it
/// returns to its program: the instruction pointer goes back to the
/// `syscall` instruction with the new number and arguments in place. The
/// thread must then be resumed with `PTRACE_SYSCALL` until that call's own
/// exit stop, where [`restore`] puts everything back.
#[cfg(target_arch = "x86_64")]
pub fn inject(tid: i32, nr: i64, args: &[u64]) -> io::Result<Saved> {
    let saved = get_regs(tid)?;
    let mut r = saved;
    r.rax = nr as u64;
    r.orig_rax = nr as u64;
    let slots = [
        &mut r.rdi, &mut r.rsi, &mut r.rdx, &mut r.r10, &mut r.r8, &mut r.r9,
    ];
    for (slot, arg) in slots.into_iter().zip(args) {
        *slot = *arg;
    }
    r.rip -= 2; // `syscall` is 0f 05
    set_regs(tid, &r)?;
    Ok(Saved(saved))
}

/// Put back what [`inject`] saved, with `rval` as the original call's
/// return value.
#[cfg(target_arch = "x86_64")]
pub fn restore(tid: i32, saved: &Saved, rval: i64) -> io::Result<()> {
    let mut r = saved.0;
    r.rax = rval as u64;
    set_regs(tid, &r)
}

#[cfg(target_arch = "x86_64")]
fn get_regs(tid: i32) -> io::Result<libc::user_regs_struct> {
    // SAFETY: user_regs_struct is plain data; the kernel fills it.
    let mut r: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    // SAFETY: PTRACE_GETREGS writes one user_regs_struct.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGS,
            tid,
            0,
            &mut r as *mut libc::user_regs_struct,
        )
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(r)
}

#[cfg(target_arch = "x86_64")]
fn set_regs(tid: i32, r: &libc::user_regs_struct) -> io::Result<()> {
    // SAFETY: PTRACE_SETREGS reads one user_regs_struct.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_SETREGS,
            tid,
            0,
            r as *const libc::user_regs_struct,
        )
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(target_arch = "x86_64")]
fn poke_user(tid: i32, offset: usize, value: u64) -> io::Result<()> {
    // SAFETY: PTRACE_POKEUSER writes one word of the stopped tracee's user area.
    let r = unsafe { libc::ptrace(libc::PTRACE_POKEUSER, tid, offset, value) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Not written for aarch64 yet: callers refuse the call another way.
#[cfg(target_arch = "aarch64")]
pub fn set_arg(_tid: i32, _index: usize, _value: u64) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}
#[cfg(target_arch = "aarch64")]
pub fn set_nr(_tid: i32, _nr: i64) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}
#[cfg(target_arch = "aarch64")]
pub struct Saved;
#[cfg(target_arch = "aarch64")]
pub fn inject(_tid: i32, _nr: i64, _args: &[u64]) -> io::Result<Saved> {
    Err(io::ErrorKind::Unsupported.into())
}
#[cfg(target_arch = "aarch64")]
pub fn restore(_tid: i32, _saved: &Saved, _rval: i64) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(target_arch = "aarch64")]
const NT_ARM_SYSTEM_CALL: libc::c_int = 0x404;

#[cfg(target_arch = "aarch64")]
pub fn skip_syscall(tid: i32) -> io::Result<()> {
    let mut nr: libc::c_int = -1;
    let mut iov = libc::iovec {
        iov_base: (&mut nr as *mut libc::c_int).cast(),
        iov_len: std::mem::size_of::<libc::c_int>(),
    };
    // SAFETY: the iovec points at a live c_int of the size it announces.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SETREGSET,
            tid,
            NT_ARM_SYSTEM_CALL,
            &mut iov as *mut libc::iovec,
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(target_arch = "aarch64")]
pub fn set_return(tid: i32, value: i64) -> io::Result<()> {
    // SAFETY: user_regs_struct is plain data; the iovec announces its size.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: (&mut regs as *mut libc::user_regs_struct).cast(),
        iov_len: std::mem::size_of::<libc::user_regs_struct>(),
    };
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGSET,
            tid,
            libc::NT_PRSTATUS,
            &mut iov as *mut libc::iovec,
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    regs.regs[0] = value as u64;
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SETREGSET,
            tid,
            libc::NT_PRSTATUS,
            &mut iov as *mut libc::iovec,
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `struct ptrace_syscall_info` (linux/ptrace.h), with the union as words.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawSyscallInfo {
    op: u8,
    pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    data: [u64; 8],
}

const OP_ENTRY: u8 = 1;
const OP_EXIT: u8 = 2;
const OP_SECCOMP: u8 = 3;

/// What `PTRACE_GET_SYSCALL_INFO` says about a syscall stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallStop {
    /// Entry (seccomp or plain entry stop): arch, number and arguments.
    Entry { arch: u32, nr: i64, args: [u64; 6] },
    /// Exit: the return value (negative errno when `is_error`).
    Exit { rval: i64, is_error: bool },
    /// Not a syscall stop.
    None,
}

/// Read the syscall the tracee is stopped at (arch-independent: the kernel
/// decodes the registers).
pub fn syscall_info(tid: i32) -> io::Result<SyscallStop> {
    let mut raw = RawSyscallInfo {
        op: 0,
        pad: [0; 3],
        arch: 0,
        instruction_pointer: 0,
        stack_pointer: 0,
        data: [0; 8],
    };
    // SAFETY: the kernel writes at most `size` bytes into `raw`.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GET_SYSCALL_INFO,
            tid,
            std::mem::size_of::<RawSyscallInfo>(),
            &mut raw as *mut RawSyscallInfo,
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    let d = raw.data;
    Ok(match raw.op {
        OP_ENTRY | OP_SECCOMP => SyscallStop::Entry {
            arch: raw.arch,
            nr: d[0] as i64,
            args: [d[1], d[2], d[3], d[4], d[5], d[6]],
        },
        OP_EXIT => SyscallStop::Exit {
            rval: d[0] as i64,
            is_error: d[1] & 0xff != 0,
        },
        _ => SyscallStop::None,
    })
}
