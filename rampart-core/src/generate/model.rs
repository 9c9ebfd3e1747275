//! The policy document the generator writes and reads back: policies,
//! rules, and the comment lines that carry each rule's support (how many
//! calls, up to three examples). Rendering is in [`super::render`]; this
//! module owns the shapes and the per-rule statistics, and never decides
//! what a rule should be.

use std::collections::BTreeSet;

/// The sessions some calls were made in: hashes of the session names (so
/// that the generators of several threads, and a merge, combine them), or
/// at least `floor` of them when read back from a comment. One session,
/// the common case for a path seen once, takes no allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sessions {
    ids: Ids,
    floor: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Ids {
    #[default]
    None,
    One(u64),
    /// Sorted, distinct, at least two.
    Many(Vec<u64>),
}

impl Sessions {
    pub fn one(id: u64) -> Sessions {
        Sessions {
            ids: Ids::One(id),
            floor: 0,
        }
    }

    pub fn at_least(n: u64) -> Sessions {
        Sessions {
            ids: Ids::None,
            floor: n,
        }
    }

    pub fn insert(&mut self, id: u64) {
        match &mut self.ids {
            Ids::None => self.ids = Ids::One(id),
            Ids::One(one) if *one == id => {}
            Ids::One(one) => {
                let (a, b) = if *one < id { (*one, id) } else { (id, *one) };
                self.ids = Ids::Many(vec![a, b]);
            }
            Ids::Many(ids) => {
                if let Err(at) = ids.binary_search(&id) {
                    ids.insert(at, id);
                }
            }
        }
    }

    pub fn union(&mut self, other: &Sessions) {
        match &other.ids {
            Ids::None => {}
            Ids::One(id) => self.insert(*id),
            Ids::Many(ids) => {
                for &id in ids {
                    self.insert(id);
                }
            }
        }
        self.floor = self.floor.max(other.floor);
    }

    /// How many.
    pub fn len(&self) -> u64 {
        let ids = match &self.ids {
            Ids::None => 0,
            Ids::One(_) => 1,
            Ids::Many(ids) => ids.len() as u64,
        };
        ids.max(self.floor)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The id of a session in [`Sessions`]: FNV-1a of its name (the same in
/// every run and thread).
pub fn session_id(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How many calls support a rule, in how many sessions, and up to three of
/// the calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stat {
    pub count: u64,
    pub sessions: Sessions,
    /// The lexicographically smallest distinct examples, at most three, so
    /// that the same calls in any order give the same examples.
    pub examples: Vec<String>,
}

pub const MAX_EXAMPLES: usize = 3;

impl Stat {
    pub fn one(example: &str, count: u64) -> Stat {
        Stat {
            count,
            sessions: Sessions::default(),
            examples: vec![example.to_string()],
        }
    }

    /// `count` calls of `example`, made in `sessions`.
    pub fn of(example: &str, count: u64, sessions: &Sessions) -> Stat {
        Stat {
            sessions: sessions.clone(),
            ..Stat::one(example, count)
        }
    }

    /// Adds `count` calls of `example`, made in `sessions`.
    pub fn add_from(&mut self, example: &str, count: u64, sessions: &Sessions) {
        self.add(example, count);
        self.sessions.union(sessions);
    }

    pub fn add(&mut self, example: &str, count: u64) {
        self.count += count;
        self.offer(example);
    }

    pub fn absorb(&mut self, other: &Stat) {
        self.count += other.count;
        self.sessions.union(&other.sessions);
        for e in &other.examples {
            self.offer(e);
        }
    }

    fn offer(&mut self, example: &str) {
        if self.examples.iter().any(|e| e == example) {
            return;
        }
        if self.examples.len() == MAX_EXAMPLES
            && self
                .examples
                .last()
                .is_some_and(|last| last.as_str() <= example)
        {
            return;
        }
        let at = self.examples.partition_point(|e| e.as_str() < example);
        self.examples.insert(at, example.to_string());
        self.examples.truncate(MAX_EXAMPLES);
    }
}

/// A whole policy file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Doc {
    /// Comment lines before `version:`, each starting with `#`.
    pub header: Vec<String>,
    pub version: String,
    pub default_action: String,
    pub policies: Vec<Policy>,
    /// Top-level keys after `policies` (`notify`, `tests`), kept as read.
    pub extra: Vec<(String, Yaml)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    pub comments: Vec<String>,
    pub name: String,
    pub description: Option<String>,
    pub priority: Option<i64>,
    pub enabled: Option<bool>,
    pub tools: Vec<String>,
    /// `match.agent`, kept as written.
    pub agent: Option<String>,
    /// `match.session`, kept as written.
    pub session: Option<String>,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rule {
    pub comments: Vec<String>,
    pub action: String,
    pub when: Vec<(String, When)>,
    pub message: Option<String>,
    /// Other keys of the rule (`webhook`, `ask`), kept as read.
    pub extra: Vec<(String, Yaml)>,
}

/// One condition of a rule's `when`.
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    /// The patterns; an entry starting with `#` is a comment, never a
    /// pattern: `# text` is a line of its own among them (it heads the
    /// patterns that follow), `#> text` ends the next pattern's line.
    Patterns(Vec<String>),
    Flag(bool),
    /// Anything else (`agent_depth`, `tool_param_matches`, ...), as YAML.
    Other(Yaml),
}

/// A YAML value the document does not model, kept as the policy loader's
/// reader read it (aliases and merge keys expanded): a scalar keeps its
/// text and whether it was written plain (`5` and `true` as opposed to
/// `"5"` and `"true"`), a mapping the order of its keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Yaml {
    /// `~`, `null` or nothing.
    Null,
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

impl Rule {
    pub fn patterns(&self, field: &str) -> &[String] {
        self.when
            .iter()
            .find(|(f, _)| f == field)
            .and_then(|(_, w)| match w {
                When::Patterns(p) => Some(p.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }

    pub fn patterns_mut(&mut self, field: &str) -> &mut Vec<String> {
        if !self.when.iter().any(|(f, _)| f == field) {
            self.when
                .push((field.to_string(), When::Patterns(Vec::new())));
        }
        let (_, w) = self
            .when
            .iter_mut()
            .find(|(f, _)| f == field)
            .expect("just inserted");
        if !matches!(w, When::Patterns(_)) {
            *w = When::Patterns(Vec::new());
        }
        match w {
            When::Patterns(p) => p,
            _ => unreachable!(),
        }
    }

    /// The rule's support, read back from its first comment line.
    pub fn stat(&self) -> Option<Stat> {
        self.comments.iter().find_map(|c| parse_stat_comment(c))
    }

    /// Every pattern of the rule, with its field.
    pub fn all_patterns(&self) -> impl Iterator<Item = (&str, &str)> {
        self.when.iter().flat_map(|(f, w)| match w {
            When::Patterns(p) => p
                .iter()
                .filter(|s| !s.starts_with('#'))
                .map(|s| (f.as_str(), s.as_str()))
                .collect(),
            _ => Vec::new(),
        })
    }
}

impl Doc {
    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.name == name)
    }

    pub fn policy_mut(&mut self, name: &str) -> Option<&mut Policy> {
        self.policies.iter_mut().find(|p| p.name == name)
    }
}

/// `# 12 calls, e.g. "a", "b"` for a rule's support.
pub fn stat_comment(stat: &Stat) -> String {
    let mut s = format!(
        "# {} call{}",
        stat.count,
        if stat.count == 1 { "" } else { "s" }
    );
    match stat.sessions.len() {
        0 => {}
        1 => s.push_str(" in 1 session"),
        n => s.push_str(&format!(" in {n} sessions")),
    }
    if !stat.examples.is_empty() {
        s.push_str(", e.g. ");
        let quoted: Vec<String> = stat.examples.iter().map(|e| quote(&shorten(e))).collect();
        s.push_str(&quoted.join(", "));
    }
    s
}

/// Longest example shown in a comment, in characters.
const MAX_EXAMPLE: usize = 120;

/// `example`, cut to [`MAX_EXAMPLE`] characters (ending in `...`).
fn shorten(example: &str) -> std::borrow::Cow<'_, str> {
    if example.chars().count() <= MAX_EXAMPLE {
        return example.into();
    }
    let mut s: String = example.chars().take(MAX_EXAMPLE - 3).collect();
    s.push_str("...");
    s.into()
}

/// Reads back what [`stat_comment`] wrote.
pub fn parse_stat_comment(line: &str) -> Option<Stat> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let count: u64 = digits.parse().ok()?;
    let rest = rest[digits.len()..].strip_prefix(" call")?;
    let rest = rest.strip_prefix('s').unwrap_or(rest);
    let (sessions, rest) = match rest.strip_prefix(" in ") {
        Some(r) => {
            let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
            let n: u64 = digits.parse().ok()?;
            let r = r[digits.len()..].strip_prefix(" session")?;
            (Sessions::at_least(n), r.strip_prefix('s').unwrap_or(r))
        }
        None => (Sessions::default(), rest),
    };
    let mut examples = Vec::new();
    if let Some(i) = rest.find(", e.g. ") {
        let mut s = &rest[i + ", e.g. ".len()..];
        while let Some((value, used)) = unquote_prefix(s) {
            examples.push(value);
            s = s[used..].trim_start_matches(", ");
            if !s.starts_with('"') {
                break;
            }
        }
    }
    Some(Stat {
        count,
        sessions,
        examples,
    })
}

/// A YAML double-quoted scalar that is also safe inside a comment: every
/// character YAML could not carry raw, and every line break, is escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20
                || c as u32 == 0x7f
                || (0x80..=0x9f).contains(&(c as u32))
                || c == '\u{2028}'
                || c == '\u{2029}'
                || c == '\u{feff}' =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parses one [`quote`]d string at the start of `s`: (value, bytes used).
pub fn unquote_prefix(s: &str) -> Option<(String, usize)> {
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => match chars.next()?.1 {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => {
                    let hex: String = (0..4)
                        .filter_map(|_| chars.next().map(|(_, h)| h))
                        .collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// Sorted, deduplicated.
pub fn sorted<I: IntoIterator<Item = String>>(items: I) -> Vec<String> {
    items
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_the_three_smallest() {
        let mut s = Stat::default();
        for e in ["d", "b", "a", "c", "b"] {
            s.add(e, 1);
        }
        assert_eq!(s.count, 5);
        assert_eq!(s.examples, ["a", "b", "c"]);
    }

    #[test]
    fn stat_comment_round_trips() {
        let mut s = Stat {
            count: 7,
            sessions: Sessions::at_least(2),
            examples: vec!["a \"q\"".into(), "b\nc".into(), "d\\e".into()],
        };
        let line = stat_comment(&s);
        assert!(!line.contains('\n'));
        assert!(line.starts_with("# 7 calls in 2 sessions, e.g. "), "{line}");
        assert_eq!(parse_stat_comment(&line), Some(s.clone()));
        s.sessions = Sessions::default();
        assert_eq!(parse_stat_comment(&stat_comment(&s)), Some(s));
    }

    #[test]
    fn sessions_count_each_session_once_across_unions() {
        let mut a = Sessions::one(session_id("repo/main"));
        a.insert(session_id("repo/main"));
        a.insert(session_id("repo/dev"));
        let mut b = Sessions::one(session_id("repo/dev"));
        b.insert(session_id("run-x"));
        a.union(&b);
        assert_eq!(a.len(), 3);
        // A count read back from a comment is a floor.
        a.union(&Sessions::at_least(5));
        assert_eq!(a.len(), 5);
    }

    #[test]
    fn long_examples_are_cut_in_comments() {
        let long = "x".repeat(500);
        let line = stat_comment(&Stat::one(&long, 1));
        assert!(line.len() < 200, "{line}");
        assert!(line.contains("..."), "{line}");
    }
}
