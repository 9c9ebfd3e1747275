//! Hard links to files the policy refuses by another name: the trace
//! side's part of the table the collector publishes (see the collector's
//! `linked` module and `rampart_core::generation::linked_name`).
//!
//! A file reached (an open's descriptor, a mutation's pinned place) that
//! is regular and has more than one link is looked up with
//! [`crate::Sink::other_name`]; when the policy refuses it by another
//! name, the call is decided again with that name as `resolved`
//! ([`named`]). This module stats descriptors and paths; it never decides.

use std::os::fd::AsRawFd;

use rampart_core::event::{Call, Event};

/// `(device, inode)` of a regular file with more than one link.
pub fn file_of(st: &libc::stat) -> Option<(u64, u64)> {
    (st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_nlink > 1)
        .then_some((st.st_dev, st.st_ino))
}

/// [`file_of`] the file `fd` holds.
pub fn file_of_fd(fd: &impl AsRawFd) -> Option<(u64, u64)> {
    // SAFETY: fstat fills a struct we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return None;
    }
    file_of(&st)
}

/// [`file_of`] the file `path` leads to (links followed: for a
/// `/proc/TID/fd/N` name, the file that descriptor holds).
pub fn file_of_path(path: &str) -> Option<(u64, u64)> {
    let c = std::ffi::CString::new(path).ok()?;
    // SAFETY: stat of a NUL-terminated name into a struct we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::stat(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    file_of(&st)
}

/// `event` (an open or a mutation) as reaching `name`: to decide again.
pub fn named(event: &Event, name: String) -> Event {
    let mut again = event.clone();
    match &mut again.call {
        Call::Open { resolved, .. } | Call::Mutate { resolved, .. } => *resolved = Some(name),
        _ => {}
    }
    again
}
