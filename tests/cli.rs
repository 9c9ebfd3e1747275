//! The day-to-day command line: `run`'s option parsing and `log`'s filters
//! and `--follow`, on trails recorded by real runs.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rampart_e2e::{assert_ok, of_tool, stderr, stdout, Sandbox};
use serde_json::Value;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[test]
fn run_rejects_a_misspelt_option_instead_of_running_it() {
    let sb = Sandbox::new();
    let o = sb
        .rampart()
        .args(["run", "--mdoe", "enforce", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("'--mdoe'"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--mode"),
        "did you mean: {}",
        stderr(&o)
    );
    assert!(sb.records().is_empty(), "nothing ran: {:?}", sb.records());
    // After `--`, or from the first word that is not an option, everything is
    // the command's.
    let o = sb
        .rampart()
        .args(["run", "--quiet", "sh", "-c", "echo $0 --mdoe", "x"])
        .output()
        .unwrap();
    assert_ok(&o);
    assert_eq!(stdout(&o), "x --mdoe\n");
}

#[test]
fn log_filters_by_tool_decision_pid_path_and_limit() {
    let sb = Sandbox::new();
    let w = sb.work();
    for f in ["a.txt", "b.txt", "c.txt"] {
        std::fs::write(w.join(f), f).unwrap();
    }
    assert_ok(&sb.run(&[
        "sh",
        "-c",
        "cat a.txt b.txt >/dev/null; cat c.txt >/dev/null",
    ]));
    let log = |args: &[&str]| {
        let o = sb.rampart().arg("log").args(args).output().unwrap();
        assert_ok(&o);
        json_lines(&stdout(&o))
    };
    let all = log(&["--json"]);
    assert_eq!(all.len(), sb.records().len());
    let reads = log(&["--json", "--tool", "read"]);
    assert!(!reads.is_empty() && reads.iter().all(|r| r["tool"] == "read"));
    assert_eq!(reads.len(), of_tool(&all, "read").len());

    let b = log(&["--json", "--path", "**/b.txt"]);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0]["request"]["path"], w.join("b.txt").to_str().unwrap());

    let in_work = log(&[
        "--json",
        "--tool",
        "read",
        "--path",
        &format!("{}/*", w.display()),
    ]);
    assert_eq!(in_work.len(), 3, "{in_work:?}");
    let last = log(&[
        "--json",
        "--tool",
        "read",
        "--path",
        &format!("{}/*", w.display()),
        "--limit",
        "1",
    ]);
    assert_eq!(last, in_work[2..].to_vec(), "--limit keeps the last");

    // The second cat is another process: --pid selects its calls only.
    let pid = b[0]["request"]["pid"].as_i64().unwrap();
    let of_pid = log(&["--json", "--pid", &pid.to_string()]);
    assert!(of_pid.iter().all(|r| r["request"]["pid"] == pid));
    assert!(of_pid
        .iter()
        .any(|r| r["request"]["path"] == b[0]["request"]["path"]));
    assert!(!of_pid
        .iter()
        .any(|r| r["request"]["path"] == w.join("c.txt").to_str().unwrap()));

    assert_eq!(log(&["--json", "--decision", "deny"]), Vec::<Value>::new());
    let table = sb
        .rampart()
        .args(["log", "--tool", "exec"])
        .output()
        .unwrap();
    assert_ok(&table);
    assert!(
        stdout(&table).lines().all(|l| l.contains(" exec ")),
        "{}",
        stdout(&table)
    );
}

#[test]
fn log_refuses_an_unknown_tool_or_decision_and_says_what_it_meant() {
    let sb = Sandbox::new();
    assert_ok(&sb.run(&["true"]));
    for (flag, wrong, meant) in [("--tool", "exce", "exec"), ("--decision", "dney", "deny")] {
        let o = sb.rampart().args(["log", flag, wrong]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(wrong), "{}", stderr(&o));
        assert!(stderr(&o).contains(meant), "did you mean: {}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
    let o = sb
        .rampart()
        .args(["log", "--path", "[unclosed"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("[unclosed"), "{}", stderr(&o));
    let o = sb
        .rampart()
        .args(["log", "/no/such/trail"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "a missing trail is an error");
    assert!(stderr(&o).contains("/no/such/trail"), "{}", stderr(&o));
}

#[test]
fn log_follow_shows_records_written_after_it_started() {
    let sb = Sandbox::new();
    let w = sb.work();
    std::fs::write(w.join("before.txt"), "x").unwrap();
    std::fs::write(w.join("after.txt"), "y").unwrap();
    assert_ok(&sb.run(&["cat", "before.txt"]));
    let mut follow = sb
        .rampart()
        .args([
            "log", "--follow", "--json", "--tool", "read", "--path", "**/*.txt",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let lines = BufReader::new(follow.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in lines.lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = |rx: &mpsc::Receiver<String>| {
        let v: Value =
            serde_json::from_str(&rx.recv_timeout(Duration::from_secs(20)).unwrap()).unwrap();
        v["request"]["path"].as_str().unwrap().to_string()
    };
    assert_eq!(
        next(&rx),
        w.join("before.txt").to_str().unwrap(),
        "what was there first"
    );
    let started = Instant::now();
    assert_ok(&sb.run(&["cat", "after.txt"]));
    assert_eq!(
        next(&rx),
        w.join("after.txt").to_str().unwrap(),
        "what came later"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        follow.try_wait().unwrap().is_none(),
        "--follow keeps running"
    );
    follow.kill().unwrap();
    follow.wait().unwrap();
}

#[test]
fn completions_and_the_man_page_cover_every_command() {
    let sb = Sandbox::new();
    let help = sb.rampart().arg("--help").output().unwrap();
    assert_ok(&help);
    let commands = [
        "run",
        "test",
        "policy",
        "audit",
        "log",
        "init",
        "serve",
        "status",
        "doctor",
        "explain",
        "report",
        "completions",
        "man",
    ];
    for c in commands {
        assert!(
            stdout(&help).contains(&format!("  {c} ")),
            "--help lists {c}"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let o = sb.rampart().args(["completions", shell]).output().unwrap();
        assert_ok(&o);
        for c in commands {
            assert!(stdout(&o).contains(c), "{shell} completes {c}");
        }
    }
    let script = sb.path("rampart.bash");
    let o = sb.rampart().args(["completions", "bash"]).output().unwrap();
    std::fs::write(&script, &o.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert_ok(&check);
    // Loaded into bash, it completes `rampart lo` to `log`, and offers
    // every command but the internal one.
    let complete = |words: &str, cword: usize| {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; _rampart rampart \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let o = std::process::Command::new("bash")
            .args(["-c", &probe])
            .output()
            .unwrap();
        assert_ok(&o);
        stdout(&o)
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(complete("rampart lo", 1), ["log"]);
    let offered = complete("rampart ''", 1);
    for c in commands {
        assert!(offered.iter().any(|o| o == c), "offers {c}: {offered:?}");
    }
    assert!(
        !offered.iter().any(|o| o.contains("trace-exec")),
        "{offered:?}"
    );

    let man = sb.rampart().arg("man").output().unwrap();
    assert_ok(&man);
    let page = sb.path("rampart.1");
    std::fs::write(&page, &man.stdout).unwrap();
    let text = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .arg(&page)
        .output();
    let Ok(text) = text else {
        rampart_e2e::skip("groff is not installed (apt-get install groff-base)");
        return;
    };
    assert!(text.status.success());
    assert!(stderr(&text).is_empty(), "groff warns: {}", stderr(&text));
    // Bold and underline are overstrikes (`X\bX`): keep the last of each.
    let mut rendered = String::new();
    for c in String::from_utf8_lossy(&text.stdout).chars() {
        if c == '\u{8}' {
            rendered.pop();
        } else {
            rendered.push(c);
        }
    }
    for c in commands.iter().filter(|c| **c != "man") {
        assert!(
            rendered.contains(&format!("RAMPART {}", c.to_uppercase())),
            "the man page has a section for {c}"
        );
    }
    // It names no other page: there is one.
    assert!(!rendered.contains("rampart-run(1)"), "{rendered}");
    assert!(rendered.contains("--follow"), "options are in the page");
}

#[test]
fn monitor_says_would_deny_and_the_trail_says_whether_a_call_was_blocked() {
    for backend in ["preload", "trace"] {
        let sb = Sandbox::new();
        let key = sb.home().join(".ssh/id_rsa");
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        std::fs::write(&key, "secret").unwrap();
        let key = key.to_str().unwrap();
        let last_read = |mode: &str| {
            let o = sb
                .rampart()
                .args([
                    "run",
                    "--mode",
                    mode,
                    "--backend",
                    backend,
                    "--",
                    "cat",
                    key,
                ])
                .output()
                .unwrap();
            let summary = stderr(&o);
            let log = sb
                .rampart()
                .args(["log", "--path", key, "--limit", "1"])
                .output()
                .unwrap();
            assert_ok(&log);
            let rec = sb
                .records()
                .into_iter()
                .rfind(|r| r["tool"] == "read" && r["request"]["path"] == key)
                .unwrap_or_else(|| panic!("{backend} {mode}: no read of the key"));
            (o, summary, stdout(&log), rec)
        };
        let (o, summary, log, rec) = last_read("monitor");
        assert_ok(&o);
        assert_eq!(stdout(&o), "secret", "{backend}: monitor blocks nothing");
        assert!(
            summary
                .lines()
                .any(|l| l.starts_with("  read ") && l.ends_with(" 1 would deny")),
            "{backend}: {summary}"
        );
        assert!(log.starts_with("! would deny "), "{backend}: {log}");
        assert_eq!(
            rec["decision"]["action"], "deny",
            "Go Rampart's field keeps the verdict"
        );
        assert_eq!(rec["request"]["blocked"], false);

        let (o, summary, log, rec) = last_read("enforce");
        assert_ne!(
            o.status.code(),
            Some(0),
            "{backend}: enforce refuses the read"
        );
        assert!(stdout(&o).is_empty());
        assert!(
            summary
                .lines()
                .any(|l| l.starts_with("  read ") && l.ends_with(" 1 deny")),
            "{backend}: {summary}"
        );
        assert!(log.starts_with("✗ deny "), "{backend}: {log}");
        assert_eq!(rec["decision"]["action"], "deny");
        assert_eq!(rec["request"]["blocked"], true);
        assert!(
            !sb.records().iter().any(
                |r| r["decision"]["action"] == "allow" && r["request"].get("blocked").is_some()
            ),
            "only refusals carry `blocked`"
        );
    }
}

#[test]
fn a_refusal_served_from_the_verdict_cache_is_recorded_as_blocked() {
    // The second open of the same denied file in one process is refused by
    // the library's verdict cache, without asking: still a block.
    let sb = Sandbox::new();
    let key = sb.home().join(".ssh/id_ed25519");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "secret").unwrap();
    let key = key.to_str().unwrap();
    let o = sb
        .rampart()
        .args(["run", "--quiet", "--mode", "enforce", "--backend", "preload", "--"])
        .args(["python3", "-c"])
        .arg(format!(
            "import os\nfor _ in range(3):\n    try:\n        os.open({key:?}, os.O_RDONLY)\n    except PermissionError:\n        print('refused')"
        ))
        .output()
        .unwrap();
    assert_ok(&o);
    assert_eq!(stdout(&o), "refused\nrefused\nrefused\n");
    let reads: Vec<Value> = sb
        .records()
        .into_iter()
        .filter(|r| r["tool"] == "read" && r["request"]["path"] == key)
        .collect();
    assert_eq!(reads.len(), 3, "{reads:?}");
    for r in &reads {
        assert_eq!(r["decision"]["action"], "deny");
        assert_eq!(r["request"]["blocked"], true, "{r}");
    }
    let log = sb.rampart().args(["log", "--path", key]).output().unwrap();
    assert!(!stdout(&log).contains("would deny"), "{}", stdout(&log));
}

#[test]
fn doctor_says_what_works_and_fails_on_what_a_run_needs() {
    let sb = Sandbox::new();
    let o = sb.rampart().arg("doctor").output().unwrap();
    assert_ok(&o);
    let out = stdout(&o);
    for check in [
        "preload library",
        "ptrace",
        "seccomp",
        "Landlock",
        "audit dir",
        "policy",
        "serve",
    ] {
        assert!(
            out.lines().any(|l| l.contains(&format!("  {check}: "))),
            "{check} is checked: {out}"
        );
    }
    assert!(!out.contains("FAIL"), "{out}");

    // What a run needs, broken three ways: each named, exit 1.
    let bad_policy = sb.work().join("bad.yaml");
    std::fs::write(
        &bad_policy,
        "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: x\n    bogus: 1\n",
    )
    .unwrap();
    let not_a_dir = sb.work().join("a-file");
    std::fs::write(&not_a_dir, "").unwrap();
    let o = sb
        .rampart()
        .env("RAMPART_PRELOAD_LIB", "/nonexistent/librampart_preload.so")
        .arg("--policy")
        .arg(&bad_policy)
        .arg("--audit-dir")
        .arg(&not_a_dir)
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    let fail = |what: &str| {
        out.lines()
            .find(|l| l.starts_with("FAIL") && l.contains(what))
            .map(String::from)
    };
    assert!(
        fail("preload library").is_some_and(|l| l.contains("/nonexistent")),
        "{out}"
    );
    assert!(
        fail("policy").is_some_and(|l| l.contains("bad.yaml:5")),
        "{out}"
    );
    assert!(
        fail("audit dir").is_some_and(|l| l.contains("a-file")),
        "{out}"
    );
}

#[test]
fn audit_stats_sums_up_a_real_trail() {
    let sb = Sandbox::new();
    let w = sb.work();
    std::fs::write(w.join("a.txt"), "a").unwrap();
    std::fs::write(w.join("b.txt"), "b").unwrap();
    let port = rampart_e2e::tcp_server();
    let script = format!(
        "cat a.txt >/dev/null; cat a.txt b.txt a.txt >/dev/null; exec 3<>/dev/tcp/127.0.0.1/{port}; echo x >&3"
    );
    assert_ok(&sb.run(&["bash", "-c", &script]));
    let records = sb.records();
    let o = sb
        .rampart()
        .args(["audit", "stats", "--json", "--top", "3"])
        .output()
        .unwrap();
    assert_ok(&o);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["records"].as_u64(), Some(records.len() as u64));
    for tool in ["exec", "read", "net"] {
        assert_eq!(
            v["by_tool"][tool].as_u64(),
            Some(of_tool(&records, tool).len() as u64),
            "{tool}: {v}"
        );
    }
    let verdicts: u64 = v["by_verdict"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(verdicts, records.len() as u64);
    let paths = v["top_paths"].as_array().unwrap();
    assert!(paths.len() <= 3);
    assert_eq!(paths[0]["name"], w.join("a.txt").to_str().unwrap(), "{v}");
    assert_eq!(paths[0]["count"], 3);
    assert!(
        v["top_hosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == "127.0.0.1"),
        "{v}"
    );
    let text = sb.rampart().args(["audit", "stats"]).output().unwrap();
    assert_ok(&text);
    assert!(
        stdout(&text).starts_with(&format!("{} records in ", records.len())),
        "{}",
        stdout(&text)
    );
    assert!(stdout(&text).contains("top paths:"), "{}", stdout(&text));
}

#[test]
fn compressed_trails_and_stdin_are_read_by_log_audit_and_init() {
    // Two "hosts", each with its own trail, shipped compressed.
    let hosts: Vec<Sandbox> = (0..2).map(|_| Sandbox::new()).collect();
    for (i, h) in hosts.iter().enumerate() {
        std::fs::write(h.work().join(format!("host{i}.txt")), "x").unwrap();
        assert_ok(&h.run(&["cat", &format!("host{i}.txt")]));
    }
    let sb = Sandbox::new();
    let fleet = sb.work().join("fleet");
    let mut dirs = Vec::new();
    let tools: [(&str, &[&str]); 2] = [("gzip", &["-q"]), ("zstd", &["-q", "--rm"])];
    for (i, (h, (tool, flags))) in hosts.iter().zip(tools).enumerate() {
        let dir = fleet.join(format!("host{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in std::fs::read_dir(h.audit()).unwrap().flatten() {
            if f.path().extension().is_some_and(|e| e == "jsonl") {
                let to = dir.join(f.file_name());
                std::fs::copy(f.path(), &to).unwrap();
                let o = std::process::Command::new(tool)
                    .args(flags)
                    .arg(&to)
                    .output();
                let o = o.unwrap_or_else(|e| panic!("{tool}: {e}"));
                assert!(o.status.success(), "{tool}: {}", stderr(&o));
            }
        }
        assert!(std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .all(|f| !f.path().to_string_lossy().ends_with(".jsonl")));
        dirs.push(dir);
    }
    let total: usize = hosts.iter().map(|h| h.records().len()).sum();

    let o = sb
        .rampart()
        .args(["audit", "verify"])
        .args(&dirs)
        .output()
        .unwrap();
    assert_ok(&o);
    assert!(
        stdout(&o).contains(&format!("ok: {total} records")),
        "{}",
        stdout(&o)
    );

    let o = sb
        .rampart()
        .args(["log", "--json", "--tool", "read"])
        .args(&dirs)
        .output()
        .unwrap();
    assert_ok(&o);
    let reads = json_lines(&stdout(&o));
    for i in 0..2 {
        assert!(
            reads.iter().any(|r| r["request"]["path"]
                .as_str()
                .unwrap()
                .ends_with(&format!("host{i}.txt"))),
            "{reads:?}"
        );
    }
    let o = sb
        .rampart()
        .args(["audit", "stats", "--json"])
        .args(&dirs)
        .output()
        .unwrap();
    assert_ok(&o);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()["records"],
        total
    );

    // Learned from both, the policy allows both hosts' reads.
    let policy = sb.work().join("fleet.yaml");
    let o = sb
        .rampart()
        .args(["init", "--from-audit"])
        .args(&dirs)
        .arg("--output")
        .arg(&policy)
        .output()
        .unwrap();
    assert_ok(&o);
    for (i, h) in hosts.iter().enumerate() {
        let path = h.work().join(format!("host{i}.txt"));
        let o = sb
            .rampart()
            .arg("--policy")
            .arg(&policy)
            .args(["test", "--tool", "read", "--cwd"])
            .arg(h.work())
            .arg("--")
            .arg(&path)
            .output()
            .unwrap();
        assert_ok(&o);
    }

    // Standard input: one trail piped in.
    let plain = std::fs::read_dir(hosts[0].audit())
        .unwrap()
        .flatten()
        .find(|f| f.path().extension().is_some_and(|e| e == "jsonl"))
        .unwrap()
        .path();
    let o = sb
        .rampart()
        .args(["log", "--json", "-"])
        .stdin(std::fs::File::open(&plain).unwrap())
        .output()
        .unwrap();
    assert_ok(&o);
    assert_eq!(json_lines(&stdout(&o)).len(), hosts[0].records().len());

    // The anchor goes with a compressed directory: a trail cut at its end
    // (the host wrote more after this copy) fails verify, as a plain one does.
    let cut = fleet.join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    for f in std::fs::read_dir(&dirs[0]).unwrap().flatten() {
        std::fs::copy(f.path(), cut.join(f.file_name())).unwrap();
    }
    assert_ok(&hosts[0].run(&["cat", "host0.txt"]));
    std::fs::copy(
        hosts[0].audit().join("audit.anchor"),
        cut.join("audit.anchor"),
    )
    .unwrap();
    let o = sb
        .rampart()
        .args(["audit", "verify"])
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let o = sb
        .rampart()
        .args(["audit", "verify"])
        .arg(&dirs[0])
        .output()
        .unwrap();
    assert_ok(&o);

    // A damaged compressed file is named as given; --follow refuses copies.
    let broken = sb.work().join("broken.jsonl.gz");
    std::fs::write(&broken, b"not gzip at all").unwrap();
    let o = sb
        .rampart()
        .args(["audit", "verify"])
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("broken.jsonl.gz"), "{}", stderr(&o));
    let o = sb
        .rampart()
        .args(["log", "--follow"])
        .args(&dirs)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--follow"), "{}", stderr(&o));
}

#[test]
fn verify_and_init_show_progress_on_a_terminal_only() {
    let sb = Sandbox::new();
    std::fs::write(sb.work().join("f.txt"), "x").unwrap();
    assert_ok(&sb.run(&["cat", "f.txt"]));
    let bin = rampart_e2e::rampart().display().to_string();
    let out = sb.path("learned.yaml");
    for (label, args) in [
        ("verify", "audit verify".to_string()),
        (
            "learn",
            format!(
                "init --from-audit {} --output {}",
                sb.audit().display(),
                out.display()
            ),
        ),
    ] {
        // On a terminal (script(1) gives the command a pty)...
        let o = std::process::Command::new("script")
            .args(["-qec", &format!("{bin} {args}"), "/dev/null"])
            .env("HOME", sb.home())
            .env("RAMPART_AUDIT_DIR", sb.audit())
            .current_dir(sb.work())
            .output()
            .expect("script(1) from util-linux");
        assert_ok(&o);
        assert!(
            stdout(&o).contains(&format!("{label} [")),
            "{label}: {}",
            stdout(&o)
        );
        let _ = std::fs::remove_file(&out);
        // ...and not in a pipe.
        let o = sb.rampart().args(args.split(' ')).output().unwrap();
        assert_ok(&o);
        assert!(
            !stderr(&o).contains(&format!("{label} [")),
            "{}",
            stderr(&o)
        );
        assert!(
            !stdout(&o).contains(&format!("{label} [")),
            "{}",
            stdout(&o)
        );
        let _ = std::fs::remove_file(&out);
    }
}

#[test]
fn a_command_whose_reader_went_away_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let sb = Sandbox::new();
    assert_ok(&sb.run(&["true"]));
    for args in [
        &["policy", "show", "standard"][..],
        &["policy", "list"],
        &["audit", "stats"],
        &["doctor"],
        &["explain", "--tool", "read", "--", "/etc/shadow"],
        &["completions", "bash"],
    ] {
        // Its stdout is a pipe nobody reads any more.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = sb.rampart().args(args).stdout(writer).output().unwrap();
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
        assert_eq!(
            o.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?}",
            o.status
        );
    }
}

#[test]
fn a_command_that_cannot_start_exits_as_a_shell_says() {
    let sb = Sandbox::new();
    let not_exec = sb.work().join("not-executable");
    std::fs::write(&not_exec, "x").unwrap();
    for backend in ["preload", "trace"] {
        let o = sb.run_backend(backend, &["no-such-command-here"]);
        assert_eq!(o.status.code(), Some(127), "{backend}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("no-such-command-here: command not found"),
            "{}",
            stderr(&o)
        );
    }
    let o = sb.run_backend("preload", &[not_exec.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));
}
