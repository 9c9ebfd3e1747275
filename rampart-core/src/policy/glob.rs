//! Go Rampart's glob semantics, compiled once and matched many times.
//!
//! Owns what a pattern means ([`Glob`]) and matching many patterns against one
//! input at once ([`GlobSet`], [`LiteralSet`]). It must never accept a pattern
//! Go Rampart would leave silently inert (bad syntax, too long, more than two
//! `**`): those are errors here, reported at load.
//!
//! Three families, as in Go Rampart (`internal/engine/matcher.go`):
//!
//! - [`GlobKind::Text`] is `MatchGlob`, used for commands, URLs, agents,
//!   sessions, tools and environment names. In order: `*` alone matches
//!   anything; a pattern with `**` runs the path automaton below; a pattern
//!   ending in `*` matches any input that starts with the rest of the pattern
//!   taken literally (so `git *` matches `git push origin/main`); a pattern
//!   starting with `*` matches when its `*`-separated pieces occur in order,
//!   anywhere after each other (`*curl*webhook.site*`; `?` and `[` are literal
//!   there, and nothing anchors the last piece to the end); anything else is
//!   Go's `filepath.Match`, where `*` and `?` stop at `/` but a `[...]` class
//!   may match `/`.
//! - [`GlobKind::Path`] is `matchPathGlob`: `*`, `?` and classes stay within
//!   one path segment, `**` crosses `/`, the whole input must match, and a
//!   leading `**/` may also match zero directories (`**/.env` matches `.env`).
//! - [`GlobKind::Domain`] is `filepath.Match` over lower-cased names with a
//!   trailing dot ignored.
//!
//! Classes are `[abc]`, `[a-z]`, `[^...]` (`!` is not negation). Backslashes
//! in patterns and inputs are read as `/` (Go Rampart does so to match
//! Windows paths), so there is no escape character. Inputs longer than
//! [`MAX_INPUT_LEN`] bytes never match a `Text` or `Path` glob, not even `*`.

use std::borrow::Cow;
use std::fmt;

use aho_corasick::automaton::Automaton;
use aho_corasick::{Anchored, MatchKind};

/// Longest input a glob is matched against (Go's `maxGlobInputLen`).
pub const MAX_INPUT_LEN: usize = 8192;
/// Longest pattern (Go's `maxGlobPatternLen`).
pub const MAX_PATTERN_LEN: usize = 8192;
/// Longest pattern that contains `**` (Go's `maxDoubleGlobPatternLen`).
pub const MAX_DOUBLE_STAR_PATTERN_LEN: usize = 256;
/// Most `**` a pattern may hold (Go's `maxDoubleStarOccurrences`).
pub const MAX_DOUBLE_STARS: usize = 2;

/// Which of Go Rampart's matchers a pattern follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GlobKind {
    /// `MatchGlob`: commands, URLs, agents, sessions, tools.
    Text,
    /// `matchPathGlob`: file paths.
    Path,
    /// `filepath.Match` over lower-cased domain names.
    Domain,
}

/// Why a pattern was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobError(pub String);

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GlobError {}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        let inside = self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
        inside != self.negated
    }
}

/// A token of the path automaton (Go's `tokenizeDoubleStarGlob`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum NfaToken {
    Lit(char),
    Star,
    DoubleStar,
    Question,
    Class(Class),
}

/// A token of `filepath.Match`, by chunks (Go's `scanChunk`/`matchChunk`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum FileToken {
    Lit(String),
    Question,
    Class(Class),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Chunk {
    /// The chunk follows one or more `*`.
    star: bool,
    tokens: Vec<FileToken>,
}

/// The automaton of one `**`/path pattern, with its literal ends checked
/// before it runs.
#[derive(Clone, Debug)]
struct Nfa {
    tokens: Vec<NfaToken>,
    /// Literal text every match starts with.
    head: String,
    /// Literal text every match ends with.
    tail: String,
    /// Only literals and `**`: matched by finding the literals in order.
    literal_pieces: Option<Vec<String>>,
    /// The same automaton as bit masks, when it has fewer than 64 tokens.
    bits: Option<Box<BitNfa>>,
}

/// Go's automaton run bit-parallel (shift-and): bit `i` is "token `i` is
/// next"; a character moves every state at once.
#[derive(Clone, Debug)]
struct BitNfa {
    /// For each ASCII character, the tokens that are that literal.
    ascii: [u64; 128],
    /// The same for other characters.
    other: Vec<(char, u64)>,
    /// `?` tokens.
    question: u64,
    /// Class tokens, with their masks.
    classes: Vec<(Class, u64)>,
    /// `*` tokens (loop on anything but `/`).
    star: u64,
    /// `**` tokens (loop on anything).
    double_star: u64,
    /// The bit of the state after the last token.
    accept: u64,
}

impl BitNfa {
    fn new(tokens: &[NfaToken]) -> Option<BitNfa> {
        if tokens.len() >= 64 {
            return None;
        }
        let mut b = BitNfa {
            ascii: [0; 128],
            other: Vec::new(),
            question: 0,
            classes: Vec::new(),
            star: 0,
            double_star: 0,
            accept: 1 << tokens.len(),
        };
        for (i, t) in tokens.iter().enumerate() {
            let bit = 1u64 << i;
            match t {
                NfaToken::Lit(c) if c.is_ascii() => b.ascii[*c as usize] |= bit,
                NfaToken::Lit(c) => match b.other.iter_mut().find(|(o, _)| o == c) {
                    Some((_, m)) => *m |= bit,
                    None => b.other.push((*c, bit)),
                },
                NfaToken::Question => b.question |= bit,
                NfaToken::Class(class) => b.classes.push((class.clone(), bit)),
                NfaToken::Star => b.star |= bit,
                NfaToken::DoubleStar => b.double_star |= bit,
            }
        }
        Some(b)
    }

    /// Adds the states reachable through `*`/`**` matching nothing.
    fn close(&self, mut s: u64) -> u64 {
        loop {
            let next = s | ((s & (self.star | self.double_star)) << 1);
            if next == s {
                return s;
            }
            s = next;
        }
    }

    fn matches(&self, name: &str) -> bool {
        let mut s = self.close(1);
        for c in name.chars() {
            let mut advance = if c.is_ascii() {
                self.ascii[c as usize]
            } else {
                self.other
                    .iter()
                    .filter(|(o, _)| *o == c)
                    .fold(0, |m, (_, b)| m | b)
            };
            let stay = if c == '/' {
                self.double_star
            } else {
                advance |= self.question;
                for (class, bit) in &self.classes {
                    if s & bit != 0 && class.matches(c) {
                        advance |= bit;
                    }
                }
                self.star | self.double_star
            };
            s = self.close(((s & advance) << 1) | (s & stay));
            if s == 0 {
                return false;
            }
        }
        s & self.accept != 0
    }
}

#[derive(Clone, Debug)]
enum Matcher {
    Any,
    Exact(String),
    Prefix(String),
    /// A `Text` pattern ending in `*` whose rest holds wildcards: the literal
    /// prefix test first, else `filepath.Match`.
    PrefixOrFile(String, Vec<Chunk>),
    /// A `Text` pattern starting with `*`: pieces in order.
    Pieces(Vec<String>),
    File(Vec<Chunk>),
    /// `**` or path patterns; the second automaton is the zero-depth form of
    /// a leading `**/`.
    Nfa(Box<Nfa>, Option<Box<Nfa>>),
}

/// One compiled pattern.
#[derive(Clone, Debug)]
pub struct Glob {
    source: String,
    kind: GlobKind,
    matcher: Matcher,
}

fn normalize_slashes(s: &str) -> Cow<'_, str> {
    if s.contains('\\') {
        Cow::Owned(s.replace('\\', "/"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Normalizes a domain the way Go Rampart's `matchDomainFirst` does.
pub fn normalize_domain(s: &str) -> Cow<'_, str> {
    let t = s.trim();
    let lower: Cow<'_, str> = if t.chars().any(|c| c.is_uppercase()) {
        Cow::Owned(t.to_lowercase())
    } else {
        Cow::Borrowed(t)
    };
    match lower {
        Cow::Borrowed(b) => Cow::Borrowed(b.strip_suffix('.').unwrap_or(b)),
        Cow::Owned(o) => Cow::Owned(o.strip_suffix('.').unwrap_or(&o).to_string()),
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl Glob {
    /// Compiles `pattern` as Go Rampart reads it for `kind`.
    pub fn new(pattern: &str, kind: GlobKind) -> Result<Glob, GlobError> {
        let matcher = match kind {
            GlobKind::Text => compile_text(pattern)?,
            GlobKind::Path => compile_path(pattern)?,
            GlobKind::Domain => compile_domain(pattern)?,
        };
        Ok(Glob {
            source: pattern.to_string(),
            kind,
            matcher,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn kind(&self) -> GlobKind {
        self.kind
    }

    /// The text the pattern matches exactly, when it has no wildcard (for a
    /// domain: normalized).
    pub fn literal(&self) -> Option<&str> {
        match &self.matcher {
            Matcher::Exact(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the pattern matches `input`.
    pub fn is_match(&self, input: &str) -> bool {
        match self.kind {
            GlobKind::Domain => {
                let d = normalize_domain(input);
                !d.is_empty() && self.matcher.matches(&d)
            }
            GlobKind::Text | GlobKind::Path => {
                if input.len() > MAX_INPUT_LEN {
                    return false;
                }
                self.matcher.matches(&normalize_slashes(input))
            }
        }
    }

    /// Matches a domain already passed through [`normalize_domain`] (and not
    /// empty); any other glob matches as [`Glob::is_match`].
    pub fn is_match_domain(&self, normalized: &str) -> bool {
        match self.kind {
            GlobKind::Domain => self.matcher.matches(normalized),
            _ => self.is_match(normalized),
        }
    }

    /// Matches an input already checked for length and with `/` for `\`.
    fn is_match_normalized(&self, input: &str) -> bool {
        self.matcher.matches(input)
    }

    /// Whether the pattern matches every input (for lint): `*` as text, or
    /// only `**`, `*` and `/` with at least one `**`.
    pub fn matches_everything(&self) -> bool {
        match &self.matcher {
            Matcher::Any => true,
            Matcher::Nfa(nfa, _) => {
                let body: &[NfaToken] = match nfa.tokens.first() {
                    Some(NfaToken::Lit('/')) => &nfa.tokens[1..],
                    _ => &nfa.tokens,
                };
                body.contains(&NfaToken::DoubleStar)
                    && body.iter().all(|t| {
                        matches!(
                            t,
                            NfaToken::DoubleStar | NfaToken::Star | NfaToken::Lit('/')
                        )
                    })
                    && !body
                        .windows(2)
                        .any(|w| w == [NfaToken::Lit('/'), NfaToken::Lit('/')])
            }
            _ => false,
        }
    }

    /// A literal that every input this pattern matches contains (with `/`
    /// for `\\` in the input), or `None` when the pattern has no literal.
    pub fn required_literal(&self) -> Option<String> {
        self.anchor().map(|(lit, _)| lit)
    }

    /// The place a path pattern names whole, when it is one: `(path, false)`
    /// for a pattern without a wildcard, which matches that input only, and
    /// `(dir, true)` for `dir/**` with `dir` without a wildcard, which
    /// matches every input that starts with `dir/` and goes on (`/**`
    /// gives `/`). `None` for any other pattern and for other kinds.
    pub fn path_place(&self) -> Option<(String, bool)> {
        let Matcher::Nfa(full, None) = &self.matcher else {
            return None;
        };
        if self.kind != GlobKind::Path {
            return None;
        }
        let (body, under) = match full.tokens.as_slice() {
            [body @ .., NfaToken::Lit('/'), NfaToken::DoubleStar] => (body, true),
            all => (all, false),
        };
        let mut place = String::with_capacity(body.len());
        for t in body {
            match t {
                NfaToken::Lit(c) => place.push(*c),
                _ => return None,
            }
        }
        if under && place.is_empty() {
            place.push('/');
        }
        Some((place, under))
    }

    /// The literal every input this pattern matches starts with, when it
    /// has one (`/home/u/.ssh/` for `/home/u/.ssh/**`).
    pub fn start_literal(&self) -> Option<String> {
        self.anchor()
            .and_then(|(lit, starts)| starts.then_some(lit))
    }

    /// A literal every match contains, and whether it must start the input.
    /// `None` when the pattern has no literal at all.
    fn anchor(&self) -> Option<(String, bool)> {
        match &self.matcher {
            Matcher::Any => None,
            Matcher::Exact(s) | Matcher::Prefix(s) => Some((s.clone(), true)),
            Matcher::PrefixOrFile(_, chunks) | Matcher::File(chunks) => chunk_anchor(chunks),
            Matcher::Pieces(pieces) => pieces
                .iter()
                .max_by_key(|p| p.len())
                .map(|p| (p.clone(), false)),
            Matcher::Nfa(full, zero) => match zero {
                // Every match of `**/rest` contains the literals of `rest`,
                // never at the start of a deeper match.
                Some(rest) => nfa_anchor(&rest.tokens).map(|(lit, _)| (lit, false)),
                None => nfa_anchor(&full.tokens),
            },
        }
    }
}

fn longest_run<'a>(runs: impl Iterator<Item = (String, bool)> + 'a) -> Option<(String, bool)> {
    runs.filter(|(s, _)| !s.is_empty())
        .fold(
            None,
            |best: Option<(String, bool)>, (s, at_start)| match best {
                Some((b, bs)) if b.len() >= s.len() => Some((b, bs)),
                _ => Some((s, at_start)),
            },
        )
}

fn chunk_anchor(chunks: &[Chunk]) -> Option<(String, bool)> {
    let mut runs = Vec::new();
    for (ci, chunk) in chunks.iter().enumerate() {
        for (ti, tok) in chunk.tokens.iter().enumerate() {
            if let FileToken::Lit(s) = tok {
                runs.push((s.clone(), ci == 0 && ti == 0 && !chunk.star));
            }
        }
    }
    longest_run(runs.into_iter())
}

fn nfa_anchor(tokens: &[NfaToken]) -> Option<(String, bool)> {
    let mut runs = Vec::new();
    let mut current = String::new();
    let mut start = 0usize;
    for (i, tok) in tokens.iter().enumerate() {
        match tok {
            NfaToken::Lit(c) => {
                if current.is_empty() {
                    start = i;
                }
                current.push(*c);
            }
            _ => {
                if !current.is_empty() {
                    runs.push((std::mem::take(&mut current), start == 0));
                }
            }
        }
    }
    if !current.is_empty() {
        runs.push((current, start == 0));
    }
    longest_run(runs.into_iter())
}

fn check_lengths(pattern: &str) -> Result<(), GlobError> {
    if pattern.is_empty() {
        return Err(GlobError("an empty pattern never matches".to_string()));
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(GlobError(format!(
            "pattern is {} bytes (at most {MAX_PATTERN_LEN})",
            pattern.len()
        )));
    }
    let stars = pattern.matches("**").count();
    if stars > 0 && pattern.len() > MAX_DOUBLE_STAR_PATTERN_LEN {
        return Err(GlobError(format!(
            "pattern with ** is {} bytes (at most {MAX_DOUBLE_STAR_PATTERN_LEN})",
            pattern.len()
        )));
    }
    if stars > MAX_DOUBLE_STARS {
        return Err(GlobError(format!(
            "pattern has {stars} ** (at most {MAX_DOUBLE_STARS}); Go Rampart never matches such a pattern"
        )));
    }
    Ok(())
}

fn compile_text(pattern: &str) -> Result<Matcher, GlobError> {
    check_lengths(pattern)?;
    let pattern = normalize_slashes(pattern);
    let p: &str = &pattern;
    if p == "*" {
        return Ok(Matcher::Any);
    }
    if p.contains("**") {
        return compile_nfa(p);
    }
    if let Some(prefix) = p.strip_suffix('*') {
        if !p.starts_with('*') {
            if !has_wildcard(prefix) {
                return Ok(Matcher::Prefix(prefix.to_string()));
            }
            return Ok(Matcher::PrefixOrFile(prefix.to_string(), parse_file(p)?));
        }
    }
    if p.starts_with('*') {
        let pieces = p
            .split('*')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        return Ok(Matcher::Pieces(pieces));
    }
    if !has_wildcard(p) {
        return Ok(Matcher::Exact(p.to_string()));
    }
    Ok(Matcher::File(parse_file(p)?))
}

fn compile_path(pattern: &str) -> Result<Matcher, GlobError> {
    check_lengths(pattern)?;
    let pattern = normalize_slashes(pattern);
    compile_nfa(&pattern)
}

fn compile_domain(pattern: &str) -> Result<Matcher, GlobError> {
    if pattern.contains('\\') {
        return Err(GlobError(
            "a backslash has no meaning in a domain pattern".to_string(),
        ));
    }
    let p = normalize_domain(pattern);
    if p.is_empty() {
        return Err(GlobError("an empty pattern never matches".to_string()));
    }
    if !has_wildcard(&p) {
        return Ok(Matcher::Exact(p.into_owned()));
    }
    Ok(Matcher::File(parse_file(&p)?))
}

fn compile_nfa(p: &str) -> Result<Matcher, GlobError> {
    let full = Nfa::new(tokenize_nfa(p)?);
    let zero = match p.strip_prefix("**/") {
        Some(rest) => Some(Box::new(Nfa::new(tokenize_nfa(rest)?))),
        None => None,
    };
    Ok(Matcher::Nfa(Box::new(full), zero))
}

fn tokenize_nfa(p: &str) -> Result<Vec<NfaToken>, GlobError> {
    let chars: Vec<char> = p.chars().collect();
    let mut tokens = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if chars.get(i + 1) == Some(&'*') {
                    tokens.push(NfaToken::DoubleStar);
                    i += 1;
                } else {
                    tokens.push(NfaToken::Star);
                }
            }
            '?' => tokens.push(NfaToken::Question),
            '[' => {
                let (class, next) = parse_nfa_class(&chars, i)?;
                tokens.push(NfaToken::Class(class));
                i = next;
            }
            c => tokens.push(NfaToken::Lit(c)),
        }
        i += 1;
    }
    Ok(tokens)
}

/// Go's `parseGlobClass`: `]` always closes, `a-b` is a range unless `b` is
/// `]`, no escapes. Returns the class and the index of its `]`.
fn parse_nfa_class(p: &[char], start: usize) -> Result<(Class, usize), GlobError> {
    let mut i = start + 1;
    let mut class = Class {
        negated: false,
        ranges: Vec::new(),
    };
    if p.get(i) == Some(&'^') {
        class.negated = true;
        i += 1;
    }
    while i < p.len() && p[i] != ']' {
        let lo = p[i];
        let mut hi = lo;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hi = p[i + 2];
            i += 3;
        } else {
            i += 1;
        }
        if lo > hi {
            return Err(GlobError(format!(
                "character class range {lo}-{hi} is reversed"
            )));
        }
        class.ranges.push((lo, hi));
    }
    if i >= p.len() {
        return Err(GlobError("unclosed character class `[`".to_string()));
    }
    if class.ranges.is_empty() {
        return Err(GlobError("empty character class `[]`".to_string()));
    }
    Ok((class, i))
}

/// Go's `filepath.Match` pattern, split into chunks; errors where Go would
/// return `ErrBadPattern`.
fn parse_file(p: &str) -> Result<Vec<Chunk>, GlobError> {
    let chars: Vec<char> = p.chars().collect();
    let mut chunks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let mut star = false;
        while i < chars.len() && chars[i] == '*' {
            star = true;
            i += 1;
        }
        let mut tokens: Vec<FileToken> = Vec::new();
        while i < chars.len() && chars[i] != '*' {
            match chars[i] {
                '?' => {
                    tokens.push(FileToken::Question);
                    i += 1;
                }
                '[' => {
                    let (class, next) = parse_file_class(&chars, i)?;
                    tokens.push(FileToken::Class(class));
                    i = next + 1;
                }
                c => {
                    match tokens.last_mut() {
                        Some(FileToken::Lit(s)) => s.push(c),
                        _ => tokens.push(FileToken::Lit(c.to_string())),
                    }
                    i += 1;
                }
            }
        }
        chunks.push(Chunk { star, tokens });
    }
    Ok(chunks)
}

/// Go's `matchChunk` class syntax: a `]` or `-` may not start a range end,
/// the first `]` right after `[` or `[^` is an error.
fn parse_file_class(p: &[char], start: usize) -> Result<(Class, usize), GlobError> {
    let mut i = start + 1;
    let mut class = Class {
        negated: false,
        ranges: Vec::new(),
    };
    if p.get(i) == Some(&'^') {
        class.negated = true;
        i += 1;
    }
    let bad = |what: &str| GlobError(format!("malformed character class: {what}"));
    loop {
        match p.get(i) {
            Some(']') if !class.ranges.is_empty() => return Ok((class, i)),
            None => return Err(GlobError("unclosed character class `[`".to_string())),
            Some('-') | Some(']') => {
                return Err(bad("a range may not start with `-` or `]`"));
            }
            Some(&lo) => {
                i += 1;
                let mut hi = lo;
                if p.get(i) == Some(&'-') {
                    match p.get(i + 1) {
                        None => return Err(GlobError("unclosed character class `[`".to_string())),
                        Some('-') | Some(']') => {
                            return Err(bad("a range may not end with `-` or `]`"));
                        }
                        Some(&h) => {
                            hi = h;
                            i += 2;
                        }
                    }
                }
                class.ranges.push((lo, hi));
            }
        }
    }
}

impl Nfa {
    fn new(tokens: Vec<NfaToken>) -> Nfa {
        let head: String = tokens
            .iter()
            .map_while(|t| match t {
                NfaToken::Lit(c) => Some(*c),
                _ => None,
            })
            .collect();
        let mut tail: Vec<char> = tokens
            .iter()
            .rev()
            .map_while(|t| match t {
                NfaToken::Lit(c) => Some(*c),
                _ => None,
            })
            .collect();
        tail.reverse();
        let tail: String = tail.into_iter().collect();
        let literal_pieces = if tokens
            .iter()
            .all(|t| matches!(t, NfaToken::Lit(_) | NfaToken::DoubleStar))
        {
            let mut pieces = vec![String::new()];
            for t in &tokens {
                match t {
                    NfaToken::Lit(c) => pieces.last_mut().expect("non-empty").push(*c),
                    _ => pieces.push(String::new()),
                }
            }
            Some(pieces)
        } else {
            None
        };
        let bits = BitNfa::new(&tokens).map(Box::new);
        Nfa {
            tokens,
            head,
            tail,
            literal_pieces,
            bits,
        }
    }

    fn matches(&self, name: &str) -> bool {
        if let Some(pieces) = &self.literal_pieces {
            return match_pieces_anchored(pieces, name);
        }
        // The pattern has a wildcard, so its literal head and tail are
        // distinct tokens that every match starts and ends with.
        if self.head.len() + self.tail.len() > name.len()
            || !name.starts_with(&self.head)
            || !name.ends_with(&self.tail)
        {
            return false;
        }
        match &self.bits {
            Some(bits) => bits.matches(name),
            None => run_nfa(&self.tokens, name),
        }
    }
}

/// `lit0 ** lit1 ** lit2`: the first piece starts the input, the last ends
/// it, the middle ones occur in order between them.
fn match_pieces_anchored(pieces: &[String], name: &str) -> bool {
    if pieces.len() == 1 {
        return name == pieces[0];
    }
    let first = &pieces[0];
    let last = &pieces[pieces.len() - 1];
    if first.len() + last.len() > name.len() || !name.starts_with(first.as_str()) {
        return false;
    }
    if !name.ends_with(last.as_str()) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece.as_str()) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// Go's `runGlobNFA`: one state per token position, advanced rune by rune.
fn run_nfa(tokens: &[NfaToken], name: &str) -> bool {
    let words = tokens.len() / 64 + 1;
    let mut small = [[0u64; 5]; 2];
    let mut large: Vec<u64>;
    let (current, next): (&mut [u64], &mut [u64]) = if words <= 5 {
        let [a, b] = &mut small;
        (&mut a[..words], &mut b[..words])
    } else {
        large = vec![0u64; words * 2];
        large.split_at_mut(words)
    };
    let set = |s: &mut [u64], i: usize| s[i / 64] |= 1 << (i % 64);
    let get = |s: &[u64], i: usize| s[i / 64] & (1 << (i % 64)) != 0;
    let close = |s: &mut [u64]| {
        for (i, t) in tokens.iter().enumerate() {
            if matches!(t, NfaToken::Star | NfaToken::DoubleStar) && get(s, i) {
                set(s, i + 1);
            }
        }
    };
    set(current, 0);
    close(current);
    for c in name.chars() {
        next.fill(0);
        let mut any = false;
        for (i, t) in tokens.iter().enumerate() {
            if !get(current, i) {
                continue;
            }
            match t {
                NfaToken::DoubleStar => {
                    set(next, i);
                    any = true;
                }
                NfaToken::Star if c != '/' => {
                    set(next, i);
                    any = true;
                }
                NfaToken::Question if c != '/' => {
                    set(next, i + 1);
                    any = true;
                }
                NfaToken::Lit(l) if *l == c => {
                    set(next, i + 1);
                    any = true;
                }
                NfaToken::Class(class) if c != '/' && class.matches(c) => {
                    set(next, i + 1);
                    any = true;
                }
                _ => {}
            }
        }
        if !any {
            return false;
        }
        close(next);
        current.copy_from_slice(next);
    }
    get(current, tokens.len())
}

/// Decodes the rune at the start of `s` as Go does: an invalid byte is one
/// U+FFFD of width 1.
fn decode(s: &[u8]) -> (char, usize) {
    let width = match s[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return ('\u{fffd}', 1),
    };
    match s.get(..width).and_then(|b| std::str::from_utf8(b).ok()) {
        Some(t) => (t.chars().next().expect("one char"), width),
        None => ('\u{fffd}', 1),
    }
}

/// Go's `matchChunk`: the rest of `s` after `tokens`, if they match its start.
fn match_chunk<'s>(tokens: &[FileToken], mut s: &'s [u8]) -> Option<&'s [u8]> {
    for tok in tokens {
        match tok {
            FileToken::Lit(lit) => {
                s = s.strip_prefix(lit.as_bytes())?;
            }
            FileToken::Question => {
                if s.first()? == &b'/' {
                    return None;
                }
                let (_, n) = decode(s);
                s = &s[n..];
            }
            FileToken::Class(class) => {
                if s.is_empty() {
                    return None;
                }
                let (c, n) = decode(s);
                if !class.matches(c) {
                    return None;
                }
                s = &s[n..];
            }
        }
    }
    Some(s)
}

/// Go's `filepath.Match` over pre-parsed chunks.
fn file_match(chunks: &[Chunk], name: &str) -> bool {
    let mut name = name.as_bytes();
    'chunks: for (ci, chunk) in chunks.iter().enumerate() {
        let last = ci + 1 == chunks.len();
        if chunk.star && chunk.tokens.is_empty() {
            return !name.contains(&b'/');
        }
        if let Some(rest) = match_chunk(&chunk.tokens, name) {
            if rest.is_empty() || !last {
                name = rest;
                continue;
            }
        }
        if chunk.star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                if let Some(rest) = match_chunk(&chunk.tokens, &name[i + 1..]) {
                    if !last || rest.is_empty() {
                        name = rest;
                        continue 'chunks;
                    }
                }
                i += 1;
            }
        }
        return false;
    }
    name.is_empty()
}

/// Go's `filepath.Match(pattern, name)` on its own (a malformed pattern
/// matches nothing).
pub fn file_match_str(pattern: &str, name: &str) -> bool {
    parse_file(pattern).is_ok_and(|chunks| file_match(&chunks, name))
}

fn match_pieces(pieces: &[String], name: &str) -> bool {
    let mut rest = name;
    for piece in pieces {
        match rest.find(piece.as_str()) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

impl Matcher {
    fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Exact(s) => name == s,
            Matcher::Prefix(p) => name.starts_with(p.as_str()),
            Matcher::PrefixOrFile(p, chunks) => {
                name.starts_with(p.as_str()) || file_match(chunks, name)
            }
            Matcher::Pieces(pieces) => match_pieces(pieces, name),
            Matcher::File(chunks) => {
                // The literal that starts the first chunk (when it follows no
                // `*`) and the literal that ends the last one bound every
                // match; most inputs fail these before the chunk walk.
                if let Some(FileToken::Lit(head)) = chunks
                    .first()
                    .filter(|c| !c.star)
                    .and_then(|c| c.tokens.first())
                {
                    if !name.starts_with(head.as_str()) {
                        return false;
                    }
                }
                if let Some(FileToken::Lit(tail)) = chunks.last().and_then(|c| c.tokens.last()) {
                    if !name.ends_with(tail.as_str()) {
                        return false;
                    }
                }
                file_match(chunks, name)
            }
            Matcher::Nfa(full, zero) => {
                full.matches(name) || zero.as_ref().is_some_and(|z| z.matches(name))
            }
        }
    }
}

/// Words kept inline before a [`Bits`] goes to the heap (1024 bits).
const INLINE_WORDS: usize = 16;

/// A fixed set of bits, one per pattern of a set; small sets live on the
/// stack.
#[derive(Clone, Debug)]
pub struct Bits {
    words: usize,
    inline: [u64; INLINE_WORDS],
    heap: Vec<u64>,
}

impl Bits {
    pub fn new(len: usize) -> Bits {
        let words = len.div_ceil(64);
        Bits {
            words,
            inline: [0; INLINE_WORDS],
            heap: if words > INLINE_WORDS {
                vec![0; words]
            } else {
                Vec::new()
            },
        }
    }

    fn slice(&self) -> &[u64] {
        if self.words > INLINE_WORDS {
            &self.heap
        } else {
            &self.inline[..self.words]
        }
    }

    fn slice_mut(&mut self) -> &mut [u64] {
        if self.words > INLINE_WORDS {
            &mut self.heap
        } else {
            &mut self.inline[..self.words]
        }
    }

    pub fn set(&mut self, i: usize) {
        self.slice_mut()[i / 64] |= 1 << (i % 64);
    }

    pub fn get(&self, i: usize) -> bool {
        self.slice()[i / 64] & (1 << (i % 64)) != 0
    }

    /// The indices of the set bits, ascending.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.slice().iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(wi * 64 + bit)
            })
        })
    }

    /// Whether any bit in `range` is set.
    pub fn any_in(&self, range: std::ops::Range<usize>) -> bool {
        if range.is_empty() {
            return false;
        }
        let words = self.slice();
        let (first, last) = (range.start / 64, (range.end - 1) / 64);
        let low = !0u64 << (range.start % 64);
        let high = !0u64 >> (63 - (range.end - 1) % 64);
        if first == last {
            return words[first] & low & high != 0;
        }
        words[first] & low != 0
            || words[first + 1..last].iter().any(|&w| w != 0)
            || words[last] & high != 0
    }
}

/// Many globs of one kind matched against one input in one pass: a literal
/// every match must contain is found with Aho-Corasick (literals that must
/// start the input by an anchored search, the others anywhere), and only the
/// globs whose literal occurs are run.
#[derive(Clone, Debug)]
pub struct GlobSet {
    globs: Vec<Glob>,
    /// Literals that must start the input, and their globs.
    prefixes: PrefixTrie,
    /// Literals that may occur anywhere, and their globs.
    inner: Literals,
    /// Globs with no literal: always run.
    unanchored: Vec<usize>,
}

/// Literals that must start the input: a byte trie walked along the input
/// as far as it goes (Aho-Corasick has no anchored overlapping search).
#[derive(Clone, Debug, Default)]
struct PrefixTrie {
    /// Node 0 is the root.
    nodes: Vec<TrieNode>,
}

/// Children sorted by byte, and the globs whose literal ends here.
type TrieNode = (Vec<(u8, u32)>, Vec<usize>);

impl PrefixTrie {
    fn build(entries: Vec<(String, usize)>) -> PrefixTrie {
        let mut nodes: Vec<TrieNode> = vec![(Vec::new(), Vec::new())];
        for (lit, gi) in entries {
            let mut at = 0usize;
            for &b in lit.as_bytes() {
                at = match nodes[at].0.binary_search_by_key(&b, |&(c, _)| c) {
                    Ok(i) => nodes[at].0[i].1 as usize,
                    Err(i) => {
                        let next = nodes.len();
                        nodes.push((Vec::new(), Vec::new()));
                        nodes[at].0.insert(i, (b, next as u32));
                        next
                    }
                };
            }
            nodes[at].1.push(gi);
        }
        PrefixTrie { nodes }
    }

    /// Calls `f` with the globs of every literal that starts `input`.
    fn for_each_prefix(&self, input: &str, mut f: impl FnMut(&[usize])) {
        let mut at = 0usize;
        for &b in input.as_bytes() {
            let children = &self.nodes[at].0;
            match children.binary_search_by_key(&b, |&(c, _)| c) {
                Ok(i) => at = children[i].1 as usize,
                Err(_) => return,
            }
            let owners = &self.nodes[at].1;
            if !owners.is_empty() {
                f(owners);
            }
        }
    }
}

/// Every occurrence of a set of literals, found in one pass of an
/// Aho-Corasick DFA (overlapping occurrences included). The DFA is built at
/// the first scan, not with the policy: building all of a policy's took a
/// quarter of its load, which every `rampart run` waits for before its
/// command starts, and a set a run never consults is never built.
#[derive(Clone, Debug)]
struct Scanner {
    literals: Vec<String>,
    automaton: std::sync::OnceLock<Built>,
}

/// The automaton a [`Scanner`] built: a DFA, or where the DFA would pass
/// its size limits (built lazily, a failure must not stop the collector),
/// the NFA it is made from.
#[derive(Clone, Debug)]
enum Built {
    Dfa(aho_corasick::dfa::DFA),
    Nfa(aho_corasick::nfa::noncontiguous::NFA),
}

impl Scanner {
    fn new(literals: &[String]) -> Option<Scanner> {
        if literals.is_empty() {
            return None;
        }
        Some(Scanner {
            literals: literals.to_vec(),
            automaton: std::sync::OnceLock::new(),
        })
    }

    fn automaton(&self) -> &Built {
        self.automaton.get_or_init(|| {
            let dfa = aho_corasick::dfa::DFA::builder()
                .match_kind(MatchKind::Standard)
                // Start-byte prefilters stall on commands and paths full of
                // `-`, `/` and spaces; the DFA alone scans steadily.
                .prefilter(false)
                .build(&self.literals);
            match dfa {
                Ok(dfa) => Built::Dfa(dfa),
                Err(_) => Built::Nfa(
                    aho_corasick::nfa::noncontiguous::NFA::builder()
                        .match_kind(MatchKind::Standard)
                        .prefilter(false)
                        .build(&self.literals)
                        .expect("literal automaton within the NFA's limits"),
                ),
            }
        })
    }

    /// Calls `f` with the index of each literal at each place it ends.
    fn for_each(&self, input: &str, f: impl FnMut(usize)) {
        match self.automaton() {
            Built::Dfa(a) => scan(a, input, f),
            Built::Nfa(a) => scan(a, input, f),
        }
    }
}

/// Every literal of automaton `a` at each place it ends in `input`
/// (overlapping ones included).
fn scan(a: &impl Automaton, input: &str, mut f: impl FnMut(usize)) {
    let Ok(mut sid) = a.start_state(Anchored::No) else {
        return;
    };
    for &b in input.as_bytes() {
        sid = a.next_state(Anchored::No, sid, b);
        if a.is_special(sid) {
            if a.is_dead(sid) {
                return;
            }
            if a.is_match(sid) {
                for k in 0..a.match_len(sid) {
                    f(a.match_pattern(sid, k).as_usize());
                }
            }
        }
    }
}

/// Literals and, for each, the globs anchored on it.
#[derive(Clone, Debug, Default)]
struct Literals {
    automaton: Option<Scanner>,
    owners: Vec<Vec<usize>>,
}

impl Literals {
    fn build(entries: Vec<(String, usize)>) -> Literals {
        let mut ids: std::collections::HashMap<String, usize> = Default::default();
        let mut literals: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        for (lit, gi) in entries {
            let id = *ids.entry(lit.clone()).or_insert_with(|| {
                literals.push(lit);
                owners.push(Vec::new());
                literals.len() - 1
            });
            owners[id].push(gi);
        }
        let automaton = Scanner::new(&literals);
        Literals { automaton, owners }
    }
}

impl GlobSet {
    /// Builds the set; every glob must be `Text` or `Path` (domain globs are
    /// few and matched one by one).
    pub fn new(globs: Vec<Glob>) -> GlobSet {
        let mut prefixes = Vec::new();
        let mut inner = Vec::new();
        let mut unanchored = Vec::new();
        for (gi, glob) in globs.iter().enumerate() {
            debug_assert!(glob.kind != GlobKind::Domain);
            match glob.anchor() {
                None => unanchored.push(gi),
                Some((lit, true)) => prefixes.push((lit, gi)),
                Some((lit, false)) => inner.push((lit, gi)),
            }
        }
        GlobSet {
            globs,
            prefixes: PrefixTrie::build(prefixes),
            inner: Literals::build(inner),
            unanchored,
        }
    }

    pub fn len(&self) -> usize {
        self.globs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    pub fn glob(&self, i: usize) -> &Glob {
        &self.globs[i]
    }

    /// Sets in `out` the bit of every glob that matches `input`.
    pub fn matches_into(&self, input: &str, out: &mut Bits) {
        if input.len() > MAX_INPUT_LEN {
            return;
        }
        let input = normalize_slashes(input);
        let input: &str = &input;
        for &gi in &self.unanchored {
            if self.globs[gi].is_match_normalized(input) {
                out.set(gi);
            }
        }
        self.prefixes
            .for_each_prefix(input, |owners| self.verify(owners, input, out));
        if let Some(scanner) = &self.inner.automaton {
            // Each literal is looked at once, however often it occurs.
            let mut seen = Bits::new(self.inner.owners.len());
            scanner.for_each(input, |lit| {
                if !seen.get(lit) {
                    seen.set(lit);
                    self.verify(&self.inner.owners[lit], input, out);
                }
            });
        }
    }

    fn verify(&self, owners: &[usize], input: &str, out: &mut Bits) {
        for &gi in owners {
            if !out.get(gi) && self.globs[gi].is_match_normalized(input) {
                out.set(gi);
            }
        }
    }
}

/// Case-insensitive substrings (`command_contains`): all of them found in one
/// pass over the lower-cased input.
#[derive(Clone, Debug)]
pub struct LiteralSet {
    len: usize,
    automaton: Option<Scanner>,
    owners: Vec<Vec<usize>>,
}

impl LiteralSet {
    /// Builds the set; entries must not be empty.
    pub fn new(entries: &[String]) -> LiteralSet {
        let mut ids: std::collections::HashMap<String, usize> = Default::default();
        let mut lowered: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let l = e.to_lowercase();
            let id = *ids.entry(l.clone()).or_insert_with(|| {
                lowered.push(l);
                owners.push(Vec::new());
                lowered.len() - 1
            });
            owners[id].push(i);
        }
        let automaton = Scanner::new(&lowered);
        LiteralSet {
            len: entries.len(),
            automaton,
            owners,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets in `out` the bit of every entry that occurs in `input`, ignoring
    /// case.
    pub fn matches_into(&self, input: &str, out: &mut Bits) {
        let Some(ac) = &self.automaton else { return };
        let lowered: Cow<'_, str> = if input.chars().any(char::is_uppercase) {
            Cow::Owned(input.to_lowercase())
        } else {
            Cow::Borrowed(input)
        };
        ac.for_each(&lowered, |lit| {
            for &i in &self.owners[lit] {
                out.set(i);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nfa_a_scanner_falls_back_to_finds_what_the_dfa_finds() {
        let literals: Vec<String> = ["ab", "b", "abc", "/.ssh/", "ssh", "c/"]
            .iter()
            .map(|l| l.to_string())
            .collect();
        let scanner = Scanner::new(&literals).unwrap();
        let Built::Dfa(dfa) = scanner.automaton() else {
            panic!("a small set is a DFA");
        };
        let nfa = aho_corasick::nfa::noncontiguous::NFA::builder()
            .match_kind(MatchKind::Standard)
            .build(&literals)
            .unwrap();
        for input in [
            "xabcab",
            "/home/u/.ssh/id_rsa",
            "abc/",
            "",
            "zzz",
            "bbb/.ssh/abc/",
        ] {
            let (mut by_dfa, mut by_nfa) = (Vec::new(), Vec::new());
            scan(dfa, input, |i| by_dfa.push(i));
            scan(&nfa, input, |i| by_nfa.push(i));
            assert_eq!(by_dfa, by_nfa, "{input}");
        }
        let mut found = Vec::new();
        scanner.for_each("xabc/", |i| found.push(literals[i].as_str()));
        assert_eq!(found, ["ab", "b", "abc", "c/"]);
    }

    fn text(p: &str, s: &str) -> bool {
        Glob::new(p, GlobKind::Text).unwrap().is_match(s)
    }

    fn path(p: &str, s: &str) -> bool {
        Glob::new(p, GlobKind::Path).unwrap().is_match(s)
    }

    #[test]
    fn a_place_a_pattern_names_whole_is_what_its_matcher_matches() {
        let place = |p: &str| Glob::new(p, GlobKind::Path).unwrap().path_place();
        assert_eq!(place("/usr/lib/**"), Some(("/usr/lib".into(), true)));
        assert_eq!(place("/**"), Some(("/".into(), true)));
        assert_eq!(
            place("/etc/ld.so.cache"),
            Some(("/etc/ld.so.cache".into(), false))
        );
        for other in [
            "/usr/lib/*",
            "/usr/*/lib/**",
            "**/.env",
            "/a/**/b",
            "/a/b?",
            "/a/[bc]/**",
        ] {
            assert_eq!(place(other), None, "{other}");
        }
        assert_eq!(
            Glob::new("/a/**", GlobKind::Text).unwrap().path_place(),
            None
        );
        // What the place says is what the pattern matches.
        for (pattern, inputs) in [
            (
                "/usr/lib/**",
                ["/usr/lib/x", "/usr/lib/x/y.so", "/usr/lib/.hidden/z"],
            ),
            ("/**", ["/a", "/a/b", "/.env"]),
        ] {
            let (dir, under) = place(pattern).unwrap();
            assert!(under);
            for input in inputs {
                let starts = dir == "/" || input.starts_with(&format!("{dir}/"));
                assert!(starts && path(pattern, input), "{pattern} {input}");
            }
        }
        assert!(path("/etc/ld.so.cache", "/etc/ld.so.cache"));
        assert!(!path("/usr/lib/**", "/usr/library/x"));
    }

    #[test]
    fn text_globs_follow_match_glob() {
        assert!(text("git *", "git push origin/main"));
        assert!(!text("git *", "gitk"));
        assert!(text(
            "*curl*webhook.site*",
            "x && curl https://webhook.site/a"
        ));
        // Nothing anchors the last piece of a leading-star pattern.
        assert!(text("*cat /etc/shadow", "sudo cat /etc/shadow.bak"));
        // filepath.Match: `*` stops at `/`.
        assert!(text("rm -? x*y", "rm -r xay"));
        assert!(!text("a*b", "a/b"));
        assert!(text("[ab]c", "bc"));
        // A class may match `/` in filepath.Match ...
        assert!(text("a[^x]b", "a/b"));
        // ... but not in the `**` automaton.
        assert!(!text("**a[^x]b", "a/b"));
        // The literal prefix test of a trailing `*` takes wildcards literally.
        assert!(text("rampart --* allow *", "rampart --config=x allow y"));
        // ... and `filepath.Match`'s `*` stops at `/`, as in Go.
        assert!(!text("rampart --* allow *", "rampart --config=/x allow y"));
        assert!(text("rampart --* allow *", "rampart --* allow /zz"));
        // Backslashes are slashes.
        assert!(text("**/.ssh/id_*", "C:\\Users\\me\\.ssh\\id_rsa"));
    }

    #[test]
    fn path_globs_stay_in_segments() {
        assert!(path("/etc/**", "/etc/ssh/sshd_config"));
        assert!(path("/etc/*", "/etc/passwd"));
        assert!(!path("/etc/*", "/etc/ssh/sshd_config"));
        assert!(path("**/.env", ".env"));
        assert!(path("**/.env", "/home/u/p/.env"));
        assert!(!path("**/.env", "/home/u/p/.envrc"));
        assert!(path("**/.ssh/**", "/home/u/.ssh/config"));
        assert!(path("/home/*/.ssh/id_*", "/home/u/.ssh/id_ed25519"));
        assert!(!path("/home/*/.ssh/id_*", "/home/u/x/.ssh/id_ed25519"));
        assert!(path("**/*.pem", "/a/b/c.pem"));
        assert!(path("/proc/[0-9]*/mem", "/proc/123/mem"));
    }

    #[test]
    fn malformed_and_oversized_patterns_are_refused() {
        for (p, kind) in [
            ("/etc/[abc", GlobKind::Path),
            ("foo[", GlobKind::Text),
            ("[]a]", GlobKind::Text),
            ("**/**/a/**", GlobKind::Path),
            ("", GlobKind::Text),
            ("a[z-a]", GlobKind::Path),
        ] {
            assert!(Glob::new(p, kind).is_err(), "{p:?} should be refused");
        }
        let long = format!("**{}", "a".repeat(255));
        assert!(Glob::new(&long, GlobKind::Path).is_err());
        // A leading-star text pattern takes `[` literally, as Go does.
        assert!(text("*foo[", "xfoo["));
    }

    #[test]
    fn domains_ignore_case_and_trailing_dots() {
        let g = Glob::new("*.Ngrok.io.", GlobKind::Domain).unwrap();
        assert!(g.is_match("abc.ngrok.IO."));
        assert!(!g.is_match("ngrok.io"));
        assert!(!g.is_match(""));
    }

    #[test]
    fn sets_agree_with_single_globs() {
        let patterns = [
            "git *",
            "rm -rf /",
            "*curl*webhook.site*",
            "/**/rampart allow *",
            "**/.env",
            "sudo **",
            "a*b",
            "*",
        ];
        let globs: Vec<Glob> = patterns
            .iter()
            .map(|p| Glob::new(p, GlobKind::Text).unwrap())
            .collect();
        let set = GlobSet::new(globs.clone());
        for input in [
            "git status",
            "rm -rf /",
            "curl https://webhook.site/x",
            "/usr/bin/rampart allow x",
            ".env",
            "sudo rm x",
            "axxb",
            "",
        ] {
            let mut bits = Bits::new(set.len());
            set.matches_into(input, &mut bits);
            for (i, g) in globs.iter().enumerate() {
                assert_eq!(
                    bits.get(i),
                    g.is_match(input),
                    "{} vs {input:?}",
                    g.as_str()
                );
            }
        }
    }

    #[test]
    fn literal_sets_ignore_case() {
        let set = LiteralSet::new(&["Base64 -d".to_string(), "nc -e".to_string()]);
        let mut bits = Bits::new(set.len());
        set.matches_into("echo x | BASE64 -D | sh", &mut bits);
        assert!(bits.get(0));
        assert!(!bits.get(1));
    }

    #[test]
    fn matches_everything_spots_universal_patterns() {
        for p in ["**", "/**", "**/*", "/**/*"] {
            assert!(
                Glob::new(p, GlobKind::Path).unwrap().matches_everything(),
                "{p}"
            );
        }
        for p in ["/etc/**", "**/.env", "*"] {
            assert!(
                !Glob::new(p, GlobKind::Path).unwrap().matches_everything(),
                "{p}"
            );
        }
        assert!(Glob::new("*", GlobKind::Text).unwrap().matches_everything());
    }
}

#[cfg(test)]
mod bits_tests {
    use super::Bits;

    #[test]
    fn any_in_checks_exactly_the_range() {
        for (set, len) in [0usize, 5, 63, 64, 65, 127, 128, 190, 1500]
            .into_iter()
            .flat_map(|b| [(b, 200.max(b + 1)), (b, 2000)])
        {
            let mut bits = Bits::new(len);
            bits.set(set);
            for start in (0..len).step_by(7) {
                for end in (start..=len).step_by(5) {
                    assert_eq!(
                        bits.any_in(start..end),
                        (start..end).contains(&set),
                        "bit {set}, range {start}..{end}"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod nfa_tests {
    use super::*;

    #[test]
    fn bit_parallel_and_plain_automata_agree() {
        let patterns = [
            "**/.ssh/id_*",
            "/home/*/.config/**",
            "**/*.pem",
            "a?c/**/[x-z]*",
            "**/é*/[^a]b",
            "/proc/[0-9]*/**",
            "*/**/*",
            "**",
            "?*?",
        ];
        let inputs = [
            "",
            "/",
            "/home/u/.ssh/id_rsa",
            "/home/u/.config/a/b",
            "/a/b/c.pem",
            "abc/d/e/xq",
            "abc/yq",
            "/é1/cb",
            "/é1/ab",
            "/proc/12/mem",
            "a/b",
            "ab",
            "é",
        ];
        for p in patterns {
            let tokens = tokenize_nfa(p).unwrap();
            let bits = BitNfa::new(&tokens).unwrap();
            for input in inputs {
                assert_eq!(
                    bits.matches(input),
                    run_nfa(&tokens, input),
                    "{p:?} vs {input:?}"
                );
            }
        }
    }
}
