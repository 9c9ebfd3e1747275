//! The library's system-call gadget: the one place in a watched process
//! from which a watched system call runs without a notification.
//!
//! Under `--mode enforce` a preloaded tree starts with a seccomp filter
//! (`rampart-trace/src/filter.rs`, `unhooked`) that hands every watched
//! system call to rampart's collector (`SECCOMP_RET_USER_NOTIF`) unless the
//! call was made by the `syscall` instruction of this page. The preload
//! library maps the page at [`ADDRESS`] in every process it loads into and
//! makes all its system calls through it (`rampart-preload/src/gadget.rs`):
//! its hooks have already recorded and decided the call. Everything else —
//! the dynamic loader's opens, an open libc makes inside `fopen` of a
//! library that bypasses the hooks, `posix_spawn`'s child, an inline
//! `syscall` instruction, a static program — is stopped by the filter and
//! decided by the collector.
//!
//! The address is fixed so that one filter, installed once for the whole
//! tree, is right in every process after every exec (the filter cannot
//! follow the library's randomised load address). This module owns the
//! address, the code and the instruction pointer the filter compares; it
//! is `no_std` and does nothing itself.
//!
//! What it does not stop: a program that knows of this page can jump to it
//! with its own arguments. The page is the fast path for the library, not a
//! secret; the Landlock floor and the trace backend (`--backend trace`,
//! which has no such page) hold against such a program.

/// Where the page is mapped: high in the 47-bit user address space, away
/// from where the kernel places executables, heaps, stacks and mappings
/// (`0x55…`, `0x7f…`), and from the sanitizers' fixed ranges.
pub const ADDRESS: usize = 0x3e57_ad00_0000;

/// The page's size.
pub const LEN: usize = 4096;

/// `syscall; ret` (x86_64): the library `call`s the page with the system
/// call's registers loaded.
#[cfg(target_arch = "x86_64")]
pub const CODE: &[u8] = &[0x0f, 0x05, 0xc3];

/// No page on other architectures (see [`SUPPORTED`]).
#[cfg(not(target_arch = "x86_64"))]
pub const CODE: &[u8] = &[];

/// What `seccomp_data.instruction_pointer` holds for a call made by the
/// page: the address just after the system-call instruction.
#[cfg(target_arch = "x86_64")]
pub const CALL_IP: u64 = ADDRESS as u64 + 2;
#[cfg(not(target_arch = "x86_64"))]
pub const CALL_IP: u64 = 0;

/// Whether this architecture has the page (and so the filter): x86_64
/// only for now; elsewhere enforce mode runs without the filter of
/// unhooked calls, as before it.
pub const SUPPORTED: bool = cfg!(target_arch = "x86_64");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_page_is_page_aligned_and_holds_its_code() {
        assert_eq!(ADDRESS % LEN, 0);
        assert!(CODE.len() < LEN);
        assert!(CALL_IP > ADDRESS as u64 && CALL_IP < (ADDRESS + CODE.len()) as u64);
    }
}
