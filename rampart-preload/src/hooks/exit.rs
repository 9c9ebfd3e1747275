//! `_exit` and `_Exit`: the end of a process that skips `exit`'s handlers
//! (forked workers, vfork children). The records this process could not
//! hand to the collector are reported first (see
//! [`crate::conn::report_lost_now`]), as the library's destructor does on
//! `exit`. Then the process ends exactly as glibc's `_exit` ends it.

use libc::c_int;

use crate::sys;

/// End the process like glibc's `_exit`: `exit_group`, then `exit`.
fn end(status: c_int) -> ! {
    crate::conn::report_lost_now();
    // SAFETY: ending the process; no memory is touched.
    unsafe {
        let _ = sys::raw(libc::SYS_exit_group, status as usize, 0, 0, 0);
        loop {
            let _ = sys::raw(libc::SYS_exit, status as usize, 0, 0, 0);
        }
    }
}

#[no_mangle]
pub extern "C" fn _exit(status: c_int) -> ! {
    end(status)
}

#[no_mangle]
pub extern "C" fn _Exit(status: c_int) -> ! {
    end(status)
}
