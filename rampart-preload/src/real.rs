//! The real libc functions behind each hook, found with
//! `dlsym(RTLD_NEXT, name)` on first use and cached in an atomic. Under the
//! filter of unhooked calls, the functions that are one system call are
//! not used: every hook has the raw call as its fallback, made from the
//! gadget page ([`crate::gadget`]).
//!
//! Resolving lazily keeps process start-up cheap (most programs call a few
//! of the hooked functions, and `/bin/true` none). While one thread resolves
//! a symbol, a re-entrant or concurrent caller gets `None` for that moment
//! and falls back (to the raw system call where one exists). Never
//! allocates itself; `dlsym` is called at most a few times per symbol.

use core::sync::atomic::{AtomicUsize, Ordering};

const RESOLVING: usize = 1;
const MISSING: usize = 2;

pub struct Real {
    name: &'static [u8],
    ptr: AtomicUsize,
}

impl Real {
    /// `name` must end with a NUL byte.
    pub const fn new(name: &'static [u8]) -> Self {
        Real {
            name,
            ptr: AtomicUsize::new(0),
        }
    }

    /// The address of the next definition after this library, or `None`
    /// when it does not exist or is being resolved right now.
    #[inline]
    pub fn addr(&self) -> Option<usize> {
        match self.ptr.load(Ordering::Acquire) {
            0 => self.resolve(),
            RESOLVING | MISSING => None,
            p => Some(p),
        }
    }

    #[cold]
    fn resolve(&self) -> Option<usize> {
        if self
            .ptr
            .compare_exchange(0, RESOLVING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return self.addr_if_ready();
        }
        // SAFETY: `name` is NUL-terminated; dlsym preserves nothing we need.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr().cast()) } as usize;
        let store = if p == 0 { MISSING } else { p };
        self.ptr.store(store, Ordering::Release);
        (p != 0).then_some(p)
    }

    /// Like [`Real::addr`], but while another thread is resolving, look the
    /// symbol up without caching instead of giving up. For functions with no
    /// system-call fallback (a racing `fopen` must not fail).
    pub fn addr_always(&self) -> Option<usize> {
        match self.addr() {
            Some(p) => Some(p),
            None if self.ptr.load(Ordering::Acquire) == RESOLVING => {
                // SAFETY: as in `resolve`.
                let p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr().cast()) } as usize;
                (p != 0).then_some(p)
            }
            None => None,
        }
    }

    fn addr_if_ready(&self) -> Option<usize> {
        match self.ptr.load(Ordering::Acquire) {
            0 | RESOLVING | MISSING => None,
            p => Some(p),
        }
    }
}

/// Declares the real functions: `real::open()` returns
/// `Option<unsafe extern "C" fn(...) -> ...>`.
macro_rules! reals {
    ($($fn_name:ident: fn($($arg:ty),*) -> $ret:ty;)*) => {
        $(
            #[allow(non_upper_case_globals)]
            pub(crate) static $fn_name: Real =
                Real::new(concat!(stringify!($fn_name), "\0").as_bytes());
        )*
        /// The real function, or `None` while it is being resolved (callers
        /// fall back to the system call), and always `None` once the gadget
        /// page is mapped: the call is then made from it, past the filter
        /// of unhooked calls, not from libc (see [`crate::gadget`]).
        pub mod get {
            #[allow(unused_imports)]
            use libc::*;
            $(
                #[inline]
                #[allow(dead_code)]
                pub fn $fn_name() -> Option<unsafe extern "C" fn($($arg),*) -> $ret> {
                    if crate::sys::via_gadget() {
                        return None;
                    }
                    // SAFETY: the symbol has this C signature in glibc.
                    super::$fn_name
                        .addr()
                        .map(|p| unsafe { core::mem::transmute::<usize, unsafe extern "C" fn($($arg),*) -> $ret>(p) })
                }
            )*
        }

        /// The real function, looked up again rather than missing while
        /// another thread resolves it (for functions without a fallback).
        pub mod must {
            #[allow(unused_imports)]
            use libc::*;
            $(
                #[inline]
                #[allow(dead_code)]
                pub fn $fn_name() -> Option<unsafe extern "C" fn($($arg),*) -> $ret> {
                    // SAFETY: the symbol has this C signature in glibc.
                    super::$fn_name
                        .addr_always()
                        .map(|p| unsafe { core::mem::transmute::<usize, unsafe extern "C" fn($($arg),*) -> $ret>(p) })
                }
            )*
        }
    };
}

reals! {
    execve: fn(*const c_char, *const *const c_char, *const *const c_char) -> c_int;
    execveat: fn(c_int, *const c_char, *const *const c_char, *const *const c_char, c_int) -> c_int;
    fexecve: fn(c_int, *const *const c_char, *const *const c_char) -> c_int;
    posix_spawn: fn(*mut pid_t, *const c_char, *const posix_spawn_file_actions_t, *const posix_spawnattr_t, *const *mut c_char, *const *mut c_char) -> c_int;
    posix_spawnp: fn(*mut pid_t, *const c_char, *const posix_spawn_file_actions_t, *const posix_spawnattr_t, *const *mut c_char, *const *mut c_char) -> c_int;
    popen: fn(*const c_char, *const c_char) -> *mut FILE;
    open: fn(*const c_char, c_int, c_uint) -> c_int;
    open64: fn(*const c_char, c_int, c_uint) -> c_int;
    openat: fn(c_int, *const c_char, c_int, c_uint) -> c_int;
    openat64: fn(c_int, *const c_char, c_int, c_uint) -> c_int;
    __open_2: fn(*const c_char, c_int) -> c_int;
    __open64_2: fn(*const c_char, c_int) -> c_int;
    __openat_2: fn(c_int, *const c_char, c_int) -> c_int;
    __openat64_2: fn(c_int, *const c_char, c_int) -> c_int;
    creat: fn(*const c_char, mode_t) -> c_int;
    creat64: fn(*const c_char, mode_t) -> c_int;
    fopen: fn(*const c_char, *const c_char) -> *mut FILE;
    fopen64: fn(*const c_char, *const c_char) -> *mut FILE;
    freopen: fn(*const c_char, *const c_char, *mut FILE) -> *mut FILE;
    freopen64: fn(*const c_char, *const c_char, *mut FILE) -> *mut FILE;
    syscall: fn(c_long, c_long, c_long, c_long, c_long, c_long, c_long) -> c_long;
    unlink: fn(*const c_char) -> c_int;
    unlinkat: fn(c_int, *const c_char, c_int) -> c_int;
    rmdir: fn(*const c_char) -> c_int;
    remove: fn(*const c_char) -> c_int;
    rename: fn(*const c_char, *const c_char) -> c_int;
    renameat: fn(c_int, *const c_char, c_int, *const c_char) -> c_int;
    renameat2: fn(c_int, *const c_char, c_int, *const c_char, c_uint) -> c_int;
    link: fn(*const c_char, *const c_char) -> c_int;
    linkat: fn(c_int, *const c_char, c_int, *const c_char, c_int) -> c_int;
    symlink: fn(*const c_char, *const c_char) -> c_int;
    symlinkat: fn(*const c_char, c_int, *const c_char) -> c_int;
    mkdir: fn(*const c_char, mode_t) -> c_int;
    mkdirat: fn(c_int, *const c_char, mode_t) -> c_int;
    mknod: fn(*const c_char, mode_t, libc::dev_t) -> c_int;
    mknodat: fn(c_int, *const c_char, mode_t, libc::dev_t) -> c_int;
    setxattr: fn(*const c_char, *const c_char, *const libc::c_void, usize, c_int) -> c_int;
    lsetxattr: fn(*const c_char, *const c_char, *const libc::c_void, usize, c_int) -> c_int;
    fsetxattr: fn(c_int, *const c_char, *const libc::c_void, usize, c_int) -> c_int;
    removexattr: fn(*const c_char, *const c_char) -> c_int;
    lremovexattr: fn(*const c_char, *const c_char) -> c_int;
    fremovexattr: fn(c_int, *const c_char) -> c_int;
    chmod: fn(*const c_char, mode_t) -> c_int;
    lchmod: fn(*const c_char, mode_t) -> c_int;
    fchmodat: fn(c_int, *const c_char, mode_t, c_int) -> c_int;
    fchmod: fn(c_int, mode_t) -> c_int;
    fchown: fn(c_int, uid_t, gid_t) -> c_int;
    chown: fn(*const c_char, uid_t, gid_t) -> c_int;
    lchown: fn(*const c_char, uid_t, gid_t) -> c_int;
    fchownat: fn(c_int, *const c_char, uid_t, gid_t, c_int) -> c_int;
    truncate: fn(*const c_char, off_t) -> c_int;
    truncate64: fn(*const c_char, off64_t) -> c_int;
    utime: fn(*const c_char, *const utimbuf) -> c_int;
    utimes: fn(*const c_char, *const timeval) -> c_int;
    lutimes: fn(*const c_char, *const timeval) -> c_int;
    futimesat: fn(c_int, *const c_char, *const timeval) -> c_int;
    utimensat: fn(c_int, *const c_char, *const timespec, c_int) -> c_int;
    futimens: fn(c_int, *const timespec) -> c_int;
    futimes: fn(c_int, *const timeval) -> c_int;
    connect: fn(c_int, *const sockaddr, socklen_t) -> c_int;
    sendto: fn(c_int, *const c_void, size_t, c_int, *const sockaddr, socklen_t) -> ssize_t;
    sendmsg: fn(c_int, *const msghdr, c_int) -> ssize_t;
    sendmmsg: fn(c_int, *mut mmsghdr, c_uint, c_int) -> c_int;
    close: fn(c_int) -> c_int;
    close_range: fn(c_uint, c_uint, c_int) -> c_int;
    closefrom: fn(c_int) -> ();
    dup2: fn(c_int, c_int) -> c_int;
    dup3: fn(c_int, c_int, c_int) -> c_int;
    chdir: fn(*const c_char) -> c_int;
    fchdir: fn(c_int) -> c_int;
    getaddrinfo: fn(*const c_char, *const c_char, *const addrinfo, *mut *mut addrinfo) -> c_int;
    gethostbyname: fn(*const c_char) -> *mut hostent;
    gethostbyname2: fn(*const c_char, c_int) -> *mut hostent;
    gethostbyname_r: fn(*const c_char, *mut hostent, *mut c_char, size_t, *mut *mut hostent, *mut c_int) -> c_int;
    gethostbyname2_r: fn(*const c_char, c_int, *mut hostent, *mut c_char, size_t, *mut *mut hostent, *mut c_int) -> c_int;
}
