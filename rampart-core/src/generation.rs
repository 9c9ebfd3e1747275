//! The policy generation file (named by `RAMPART_POLICY_GEN`): the
//! collector's word to every enforcing process about the policy in force.
//! This module owns its layout and its one question ("can the policy refuse
//! this call?"); the collector writes the file through a shared mapping, the
//! preload library maps it read-only, and `rampart __trace-exec` reads it
//! with `pread`, all three through the functions here.
//!
//! Little-endian `u64` words, each written atomically by the collector and
//! read the same way by the library, then two path screens
//! ([`crate::screen`]):
//!
//! ```text
//! word 0 (GENERATION)  even, FIRST at start, bumped by 2 after every policy
//!                      change; odd while the collector rewrites the file
//! word 1 (FREE)        TOOL_* bits: tools the policy in force can never
//!                      refuse (no call of theirs needs to wait)
//! word 2 (SCREENED)    TOOL_* bits (READ, WRITE): tools whose screen below
//!                      is in force
//! word 3 (LINKED)      how many entries the table of other names holds
//! word 4 (OPENED)      TOOL_* bits (READ, WRITE) of screened tools whose
//!                      places below are in force too
//! byte SCREENS_AT      the screen of `read`, then the screen of `write`
//! byte LINKED_AT       LINKED_MAX entries: dev, inode, the name's offset
//!                      in the name area and its length (u32 each), 0
//! byte NAMES_AT        the names the entries point into
//! byte PLACES_AT       the places of `read`, then the places of `write`
//! ```
//!
//! A screen says what every path the policy could refuse contains. A
//! policy that refuses whatever it does not allow (a learned one: a
//! refusing default, or a last rule that refuses every call left) could
//! refuse any path; for it the collector publishes the literals of its
//! refusing rules as the screen and, as the tool's places, the files and
//! directories its allow rules open whole ([`crate::screen::Place`],
//! `policy::Engine::opened_places`): a path passes when it contains no
//! literal and lies in a place.
//!
//! The table of other names answers a question the screens cannot: a file
//! the policy refuses by its name (`~/.ssh/id_rsa`) that has a second,
//! hard link name (`/tmp/notes`, made before the run) would be opened by
//! that name with nothing to refuse. The collector lists the refusable
//! files that have more than one link, by device and inode, with the name
//! the policy refuses them by ([`linked_name`]); an interceptor that
//! reaches a file with more than one link looks it up and decides the call
//! on that name too (as `resolved`).
//!
//! A reader takes the generation, reads what it needs and takes the
//! generation again: the read counts only when both are the same even
//! number. Verdict-free bits read on their own may belong to the policy
//! before or after a concurrent change, as may any verdict.
//!
//! `no_std`, allocation-free and panic-free: the library calls it in hooks.
//! It never opens, maps or writes the file itself.

use core::ops::Range;

use crate::screen::{self, PLACES_LEN, SCREEN_LEN};
use crate::tool::{TOOL_READ, TOOL_WRITE};

/// Word index of the generation.
pub const GENERATION: usize = 0;
/// Word index of the verdict-free tool bits.
pub const FREE: usize = 1;
/// Word index of the screened tool bits.
pub const SCREENED: usize = 2;
/// Word index of the number of entries in the table of other names.
pub const LINKED: usize = 3;
/// Word index of the tools whose places are in force.
pub const OPENED: usize = 4;
/// Byte offset of the first path screen.
pub const SCREENS_AT: usize = 64;
/// Byte offset of the table of other names.
pub const LINKED_AT: usize = SCREENS_AT + 2 * SCREEN_LEN;
/// Most entries in the table of other names.
pub const LINKED_MAX: usize = 64;
/// Bytes of one entry: dev, inode, name offset and length.
const LINKED_ENTRY: usize = 24;
/// Byte offset of the name area.
pub const NAMES_AT: usize = LINKED_AT + LINKED_MAX * LINKED_ENTRY;
/// Bytes of the name area.
pub const NAMES_LEN: usize = 16384;
/// Byte offset of the places of `read` (those of `write` follow).
pub const PLACES_AT: usize = NAMES_AT + NAMES_LEN;
/// The file's length: a reader insists on all of it before it maps it.
pub const LEN: usize = PLACES_AT + 2 * PLACES_LEN;
/// The generation a new file starts at.
pub const FIRST: u64 = 2;

/// Which path screen a tool has: `read`'s is the first, `write`'s the
/// second; other tools have none.
pub fn screen_index(tool: u64) -> Option<usize> {
    match tool {
        TOOL_READ => Some(0),
        TOOL_WRITE => Some(1),
        _ => None,
    }
}

/// The bytes of screen `i` in the file.
pub fn screen_range(i: usize) -> Range<usize> {
    let at = SCREENS_AT + i * SCREEN_LEN;
    at..at + SCREEN_LEN
}

/// The bytes of the places of the tool with screen `i` in the file.
pub fn places_range(i: usize) -> Range<usize> {
    let at = PLACES_AT + i * PLACES_LEN;
    at..at + PLACES_LEN
}

/// Word `i` of a copy of the file (0 past its end).
pub fn word(file: &[u8], i: usize) -> u64 {
    file.get(i * 8..i * 8 + 8).map_or(0, |w| {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        u64::from_le_bytes(b)
    })
}

/// Whether the policy cannot refuse a call of `tool` (one `TOOL_*` bit) on
/// `path`: the tool is verdict-free, or its screen is in force and the path
/// passes it, and lies in one of its places when those are in force (word
/// [`OPENED`] of `file`). `free` and `screened` are words [`FREE`] and
/// [`SCREENED`]; `file` is the whole file. The caller validates the answer
/// with the generation.
pub fn passes(free: u64, screened: u64, file: &[u8], tool: u64, path: &[u8]) -> bool {
    let opened = free & tool == 0 && word(file, OPENED) & tool != 0;
    by_screen(free, screened, file, tool, |s| screen::passes(s, path))
        && (!opened
            || screen_index(tool)
                .and_then(|i| file.get(places_range(i)))
                .is_some_and(|p| screen::in_places(p, path)))
}

/// `true` for a verdict-free tool, `false` for one without a screen in
/// force, else what `test` says of its screen.
fn by_screen(
    free: u64,
    screened: u64,
    file: &[u8],
    tool: u64,
    test: impl FnOnce(&[u8]) -> bool,
) -> bool {
    if free & tool != 0 {
        return true;
    }
    if screened & tool == 0 {
        return false;
    }
    screen_index(tool)
        .and_then(|i| file.get(screen_range(i)))
        .is_some_and(test)
}

/// Whether a rename of `path` moves nothing a refusal of `tool` names by
/// where it is ([`screen::moves_nothing`]): the tool is verdict-free, or
/// its screen is in force and says so, and no places are (under a policy
/// that refuses what it does not allow, a rename can carry files from
/// where they are refused to where they are not: the collector decides).
pub fn moves_nothing(free: u64, screened: u64, file: &[u8], tool: u64, path: &[u8]) -> bool {
    if free & tool == 0 && word(file, OPENED) & tool != 0 {
        return false;
    }
    by_screen(free, screened, file, tool, |s| {
        screen::moves_nothing(s, path)
    })
}

/// The name the policy refuses a file by, when the file with inode `ino`
/// on device `dev` is in the table of other names of `file` (a copy or
/// mapping of the file; the caller validates the answer with the
/// generation). Never panics or reads out of bounds, whatever the bytes.
pub fn linked_name(file: &[u8], dev: u64, ino: u64) -> Option<&[u8]> {
    let n = (word(file, LINKED) as usize).min(LINKED_MAX);
    (0..n).find_map(|i| {
        let at = (LINKED_AT + i * LINKED_ENTRY) / 8;
        if word(file, at) != dev || word(file, at + 1) != ino {
            return None;
        }
        let place = word(file, at + 2);
        let (start, len) = ((place & 0xffff_ffff) as usize, (place >> 32) as usize);
        let names = file.get(NAMES_AT..NAMES_AT + NAMES_LEN)?;
        names
            .get(start..start.checked_add(len)?)
            .filter(|n| !n.is_empty())
    })
}

/// A file the policy refuses by `name`, listed by its device and inode in
/// the table of other names (see [`linked_name`]).
pub struct Linked<'a> {
    pub dev: u64,
    pub ino: u64,
    pub name: &'a [u8],
}

/// Lay out the file in `out` (at least [`LEN`] bytes; nothing is written
/// otherwise): the generation, the verdict-free and screened bits, and the
/// screens of `read` and `write` where given (a screen longer than
/// [`SCREEN_LEN`] is not written and its bit is cleared), with their places
/// where given (a screen with places too long is not written either), and
/// the table of other names: the first [`LINKED_MAX`] of `linked` whose
/// names fit. Returns how many of `linked` it holds.
pub fn write(
    out: &mut [u8],
    generation: u64,
    free: u64,
    screens: [Option<&[u8]>; 2],
    places: [Option<&[u8]>; 2],
    linked: &[Linked<'_>],
) -> usize {
    if out.len() < LEN {
        return 0;
    }
    out[..LEN].fill(0);
    let (mut screened, mut opened) = (0, 0);
    for (i, (tool, s)) in [TOOL_READ, TOOL_WRITE].into_iter().zip(screens).enumerate() {
        let Some(s) = s.filter(|s| s.len() <= SCREEN_LEN) else {
            continue;
        };
        match places[i] {
            Some(p) if p.len() > PLACES_LEN => continue,
            Some(p) => {
                let r = places_range(i);
                out[r.start..r.start + p.len()].copy_from_slice(p);
                opened |= tool;
            }
            None => {}
        }
        let r = screen_range(i);
        out[r.start..r.start + s.len()].copy_from_slice(s);
        screened |= tool;
    }
    let (mut count, mut names) = (0usize, 0usize);
    for l in linked {
        if count == LINKED_MAX || names + l.name.len() > NAMES_LEN {
            break;
        }
        let at = LINKED_AT + count * LINKED_ENTRY;
        let place = (l.name.len() as u64) << 32 | names as u64;
        for (k, w) in [l.dev, l.ino, place].into_iter().enumerate() {
            out[at + k * 8..at + k * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        out[NAMES_AT + names..NAMES_AT + names + l.name.len()].copy_from_slice(l.name);
        names += l.name.len();
        count += 1;
    }
    let words = [generation, free, screened, count as u64, opened];
    for (i, w) in words.into_iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    count
}

#[cfg(all(test, feature = "full"))]
mod tests {
    use super::*;
    use crate::tool::{TOOL_EXEC, TOOL_NET};

    #[test]
    fn what_is_written_is_what_is_read() {
        let read = screen::build(&[".ssh/id_".to_string()]).unwrap();
        let mut file = vec![0u8; LEN];
        write(
            &mut file,
            FIRST,
            TOOL_EXEC | TOOL_WRITE,
            [Some(&read), None],
            [None, None],
            &[Linked {
                dev: 7,
                ino: 42,
                name: b"/home/u/.ssh/id_rsa",
            }],
        );
        assert_eq!(word(&file, GENERATION), FIRST);
        let (free, screened) = (word(&file, FREE), word(&file, SCREENED));
        assert_eq!((free, screened), (TOOL_EXEC | TOOL_WRITE, TOOL_READ));
        let p = |tool, path: &str| passes(free, screened, &file, tool, path.as_bytes());
        assert!(p(TOOL_EXEC, "/bin/ssh"));
        assert!(p(TOOL_WRITE, "/home/u/.ssh/id_rsa"));
        assert!(!p(TOOL_READ, "/home/u/.ssh/id_rsa"));
        assert!(p(TOOL_READ, "/usr/include/stdio.h"));
        assert!(!p(TOOL_NET, "/"), "net is neither free nor screened");
        assert_eq!(linked_name(&file, 7, 42), Some(&b"/home/u/.ssh/id_rsa"[..]));
        assert_eq!(linked_name(&file, 7, 43), None);
        assert_eq!(linked_name(&file, 8, 42), None);
    }

    #[test]
    fn under_places_a_path_passes_when_it_is_in_one_and_holds_no_literal() {
        use crate::screen::{build_places, Place};
        let read = screen::build(&[".env".to_string()]).unwrap();
        let places = build_places(&[Place {
            path: "/w/p".into(),
            under: true,
        }])
        .unwrap();
        let mut file = vec![0u8; LEN];
        write(
            &mut file,
            FIRST,
            0,
            [Some(&read), None],
            [Some(&places), None],
            &[],
        );
        let (free, screened) = (word(&file, FREE), word(&file, SCREENED));
        assert_eq!((screened, word(&file, OPENED)), (TOOL_READ, TOOL_READ));
        let p = |path: &str| passes(free, screened, &file, TOOL_READ, path.as_bytes());
        assert!(p("/w/p/src/main.c"));
        assert!(!p("/w/p/.env"), "a literal of a refusal");
        assert!(!p("/w/q/main.c"), "outside the places");
        assert!(!p("/w/p/../q/main.c"), "not clean");
        // A rename is the collector's to decide where places are in force.
        assert!(!moves_nothing(
            free,
            screened,
            &file,
            TOOL_READ,
            b"/w/p/src"
        ));
        // Places too long for their area leave the tool unscreened.
        let long = vec![0u8; PLACES_LEN + 1];
        write(
            &mut file,
            FIRST,
            0,
            [Some(&read), None],
            [Some(&long), None],
            &[],
        );
        assert_eq!(word(&file, SCREENED) | word(&file, OPENED), 0);
    }

    #[test]
    fn a_short_file_or_buffer_never_passes_or_panics() {
        let mut short = [0u8; 16];
        write(&mut short, 4, 0, [None, None], [None, None], &[]);
        assert_eq!(short, [0u8; 16], "nothing written into a buffer too small");
        assert!(!passes(0, TOOL_READ, &short, TOOL_READ, b"/etc/hosts"));
        assert_eq!(word(&short, 9), 0);
        assert_eq!(linked_name(&short, 0, 0), None);
        // A table that says more than the file holds reads nothing past it.
        let mut lying = vec![0u8; LEN];
        lying[LINKED * 8..LINKED * 8 + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        let at = LINKED_AT + 16;
        lying[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(linked_name(&lying, 0, 0), None);
    }
}
