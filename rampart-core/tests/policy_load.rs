//! Loading policies: every Go Rampart fixture loads, malformed policies are
//! refused with file, line and the offending key or value, directories and
//! several sources merge as documented.

use std::path::{Path, PathBuf};

use rampart_core::policy::{Action, Engine, LoadError, Request};

fn shared_dir() -> PathBuf {
    match std::env::var_os("RAMPART_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

fn compat_policies() -> Vec<PathBuf> {
    let dir = shared_dir().join("compat/rampart/policies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_go_rampart_policy_loads() {
    let files = compat_policies();
    assert_eq!(files.len(), 10, "fixture policies: {files:?}");
    for file in &files {
        let engine = Engine::load(std::slice::from_ref(file)).unwrap_or_else(|errors| {
            panic!(
                "{} does not load:\n{}",
                file.display(),
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert!(
            engine.policy_count() > 0,
            "{} has no policies",
            file.display()
        );
    }
}

#[test]
fn go_rampart_standard_policy_decides_like_go() {
    let file = shared_dir().join("compat/rampart/policies/standard.yaml");
    let engine = Engine::load(&[file]).unwrap();
    let exec = |command| Request {
        tool: "exec",
        command: Some(command),
        ..Request::default()
    };
    let read = |path| Request {
        tool: "read",
        path: Some(path),
        ..Request::default()
    };
    assert_eq!(engine.evaluate(&exec("rm -rf /")).action, Action::Deny);
    assert_eq!(engine.evaluate(&exec("git status")).action, Action::Allow);
    assert_eq!(
        engine.evaluate(&exec("sudo apt install x")).action,
        Action::Ask
    );
    assert_eq!(
        engine.evaluate(&read("/home/u/.ssh/id_rsa")).action,
        Action::Deny
    );
    assert_eq!(
        engine.evaluate(&read("/home/u/project/src/main.rs")).action,
        Action::Allow
    );
    let d = engine.evaluate(&read("/home/u/project/src/main.rs"));
    assert_eq!(d.matched_policies, vec!["allow-unmatched".to_string()]);
}

#[test]
fn go_fixture_inline_tests_pass() {
    let mut ran = 0;
    let mut failed = Vec::new();
    for file in compat_policies() {
        let engine = Engine::load(std::slice::from_ref(&file)).unwrap();
        for outcome in engine.run_inline_tests() {
            ran += 1;
            if !outcome.passed {
                failed.push(format!(
                    "{}:{} {:?}: expected {}, got {} ({})",
                    outcome.file.display(),
                    outcome.line,
                    outcome.name,
                    outcome.expected,
                    outcome.decision.action,
                    outcome.decision.message
                ));
            }
        }
    }
    assert!(ran >= 20, "only {ran} inline tests");
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn inline_tests_of_go_fixtures_load() {
    let file = shared_dir().join("compat/rampart/policies/demo.yaml");
    let engine = Engine::load(&[file]).unwrap();
    let tests = engine.inline_tests();
    assert!(!tests.is_empty());
    let (_, first) = &tests[0];
    assert_eq!(first.tool, "exec");
    assert_eq!(first.expect, Action::Deny);
    assert_eq!(
        first.params,
        vec![("command".to_string(), "rm -rf /".to_string())]
    );
}

/// Writes `text` as `name` in a fresh directory and loads it, expecting
/// failure.
fn load_errors(name: &str, text: &str) -> (PathBuf, Vec<LoadError>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    match Engine::load(std::slice::from_ref(&path)) {
        Ok(_) => panic!("{name} loaded but should not:\n{text}"),
        Err(errors) => (path, errors, dir),
    }
}

const HEAD: &str = "version: \"1\"\ndefault_action: deny\npolicies:\n";

/// A policy with one rule, the `when` given as indented YAML lines.
fn with_when(when: &str) -> String {
    format!(
        "{HEAD}  - name: p\n    match:\n      tool: exec\n    rules:\n      - action: deny\n        when:\n{when}"
    )
}

#[test]
fn malformed_policies_name_file_line_and_culprit() {
    // (what, text, line, words the message must hold)
    let cases: Vec<(&str, String, usize, Vec<&str>)> = vec![
        (
            "unknown top-level key",
            format!("{HEAD}  - name: p\n    rules: []\nfrobnicate: 1\n"),
            6,
            vec!["unknown key", "\"frobnicate\""],
        ),
        (
            "unknown policy key",
            format!("{HEAD}  - name: p\n    prio: 5\n"),
            5,
            vec!["unknown key", "\"prio\""],
        ),
        (
            "unknown match key",
            format!("{HEAD}  - name: p\n    match:\n      tools: [exec]\n"),
            6,
            vec!["unknown key", "\"tools\""],
        ),
        (
            "unknown rule key",
            format!("{HEAD}  - name: p\n    rules:\n      - action: deny\n        reason: x\n"),
            7,
            vec!["unknown key", "\"reason\""],
        ),
        (
            "unknown condition key",
            with_when("          command_glob: [\"rm *\"]\n"),
            10,
            vec!["unknown key", "\"command_glob\""],
        ),
        (
            "unknown webhook key",
            format!(
                "{HEAD}  - name: p\n    rules:\n      - action: webhook\n        webhook:\n          url: https://h/x\n          retries: 3\n"
            ),
            9,
            vec!["unknown key", "\"retries\""],
        ),
        (
            "second document",
            format!("{HEAD}  - name: p\n---\nversion: \"1\"\n"),
            5,
            vec!["second YAML document"],
        ),
        (
            "duplicate policy names in one file",
            format!("{HEAD}  - name: p\n  - name: q\n  - name: p\n"),
            6,
            vec!["duplicate policy name", "\"p\"", "bad.yaml:4)"],
        ),
        (
            "unsupported version",
            "version: \"2\"\npolicies: []\n".to_string(),
            1,
            vec!["unsupported version", "\"2\""],
        ),
        (
            "unknown default_action",
            "version: \"1\"\ndefault_action: block\n".to_string(),
            2,
            vec!["unknown default_action", "\"block\""],
        ),
        (
            "unknown action",
            format!("{HEAD}  - name: p\n    rules:\n      - action: block\n"),
            6,
            vec!["unknown action", "\"block\""],
        ),
        (
            "require_approval was removed",
            format!("{HEAD}  - name: p\n    rules:\n      - action: require_approval\n"),
            6,
            vec!["require_approval", "removed", "ask"],
        ),
        (
            "priority of the wrong type",
            format!("{HEAD}  - name: p\n    priority: high\n"),
            5,
            vec!["wrong type", "\"priority\"", "\"high\""],
        ),
        (
            "enabled of the wrong type",
            format!("{HEAD}  - name: p\n    enabled: \"yes\"\n"),
            5,
            vec!["wrong type", "\"enabled\"", "\"yes\""],
        ),
        (
            "a string where a list goes",
            with_when("          command_matches: \"rm -rf *\"\n"),
            10,
            vec!["wrong type", "\"command_matches\"", "a list"],
        ),
        (
            "policies as a mapping",
            "version: \"1\"\npolicies:\n  name: p\n".to_string(),
            3,
            vec!["wrong type", "\"policies\"", "a list"],
        ),
        (
            "empty command_contains entry",
            with_when("          command_contains:\n            - \"curl\"\n            - \"\"\n"),
            12,
            vec!["empty entry in command_contains"],
        ),
        (
            "unbalanced [ in a path glob",
            with_when("          path_matches:\n            - \"/etc/[abc\"\n"),
            11,
            vec!["malformed glob", "\"/etc/[abc\""],
        ),
        (
            "unbalanced [ in a command glob",
            with_when("          command_matches: [\"rm [\"]\n"),
            10,
            vec!["malformed glob", "\"rm [\""],
        ),
        (
            "three ** in a glob",
            with_when("          path_matches: [\"**/a/**/b/**\"]\n"),
            10,
            vec!["malformed glob", "at most 2"],
        ),
        (
            "invalid response regex",
            with_when("          response_matches: [\"(unclosed\"]\n"),
            10,
            vec!["invalid regular expression", "\"(unclosed\""],
        ),
        (
            "nested regex quantifier",
            with_when("          response_matches: [\"(a+)+\"]\n"),
            10,
            vec!["nested quantifiers", "\"(a+)+\""],
        ),
        (
            "bad call_count window",
            with_when("          call_count:\n            gte: 3\n            window: 1d\n"),
            12,
            vec!["invalid duration", "\"1d\""],
        ),
        (
            "webhook without url",
            format!("{HEAD}  - name: p\n    rules:\n      - action: webhook\n"),
            6,
            vec!["webhook.url"],
        ),
        (
            "policy without a name",
            format!("{HEAD}  - description: nameless\n"),
            4,
            vec!["no name"],
        ),
        (
            "duplicate key in a mapping",
            format!("{HEAD}  - name: p\n    name: q\n"),
            5,
            vec!["duplicate key", "\"name\""],
        ),
        (
            "unknown test expectation",
            "version: \"1\"\ntests:\n  - name: t\n    tool: exec\n    expect: maybe\n".to_string(),
            5,
            vec!["unknown action", "\"maybe\""],
        ),
        (
            "invalid YAML",
            format!("{HEAD}  - name: [p\n"),
            5,
            vec!["invalid YAML"],
        ),
    ];
    assert!(cases.len() >= 20);
    for (what, text, line, words) in &cases {
        let (path, errors, _dir) = load_errors("bad.yaml", text);
        let hit = errors.iter().find(|e| e.line == *line);
        let Some(err) = hit else {
            panic!("{what}: no error at line {line}; got {errors:?}\n{text}");
        };
        assert_eq!(err.file, path, "{what}");
        for w in words {
            assert!(
                err.message.contains(w),
                "{what}: {:?} lacks {w:?}",
                err.message
            );
        }
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("{}:{line}: ", path.display())),
            "{what}: {shown}"
        );
    }
}

#[test]
fn files_over_one_mib_are_refused() {
    let mut text = String::from(HEAD);
    while text.len() <= 1 << 20 {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    let (path, errors, _dir) = load_errors("huge.yaml", &text);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].file, path);
    assert!(errors[0].message.contains("1 MiB"), "{}", errors[0].message);
    let from_text = Engine::from_texts(&[(PathBuf::from("embedded.yaml"), text)]).unwrap_err();
    assert!(from_text[0].message.contains("1 MiB"));
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn policy(name: &str, action: &str, command: &str) -> String {
    format!(
        "  - name: {name}\n    match:\n      tool: exec\n    rules:\n      - action: {action}\n        when:\n          command_matches: [\"{command}\"]\n        message: {name}\n"
    )
}

fn exec(command: &str) -> Request<'_> {
    Request {
        tool: "exec",
        command: Some(command),
        ..Request::default()
    }
}

#[test]
fn directories_load_yaml_files_sorted_and_take_the_first_default() {
    let dir = tempfile::tempdir().unwrap();
    // b sets no default; c's default comes after a's in sort order.
    write(
        dir.path(),
        "b.yml",
        &format!(
            "version: \"1\"\npolicies:\n{}",
            policy("from-b", "watch", "ls *")
        ),
    );
    write(
        dir.path(),
        "c.yaml",
        &format!(
            "version: \"1\"\ndefault_action: deny\npolicies:\n{}",
            policy("from-c", "deny", "rm *")
        ),
    );
    write(
        dir.path(),
        "a.yaml",
        &format!(
            "version: \"1\"\ndefault_action: allow\npolicies:\n{}",
            policy("from-a", "allow", "ls -l")
        ),
    );
    // Not policy files: skipped.
    write(dir.path(), "notes.txt", "not yaml at all: [");
    std::fs::create_dir(dir.path().join("nested.yaml")).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(&dir.path().join("sub"), "z.yaml", "garbage: [");

    let engine = Engine::load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(engine.policy_count(), 3);
    assert_eq!(engine.default_action(), Action::Allow);
    assert_eq!(engine.evaluate(&exec("rm x")).action, Action::Deny);
    // from-a (allow) and from-b (watch) both fire, in file order.
    let d = engine.evaluate(&exec("ls -l"));
    assert_eq!(d.action, Action::Watch);
    assert_eq!(d.matched_policies, vec!["from-a", "from-b"]);
    assert_eq!(engine.evaluate(&exec("pwd")).action, Action::Allow);
}

#[test]
fn a_name_repeated_across_files_is_an_error_at_the_second() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(
        dir.path(),
        "10-base.yaml",
        &format!(
            "version: \"1\"\npolicies:\n{}",
            policy("shared", "deny", "rm *")
        ),
    );
    let second = write(
        dir.path(),
        "20-extra.yaml",
        &format!(
            "version: \"1\"\npolicies:\n{}",
            policy("shared", "allow", "ls")
        ),
    );
    let errors = Engine::load(&[dir.path().to_path_buf()]).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].file, second);
    assert_eq!(errors[0].line, 3);
    assert!(errors[0].message.contains("\"shared\""));
    assert!(errors[0]
        .message
        .contains(&format!("{}:3", first.display())));
}

#[test]
fn several_sources_merge_in_the_order_given() {
    let dir = tempfile::tempdir().unwrap();
    let policies_dir = dir.path().join("policies");
    std::fs::create_dir(&policies_dir).unwrap();
    write(
        &policies_dir,
        "x.yaml",
        &format!(
            "version: \"1\"\npolicies:\n{}",
            policy("in-dir", "ask", "curl *")
        ),
    );
    let file = write(
        dir.path(),
        "first.yaml",
        &format!(
            "version: \"1\"\ndefault_action: watch\npolicies:\n{}",
            policy("in-file", "allow", "curl *")
        ),
    );
    let engine = Engine::load(&[file, policies_dir]).unwrap();
    assert_eq!(engine.default_action(), Action::Watch);
    let d = engine.evaluate(&exec("curl x"));
    assert_eq!(d.action, Action::Ask);
    assert_eq!(d.matched_policies, vec!["in-file", "in-dir"]);
    assert_eq!(d.message, "in-dir");
}

#[test]
fn missing_sources_and_errors_in_several_files_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bad1 = write(dir.path(), "1.yaml", "version: \"1\"\nbogus: 1\n");
    let bad2 = write(
        dir.path(),
        "2.yaml",
        "version: \"1\"\ndefault_action: maybe\n",
    );
    let missing = dir.path().join("missing.yaml");
    let errors = Engine::load(&[missing.clone(), dir.path().to_path_buf()]).unwrap_err();
    let files: Vec<&PathBuf> = errors.iter().map(|e| &e.file).collect();
    assert!(files.contains(&&missing), "{errors:?}");
    let errors = Engine::load(&[dir.path().to_path_buf()]).unwrap_err();
    let files: Vec<&PathBuf> = errors.iter().map(|e| &e.file).collect();
    assert_eq!(files, vec![&bad1, &bad2]);
}

#[test]
fn empty_sources_deny_by_default() {
    let engine = Engine::from_texts(&[(PathBuf::from("empty.yaml"), String::new())]).unwrap();
    assert_eq!(engine.default_action(), Action::Deny);
    let d = engine.evaluate(&exec("ls"));
    assert_eq!(d.action, Action::Deny);
    assert!(d.matched_policies.is_empty());
}
