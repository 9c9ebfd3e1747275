//! No module cycles: in each crate, the graph of which module uses which
//! (`use crate::a::b`, `super::x`, inline `crate::a::f()`) has no cycle, so
//! every module can be read, tested and changed below the ones that use it.
//!
//! Nodes are source files (`src/a/b.rs` and `src/a/b/mod.rs` are `a::b`). An
//! edge to an ancestor is not counted: a child using what its parent module
//! declares for all its children (`super::Options`) is how a parent shares,
//! and the parent's own uses of its children are counted. Comments are
//! and string literals are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 4] = [
    "rampart-core",
    "rampart-preload",
    "rampart-trace",
    "rampart-cli",
];

type Module = Vec<String>;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module a file is, by its place under `src`.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    match last.as_str() {
        "mod.rs" => {}
        "lib.rs" | "main.rs" if parts.is_empty() => {}
        other => parts.push(other.trim_end_matches(".rs").to_string()),
    }
    parts
}

/// The text without comments (`//...` to the end of the line, `/* */`).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if in_string {
            // String contents are dropped: only the quotes stay.
            if rest.starts_with("\\\"") || rest.starts_with("\\\\") {
                rest = &rest[2..];
                continue;
            }
            rest = &rest[c.len_utf8()..];
            if c == '"' {
                in_string = false;
                out.push(c);
            }
            continue;
        } else if rest.starts_with("//") {
            rest = rest.find('\n').map_or("", |i| &rest[i..]);
            continue;
        } else if rest.starts_with("/*") {
            rest = rest.find("*/").map_or("", |i| &rest[i + 2..]);
            continue;
        } else if c == '"' && !out.ends_with('\'') {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |e| format!("{prefix}{e}")))
        .collect()
}

/// Every `crate::`, `super::` and `self::` path the file names.
fn paths_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(i) = text[at..].find("use ") {
        let start = at + i;
        at = start + 4;
        let word_start =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if !word_start {
            continue;
        }
        if let Some(end) = text[at..].find(';') {
            found.extend(expand(&text[at..at + end]));
        }
    }
    for root in ["crate::", "super::", "self::"] {
        let mut at = 0;
        while let Some(i) = text[at..].find(root) {
            let start = at + i;
            at = start + root.len();
            if start > 0
                && (bytes[start - 1].is_ascii_alphanumeric()
                    || bytes[start - 1] == b'_'
                    || bytes[start - 1] == b':')
            {
                continue;
            }
            let end = text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(text.len(), |e| start + e);
            found.push(text[start..end].to_string());
        }
    }
    found
}

/// The module `path` (as written in module `from`) names, if it is one of
/// `modules` or an item in one: the longest such prefix.
fn resolve(from: &Module, path: &str, modules: &BTreeSet<Module>) -> Option<Module> {
    let mut segs = path.split("::").filter(|s| !s.is_empty());
    let mut at: Module = match segs.next()? {
        "crate" => Vec::new(),
        "self" => from.clone(),
        "super" => from[..from.len().checked_sub(1)?].to_vec(),
        _ => return None,
    };
    let mut best = modules.contains(&at).then(|| at.clone());
    for s in segs {
        match s {
            "super" => {
                at.pop();
            }
            "self" | "*" => {}
            s => at.push(s.to_string()),
        }
        if modules.contains(&at) {
            best = Some(at.clone());
        }
    }
    best
}

/// The groups of modules that use each other in a circle (the graph's
/// strongly connected components of more than one module).
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<BTreeSet<Module>> {
    // Kosaraju: finish order on the graph, then components on its reverse.
    fn finish(
        n: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        seen: &mut BTreeSet<Module>,
        order: &mut Vec<Module>,
    ) {
        if !seen.insert(n.clone()) {
            return;
        }
        for next in edges.get(n).into_iter().flatten() {
            finish(next, edges, seen, order);
        }
        order.push(n.clone());
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for n in edges.keys() {
        finish(n, edges, &mut seen, &mut order);
    }
    let mut reverse: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, tos) in edges {
        for to in tos {
            reverse.entry(to.clone()).or_default().insert(from.clone());
        }
    }
    let mut placed = BTreeSet::new();
    let mut groups = Vec::new();
    for n in order.iter().rev() {
        let mut group = Vec::new();
        finish(n, &reverse, &mut placed, &mut group);
        if group.len() > 1 {
            groups.push(group.into_iter().collect());
        }
    }
    groups
}

/// The modules other than its own ancestors that `from` uses in `text`.
fn uses(from: &Module, text: &str, modules: &BTreeSet<Module>) -> BTreeSet<Module> {
    paths_in(&strip_comments(text))
        .iter()
        .filter_map(|p| resolve(from, p, modules))
        .filter(|to| !from.starts_with(to))
        .collect()
}

fn graph_of(krate: &str) -> BTreeMap<Module, BTreeSet<Module>> {
    let src = repo().join(krate).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for f in &files {
        let from = module_of(&src, f);
        let text = std::fs::read_to_string(f).unwrap();
        edges.insert(from.clone(), uses(&from, &text, &modules));
    }
    edges
}

fn show(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut found = Vec::new();
    for krate in CRATES {
        let edges = graph_of(krate);
        assert!(edges.len() > 3, "{krate}: read its modules");
        for group in cycles(&edges) {
            let names: Vec<String> = group.iter().map(show).collect();
            found.push(format!("{krate}: {}", names.join(", ")));
        }
    }
    assert!(
        found.is_empty(),
        "modules that use each other in a circle:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_cycle_and_the_paths_it_is_made_of() {
    let modules: BTreeSet<Module> = [
        vec![],
        vec!["a".into()],
        vec!["b".into()],
        vec!["b".into(), "c".into()],
    ]
    .into_iter()
    .collect();
    let text = "use crate::{a::Thing, b::{c::f}};\n// use crate::b;\nfn x() { super::super::a::y(); let s = \"crate::d\"; }";
    assert_eq!(
        uses(&vec!["b".into(), "c".into()], text, &modules),
        [vec!["a".to_string()]].into_iter().collect(),
        "a (by two paths); not b (a comment), b::c (itself), d (a string) or crate (an ancestor)"
    );
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    edges
        .entry(vec!["a".into()])
        .or_default()
        .insert(vec!["b".into()]);
    edges
        .entry(vec!["b".into()])
        .or_default()
        .insert(vec!["b".into(), "c".into()]);
    assert!(cycles(&edges).is_empty());
    edges
        .entry(vec!["b".into(), "c".into()])
        .or_default()
        .insert(vec!["a".into()]);
    assert_eq!(cycles(&edges).len(), 1, "a -> b -> b::c -> a");
    assert_eq!(cycles(&edges)[0].len(), 3);
}
