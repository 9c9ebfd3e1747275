//! Writing a [`Doc`] as Rampart YAML (schema v1) with its comments, and
//! reading one back, comments included, for `--merge` and `policy diff`.
//!
//! The layout is fixed (two-space indents, block lists, every string
//! double-quoted) so that the same document always renders to the same
//! bytes. Reading accepts any Rampart policy the strict loader accepts and
//! keeps every key it has (`match.session`, `notify`, `tests`, a rule's
//! `webhook` or `ask` included); comments are kept when the file follows
//! this layout (one above each policy and rule, and among a rule's
//! patterns).

use std::path::Path;

use serde_yaml_ng::Value;

use super::model::{quote, Doc, Policy, Rule, When};
use crate::policy::schema;

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
fn render_value(key: &str, value: &Value, indent: &str, out: &mut String) {
    let text = serde_yaml_ng::to_string(value).unwrap_or_default();
    match value {
        Value::Mapping(_) | Value::Sequence(_) => {
            out.push_str(&format!("{indent}{key}:\n"));
            for line in text.lines() {
                out.push_str(&format!("{indent}  {line}\n"));
            }
        }
        _ => out.push_str(&format!("{indent}{key}: {}\n", text.trim_end())),
    }
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
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| match e.location() {
        Some(l) => format!("{origin}:{}: {e}", l.line()),
        None => format!("{origin}: {e}"),
    })?;
    let top = value
        .as_mapping()
        .ok_or_else(|| format!("{origin}: not a Rampart policy (top level is not a mapping)"))?;
    let get = |k: &str| top.get(Value::from(k));
    let mut doc = Doc {
        version: scalar(get("version")).unwrap_or_default(),
        default_action: scalar(get("default_action")).unwrap_or_else(|| "deny".into()),
        extra: top
            .iter()
            .filter_map(|(k, v)| Some((scalar(Some(k))?, v.clone())))
            .filter(|(k, _)| !matches!(k.as_str(), "version" | "default_action" | "policies"))
            .collect(),
        ..Doc::default()
    };
    let policies = get("policies")
        .and_then(Value::as_sequence)
        .ok_or_else(|| format!("{origin}: no policies list"))?;
    for (pi, p) in policies.iter().enumerate() {
        let m = p
            .as_mapping()
            .ok_or_else(|| format!("{origin}: policy #{}: not a mapping", pi + 1))?;
        let pg = |k: &str| m.get(Value::from(k));
        let name =
            scalar(pg("name")).ok_or_else(|| format!("{origin}: policy #{}: no name", pi + 1))?;
        let matcher = pg("match").and_then(Value::as_mapping);
        let tools = match matcher.and_then(|mm| mm.get(Value::from("tool"))) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Sequence(s)) => s.iter().filter_map(|v| scalar(Some(v))).collect(),
            _ => Vec::new(),
        };
        let mut policy = Policy {
            name,
            description: scalar(pg("description")),
            priority: pg("priority").and_then(Value::as_i64),
            enabled: pg("enabled").and_then(Value::as_bool),
            tools,
            agent: matcher.and_then(|mm| scalar(mm.get(Value::from("agent")))),
            session: matcher.and_then(|mm| scalar(mm.get(Value::from("session")))),
            ..Policy::default()
        };
        for (ri, r) in pg("rules")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let rm = r.as_mapping().ok_or_else(|| {
                format!(
                    "{origin}: policy {:?} rule #{}: not a mapping",
                    policy.name,
                    ri + 1
                )
            })?;
            let rg = |k: &str| rm.get(Value::from(k));
            let mut rule = Rule {
                action: scalar(rg("action")).unwrap_or_default(),
                message: scalar(rg("message")),
                extra: rm
                    .iter()
                    .filter_map(|(k, v)| Some((scalar(Some(k))?, v.clone())))
                    .filter(|(k, _)| !matches!(k.as_str(), "action" | "when" | "message"))
                    .collect(),
                ..Rule::default()
            };
            if let Some(when) = rg("when").and_then(Value::as_mapping) {
                for (k, v) in when {
                    let field = scalar(Some(k)).unwrap_or_default();
                    let w = match v {
                        Value::Bool(b) => When::Flag(*b),
                        Value::String(s)
                            if field.ends_with("matches") || field.ends_with("contains") =>
                        {
                            When::Patterns(vec![s.clone()])
                        }
                        Value::Sequence(s) if s.iter().all(|x| x.is_string()) => {
                            When::Patterns(s.iter().filter_map(|x| scalar(Some(x))).collect())
                        }
                        other => When::Other(other.clone()),
                    };
                    rule.when.push((field, w));
                }
            }
            policy.rules.push(rule);
        }
        doc.policies.push(policy);
    }
    attach_comments(text, &mut doc);
    Ok(doc)
}

fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Gives each policy and rule the comment lines just above it, when the
/// file has this module's layout (policies at `  - name:`, rules at
/// `      - action:`, as many as parsed).
fn attach_comments(text: &str, doc: &mut Doc) {
    let lines: Vec<&str> = text.lines().collect();
    let mut header = Vec::new();
    for l in &lines {
        if l.starts_with('#') {
            header.push(l.to_string());
        } else if l.trim().is_empty() {
            continue;
        } else {
            break;
        }
    }
    doc.header = header;
    let above = |i: usize| {
        let mut j = i;
        let mut out = Vec::new();
        while j > 0 && lines[j - 1].trim_start().starts_with('#') {
            j -= 1;
            out.push(lines[j].trim_start().to_string());
        }
        out.reverse();
        out
    };
    // The policies list: from `policies:` to the next top-level key.
    let start = lines.iter().position(|l| l.starts_with("policies:"));
    let Some(start) = start else {
        return;
    };
    let end = (start + 1..lines.len())
        .find(|&i| {
            let l = lines[i];
            !l.is_empty() && !l.starts_with(' ') && !l.starts_with('#')
        })
        .unwrap_or(lines.len());
    let policy_lines: Vec<usize> = (start..end)
        .filter(|&i| lines[i].starts_with("  - name:"))
        .collect();
    let rule_lines: Vec<usize> = (start..end)
        .filter(|&i| lines[i].starts_with("      - action:"))
        .collect();
    let rule_count: usize = doc.policies.iter().map(|p| p.rules.len()).sum();
    if policy_lines.len() != doc.policies.len() || rule_lines.len() != rule_count {
        return;
    }
    let mut r = 0;
    for (p, &pl) in doc.policies.iter_mut().zip(&policy_lines) {
        p.comments = above(pl);
        for rule in &mut p.rules {
            rule.comments = above(rule_lines[r]);
            let end = rule_lines.get(r + 1).copied().unwrap_or(end);
            let end = policy_lines
                .iter()
                .copied()
                .find(|&l| l > rule_lines[r] && l < end)
                .unwrap_or(end);
            list_comments(&lines[rule_lines[r] + 1..end], rule);
            r += 1;
        }
    }
}

/// The comment after a list item written as `"…"  # comment`.
fn trailing_comment(item: &str) -> Option<&str> {
    let rest = item.strip_prefix('"')?;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => {
                return rest[i + 1..]
                    .trim_start()
                    .strip_prefix('#')
                    .map(str::trim_start);
            }
            _ => {}
        }
    }
    None
}

/// Puts the comment lines found among a rule's list items back among its
/// patterns (model::When), when the rule has one list and the items are
/// its patterns, in order.
fn list_comments(region: &[&str], rule: &mut Rule) {
    let lists: Vec<usize> = rule
        .when
        .iter()
        .enumerate()
        .filter(|(_, (_, w))| matches!(w, When::Patterns(_)))
        .map(|(i, _)| i)
        .collect();
    let [only] = lists[..] else {
        return;
    };
    let When::Patterns(ps) = &mut rule.when[only].1 else {
        return;
    };
    let mut merged = Vec::new();
    let mut items = 0;
    for l in region {
        if let Some(c) = l.strip_prefix("            #") {
            merged.push(format!("#{c}"));
        } else if let Some(item) = l.strip_prefix("            - ") {
            let Some(p) = ps.get(items) else {
                return;
            };
            if let Some(c) = trailing_comment(item) {
                merged.push(format!("#> {c}"));
            }
            merged.push(p.clone());
            items += 1;
        }
    }
    if items == ps.len() && merged.len() > items {
        *ps = merged;
    }
}
