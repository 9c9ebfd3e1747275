//! `rampart policy diff OLD NEW`: additions, widenings and removals, rule by
//! rule, on generated policies and on Go Rampart's shipped ones.

mod generate_common;

use generate_common::*;
use rampart_core::generate::{diff, merge, DiffKind, Generator, Options};

fn options() -> Options {
    Options {
        home: Some(HOME.into()),
        name_prefix: "agent".into(),
        ..Options::default()
    }
}

fn shared() -> std::path::PathBuf {
    match std::env::var_os("RAMPART_SHARED") {
        Some(p) => p.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

#[test]
fn a_merge_shows_as_additions_and_widenings() {
    let ts = |i: usize| format!("2026-03-05T10:00:{i:02}Z");
    let mut g = Generator::new(options()).unwrap();
    for (i, f) in ["a", "b"].iter().enumerate() {
        g.observe(&open(
            "read",
            &format!("/srv/data/{f}.csv"),
            "ok",
            &ts(i),
            "s1",
        ));
    }
    g.observe(&exec(&["cargo", "test"], &ts(5), "s1"));
    let old = g.finish().unwrap().yaml;
    let mut g = Generator::new(options()).unwrap();
    g.observe(&open("read", "/srv/data/c.csv", "ok", &ts(10), "s2"));
    g.observe(&exec(&["cargo", "fmt"], &ts(11), "s2"));
    g.observe(&connect("pypi.org", 443, "151.101.0.223", &ts(12), "s2"));
    let new = merge(&old, "old.yaml", g).unwrap().yaml;

    let d = diff(&old, "old.yaml", &new, "new.yaml").unwrap();
    let widened: Vec<_> = d
        .entries
        .iter()
        .filter(|e| e.kind == DiffKind::Widened)
        .collect();
    assert_eq!(widened.len(), 1, "{d}");
    assert_eq!(widened[0].policy, "agent-read");
    assert_eq!(widened[0].old, ["/srv/data/a.csv", "/srv/data/b.csv"]);
    assert_eq!(widened[0].new, ["/srv/data/*"]);
    let added: Vec<(String, String)> = d
        .entries
        .iter()
        .filter(|e| e.kind == DiffKind::Added)
        .map(|e| (e.policy.clone(), e.new.join(",")))
        .collect();
    assert_eq!(
        added,
        [
            ("agent-exec".to_string(), "cargo fmt".to_string()),
            ("agent-net".to_string(), "tcp://pypi.org:443".to_string()),
            // The new policy closes with its own deny of the rest.
            ("agent-net".to_string(), "true".to_string())
        ]
    );
    assert_eq!(d.count(DiffKind::Removed), 0, "{d}");
    let text = d.to_string();
    assert!(text.contains("~ agent-read: widens allow path_matches /srv/data/a.csv, /srv/data/b.csv -> /srv/data/*"), "{text}");
    assert!(
        text.ends_with("3 added, 1 widened, 0 removed, 0 changed\n"),
        "{text}"
    );
    // And back: what the old one lacks.
    let back = diff(&new, "new.yaml", &old, "old.yaml").unwrap();
    assert_eq!(back.count(DiffKind::Removed), 4, "{back}");
    assert_eq!(back.count(DiffKind::Widened), 0, "{back}");
}

#[test]
fn go_rampart_policies_compare_rule_by_rule() {
    let path = shared().join("compat/rampart/policies/research-agent.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(diff(&text, "a", &text, "b").unwrap().is_empty());
    let edited = text
        .replace("            - \"ls *\"\n", "")
        .replace(
            "            - \"cat *\"\n",
            "            - \"cat *\"\n            - \"curl *\"\n",
        )
        .replace("default_action: deny", "default_action: allow");
    let d = diff(&text, "a", &edited, "b").unwrap();
    let kinds: Vec<(DiffKind, String)> = d
        .entries
        .iter()
        .map(|e| {
            (
                e.kind,
                format!("{} {} {}", e.policy, e.old.join(","), e.new.join(",")),
            )
        })
        .collect();
    assert!(
        kinds.contains(&(DiffKind::Changed, " deny allow".into())),
        "{d}"
    );
    assert!(
        kinds.contains(&(
            DiffKind::Added,
            "research-allow-readonly-exec  curl *".into()
        )),
        "{d}"
    );
    // "ls" is still there and covered by nothing else: only "ls *" is removed.
    assert!(
        kinds.contains(&(
            DiffKind::Removed,
            "research-allow-readonly-exec ls * ".into()
        )),
        "{d}"
    );
    assert_eq!(d.entries.len(), 3, "{d}");
}

#[test]
fn an_unreadable_policy_is_named() {
    let e = diff(
        "version: [",
        "old.yaml",
        "version: \"1\"\npolicies: []\n",
        "new.yaml",
    )
    .unwrap_err();
    assert!(e.starts_with("old.yaml:"), "{e}");
}
