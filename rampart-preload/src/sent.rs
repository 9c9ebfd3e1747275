//! The destinations this process has already sent datagrams to, so that a
//! `sendto`/`sendmsg`/`sendmmsg` with an address is a net call once per
//! destination (and policy generation), not once per datagram: a UDP
//! stream to one peer is one record, as its `connect` would be.
//!
//! A fixed table of 64 single-word atomic entries, each a keyed hash of
//! the destination ([`crate::enforce::keyed`]: a program cannot aim a
//! collision at a refused address); a later destination may push an
//! earlier one out, which then is a net call again. Only allowed sends
//! are remembered: a refused destination is asked every time. Lock-free,
//! no allocation; a fork inherits the table, an exec starts empty.

use core::sync::atomic::{AtomicU64, Ordering};

const SLOTS: usize = 64;
/// The call kind hashed with a destination (not a wire call kind).
const SENT: u8 = 0xd6;

static TABLE: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

/// The key of sending to `dest` (family, address, port and transport
/// bytes) under the policy in force.
pub fn key(s: &crate::state::Saved, dest: &[u8]) -> u64 {
    crate::enforce::keyed(s, SENT, dest).max(1)
}

/// Has this process sent to the destination of `key` before (allowed)?
pub fn seen(key: u64) -> bool {
    TABLE[key as usize % SLOTS].load(Ordering::Relaxed) == key
}

/// Remember an allowed send to the destination of `key`.
pub fn remember(key: u64) {
    TABLE[key as usize % SLOTS].store(key, Ordering::Relaxed);
}
