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
