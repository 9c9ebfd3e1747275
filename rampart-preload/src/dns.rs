//! Which name this process resolved to which address: a small fixed-size
//! ring filled by the `getaddrinfo`/`gethostbyname*` hooks and read by the
//! `connect` hook, so a connect record carries the `domain` the program
//! asked for.
//!
//! Lock-free: each slot is guarded by its own sequence number (odd while a
//! writer fills it); its contents are atomics, so a reader racing a writer
//! sees a changed sequence and skips the slot, never torn data. No
//! allocation. Inherited by forked children (they connect to what their
//! parent resolved).

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use rampart_core::wire::InetAddr;

const SLOTS: usize = 64;
const NAME_WORDS: usize = 32; // 256 bytes: a DNS name is at most 253
const NAME_CAP: usize = NAME_WORDS * 8;

struct Slot {
    seq: AtomicU32,
    /// family (4 or 6) in the top byte, name length below.
    meta: AtomicU32,
    addr: [AtomicU64; 2],
    name: [AtomicU64; NAME_WORDS],
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    seq: AtomicU32::new(0),
    meta: AtomicU32::new(0),
    addr: [const { AtomicU64::new(0) }; 2],
    name: [const { AtomicU64::new(0) }; NAME_WORDS],
};

static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn key(addr: &InetAddr) -> (u32, [u64; 2]) {
    let mut b = [0u8; 16];
    let fam = match addr {
        InetAddr::V4(a) => {
            b[..4].copy_from_slice(a);
            4
        }
        InetAddr::V6(a) => {
            b.copy_from_slice(a);
            6
        }
    };
    let lo = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    let hi = u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
    (fam, [lo, hi])
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn unmap(addr: InetAddr) -> InetAddr {
    match addr {
        InetAddr::V6(a) if a[..10] == [0; 10] && a[10] == 0xff && a[11] == 0xff => {
            InetAddr::V4([a[12], a[13], a[14], a[15]])
        }
        other => other,
    }
}

/// Remember that `name` resolved to `addr`.
pub fn remember(addr: InetAddr, name: &[u8]) {
    let addr = unmap(addr);
    if name.is_empty() {
        return;
    }
    let name = &name[..name.len().min(NAME_CAP)];
    let (fam, words) = key(&addr);
    let meta = (fam << 24) | name.len() as u32;
    // Already known with this name: nothing to do.
    let mut have = [MaybeUninit::<u8>::uninit(); NAME_CAP];
    if let Some(n) = lookup_into(&addr, &mut have) {
        // SAFETY: lookup_into initialised n bytes.
        let got = unsafe { core::slice::from_raw_parts(have.as_ptr().cast::<u8>(), n) };
        if got == name {
            return;
        }
    }
    for _ in 0..4 {
        let slot = &TABLE[NEXT.fetch_add(1, Ordering::Relaxed) % SLOTS];
        let s = slot.seq.load(Ordering::Relaxed);
        if s & 1 == 1
            || slot
                .seq
                .compare_exchange(s, s.wrapping_add(1), Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            continue; // another writer has this slot
        }
        slot.meta.store(meta, Ordering::Relaxed);
        slot.addr[0].store(words[0], Ordering::Relaxed);
        slot.addr[1].store(words[1], Ordering::Relaxed);
        for (i, w) in slot.name.iter().enumerate() {
            let mut b = [0u8; 8];
            for (j, d) in b.iter_mut().enumerate() {
                *d = name.get(i * 8 + j).copied().unwrap_or(0);
            }
            w.store(u64::from_le_bytes(b), Ordering::Relaxed);
            if (i + 1) * 8 >= name.len() {
                break;
            }
        }
        slot.seq.store(s.wrapping_add(2), Ordering::Release);
        return;
    }
}

/// The name most recently resolved to `addr`, written into `out`.
pub fn lookup_into(addr: &InetAddr, out: &mut [MaybeUninit<u8>]) -> Option<usize> {
    let (fam, words) = key(&unmap(*addr));
    let newest = NEXT.load(Ordering::Relaxed);
    for back in 1..=SLOTS {
        let slot = &TABLE[newest.wrapping_sub(back) % SLOTS];
        let s1 = slot.seq.load(Ordering::Acquire);
        if s1 == 0 || s1 & 1 == 1 {
            continue;
        }
        let meta = slot.meta.load(Ordering::Relaxed);
        if meta >> 24 != fam
            || slot.addr[0].load(Ordering::Relaxed) != words[0]
            || slot.addr[1].load(Ordering::Relaxed) != words[1]
        {
            continue;
        }
        let len = ((meta & 0xffff) as usize).min(NAME_CAP).min(out.len());
        for (i, w) in slot.name.iter().enumerate() {
            if i * 8 >= len {
                break;
            }
            let b = w.load(Ordering::Relaxed).to_le_bytes();
            for (j, byte) in b.iter().enumerate() {
                if let Some(d) = out.get_mut(i * 8 + j).filter(|_| i * 8 + j < len) {
                    d.write(*byte);
                }
            }
        }
        core::sync::atomic::fence(Ordering::Acquire);
        if slot.seq.load(Ordering::Relaxed) == s1 {
            return Some(len);
        }
    }
    None
}
