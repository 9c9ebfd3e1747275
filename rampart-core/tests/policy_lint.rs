//! `rampart policy lint`'s library side: each warning on a policy that earns
//! it, none on a policy that does not, load errors instead of warnings.

use std::path::PathBuf;

use rampart_core::policy::{lint, LintWarning};

fn lint_text(yaml: &str) -> Vec<LintWarning> {
    lint(&[(PathBuf::from("p.yaml"), yaml.to_string())])
        .unwrap_or_else(|e| panic!("does not load: {e:?}"))
}

/// The warnings as (line, message).
fn warnings(yaml: &str) -> Vec<(usize, String)> {
    lint_text(yaml)
        .into_iter()
        .map(|w| (w.line, w.message))
        .collect()
}

fn has(found: &[(usize, String)], line: usize, words: &[&str]) -> bool {
    found
        .iter()
        .any(|(l, m)| *l == line && words.iter().all(|w| m.contains(w)))
}

#[test]
fn a_clean_policy_has_no_warnings() {
    let found = warnings(
        r#"
version: "1"
default_action: deny
policies:
  - name: p
    match: {tool: [exec, read]}
    rules:
      - action: deny
        when: {path_matches: ["**/.ssh/id_*"]}
      - action: allow
        when: {command_matches: ["git *"]}
      - action: allow
        when: {default: true}
"#,
    );
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn rules_after_a_catch_all_are_shadowed() {
    let found = warnings(
        r#"
version: "1"
policies:
  - name: p
    rules:
      - action: watch
        when: {default: true}
      - action: deny
        when: {command_matches: ["rm *"]}
  - name: q
    rules:
      - action: allow
        message: no when at all
      - action: deny
        when: {path_matches: ["/etc/**"]}
"#,
    );
    assert!(
        has(&found, 8, &["never applies", "line 6", "\"p\""]),
        "{found:?}"
    );
    assert!(
        has(&found, 14, &["never applies", "line 12", "\"q\""]),
        "{found:?}"
    );
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn default_action_allow_is_flagged() {
    let found = warnings("version: \"1\"\ndefault_action: allow\npolicies: []\n");
    assert!(has(&found, 2, &["default_action: allow"]), "{found:?}");
}

#[test]
fn conditions_that_can_never_match_are_flagged() {
    let found = warnings(
        r#"
version: "1"
policies:
  - name: only-exclusions
    rules:
      - action: deny
        when: {command_not_matches: ["ls *"]}
  - name: responses
    rules:
      - action: deny
        when: {response_matches: ["AKIA[0-9A-Z]{16}"]}
  - name: params
    rules:
      - action: deny
        when:
          tool_param_matches: {path: "*.env"}
  - name: rate
    rules:
      - action: deny
        when:
          call_count: {gte: 10, window: 1m}
  - name: depth
    rules:
      - action: deny
        when:
          agent_depth: {gte: 1}
  - name: wrong-tool
    match: {tool: read}
    rules:
      - action: deny
        when:
          command_matches: ["cat *"]
  - name: go-only-tool
    match: {tool: [fetch, mcp]}
    rules:
      - action: deny
        when: {domain_matches: ["evil.example"]}
  - name: no-op-default
    rules:
      - action: deny
        when: {default: false}
  - name: literal-class
    rules:
      - action: deny
        when: {command_matches: ["*[abc]*"]}
"#,
    );
    for (line, words) in [
        (7, vec!["only exclusions"]),
        (11, vec!["response_matches", "never"]),
        (16, vec!["tool_param_matches", "never"]),
        (21, vec!["call_count", "never"]),
        (26, vec!["agent_depth", "depth 0"]),
        (32, vec!["command_matches", "exec", "\"wrong-tool\""]),
        (33, vec!["\"go-only-tool\"", "fetch, mcp", "never applies"]),
        (41, vec!["default: false"]),
        (45, vec!["literal"]),
    ] {
        assert!(
            has(&found, line, &words),
            "line {line} {words:?}: {found:#?}"
        );
    }
}

#[test]
fn allow_rules_broader_than_double_star_are_flagged() {
    let found = warnings(
        r#"
version: "1"
policies:
  - name: broad
    rules:
      - action: allow
        when: {path_matches: ["/**"]}
      - action: allow
        when: {command_matches: ["*"]}
      - action: allow
        when: {url_matches: ["**"]}
      - action: deny
        when: {path_matches: ["**"]}
      - action: allow
        when: {path_matches: ["/home/**"]}
"#,
    );
    assert!(has(&found, 7, &["\"/**\"", "broader than **"]), "{found:?}");
    assert!(has(&found, 9, &["\"*\"", "broader than **"]), "{found:?}");
    assert!(has(&found, 11, &["\"**\"", "broader than **"]), "{found:?}");
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn policies_that_do_not_load_give_errors_not_warnings() {
    let errors = lint(&[(
        PathBuf::from("bad.yaml"),
        "version: \"1\"\npolicies:\n  - name: p\n    rules: [{action: nope}]\n".to_string(),
    )])
    .unwrap_err();
    assert_eq!(errors[0].line, 4);
    assert!(errors[0].message.contains("\"nope\""));
}

#[test]
fn go_rampart_fixtures_lint_without_errors() {
    let dir = match std::env::var_os("RAMPART_SHARED") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
    .join("compat/rampart/policies");
    let path = dir.join("standard.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let found = lint(&[(path, text)]).unwrap();
    // Its response rules and its MCP-only policies cannot act on syscalls.
    assert!(found.iter().any(|w| w.message.contains("response_matches")));
    assert!(found.iter().any(|w| w.message.contains("mcp")));
}
