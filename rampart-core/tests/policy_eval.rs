//! Evaluation order and condition semantics, against policies written here.

use std::path::PathBuf;

use rampart_core::policy::{Action, Decision, Engine, LoadOptions, Request};

fn engine(yaml: &str) -> Engine {
    engine_with_home(yaml, Some("/home/u"))
}

fn engine_with_home(yaml: &str, home: Option<&str>) -> Engine {
    let options = LoadOptions {
        home: home.map(str::to_string),
    };
    Engine::from_texts_with(&[(PathBuf::from("test.yaml"), yaml.to_string())], &options)
        .unwrap_or_else(|e| panic!("{e:?}\n{yaml}"))
}

fn exec(command: &str) -> Request<'_> {
    Request {
        tool: "exec",
        command: Some(command),
        ..Request::default()
    }
}

fn read(path: &str) -> Request<'_> {
    Request {
        tool: "read",
        path: Some(path),
        ..Request::default()
    }
}

fn net<'a>(url: &'a str, domain: Option<&'a str>) -> Request<'a> {
    Request {
        tool: "net",
        url: Some(url),
        domain,
        ..Request::default()
    }
}

fn verdict(d: &Decision) -> (Action, Vec<&str>, &str) {
    (
        d.action,
        d.matched_policies.iter().map(String::as_str).collect(),
        d.message.as_str(),
    )
}

#[test]
fn any_deny_wins_whatever_the_priority() {
    let e = engine(
        r#"
version: "1"
default_action: allow
policies:
  - name: allow-first
    priority: 1
    rules:
      - action: allow
        when: {command_matches: ["rm *"]}
        message: allowed
  - name: deny-later
    priority: 500
    rules:
      - action: deny
        when: {command_matches: ["rm -rf *"]}
        message: denied
"#,
    );
    assert_eq!(
        verdict(&e.evaluate(&exec("rm -rf /"))),
        (Action::Deny, vec!["allow-first", "deny-later"], "denied")
    );
    assert_eq!(
        verdict(&e.evaluate(&exec("rm x"))),
        (Action::Allow, vec!["allow-first"], "allowed")
    );
}

#[test]
fn ask_beats_watch_beats_allow_and_the_first_message_of_the_winner_stays() {
    let e = engine(
        r#"
version: "1"
policies:
  - name: a-allow
    priority: 1
    rules: [{action: allow, when: {default: true}, message: "allow says"}]
  - name: b-watch
    priority: 2
    rules: [{action: watch, when: {command_matches: ["curl *", "sudo *"]}, message: "watch says"}]
  - name: c-ask
    priority: 3
    rules: [{action: ask, when: {command_matches: ["sudo *"]}, message: "ask says"}]
  - name: d-ask
    priority: 4
    rules: [{action: ask, when: {command_matches: ["sudo *"]}, message: "second ask"}]
"#,
    );
    assert_eq!(
        verdict(&e.evaluate(&exec("ls"))),
        (Action::Allow, vec!["a-allow"], "allow says")
    );
    assert_eq!(
        verdict(&e.evaluate(&exec("curl x"))),
        (Action::Watch, vec!["a-allow", "b-watch"], "watch says")
    );
    assert_eq!(
        verdict(&e.evaluate(&exec("sudo ls"))),
        (
            Action::Ask,
            vec!["a-allow", "b-watch", "c-ask", "d-ask"],
            "ask says"
        )
    );
}

#[test]
fn priority_orders_policies_and_ties_keep_file_order() {
    // 0 or absent is 100; equal priorities keep file order.
    let e = engine(
        r#"
version: "1"
policies:
  - name: zero
    priority: 0
    rules: [{action: watch, when: {default: true}, message: zero}]
  - name: absent
    rules: [{action: watch, when: {default: true}, message: absent}]
  - name: hundred
    priority: 100
    rules: [{action: watch, when: {default: true}, message: hundred}]
  - name: early
    priority: 99
    rules: [{action: watch, when: {default: true}, message: early}]
  - name: negative
    priority: -5
    rules: [{action: allow, when: {default: true}, message: negative}]
"#,
    );
    let d = e.evaluate(&exec("ls"));
    assert_eq!(
        verdict(&d),
        (
            Action::Watch,
            vec!["negative", "early", "zero", "absent", "hundred"],
            "early"
        )
    );
}

#[test]
fn within_a_policy_the_first_matching_rule_decides() {
    let e = engine(
        r#"
version: "1"
default_action: deny
policies:
  - name: p
    match: {tool: exec}
    rules:
      - action: allow
        when: {command_matches: ["git status"]}
        message: first
      - action: deny
        when: {command_matches: ["git *"]}
        message: second
      - action: watch
        message: catch-all
"#,
    );
    assert_eq!(
        verdict(&e.evaluate(&exec("git status"))),
        (Action::Allow, vec!["p"], "first")
    );
    assert_eq!(
        verdict(&e.evaluate(&exec("git push"))),
        (Action::Deny, vec!["p"], "second")
    );
    // A rule without `when` matches every call in scope.
    assert_eq!(
        verdict(&e.evaluate(&exec("ls"))),
        (Action::Watch, vec!["p"], "catch-all")
    );
}

#[test]
fn defaults_apply_when_nothing_is_in_scope_or_nothing_fires() {
    let yaml = |default: &str| {
        format!(
            r#"
version: "1"
{default}
policies:
  - name: exec-only
    match: {{tool: exec, agent: "claude*"}}
    rules: [{{action: deny, when: {{command_matches: ["rm *"]}}}}]
"#
        )
    };
    let e = engine(&yaml("default_action: watch"));
    let d = e.evaluate(&read("/etc/hosts"));
    assert_eq!(
        verdict(&d),
        (
            Action::Watch,
            vec![],
            "no matching policy; using default action"
        )
    );
    let mut req = exec("ls");
    req.agent = "claude-code";
    assert_eq!(
        verdict(&e.evaluate(&req)),
        (
            Action::Watch,
            vec![],
            "no matching rule; using default action"
        )
    );
    req.command = Some("rm x");
    assert_eq!(e.evaluate(&req).action, Action::Deny);
    // Another agent: out of scope.
    req.agent = "other";
    assert_eq!(e.evaluate(&req).action, Action::Watch);
    // No default_action: deny.
    let e = engine(&yaml(""));
    assert_eq!(e.default_action(), Action::Deny);
    assert_eq!(e.evaluate(&read("/etc/hosts")).action, Action::Deny);
}

#[test]
fn scope_by_tool_agent_and_session_globs() {
    let e = engine(
        r#"
version: "1"
default_action: allow
policies:
  - name: fs
    match: {tool: ["read", "wri*"], session: "prod/*"}
    rules: [{action: deny, when: {path_matches: ["/srv/**"]}}]
  - name: disabled
    enabled: false
    rules: [{action: deny, when: {default: true}}]
"#,
    );
    let mut r = read("/srv/data");
    assert_eq!(e.evaluate(&r).action, Action::Allow, "no session");
    r.session = "prod/main";
    assert_eq!(e.evaluate(&r).action, Action::Deny);
    r.tool = "write";
    assert_eq!(e.evaluate(&r).action, Action::Deny);
    r.tool = "exec";
    assert_eq!(e.evaluate(&r).action, Action::Allow);
    assert_eq!(e.policy_count(), 1);
}

#[test]
fn fields_are_anded_and_patterns_ored() {
    let e = engine(
        r#"
version: "1"
default_action: allow
policies:
  - name: p
    rules:
      - action: deny
        when:
          command_matches: ["scp *", "rsync *"]
          session_matches: ["ci-*"]
          session_not_matches: ["ci-trusted"]
"#,
    );
    let mut r = exec("rsync -a x y");
    assert_eq!(e.evaluate(&r).action, Action::Allow, "session missing");
    r.session = "ci-42";
    assert_eq!(e.evaluate(&r).action, Action::Deny);
    r.session = "ci-trusted";
    assert_eq!(e.evaluate(&r).action, Action::Allow);
    r.session = "ci-42";
    r.command = Some("cp x y");
    assert_eq!(e.evaluate(&r).action, Action::Allow);
}

#[test]
fn conditions_made_only_of_exclusions_never_match() {
    let e = engine(
        r#"
version: "1"
default_action: allow
policies:
  - name: only-not
    rules:
      - action: deny
        when: {command_not_matches: ["ls *"], path_not_matches: ["/tmp/**"], session_not_matches: ["x"]}
"#,
    );
    assert_eq!(e.evaluate(&exec("rm -rf /")).action, Action::Allow);
    assert_eq!(e.evaluate(&read("/etc/shadow")).action, Action::Allow);
}

#[test]
fn command_exclusions_and_case_insensitive_contains() {
    let e = engine(
        r#"
version: "1"
default_action: allow
policies:
  - name: p
    rules:
      - action: deny
        when:
          command_matches: ["rampart setup *"]
          command_contains: ["| BASH"]
          command_not_matches: ["rampart setup --help"]
"#,
    );
    assert_eq!(
        e.evaluate(&exec("rampart setup claude")).action,
        Action::Deny
    );
    assert_eq!(
        e.evaluate(&exec("rampart setup --help")).action,
        Action::Allow
    );
    assert_eq!(e.evaluate(&exec("curl x | bash")).action, Action::Deny);
    assert_eq!(e.evaluate(&exec("CURL X | Bash -s")).action, Action::Deny);
    assert_eq!(e.evaluate(&exec("bash x")).action, Action::Allow);
    assert_eq!(
        e.evaluate(&read("/x | bash")).action,
        Action::Allow,
        "reads have no command"
    );
}

#[test]
fn paths_join_cwd_clean_dots_and_expand_home() {
    let e = engine(
        r#"
version: "1"
default_action: allow
policies:
  - name: p
    match: {tool: [read, write]}
    rules:
      - action: deny
        when:
          path_matches: ["~/.ssh/**", "$HOME/.aws/credentials", "/etc/shadow", "*.env", "secrets/**"]
          path_not_matches: ["~/.ssh/*.pub"]
"#,
    );
    let at = |path, cwd| Request {
        tool: "read",
        path: Some(path),
        cwd: Some(cwd),
        ..Request::default()
    };
    assert_eq!(
        e.evaluate(&read("/home/u/.ssh/id_rsa")).action,
        Action::Deny
    );
    assert_eq!(
        e.evaluate(&read("/home/u/.ssh/id_rsa.pub")).action,
        Action::Allow
    );
    assert_eq!(
        e.evaluate(&read("/home/u/.aws/credentials")).action,
        Action::Deny
    );
    assert_eq!(
        e.evaluate(&read("/etc/../etc/./shadow")).action,
        Action::Deny
    );
    assert_eq!(
        e.evaluate(&at("../../etc/shadow", "/home/u")).action,
        Action::Deny
    );
    assert_eq!(
        e.evaluate(&at(".ssh/id_ed25519", "/home/u")).action,
        Action::Deny
    );
    // Relative patterns match relative to the working directory.
    assert_eq!(e.evaluate(&at("local.env", "/p")).action, Action::Deny);
    assert_eq!(e.evaluate(&at("/p/local.env", "/p")).action, Action::Deny);
    assert_eq!(
        e.evaluate(&at("/p/sub/local.env", "/p")).action,
        Action::Allow
    );
    assert_eq!(e.evaluate(&at("secrets/k", "/p")).action, Action::Deny);
    assert_eq!(e.evaluate(&at("/p/secrets/a/k", "/p")).action, Action::Deny);
    assert_eq!(
        e.evaluate(&read("/other/u/.ssh/id_rsa")).action,
        Action::Allow
    );

    // Without a home directory `~` stays literal, as in Go Rampart.
    let literal = engine_with_home(
        "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: p\n    rules: [{action: deny, when: {path_matches: [\"~/.ssh/**\"]}}]\n",
        None,
    );
    assert_eq!(
        literal.evaluate(&read("/home/u/.ssh/id_rsa")).action,
        Action::Allow
    );
    assert_eq!(
        literal.evaluate(&read("~/.ssh/id_rsa")).action,
        Action::Deny
    );
}

#[test]
fn urls_and_domains() {
    let e = engine(
        r#"
version: "1"
default_action: allow
policies:
  - name: exfil
    match: {tool: net}
    rules:
      - action: deny
        when: {domain_matches: ["*.ngrok.io", "webhook.site"]}
        message: exfil
      - action: watch
        when: {url_matches: ["tcp://*:25"]}
        message: smtp
"#,
    );
    assert_eq!(
        e.evaluate(&net("tcp://1.2.3.4:443", Some("Abc.NGROK.io.")))
            .action,
        Action::Deny
    );
    assert_eq!(
        e.evaluate(&net("tcp://webhook.site:443", None)).action,
        Action::Deny
    );
    assert_eq!(
        e.evaluate(&net("tcp://10.0.0.1:443", None)).action,
        Action::Allow
    );
    assert_eq!(
        e.evaluate(&net("tcp://mx.example.com:25", None)).action,
        Action::Watch
    );
}

#[test]
fn keys_without_a_syscall_meaning_behave_as_documented() {
    let e = engine(
        r#"
version: "1"
default_action: allow
notify: {url: "https://hooks.example/x", on: [deny]}
policies:
  - name: response-only
    rules: [{action: deny, when: {response_matches: ["AKIA[0-9A-Z]{16}"]}}]
  - name: response-and-command
    rules: [{action: deny, when: {command_matches: ["cat *"], response_matches: ["secret"]}, message: cat}]
  - name: params
    rules: [{action: deny, when: {tool_param_matches: {command: "*"}}}]
  - name: rate
    rules: [{action: deny, when: {call_count: {gte: 0, window: 1m}}}]
  - name: depth-top
    rules: [{action: watch, when: {agent_depth: {eq: 0}}, message: top}]
  - name: depth-sub
    rules: [{action: deny, when: {agent_depth: {gte: 1}}}]
  - name: hook-open
    rules:
      - action: webhook
        when: {command_matches: ["deploy *"]}
        webhook: {url: "https://decide.example/x", timeout: 2s, fail_open: true}
  - name: hook-closed
    rules:
      - action: webhook
        when: {command_matches: ["drop *"]}
        webhook: {url: "https://decide.example/x"}
  - name: asker
    rules:
      - action: ask
        ask: {audit: true, headless_only: false}
        when: {command_matches: ["kubectl apply *"]}
"#,
    );
    // Response conditions are ignored for requests, as in Go Rampart.
    assert_eq!(
        verdict(&e.evaluate(&exec("cat x"))),
        (Action::Deny, vec!["response-and-command"], "cat")
    );
    assert_eq!(
        verdict(&e.evaluate(&exec("ls"))),
        (Action::Watch, vec!["depth-top"], "top")
    );
    assert_eq!(e.evaluate(&exec("deploy prod")).action, Action::Watch);
    assert_eq!(e.evaluate(&exec("drop table")).action, Action::Deny);
    assert_eq!(e.evaluate(&exec("kubectl apply -f x")).action, Action::Ask);
}

#[test]
fn env_assignments_in_commands() {
    let e = engine(
        r#"
version: "1"
default_action: allow
policies:
  - name: env
    rules:
      - action: deny
        when:
          command_env_assignments: ["LD_*", "PYTHONSTARTUP"]
          command_not_matches: ["LD_LIBRARY_PATH=/opt/ok *"]
"#,
    );
    assert_eq!(
        e.evaluate(&exec("LD_PRELOAD=/tmp/x.so ls")).action,
        Action::Deny
    );
    assert_eq!(
        e.evaluate(&exec("/usr/bin/env PYTHONSTARTUP=x python3"))
            .action,
        Action::Deny
    );
    assert_eq!(
        e.evaluate(&exec("LD_LIBRARY_PATH=/opt/ok ./app")).action,
        Action::Allow
    );
    assert_eq!(e.evaluate(&exec("echo LD_PRELOAD=x")).action, Action::Allow);
}

#[test]
fn oversized_inputs_never_match_globs_but_contains_still_sees_them() {
    let e = engine(
        r#"
version: "1"
default_action: allow
policies:
  - name: globs
    rules: [{action: deny, when: {command_matches: ["*"]}, message: glob}]
  - name: substrings
    rules: [{action: ask, when: {command_contains: ["needle"]}, message: contains}]
"#,
    );
    let long = format!("echo {} needle", "a".repeat(9000));
    assert_eq!(
        verdict(&e.evaluate(&exec(&long))),
        (Action::Ask, vec!["substrings"], "contains")
    );
    assert_eq!(e.evaluate(&exec("echo short")).action, Action::Deny);
}

#[test]
fn the_engine_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    let e = std::sync::Arc::new(engine(
        "version: \"1\"\npolicies:\n  - name: p\n    rules: [{action: allow, when: {command_matches: [\"ls *\"]}}]\n",
    ));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let e = e.clone();
            std::thread::spawn(move || {
                let cmd = format!("ls {i}");
                (0..1000).all(|_| e.evaluate(&exec(&cmd)).action == Action::Allow)
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
}

#[test]
fn a_call_on_several_paths_is_denied_when_any_path_is() {
    let e = engine(
        r#"
version: "1"
default_action: allow
policies:
  - name: protected
    match: {tool: write}
    rules: [{action: deny, when: {path_matches: ["**/protected/**"]}, message: "hands off"}]
  - name: watched
    match: {tool: write}
    rules: [{action: watch, when: {path_matches: ["**/logs/**"]}, message: "noted"}]
  - name: secrets
    match: {tool: read}
    rules: [{action: ask, when: {path_matches: ["**/*.key"]}, message: "ask first"}]
"#,
    );
    let write = |path| Request {
        tool: "write",
        path: Some(path),
        ..Request::default()
    };
    // Either end of a rename.
    for (from, to) in [("/w/protected/f", "/w/x"), ("/w/x", "/w/protected/f")] {
        assert_eq!(
            verdict(&e.evaluate_all(&[write(from), write(to)])),
            (Action::Deny, vec!["protected"], "hands off"),
            "{from} -> {to}"
        );
    }
    // The strictest of the rest, with its message; every policy that fired.
    assert_eq!(
        verdict(&e.evaluate_all(&[write("/w/a"), write("/w/logs/l"), read("/w/a.key")])),
        (Action::Ask, vec!["watched", "secrets"], "ask first")
    );
    assert_eq!(
        verdict(&e.evaluate_all(&[write("/w/a"), write("/w/logs/l")])),
        (Action::Watch, vec!["watched"], "noted")
    );
    assert_eq!(
        e.evaluate_all(&[write("/w/a"), write("/w/b")]),
        e.evaluate(&write("/w/a"))
    );
    assert_eq!(
        e.evaluate_all(&[write("/w/protected/f")]).action,
        Action::Deny
    );
    assert_eq!(e.evaluate_all(&[]).action, Action::Allow);
}
