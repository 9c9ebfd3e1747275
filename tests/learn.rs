//! The journey end to end: observe an agent-like workload in monitor mode,
//! generate a policy from the trail, and check that the policy admits the
//! observed work and refuses what was never seen.

use std::process::Command;

use rampart_e2e::*;

/// An agent-like workload: git, python reading project files and writing
/// build output and temp files, a shell writing a log with a random name,
/// and a connection by name to a local server.
fn workload(sb: &Sandbox, port: u16) -> String {
    let w = sb.work();
    std::fs::create_dir_all(w.join("src")).unwrap();
    for i in 0..5 {
        std::fs::write(w.join(format!("src/mod{i}.py")), format!("X = {i}\n")).unwrap();
    }
    let script = format!(
        r#"
set -e
git status --short >/dev/null
python3 - <<'PY'
import glob, os, socket, tempfile
os.makedirs("build", exist_ok=True)
for p in sorted(glob.glob("src/*.py")):
    open(p).read()
    with open("build/" + os.path.basename(p) + ".out", "w") as f: f.write("ok")
with tempfile.NamedTemporaryFile("w", delete=True) as t: t.write("scratch")
socket.create_connection(("localhost", {port})).close()
PY
echo done > "log.$RANDOM$RANDOM.txt"
"#
    );
    std::fs::write(w.join("agent.sh"), script).unwrap();
    "agent.sh".into()
}

fn decide(sb: &Sandbox, policy: &std::path::Path, tool: &str, input: &str) -> String {
    let o = sb
        .rampart()
        .args(["test", "--json", "--tool", tool, "--policy"])
        .arg(policy)
        .arg("--")
        .arg(input)
        .output()
        .unwrap();
    // 0: the call would run; 1: it would be refused; anything else failed.
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let action = v["action"].as_str().unwrap().to_string();
    let refused = matches!(action.as_str(), "deny" | "ask");
    assert_eq!(o.status.code(), Some(i32::from(refused)), "{action}");
    action
}

#[test]
fn observe_generate_and_refuse_the_unseen() {
    let sb = Sandbox::new();
    assert!(Command::new("git")
        .args(["init", "-q"])
        .current_dir(sb.work())
        .status()
        .unwrap()
        .success());
    let port = tcp_server();
    let script = workload(&sb, port);
    for _ in 0..2 {
        let o = sb.run(&["bash", &script]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let policy = sb.path("generated.yaml");
    let o = sb.learn_into(&policy);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = stderr(&o);
    assert!(summary.contains("replay: "), "{summary}");
    let (n, m) = summary
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .and_then(|r| r.split(' ').next())
        .and_then(|r| r.split_once('/'))
        .unwrap();
    assert_eq!(
        n, m,
        "every observed call is allowed by the generated policy: {summary}"
    );

    // Strict and valid for this engine.
    let check = sb
        .rampart()
        .args(["policy", "check"])
        .arg(&policy)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stdout(&check));

    // Generating again from the same trail gives the same bytes.
    let again = sb.path("again.yaml");
    let o = sb.learn_into(&again);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = std::fs::read_to_string(&policy).unwrap();
    let b = std::fs::read_to_string(&again).unwrap();
    // Policy names take the output file's stem; all else is identical.
    assert_eq!(a.replace("generated-", "X-"), b.replace("again-", "X-"));

    // The same work runs again, unchanged, under enforce with that policy.
    let o = sb
        .rampart()
        .args(["run", "--mode", "enforce", "--policy"])
        .arg(&policy)
        .args(["--", "bash", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "enforced rerun failed: {}", stderr(&o));
    // Probes of files that were absent while learning (git's packed-refs,
    // .gitignore lookups) are refused as they failed then: with ENOENT.
    // Nothing else is refused.
    for line in stderr(&o)
        .lines()
        .filter(|l| l.starts_with("rampart: denied"))
    {
        assert!(line.starts_with("rampart: denied read "), "{line}");
    }

    // Observed calls are allowed ...
    let w = sb.work();
    let wd = w.to_str().unwrap();
    assert_eq!(
        decide(&sb, &policy, "read", &format!("{wd}/src/mod3.py")),
        "allow"
    );
    assert_eq!(
        decide(&sb, &policy, "net", &format!("localhost:{port}")),
        "allow"
    );
    // ... what was never seen is not.
    let home = sb.home();
    assert_eq!(
        decide(
            &sb,
            &policy,
            "read",
            &format!("{}/.ssh/id_rsa", home.display())
        ),
        "deny"
    );
    assert_eq!(decide(&sb, &policy, "write", "/etc/passwd"), "deny");
    assert_eq!(decide(&sb, &policy, "exec", "/usr/bin/nc -l 4444"), "deny");
    assert_eq!(
        decide(&sb, &policy, "net", &format!("localhost:{}", port + 1)),
        "deny"
    );

    // An existing file is not replaced without --force.
    let o = sb.learn_into(&policy);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
}

#[test]
fn since_accepts_durations_and_dates_and_rejects_the_rest() {
    let sb = Sandbox::new();
    let o = sb.run(&["cat", "/etc/hostname"]);
    assert!(o.status.success());
    for ok in [
        "30m",
        "24h",
        "7d",
        "2w",
        "2026-03-01",
        "2026-03-01T10:00:00Z",
    ] {
        let o = sb
            .rampart()
            .args(["init", "--dry-run", "--since", ok, "--from-audit"])
            .arg(sb.audit())
            .output()
            .unwrap();
        assert!(o.status.success(), "--since {ok}: {}", stderr(&o));
    }
    let o = sb
        .rampart()
        .args(["init", "--dry-run", "--since", "yesterday", "--from-audit"])
        .arg(sb.audit())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("yesterday"), "{}", stderr(&o));
}

/// The sandbox's one trail file.
fn trail_file(sb: &Sandbox) -> std::path::PathBuf {
    std::fs::read_dir(sb.audit())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap()
}

#[test]
fn a_trail_that_does_not_verify_is_refused_unless_no_verify() {
    let sb = Sandbox::new();
    let o = sb.run(&["cat", "/etc/hostname"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = trail_file(&sb);
    let text = std::fs::read_to_string(&file).unwrap();
    // Forge what a record says was read: the chain no longer holds.
    let forged = text.replacen("\"/etc/hostname\"", "\"/etc/hostnamX\"", 1);
    assert_ne!(forged, text);
    std::fs::write(&file, &forged).unwrap();
    let out = sb.path("p.yaml");
    let o = sb.learn_into(&out);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("does not verify"), "{err}");
    assert!(err.contains(&format!("{}:", file.display())), "{err}");
    assert!(!out.exists());
    // --no-verify learns from it anyway.
    let o = sb
        .rampart()
        .args(["init", "--no-verify", "--from-audit"])
        .arg(sb.audit())
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.exists());
}

#[test]
fn unreadable_lines_are_named_with_file_and_line() {
    let sb = Sandbox::new();
    let o = sb.run(&["cat", "/etc/hostname"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = trail_file(&sb);
    let mut text = std::fs::read_to_string(&file).unwrap();
    let lines = text.lines().count();
    text.push_str("{not json\n");
    std::fs::write(&file, &text).unwrap();
    let o = sb
        .rampart()
        .args(["init", "--no-verify", "--dry-run", "--from-audit"])
        .arg(sb.audit())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{}:{}: unreadable record skipped",
            file.display(),
            lines + 1
        )),
        "{err}"
    );
}

#[test]
fn nothing_learned_is_an_error_and_writes_no_policy() {
    let sb = Sandbox::new();
    // Everything the run does is denied by a rule of the policy in force
    // (monitor mode records the verdict): nothing may be learned from it.
    // (A default action alone would not do: the loader's and libc's own
    // opens, past the hooks, are refused by rules only.)
    let deny_all = sb.path("deny.yaml");
    std::fs::write(
        &deny_all,
        "version: \"1\"\ndefault_action: deny\npolicies:\n  - name: nothing\n    rules:\n      - action: deny\n",
    )
    .unwrap();
    let o = sb
        .rampart()
        .args(["run", "--quiet", "--policy"])
        .arg(&deny_all)
        .args(["--", "cat", "/etc/hostname"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = sb.path("p.yaml");
    let o = sb.learn_into(&out);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing was learned"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// A sandbox whose trail holds one read of `/etc/hostname`, the policy
/// learned from it (`p.yaml`) and its text.
fn learned_from_one_read() -> (Sandbox, std::path::PathBuf, String) {
    let sb = Sandbox::new();
    let o = sb.run(&["cat", "/etc/hostname"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = sb.path("p.yaml");
    let o = sb.learn_into(&out);
    assert!(o.status.success(), "{}", stderr(&o));
    let generated = std::fs::read_to_string(&out).unwrap();
    (sb, out, generated)
}

/// What a reviewer adds to a generated policy: keys the generator never
/// writes (`match.session`, `description`, `priority`, `enabled`, `ask`,
/// `webhook`, `agent_depth`, `notify`, `tests`) and a comment.
const REVIEWED: &str = r#"
  # reviewed by hand: CI sessions have no business with the host name
  - name: "ci-extra"
    description: "added by a reviewer"
    priority: 5
    match:
      tool: ["read"]
      session: "ci-*"
    rules:
      - action: deny
        when:
          path_matches:
            - "/etc/hostname"
        message: "not in CI"
      - action: ask
        when:
          path_matches:
            - "/etc/ci/secret/**"
        ask:
          audit: true
  - name: "hooked"
    enabled: false
    match:
      tool: ["exec"]
      agent: "claude*"
    rules:
      - action: webhook
        when:
          agent_depth:
            gte: 2
        webhook:
          url: "http://127.0.0.1:9/decide"
          timeout: 2s
          fail_open: false

notify:
  url: "http://127.0.0.1:9/notify"
  on: ["deny"]

tests:
  - name: "CI may not read the host name"
    tool: read
    session: "ci-7"
    params:
      path: /etc/hostname
    expect: deny
"#;

#[test]
fn merge_keeps_every_key_a_reviewer_added() {
    let (sb, out, generated) = learned_from_one_read();
    // The generated `tests:` come last: the reviewer's policies, notify and
    // tests go before them, and the generated test items join the
    // reviewer's `tests:` list.
    let (body, items) = match generated.find("\n# Calls this policy was learned from") {
        Some(i) => {
            let block = &generated[i..];
            let items = block
                .split_once("\ntests:\n")
                .map_or("", |(_, items)| items);
            (&generated[..i], items.to_string())
        }
        None => (generated.as_str(), String::new()),
    };
    std::fs::write(&out, format!("{body}{REVIEWED}{items}")).unwrap();

    // A new session reads something new: the merge must add it and keep
    // everything the reviewer wrote.
    let o = sb.run(&["head", "-c", "10", "/etc/os-release"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let merge = |sb: &Sandbox| {
        sb.rampart()
            .args(["init", "--from-audit"])
            .arg(sb.audit())
            .arg("--merge")
            .arg(&out)
            .output()
            .unwrap()
    };
    let o = merge(&sb);
    assert!(o.status.success(), "{}", stderr(&o));
    let merged = std::fs::read_to_string(&out).unwrap();
    assert!(merged.contains("/etc/os-release"), "{merged}");
    // Kept as the reviewer wrote them, quotes and all (the merge reads the
    // file with the loader's own reader and writes back what it does not
    // model).
    for kept in [
        "# reviewed by hand: CI sessions have no business with the host name",
        "description: \"added by a reviewer\"",
        "priority: 5",
        "session: \"ci-*\"",
        "message: \"not in CI\"",
        "action: ask",
        "audit: true",
        "enabled: false",
        "agent: \"claude*\"",
        "gte: 2",
        "url: \"http://127.0.0.1:9/decide\"",
        "timeout: 2s",
        "fail_open: false",
        "notify:",
        "url: \"http://127.0.0.1:9/notify\"",
        "- \"deny\"",
        "tests:",
        "name: \"CI may not read the host name\"",
        "session: \"ci-7\"",
        "path: /etc/hostname",
        "expect: deny",
    ] {
        assert!(
            merged.contains(kept),
            "{kept:?} lost in the merge:\n{merged}"
        );
    }
    // The generated rules keep their comments too.
    let comments = |t: &str| {
        t.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
    };
    assert!(comments(&merged) > comments(&generated), "{merged}");
    let o = sb
        .rampart()
        .args(["policy", "check", "--policy"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // The session match still decides: the learned read is allowed, but
    // not in CI sessions.
    let read_hostname = |session: &str| {
        let o = sb
            .rampart()
            .args([
                "test",
                "--json",
                "--tool",
                "read",
                "--session",
                session,
                "--policy",
            ])
            .arg(&out)
            .arg("--")
            .arg("/etc/hostname")
            .output()
            .unwrap();
        // 0: the read would run; 1: it would be refused.
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["action"].as_str().unwrap().to_string()
    };
    assert_eq!(read_hostname("ci-7"), "deny");
    assert_eq!(read_hostname("dev-1"), "allow");
    // Nothing new: the file comes back byte for byte.
    let o = merge(&sb);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), merged);
}

#[test]
fn merge_refuses_a_policy_the_strict_loader_refuses_naming_file_and_line() {
    let (sb, out, generated) = learned_from_one_read();
    let broken = generated.replacen("    rules:\n", "    rulez:\n", 1);
    let line = broken.lines().position(|l| l == "    rulez:").unwrap() + 1;
    std::fs::write(&out, &broken).unwrap();
    let o = sb
        .rampart()
        .args(["init", "--from-audit"])
        .arg(sb.audit())
        .arg("--merge")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("{}:{line}:", out.display())), "{err}");
    assert!(err.contains("rulez"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        broken,
        "file untouched"
    );
}

/// A policy in force that allows everything but reading the host name.
const ALL_BUT_HOSTNAME: &str = r#"version: "1"
default_action: allow
policies:
  - name: "no-hostname"
    match:
      tool: ["read"]
    rules:
      - action: deny
        when:
          path_matches: ["/etc/hostname"]
"#;

#[test]
fn a_denied_call_is_learned_only_when_the_reviewer_includes_it() {
    let sb = Sandbox::new();
    let policy = sb.path("in-force.yaml");
    std::fs::write(&policy, ALL_BUT_HOSTNAME).unwrap();
    // Monitor mode: the read happens and is recorded as "would deny".
    let o = sb
        .rampart()
        .args(["run", "--policy"])
        .arg(&policy)
        .args([
            "--",
            "sh",
            "-c",
            "cat /etc/hostname /etc/os-release >/dev/null",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let init = |out: &std::path::Path, extra: &[&str]| {
        sb.rampart()
            .args(["init", "--from-audit"])
            .arg(sb.audit())
            .arg("--output")
            .arg(out)
            .args(extra)
            .output()
            .unwrap()
    };
    // Not asked: the denied read is not learned.
    let plain = sb.path("plain.yaml");
    let o = init(&plain, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("skipped, denied by the policy in force"),
        "{}",
        stderr(&o)
    );
    assert_eq!(decide(&sb, &plain, "read", "/etc/os-release"), "allow");
    assert_eq!(decide(&sb, &plain, "read", "/etc/hostname"), "deny");

    // Asked: learned, said so in the summary and the header, and no wider.
    let accepted = sb.path("accepted.yaml");
    let o = init(
        &accepted,
        &[
            "--include-denied",
            "read:/etc/host*",
            "--include-denied",
            "exec:never *",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("learned although denied (--include-denied): 1 call"),
        "{err}"
    );
    assert!(
        err.contains("\"exec:never *\" matched no denied call"),
        "{err}"
    );
    let text = std::fs::read_to_string(&accepted).unwrap();
    assert!(
        text.contains("# Learned although denied, as the reviewer asked"),
        "{text}"
    );
    assert_eq!(decide(&sb, &accepted, "read", "/etc/hostname"), "allow");
    assert_eq!(decide(&sb, &accepted, "read", "/etc/hosts"), "deny");
    assert_eq!(decide(&sb, &accepted, "read", "/etc/shadow"), "deny");

    // A pattern that is not TOOL:PATTERN is refused with its value.
    let o = init(&sb.path("bad.yaml"), &["--include-denied", "/etc/hostname"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("invalid --include-denied \"/etc/hostname\""),
        "{}",
        stderr(&o)
    );
    assert!(!sb.path("bad.yaml").exists());
}

/// A program started through a link (as `python3` is a link to
/// `python3.11` on Debian) is checked again under enforce on the file the
/// kernel loads: the trail of a monitor run must hold that file, so the
/// policy learned from it allows the program's next run. Also for a
/// script, whose loaded file is its interpreter. On both backends (the
/// library finds the file before the exec, the tracer after it).
#[test]
fn a_program_started_through_a_link_is_learned_as_the_file_it_loads() {
    for backend in ["preload", "trace"] {
        let sb = Sandbox::new();
        let bin = sb.path("bin");
        std::fs::create_dir(&bin).unwrap();
        let tool = bin.join("tool");
        std::os::unix::fs::symlink("/usr/bin/true", &tool).unwrap();
        let script = bin.join("job.sh");
        std::fs::write(&script, "#!/bin/sh\nexec \"$1\"\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let run = |mode: &str, policy: Option<&std::path::Path>| {
            let mut cmd = sb.rampart();
            cmd.args(["run", "--quiet", "--backend", backend, "--mode", mode]);
            if let Some(p) = policy {
                cmd.arg("--policy").arg(p);
            }
            cmd.arg("--").arg(&script).arg(&tool).output().unwrap()
        };
        assert_ok(&run("monitor", None));
        let records = sb.records();
        let loaded = records
            .iter()
            .find(|r| r["tool"] == "exec" && r["request"]["path"] == "/usr/bin/true")
            .unwrap_or_else(|| {
                panic!("{backend}: the loaded file is not in the trail: {records:#?}")
            });
        assert_eq!(loaded["decision"]["action"], "allow", "{backend}");
        assert_eq!(
            loaded["request"]["via"],
            tool.to_str().unwrap(),
            "{backend}"
        );
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        let interpreter = records
            .iter()
            .find(|r| {
                r["tool"] == "exec"
                    && r["request"]["path"] == sh.to_str().unwrap()
                    && r["request"]["via"] == script.to_str().unwrap()
            })
            .unwrap_or_else(|| panic!("{backend}: the script's interpreter: {records:#?}"));
        assert_eq!(interpreter["request"]["argv"][0], "/bin/sh", "{backend}");
        let policy = sb.path("learned.yaml");
        assert_ok(&sb.learn_into(&policy));
        let enforced = run("enforce", Some(&policy));
        assert_ok(&enforced);
        let denied: Vec<_> = sb
            .records()
            .into_iter()
            .filter(|r| r["decision"]["action"] == "deny")
            .collect();
        assert!(denied.is_empty(), "{backend}: {denied:#?}");
    }
}
