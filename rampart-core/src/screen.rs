//! The path screen: which opens the policy in force could refuse (and
//! which mutations: each of their paths is screened as the tool it is
//! decided as, see `event::Event::path_checks`).
//!
//! In enforce mode an open waits for the collector's verdict, a round trip
//! that costs more than the open itself. Most opens cannot be refused by
//! any policy worth running (`grep -r` over a source tree against a policy
//! that guards `~/.ssh` and `.env` files), and the engine can say so:
//! [`crate::policy::Engine::refusal_literals`] names literals that every
//! refusable path contains. The collector turns them into a screen ([`build`],
//! published in the policy generation file, see
//! [`crate::generation`]) and the preload library tests each path
//! against it ([`passes`]): a path that passes needs no verdict and is
//! reported after the call, as in monitor mode.
//!
//! A screen is [`SCREEN_LEN`] bytes: a bitmap of the literals' first two
//! bytes (bit `b0 << 8 | b1`), the length of the literal area, then each
//! literal as a little-endian `u16` length and its bytes. Only a path that
//! is absolute, already clean (no `//`, `.` or `..` component, no trailing
//! `/`), UTF-8, free of `\` (globs read it as `/`) and contains no literal passes:
//! then every spelling the engine matches (the path, its cwd-relative
//! suffix) contains none either. [`passes`] reads a mapping that the
//! collector may be rewriting: it never panics or reads out of bounds
//! whatever the bytes say (the caller discards a torn read), and it
//! allocates nothing.
//!
//! A policy that refuses whatever it does not allow (a learned one) could
//! refuse any path, so no literal stands for its refusals. For it the
//! screen holds the literals of its refusing rules, and a list of
//! [`Place`]s goes with it: the files and directories its allow rules open
//! whole ([`crate::policy::Engine::opened_places`]). A path then needs no
//! verdict when it passes the screen and lies in a place ([`in_places`]).

/// Bytes of the first-bigram bitmap.
const BITMAP_LEN: usize = 8192;
/// Bytes of one screen.
pub const SCREEN_LEN: usize = BITMAP_LEN + 4 + 16380;
/// Room for the literals: each takes its length plus two bytes.
const AREA_CAP: usize = SCREEN_LEN - BITMAP_LEN - 4;

/// Encode `literals` as a screen, or `None` when they do not fit or one is
/// shorter than two bytes (it would stop nearly every path anyway).
#[cfg(feature = "event")]
pub fn build(literals: &[String]) -> Option<Vec<u8>> {
    let mut screen = vec![0u8; SCREEN_LEN];
    let mut at = BITMAP_LEN + 4;
    for lit in literals {
        let b = lit.as_bytes();
        if b.len() < 2 || at + 2 + b.len() > SCREEN_LEN {
            return None;
        }
        let bigram = usize::from(b[0]) << 8 | usize::from(b[1]);
        screen[bigram >> 3] |= 1 << (bigram & 7);
        screen[at..at + 2].copy_from_slice(&(b.len() as u16).to_le_bytes());
        screen[at + 2..at + 2 + b.len()].copy_from_slice(b);
        at += 2 + b.len();
    }
    let used = (at - BITMAP_LEN - 4) as u32;
    screen[BITMAP_LEN..BITMAP_LEN + 4].copy_from_slice(&used.to_le_bytes());
    Some(screen)
}

/// Whether an open of `path` (as the interceptors report it: absolute and
/// cleaned) passes `screen`, i.e. the policy that built it cannot refuse it.
pub fn passes(screen: &[u8], path: &[u8]) -> bool {
    let (Some(bitmap), Some(used)) = (
        screen.get(..BITMAP_LEN),
        screen.get(BITMAP_LEN..BITMAP_LEN + 4),
    ) else {
        return false;
    };
    let used = u32::from_le_bytes([used[0], used[1], used[2], used[3]]) as usize;
    let Some(area) = screen.get(BITMAP_LEN + 4..BITMAP_LEN + 4 + used.min(AREA_CAP)) else {
        return false;
    };
    if path.first() != Some(&b'/') {
        return false;
    }
    // A name that is not UTF-8 is recorded and matched escaped (`%XX`, see
    // `event::name_from_bytes`), a spelling the literals cannot be looked
    // for in the raw bytes: the collector decides it.
    if core::str::from_utf8(path).is_err() {
        return false;
    }
    // The literals are looked for in the clean spelling the engine
    // decides on (where `\` reads as `/`): any other goes to the collector.
    if !crate::path::is_clean(path) || path.contains(&b'\\') {
        return false;
    }
    for (i, &b) in path.iter().enumerate() {
        if let Some(&next) = path.get(i + 1) {
            let bigram = usize::from(b) << 8 | usize::from(next);
            let hit = bitmap
                .get(bigram >> 3)
                .is_some_and(|m| m & (1 << (bigram & 7)) != 0);
            if hit && literal_at(area, &path[i..]) {
                return false;
            }
        }
    }
    true
}

/// A place a policy opens whole ([`crate::policy::Engine::opened_places`]):
/// the file `path` (`under` false), or everything beneath the directory
/// `path` (`under`: `path/**`). Both absolute and clean.
#[cfg(feature = "event")]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub path: String,
    pub under: bool,
}

#[cfg(feature = "event")]
impl Place {
    /// The paths in both `self` and `other`, as a place, when there are any.
    pub fn meet(&self, other: &Place) -> Option<Place> {
        // Whether `inner` is `outer` or beneath it.
        let within = |inner: &str, outer: &str| {
            inner == outer
                || outer == "/"
                || (inner.starts_with(outer) && inner.as_bytes().get(outer.len()) == Some(&b'/'))
        };
        let beneath = |inner: &str, outer: &str| inner != outer && within(inner, outer);
        match (self.under, other.under) {
            (true, true) if within(&self.path, &other.path) => Some(self.clone()),
            (true, true) if within(&other.path, &self.path) => Some(other.clone()),
            (false, false) if self.path == other.path => Some(self.clone()),
            (false, true) if beneath(&self.path, &other.path) => Some(self.clone()),
            (true, false) if beneath(&other.path, &self.path) => Some(other.clone()),
            _ => None,
        }
    }
}

/// Bytes of one list of places: the length of the entries, then each as a
/// byte (1: beneath the directory, 0: the file), a little-endian `u16`
/// length and the path's bytes.
pub const PLACES_LEN: usize = 16384;

/// Encode `places` as a list of places, or `None` when they do not fit or
/// one is not absolute and clean.
#[cfg(feature = "event")]
pub fn build_places(places: &[Place]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; PLACES_LEN];
    let mut at = 4;
    for place in places {
        let b = place.path.as_bytes();
        if !b.starts_with(b"/") || !crate::path::is_clean(b) || at + 3 + b.len() > PLACES_LEN {
            return None;
        }
        out[at] = u8::from(place.under);
        out[at + 1..at + 3].copy_from_slice(&(b.len() as u16).to_le_bytes());
        out[at + 3..at + 3 + b.len()].copy_from_slice(b);
        at += 3 + b.len();
    }
    out[..4].copy_from_slice(&((at - 4) as u32).to_le_bytes());
    Some(out)
}

/// Whether `path` is one of the files of the list `places`, or lies beneath
/// one of its directories (not the directory itself). The caller has
/// checked the path as [`passes`] does (absolute, clean); same guarantees:
/// never panics or reads out of bounds whatever the bytes, allocates
/// nothing.
pub fn in_places(places: &[u8], path: &[u8]) -> bool {
    let Some(used) = places.get(..4) else {
        return false;
    };
    let used = u32::from_le_bytes([used[0], used[1], used[2], used[3]]) as usize;
    let Some(area) = places.get(4..4 + used.min(PLACES_LEN - 4)) else {
        return false;
    };
    let mut at = 0;
    while let Some(head) = area.get(at..at + 3) {
        let len = usize::from(u16::from_le_bytes([head[1], head[2]]));
        let Some(place) = area.get(at + 3..at + 3 + len) else {
            return false;
        };
        let hit = if head[0] == 0 {
            path == place
        } else if place == b"/" {
            path.len() > 1 && path[0] == b'/'
        } else {
            path.len() > place.len() + 1 && path.starts_with(place) && path[place.len()] == b'/'
        };
        if hit && !place.is_empty() {
            return true;
        }
        at += 3 + len;
    }
    false
}

/// Whether moving the directory `path` (a rename of it) moves nothing the
/// policy that built `screen` names by where it is: no literal of the
/// screen starts with `path` and a `/` (`/home/u/.ssh/` for a policy that
/// guards `~/.ssh/**`, beneath `/home/u`), and none spells the directory's
/// own name as a directory (`.aws/credentials` for `**/.aws/credentials`:
/// `mv ~/.aws ~/a2` moves the file out of that pattern's reach). Such a
/// rename is decided by the collector, which asks whether those rules
/// refuse what lies there (`Engine::anchored_beneath`). Same guarantees as
/// [`passes`]: never panics, allocates nothing.
pub fn moves_nothing(screen: &[u8], path: &[u8]) -> bool {
    let Some(used) = screen.get(BITMAP_LEN..BITMAP_LEN + 4) else {
        return false;
    };
    let used = u32::from_le_bytes([used[0], used[1], used[2], used[3]]) as usize;
    let Some(area) = screen.get(BITMAP_LEN + 4..BITMAP_LEN + 4 + used.min(AREA_CAP)) else {
        return false;
    };
    let dir = match path.strip_suffix(b"/") {
        Some(d) => d,
        None => path,
    };
    let name = dir.rsplit(|&b| b == b'/').next().unwrap_or(dir);
    let mut at = 0;
    while let Some(len) = area.get(at..at + 2) {
        let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
        let Some(lit) = area.get(at + 2..at + 2 + len) else {
            return false;
        };
        if lit.len() > dir.len() && lit.starts_with(dir) && lit[dir.len()] == b'/' {
            return false;
        }
        if spells_directory(lit, name) {
            return false;
        }
        at += 2 + len;
    }
    true
}

/// Whether `lit` holds `name` as a whole directory name (`name/`, at its
/// start or after a `/`).
fn spells_directory(lit: &[u8], name: &[u8]) -> bool {
    !name.is_empty()
        && lit.windows(name.len() + 1).enumerate().any(|(i, w)| {
            w.starts_with(name) && w[name.len()] == b'/' && (i == 0 || lit[i - 1] == b'/')
        })
}

/// Whether some literal of `area` starts `text`.
fn literal_at(area: &[u8], text: &[u8]) -> bool {
    let mut at = 0;
    while let Some(len) = area.get(at..at + 2) {
        let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
        let Some(lit) = area.get(at + 2..at + 2 + len) else {
            return false;
        };
        if text.starts_with(lit) {
            return true;
        }
        at += 2 + len;
    }
    false
}

#[cfg(all(test, feature = "full"))]
mod tests {
    use super::*;

    fn screen(lits: &[&str]) -> Vec<u8> {
        build(&lits.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn a_rename_of_a_directory_a_literal_spells_is_stopped() {
        let s = screen(&[".aws/credentials", "/.kube/config"]);
        for spelled in ["/home/u/.aws", "/w/.kube/", "/.aws"] {
            assert!(!moves_nothing(&s, spelled.as_bytes()), "{spelled}");
        }
        for aside in ["/home/u/aws", "/home/u/x.aws", "/w/.kube2", "/w/config"] {
            assert!(moves_nothing(&s, aside.as_bytes()), "{aside}");
        }
    }

    #[test]
    fn a_rename_above_a_guarded_place_is_stopped() {
        let s = screen(&["/home/u/.ssh/", ".env"]);
        for above in ["/home/u/.ssh", "/home/u", "/home", "/home/u/"] {
            assert!(!moves_nothing(&s, above.as_bytes()), "{above}");
        }
        for aside in ["/home/u/.sshx", "/home/v", "/tmp/a", "/home/u/.ssh/id_rsa"] {
            assert!(moves_nothing(&s, aside.as_bytes()), "{aside}");
        }
    }

    #[test]
    fn a_path_with_a_literal_is_stopped() {
        let s = screen(&[".ssh/id_", ".env", "/etc/shadow"]);
        assert!(!passes(&s, b"/home/u/.ssh/id_rsa"));
        assert!(!passes(&s, b"/home/u/p/.env"));
        assert!(!passes(&s, b"/home/u/p/.envrc"));
        assert!(!passes(&s, b"/etc/shadow"));
        assert!(passes(&s, b"/home/u/.ssh/known_hosts"));
        assert!(passes(&s, b"/usr/include/stdio.h"));
        assert!(passes(&s, b"/"));
        assert!(passes(&screen(&[]), b"/etc/shadow"));
    }

    #[test]
    fn only_clean_absolute_paths_pass() {
        let s = screen(&["secret"]);
        for p in [
            &b"rel/path"[..],
            b"",
            b"/a//b",
            b"/a/./b",
            b"/a/../b",
            b"/a/..",
            b"/a/.",
            b"/a/",
            b"/a\\b",
            b"/a/caf\xe9",
        ] {
            assert!(!passes(&s, p), "{}", String::from_utf8_lossy(p));
        }
        assert!(passes(&s, b"/a/.b/..c/b."));
    }

    #[test]
    fn literals_that_cannot_screen_are_refused() {
        assert!(build(&["x".to_string()]).is_none());
        assert!(build(&["ab".repeat(9000)]).is_none());
        let many: Vec<String> = (0..2000).map(|i| format!("literal-{i}")).collect();
        assert!(build(&many).is_none());
    }

    #[test]
    fn a_path_is_in_a_place_when_it_is_the_file_or_beneath_the_directory() {
        let place = |path: &str, under| Place {
            path: path.into(),
            under,
        };
        let p = build_places(&[place("/usr/lib", true), place("/etc/ld.so.cache", false)]).unwrap();
        for inside in ["/usr/lib/x", "/usr/lib/a/b.so", "/etc/ld.so.cache"] {
            assert!(in_places(&p, inside.as_bytes()), "{inside}");
        }
        for outside in [
            "/usr/lib",
            "/usr/library/x",
            "/usr/li",
            "/etc/ld.so.cache2",
            "/etc",
            "/",
        ] {
            assert!(!in_places(&p, outside.as_bytes()), "{outside}");
        }
        let root = build_places(&[place("/", true)]).unwrap();
        assert!(in_places(&root, b"/a"));
        assert!(!in_places(&root, b"/"));
        assert!(!in_places(&build_places(&[]).unwrap(), b"/a"));
        for bad in ["rel", "/a/../b", "/a/"] {
            assert!(build_places(&[place(bad, true)]).is_none(), "{bad}");
        }
        // A torn list never panics or reads past itself.
        let mut torn = p.clone();
        torn[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let _ = in_places(&torn, b"/usr/lib/x");
        torn[5..7].copy_from_slice(&u16::MAX.to_le_bytes());
        let _ = in_places(&torn, b"/usr/lib/x");
        assert!(!in_places(&p[..3], b"/usr/lib/x"));
    }

    #[test]
    fn a_torn_screen_never_panics() {
        let mut s = screen(&[".ssh/", ".env"]);
        s[BITMAP_LEN..BITMAP_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let _ = passes(&s, b"/home/u/.ssh/x");
        let last = BITMAP_LEN + 4;
        s[last..last + 2].copy_from_slice(&u16::MAX.to_le_bytes());
        let _ = passes(&s, b"/home/u/.ssh/x");
        assert!(!passes(&s[..100], b"/x"));
    }
}
