//! Raw system calls and errno, for the library's own work.
//!
//! The library exports `syscall`, `connect`, `open`... itself, so calling
//! those through libc from inside a hook would land back in the hook. Every
//! system call the library makes for its own purposes goes through the
//! inline `syscall` instruction here instead. Nothing here allocates, locks
//! or touches errno (results are `Err(errno)`); [`errno`]/[`set_errno`] are
//! the only errno accessors. Once the gadget page is mapped
//! ([`crate::gadget`]), every call here runs from it.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};
use libc::{c_int, c_long};

/// The gadget page is mapped ([`crate::gadget`]): calls run from it.
static VIA_GADGET: AtomicBool = AtomicBool::new(false);

/// Whether this process's system calls run from the gadget page.
#[inline(always)]
pub fn via_gadget() -> bool {
    VIA_GADGET.load(Ordering::Acquire)
}

/// From now on, run every call from the gadget page (mapped and executable).
pub fn start_via_gadget() {
    VIA_GADGET.store(true, Ordering::Release);
}

/// A raw system call: `Ok(return value)` or `Err(errno)`. Made through
/// the gadget page once the filter of unhooked calls is on (the library's
/// own calls pass it), else as [`raw6_seen`].
#[inline]
pub unsafe fn raw6(n: c_long, a: [usize; 6]) -> Result<usize, c_int> {
    #[cfg(target_arch = "x86_64")]
    if via_gadget() {
        let ret: isize;
        // Through the gadget page (`syscall; ret`), past the filter of
        // unhooked calls: a `call` pushes, so no `nostack`.
        asm!(
            "call {gadget}",
            gadget = in(reg) rampart_core::gadget::ADDRESS,
            inlateout("rax") n as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
        );
        return result(ret);
    }
    raw6_seen(n, a)
}

/// A raw system call made from the library's own code, never through the
/// gadget page: the filter of unhooked calls sees it as it sees the
/// program's, so a watched call goes to the tap. For calls the library
/// makes on the program's behalf without deciding them itself (`syscall`
/// with a number no hook knows), and for all of them before the filter.
#[inline]
pub unsafe fn raw6_seen(n: c_long, a: [usize; 6]) -> Result<usize, c_int> {
    let ret: isize;
    #[cfg(target_arch = "x86_64")]
    asm!(
        "syscall",
        inlateout("rax") n as isize => ret,
        in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
        in("r10") a[3], in("r8") a[4], in("r9") a[5],
        lateout("rcx") _, lateout("r11") _,
        options(nostack),
    );
    #[cfg(target_arch = "aarch64")]
    asm!(
        "svc 0",
        in("x8") n,
        inlateout("x0") a[0] as isize => ret,
        in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
        options(nostack),
    );
    result(ret)
}

/// A system call's return as a result: `-4095..0` is an errno.
#[inline(always)]
fn result(ret: isize) -> Result<usize, c_int> {
    if (-4095..0).contains(&ret) {
        Err((-ret) as c_int)
    } else {
        Ok(ret as usize)
    }
}

#[inline]
pub unsafe fn raw(n: c_long, a0: usize, a1: usize, a2: usize, a3: usize) -> Result<usize, c_int> {
    raw6(n, [a0, a1, a2, a3, 0, 0])
}

/// A fresh anonymous mapping of `len` bytes (zeroed), private or shared
/// with the children this process forks: its address, or the errno.
pub fn mmap_anon(len: usize, shared: bool) -> Result<usize, c_int> {
    let sharing = if shared {
        libc::MAP_SHARED
    } else {
        libc::MAP_PRIVATE
    };
    // SAFETY: a new mapping; no memory of ours is touched.
    unsafe {
        raw6(
            libc::SYS_mmap,
            [
                0,
                len,
                (libc::PROT_READ | libc::PROT_WRITE) as usize,
                (sharing | libc::MAP_ANONYMOUS) as usize,
                usize::MAX, // fd -1
                0,
            ],
        )
    }
}

/// Unmap what [`mmap_anon`] mapped, errno untouched.
///
/// # Safety
/// `addr`/`len` are exactly a mapping of ours that nothing uses any more.
pub unsafe fn munmap(addr: usize, len: usize) {
    let _ = raw(libc::SYS_munmap, addr, len, 0, 0);
}

pub fn errno() -> c_int {
    // SAFETY: __errno_location always returns the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

pub fn set_errno(e: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = e }
}

/// Copy `out.len()` bytes at `addr` of this process's memory into `out`
/// with `process_vm_readv`, so that an address the kernel would answer
/// EFAULT for faults nothing here: `false` then.
pub fn copy_own(addr: usize, out: &mut [u8]) -> bool {
    if out.is_empty() {
        return true;
    }
    let local = libc::iovec {
        iov_base: out.as_mut_ptr().cast(),
        iov_len: out.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: out.len(),
    };
    // SAFETY: writes only `out`; the remote side is read by the kernel,
    // which checks it.
    let got = unsafe {
        raw6(
            libc::SYS_process_vm_readv,
            [
                getpid() as usize,
                &local as *const _ as usize,
                1,
                &remote as *const _ as usize,
                1,
                0,
            ],
        )
    };
    got == Ok(out.len())
}

/// Whether the `len` bytes at `addr` of this process's memory are all
/// zero; `None` when some cannot be read ([`copy_own`]).
pub fn all_zero(addr: usize, len: usize) -> Option<bool> {
    let mut buf = [0u8; 256];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(buf.len());
        if !copy_own(addr + at, &mut buf[..n]) {
            return None;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Some(false);
        }
        at += n;
    }
    Some(true)
}

pub fn getpid() -> i32 {
    // SAFETY: getpid has no arguments and cannot fail.
    unsafe { raw(libc::SYS_getpid, 0, 0, 0, 0).unwrap_or(0) as i32 }
}

pub fn getppid() -> i32 {
    // SAFETY: as above.
    unsafe { raw(libc::SYS_getppid, 0, 0, 0, 0).unwrap_or(0) as i32 }
}

/// `pread(2)` into `out` at `off`: the bytes read, 0 on an error.
pub fn pread(fd: c_int, out: &mut [u8], off: u64) -> usize {
    // SAFETY: `out` is valid for its length.
    unsafe {
        raw(
            libc::SYS_pread64,
            fd as usize,
            out.as_mut_ptr() as usize,
            out.len(),
            off as usize,
        )
    }
    .unwrap_or(0)
}

pub fn close(fd: c_int) {
    // SAFETY: closing a descriptor number touches no memory.
    let _ = unsafe { raw(libc::SYS_close, fd as usize, 0, 0, 0) };
}

pub fn fstat(fd: c_int) -> Option<libc::stat> {
    let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: the kernel writes a whole `struct stat` on success.
    unsafe {
        raw(libc::SYS_fstat, fd as usize, st.as_mut_ptr() as usize, 0, 0).ok()?;
        Some(st.assume_init())
    }
}

/// `fstatat(dirfd, name, flags)` of a NUL-terminated name.
pub fn fstatat(dirfd: c_int, name: *const u8, flags: c_int) -> Option<libc::stat> {
    let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `name` is NUL-terminated; the kernel writes a whole stat.
    unsafe {
        raw(
            libc::SYS_newfstatat,
            dirfd as usize,
            name as usize,
            st.as_mut_ptr() as usize,
            flags as usize,
        )
        .ok()?;
        Some(st.assume_init())
    }
}

/// `stat` of a NUL-terminated path, following symlinks.
pub fn stat(path: *const u8) -> Result<libc::stat, c_int> {
    let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `path` is NUL-terminated; the kernel writes a whole stat.
    unsafe {
        raw(
            libc::SYS_newfstatat,
            libc::AT_FDCWD as usize,
            path as usize,
            st.as_mut_ptr() as usize,
            0,
        )?;
        Ok(st.assume_init())
    }
}

/// `faccessat(AT_FDCWD, path, mode)` on a NUL-terminated path.
pub fn access(path: *const u8, mode: c_int) -> bool {
    // SAFETY: `path` is NUL-terminated.
    unsafe {
        raw(
            libc::SYS_faccessat,
            libc::AT_FDCWD as usize,
            path as usize,
            mode as usize,
            0,
        )
        .is_ok()
    }
}

/// `readlink` of a NUL-terminated path into `out`; returns the length.
pub fn readlink(path: *const u8, out: *mut u8, cap: usize) -> Option<usize> {
    // SAFETY: `out` has room for `cap` bytes; `path` is NUL-terminated.
    unsafe {
        raw(
            libc::SYS_readlinkat,
            libc::AT_FDCWD as usize,
            path as usize,
            out as usize,
            cap,
        )
        .ok()
    }
}

/// The kernel's `getcwd` into `out`: returns the length without the NUL, or
/// `None` (cwd removed, or longer than `cap`).
pub fn getcwd(out: *mut u8, cap: usize) -> Option<usize> {
    // SAFETY: `out` has room for `cap` bytes.
    let n = unsafe { raw(libc::SYS_getcwd, out as usize, cap, 0, 0).ok()? };
    // The kernel returns the length including the NUL; a path that does not
    // start with '/' is "(unreachable)...", not a usable directory.
    // SAFETY: n >= 1 bytes were written.
    if n == 0 || unsafe { *out } != b'/' {
        return None;
    }
    Some(n - 1)
}

pub fn socket_type(fd: c_int) -> Option<c_int> {
    let mut ty: c_int = 0;
    let mut len: libc::socklen_t = core::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `ty`.
    unsafe {
        raw6(
            libc::SYS_getsockopt,
            [
                fd as usize,
                libc::SOL_SOCKET as usize,
                libc::SO_TYPE as usize,
                &mut ty as *mut c_int as usize,
                &mut len as *mut libc::socklen_t as usize,
                0,
            ],
        )
        .ok()?;
    }
    Some(ty)
}

/// Coarse monotonic clock in milliseconds (vDSO, no system call).
pub fn now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec; libc's version is not hooked.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1000) + (ts.tv_nsec as u64) / 1_000_000
}

pub fn sleep_ms(ms: u64) {
    let ts = libc::timespec {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    };
    // SAFETY: reads one timespec.
    let _ = unsafe {
        raw(
            libc::SYS_nanosleep,
            &ts as *const libc::timespec as usize,
            0,
            0,
            0,
        )
    };
}

/// Length of a NUL-terminated string.
///
/// # Safety
/// `s` must be a valid NUL-terminated string.
pub unsafe fn cstr_bytes<'a>(s: *const libc::c_char) -> &'a [u8] {
    if s.is_null() {
        return &[];
    }
    core::slice::from_raw_parts(s.cast::<u8>(), libc::strlen(s))
}
