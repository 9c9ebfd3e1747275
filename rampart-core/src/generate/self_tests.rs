//! The tests a generated policy carries (`tests:`, Go Rampart's inline test
//! format): a few calls it was learned from, which it must allow, and a few
//! it must refuse, so that `rampart test POLICY.yaml` shows that the policy
//! still does what it was learned for after a reviewer's edits.
//!
//! One line a test (flow style) to keep the policy short. A call that
//! depends on where it is checked out (under the home directory or a
//! project) is left out, and so is any test the policy would not pass as
//! loaded with or without its home directory. It never changes a rule.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::destructive::is_destructive;
use super::eval::{Checker, Query};
use super::generalise::Keys;
use super::net::Endpoint;
use super::paths::{is_under, Places};
use crate::policy::{Action, Engine, LoadOptions};

/// One test: its name, tool, parameters and expected action.
struct Case {
    name: String,
    tool: &'static str,
    params: Vec<(&'static str, String)>,
    expect: Action,
}

/// The `tests:` block for the policy `yaml` learned from `keys` (empty when
/// no test could be kept).
pub(crate) fn block(yaml: &str, keys: &Keys, places: &Places) -> String {
    let Ok(learned_home) = Checker::new(yaml, "generated policy", places.home.as_deref()) else {
        return String::new();
    };
    let Ok(no_home) = Checker::new(yaml, "generated policy", None) else {
        return String::new();
    };
    let placed = |p: &str| {
        places.home.as_deref().is_some_and(|h| is_under(p, h))
            || places.projects.iter().any(|d| is_under(p, d))
    };
    let first = |counts: &super::aggregate::Counts, keep: &dyn Fn(&str) -> bool| {
        let mut ks: Vec<&str> = counts.keys().map(|k| &**k).filter(|k| keep(k)).collect();
        ks.sort_unstable();
        ks.first().map(|k| k.to_string())
    };
    let mut cases = Vec::new();
    let home_free = |c: &str| places.home.as_deref().is_none_or(|h| !c.contains(h));
    if let Some(c) = first(&keys.exec, &|c| !is_destructive(c) && home_free(c)) {
        cases.push(Case {
            name: format!("learned: exec {c}"),
            tool: "exec",
            params: vec![("command", c)],
            expect: Action::Allow,
        });
    }
    for (tool, counts) in [("read", &keys.files[0]), ("write", &keys.files[1])] {
        if let Some(p) = first(counts, &|p| p.starts_with('/') && !placed(p)) {
            cases.push(Case {
                name: format!("learned: {tool} {p}"),
                tool,
                params: vec![("path", p)],
                expect: Action::Allow,
            });
        }
    }
    if let Some(u) = first(&keys.connects, &|u| Endpoint::parse(u).is_some()) {
        let domain = Endpoint::parse(&u).map(|e| e.host).unwrap_or_default();
        cases.push(Case {
            name: format!("learned: net {u}"),
            tool: "net",
            params: vec![("url", u), ("domain", domain)],
            expect: Action::Allow,
        });
    }
    let home = places.home.clone().unwrap_or_else(|| "/root".into());
    let refusals: [(&'static str, &'static str, String); 4] = [
        ("read", "path", format!("{home}/.ssh/id_rsa")),
        ("write", "path", format!("{home}/.bashrc")),
        ("exec", "command", "rm -rf /".to_string()),
        ("net", "url", "tcp://rampart-probe.invalid:443".to_string()),
    ];
    for (tool, key, value) in refusals {
        let mut params = vec![(key, value.clone())];
        if tool == "net" {
            params.push(("domain", "rampart-probe.invalid".into()));
        }
        cases.push(Case {
            name: format!("refuses: {tool} {value}"),
            tool,
            params,
            expect: Action::Deny,
        });
    }
    cases.retain(|c| {
        let param = |k: &str| {
            c.params
                .iter()
                .find(|(p, _)| *p == k)
                .map(|(_, v)| v.as_str())
        };
        let q = Query {
            tool: c.tool,
            command: param("command"),
            path: param("path"),
            url: param("url"),
            domain: param("domain"),
            project: None,
        };
        learned_home.decide(&q) == c.expect && no_home.decide(&q) == c.expect
    });
    if cases.is_empty() {
        return String::new();
    }
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"));
    let mut out = String::from(
        "\n# Calls this policy was learned from, which it must allow, and calls it must\n\
         # refuse: `rampart test THIS_FILE` runs them (keep them passing when you edit).\n\
         tests:\n",
    );
    for c in &cases {
        let params: Vec<String> = c
            .params
            .iter()
            .map(|(k, v)| format!("{k}: {}", quote(v)))
            .collect();
        let _ = writeln!(
            out,
            "  - {{name: {}, tool: {}, params: {{{}}}, expect: {}}}",
            quote(&c.name),
            c.tool,
            params.join(", "),
            c.expect
        );
    }
    // The policy with its tests must load and pass them, as `rampart test`
    // will run them.
    let whole = format!("{yaml}{out}");
    let options = LoadOptions {
        home: places.home.clone(),
    };
    let passes = Engine::from_texts_with(&[(PathBuf::from("generated policy"), whole)], &options)
        .is_ok_and(|e| {
            let outcomes = e.run_inline_tests();
            outcomes.len() == cases.len() && outcomes.iter().all(|o| o.passed)
        });
    if passes {
        out
    } else {
        String::new()
    }
}
