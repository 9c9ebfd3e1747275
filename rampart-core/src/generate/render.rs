//! Writing a [`Doc`] as Rampart YAML (schema v1) with its comments, and
//! reading one back, comments included, for `--merge` and `policy diff`.
//!
//! The layout is fixed (two-space indents, block lists, every string
//! double-quoted) so that the same document always renders to the same
//! bytes. Keys the document does not model are written back as read
//! ([`Yaml`]): plain scalars plain, others double-quoted, in block style.
//!
//! Reading uses the policy loader's own reader: the file must pass the
//! strict loader (`rampart policy check`), whose errors name the file, the
//! line and the value, and the document is then taken from the same YAML
//! tree (`policy/yaml.rs`, aliases and merge keys expanded as Go
//! Rampart does), so a file means to `--merge` and `policy diff` what it
//! means to the engine, and every key it has is kept (`match.session`,
//! `notify`, `tests`, a rule's `webhook` or `ask`, keys a merge key brought
//! in). One reader, not a second one that is made lossless: serde_yaml_ng
//! read the same text on its own terms (no merge keys: a rule whose
//! `action` came from `<<: *anchor` lost it, and the merge failed), and
//! without line marks it could place comments only by the generator's
//! own layout (one hand-written rule not starting with `action` and every
//! comment of the file was dropped, the support of the untouched rules
//! with it). Comments are placed by the lines the tree records: the comment
//! lines just above each policy and rule, those among a list's patterns and
//! one after a pattern on its line, whatever the layout; other comments
//! (between top-level keys, at the end) are not kept. This module never
//! decides what a rule means and never reads files: the caller passes the
//! text in.

use std::path::Path;

use super::model::{quote, Doc, Policy, Rule, When, Yaml};
use crate::policy::schema;
use crate::policy::yaml::{self, Node, Value};

pub fn render(doc: &Doc) -> String {
    let mut out = String::new();
    for h in &doc.header {
        out.push_str(h);
        out.push('\n');
    }
    if !doc.header.is_empty() {
        out.push('\n');
    }
    if !doc.version.is_empty() {
        out.push_str(&format!("version: {}\n", quote(&doc.version)));
    }
    out.push_str(&format!("default_action: {}\n", doc.default_action));
    out.push_str("\npolicies:\n");
    for (i, p) in doc.policies.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_policy(p, &mut out);
    }
    for (key, value) in &doc.extra {
        out.push('\n');
        render_value(key, value, "", &mut out);
    }
    out
}

/// `key:` and `value` as block YAML, indented by `indent`.
fn render_value(key: &str, value: &Yaml, indent: &str, out: &mut String) {
    let key = key_text(key);
    match value {
        Yaml::Map(m) if !m.is_empty() => {
            out.push_str(&format!("{indent}{key}:\n"));
            let inner = format!("{indent}  ");
            for (k, v) in m {
                render_value(k, v, &inner, out);
            }
        }
        Yaml::Seq(s) if !s.is_empty() => {
            out.push_str(&format!("{indent}{key}:\n"));
            for item in s {
                render_item(item, &format!("{indent}  "), out);
            }
        }
        _ => out.push_str(&format!("{indent}{key}: {}\n", inline(value))),
    }
}

/// One list item `- value` at `indent`; a mapping or list goes on in block
/// style, its first entry on the dash's line.
fn render_item(item: &Yaml, indent: &str, out: &mut String) {
    let inner = format!("{indent}  ");
    let mut block = String::new();
    match item {
        Yaml::Map(m) if !m.is_empty() => {
            for (k, v) in m {
                render_value(k, v, &inner, &mut block);
            }
        }
        Yaml::Seq(s) if !s.is_empty() => {
            for x in s {
                render_item(x, &inner, &mut block);
            }
        }
        _ => {
            out.push_str(&format!("{indent}- {}\n", inline(item)));
            return;
        }
    }
    out.push_str(&format!("{indent}- {}", &block[inner.len()..]));
}

/// A value on one line (flow style): what `policy diff` shows, and a
/// scalar or empty collection after its key.
pub fn inline(value: &Yaml) -> String {
    match value {
        Yaml::Null => "null".into(),
        Yaml::Scalar { text, plain } if *plain && plain_is_safe(text) => text.clone(),
        Yaml::Scalar { text, .. } => quote(text),
        Yaml::Seq(s) => format!("[{}]", s.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Yaml::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", key_text(k), inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A key written bare when it reads back as the same string, else quoted.
fn key_text(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
        && !key.starts_with('-')
        && !matches!(
            key,
            "true" | "false" | "True" | "False" | "TRUE" | "FALSE" | "null" | "Null" | "NULL" | "~"
        )
        && key.parse::<f64>().is_err();
    if bare {
        key.to_string()
    } else {
        quote(key)
    }
}

/// Whether text read as a plain scalar can be written plain again, on one
/// line, in block or flow context, and read back as the same text.
fn plain_is_safe(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.contains([',', '[', ']', '{', '}', '\n', '\r', '\t'])
        && !text.chars().any(|c| c.is_control())
}

fn render_policy(p: &Policy, out: &mut String) {
    for c in &p.comments {
        out.push_str(&format!("  {c}\n"));
    }
    out.push_str(&format!("  - name: {}\n", quote(&p.name)));
    if let Some(d) = &p.description {
        out.push_str(&format!("    description: {}\n", quote(d)));
    }
    if let Some(pr) = p.priority {
        out.push_str(&format!("    priority: {pr}\n"));
    }
    if let Some(e) = p.enabled {
        out.push_str(&format!("    enabled: {e}\n"));
    }
    out.push_str("    match:\n");
    let tools: Vec<String> = p.tools.iter().map(|t| quote(t)).collect();
    out.push_str(&format!("      tool: [{}]\n", tools.join(", ")));
    if let Some(a) = &p.agent {
        out.push_str(&format!("      agent: {}\n", quote(a)));
    }
    if let Some(a) = &p.session {
        out.push_str(&format!("      session: {}\n", quote(a)));
    }
    out.push_str("    rules:\n");
    for r in &p.rules {
        render_rule(r, out);
    }
}

fn render_rule(r: &Rule, out: &mut String) {
    for c in &r.comments {
        out.push_str(&format!("      {c}\n"));
    }
    out.push_str(&format!("      - action: {}\n", r.action));
    if !r.when.is_empty() {
        out.push_str("        when:\n");
        for (field, w) in &r.when {
            match w {
                When::Flag(b) => out.push_str(&format!("          {field}: {b}\n")),
                When::Patterns(ps) => {
                    out.push_str(&format!("          {field}:\n"));
                    let mut trailing: Option<&str> = None;
                    for p in ps {
                        if let Some(c) = p.strip_prefix("#>") {
                            trailing = Some(c.trim_start());
                        } else if p.starts_with('#') {
                            // A comment among the patterns (model::When).
                            out.push_str(&format!("            {p}\n"));
                        } else {
                            out.push_str(&format!("            - {}", quote(p)));
                            if let Some(c) = trailing.take() {
                                out.push_str(&format!("  # {c}"));
                            }
                            out.push('\n');
                        }
                    }
                }
                When::Other(v) => render_value(field, v, "          ", out),
            }
        }
    }
    if let Some(m) = &r.message {
        out.push_str(&format!("        message: {}\n", quote(m)));
    }
    for (key, value) in &r.extra {
        render_value(key, value, "        ", out);
    }
}

/// Reads a policy file. `origin` names it in errors. The file must pass
/// the strict loader (the one `rampart policy check` uses); every key it
/// has is kept.
pub fn parse(text: &str, origin: &str) -> Result<Doc, String> {
    if let Err(errors) = schema::parse_file(Path::new(origin), text) {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(lines.join("\n"));
    }
    let root = yaml::parse(text)
        .map_err(|e| format!("{origin}:{}: {}", e.line, e.message))?
        .ok_or_else(|| format!("{origin}: no policies list"))?;
    let Value::Map(top) = &root.value else {
        return Err(format!(
            "{origin}:{}: not a Rampart policy (top level is not a mapping)",
            root.line
        ));
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut doc = Doc {
        header: header_comments(&lines),
        version: scalar(get(top, "version")).unwrap_or_default(),
        default_action: scalar(get(top, "default_action")).unwrap_or_else(|| "deny".into()),
        extra: other_keys(top, &["version", "default_action", "policies"]),
        ..Doc::default()
    };
    let policies = match get(top, "policies").map(|n| &n.value) {
        Some(Value::Seq(items)) => items.as_slice(),
        Some(Value::Null) => &[],
        _ => return Err(format!("{origin}: no policies list")),
    };
    for p in policies {
        doc.policies.push(policy(p, &lines));
    }
    Ok(doc)
}

/// The value of `key` in a mapping's entries.
fn get<'n>(entries: &'n [yaml::Entry], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v)
}

fn entries(node: Option<&Node>) -> &[yaml::Entry] {
    match node.map(|n| &n.value) {
        Some(Value::Map(e)) => e,
        _ => &[],
    }
}

/// A scalar's text; `None` for null and collections.
fn scalar(node: Option<&Node>) -> Option<String> {
    match &node?.value {
        Value::Scalar { text, .. } => Some(text.clone()),
        _ => None,
    }
}

/// The entries whose keys are not in `modelled`, as read, in order.
fn other_keys(entries: &[yaml::Entry], modelled: &[&str]) -> Vec<(String, Yaml)> {
    entries
        .iter()
        .filter(|(k, _, _)| !modelled.contains(&k.as_str()))
        .map(|(k, _, v)| (k.clone(), tree(v)))
        .collect()
}

/// A node as a [`Yaml`] value, lines dropped.
fn tree(node: &Node) -> Yaml {
    match &node.value {
        Value::Null => Yaml::Null,
        Value::Scalar { text, plain } => Yaml::Scalar {
            text: text.clone(),
            plain: *plain,
        },
        Value::Seq(items) => Yaml::Seq(items.iter().map(tree).collect()),
        Value::Map(entries) => Yaml::Map(
            entries
                .iter()
                .map(|(k, _, v)| (k.clone(), tree(v)))
                .collect(),
        ),
    }
}

/// One policy (the strict loader has checked its keys and their types).
fn policy(node: &Node, lines: &[&str]) -> Policy {
    let m = entries(Some(node));
    let matcher = entries(get(m, "match"));
    let tools = match get(matcher, "tool").map(|n| &n.value) {
        Some(Value::Scalar { text, .. }) => vec![text.clone()],
        Some(Value::Seq(items)) => items.iter().filter_map(|v| scalar(Some(v))).collect(),
        _ => Vec::new(),
    };
    let plain = |key: &str| match get(m, key).map(|n| &n.value) {
        Some(Value::Scalar { text, plain: true }) => Some(text.as_str()),
        _ => None,
    };
    let rules = match get(m, "rules").map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().map(|r| rule(r, lines)).collect(),
        _ => Vec::new(),
    };
    Policy {
        comments: comments_above(lines, node.line),
        name: scalar(get(m, "name")).unwrap_or_default(),
        description: scalar(get(m, "description")),
        priority: plain("priority").and_then(|t| t.parse().ok()),
        enabled: plain("enabled")
            .filter(|t| yaml::scalar_is_bool(t))
            .map(|t| t.eq_ignore_ascii_case("true")),
        tools,
        agent: scalar(get(matcher, "agent")),
        session: scalar(get(matcher, "session")),
        rules,
    }
}

fn rule(node: &Node, lines: &[&str]) -> Rule {
    let m = entries(Some(node));
    let mut rule = Rule {
        comments: comments_above(lines, node.line),
        action: scalar(get(m, "action")).unwrap_or_default(),
        message: scalar(get(m, "message")),
        extra: other_keys(m, &["action", "when", "message"]),
        ..Rule::default()
    };
    for (field, key_line, v) in entries(get(m, "when")) {
        let w = match &v.value {
            Value::Scalar { text, plain: true } if yaml::scalar_is_bool(text) => {
                When::Flag(text.eq_ignore_ascii_case("true"))
            }
            // A pattern starting with `#` would read back as a comment
            // (model::When): such a condition is kept as YAML.
            Value::Scalar { text, .. }
                if (field.ends_with("matches") || field.ends_with("contains"))
                    && !text.starts_with('#') =>
            {
                When::Patterns(vec![text.clone()])
            }
            Value::Seq(items)
                if items.iter().all(
                    |x| matches!(&x.value, Value::Scalar { text, .. } if !text.starts_with('#')),
                ) =>
            {
                When::Patterns(patterns_with_comments(items, *key_line, lines))
            }
            _ => When::Other(tree(v)),
        };
        rule.when.push((field.clone(), w));
    }
    rule
}

/// The patterns of a list with the comments among them (model::When): the
/// comment lines between an item and the one before it (or the field's
/// key), and a comment after an item on its own line.
fn patterns_with_comments(items: &[Node], key_line: usize, lines: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = key_line;
    for (i, item) in items.iter().enumerate() {
        let Value::Scalar { text, .. } = &item.value else {
            continue;
        };
        let shares_line = |j: usize| items.get(j).is_some_and(|o| o.line == item.line);
        let own_line = item.line > after && !shares_line(i + 1);
        if own_line {
            for l in (after + 1)..item.line {
                let c = line_at(lines, l).trim_start();
                if c.starts_with('#') {
                    out.push(c.to_string());
                }
            }
            let item_text = line_at(lines, item.line).trim_start();
            if let Some(c) = item_text.strip_prefix("- ").and_then(trailing_comment) {
                out.push(format!("#> {c}"));
            }
        }
        out.push(text.clone());
        after = after.max(item.line);
    }
    out
}

/// Line `n` (1-based) of the text.
fn line_at<'t>(lines: &[&'t str], n: usize) -> &'t str {
    n.checked_sub(1)
        .and_then(|i| lines.get(i))
        .copied()
        .unwrap_or("")
}

/// The comment lines just above line `n` (no blank line between), trimmed.
fn comments_above(lines: &[&str], n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut l = n;
    while l > 1 && line_at(lines, l - 1).trim_start().starts_with('#') {
        l -= 1;
        out.push(line_at(lines, l).trim_start().to_string());
    }
    out.reverse();
    out
}

/// The comment lines at the top of the file, before its first key.
fn header_comments(lines: &[&str]) -> Vec<String> {
    let mut header = Vec::new();
    for l in lines {
        if l.starts_with('#') {
            header.push(l.to_string());
        } else if !l.trim().is_empty() {
            break;
        }
    }
    header
}

/// The comment after a list item written as `"…"  # comment` (or a plain
/// or single-quoted item followed by a comment).
fn trailing_comment(item: &str) -> Option<&str> {
    let rest = match item.chars().next()? {
        '"' => {
            let body = &item[1..];
            let mut escaped = false;
            let end = body.char_indices().find_map(|(i, c)| match c {
                _ if escaped => {
                    escaped = false;
                    None
                }
                '\\' => {
                    escaped = true;
                    None
                }
                '"' => Some(i),
                _ => None,
            })?;
            &body[end + 1..]
        }
        '\'' => {
            let body = &item[1..];
            let mut i = 0;
            loop {
                let q = i + body[i..].find('\'')?;
                if body[q + 1..].starts_with('\'') {
                    i = q + 2;
                } else {
                    break &body[q + 1..];
                }
            }
        }
        _ => {
            let at = item.find(" #")?;
            &item[at..]
        }
    };
    rest.trim_start().strip_prefix('#').map(str::trim_start)
}
