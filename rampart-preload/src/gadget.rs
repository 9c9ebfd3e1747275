//! The gadget page (`rampart_core::gadget`) in this process: mapped at
//! load when the tree runs under the filter of unhooked calls
//! (`RAMPART_UNHOOKED=1`), after which every system call of the library
//! runs from it ([`crate::sys::raw6`]) and so past the filter, and the
//! real functions behind the hooks that are plain system calls are made
//! through it too, not through libc (`real.rs`).
//!
//! Mapping costs two system calls at load (mmap, mprotect), in enforcing
//! trees only. If the address is taken, the page is not mapped: the library's
//! calls then go to the collector as unhooked ones (slower, still decided).

use rampart_core::gadget::{ADDRESS, CODE, LEN, SUPPORTED};

use crate::sys;

/// Map the page at its fixed address and start using it. Called once, at
/// load, before the library makes any watched call; errno untouched.
pub fn map() {
    if !SUPPORTED || sys::via_gadget() {
        return;
    }
    // SAFETY: a new private anonymous mapping at an address nothing else
    // uses (MAP_FIXED_NOREPLACE fails rather than replace a mapping).
    let got = unsafe {
        sys::raw6(
            libc::SYS_mmap,
            [
                ADDRESS,
                LEN,
                (libc::PROT_READ | libc::PROT_WRITE) as usize,
                (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as usize,
                usize::MAX,
                0,
            ],
        )
    };
    match got {
        Ok(a) if a == ADDRESS => {}
        Ok(a) => {
            // A kernel older than MAP_FIXED_NOREPLACE placed it elsewhere.
            // SAFETY: the mapping just made, unused.
            unsafe { sys::munmap(a, LEN) };
            return;
        }
        Err(_) => return,
    }
    // SAFETY: the page is ours, writable and LEN > CODE.len().
    unsafe { core::ptr::copy_nonoverlapping(CODE.as_ptr(), ADDRESS as *mut u8, CODE.len()) };
    // SAFETY: changes the protection of our own page only.
    let exec = unsafe {
        sys::raw(
            libc::SYS_mprotect,
            ADDRESS,
            LEN,
            (libc::PROT_READ | libc::PROT_EXEC) as usize,
            0,
        )
    };
    if exec.is_ok() {
        sys::start_via_gadget();
    } else {
        // SAFETY: as above.
        unsafe { sys::munmap(ADDRESS, LEN) };
    }
}
