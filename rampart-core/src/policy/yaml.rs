//! A YAML document as a tree whose every node knows its line.
//!
//! Owns turning policy text into [`Node`]s: one document only, mapping keys
//! unique, aliases expanded, tags limited to the core ones. It knows nothing
//! of the policy schema; [`super::schema`] reads the tree. It must never
//! guess a type: a scalar stays text plus whether it was written plain, and
//! the schema decides what the text may mean.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One YAML node and the line (1-based) where it starts.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// `~`, `null`, or nothing at all.
    Null,
    /// A scalar; `plain` when written without quotes or block style, so that
    /// `true` and `"true"` can be told apart.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in document order: key, the key's line, value.
    Map(Vec<Entry>),
}

/// A mapping entry: key, the key's line, value.
pub(crate) type Entry = (String, usize, Node);

impl Node {
    /// What the node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "nothing (null)".to_string(),
            Value::Scalar { text, plain } => {
                let kind = if *plain && scalar_is_bool(text) {
                    "a boolean"
                } else if *plain && text.parse::<i64>().is_ok() {
                    "an integer"
                } else if *plain && text.parse::<f64>().is_ok() {
                    "a number"
                } else {
                    "a string"
                };
                format!("{kind} {text:?}")
            }
            Value::Seq(_) => "a list".to_string(),
            Value::Map(_) => "a mapping".to_string(),
        }
    }
}

pub(crate) fn scalar_is_bool(text: &str) -> bool {
    matches!(text, "true" | "false" | "True" | "False" | "TRUE" | "FALSE")
}

/// A problem in the YAML itself, at a line.
#[derive(Debug)]
pub(crate) struct YamlError {
    pub line: usize,
    pub message: String,
}

/// Parses `text` as exactly one YAML document. An empty text (or one with
/// only comments) yields `None`.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        // A second document is reported before whatever the parser found
        // later in it.
        if let Some(err) = builder.error {
            return Err(err);
        }
        return Err(YamlError {
            line: e.marker().line().max(1),
            message: format!("invalid YAML: {}", e.info()),
        });
    }
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.root)
}

enum Frame {
    Seq {
        line: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: usize,
        anchor: usize,
        entries: Vec<(String, usize, Node)>,
        /// The key waiting for its value.
        key: Option<(String, usize)>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
    error: Option<YamlError>,
}

impl Builder {
    fn fail(&mut self, line: usize, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError { line, message });
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.attach(node);
    }

    fn attach(&mut self, node: Node) {
        let mut problem = None;
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    let line = node.line;
                    match node.value {
                        Value::Scalar { text, .. } => {
                            if let Some((_, first, _)) = entries.iter().find(|(k, _, _)| *k == text)
                            {
                                problem = Some((
                                    line,
                                    format!("duplicate key {text:?} (first at line {first})"),
                                ));
                            }
                            *key = Some((text, line));
                        }
                        Value::Null => *key = Some((String::new(), line)),
                        _ => {
                            problem =
                                Some((line, "a mapping key must be a plain string".to_string()))
                        }
                    }
                }
                Some((k, kline)) => entries.push((k, kline, node)),
            },
        }
        if let Some((line, message)) = problem {
            self.fail(line, message);
        }
    }
}

fn check_tag(tag: &Option<Tag>) -> Result<Option<bool>, String> {
    // Some(false): force string; Some(true): keep plain; None: no tag.
    match tag {
        None => Ok(None),
        Some(t) if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" => {
            match t.suffix.as_str() {
                "str" => Ok(Some(false)),
                "int" | "bool" | "null" | "float" | "map" | "seq" => Ok(Some(true)),
                other => Err(format!("unsupported YAML tag !!{other}")),
            }
        }
        Some(t) => Err(format!("unsupported YAML tag {}{}", t.handle, t.suffix)),
    }
}

/// Expands YAML merge keys (`<<: *defaults`, `<<: [*a, *b]`) as Go's
/// yaml.v3 does: keys written in the mapping win over merged ones, earlier
/// merged mappings over later ones.
fn merge_keys(entries: Vec<Entry>) -> Result<Vec<Entry>, (usize, String)> {
    if !entries.iter().any(|(k, _, _)| k == "<<") {
        return Ok(entries);
    }
    let mut own = Vec::new();
    let mut merged: Vec<Entry> = Vec::new();
    for (key, line, node) in entries {
        if key != "<<" {
            own.push((key, line, node));
            continue;
        }
        let sources = match node.value {
            Value::Map(m) => vec![m],
            Value::Seq(items) => {
                let mut maps = Vec::new();
                for item in items {
                    match item.value {
                        Value::Map(m) => maps.push(m),
                        _ => return Err((item.line, "a merge key takes mappings".to_string())),
                    }
                }
                maps
            }
            _ => {
                return Err((
                    line,
                    "a merge key takes a mapping or a list of them".to_string(),
                ))
            }
        };
        for source in sources {
            for entry in source {
                if !merged.iter().any(|(k, _, _)| *k == entry.0) {
                    merged.push(entry);
                }
            }
        }
    }
    for entry in merged {
        if !own.iter().any(|(k, _, _)| *k == entry.0) {
            own.push(entry);
        }
    }
    Ok(own)
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line().max(1);
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(
                        line,
                        "a second YAML document starts here; a policy file holds exactly one"
                            .to_string(),
                    );
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let forced = match check_tag(&tag) {
                    Ok(f) => f,
                    Err(msg) => return self.fail(line, msg),
                };
                let plain = match forced {
                    Some(p) => p,
                    None => style == TScalarStyle::Plain,
                };
                let value = if plain && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Value::Null
                } else {
                    Value::Scalar { text, plain }
                };
                self.finish(Node { line, value }, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(node) => {
                    let node = node.clone();
                    self.attach(node);
                }
                None => self.fail(line, "alias to an unknown anchor".to_string()),
            },
            Event::SequenceStart(anchor, tag) => {
                if let Err(msg) = check_tag(&tag) {
                    return self.fail(line, msg);
                }
                self.stack.push(Frame::Seq {
                    line,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, tag) => {
                if let Err(msg) = check_tag(&tag) {
                    return self.fail(line, msg);
                }
                self.stack.push(Frame::Map {
                    line,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    line,
                    anchor,
                    items,
                }) => self.finish(
                    Node {
                        line,
                        value: Value::Seq(items),
                    },
                    anchor,
                ),
                Some(Frame::Map {
                    line,
                    anchor,
                    entries,
                    ..
                }) => match merge_keys(entries) {
                    Ok(entries) => self.finish(
                        Node {
                            line,
                            value: Value::Map(entries),
                        },
                        anchor,
                    ),
                    Err((line, message)) => self.fail(line, message),
                },
                None => self.fail(line, "unbalanced YAML structure".to_string()),
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_their_lines_and_aliases_expand() {
        let text = "a: 1\nb:\n  - &x \"two\"\n  - *x\n";
        let root = parse(text).unwrap().unwrap();
        let Value::Map(entries) = root.value else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0, "a");
        assert_eq!(entries[0].1, 1);
        let Value::Seq(items) = &entries[1].2.value else {
            panic!("not a seq")
        };
        assert_eq!(items[0].line, 3);
        match &items[1].value {
            Value::Scalar { text, plain } => {
                assert_eq!(text, "two");
                assert!(!plain);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicate_keys_and_second_documents_are_errors() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(
            err.message.contains("duplicate key \"a\""),
            "{}",
            err.message
        );
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("second YAML document"));
    }

    #[test]
    fn merge_keys_expand_and_own_keys_win() {
        let text = "base: &b {action: deny, message: m}\nrule:\n  <<: *b\n  message: own\n";
        let root = parse(text).unwrap().unwrap();
        let Value::Map(entries) = root.value else {
            panic!()
        };
        let Value::Map(rule) = &entries[1].2.value else {
            panic!()
        };
        let keys: Vec<&str> = rule.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["message", "action"]);
        match &rule[0].2.value {
            Value::Scalar { text, .. } => assert_eq!(text, "own"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_text_is_no_document() {
        assert!(parse("# only a comment\n").unwrap().is_none());
        assert!(parse("").unwrap().is_none());
    }
}
