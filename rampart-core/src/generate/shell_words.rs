//! Reading a recorded command line as shell words, for the exec
//! generaliser ([`super::exec`]).
//!
//! Owns the two readings: an argv as the recorder writes it (POSIX shell
//! words joined by single spaces, [`simple_words`]) and one simple command
//! of a script ([`script_words`], expansions and redirections marked). It
//! never decides what a word means (that is [`super::command_parts`]) and
//! never evaluates a policy.

/// One word of a command: its text as written and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub raw: String,
    pub value: String,
}

/// Splits a command line into shell words: bare words, `'...'`, `"..."`
/// and `\x`, joined by single spaces. `None` when the line holds shell
/// syntax outside quotes (operators, redirections, substitutions, globs,
/// variables): such a line is a script, not one argv.
pub fn simple_words(command: &str) -> Option<Vec<Word>> {
    if command.is_empty() {
        return None;
    }
    let mut words = Vec::new();
    let mut raw = String::new();
    let mut value = String::new();
    let mut chars = command.chars();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match c {
            ' ' => {
                if !in_word {
                    return None;
                }
                words.push(Word {
                    raw: std::mem::take(&mut raw),
                    value: std::mem::take(&mut value),
                });
                in_word = false;
                continue;
            }
            '\'' => {
                raw.push(c);
                loop {
                    let q = chars.next()?;
                    raw.push(q);
                    if q == '\'' {
                        break;
                    }
                    value.push(q);
                }
            }
            '"' => {
                raw.push(c);
                loop {
                    let q = chars.next()?;
                    raw.push(q);
                    match q {
                        '"' => break,
                        '$' | '`' => return None,
                        '\\' => {
                            let e = chars.next()?;
                            raw.push(e);
                            if !matches!(e, '"' | '\\' | '$' | '`') {
                                value.push('\\');
                            }
                            value.push(e);
                        }
                        _ => value.push(q),
                    }
                }
            }
            '\\' => {
                let e = chars.next()?;
                raw.push(c);
                raw.push(e);
                value.push(e);
            }
            c if ";&|<>()$`*?[]{}~#!".contains(c) && !(in_word && matches!(c, '#' | '~')) => {
                return None
            }
            c if c.is_control() => return None,
            c => {
                raw.push(c);
                value.push(c);
            }
        }
        in_word = true;
    }
    if !in_word {
        return None;
    }
    words.push(Word { raw, value });
    if words[0].value.contains('=') || words[0].value.is_empty() {
        return None;
    }
    Some(words)
}

/// The value a word gets when it is (or holds) a shell expansion: `$x`,
/// `"$x"`, `$(...)`, a backtick substitution. Never a real argument (NUL
/// cannot be one).
pub(super) const EXPANSION: &str = "\0expansion";
/// The value of a redirection word (`>`, `2>>`, `<`, `&>`, `2>&1`).
pub(super) const REDIRECTION: &str = "\0redirection";

/// Splits one simple command of a script (a component the engine's shell
/// reading found: words, expansions, redirections, but no operators) into
/// words. Expansions become [`EXPANSION`] words and a redirection with its
/// target one [`REDIRECTION`] word. `None` when it cannot be read.
pub fn script_words(text: &str) -> Option<Vec<Word>> {
    let b = unfolded(text);
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == ' ' {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let start = i;
        let mut value = String::new();
        let mut expansion = false;
        let mut redirect = false;
        // A redirection: optional fd, then > >> < &> >&, then its target.
        let mut j = i;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j < b.len()
            && (b[j] == '>' || b[j] == '<' || (b[j] == '&' && b.get(j + 1) == Some(&'>')))
        {
            redirect = true;
            i = j;
            while i < b.len() && matches!(b[i], '>' | '<' | '&') {
                i += 1;
            }
            while i < b.len() && b[i] == ' ' {
                i += 1;
            }
        }
        while i < b.len() && b[i] != ' ' {
            match b[i] {
                '\'' => {
                    i += 1;
                    while i < b.len() && b[i] != '\'' {
                        value.push(b[i]);
                        i += 1;
                    }
                    if i == b.len() {
                        return None;
                    }
                }
                '"' => {
                    i += 1;
                    while i < b.len() && b[i] != '"' {
                        match b[i] {
                            '$' | '`' => expansion = true,
                            '\\' if i + 1 < b.len() => {
                                i += 1;
                            }
                            _ => {}
                        }
                        value.push(b[i]);
                        i += 1;
                    }
                    if i == b.len() {
                        return None;
                    }
                }
                '\\' => {
                    i += 1;
                    if i < b.len() {
                        value.push(b[i]);
                    }
                }
                '$' if b.get(i + 1) == Some(&'(') => {
                    expansion = true;
                    let mut depth = 0;
                    while i < b.len() {
                        match b[i] {
                            '(' => depth += 1,
                            ')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                }
                '$' | '`' => expansion = true,
                c if "|;&(){}".contains(c) => return None,
                c => value.push(c),
            }
            i += 1;
        }
        let raw: String = b[start..i.min(b.len())].iter().collect();
        let value = if redirect {
            REDIRECTION.to_string()
        } else if expansion {
            EXPANSION.to_string()
        } else {
            value
        };
        words.push(Word { raw, value });
    }
    // Leading assignments (`f=$(...)`, `LANG=C cmd`) are not the command.
    let first = words
        .iter()
        .position(|w| {
            let name = w.raw.split_once('=').map(|(n, _)| n);
            !name.is_some_and(|n| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        })
        .unwrap_or(words.len());
    words.drain(..first);
    if words.first().is_some_and(|w| w.value.starts_with('\0')) {
        return None;
    }
    Some(words)
}

/// `text` as a shell reads its words: a `\`-newline outside single quotes
/// is nothing (a continued line, as make hands recipes to `sh -c`), and a
/// newline or tab outside quotes separates words as a space does.
fn unfolded(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let (mut single, mut double) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '\'' if !double => {
                single = !single;
                out.push(c);
            }
            '"' if !single => {
                double = !double;
                out.push(c);
            }
            '\\' if !single && chars.peek() == Some(&'\n') => {
                chars.next();
            }
            '\\' if !single => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '\n' | '\t' if !single && !double => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_read_back_what_the_recorder_wrote() {
        let w = simple_words("git commit -m 'it'\\''s done' x").unwrap();
        assert_eq!(w[3].value, "it's done");
        assert_eq!(w[4].value, "x");
        assert!(simple_words("ls | wc").is_none());
        assert!(simple_words("echo $HOME").is_none());
        assert!(simple_words("echo '$HOME'").is_some());
        assert!(simple_words("a  b").is_none());
    }
}
