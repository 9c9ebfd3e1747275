//! `--merge`: absorbing new observations into a policy generated earlier.

mod generate_common;

use generate_common::*;
use rampart_core::generate::render::parse;
use rampart_core::generate::{merge, Generated, Generator, Observation, Options};

fn options() -> Options {
    Options {
        home: Some(HOME.into()),
        name_prefix: "agent".into(),
        // Three files stay three rules until a fourth widens them.
        collapse_threshold: 4,
        ..Options::default()
    }
}

fn generator(records: &[Observation]) -> Generator {
    let mut g = Generator::new(options()).unwrap();
    for r in records {
        g.observe(r);
    }
    g
}

fn generate(records: &[Observation]) -> Generated {
    generator(records)
        .finish()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn merged(existing: &str, records: &[Observation]) -> Generated {
    merge(existing, "agent.yaml", generator(records)).unwrap_or_else(|e| panic!("{e}"))
}

fn ts(i: usize) -> String {
    format!("2026-03-05T10:{:02}:{:02}Z", i / 60, i % 60)
}

#[test]
fn merging_the_same_records_changes_nothing() {
    let mut records = workload(1);
    records.extend(workload(2));
    let first = generate(&records);
    let again = merged(&first.yaml, &records);
    assert_eq!(first.yaml, again.yaml);
    assert!(again.summary.added.is_empty() && again.summary.widened.is_empty());
    let r = again.summary.replay.unwrap();
    assert_eq!(r.allowed, r.total);
    // A third run of the same workload needs nothing either.
    let third = merged(&first.yaml, &workload(3));
    assert_eq!(first.yaml, third.yaml, "{}", third.summary);
}

#[test]
fn new_calls_add_and_widen_only_where_needed() {
    let base: Vec<Observation> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, f)| open("read", &format!("/srv/data/{f}.csv"), "ok", &ts(i), "s1"))
        .chain([
            exec(&["cargo", "test"], &ts(10), "s1"),
            connect("api.github.com", 443, "140.82.112.6", &ts(11), "s1"),
        ])
        .collect();
    let first = generate(&base);
    let doc = parse(&first.yaml, "first").unwrap();
    // One allow for the place (three patterns) and the closing deny.
    let read = doc.policy("agent-read").unwrap();
    assert_eq!(read.rules.len(), 2);
    assert_eq!(read.rules[0].all_patterns().count(), 3);

    let new = vec![
        open("read", "/srv/data/d.csv", "ok", &ts(20), "s2"),
        open("read", "/srv/data/a.csv", "ok", &ts(21), "s2"),
        exec(&["cargo", "fmt"], &ts(22), "s2"),
        exec(&["cargo", "test"], &ts(23), "s2"),
        connect("pypi.org", 443, "151.101.0.223", &ts(24), "s2"),
        open("write", "/tmp/out.txt", "ok", &ts(25), "s2"),
    ];
    let out = merged(&first.yaml, &new);
    let doc = parse(&out.yaml, "merged").unwrap();
    let patterns = |name: &str| -> Vec<String> {
        doc.policy(name)
            .map(|p| {
                p.rules
                    .iter()
                    .flat_map(|r| {
                        r.all_patterns()
                            .map(|(_, x)| x.to_string())
                            .collect::<Vec<_>>()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(patterns("agent-read"), ["/srv/data/*"]);
    assert_eq!(patterns("agent-exec"), ["cargo fmt", "cargo test"]);
    assert_eq!(
        patterns("agent-net"),
        ["tcp://api.github.com:443", "tcp://pypi.org:443"]
    );
    assert_eq!(patterns("agent-write"), ["/tmp/out.txt"]);
    let s = &out.summary;
    assert_eq!(s.widened.len(), 1);
    assert_eq!(s.widened[0].pattern, "/srv/data/*");
    assert_eq!(
        s.widened[0].replaced,
        ["/srv/data/a.csv", "/srv/data/b.csv", "/srv/data/c.csv"]
    );
    // The widened rule's support adds the old calls to the new one that
    // needed it (a.csv, already admitted, changes nothing).
    assert_eq!(s.widened[0].stat.count, 4);
    let added: Vec<&str> = s.added.iter().map(|c| c.pattern.as_str()).collect();
    assert_eq!(added, ["cargo fmt", "/tmp/out.txt", "tcp://pypi.org:443"]);
    // The exec rule gains the new pattern and keeps its comments.
    let make_test = doc
        .policy("agent-exec")
        .unwrap()
        .rules
        .iter()
        .find(|r| {
            r.all_patterns().map(|(_, p)| p).collect::<Vec<_>>() == ["cargo fmt", "cargo test"]
        })
        .unwrap();
    assert_eq!(make_test.stat().unwrap().count, 1);
    assert_eq!(
        (
            s.replay.as_ref().unwrap().allowed,
            s.replay.as_ref().unwrap().total
        ),
        (6, 6)
    );
    // Merging the same again is a no-op.
    let again = merged(&out.yaml, &new);
    assert_eq!(out.yaml, again.yaml);
}

#[test]
fn a_sensitive_path_seen_later_is_added_exactly_with_its_exception() {
    let first = generate(&workload(1));
    let key = format!("{HOME}/.ssh/known_hosts");
    let out = merged(&first.yaml, &[open("read", &key, "ok", &ts(1), "s9")]);
    let doc = parse(&out.yaml, "merged").unwrap();
    let deny = &doc.policy("agent-deny-sensitive").unwrap().rules[0];
    assert_eq!(deny.patterns("path_not_matches"), ["~/.ssh/known_hosts"]);
    assert!(doc
        .policy("agent-read")
        .unwrap()
        .rules
        .iter()
        .any(|r| r.patterns("path_matches") == ["~/.ssh/known_hosts"]));
    assert_eq!(out.summary.replay.unwrap().allowed, 1);
}

#[test]
fn a_file_not_generated_by_the_generator_is_refused_with_its_name() {
    let e = merge(
        "version: \"1\"\ndefault_action: allow\npolicies: []\n",
        "/etc/rampart/hand.yaml",
        generator(&workload(1)),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("/etc/rampart/hand.yaml"), "{e}");
    let e = merge("version: [", "broken.yaml", generator(&workload(1)))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("broken.yaml:"), "{e}");
}

#[test]
fn a_merge_the_existing_policy_still_denies_fails_the_replay() {
    let first = generate(&workload(1));
    // The reviewer added a deny rule of their own.
    let edited = first.yaml.replace(
        "policies:\n",
        "policies:\n  - name: \"mine-no-make\"\n    match:\n      tool: [\"exec\"]\n    rules:\n      - action: deny\n        when:\n          command_matches:\n            - \"make *\"\n\n",
    );
    let err = merge(
        &edited,
        "agent.yaml",
        generator(&[exec(&["make", "all"], &ts(1), "s2")]),
    )
    .unwrap_err();
    match err {
        rampart_core::generate::GenerateError::Replay(g) => {
            let r = g.summary.replay.as_ref().unwrap();
            assert_eq!((r.allowed, r.total), (0, 1));
            assert_eq!(r.denied, ["exec make all"]);
            assert!(err_text(&g).contains("replay: 0/1"));
        }
        other => panic!("expected a replay failure, got {other}"),
    }
}

fn err_text(g: &Generated) -> String {
    rampart_core::generate::GenerateError::Replay(Box::new(g.clone())).to_string()
}

fn shared() -> std::path::PathBuf {
    match std::env::var_os("RAMPART_SHARED") {
        Some(p) => p.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

/// The `policies:` items and the `tests:` items of a Go Rampart policy of
/// the compatibility fixtures, as text to paste into another file.
fn go_policy_parts(name: &str) -> (String, String) {
    let path = shared().join("compat/rampart/policies").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let body = text.split_once("\npolicies:\n").expect("a policies list").1;
    match body.split_once("\ntests:\n") {
        Some((policies, tests)) => (policies.to_string(), tests.to_string()),
        None => (body.to_string(), String::new()),
    }
}

/// Policies a reviewer wrote by hand into a generated file: keys the
/// generator never writes (`enabled`, `match.agent`/`session`, `ask`,
/// `webhook`, `command_contains`, `agent_depth`, `call_count`), a rule whose
/// `action` is not its first key, and a YAML anchor with a merge key.
const HAND_WRITTEN: &str = r#"
  # Reviewed by hand: deployments need a person.
  - name: "team-approvals"
    description: "Deployments wait for a person"
    priority: 5
    enabled: true
    match:
      tool: ["exec"]
      agent: "agent-*"
      session: "ci-*"
    rules:
      # Pushing images, forced.
      - when:
          command_matches:
            - "docker push *"
          command_contains:
            - "--force"
        action: ask
        message: "a forced push waits for a person"
        ask:
          audit: true
          headless_only: false
      - action: webhook
        when:
          agent_depth:
            gte: 1
          call_count:
            tool: "exec"
            gte: 100
            window: "1m"
        webhook:
          url: "https://hooks.example.com/decide"
          timeout: "5s"
          fail_open: false

  - name: "team-refusals"
    enabled: false
    match:
      tool: ["exec"]
    rules:
      - &refuse
        action: deny
        message: "refused by the team"
        when:
          command_matches:
            - "terraform destroy *"
      - <<: *refuse
        when:
          command_matches:
            - "kubectl delete namespace *"
"#;

/// A generated policy, then edited as a reviewer does: a notify block, a
/// message and an agent on a generated policy, hand-written policies, Go
/// Rampart policies pasted in with their inline tests.
fn hand_edited() -> String {
    let generated = generate(&workload(1)).yaml;
    let (research, research_tests) = go_policy_parts("research-agent.yaml");
    let (injection, _) = go_policy_parts("block-prompt-injection.yaml");
    let edited = generated
        .replacen(
            "\npolicies:\n",
            "\nnotify:\n  url: \"https://hooks.example.com/notify\"\n  on: [\"deny\", \"ask\"]\n\npolicies:\n",
            1,
        )
        .replacen(
            "    description: \"Network connections by host and port; unix sockets by path\"\n",
            "    description: \"Network connections by host and port; unix sockets by path\"\n    priority: 50\n",
            1,
        )
        .replacen(
            "    match:\n      tool: [\"net\"]\n",
            "    match:\n      tool: [\"net\"]\n      agent: \"agent-x\"\n",
            1,
        );
    assert!(edited.contains("priority: 50") && edited.contains("agent: \"agent-x\""));
    // The generated `tests:` come last; a reviewer's policies go before
    // them and the reviewer's tests join their list.
    let (body, tests) = match edited.find("\n# Calls this policy was learned from") {
        Some(i) => (&edited[..i], edited[i..].to_string()),
        None => (edited.as_str(), "\ntests:\n".to_string()),
    };
    format!("{body}{HAND_WRITTEN}\n{research}\n{injection}\n{tests}{research_tests}")
}

/// A YAML value with the spellings that mean the same made one: merge
/// keys expanded, and `match.tool` always a list.
fn normalised(mut v: serde_yaml_ng::Value) -> serde_yaml_ng::Value {
    use serde_yaml_ng::Value;
    v.apply_merge().unwrap();
    fn walk(v: &mut Value) {
        match v {
            Value::Mapping(m) => {
                if let Some(Value::Mapping(mm)) = m.get_mut("match") {
                    if let Some(t @ Value::String(_)) = mm.get_mut("tool") {
                        *t = Value::Sequence(vec![t.clone()]);
                    }
                }
                for (_, x) in m.iter_mut() {
                    walk(x);
                }
            }
            Value::Sequence(s) => s.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[test]
fn a_merge_keeps_every_key_and_value_of_a_hand_edited_policy() {
    let existing = hand_edited();
    // The existing file loads as it is.
    engine(&existing);
    // (The pasted research-agent policy denies every other exec and write.)
    let new = vec![open("read", "/srv/data/new.csv", "ok", &ts(2), "s2")];
    let out = merged(&existing, &new);
    assert!(!out.summary.added.is_empty(), "{}", out.summary);
    let old: serde_yaml_ng::Value = serde_yaml_ng::from_str(&existing).unwrap();
    let new: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&out.yaml).unwrap_or_else(|e| panic!("{e}\n{}", out.yaml));
    let (old, new) = (normalised(old), normalised(new));

    // Top-level keys, whatever the generator models.
    for key in ["version", "default_action", "notify", "tests"] {
        assert_eq!(old.get(key), new.get(key), "top-level {key}:\n{}", out.yaml);
    }
    let policy = |doc: &serde_yaml_ng::Value, name: &str| {
        doc["policies"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .cloned()
            .unwrap_or_else(|| panic!("no policy {name}"))
    };
    let names_of = |doc: &serde_yaml_ng::Value| -> Vec<String> {
        doc["policies"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    // Every policy the new calls did not need is kept key for key.
    let names = names_of(&old);
    let changed = ["agent-read"];
    for name in names.iter().filter(|n| !changed.contains(&n.as_str())) {
        assert_eq!(
            policy(&old, name),
            policy(&new, name),
            "policy {name}:\n{}",
            out.yaml
        );
    }
    // The hand-written ones are all there, in the order written.
    assert_eq!(names, names_of(&new));
    // Comments above hand-written policies and rules, and the support
    // comments of the rules the merge did not touch, are kept.
    for comment in [
        "# Reviewed by hand: deployments need a person.",
        "# Pushing images, forced.",
        "# 1 call in 1 session, e.g. \"tcp://api.github.com:443\"",
    ] {
        assert!(out.yaml.contains(comment), "{comment}:\n{}", out.yaml);
    }
    // And the result loads as the generator's own output does, and reads
    // back to itself.
    engine(&out.yaml);
    let again = parse(&out.yaml, "merged").unwrap();
    assert_eq!(rampart_core::generate::render::render(&again), out.yaml);
}

#[test]
fn a_bad_existing_policy_is_refused_naming_file_line_and_value() {
    let existing = hand_edited();
    for (from, to, value) in [
        ("priority: 5\n", "priority: high\n", "\"high\""),
        (
            "        action: ask\n",
            "        action: maybe\n",
            "\"maybe\"",
        ),
        (
            "    enabled: true\n",
            "    enabled: sometimes\n",
            "\"sometimes\"",
        ),
    ] {
        let bad = existing.replacen(from, to, 1);
        assert_ne!(bad, existing, "{from}");
        let line = bad
            .lines()
            .position(|l| l.ends_with(to.trim_end()))
            .unwrap()
            + 1;
        let e = merge(&bad, "/etc/rampart/agent.yaml", generator(&workload(2)))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("/etc/rampart/agent.yaml:{line}:")) && e.contains(value),
            "{to}: {e}"
        );
    }
}
