//! libc's own opens. glibc opens files inside its functions — `setlocale`'s
//! locale files, `iconv_open`'s gconv modules, `opendir`, `catopen`, the
//! `/proc` and `/sys` files `sysconf` reads — through its internal
//! `__open_nocancel`, which no symbol interposition reaches: libc calls it
//! directly. Under the filter of unhooked calls each of those opens is a
//! round trip to the tap (`rampart-trace/src/notify.rs`), and a process
//! that sets its locale makes about 25 of them before `main` has done
//! anything (`readlink /`, with `LANG=C.UTF-8` and no locale archive).
//!
//! At load, in a tree under that filter, [`route`] points the function's
//! entry at the library's open hook: its first bytes become a jump to
//! `hooks::open::rampart_libc_open`, which opens like `open` — made from
//! the gadget page, recorded and decided under enforcement by the library —
//! and reports them as what they are, calls past the hooks (`source:
//! unhooked`: decided and learned as the tap's are). The function is
//! replaced whole and never run again, so no instruction of it is moved.
//!
//! It is done only where it holds: glibc on x86_64, the symbol found with
//! its version (`GLIBC_PRIVATE`), and the page made writable and executable
//! at once, so that a refusal (a process under `PR_SET_MDWE`, a security
//! module) leaves libc as it was; its opens then go to the tap as before.
//! What this module must never do: write anything but that entry, or leave
//! a page of libc writable.

use crate::sys;

/// `jmp *0(%rip)` followed by the absolute address it jumps to.
#[cfg(target_arch = "x86_64")]
const JUMP: [u8; 6] = [0xff, 0x25, 0, 0, 0, 0];

/// How many bytes of the entry the jump takes.
#[cfg(target_arch = "x86_64")]
const LEN: usize = JUMP.len() + 8;

/// Point libc's `__open_nocancel` at the open hook. Called once, by the
/// library's constructor, after the gadget page is in use (the hook's own
/// calls must not come back here, nor go to the tap).
pub fn route() {
    #[cfg(target_arch = "x86_64")]
    if sys::via_gadget() {
        // SAFETY: see `patch`.
        unsafe { patch(crate::hooks::open::rampart_libc_open as *const () as usize) };
    }
}

/// Write a jump to `to` over the entry of `__open_nocancel`.
///
/// # Safety
/// At load only: no other thread may be running the function meanwhile.
#[cfg(target_arch = "x86_64")]
unsafe fn patch(to: usize) {
    // SAFETY: NUL-terminated names; dlvsym has no other precondition.
    let entry = unsafe {
        libc::dlvsym(
            libc::RTLD_NEXT,
            c"__open_nocancel".as_ptr(),
            c"GLIBC_PRIVATE".as_ptr(),
        )
    } as usize;
    if entry == 0 {
        return; // another libc, or another glibc
    }
    let page = entry & !(PAGE - 1);
    let len = (entry + LEN).next_multiple_of(PAGE) - page;
    let rwx = (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) as usize;
    // SAFETY: libc's own text pages; only the protection changes.
    if unsafe { sys::raw(libc::SYS_mprotect, page, len, rwx, 0) }.is_err() {
        return;
    }
    let mut code = [0u8; LEN];
    code[..JUMP.len()].copy_from_slice(&JUMP);
    code[JUMP.len()..].copy_from_slice(&to.to_ne_bytes());
    for (i, b) in code.iter().enumerate() {
        // SAFETY: inside the pages just made writable.
        unsafe { core::ptr::write_volatile((entry + i) as *mut u8, *b) };
    }
    let rx = (libc::PROT_READ | libc::PROT_EXEC) as usize;
    // SAFETY: as above; taking the write right away is always allowed.
    let _ = unsafe { sys::raw(libc::SYS_mprotect, page, len, rx, 0) };
}

/// The page size of x86_64 (libc's text is mapped in such pages).
#[cfg(target_arch = "x86_64")]
const PAGE: usize = 4096;
