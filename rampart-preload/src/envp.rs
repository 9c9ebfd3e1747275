//! The environment every child gets: the program's own, with `LD_PRELOAD`
//! (naming this library) put back when the program dropped it, and the
//! `RAMPART_*` variables exactly as the session set them.
//!
//! The `RAMPART_*` variables are the session's contract (mode, fail-open,
//! socket, timeouts), not the program's: one the program dropped (`env -i`,
//! `unsetenv`, an explicit envp) is put back, one it changed
//! (`RAMPART_MODE=monitor cmd`) gets the session's value again, and one the
//! session never set (`RAMPART_FAIL_OPEN=1`) is left out. A watched program
//! cannot switch its children's enforcement off.
//!
//! When nothing needs fixing the program's array is passed on untouched.
//! Else a new array is built on the stack (bounded); only a very large
//! environment falls back to an anonymous mapping. The program's other
//! variables are never changed or reordered. No allocation, no locks.

use libc::c_char;

use crate::state::Saved;
use crate::sys;

const SLOTS: usize = 256;
const LD_CAP: usize = 1024;

pub struct ChildEnv {
    ptrs: [*const c_char; SLOTS],
    ld: [u8; LD_CAP],
    map: *mut libc::c_void,
    map_len: usize,
}

impl Drop for ChildEnv {
    fn drop(&mut self) {
        if !self.map.is_null() {
            // SAFETY: we mapped exactly this range.
            unsafe { sys::munmap(self.map as usize, self.map_len) };
        }
    }
}

fn starts_with(entry: &[u8], name: &[u8]) -> bool {
    entry.len() > name.len() && entry.starts_with(name) && entry[name.len()] == b'='
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The index of the session's variable that `entry` (`NAME=value`) is,
/// byte for byte; `None` for a name the session did not set or another
/// value.
fn session_entry(s: &Saved, entry: &[u8]) -> Option<usize> {
    s.vars()
        .position(|(name, own)| starts_with(entry, name) && own.strip_suffix(&[0]) == Some(entry))
}

impl ChildEnv {
    pub fn new() -> Self {
        ChildEnv {
            ptrs: [core::ptr::null(); SLOTS],
            ld: [0; LD_CAP],
            map: core::ptr::null_mut(),
            map_len: 0,
        }
    }

    /// The environment to pass to the real exec/spawn instead of `envp`.
    ///
    /// # Safety
    /// `envp` is NULL or a NULL-terminated array of C strings.
    pub unsafe fn fix(&mut self, s: &Saved, envp: *const *const c_char) -> *const *const c_char {
        if !s.active {
            return envp;
        }
        let mut n = 0usize;
        let mut ld_at: Option<usize> = None;
        let mut present: u32 = 0;
        // A RAMPART_* entry that is not the session's own, byte for byte.
        let mut foreign = false;
        let lib = s.lib_basename();
        let mut ld_has_us = false;
        if !envp.is_null() {
            while !(*envp.add(n)).is_null() {
                let e = sys::cstr_bytes(*envp.add(n));
                if starts_with(e, b"LD_PRELOAD") {
                    ld_at = Some(n);
                    ld_has_us = contains(&e[11..], lib);
                } else if e.starts_with(rampart_core::env::PREFIX.as_bytes()) {
                    match session_entry(s, e) {
                        Some(i) => present |= 1 << i,
                        None => foreign = true,
                    }
                }
                n += 1;
            }
        }
        let nvars = s.vars().count();
        let all_vars = if nvars >= 32 {
            u32::MAX
        } else {
            (1u32 << nvars) - 1
        };
        let saved_ld = s.ld_entry();
        let need_ld = !saved_ld.is_empty() && !ld_has_us;
        if !need_ld && present == all_vars && !foreign {
            return envp;
        }

        // Where the new LD_PRELOAD entry comes from: ours in front of the
        // program's own list, or the saved one.
        let mut ld_entry: *const c_char = saved_ld.as_ptr().cast();
        if need_ld {
            if let Some(i) = ld_at {
                let theirs = &sys::cstr_bytes(*envp.add(i))[11..];
                let ours = s.lib_path();
                let total = 11 + ours.len() + 1 + theirs.len() + 1;
                if !theirs.is_empty() && !ours.is_empty() && total <= LD_CAP {
                    let mut at = 0;
                    for part in [b"LD_PRELOAD=".as_slice(), ours, b":", theirs, b"\0"] {
                        self.ld[at..at + part.len()].copy_from_slice(part);
                        at += part.len();
                    }
                    ld_entry = self.ld.as_ptr().cast();
                }
            }
        }

        let total = n + 1 + nvars + 1;
        let out: *mut *const c_char = if total <= SLOTS {
            self.ptrs.as_mut_ptr()
        } else {
            let len = total * core::mem::size_of::<*const c_char>();
            let Ok(p) = sys::mmap_anon(len, false) else {
                return envp;
            };
            self.map = p as *mut libc::c_void;
            self.map_len = len;
            p as *mut *const c_char
        };
        let mut k = 0;
        for i in 0..n {
            if need_ld && ld_at == Some(i) {
                continue;
            }
            let e = sys::cstr_bytes(*envp.add(i));
            if e.starts_with(rampart_core::env::PREFIX.as_bytes()) && session_entry(s, e).is_none()
            {
                continue; // not the session's: its own value goes in below
            }
            *out.add(k) = *envp.add(i);
            k += 1;
        }
        if need_ld {
            *out.add(k) = ld_entry;
            k += 1;
        }
        for (i, (_, entry)) in s.vars().enumerate() {
            if present & (1 << i) == 0 {
                *out.add(k) = entry.as_ptr().cast();
                k += 1;
            }
        }
        *out.add(k) = core::ptr::null();
        out
    }

    /// The environment for the rampart binary's trace entry point: `envp`
    /// with the `RAMPART_*` variables put back and this library taken out
    /// of `LD_PRELOAD` (the entry dropped when nothing else is left), so
    /// that neither the tracer nor the traced tree loads it: the tracer
    /// watches that tree itself.
    ///
    /// # Safety
    /// `envp` is NULL or a NULL-terminated array of C strings.
    pub unsafe fn without_library(
        &mut self,
        s: &Saved,
        envp: *const *const c_char,
    ) -> *const *const c_char {
        let envp = self.fix(s, envp);
        if envp.is_null() {
            return envp;
        }
        let mut n = 0usize;
        while !(*envp.add(n)).is_null() {
            n += 1;
        }
        let mut kept_ld: Option<*const c_char> = None;
        let mut ld_index = None;
        for i in 0..n {
            let e = sys::cstr_bytes(*envp.add(i));
            if starts_with(e, b"LD_PRELOAD") {
                ld_index = Some(i);
                kept_ld = self.ld_without_us(s, &e[11..]);
            }
        }
        let Some(ld_index) = ld_index else {
            return envp;
        };
        if n + 1 > SLOTS {
            return envp; // a huge environment: leave it as it is
        }
        let out = self.ptrs.as_mut_ptr();
        let src: *const *const c_char = if core::ptr::eq(envp, out) { out } else { envp };
        let mut k = 0;
        for i in 0..n {
            let p = *src.add(i);
            let p = if i == ld_index {
                match kept_ld {
                    Some(p) => p,
                    None => continue,
                }
            } else {
                p
            };
            // `fix` may have built `envp` in `ptrs`: index i is read
            // before k <= i is written, so rewriting in place is safe.
            *out.add(k) = p;
            k += 1;
        }
        *out.add(k) = core::ptr::null();
        out
    }

    /// `LD_PRELOAD=` with the entries naming this library removed, written
    /// into `ld`; `None` when nothing else was preloaded.
    fn ld_without_us(&mut self, s: &Saved, value: &[u8]) -> Option<*const c_char> {
        let ours = s.lib_path();
        let base = s.lib_basename();
        let mut tmp = [0u8; LD_CAP];
        let mut at = 0;
        for item in value.split(|&b| b == b':' || b == b' ') {
            let item_base = item.rsplit(|&b| b == b'/').next().unwrap_or(item);
            if item.is_empty() || item == ours || (!base.is_empty() && item_base == base) {
                continue;
            }
            let sep = usize::from(at > 0);
            if at + sep + item.len() + 1 > LD_CAP - 11 {
                break;
            }
            if sep == 1 {
                tmp[at] = b':';
            }
            tmp[at + sep..at + sep + item.len()].copy_from_slice(item);
            at += sep + item.len();
        }
        if at == 0 {
            return None;
        }
        self.ld[..11].copy_from_slice(b"LD_PRELOAD=");
        self.ld[11..11 + at].copy_from_slice(&tmp[..at]);
        self.ld[11 + at] = 0;
        Some(self.ld.as_ptr().cast())
    }
}
