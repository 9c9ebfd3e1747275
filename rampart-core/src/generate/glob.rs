//! Rampart's glob semantics, as far as the generator needs them to check its
//! own output: which observed calls a generated pattern admits, which
//! patterns another pattern covers, what the always-deny set catches.
//!
//! Two kinds, as in Go Rampart and `../shared/compat/rampart/glob-cases.yaml`:
//! [`command_glob`] (`command_matches`, `url_matches`, `domain_matches`: a
//! trailing `*` takes the rest of the input, a leading `*` makes the pattern
//! a sequence of substrings, `**` crosses `/`, otherwise `*` stops at `/`) and
//! [`path_glob`] (`path_matches`: `*` never crosses `/`, `**` does).
//! This module decides nothing about policies; the engine does. It must never
//! be used to enforce: it is a checker for the generator.

use globset::{GlobBuilder, GlobMatcher};

/// Longest input Rampart compares; longer inputs are cut.
pub const MAX_INPUT_LEN: usize = 8192;
/// Longest pattern Rampart accepts.
pub const MAX_PATTERN_LEN: usize = 8192;
/// Longest pattern holding `**` that Rampart accepts.
pub const MAX_DOUBLE_STAR_PATTERN_LEN: usize = 256;

/// Rampart's `MatchGlob`: the semantics of command, URL and domain patterns.
pub fn command_glob(pattern: &str, input: &str) -> bool {
    if pattern.is_empty() || pattern.len() > MAX_PATTERN_LEN {
        return false;
    }
    if pattern == "*" {
        return true;
    }
    let input = cut(input, MAX_INPUT_LEN);
    let pattern = pattern.replace('\\', "/");
    let input = input.replace('\\', "/");
    if pattern.contains("**") {
        if pattern.matches("**").count() > 2 || pattern.len() > MAX_DOUBLE_STAR_PATTERN_LEN {
            return false;
        }
        return double_star(&pattern, &input);
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        if input.starts_with(prefix) {
            return true;
        }
    }
    if pattern.starts_with('*') {
        return substrings_in_order(&pattern, &input);
    }
    segment_match(&pattern, &input)
}

/// Path-pattern semantics: `*`, `?` and classes stay within one segment,
/// `**` spans segments (`**/x` also matches `x`).
pub fn path_glob(pattern: &str, path: &str) -> bool {
    match PathGlob::new(pattern) {
        Some(g) => g.is_match(path),
        None => false,
    }
}

/// A compiled path pattern.
#[derive(Clone, Debug)]
pub struct PathGlob {
    matcher: GlobMatcher,
}

impl PathGlob {
    /// Compiles `pattern`; `None` when it is not a valid glob (Rampart
    /// leaves such a pattern inert: it matches nothing).
    pub fn new(pattern: &str) -> Option<PathGlob> {
        if pattern.is_empty() || pattern.matches("**").count() > 2 {
            return None;
        }
        let matcher = GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(false)
            .build()
            .ok()?
            .compile_matcher();
        Some(PathGlob { matcher })
    }

    pub fn is_match(&self, path: &str) -> bool {
        self.matcher.is_match(path)
    }
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn double_star(pattern: &str, name: &str) -> bool {
    let (prefix, suffix) = pattern.split_once("**").expect("pattern holds **");
    if !prefix.is_empty() && !name.starts_with(prefix) {
        return false;
    }
    if suffix.is_empty() {
        return true;
    }
    let rest = &name[prefix.len()..];
    if suffix.contains("**") {
        return boundaries(rest).any(|i| double_star(suffix, &rest[i..]));
    }
    if prefix.is_empty() {
        if let Some(trimmed) = suffix.strip_prefix('/') {
            if segment_match(trimmed, rest) {
                return true;
            }
        }
    }
    boundaries(rest)
        .take(10_001)
        .any(|i| segment_match(suffix, &rest[i..]))
}

fn boundaries(s: &str) -> impl Iterator<Item = usize> + '_ {
    (0..=s.len()).filter(move |&i| s.is_char_boundary(i))
}

fn substrings_in_order(pattern: &str, name: &str) -> bool {
    let mut rest = name;
    for part in pattern.split('*').filter(|p| !p.is_empty()) {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Go's `filepath.Match`: `*` and `?` never match `/`; `[...]` classes with
/// `^` negation and ranges; a malformed pattern matches nothing.
pub(crate) fn segment_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n).unwrap_or(false)
}

fn match_from(p: &[char], n: &[char]) -> Option<bool> {
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' if ni < n.len() && n[ni] != '/' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' if ni < n.len() => {
                    let (matched, next) = class(p, pi, n[ni])?;
                    if matched && n[ni] != '/' {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
                '[' => {
                    class(p, pi, 'a')?;
                }
                c if c != '?' && ni < n.len() && c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        } else if ni == n.len() {
            return Some(true);
        }
        match star {
            Some((sp, sn)) if sn < n.len() && n[sn] != '/' => {
                star = Some((sp, sn + 1));
                pi = sp + 1;
                ni = sn + 1;
            }
            _ => {
                // Validate the rest of the pattern, as Go reports a malformed
                // class even after a mismatch.
                let mut i = pi;
                while i < p.len() {
                    if p[i] == '[' {
                        i = class(p, i, 'a')?.1;
                    } else {
                        i += 1;
                    }
                }
                return Some(false);
            }
        }
    }
}

/// Parses the class starting at `p[start] == '['`; returns whether `c` is
/// in it and the index after the class. `None` when malformed.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&h| h != ']') {
            hi = p[i + 1];
            i += 2;
        }
        if lo > hi {
            return None;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
    Some((matched != negated, i))
}

/// Whether `s` holds a character that is special in either glob kind.
pub fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '[', ']', '\\', '{', '}'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_filepath_match_basics() {
        assert!(segment_match("a*c", "abc"));
        assert!(!segment_match("a*c", "a/c"));
        assert!(segment_match("a?c", "abc"));
        assert!(!segment_match("a?c", "a/c"));
        assert!(segment_match("[a-c]x", "bx"));
        assert!(!segment_match("[^a-c]x", "bx"));
        assert!(!segment_match("[", "["));
        assert!(segment_match("exact", "exact"));
    }

    #[test]
    fn path_kind_keeps_star_within_a_segment() {
        assert!(path_glob("/a/*", "/a/b"));
        assert!(!path_glob("/a/*", "/a/b/c"));
        assert!(path_glob("/a/**", "/a/b/c"));
        assert!(path_glob("**/.ssh/**", "/home/u/.ssh/id_rsa"));
        assert!(path_glob("/proc/*/environ", "/proc/12/environ"));
    }
}
