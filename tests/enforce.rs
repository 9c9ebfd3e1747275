//! `rampart run --mode enforce` with the preload backend, end to end: a
//! policy that denies some calls of each kind (an exec of one program, reads
//! of one file, writes under one directory, a connect to one port, and an
//! `ask` rule); every denied call fails the way programs expect (exec family
//! EPERM, opens and connects EACCES), every other call behaves exactly as
//! without rampart, the trail holds a deny record per denied call, and
//! `rampart run` says so on its own stderr, never on the program's streams.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rampart_e2e::*;
use serde_json::Value;

/// The test policy: allow by default; deny `forbidden-prog`, reads of
/// `secret.txt`, writes under `work/locked/`, connects to `denied_port`;
/// ask (hence deny) for reads of `ask-first.txt`.
fn policy(work: &Path, denied_port: u16) -> String {
    format!(
        r#"version: "1"
default_action: allow
policies:
  - name: no-forbidden-program
    match:
      tool: exec
    rules:
      - action: deny
        when:
          command_matches: ["**/forbidden-prog", "sh -c forbidden-prog"]
        message: "that program is off limits"
  - name: no-secrets
    match:
      tool: read
    rules:
      - action: deny
        when:
          path_matches: ["**/secret.txt"]
        message: "secrets stay secret"
      - action: ask
        when:
          path_matches: ["**/ask-first.txt"]
        message: "needs a human"
  - name: locked-dir
    match:
      tool: write
    rules:
      - action: deny
        when:
          path_matches: ["{work}/locked/**"]
  - name: no-port
    match:
      tool: net
    rules:
      - action: deny
        when:
          url_matches: ["tcp://127.0.0.1:{denied_port}"]
"#,
        work = work.display()
    )
}

struct Fixture {
    sb: Sandbox,
    calls: PathBuf,
    policy: PathBuf,
    open_port: u16,
    denied_port: u16,
}

impl Fixture {
    fn new() -> Fixture {
        let sb = Sandbox::new();
        let w = sb.work();
        std::fs::write(w.join("readme.txt"), "hello\n").unwrap();
        std::fs::write(w.join("secret.txt"), "s3cret\n").unwrap();
        std::fs::write(w.join("ask-first.txt"), "?\n").unwrap();
        std::fs::create_dir(w.join("locked")).unwrap();
        std::fs::copy("/bin/true", w.join("forbidden-prog")).unwrap();
        let calls = sb.probe("calls", &[]);
        let open_port = tcp_server();
        let denied_port = tcp_server();
        let policy = sb.path("policy.yaml");
        std::fs::write(&policy, self::policy(&w, denied_port)).unwrap();
        Fixture {
            sb,
            calls,
            policy,
            open_port,
            denied_port,
        }
    }

    fn w(&self, name: &str) -> String {
        self.sb.work().join(name).to_str().unwrap().to_string()
    }

    /// PATH with the work directory first (for execvp, spawnp, system).
    fn path_var(&self) -> String {
        format!("{}:/usr/bin:/bin", self.sb.work().display())
    }

    /// The probe's operations: allowed and denied calls of every kind.
    fn ops(&self) -> Vec<String> {
        let (open, denied) = (self.open_port.to_string(), self.denied_port.to_string());
        let ops: Vec<(&str, String)> = vec![
            ("open", self.w("readme.txt")),
            ("open", self.w("missing.txt")),
            ("open", self.w("secret.txt")),
            ("fopen", self.w("secret.txt")),
            ("open", self.w("ask-first.txt")),
            ("write", self.w("out.txt")),
            ("write", self.w("locked/f.txt")),
            ("fwrite", self.w("locked/g.txt")),
            ("execve", "/bin/true".into()),
            ("execve", self.w("forbidden-prog")),
            ("execvp", "forbidden-prog".into()),
            ("spawn", "/bin/true".into()),
            ("spawn", self.w("forbidden-prog")),
            ("spawnp", "forbidden-prog".into()),
            ("system", "true".into()),
            ("system", "forbidden-prog".into()),
            ("popen", "echo hi".into()),
            ("popen", "forbidden-prog".into()),
            ("connect", open),
            ("connect", denied),
            // The same calls again: decided from the verdict cache.
            ("open", self.w("secret.txt")),
            ("open", self.w("readme.txt")),
            ("execve", self.w("forbidden-prog")),
            // Last, so that the probe's own command line (which rampart
            // decides before it starts it) does not end in forbidden-prog.
            ("open", self.w("readme.txt")),
        ];
        ops.into_iter()
            .flat_map(|(op, arg)| [op.to_string(), arg])
            .collect()
    }

    fn bare(&self) -> Output {
        Command::new(&self.calls)
            .args(self.ops())
            .env("PATH", self.path_var())
            .current_dir(self.sb.work())
            .output()
            .unwrap()
    }

    fn enforced(&self, extra: &[&str]) -> Output {
        self.sb
            .rampart()
            .args(["run", "--mode", "enforce", "--policy"])
            .arg(&self.policy)
            .args(extra)
            .arg("--")
            .arg(&self.calls)
            .args(self.ops())
            .env("PATH", self.path_var())
            .output()
            .unwrap()
    }
}

/// What the probe prints for each denied call under enforce, and what it
/// printed for that call without rampart.
fn expected_enforced(bare: &str, fx: &Fixture) -> String {
    let denied_open = [
        format!("open {}", fx.w("secret.txt")),
        format!("fopen {}", fx.w("secret.txt")),
        format!("open {}", fx.w("ask-first.txt")),
        format!("write {}", fx.w("locked/f.txt")),
        format!("fwrite {}", fx.w("locked/g.txt")),
        format!("connect {}", fx.denied_port),
    ];
    let mut out = String::new();
    for line in bare.lines() {
        let (call, result) = line.split_once(": ").unwrap();
        let line = if denied_open.iter().any(|d| d == call) {
            assert_eq!(result, "ok", "without rampart {call} succeeds");
            format!("{call}: EACCES")
        } else if call == format!("spawn {}", fx.w("forbidden-prog"))
            || call == "spawnp forbidden-prog"
        {
            format!("{call}: EPERM")
        } else if call == "system forbidden-prog" {
            assert_eq!(result, "status 0");
            format!("{call}: -1 EPERM")
        } else if call == "popen forbidden-prog" {
            format!("{call}: NULL EPERM")
        } else {
            line.to_string()
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The decision and outcome of each record of `tool` on `path`, in order.
fn decided(records: &[Value], tool: &str, path: &Path) -> Vec<(String, String)> {
    of_tool(records, tool)
        .into_iter()
        .filter(|x| x["request"]["path"] == path.to_str().unwrap())
        .map(|x| {
            (
                x["decision"]["action"].as_str().unwrap_or("").to_string(),
                x["request"]["outcome"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn denials(records: &[Value]) -> Vec<&Value> {
    records
        .iter()
        .filter(|r| r["decision"]["action"] == "deny" || r["decision"]["action"] == "ask")
        .collect()
}

#[test]
fn denied_calls_fail_with_the_expected_errno_and_everything_else_is_unchanged() {
    let fx = Fixture::new();
    let bare = fx.bare();
    assert!(bare.status.success(), "bare run: {}", stderr(&bare));
    let bare_out = stdout(&bare);
    // Reset what the bare run wrote, so both runs start alike.
    std::fs::remove_file(fx.sb.work().join("out.txt")).unwrap();
    for f in ["locked/f.txt", "locked/g.txt"] {
        std::fs::remove_file(fx.sb.work().join(f)).unwrap();
    }

    let o = fx.enforced(&[]);
    assert!(o.status.success(), "status {:?}\n{}", o.status, stderr(&o));
    let got = stdout(&o);

    // Execs refused in a forked child print their own line where the bare
    // child ran silently: take those out and check them separately.
    let exec_lines: Vec<&str> = got
        .lines()
        .filter(|l| l.starts_with("execve ") || l.starts_with("execvp "))
        .collect();
    assert_eq!(
        exec_lines,
        [
            format!("execve {}: EPERM", fx.w("forbidden-prog")).as_str(),
            "execvp forbidden-prog: EPERM",
            format!("execve {}: EPERM", fx.w("forbidden-prog")).as_str(),
        ],
        "every exec of forbidden-prog fails with EPERM:\n{got}"
    );
    let rest: String = got
        .lines()
        .filter(|l| !l.starts_with("execve ") && !l.starts_with("execvp "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(rest, expected_enforced(&bare_out, &fx));

    // The program's own streams carry nothing of rampart's.
    assert!(!got.contains("rampart"), "{got}");

    // What was allowed really happened; what was denied did not.
    assert_eq!(
        std::fs::read_to_string(fx.sb.work().join("out.txt")).unwrap(),
        "x"
    );
    assert!(!fx.sb.work().join("locked/f.txt").exists());
    assert!(!fx.sb.work().join("locked/g.txt").exists());

    // One deny record per denied call, with the errno it failed with.
    let r = fx.sb.records();
    let d = denials(&r);
    let by = |tool: &str, key: &str, value: &str| -> Vec<&Value> {
        d.iter()
            .copied()
            .filter(|x| x["tool"] == tool && x["request"][key] == value)
            .collect()
    };
    let secret = fx.w("secret.txt");
    assert_eq!(by("read", "path", &secret).len(), 3, "{d:#?}");
    for x in by("read", "path", &secret) {
        assert_eq!(x["request"]["outcome"], "EACCES");
        assert_eq!(x["decision"]["matched_policies"][0], "no-secrets");
        assert_eq!(x["decision"]["message"], "secrets stay secret");
    }
    let ask = by("read", "path", &fx.w("ask-first.txt"));
    assert_eq!(ask.len(), 1);
    assert_eq!(ask[0]["decision"]["action"], "ask");
    assert_eq!(ask[0]["request"]["outcome"], "EACCES");
    assert_eq!(by("write", "path", &fx.w("locked/f.txt")).len(), 1);
    assert_eq!(by("write", "path", &fx.w("locked/g.txt")).len(), 1);
    let denied_url = format!("tcp://127.0.0.1:{}", fx.denied_port);
    assert_eq!(by("net", "url", &denied_url).len(), 1);
    let execs: Vec<&&Value> = d.iter().filter(|x| x["tool"] == "exec").collect();
    // execve twice, execvp, spawn, spawnp, system, popen.
    assert_eq!(execs.len(), 7, "{execs:#?}");
    for x in &execs {
        assert_eq!(x["request"]["outcome"], "EPERM", "{x}");
        assert!(
            x["request"]["command"]
                .as_str()
                .unwrap()
                .contains("forbidden-prog"),
            "{x}"
        );
    }
    assert_eq!(d.len(), 3 + 1 + 2 + 1 + 7, "{d:#?}");

    // Allowed calls are in the trail as allowed.
    let readme = fx.w("readme.txt");
    let ok_reads: Vec<_> = of_tool(&r, "read")
        .into_iter()
        .filter(|x| x["request"]["path"] == readme.as_str())
        .collect();
    assert_eq!(ok_reads.len(), 3, "one record per call, cached or not");
    assert!(ok_reads.iter().all(|x| x["decision"]["action"] == "allow"));
    let open_url = format!("tcp://127.0.0.1:{}", fx.open_port);
    expect_record(&r, "net", "url", &open_url);
    expect_record(&r, "exec", "command", "/bin/true");

    // rampart run printed each denial on its own stderr, once.
    let err = stderr(&o);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("rampart: denied "))
        .collect();
    assert_eq!(lines.len(), d.len(), "{err}");
    assert!(
        lines.contains(
            &format!("rampart: denied read {secret:?} [no-secrets] secrets stay secret").as_str()
        ),
        "{err}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "rampart: denied exec {:?} [no-forbidden-program] that program is off limits",
            fx.w("forbidden-prog")
        ))),
        "{err}"
    );
    assert!(
        lines.contains(&format!("rampart: denied net {denied_url:?} [no-port]").as_str()),
        "{err}"
    );
}

#[test]
fn quiet_silences_the_denial_lines_but_not_the_denials() {
    let fx = Fixture::new();
    let o = fx.enforced(&["--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("open {}: EACCES", fx.w("secret.txt"))),
        "{}",
        stdout(&o)
    );
    assert_eq!(stderr(&o), "", "--quiet prints nothing of rampart's own");
    assert!(!denials(&fx.sb.records()).is_empty());
}

#[test]
fn python_and_bash_see_refusals_as_permission_errors() {
    let fx = Fixture::new();
    let script = format!(
        r#"
import errno, socket, subprocess
def attempt(what, f):
    try:
        f()
        print(what, "ok")
    except OSError as e:
        print(what, errno.errorcode[e.errno])
attempt("read-secret", lambda: open({secret:?}).read())
attempt("read-readme", lambda: open({readme:?}).read())
attempt("write-locked", lambda: open({locked:?}, "w").write("x"))
attempt("run-forbidden", lambda: subprocess.run([{prog:?}]))
attempt("run-true", lambda: subprocess.run(["/bin/true"], check=True))
attempt("connect-denied", lambda: socket.create_connection(("127.0.0.1", {denied})).close())
attempt("connect-open", lambda: socket.create_connection(("127.0.0.1", {open})).close())
"#,
        secret = fx.w("secret.txt"),
        readme = fx.w("readme.txt"),
        locked = fx.w("locked/p.txt"),
        prog = fx.w("forbidden-prog"),
        denied = fx.denied_port,
        open = fx.open_port,
    );
    let o = fx
        .sb
        .rampart()
        .args(["run", "--mode", "enforce", "--policy"])
        .arg(&fx.policy)
        .args(["--", "python3", "-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "read-secret EACCES\nread-readme ok\nwrite-locked EACCES\nrun-forbidden EPERM\n\
         run-true ok\nconnect-denied EACCES\nconnect-open ok\n"
    );

    let sh = format!(
        "cat {secret}; echo cat=$?; {prog}; echo prog=$?; echo x > {locked}; echo redirect=$?; \
         cat {readme}",
        secret = fx.w("secret.txt"),
        prog = fx.w("forbidden-prog"),
        locked = fx.w("locked/b.txt"),
        readme = fx.w("readme.txt"),
    );
    // A script file: `bash -c` with the script inline would be decided
    // (and refused) whole, as the command rampart starts.
    let script_file = fx.sb.work().join("script.sh");
    std::fs::write(&script_file, &sh).unwrap();
    let o = fx
        .sb
        .rampart()
        .args(["run", "--mode", "enforce", "--quiet", "--policy"])
        .arg(&fx.policy)
        .args(["--", "bash"])
        .arg(&script_file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "cat=1\nprog=126\nredirect=1\nhello\n");
    let err = stderr(&o);
    assert!(err.contains("secret.txt: Permission denied"), "{err}");
    assert!(
        err.contains("forbidden-prog: Operation not permitted"),
        "{err}"
    );
    assert!(err.contains("locked/b.txt: Permission denied"), "{err}");
    assert!(!fx.sb.work().join("locked/b.txt").exists());
}

#[test]
fn a_policy_that_refuses_nothing_lets_everything_through_unasked() {
    // The shipped permissive policy: no call waits for a verdict, every
    // call is still recorded.
    let fx = Fixture::new();
    let permissive = workspace().join("policies/permissive.yaml");
    let o = fx
        .sb
        .rampart()
        .args(["run", "--mode", "enforce", "--quiet", "--policy"])
        .arg(&permissive)
        .arg("--")
        .arg(&fx.calls)
        .args(fx.ops())
        .env("PATH", fx.path_var())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("EACCES") && !stdout(&o).contains("EPERM"));
    let r = fx.sb.records();
    assert!(denials(&r).is_empty());
    let secret = fx.w("secret.txt");
    let reads = of_tool(&r, "read")
        .into_iter()
        .filter(|x| x["request"]["path"] == secret.as_str())
        .count();
    assert_eq!(reads, 3);
}

#[test]
fn a_static_binary_started_under_the_preload_backend_runs_under_the_trace_backend() {
    // The exec hook hands static and Go targets to `rampart __trace-exec`
    // when RAMPART_BIN names the rampart binary.
    let fx = Fixture::new();
    let stat = fx.sb.probe_as("calls", "calls-static", &["-static"]);
    let o = fx
        .sb
        .rampart()
        .args(["run", "--mode", "enforce", "--quiet", "--policy"])
        .arg(&fx.policy)
        .args(["--", "bash", "-c"])
        .arg(format!(
            "{} open {} open {}; echo status=$?",
            stat.display(),
            fx.w("readme.txt"),
            fx.w("secret.txt")
        ))
        .env("RAMPART_BIN", rampart())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "open {}: ok\nopen {}: EACCES\nstatus=0\n",
            fx.w("readme.txt"),
            fx.w("secret.txt")
        )
    );
    let r = fx.sb.records();
    let secret = fx.w("secret.txt");
    let traced: Vec<_> = of_tool(&r, "read")
        .into_iter()
        .filter(|x| x["request"]["path"] == secret.as_str())
        .collect();
    assert_eq!(traced.len(), 1, "{traced:#?}");
    assert_eq!(traced[0]["request"]["source"], "trace");
    assert_eq!(traced[0]["decision"]["action"], "deny");
}

#[test]
fn opens_the_policy_cannot_refuse_wait_for_no_verdict() {
    // The shipped standard policy guards some paths (`.env`, keys, system
    // directories for writes): an open of any other path is not held for a
    // verdict. It runs at once and is recorded after the call with its
    // real outcome, as in monitor mode (a call that waited is recorded
    // before it runs, with outcome `unknown`); a guarded read is refused.
    let sb = Sandbox::new();
    let w = sb.work();
    std::fs::create_dir_all(w.join("src")).unwrap();
    for i in 0..40 {
        std::fs::write(w.join(format!("src/m{i}.rs")), "fn main() {}\n").unwrap();
    }
    std::fs::write(w.join(".env"), "TOKEN=x\n").unwrap();
    let script = "import glob, errno\n\
        n = sum(len(open(p).read()) for p in sorted(glob.glob('src/*.rs')))\n\
        print(n)\n\
        for p in ['.env', 'missing.txt']:\n\
        \x20   try:\n\
        \x20       open(p).read()\n\
        \x20   except OSError as e:\n\
        \x20       print(p, errno.errorcode[e.errno])\n\
        open('out.txt', 'w').write('done')\n";
    let standard = workspace().join("policies/standard.yaml");
    let o = sb
        .rampart()
        .current_dir(&w)
        .args(["run", "--mode", "enforce", "--quiet", "--policy"])
        .arg(&standard)
        .args(["--", "python3", "-c", script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "520\n.env EACCES\nmissing.txt ENOENT\n");
    assert_eq!(std::fs::read_to_string(w.join("out.txt")).unwrap(), "done");
    let r = sb.records();
    let outcome_of = |tool: &str, rel: &str| decided(&r, tool, &w.join(rel));
    let allowed_ok = vec![("allow".to_string(), "ok".to_string())];
    for i in 0..40 {
        assert_eq!(
            outcome_of("read", &format!("src/m{i}.rs")),
            allowed_ok,
            "src/m{i}.rs"
        );
    }
    assert_eq!(outcome_of("write", "out.txt"), allowed_ok);
    assert_eq!(
        outcome_of("read", "missing.txt"),
        vec![("allow".to_string(), "ENOENT".to_string())]
    );
    assert_eq!(
        outcome_of("read", ".env"),
        vec![("deny".to_string(), "EACCES".to_string())]
    );
}

#[test]
fn under_a_learned_policy_opens_in_its_places_wait_for_no_verdict_and_its_refusals_hold() {
    // A learned policy refuses whatever it does not allow, so no literal
    // screen can vouch for a path. The collector publishes the places its
    // allow rules open whole (`/**`, `$PROJECT/out/**`) with the literals
    // of its refusals: an open there that holds none runs at once and is
    // recorded after the call with its outcome; one allowed by a wildcard
    // pattern waits for its verdict (recorded before it runs, `unknown`);
    // the refused files stay refused, in a place or not, by any spelling.
    for backend in ["preload", "trace"] {
        let sb = Sandbox::new();
        let w = sb.work();
        for d in ["src", "sub", "out", "logs"] {
            std::fs::create_dir_all(w.join(d)).unwrap();
        }
        std::fs::write(w.join("src/a.txt"), "a").unwrap();
        std::fs::write(w.join(".env"), "TOKEN=x\n").unwrap();
        std::fs::write(w.join("sub/secret.txt"), "key\n").unwrap();
        let policy = sb.path("learned.yaml");
        // Reads of anything but `.env` and `secret*` files; writes under
        // `$PROJECT/out/` and `/dev/`, and of `$PROJECT/logs/*.log` (a
        // pattern with a wildcard: no place).
        let learned = learned_shape_policy(
            &["**/.env", "**/secret*"],
            &[&["/**"]],
            &[&["$PROJECT/out/**", "/dev/**"], &["$PROJECT/logs/*.log"]],
        );
        std::fs::write(&policy, learned).unwrap();
        let script = "import errno\n\
            def do(what, path, mode):\n\
            \x20   try:\n\
            \x20       with open(path, mode) as f:\n\
            \x20           f.read() if mode == 'r' else f.write('x')\n\
            \x20       print(what, path, 'ok')\n\
            \x20   except OSError as e:\n\
            \x20       print(what, path, errno.errorcode[e.errno])\n\
            do('read', 'src/a.txt', 'r')\n\
            do('read', '.env', 'r')\n\
            do('read', 'sub/secret.txt', 'r')\n\
            do('read', 'src/../.env', 'r')\n\
            do('write', 'out/x.txt', 'w')\n\
            do('write', 'logs/a.log', 'w')\n\
            do('write', 'y.txt', 'w')\n\
            do('write', 'out/.env', 'w')\n";
        let o = sb
            .rampart()
            .current_dir(&w)
            .args([
                "run",
                "--mode",
                "enforce",
                "--quiet",
                "--no-landlock",
                "--policy",
            ])
            .arg(&policy)
            .args(["--", "python3", "-B", "-c", script])
            .output()
            .unwrap();
        assert!(o.status.success(), "{backend}: {}", stderr(&o));
        assert_eq!(
            stdout(&o),
            "read src/a.txt ok\nread .env EACCES\nread sub/secret.txt EACCES\n\
             read src/../.env EACCES\nwrite out/x.txt ok\nwrite logs/a.log ok\n\
             write y.txt EACCES\nwrite out/.env EACCES\n"
        );
        // The refused files are as they were, and nothing was made.
        assert_eq!(
            std::fs::read_to_string(w.join(".env")).unwrap(),
            "TOKEN=x\n"
        );
        assert!(!w.join("y.txt").exists() && !w.join("out/.env").exists());
        let r = sb.records();
        let outcome_of = |tool: &str, rel: &str| decided(&r, tool, &w.join(rel));
        let pair = |a: &str, b: &str| vec![(a.to_string(), b.to_string())];
        // In a place: after the call, with its outcome.
        assert_eq!(outcome_of("read", "src/a.txt"), pair("allow", "ok"));
        assert_eq!(outcome_of("write", "out/x.txt"), pair("allow", "ok"));
        // Allowed by a pattern with a wildcard: decided before it ran.
        assert_eq!(outcome_of("write", "logs/a.log"), pair("allow", "unknown"));
        // Refused, each with its record.
        assert_eq!(
            outcome_of("read", ".env"),
            [pair("deny", "EACCES"), pair("deny", "EACCES")].concat()
        );
        assert_eq!(outcome_of("read", "sub/secret.txt"), pair("deny", "EACCES"));
        assert_eq!(outcome_of("write", "y.txt"), pair("deny", "EACCES"));
        assert_eq!(outcome_of("write", "out/.env"), pair("deny", "EACCES"));
    }
}

#[test]
fn an_open_past_the_hooks_allowed_once_is_not_asked_again_and_still_recorded() {
    // The loader opens `/etc/ld.so.cache` in every new process, before the
    // library is there: the tap decides it. Under a policy with a refusal
    // whose literal it holds, the first of a program's such opens waits for
    // the collector's verdict (recorded before it runs: outcome `unknown`);
    // the same open again is allowed by the tap's memory of that verdict
    // and recorded after the call, with its outcome. Each is in the trail.
    let sb = Sandbox::new();
    let policy = sb.path("p.yaml");
    std::fs::write(
        &policy,
        r#"version: "1"
default_action: allow
policies:
  - name: not-that-one
    match: {tool: [read]}
    rules:
      - action: deny
        when: {path_matches: ["/etc/ld.so.c?chx"]}
"#,
    )
    .unwrap();
    let o = sb
        .rampart()
        .args(["run", "--mode", "enforce", "--quiet", "--policy"])
        .arg(&policy)
        .args(["--", "bash", "-c", "/bin/true; /bin/true; /bin/true"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r = sb.records();
    let outcomes: Vec<&str> = of_tool(&r, "read")
        .into_iter()
        .filter(|x| {
            x["request"]["path"] == "/etc/ld.so.cache"
                && x["request"]["exe"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("/true")
        })
        .map(|x| {
            assert_eq!(x["decision"]["action"], "allow");
            x["request"]["outcome"].as_str().unwrap_or("")
        })
        .collect();
    assert_eq!(outcomes, ["unknown", "ok", "ok"]);
}
