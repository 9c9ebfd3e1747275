//! Shell-aware reading of command lines, as Go Rampart matches them.
//!
//! Owns turning one command string (a hook's raw shell text, or the
//! shell-quoted argv of an exec record) into the spellings that command
//! conditions are matched against ([`analyze`]): the command as written, its
//! normalised form, every simple command it runs (its *components*, also
//! those inside `sh -c '…'`, `eval`, `$(…)`, backticks and `<(…)`/`>(…)`)
//! and, for restrictive rules only, equivalent forms (`/bin/rm` as `rm`,
//! `busybox rm` as `rm`, `rm -r -f x` as `rm -rf x`, `find x -delete` as
//! `rm -rf x`). It must never run, expand or look anything up: variables
//! stay as written, no file is read, no program is resolved on `PATH`.
//!
//! What it follows (Go Rampart, `internal/engine/shellparse.go` and
//! `matcher.go`):
//!
//! - [`sanitize`]: ANSI CSI sequences, NUL and control characters other than
//!   tab and newline are removed before parsing.
//! - [`split_compound`]: `&&`, `||`, `;`, `|`, `&` and newlines outside quotes
//!   separate commands; `2>&1`, `<&0`, `&>` and `&>>` are redirections, not
//!   separators. Unlike Go Rampart, operators inside `$(…)`, `<(…)`, `>(…)`
//!   and backticks do not split the outer command (their text is analysed as
//!   a command of its own).
//! - [`words`]: POSIX quoting — single quotes literal, backslash escapes
//!   outside single quotes, `\` + newline removed, empty quoted words dropped.
//! - normalisation: leading `NAME=value` words; `command`, `exec`, `env`,
//!   `nohup`, `nice`, `timeout`, `setsid` and `stdbuf` with the options each
//!   really takes (an unknown option, or a query such as `command -v`, stops
//!   the unwrapping so a non-executing call never looks like the command it
//!   names); `sh|bash|zsh|dash|ash|ksh` with a `-c` flag (also combined:
//!   `-lc`), whose script is parsed as a command line of its own; leading
//!   redirections (`2>/dev/null cmd`). Unlike Go Rampart, grouping words
//!   (`(`, `{`, `!`, `if`, `then`, `do`, …) in front of a command are also
//!   removed, and `eval ARGS` and `SHELL <<< SCRIPT` are read as scripts.
//! - subcommands: the text of `$(…)` (nested), backticks, `<(…)` and `>(…)`,
//!   found textually as Go Rampart does (also inside single quotes: it is
//!   the conservative reading for a restrictive rule).
//!
//! Commands made only of bytes that mean nothing to a shell, whose first
//! word names no wrapper, shell, path or alias, are not parsed at all
//! ([`Analysis::is_simple`]): every spelling of theirs is the text itself.

use std::borrow::Cow;

/// Deepest nesting of scripts and substitutions that is analysed; deeper
/// commands leave the analysis incomplete ([`Analysis::complete`]).
pub const MAX_DEPTH: usize = 16;

/// Most simple commands one analysis looks at before it gives up (and is
/// incomplete).
pub const MAX_SEGMENTS: usize = 512;

/// Shells whose `-c` flag takes a script.
const SHELLS: [&str; 6] = ["sh", "bash", "zsh", "dash", "ash", "ksh"];

/// Wrappers whose own options are skipped to reach the command they run
/// ([`executor`]).
const EXECUTORS: [&str; 8] = [
    "command", "exec", "env", "nohup", "nice", "timeout", "setsid", "stdbuf",
];

/// Builtins whose `NAME=value` words are environment assignments.
const DECLARERS: [&str; 5] = ["export", "declare", "typeset", "local", "readonly"];

/// Whether a first word must go through the full reading: everything the
/// parser treats specially as a command's first word (derived from the
/// lists it uses, so that the fast path cannot drift from them).
fn is_special_head(word: &str) -> bool {
    SHELLS.contains(&word)
        || EXECUTORS.contains(&word)
        || DECLARERS.contains(&word)
        || is_grouping(word)
        || matches!(word, "busybox" | "toybox" | "rm" | "find" | "eval")
        // `aliases` lowers such heads (`RM` is `rm`).
        || word.bytes().any(|b| b.is_ascii_uppercase())
}

/// Bytes that stay bare in a shell word and mean nothing to the shell (the
/// design's quoting set).
fn is_plain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b)
}

/// Removes ANSI CSI escape sequences (`ESC [ digits/; letter`), NUL and
/// every control character below 0x20 except tab and newline.
pub fn sanitize(cmd: &str) -> Cow<'_, str> {
    let bytes = cmd.as_bytes();
    if !bytes.iter().any(|&b| b < 0x20 && b != b'\t' && b != b'\n') {
        return Cow::Borrowed(cmd);
    }
    let mut out = String::with_capacity(cmd.len());
    let mut kept = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b >= 0x20 || b == b'\t' || b == b'\n' {
            i += 1;
            continue;
        }
        out.push_str(&cmd[kept..i]);
        let mut end = i + 1;
        if b == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            let mut j = i + 2;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b';') {
                j += 1;
            }
            if j < bytes.len() && bytes[j].is_ascii_alphabetic() {
                end = j + 1;
            }
        }
        i = end;
        kept = end;
    }
    out.push_str(&cmd[kept..]);
    Cow::Owned(out)
}

/// Whether the `&` at byte `i` belongs to a redirection (`2>&1`, `<&0`,
/// `&>file`, `&>>file`) rather than separating commands.
fn ampersand_redirects(bytes: &[u8], i: usize) -> bool {
    (i > 0 && (bytes[i - 1] == b'>' || bytes[i - 1] == b'<')) || bytes.get(i + 1) == Some(&b'>')
}

/// Splits a command line into its commands at `&&`, `||`, `;`, `|`, `&` and
/// newlines outside quotes, substitutions and backticks. Segments are
/// trimmed; empty ones are dropped.
pub fn split_compound(cmd: &str) -> Vec<&str> {
    let bytes = cmd.as_bytes();
    let mut segments = Vec::new();
    fn push<'a>(s: &'a str, segments: &mut Vec<&'a str>) {
        let t = s.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n');
        if !t.is_empty() {
            segments.push(t);
        }
    }
    let (mut single, mut double, mut backtick) = (false, false, false);
    let mut depth = 0usize;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if single {
            single = b != b'\'';
            i += 1;
            continue;
        }
        match b {
            b'\\' => {
                i += 2;
                continue;
            }
            b'\'' if !double => single = true,
            b'"' => double = !double,
            b'`' => backtick = !backtick,
            b'(' if i > 0 && matches!(bytes[i - 1], b'$' | b'<' | b'>') => depth += 1,
            b'(' if depth > 0 => depth += 1,
            b')' if depth > 0 => depth -= 1,
            _ if double || backtick || depth > 0 => {}
            b'&' | b'|' => {
                let two = bytes.get(i + 1) == Some(&b);
                if b == b'&' && !two && ampersand_redirects(bytes, i) {
                    i += 1;
                    continue;
                }
                push(&cmd[start..i], &mut segments);
                i += if two { 2 } else { 1 };
                start = i;
                continue;
            }
            b';' | b'\n' => {
                push(&cmd[start..i], &mut segments);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    push(&cmd[start.min(cmd.len())..], &mut segments);
    segments
}

/// The words of one simple command, with quotes and backslashes removed as
/// the shell removes them. Words without quoting are borrowed.
pub fn words(seg: &str) -> Vec<Cow<'_, str>> {
    let bytes = seg.as_bytes();
    let mut out: Vec<Cow<'_, str>> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        let mut plain = true;
        while i < bytes.len() && bytes[i] != b' ' && bytes[i] != b'\t' {
            if matches!(bytes[i], b'\'' | b'"' | b'\\') {
                plain = false;
            }
            if !plain {
                break;
            }
            i += 1;
        }
        if plain {
            out.push(Cow::Borrowed(&seg[start..i]));
            continue;
        }
        // A quoted or escaped word: build its value.
        i = start;
        let mut value: Vec<u8> = Vec::new();
        while i < bytes.len() && bytes[i] != b' ' && bytes[i] != b'\t' {
            match bytes[i] {
                b'\'' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'\'' {
                        value.push(bytes[i]);
                        i += 1;
                    }
                    i += 1;
                }
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        if bytes[i] == b'\\' && i + 1 < bytes.len() {
                            if bytes[i + 1] != b'\n' {
                                value.push(bytes[i + 1]);
                            }
                            i += 2;
                            continue;
                        }
                        value.push(bytes[i]);
                        i += 1;
                    }
                    i += 1;
                }
                b'\\' if i + 1 < bytes.len() => {
                    if bytes[i + 1] != b'\n' {
                        value.push(bytes[i + 1]);
                    }
                    i += 2;
                }
                c => {
                    value.push(c);
                    i += 1;
                }
            }
        }
        if !value.is_empty() {
            // Quotes and backslashes are ASCII: the value is whole characters.
            out.push(Cow::Owned(String::from_utf8_lossy(&value).into_owned()));
        }
    }
    out
}

/// Whether `seg` is only `NAME=value` words, values read with their
/// quotes, `$(…)` and backticks whole.
fn assignments_only(seg: &str) -> bool {
    let b = seg.as_bytes();
    let mut i = 0;
    let mut any = false;
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        if i == b.len() {
            return any;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        if i == start || b[start].is_ascii_digit() || b.get(i) != Some(&b'=') {
            return false;
        }
        i += 1;
        let mut depth = 0usize;
        while i < b.len() && (depth > 0 || !matches!(b[i], b' ' | b'\t')) {
            match b[i] {
                b'\'' => {
                    i += 1;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                }
                b'"' => {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                b'`' => {
                    i += 1;
                    while i < b.len() && b[i] != b'`' {
                        i += 1;
                    }
                }
                b'\\' => i += 1,
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
        }
        if depth > 0 || i > b.len() {
            return false;
        }
        any = true;
    }
}

/// `NAME=value` with a name of letters, digits and `_`, not starting with a
/// digit: the name.
pub fn assignment_name(word: &str) -> Option<&str> {
    let (name, _) = word.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    ((first == '_' || first.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric()))
        .then_some(name)
}

/// The last path element of a word, `\` read as `/`.
fn basename(word: &str) -> &str {
    word.rsplit(['/', '\\']).next().unwrap_or(word)
}

fn is_shell(word: &str) -> bool {
    SHELLS.contains(&basename(word))
}

/// A single-dash option holding `c` (`-c`, `-lc`, `-ic`).
fn has_c_flag(word: &str) -> bool {
    word.len() > 1 && word.starts_with('-') && !word.starts_with("--") && word[1..].contains('c')
}

fn is_signed_decimal(v: &str) -> bool {
    let v = v.strip_prefix(['+', '-']).unwrap_or(v);
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
}

/// A `timeout` duration: a number (with a fraction) and an optional unit
/// `s`, `m`, `h` or `d`, or `inf`/`infinity`.
/// An option that takes a value: its short and long spelling and the check
/// of the value.
type ValuedOption = (&'static str, &'static str, fn(&str) -> bool);

fn is_duration(v: &str) -> bool {
    if v == "inf" || v == "infinity" {
        return true;
    }
    let v = v.strip_suffix(['s', 'm', 'h', 'd']).unwrap_or(v);
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (v, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    digits(int)
        && frac.is_none_or(digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()))
}

fn is_signal(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A `stdbuf` mode: `0`, `L`, `B` or a size (`4096`, `64K`, `1MiB`, `2kB`).
fn is_stdbuf_mode(v: &str) -> bool {
    if matches!(v, "0" | "L" | "B") {
        return true;
    }
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let unit = &v[digits..];
    if unit.is_empty() {
        return true;
    }
    let mut u = unit.chars();
    let Some(scale) = u.next() else { return true };
    if !"kKmMgGtTpPeEzZyY".contains(scale) {
        return false;
    }
    matches!(u.as_str(), "" | "b" | "B" | "ib" | "iB")
}

/// The option words of a transparent executor (`command`, `exec`, `env`,
/// `nohup`, `nice`, `timeout`, `setsid`, `stdbuf`) in front of the command
/// it runs: how many words to drop, or `None` when the words do not run a
/// command (a query such as `command -v`, an unknown option, no command).
/// `env -S STRING` answers with the words to put in place of the options.
enum Executor {
    Drop(usize),
    Split { drop: usize, words: Vec<String> },
}

fn executor(w: &[Cow<'_, str>], names: &mut Vec<String>) -> Option<Executor> {
    if w.len() < 2 {
        return None;
    }
    let rest_from = |i: usize| (i < w.len()).then_some(Executor::Drop(i));
    match basename(&w[0]) {
        "command" => {
            let mut i = 1;
            while i < w.len() {
                match &*w[i] {
                    "--" => return rest_from(i + 1),
                    "-p" => i += 1,
                    t if t.starts_with('-') => return None,
                    _ => return Some(Executor::Drop(i)),
                }
            }
            None
        }
        "exec" => {
            let mut i = 1;
            while i < w.len() {
                match &*w[i] {
                    "--" => return rest_from(i + 1),
                    "-a" => i += 2,
                    t if t.len() > 1
                        && t.starts_with('-')
                        && t[1..].bytes().all(|b| b == b'c' || b == b'l') =>
                    {
                        i += 1
                    }
                    t if t.starts_with('-') => return None,
                    _ => return Some(Executor::Drop(i)),
                }
            }
            None
        }
        "env" => {
            let mut i = 1;
            while i < w.len() {
                let t: &str = &w[i];
                match t {
                    "--" => {
                        i += 1;
                        while i < w.len() {
                            match assignment_name(&w[i]) {
                                Some(n) => names.push(n.to_string()),
                                None => break,
                            }
                            i += 1;
                        }
                        return rest_from(i);
                    }
                    "-i" | "--ignore-environment" | "-0" | "--null" | "-v" | "--debug" => i += 1,
                    "-u" | "--unset" | "-C" | "--chdir" | "--argv0" => i += 2,
                    "-S" | "--split-string" => {
                        let s = w.get(i + 1)?;
                        return split_string(s, i + 2);
                    }
                    _ if t.starts_with("--split-string=") => {
                        return split_string(&t["--split-string=".len()..], i + 1);
                    }
                    _ if t.starts_with("-S") => return split_string(&t[2..], i + 1),
                    _ if t.starts_with("--unset=")
                        || t.starts_with("--chdir=")
                        || t.starts_with("--argv0=")
                        || (t.starts_with("-u") && t.len() > 2 && !t[2..].contains('='))
                        || (t.starts_with("-C") && t.len() > 2) =>
                    {
                        i += 1
                    }
                    _ => match assignment_name(t) {
                        Some(n) => {
                            names.push(n.to_string());
                            i += 1;
                        }
                        None if t.starts_with('-') => return None,
                        None => return Some(Executor::Drop(i)),
                    },
                }
            }
            None
        }
        "nohup" => match &*w[1] {
            "--" => rest_from(2),
            t if t.starts_with('-') => None,
            _ => Some(Executor::Drop(1)),
        },
        "nice" => {
            let mut i = 1;
            while i < w.len() {
                let t: &str = &w[i];
                match t {
                    "--" => return rest_from(i + 1),
                    "-n" | "--adjustment" => {
                        if !w.get(i + 1).is_some_and(|v| is_signed_decimal(v)) {
                            return None;
                        }
                        i += 2;
                    }
                    _ if t.starts_with("--adjustment=") => {
                        if !is_signed_decimal(&t["--adjustment=".len()..]) {
                            return None;
                        }
                        i += 1;
                    }
                    _ if t.starts_with("-n") && t.len() > 2 => {
                        let v = &t[2..];
                        if !is_signed_decimal(v.strip_prefix('=').unwrap_or(v)) {
                            return None;
                        }
                        i += 1;
                    }
                    _ if t.len() > 1 && t.starts_with('-') && is_signed_decimal(t) => i += 1,
                    _ if t.starts_with('-') => return None,
                    _ => return Some(Executor::Drop(i)),
                }
            }
            None
        }
        "timeout" => {
            // Options with a value, as `-k 5`, `-k5` or `--kill-after=5`.
            const VALUED: [ValuedOption; 2] = [
                ("-k", "--kill-after", is_duration),
                ("-s", "--signal", is_signal),
            ];
            let mut i = 1;
            while i < w.len() {
                let t: &str = &w[i];
                if t == "--" {
                    i += 1;
                    break;
                }
                if matches!(t, "--preserve-status" | "--foreground" | "--verbose" | "-v") {
                    i += 1;
                    continue;
                }
                if let Some(&(_, _, valid)) = VALUED.iter().find(|(s, l, _)| t == *s || t == *l) {
                    if !w.get(i + 1).is_some_and(|v| valid(v)) {
                        return None;
                    }
                    i += 2;
                    continue;
                }
                let joined = VALUED.iter().find_map(|&(short, long, valid)| {
                    let value = t
                        .strip_prefix(long)
                        .and_then(|r| r.strip_prefix('='))
                        .or_else(|| t.strip_prefix(short).filter(|r| !r.is_empty()))?;
                    Some(valid(value))
                });
                match joined {
                    Some(true) => i += 1,
                    Some(false) => return None,
                    None if t.starts_with('-') => return None,
                    None => break,
                }
            }
            // The duration, then the command.
            (i + 1 < w.len() && is_duration(&w[i])).then_some(Executor::Drop(i + 1))
        }
        "setsid" => {
            let mut i = 1;
            while i < w.len() {
                let t: &str = &w[i];
                match t {
                    "--" => return rest_from(i + 1),
                    "--ctty" | "--fork" | "--wait" => i += 1,
                    _ if t.len() > 1
                        && t.starts_with('-')
                        && !t.starts_with("--")
                        && t[1..].bytes().all(|b| matches!(b, b'c' | b'f' | b'w')) =>
                    {
                        i += 1
                    }
                    _ if t.starts_with('-') => return None,
                    _ => return Some(Executor::Drop(i)),
                }
            }
            None
        }
        "stdbuf" => {
            let mut i = 1;
            while i < w.len() {
                let t: &str = &w[i];
                match t {
                    "--" => return rest_from(i + 1),
                    "-i" | "-o" | "-e" | "--input" | "--output" | "--error" => {
                        if !w.get(i + 1).is_some_and(|v| is_stdbuf_mode(v)) {
                            return None;
                        }
                        i += 2;
                    }
                    _ if ["--input=", "--output=", "--error="]
                        .iter()
                        .any(|p| t.strip_prefix(p).is_some_and(is_stdbuf_mode)) =>
                    {
                        i += 1
                    }
                    _ if t.len() > 2 && matches!(&t[..2], "-i" | "-o" | "-e") => {
                        let v = &t[2..];
                        if !is_stdbuf_mode(v.strip_prefix('=').unwrap_or(v)) {
                            return None;
                        }
                        i += 1;
                    }
                    _ if t.starts_with('-') => return None,
                    _ => return Some(Executor::Drop(i)),
                }
            }
            None
        }
        _ => None,
    }
}

/// `env -S STRING`: the words of STRING take the place of the option.
fn split_string(s: &str, drop: usize) -> Option<Executor> {
    let words: Vec<String> = words(s).into_iter().map(Cow::into_owned).collect();
    (!words.is_empty()).then_some(Executor::Split { drop, words })
}

/// `seg` after the grouping words in front of it (`do b=$(…)` is the
/// assignment it holds), with the blanks and `\`-newlines around them.
fn after_grouping(seg: &str) -> &str {
    let mut rest = seg;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t', '\n']);
        if let Some(after) = trimmed.strip_prefix("\\\n") {
            rest = after;
            continue;
        }
        let word_end = trimmed
            .find([' ', '\t', '\n', '\\'])
            .unwrap_or(trimmed.len());
        if word_end > 0 && is_grouping(&trimmed[..word_end]) {
            rest = &trimmed[word_end..];
            continue;
        }
        return trimmed;
    }
}

/// Words that group or steer commands rather than name one.
fn is_grouping(word: &str) -> bool {
    matches!(
        word,
        "(" | "{" | "!" | "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "time"
    )
}

/// A redirection word: `>`, `>>`, `<`, `<<` (taking the next word) or one
/// with its target attached (`2>/dev/null`, `>out`, `<in`).
fn redirection(word: &str) -> Option<usize> {
    if matches!(word, ">" | ">>" | "<" | "<<") {
        return Some(2);
    }
    let b = word.as_bytes();
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = digits;
    if i >= b.len() || (b[i] != b'>' && b[i] != b'<') {
        return None;
    }
    i += 1;
    if i < b.len() && b[i] == b[i - 1] {
        i += 1;
    }
    (i < b.len()).then_some(1)
}

/// What one segment runs, after its wrappers are removed.
struct Unwrapped<'s> {
    /// Go Rampart's normalised words: unwrapping continues into a shell's
    /// script (re-split into words when it is one word). Without a script,
    /// these are the words of the simple command the segment runs.
    go_words: Vec<Cow<'s, str>>,
    /// The script a shell (`-c`), `eval` or a here-string runs.
    script: Option<String>,
    /// Words were removed besides quoting (assignments, wrappers, grouping).
    dropped: bool,
}

/// Removes assignments, transparent executors and shell `-c` wrappers from
/// the front of `w`, repeatedly (`env -i bash -c 'FOO=1 exec sh -c x'`),
/// collecting assigned names.
fn unwrap<'s>(mut w: Vec<Cow<'s, str>>, names: &mut Vec<String>) -> Unwrapped<'s> {
    let mut dropped = false;
    let mut script: Option<String> = None;
    // Grouping words and a closing `)`/`}` around the command.
    let before = w.len();
    while w.first().is_some_and(|f| is_grouping(f)) {
        w.remove(0);
    }
    if let Some(first) = w.first_mut() {
        if first.len() > 1 && (first.starts_with('(') || first.starts_with('{')) {
            *first = Cow::Owned(first[1..].to_string());
            dropped = true;
        }
    }
    while w
        .last()
        .is_some_and(|l| matches!(&**l, ")" | "}" | "fi" | "done" | "esac"))
    {
        w.pop();
    }
    if let Some(last) = w.last_mut() {
        if last.len() > 1 && last.ends_with(')') && !last.contains('(') {
            *last = Cow::Owned(last[..last.len() - 1].to_string());
            dropped = true;
        }
    }
    dropped |= w.len() != before;
    for _round in 0..64 {
        let mut changed = false;
        let assigned = w
            .iter()
            .take_while(|t| assignment_name(t).is_some())
            .count();
        for t in &w[..assigned] {
            names.push(assignment_name(t).unwrap_or_default().to_string());
        }
        w.drain(..assigned);
        changed |= assigned > 0;
        match executor(&w, names) {
            Some(Executor::Drop(n)) => {
                w.drain(..n);
                changed = true;
            }
            Some(Executor::Split { drop, words }) => {
                changed = true;
                let rest: Vec<Cow<'s, str>> = w.drain(drop..).collect();
                w.truncate(1);
                w.extend(words.into_iter().map(Cow::Owned));
                w.extend(rest);
            }
            None => {}
        }
        if w.len() >= 2 && is_shell(&w[0]) {
            let mut i = 1;
            while i < w.len() && w[i].starts_with('-') && !has_c_flag(&w[i]) {
                i += 1;
            }
            if i + 1 < w.len() && has_c_flag(&w[i]) {
                if script.is_none() {
                    script = Some(w[i + 1].to_string());
                }
                changed = true;
                let inner: Vec<Cow<'s, str>> = w.drain(i + 1..).collect();
                w = if inner.len() == 1 {
                    let retokenized: Vec<Cow<'s, str>> = words(&inner[0])
                        .into_iter()
                        .map(|c| Cow::Owned(c.into_owned()))
                        .collect();
                    if retokenized.is_empty() {
                        inner
                    } else {
                        retokenized
                    }
                } else {
                    inner
                };
            }
        }
        if !changed {
            break;
        }
        dropped = true;
    }
    // Leading redirections (`>/dev/null cmd`).
    while let Some(n) = w.first().and_then(|f| redirection(f)) {
        w.drain(..n.min(w.len()));
        dropped = true;
    }
    if script.is_none() {
        if let Some(first) = w.first() {
            if &**first == "eval" && w.len() > 1 {
                script = Some(join(&w[1..]));
            } else if is_shell(first) {
                if let Some(at) = w.iter().position(|t| t == "<<<") {
                    if at + 1 < w.len() {
                        script = Some(join(&w[at + 1..]));
                    }
                }
            } else if DECLARERS.contains(&&**first) {
                for t in &w[1..] {
                    if let Some(n) = assignment_name(t) {
                        names.push(n.to_string());
                    }
                }
            }
        }
    }
    Unwrapped {
        go_words: w,
        script,
        dropped,
    }
}

fn join(w: &[Cow<'_, str>]) -> String {
    let mut s = String::with_capacity(w.iter().map(|t| t.len() + 1).sum());
    for (i, t) in w.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(t);
    }
    s
}

/// The text of each outermost `$(…)`, backtick pair, `<(…)` and `>(…)` in
/// `cmd` (trimmed, non-empty), found without regard to quotes.
pub fn subcommands(cmd: &str) -> Vec<&str> {
    let b = cmd.as_bytes();
    let mut out = Vec::new();
    fn push<'a>(s: &'a str, out: &mut Vec<&'a str>) {
        let t = s.trim();
        if !t.is_empty() {
            out.push(t);
        }
    }
    // $(…): nested `$(` deepen, the first `)` at depth 0 closes.
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'$' && b[i + 1] == b'(' {
            let start = i + 2;
            let mut depth = 1;
            let mut j = start;
            while j < b.len() {
                if b[j] == b'$' && b.get(j + 1) == Some(&b'(') {
                    depth += 1;
                    j += 2;
                    continue;
                }
                if b[j] == b')' {
                    depth -= 1;
                    if depth == 0 {
                        push(&cmd[start..j], &mut out);
                        break;
                    }
                }
                j += 1;
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    // Backticks pair up in order; an unclosed one is ignored.
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'`' {
            match b[i + 1..].iter().position(|&c| c == b'`') {
                Some(len) => {
                    push(&cmd[i + 1..i + 1 + len], &mut out);
                    i += len + 2;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    // <(…) and >(…): any parenthesis nests.
    let mut i = 0;
    while i + 1 < b.len() {
        if (b[i] == b'<' || b[i] == b'>') && b[i + 1] == b'(' {
            let start = i + 2;
            let mut depth = 1;
            let mut j = start;
            while j < b.len() {
                match b[j] {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            push(&cmd[start..j], &mut out);
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// One simple command that a command line runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// Its text as written (the segment it came from).
    pub text: String,
    /// Its words after quotes, assignments and wrappers are removed.
    pub normalized: String,
    /// Only quoting differs between `text` and `normalized`: the written
    /// text is an equivalent spelling of the same words.
    pub same_words: bool,
    /// Restrictive-only equivalent forms (see [`aliases`]).
    pub aliases: Vec<String>,
}

/// The equivalent forms of a simple command (its words) that only
/// restrictive rules see: the executable by its lower-cased basename
/// (`/usr/bin/rm` → `rm`, `busybox rm` → `rm`), `rm` with recursive and
/// force flags in any spelling as `rm -rf OPERANDS`, and `find PATH …
/// -delete` or `find PATH … -exec rm …` as `rm -rf PATH`.
pub fn aliases(w: &[Cow<'_, str>]) -> Vec<String> {
    let mut out = Vec::new();
    let Some(first) = w.first() else {
        return out;
    };
    let lower = |word: &str| -> String {
        let b = basename(word);
        if b.bytes().any(|c| c.is_ascii_uppercase()) || !b.is_ascii() {
            b.to_lowercase()
        } else {
            b.to_string()
        }
    };
    let mut w = w;
    let mut applet = false;
    if matches!(basename(first), "busybox" | "toybox") && w.len() > 1 && !w[1].starts_with('-') {
        w = &w[1..];
        applet = true;
    }
    let head = basename(&w[0]);
    let plain_head = head == &*w[0] && !head.bytes().any(|c| c.is_ascii_uppercase());
    let base: Cow<'_, str> = if plain_head {
        Cow::Borrowed(head)
    } else {
        Cow::Owned(lower(&w[0]))
    };
    if applet || !plain_head {
        let mut s = base.to_string();
        for t in &w[1..] {
            s.push(' ');
            s.push_str(t);
        }
        out.push(s);
    }
    match &*base {
        "rm" => {
            if let Some(c) = canonical_rm(&w[1..]) {
                out.push(c);
            }
        }
        "find" => {
            if let Some(c) = canonical_find(&w[1..]) {
                out.push(c);
            }
        }
        _ => {}
    }
    out
}

/// `rm` arguments with a recursive (`-r`, `-R`, `--recursive`) and a force
/// (`-f`, `--force`) flag, in any order or combination: `rm -rf OPERANDS`.
fn canonical_rm(args: &[Cow<'_, str>]) -> Option<String> {
    if args.first().is_some_and(|a| a == "-rf") && !args[1..].iter().any(|a| a.starts_with('-')) {
        // Already spelled `rm -rf OPERANDS`.
        return None;
    }
    let (mut recursive, mut force, mut ended) = (false, false, false);
    let mut operands: Vec<&str> = Vec::new();
    for a in args {
        let a: &str = a;
        if ended {
            operands.push(a);
        } else if a == "--" {
            ended = true;
        } else if a == "--recursive" {
            recursive = true;
        } else if a == "--force" {
            force = true;
        } else if a.starts_with("--") {
        } else if a.len() > 1 && a.starts_with('-') {
            recursive |= a.contains(['r', 'R']);
            force |= a.contains('f');
        } else {
            operands.push(a);
        }
    }
    (recursive && force).then(|| {
        let mut s = String::from("rm -rf");
        for o in operands {
            s.push(' ');
            s.push_str(o);
        }
        s
    })
}

/// `find` arguments that delete what they find (`-delete`, or `-exec`,
/// `-execdir`, `-ok`, `-okdir` running `rm`): `rm -rf START`, START being
/// the first argument that is not an option.
fn canonical_find(args: &[Cow<'_, str>]) -> Option<String> {
    let deletes = args.iter().enumerate().any(|(i, a)| {
        &**a == "-delete"
            || (matches!(&**a, "-exec" | "-execdir" | "-ok" | "-okdir")
                && args.get(i + 1).is_some_and(|c| basename(c) == "rm"))
    });
    let start = args.iter().find(|a| !a.starts_with('-'))?;
    deletes.then(|| format!("rm -rf {start}"))
}

/// Everything a command line is matched through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    simple: bool,
    normalized: String,
    /// Spellings for restrictive matching besides the raw command
    /// (deduplicated, never equal to it).
    pub forms: Vec<String>,
    components: Vec<Component>,
    /// More than one component, or a substitution.
    pub composite: bool,
    /// Every nested script and substitution was analysed (false past
    /// [`MAX_DEPTH`] or [`MAX_SEGMENTS`]).
    pub complete: bool,
    /// Names assigned by `NAME=value` words in front of any component, after
    /// `env`, or by `export`/`declare`/`typeset`/`local`/`readonly`.
    pub env_names: Vec<String>,
}

impl Analysis {
    /// The command needed no parsing: every spelling of it is its text.
    pub fn is_simple(&self) -> bool {
        self.simple
    }

    /// Go Rampart's `NormalizeCommand`: each command normalised, joined by
    /// ` && `.
    pub fn normalized<'s>(&'s self, raw: &'s str) -> &'s str {
        if self.simple {
            raw
        } else {
            &self.normalized
        }
    }

    /// The components (see [`Component`]); a simple command is its own only
    /// component.
    pub fn components<'s>(&'s self, raw: &'s str) -> impl Iterator<Item = ComponentRef<'s>> + 's {
        let simple = self.simple.then_some(ComponentRef {
            text: raw,
            normalized: raw,
            same_words: true,
            aliases: &[],
        });
        simple
            .into_iter()
            .chain(self.components.iter().map(|c| ComponentRef {
                text: &c.text,
                normalized: &c.normalized,
                same_words: c.same_words,
                aliases: &c.aliases,
            }))
    }

    /// Number of components.
    pub fn component_count(&self) -> usize {
        if self.simple {
            1
        } else {
            self.components.len()
        }
    }
}

/// A borrowed [`Component`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComponentRef<'s> {
    pub text: &'s str,
    pub normalized: &'s str,
    pub same_words: bool,
    pub aliases: &'s [String],
}

/// Bare words (the design's quoting set) separated by single spaces.
fn is_plain_line(cmd: &str) -> bool {
    let b = cmd.as_bytes();
    if b.is_empty() || b[0] == b' ' || b[b.len() - 1] == b' ' {
        return false;
    }
    let mut prev = 0u8;
    for &c in b {
        if (c == b' ' && prev == b' ') || (c != b' ' && !is_plain_byte(c)) {
            return false;
        }
        prev = c;
    }
    true
}

/// Whether `cmd` can be taken as it is: bare words (the design's quoting
/// set) separated by single spaces, the first naming no wrapper, shell,
/// path, assignment or alias.
fn needs_no_parsing(cmd: &str) -> bool {
    if !is_plain_line(cmd) {
        return false;
    }
    let first = cmd.split(' ').next().unwrap_or(cmd);
    !first.contains(['/', '=']) && !is_special_head(first)
}

/// Analyses a command line (see the module docs).
pub fn analyze(cmd: &str) -> Analysis {
    if needs_no_parsing(cmd) {
        return Analysis {
            simple: true,
            complete: true,
            ..Analysis::default()
        };
    }
    let mut b = Builder {
        raw: cmd,
        forms: Vec::new(),
        components: Vec::new(),
        names: Vec::new(),
        substitutions: 0,
        segments: 0,
        complete: true,
    };
    let normalized = b.command(cmd, 0);
    if b.components.is_empty() && b.complete {
        // Nothing but assignments or grouping: the line is its own component.
        let text = cmd.trim();
        if !text.is_empty() {
            b.components.push(Component {
                text: text.to_string(),
                normalized: text.to_string(),
                same_words: true,
                aliases: Vec::new(),
            });
        }
    }
    b.names.dedup();
    let mut names: Vec<String> = Vec::with_capacity(b.names.len());
    for n in b.names {
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    }
    let mut forms = b.forms;
    if normalized != cmd && !forms.contains(&normalized) {
        forms.insert(0, normalized.clone());
    }
    Analysis {
        simple: false,
        composite: b.components.len() > 1 || b.substitutions > 0,
        normalized,
        forms,
        components: b.components,
        complete: b.complete,
        env_names: names,
    }
}

struct Builder<'r> {
    raw: &'r str,
    forms: Vec<String>,
    components: Vec<Component>,
    names: Vec<String>,
    substitutions: usize,
    segments: usize,
    complete: bool,
}

impl Builder<'_> {
    fn form(&mut self, s: &str) {
        if !s.is_empty() && s != self.raw && !self.forms.iter().any(|f| f == s) {
            self.forms.push(s.to_string());
        }
    }

    /// Analyses one command line at `depth`; returns its normalised form.
    fn command(&mut self, text: &str, depth: usize) -> String {
        if depth > MAX_DEPTH {
            self.complete = false;
            return text.to_string();
        }
        // Bare words need no sanitising, splitting or substitution search.
        let plain = is_plain_line(text);
        let clean = if plain {
            Cow::Borrowed(text)
        } else {
            sanitize(text)
        };
        let segments = if plain {
            vec![text]
        } else {
            split_compound(&clean)
        };
        let mut normalized: Vec<String> = Vec::new();
        for seg in segments {
            self.segments += 1;
            if self.segments > MAX_SEGMENTS {
                self.complete = false;
                break;
            }
            self.form(seg);
            let u = unwrap(words(seg), &mut self.names);
            let go = join(&u.go_words);
            if let Some(script) = &u.script {
                self.form(script);
                let inner = self.command(script, depth + 1);
                self.form(&inner);
            }
            // `f=$(mktemp)` runs only its substitution (a component of its
            // own below); split textually its words would leave a phantom
            // command (`/tmp/x)` of `f=$(mktemp /tmp/x)`).
            if u.script.is_none()
                && !u.go_words.is_empty()
                && !assignments_only(after_grouping(seg))
            {
                let c = Component {
                    text: seg.to_string(),
                    same_words: !u.dropped,
                    aliases: aliases(&u.go_words),
                    normalized: go.clone(),
                };
                for a in &c.aliases {
                    self.form(a);
                }
                if !self.components.iter().any(|k| k.normalized == c.normalized) {
                    self.components.push(c);
                }
            }
            self.form(&go);
            if !go.is_empty() {
                normalized.push(go);
            }
        }
        let subs = if plain {
            Vec::new()
        } else {
            subcommands(&clean)
        };
        for sub in subs {
            self.substitutions += 1;
            self.form(sub);
            let inner = self.command(sub, depth + 1);
            self.form(&inner);
        }
        if normalized.len() == 1 {
            normalized.pop().unwrap_or_default()
        } else {
            normalized.join(" && ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_modes() {
        for d in ["5", "5s", "1.5m", ".5", "2d", "inf", "10."] {
            assert!(is_duration(d), "{d}");
        }
        for d in ["", "s", "5x", "-1", "1.2.3"] {
            assert!(!is_duration(d), "{d}");
        }
        for m in ["0", "L", "B", "4096", "64K", "1MiB", "2kB"] {
            assert!(is_stdbuf_mode(m), "{m}");
        }
        for m in ["", "x", "K", "1Q", "1KiBB"] {
            assert!(!is_stdbuf_mode(m), "{m}");
        }
    }

    #[test]
    fn assignments_with_substitutions_run_only_the_substitution() {
        assert!(assignments_only("f=$(mktemp /tmp/m.XXXX)"));
        assert_eq!(
            after_grouping("do \\\n  b=$(basename $i .txt)"),
            "b=$(basename $i .txt)"
        );
        assert_eq!(after_grouping("then x"), "x");
        assert_eq!(after_grouping("done"), "done");
        assert!(assignments_only("a=1 b='x y' c=\"$(date +%s)\""));
        assert!(!assignments_only("f=$(mktemp) cmd"));
        assert!(!assignments_only("cmd a=b"));
        assert!(!assignments_only("f=$(oops"));
        let cmd = "f=$(mktemp /tmp/m.XXXX); echo $f";
        let a = analyze(cmd);
        let comps: Vec<&str> = a.components(cmd).map(|c| c.normalized).collect();
        assert!(comps.contains(&"mktemp /tmp/m.XXXX"), "{comps:?}");
        assert!(!comps.iter().any(|c| c.starts_with("/tmp")), "{comps:?}");
    }

    #[test]
    fn redirection_words() {
        assert_eq!(redirection(">"), Some(2));
        assert_eq!(redirection("2>/dev/null"), Some(1));
        assert_eq!(redirection(">>log"), Some(1));
        assert_eq!(redirection("2>"), None);
        assert_eq!(redirection("a>b"), None);
    }
}
