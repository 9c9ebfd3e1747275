//! The standby of a notification handler: a second process that holds the
//! listener and answers in the handler's place when the handler dies.
//!
//! A call the filter sends to a listener waits in the kernel until some
//! holder of the listener answers it; once no process holds the listener
//! any more, the kernel fails every such call with `ENOSYS`. So a handler
//! that is killed (`kill -9`, the OOM killer) would break the program it
//! watches, in monitor mode too. [`split`] forks the handler before it
//! serves: the child, the *standby*, keeps a copy of the listener and
//! sleeps on a pipe whose other end only the handler holds. When that end
//! closes without the handler having said it finished ([`Held::finished`]),
//! the handler died: the standby returns from [`split`] and serves in its
//! place, and the calls that were waiting meanwhile are answered by it.
//!
//! What a dying handler leaves half done is in [`Held`], a page the two
//! share: the notification it held (received, not answered), those a
//! thread of its answers later (a FIFO open waiting for its other end), the
//! last notification id it received, and how many records of calls that
//! already ran it had not sent yet. The standby reads each held call again
//! from `/proc/TID/syscall` and handles it as a new one
//! ([`Held::stuck`]); a notification received in the instant before the
//! handler could publish it has no caller known: it continues in monitor
//! mode and is refused under enforcement. The records the handler had not
//! sent are counted as lost.
//!
//! This module never decides a call and never reads one: it keeps the
//! listener alive and says what is stuck.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// Notifications a thread of the handler answers later (FIFO opens waiting
/// for their other end), remembered at most (oldest first out): what fits
/// in the page.
const PARKED_SLOTS: usize = 240;

/// Word offsets in the shared page.
const FINISHED: usize = 0;
const LAST_ID: usize = 1;
const UNSENT: usize = 2;
const IN_HAND: usize = 3; // id, tid
const IN_HAND_RECORDS: usize = 5;
/// The call in hand was made here: 1, and what it returned (a value, or
/// minus an errno), for the standby to answer instead of making it again.
const IN_HAND_MADE: usize = 6;
const IN_HAND_RESULT: usize = 7;
const NEXT_PARKED: usize = 8;
const PARKED: usize = 9; // PARKED_SLOTS × (id, tid)
const WORDS: usize = PARKED + 2 * PARKED_SLOTS;

/// No notification (ids are random 64-bit numbers; 0 stands for none).
const NONE: u64 = 0;

/// What a handler holds, shared with its standby (a `MAP_SHARED` page that
/// both processes map after the fork).
pub struct Held {
    words: &'static [AtomicU64],
}

/// A call a dead handler left unanswered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// Its notification id.
    pub id: u64,
    /// The waiting thread, when the handler published it.
    pub tid: Option<i32>,
    /// The handler made the call already: what it returned (a value, or
    /// minus an errno), to answer with.
    pub made: Option<i64>,
}

impl Held {
    /// A fresh shared page.
    pub fn new() -> io::Result<Held> {
        let len = WORDS * std::mem::size_of::<u64>();
        // SAFETY: a new anonymous shared mapping, zero-filled, never unmapped
        // (it lives as long as the process).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `len` bytes of zeroed, page-aligned memory, valid for the
        // life of the process; AtomicU64 has u64's layout.
        let words = unsafe { std::slice::from_raw_parts(p.cast::<AtomicU64>(), WORDS) };
        Ok(Held { words })
    }

    fn set(&self, at: usize, v: u64) {
        self.words[at].store(v, Ordering::Release);
    }
    fn get(&self, at: usize) -> u64 {
        self.words[at].load(Ordering::Acquire)
    }

    /// The handler received notification `id` of thread `tid`.
    pub fn received(&self, id: u64, tid: i32) {
        self.set(LAST_ID, id);
        self.set(IN_HAND + 1, tid as u32 as u64);
        self.set(IN_HAND, id);
    }

    /// The notification in hand is answered.
    pub fn answered(&self) {
        self.set(IN_HAND_MADE, 0);
        self.set(IN_HAND_RECORDS, 0);
        self.set(IN_HAND, NONE);
    }

    /// The notification in hand is answered later, by a thread of the
    /// handler.
    pub fn parked(&self) {
        let id = self.get(IN_HAND);
        if id != NONE {
            let slot = (self.get(NEXT_PARKED) as usize) % PARKED_SLOTS;
            self.set(PARKED + 2 * slot + 1, self.get(IN_HAND + 1));
            self.set(PARKED + 2 * slot, id);
            self.set(NEXT_PARKED, (slot + 1) as u64);
        }
        self.answered();
    }

    /// The call in hand was made here and returned `result` (a value, or
    /// minus an errno): not to be made again.
    pub fn made(&self, result: i64) {
        self.set(IN_HAND_RESULT, result as u64);
        self.set(IN_HAND_MADE, 1);
    }

    /// Records of calls that ran (or are about to), not yet sent.
    pub fn unsent(&self, n: usize) {
        self.set(UNSENT, n as u64);
    }

    /// About to answer the notification in hand: `unsent` records are not
    /// sent yet, `of_it` of them the records of that call (which is not
    /// lost if it was never answered: the standby handles it again).
    pub fn answering(&self, unsent: usize, of_it: usize) {
        self.set(IN_HAND_RECORDS, of_it as u64);
        self.set(UNSENT, unsent as u64);
    }

    /// How many records of calls that ran died with the handler, given
    /// what [`Held::stuck`] found still waiting. (One more when it died
    /// in the instant between sending a record and counting it sent.)
    pub fn lost(&self, stuck: &[Stuck]) -> u64 {
        let unsent = self.get(UNSENT);
        let in_hand = self.get(IN_HAND);
        // Handled again, the call in hand is recorded again; answered with
        // what the handler made, it is not.
        if in_hand != NONE && stuck.iter().any(|s| s.id == in_hand && s.made.is_none()) {
            unsent.saturating_sub(self.get(IN_HAND_RECORDS))
        } else {
            unsent
        }
    }

    /// The handler finished on its own (no process uses the filter any
    /// more): the standby has nothing to take over.
    pub fn finished(&self) {
        self.set(FINISHED, 1);
    }

    /// The calls still waiting for an answer the handler would have given:
    /// the one it held, those its threads were to answer, and the one or
    /// two it may have received without publishing them yet. Only those the
    /// kernel still has as received and unanswered (`NOTIF_ID_VALID`).
    pub fn stuck(&self, listener: &impl AsRawFd) -> Vec<Stuck> {
        let mut out: Vec<Stuck> = Vec::new();
        let mut add = |id: u64, tid: Option<i32>, made: Option<i64>| {
            if id != NONE && !out.iter().any(|s| s.id == id) && valid(listener, id) {
                out.push(Stuck { id, tid, made });
            }
        };
        let tid_at = |at: usize| Some(self.get(at) as u32 as i32);
        let made = (self.get(IN_HAND_MADE) == 1).then(|| self.get(IN_HAND_RESULT) as i64);
        add(self.get(IN_HAND), tid_at(IN_HAND + 1), made);
        for slot in 0..PARKED_SLOTS {
            add(
                self.get(PARKED + 2 * slot),
                tid_at(PARKED + 2 * slot + 1),
                None,
            );
        }
        // Ids follow one another: one received after the last published.
        let last = self.get(LAST_ID);
        if last != NONE {
            for next in 1..=2 {
                add(last.wrapping_add(next), None, None);
            }
        }
        out
    }
}

/// Whether notification `id` was received and is not answered yet.
fn valid(listener: &impl AsRawFd, id: u64) -> bool {
    let mut id = id;
    // SAFETY: the ioctl reads one u64.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &mut id,
        ) == 0
    }
}

/// What [`split`] returns in each process.
pub enum Split {
    /// The handler: hold `alive` until the process ends (its closing is
    /// how the standby learns that the handler is gone); `standby` is the
    /// standby's pid.
    Handler { alive: OwnedFd, standby: i32 },
    /// The standby, once the handler died: serve in its place.
    TookOver,
}

/// Fork the standby. Call it while the process has one thread (the
/// standby is a copy of it), after the listener is in hand and before the
/// first notification is received; publish into `held` from then on. In
/// the standby, returns only when the handler died without finishing; the
/// standby exits (0) when the handler finished.
pub fn split(held: &Held) -> io::Result<Split> {
    let mut ends = [0; 2];
    // SAFETY: pipe2 into a local array.
    if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are new and ours.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
    // SAFETY: the caller has one thread; the child only reads a pipe before
    // it goes on as a copy of this process.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            drop(write);
            let mut byte = 0u8;
            loop {
                // SAFETY: one byte into a local.
                let n = unsafe { libc::read(read.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) };
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            if held.get(FINISHED) != 0 {
                std::process::exit(0);
            }
            Ok(Split::TookOver)
        }
        standby => Ok(Split::Handler {
            alive: write,
            standby,
        }),
    }
}

/// The call thread `tid` is blocked in, as a notification would carry it
/// (`/proc/TID/syscall`: number, six arguments, stack and instruction
/// pointers), or `None` when it is in none (it went away, or runs).
pub fn call_of(tid: i32) -> Option<(i32, [u64; 6], u64)> {
    let text = std::fs::read_to_string(format!("/proc/{tid}/syscall")).ok()?;
    parse_syscall(&text)
}

fn parse_syscall(text: &str) -> Option<(i32, [u64; 6], u64)> {
    let mut words = text.split_whitespace();
    let nr: i32 = words.next()?.parse().ok()?;
    if nr < 0 {
        return None;
    }
    let hex = |w: &str| u64::from_str_radix(w.trim_start_matches("0x"), 16).ok();
    let mut args = [0u64; 6];
    for a in &mut args {
        *a = hex(words.next()?)?;
    }
    let _sp = words.next()?;
    let ip = hex(words.next()?)?;
    Some((nr, args, ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_call_is_read_from_its_proc_line() {
        let line = "257 0xffffff9c 0x7ffd1234 0x0 0x0 0x0 0x0 0x7ffd0000 0x7f00aa\n";
        assert_eq!(
            parse_syscall(line),
            Some((257, [0xffffff9c, 0x7ffd1234, 0, 0, 0, 0], 0x7f00aa))
        );
        assert_eq!(parse_syscall("running\n"), None);
        assert_eq!(parse_syscall("-1 0x7ffd0000 0x7f00aa\n"), None);
    }

    #[test]
    fn the_held_page_names_what_a_dead_handler_left() {
        let held = Held::new().unwrap();
        held.received(41, 100);
        held.parked();
        held.received(42, 101);
        assert_eq!(held.get(IN_HAND), 42);
        assert_eq!(held.get(PARKED), 41);
        assert_eq!(held.get(PARKED + 1), 100);
        held.answered();
        assert_eq!(held.get(IN_HAND), NONE);
        assert_eq!(held.get(LAST_ID), 42);
        held.received(43, 102);
        held.answering(7, 2);
        let mut stuck = [Stuck {
            id: 43,
            tid: Some(102),
            made: None,
        }];
        assert_eq!(held.lost(&stuck), 5, "the call in hand is handled again");
        assert_eq!(held.lost(&[]), 7, "the call in hand ran");
        stuck[0].made = Some(0);
        assert_eq!(
            held.lost(&stuck),
            7,
            "the call in hand was made: answered as it was"
        );
    }
}
