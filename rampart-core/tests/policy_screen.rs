//! The path screen is sound: an open that passes the screen built from a
//! policy's refusal literals is never refused by that policy. Checked on
//! the policies this project ships and on Go Rampart's, against paths made
//! from every path pattern they hold (the paths they deny, and near misses)
//! and against real files on this machine.

use std::path::{Path, PathBuf};

use rampart_core::policy::{Action, Engine, LoadOptions, Request};
use rampart_core::screen;

const HOME: &str = "/home/u";

fn policies() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in [
        root.join("policies"),
        root.join("../shared/compat/rampart/policies"),
    ] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        found.sort();
        files.extend(found);
    }
    assert!(files.len() >= 10, "{files:?}");
    files
}

fn load(file: &Path) -> Engine {
    let options = LoadOptions {
        home: Some(HOME.to_string()),
    };
    Engine::load_with(&[file.to_path_buf()], &options)
        .unwrap_or_else(|e| panic!("{} does not load: {e:?}", file.display()))
}

/// Every string under a `path_matches` or `path_not_matches` key.
fn path_patterns(v: &serde_yaml_ng::Value, out: &mut Vec<String>) {
    use serde_yaml_ng::Value;
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                let key = k.as_str().unwrap_or("");
                if key == "path_matches" || key == "path_not_matches" {
                    if let Value::Sequence(s) = v {
                        out.extend(s.iter().filter_map(|p| p.as_str().map(str::to_string)));
                    }
                }
                path_patterns(v, out);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| path_patterns(v, out)),
        _ => {}
    }
}

/// Absolute paths a pattern matches, and near misses.
fn instances(pattern: &str) -> Vec<String> {
    let p = pattern.replace('\\', "/");
    let p = match p.strip_prefix('~') {
        Some(rest) => format!("{HOME}{rest}"),
        None => p,
    };
    let mut out = Vec::new();
    for deep in ["", "a/", "x/y/"] {
        for star in ["", "x", "id.pub", "credentials"] {
            let mut s = String::new();
            let mut chars = p.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '*' if chars.peek() == Some(&'*') => {
                        chars.next();
                        if chars.peek() == Some(&'/') {
                            chars.next();
                        }
                        s.push_str(deep);
                    }
                    '*' => s.push_str(star),
                    '?' => s.push('q'),
                    '[' => {
                        let class: String = chars.by_ref().take_while(|&c| c != ']').collect();
                        let class = class.trim_start_matches('^');
                        s.push(class.chars().next().filter(|c| *c != '-').unwrap_or('a'));
                    }
                    c => s.push(c),
                }
            }
            for base in ["/home/u/project/", "/", "/tmp/w/"] {
                let full = if s.starts_with('/') {
                    s.clone()
                } else {
                    format!("{base}{s}")
                };
                out.push(clean(&full));
                out.push(clean(&format!("{full}.bak")));
                out.push(clean(&format!("{full}/inner")));
            }
        }
    }
    out
}

fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Up to `n` real files under `dir`.
fn files_under(dir: &Path, n: usize, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if out.len() >= n {
            return;
        }
        let p = e.path();
        if p.is_symlink() {
            continue;
        }
        if p.is_dir() {
            files_under(&p, n, out);
        } else if let Some(s) = p.to_str() {
            out.push(s.to_string());
        }
    }
}

#[test]
fn no_path_that_passes_the_screen_is_refused() {
    let mut real = Vec::new();
    for dir in ["/etc", "/usr/include", "/usr/lib/python3"] {
        let mut some = Vec::new();
        files_under(Path::new(dir), 2000, &mut some);
        real.extend(some);
    }
    let mut screened = 0;
    let mut checked = 0;
    for file in policies() {
        let engine = load(&file);
        let text = std::fs::read_to_string(&file).unwrap();
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        let mut patterns = Vec::new();
        path_patterns(&yaml, &mut patterns);
        let mut paths: Vec<String> = patterns.iter().flat_map(|p| instances(p)).collect();
        paths.extend(real.iter().cloned());
        for tool in ["read", "write"] {
            let Some(literals) = engine.refusal_literals(tool, true) else {
                continue;
            };
            let Some(screen) = screen::build(&literals) else {
                continue;
            };
            screened += 1;
            for path in &paths {
                if !screen::passes(&screen, path.as_bytes()) {
                    continue;
                }
                for cwd in ["/home/u/project", "/", "/etc"] {
                    let req = Request {
                        tool,
                        agent: "agent",
                        session: "s",
                        path: Some(path),
                        cwd: Some(cwd),
                        ..Request::default()
                    };
                    let d = engine.evaluate(&req);
                    checked += 1;
                    assert!(
                        matches!(d.action, Action::Allow | Action::Watch),
                        "{}: {tool} {path} (cwd {cwd}) passes the screen {literals:?} but is {:?}: {}",
                        file.display(),
                        d.action,
                        d.message
                    );
                }
            }
        }
    }
    assert!(screened >= 8, "only {screened} tool screens were built");
    assert!(checked > 10_000, "only {checked} decisions were checked");
}

#[test]
fn the_standard_policy_screens_reads_and_writes() {
    let engine = load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/standard.yaml"));
    for tool in ["read", "write"] {
        let literals = engine
            .refusal_literals(tool, true)
            .unwrap_or_else(|| panic!("standard.yaml: every {tool} may be refused"));
        let s = screen::build(&literals).expect("the literals fit a screen");
        // A project's sources pass: no verdict to wait for.
        for ok in ["/home/u/project/src/main.rs", "/tmp/build/out.o"] {
            assert!(
                screen::passes(&s, ok.as_bytes()),
                "{tool} {ok}: {literals:?}"
            );
        }
    }
    let read = screen::build(&engine.refusal_literals("read", true).unwrap()).unwrap();
    assert!(screen::passes(&read, b"/usr/include/stdio.h"));
    for secret in [
        "/home/u/.ssh/id_ed25519",
        "/home/u/project/.env",
        "/etc/shadow",
    ] {
        assert!(!screen::passes(&read, secret.as_bytes()), "{secret}");
    }
    // Execs and connects are refused by rules on commands and hosts.
    assert_eq!(engine.refusal_literals("exec", false), None);
    assert_eq!(engine.refusal_literals("net", false), None);
}

fn engine(yaml: &str) -> Engine {
    Engine::from_texts(&[(PathBuf::from("p.yaml"), yaml.to_string())]).unwrap()
}

#[test]
fn what_stops_a_screen() {
    // Nothing refuses: every call is free.
    let open = engine("version: \"1\"\ndefault_action: allow\npolicies: []\n");
    assert_eq!(open.refusal_literals("read", true), Some(vec![]));
    assert_eq!(open.refusal_literals("exec", false), Some(vec![]));
    // A refusing default that no unconditional rule shadows.
    let closed = engine(
        "version: \"1\"\ndefault_action: deny\npolicies:\n  - name: p\n    match:\n      tool: read\n    rules:\n      - action: allow\n        when:\n          path_matches: [\"/usr/**\"]\n",
    );
    assert_eq!(closed.refusal_literals("read", true), None);
    // The same with a catch-all allow after the deny rule.
    let guarded = engine(
        "version: \"1\"\ndefault_action: deny\npolicies:\n  - name: p\n    match:\n      tool: read\n    rules:\n      - action: deny\n        when:\n          path_matches: [\"**/.ssh/**\"]\n      - action: allow\n",
    );
    assert_eq!(
        guarded.refusal_literals("read", true),
        Some(vec![".ssh/".to_string()])
    );
    // A catch-all limited to one agent does not shadow the default.
    let agent_only = engine(
        "version: \"1\"\ndefault_action: deny\npolicies:\n  - name: p\n    match:\n      agent: claude\n      tool: read\n    rules:\n      - action: allow\n",
    );
    assert_eq!(agent_only.refusal_literals("read", true), None);
    // A deny rule on a field an open lacks does not refuse opens; one with
    // no condition refuses them all; one with a literal-free pattern too.
    let on_commands = engine(
        "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: p\n    rules:\n      - action: deny\n        when:\n          command_matches: [\"rm *\"]\n",
    );
    assert_eq!(on_commands.refusal_literals("read", true), Some(vec![]));
    assert_eq!(on_commands.refusal_literals("exec", false), None);
    let all = engine(
        "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: p\n    match:\n      tool: write\n    rules:\n      - action: ask\n",
    );
    assert_eq!(all.refusal_literals("write", true), None);
    assert_eq!(all.refusal_literals("read", true), Some(vec![]));
    let starry = engine(
        "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: p\n    rules:\n      - action: deny\n        when:\n          path_matches: [\"/*/*\"]\n",
    );
    let literals = starry.refusal_literals("read", true).unwrap();
    assert_eq!(screen::build(&literals), None, "{literals:?}");
}
