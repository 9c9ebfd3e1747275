//! Volatile names: the parts of a path or a command word that differ from
//! run to run (pids under `/proc`, random temp names, hashes, UUIDs,
//! dates, versions of `.so` files), replaced by `*` segment by segment.
//!
//! Owns what counts as volatile. It looks at one name at a time: it never
//! decides where a path lives (that is [`super::places`]), never collapses
//! directories and never reads the file system.

pub(super) fn looks_generated(seg: &str) -> bool {
    (6..=16).contains(&seg.len())
        && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && seg.bytes().any(|b| b.is_ascii_digit())
        && seg.bytes().any(|b| b.is_ascii_alphabetic())
}

pub(super) fn normalise_segment(seg: &str, in_proc: bool, out: &mut String) {
    if seg.is_empty() {
        return;
    }
    if in_proc && seg.bytes().all(|b| b.is_ascii_digit()) {
        out.push('*');
        return;
    }
    if has_glob_meta(seg) {
        // A name that is itself glob syntax stays as it is; the caller
        // keeps such paths exact.
        out.push_str(seg);
        return;
    }
    // mkstemp / tempfile names: tmp, tmp.XXXXXX, tmpXXXXXXXX, tmp_XXXX...
    if let Some(rest) = seg.strip_prefix("tmp") {
        let (sep, body) = match rest.chars().next() {
            Some(c @ ('.' | '_' | '-')) => (Some(c), &rest[1..]),
            _ => (None, rest),
        };
        if body.len() >= 5 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            out.push_str("tmp");
            if let Some(c) = sep {
                out.push(c);
            }
            out.push('*');
            return;
        }
    }
    // Versioned shared objects: libfoo.so.1.2.3 -> libfoo.so.*
    if let Some(i) = seg.find(".so.") {
        let version = &seg[i + 4..];
        if !version.is_empty()
            && version
                .split('.')
                .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
        {
            out.push_str(&seg[..i + 4]);
            out.push('*');
            return;
        }
    }
    let start = out.len();
    let tokens = tokens(seg);
    let mut replace = vec![false; tokens.len()];
    // UUIDs: hex tokens 8-4-4-4-12 joined by '-'.
    for i in 0..(tokens.len() + 1).saturating_sub(9) {
        let lens = [8, 4, 4, 4, 12];
        let ok = (0..5).all(|k| {
            let t = &tokens[i + 2 * k];
            t.alnum
                && t.text.len() == lens[k]
                && t.text.bytes().all(|b| b.is_ascii_hexdigit())
                && (k == 4 || tokens[i + 2 * k + 1].text == "-")
        });
        if ok {
            for r in replace.iter_mut().skip(i).take(9) {
                *r = true;
            }
        }
    }
    // Hashes and random tokens.
    for (i, t) in tokens.iter().enumerate() {
        if t.alnum && (looks_random(t.text) || looks_hash(t.text)) {
            replace[i] = true;
        }
    }
    // Numbers: runs of digit tokens joined by - _ : . holding 3+ digits, but
    // not a dotted version (1.2.3, 3.12).
    let mut i = 0;
    while i < tokens.len() {
        if !is_digits(&tokens[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 2 < tokens.len()
            && !tokens[j + 1].alnum
            && tokens[j + 1].text.len() == 1
            && "-_:.".contains(tokens[j + 1].text)
            && is_digits(&tokens[j + 2])
        {
            j += 2;
        }
        let digits: usize = (i..=j).step_by(2).map(|k| tokens[k].text.len()).sum();
        let dotted_version = (i..j).skip(1).step_by(2).all(|k| tokens[k].text == ".")
            && (i..=j).step_by(2).all(|k| tokens[k].text.len() <= 3)
            && j > i;
        if digits >= 3 && !dotted_version {
            for r in replace.iter_mut().take(j + 1).skip(i) {
                *r = true;
            }
        }
        i = j + 1;
    }
    // Emit, merging neighbouring replaced tokens (and what joins them) into
    // one `*`.
    let mut k = 0;
    while k < tokens.len() {
        if replace[k] {
            let mut m = k;
            while m + 2 < tokens.len() && !tokens[m + 1].alnum && replace[m + 2] {
                m += 2;
            }
            out.push('*');
            k = m + 1;
        } else {
            out.push_str(tokens[k].text);
            k += 1;
        }
    }
    if &out[start..] == "*" && seg.len() < 3 {
        out.truncate(start);
        out.push_str(seg);
    }
}

fn has_glob_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

struct Token<'a> {
    text: &'a str,
    alnum: bool,
}

fn tokens(seg: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut alnum = None;
    for (i, c) in seg.char_indices() {
        let a = c.is_ascii_alphanumeric();
        match alnum {
            Some(prev) if prev == a && a => {}
            Some(_) => {
                out.push(Token {
                    text: &seg[start..i],
                    alnum: alnum.unwrap_or(false),
                });
                start = i;
            }
            None => {}
        }
        alnum = Some(a);
    }
    if start < seg.len() {
        out.push(Token {
            text: &seg[start..],
            alnum: alnum.unwrap_or(false),
        });
    }
    out
}

/// Digits, or the digits of an ISO 8601 time around its `T` or before its
/// `Z` (`08T02`, `566Z`: npm's `2026-12-08T02_30_57_566Z-debug-0.log`).
fn is_digits(t: &Token<'_>) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    t.alnum
        && (digits(t.text)
            || t.text
                .split_once('T')
                .is_some_and(|(a, b)| digits(a) && digits(b))
            || t.text.strip_suffix('Z').is_some_and(digits))
}

/// A token mixing letters and digits the way generated names do.
fn looks_random(t: &str) -> bool {
    if t.len() < 6 {
        return false;
    }
    let b = t.as_bytes();
    let has_digit = b.iter().any(u8::is_ascii_digit);
    let has_alpha = b.iter().any(u8::is_ascii_alphabetic);
    if !has_digit || !has_alpha {
        return false;
    }
    let transitions = b
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    let mixed_case = b.iter().any(u8::is_ascii_uppercase) && b.iter().any(u8::is_ascii_lowercase);
    transitions >= 3 || (mixed_case && t.len() >= 8)
}

/// A hex string long enough to be a digest or an identifier.
fn looks_hash(t: &str) -> bool {
    t.len() >= 12
        && t.bytes().all(|b| b.is_ascii_hexdigit())
        && t.bytes().any(|b| b.is_ascii_digit())
        && (t.len() >= 16 || t.bytes().any(|b| b.is_ascii_alphabetic()))
}

/// A command word with its volatile parts replaced, segment by segment.
pub fn normalise_word(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for (i, seg) in word.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        normalise_segment(seg, false, &mut out);
    }
    out
}
