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
//! `hooks::open::rampart_libc_open` (the constructor hands its address to
//! [`route`]), which opens like `open` — made from the gadget page,
//! recorded and decided under enforcement by the library —
//! and reports them as what they are, calls past the hooks (`source:
//! unhooked`: decided and learned as the tap's are). The function is
//! replaced whole and never run again, so no instruction of it is moved.
//!
//! It is done only where it holds: glibc on x86_64, the symbol found with
//! its version (`GLIBC_PRIVATE`), and the page made writable and executable
//! at once, so that a refusal (a process under `PR_SET_MDWE`, a security
//! module) leaves libc as it was; its opens then go to the tap as before.
//!
//! libc opens files where a program's stack is short: in a signal handler
//! on a small alternate stack, in a thread made with a 16 KiB stack. The
//! open hook needs more than that (up to about 27 KiB under enforcement),
//! so it runs on a stack of this module's ([`on_own_stack`]): a few
//! 256 KiB stacks with a guard page each, mapped at the first such open
//! and taken without a lock. When none is free, or the library cannot
//! reach its collector (a process that dropped to another user cannot
//! connect to it), the open is made as libc would have made it, from the
//! library's own code, and the filter hands it to the tap as before.
//! What this module must never do: write anything but that entry, or leave
//! a page of libc writable.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sys;

/// `jmp *0(%rip)` followed by the absolute address it jumps to.
#[cfg(target_arch = "x86_64")]
const JUMP: [u8; 6] = [0xff, 0x25, 0, 0, 0, 0];

/// How many bytes of the entry the jump takes.
#[cfg(target_arch = "x86_64")]
const LEN: usize = JUMP.len() + 8;

/// Point libc's `__open_nocancel` at `hook` (the open hook's entry for
/// it, `hooks::open::rampart_libc_open`). Called once, by the library's
/// constructor, after the gadget page is in use (the hook's own calls must
/// not come back here, nor go to the tap).
pub fn route(hook: usize) {
    #[cfg(target_arch = "x86_64")]
    if sys::via_gadget() {
        // SAFETY: see `patch`.
        unsafe { patch(hook) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = hook;
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

/// The page size of x86_64 (libc's text is mapped in such pages, and a
/// stack's guard is one).
const PAGE: usize = 4096;

/// How many stacks the hook may run on at once (more concurrent opens go
/// to the tap).
const STACKS: usize = 4;
/// Bytes of one stack, its guard page included.
const STACK_LEN: usize = 256 * 1024;
/// The stacks' mapping: 0 not made yet, 1 could not be made, else its
/// address.
static MAPPING: AtomicUsize = AtomicUsize::new(0);
/// One bit per stack in use.
static BUSY: AtomicUsize = AtomicUsize::new(0);

/// Run `f` on one of this module's stacks; false (and `f` not run) when
/// none is free or they could not be made. x86_64 only.
pub fn on_own_stack<F: FnMut()>(mut f: F) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let Some(base) = stacks() else {
            return false;
        };
        let Some(slot) = take() else {
            return false;
        };
        let top = base + (slot + 1) * STACK_LEN;
        extern "C" fn call<F: FnMut()>(f: *mut core::ffi::c_void) {
            // SAFETY: `f` is the closure `on_own_stack` lent for this call.
            unsafe { (*f.cast::<F>())() }
        }
        // SAFETY: `top` is the 16-byte aligned end of a stack only this
        // call uses; `call::<F>` gets the closure back and returns.
        unsafe { rampart_on_stack((&mut f as *mut F).cast(), call::<F>, top) };
        BUSY.fetch_and(!(1 << slot), Ordering::Release);
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = &mut f;
        false
    }
}

/// A free stack, taken.
fn take() -> Option<usize> {
    let mut busy = BUSY.load(Ordering::Relaxed);
    loop {
        let slot = (0..STACKS).find(|i| busy & (1 << i) == 0)?;
        match BUSY.compare_exchange_weak(
            busy,
            busy | (1 << slot),
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Some(slot),
            Err(now) => busy = now,
        }
    }
}

/// The stacks' mapping, made on first use: private, zeroed, each with its
/// lowest page inaccessible (an overflow faults rather than runs into the
/// next stack).
fn stacks() -> Option<usize> {
    match MAPPING.load(Ordering::Acquire) {
        0 => {}
        1 => return None,
        base => return Some(base),
    }
    let made = sys::mmap_anon(STACKS * STACK_LEN, false)
        .ok()
        .filter(|&base| {
            let guarded = (0..STACKS).all(|i| {
                // SAFETY: the first page of a stack of the mapping just made.
                unsafe { sys::raw(libc::SYS_mprotect, base + i * STACK_LEN, PAGE, 0, 0) }.is_ok()
            });
            if !guarded {
                // SAFETY: the mapping just made, which nobody uses.
                unsafe { sys::munmap(base, STACKS * STACK_LEN) };
            }
            guarded
        });
    match MAPPING.compare_exchange(0, made.unwrap_or(1), Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => made,
        Err(other) => {
            // Another thread made them first: ours goes.
            if let Some(base) = made {
                // SAFETY: our mapping, which nobody uses.
                unsafe { sys::munmap(base, STACKS * STACK_LEN) };
            }
            (other > 1).then_some(other)
        }
    }
}

#[cfg(target_arch = "x86_64")]
extern "C" {
    /// Call `f(arg)` with the stack pointer at `top`, and come back to the
    /// caller's stack.
    fn rampart_on_stack(
        arg: *mut core::ffi::c_void,
        f: extern "C" fn(*mut core::ffi::c_void),
        top: usize,
    );
}

// rdi: arg (left for `f`), rsi: f, rdx: top (16-byte aligned, so `f`
// starts with the alignment a call gives). rbp keeps the caller's stack.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".text",
    ".globl rampart_on_stack",
    ".hidden rampart_on_stack",
    ".type rampart_on_stack,@function",
    "rampart_on_stack:",
    "push rbp",
    "mov rbp, rsp",
    "mov rsp, rdx",
    "call rsi",
    "mov rsp, rbp",
    "pop rbp",
    "ret",
    ".size rampart_on_stack, .-rampart_on_stack",
);
