//! The policy document the generator writes and reads back: policies,
//! rules, and the comment lines that carry each rule's support (how many
//! calls, up to three examples). Rendering is in [`super::render`]; this
//! module owns the shapes and the per-rule statistics, and never decides
//! what a rule should be.

use std::collections::BTreeSet;

/// How many calls support a rule, and up to three of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stat {
    pub count: u64,
    /// The lexicographically smallest distinct examples, at most three, so
    /// that the same calls in any order give the same examples.
    pub examples: Vec<String>,
}

pub const MAX_EXAMPLES: usize = 3;

impl Stat {
    pub fn one(example: &str, count: u64) -> Stat {
        Stat {
            count,
            examples: vec![example.to_string()],
        }
    }

    pub fn add(&mut self, example: &str, count: u64) {
        self.count += count;
        self.offer(example);
    }

    pub fn absorb(&mut self, other: &Stat) {
        self.count += other.count;
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
    pub extra: Vec<(String, serde_yaml_ng::Value)>,
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
    pub extra: Vec<(String, serde_yaml_ng::Value)>,
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
    Other(serde_yaml_ng::Value),
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
    if !stat.examples.is_empty() {
        s.push_str(", e.g. ");
        let quoted: Vec<String> = stat.examples.iter().map(|e| quote(e)).collect();
        s.push_str(&quoted.join(", "));
    }
    s
}

/// Reads back what [`stat_comment`] wrote.
pub fn parse_stat_comment(line: &str) -> Option<Stat> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let count: u64 = digits.parse().ok()?;
    let rest = rest[digits.len()..].strip_prefix(" call")?;
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
    Some(Stat { count, examples })
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
        let s = Stat {
            count: 7,
            examples: vec!["a \"q\"".into(), "b\nc".into(), "d\\e".into()],
        };
        let line = stat_comment(&s);
        assert!(!line.contains('\n'));
        assert_eq!(parse_stat_comment(&line), Some(s));
    }
}
