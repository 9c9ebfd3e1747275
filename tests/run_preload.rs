//! `rampart run` with the preload backend, end to end: real interpreters and
//! shells do real work under watch, and the trail must show every call with
//! the right tool, command, absolute path or address.

use std::process::Command;

use rampart_e2e::*;

#[test]
fn python_exec_open_and_connect_are_recorded() {
    let sb = Sandbox::new();
    let port = tcp_server();
    let w = sb.work();
    std::fs::write(w.join("input.txt"), "hello\n").unwrap();
    let script = format!(
        r#"
import os, socket, subprocess
subprocess.run(["/bin/echo", "plain"], check=True)
subprocess.run(["/bin/echo", "with env"], env={{"PATH": "/usr/bin:/bin"}}, check=True)
subprocess.run(["/bin/sh", "-c", "/bin/cat input.txt > /dev/null"], env={{}}, check=True)
subprocess.run("echo shell=True > from_shell.txt", shell=True, check=True)
os.system("/bin/true os.system")
pid = os.posix_spawn("/bin/echo", ["echo", "spawned"], os.environ)
os.waitpid(pid, 0)
open("input.txt").read()
with open("output.txt", "w") as f: f.write("x")
socket.create_connection(("127.0.0.1", {port})).close()
socket.create_connection(("localhost", {port})).close()
"#
    );
    let o = sb.run(&["python3", "-c", &script]);
    assert_ok(&o);
    let r = sb.records();
    let wd = w.to_str().unwrap();

    expect_record(&r, "exec", "command", "/bin/echo plain");
    expect_record(&r, "exec", "command", "/bin/echo 'with env'");
    let cmds = field(&r, "exec", "command");
    assert!(
        cmds.iter()
            .any(|c| c.contains("echo shell=True > from_shell.txt")),
        "shell=True runs /bin/sh -c: {cmds:#?}"
    );
    assert!(cmds.iter().any(|c| c == "/bin/true os.system"), "{cmds:#?}");
    assert!(cmds.iter().any(|c| c == "echo spawned"), "{cmds:#?}");

    expect_record(&r, "read", "path", &format!("{wd}/input.txt"));
    // An explicit, empty env= does not take cat out of watch.
    assert!(
        of_tool(&r, "read")
            .iter()
            .any(|x| x["request"]["path"] == format!("{wd}/input.txt")
                && x["request"]["exe"]
                    .as_str()
                    .is_some_and(|e| e.ends_with("/cat"))),
        "cat's open under env={{}} is missing"
    );
    expect_record(&r, "write", "path", &format!("{wd}/output.txt"));
    // The shell's redirection is the shell's own open, also seen.
    expect_record(&r, "write", "path", &format!("{wd}/from_shell.txt"));

    let by_ip = of_tool(&r, "net")
        .into_iter()
        .find(|n| {
            n["request"]["address"] == "127.0.0.1"
                && n["request"]["port"] == port
                && n["request"]["domain"] == "127.0.0.1"
        })
        .unwrap_or_else(|| panic!("no connect to 127.0.0.1:{port}: {:#?}", of_tool(&r, "net")));
    assert_eq!(by_ip["request"]["url"], format!("tcp://127.0.0.1:{port}"));
    assert_eq!(by_ip["request"]["outcome"], "ok");
    let by_name = of_tool(&r, "net")
        .into_iter()
        .find(|n| n["request"]["domain"] == "localhost" && n["request"]["outcome"] == "ok")
        .unwrap_or_else(|| {
            panic!(
                "no successful connect to localhost: {:#?}",
                of_tool(&r, "net")
            )
        });
    assert_eq!(by_name["request"]["url"], format!("tcp://localhost:{port}"));
    assert_eq!(by_name["request"]["port"], port);
}

#[test]
fn bash_commands_and_redirections_are_recorded() {
    let sb = Sandbox::new();
    let w = sb.work();
    std::fs::write(w.join("in.txt"), "a\nb\n").unwrap();
    let o = sb.run(&[
        "bash",
        "-c",
        "wc -l < in.txt > out.txt; cat out.txt; ls /nonexistent-dir 2>/dev/null; exit 0",
    ]);
    assert_ok(&o);
    assert_eq!(stdout(&o).trim(), "2");
    let r = sb.records();
    let wd = w.to_str().unwrap();
    expect_record(&r, "read", "path", &format!("{wd}/in.txt"));
    expect_record(&r, "write", "path", &format!("{wd}/out.txt"));
    expect_record(&r, "exec", "command", "wc -l");
    expect_record(&r, "exec", "command", "cat out.txt");
    let ls = expect_record(&r, "exec", "command", "ls /nonexistent-dir");
    assert_eq!(
        ls["request"]["outcome"], "ok",
        "ls ran (and failed on its own)"
    );
    // bash itself was started by rampart, not by a watched process.
    assert!(field(&r, "read", "path").contains(&format!("{wd}/out.txt")));
}

#[test]
fn node_child_process_fs_and_net_are_recorded() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("skipped: node is not installed");
        return;
    }
    let sb = Sandbox::new();
    let port = tcp_server();
    let w = sb.work();
    std::fs::write(w.join("data.json"), "{}").unwrap();
    let script = format!(
        r#"
const cp = require('child_process'), fs = require('fs'), net = require('net');
cp.execFileSync('/bin/echo', ['from', 'execFileSync']);
cp.execSync('echo from execSync');
fs.readFileSync('data.json');
fs.writeFileSync('written.txt', 'x');
const s = net.connect({port}, '127.0.0.1', () => {{ s.end(); }});
s.on('close', () => process.exit(0));
"#
    );
    let o = sb.run(&["node", "-e", &script]);
    assert_ok(&o);
    let r = sb.records();
    let wd = w.to_str().unwrap();
    expect_record(&r, "exec", "command", "/bin/echo from execFileSync");
    let cmds = field(&r, "exec", "command");
    assert!(
        cmds.iter().any(|c| c.contains("echo from execSync")),
        "{cmds:#?}"
    );
    expect_record(&r, "read", "path", &format!("{wd}/data.json"));
    expect_record(&r, "write", "path", &format!("{wd}/written.txt"));
    let net = of_tool(&r, "net");
    assert!(
        net.iter()
            .any(|n| n["request"]["address"] == "127.0.0.1" && n["request"]["port"] == port),
        "{net:#?}"
    );
}

#[test]
fn exit_status_output_and_signals_are_the_programs() {
    let sb = Sandbox::new();
    let o = sb.run(&["sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(stdout(&o), "out\n");
    assert_eq!(
        stderr(&o),
        "err\n",
        "rampart --quiet adds nothing to stderr"
    );
    let o = sb.run(&["sh", "-c", "kill -KILL $$"]);
    assert_eq!(o.status.code(), Some(128 + 9));
    let o = sb.run(&["sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.code(), Some(128 + 15));
}

#[test]
fn summary_names_the_trail_and_counts() {
    let sb = Sandbox::new();
    let o = sb
        .rampart()
        .args(["run", "--", "cat", "/etc/hostname"])
        .output()
        .unwrap();
    assert_ok(&o);
    let err = stderr(&o);
    assert!(err.contains("read"), "{err}");
    assert!(err.contains(sb.audit().to_str().unwrap()), "{err}");
}

#[test]
fn a_missing_library_is_an_error_not_an_unwatched_run() {
    let sb = Sandbox::new();
    let o = sb
        .rampart()
        .env("RAMPART_PRELOAD_LIB", "/nonexistent/librampart_preload.so")
        .args(["run", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/librampart_preload.so"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn many_processes_opening_many_files_lose_nothing() {
    let sb = Sandbox::new();
    let probe = sb.probe("open_many", &[]);
    let target = sb.work().join("target.txt");
    std::fs::write(&target, "x").unwrap();
    // 32 concurrent processes x 5,000 opens each.
    let o = sb.run(&[
        probe.to_str().unwrap(),
        "32",
        "5000",
        target.to_str().unwrap(),
    ]);
    assert_ok(&o);
    let r = sb.records();
    let n = of_tool(&r, "read")
        .iter()
        .filter(|x| x["request"]["path"] == target.to_str().unwrap())
        .count();
    assert_eq!(n, 160_000);
    let v = sb.rampart().args(["audit", "verify"]).output().unwrap();
    assert_ok(&v);
}

/// Files glibc opens for itself through internal entry points.
const GLIBC_INTERNAL: &[&str] = &[
    "\"/etc/localtime\"",
    "\"/usr/lib/locale/locale-archive\"",
    "\"/etc/nsswitch.conf\"",
    // NSS lookups (`getpwuid`: bash does one per start when $SHELL is unset).
    "\"/etc/passwd\"",
    "\"/etc/group\"",
    "/gconv/",
];

/// An independent tracer sees nothing the trail misses: every successful
/// exec and open that `strace -f` saw in the tree is in the trail, except
/// the dynamic loader's own opens (the loader cache and shared libraries,
/// opened before any preloaded code runs).
#[test]
fn strace_sees_nothing_the_trail_misses() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: strace is not installed");
        return;
    }
    let sb = Sandbox::new();
    let w = sb.work();
    std::fs::write(w.join("in.txt"), "x\n").unwrap();
    let log = sb.path("strace.log");
    let o = sb
        .rampart()
        .env("LC_ALL", "C")
        .args(["run", "--quiet", "--", "strace", "-f", "-qq", "-e", "trace=execve,open,openat,creat", "-o"])
        .arg(&log)
        .args([
            "sh",
            "-c",
            "cat in.txt > out.txt; head -c1 /etc/hosts >/dev/null; python3 -c 'open(\"in.txt\").read()'",
        ])
        .output()
        .unwrap();
    assert_ok(&o);
    let strace = std::fs::read_to_string(&log).unwrap();
    let r = sb.records();
    let seen: std::collections::HashSet<String> = r
        .iter()
        .filter(|x| x["request"]["outcome"] == "ok")
        .filter_map(|x| x["request"]["path"].as_str().map(str::to_string))
        .collect();
    let wd = w.to_str().unwrap();
    // (pid, path) of every exec and of its `#!` interpreter: the library
    // reads an exec's target (is it static?) and a script's interpreter
    // itself right before the exec; those reads are its own.
    let mut execs: std::collections::HashSet<(String, String)> = strace
        .lines()
        .filter(|l| l.contains("execve(\""))
        .filter_map(|l| {
            let pid = l.split_whitespace().next()?.to_string();
            let path = l.split('"').nth(1)?.to_string();
            Some((pid, path))
        })
        .collect();
    let interpreters: Vec<(String, String)> = execs
        .iter()
        .filter_map(|(pid, path)| {
            let text = std::fs::read(path).ok()?;
            let first = text.split(|b| *b == b'\n').next()?;
            let interp = std::str::from_utf8(first.strip_prefix(b"#!")?).ok()?;
            Some((pid.clone(), interp.split_whitespace().next()?.to_string()))
        })
        .collect();
    execs.extend(interpreters);
    let mut missing = Vec::new();
    let mut checked = 0;
    for line in strace.lines() {
        // Directory listings (opendir) and glibc's own reads of its
        // configuration (time zone, locale archive, NSS) go through
        // glibc-internal opens that no interposer sees (README: what is
        // watched); the trace backend sees them.
        if line.contains("O_DIRECTORY") || GLIBC_INTERNAL.iter().any(|g| line.contains(g)) {
            continue;
        }
        // `PID syscall(args) = result`; only successful calls.
        let Some((call, result)) = line.rsplit_once(" = ") else {
            continue;
        };
        if result.trim_start().starts_with('-') {
            continue;
        }
        let Some(start) = call.find('"') else {
            continue;
        };
        let Some(len) = call[start + 1..].find('"') else {
            continue;
        };
        let mut path = call[start + 1..start + 1 + len].to_string();
        let is_exec = call.contains("execve(");
        if !path.starts_with('/') {
            path = format!("{wd}/{path}");
        }
        // The loader's own opens, and strace's exec of the first program
        // (made by strace before it is traced... by strace itself).
        if !is_exec
            && (path == "/etc/ld.so.cache"
                || path.contains(".so")
                || path.contains("librampart_preload"))
        {
            continue;
        }
        let pid = line.split_whitespace().next().unwrap_or("").to_string();
        if !is_exec && execs.contains(&(pid, path.clone())) {
            continue;
        }
        checked += 1;
        if !seen.contains(&path) {
            missing.push(line.to_string());
        }
    }
    assert!(checked > 10, "strace saw too little to compare:\n{strace}");
    assert!(
        missing.is_empty(),
        "calls strace saw that the trail misses:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_commands_own_exec_is_recorded_and_decided() {
    // No hook sees the exec rampart makes itself: rampart records it (and,
    // enforcing, decides it before it is made), as the trace backend does.
    let sb = Sandbox::new();
    let out = sb.run_backend("preload", &["true", "first"]);
    assert_ok(&out);
    let execs: Vec<_> = sb
        .records()
        .into_iter()
        .filter(|r| r["tool"] == "exec")
        .collect();
    assert_eq!(execs.len(), 1, "{execs:?}");
    let req = &execs[0]["request"];
    assert_eq!(req["path"], "/usr/bin/true");
    assert_eq!(req["argv"], serde_json::json!(["true", "first"]));
    assert_eq!(req["outcome"], "ok");

    let policy = sb.path("no-touch.yaml");
    std::fs::write(
        &policy,
        r#"version: "1"
default_action: allow
policies:
  - name: no-touch
    match:
      tool: exec
    rules:
      - action: deny
        when:
          command_matches: ["touch *"]
"#,
    )
    .unwrap();
    let marker = sb.work().join("marker");
    let out = sb
        .rampart()
        .args([
            "run",
            "--backend",
            "preload",
            "--mode",
            "enforce",
            "--policy",
        ])
        .arg(&policy)
        .args(["--", "touch"])
        .arg(&marker)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(!marker.exists(), "the denied command ran");
    let denied = sb.records().into_iter().any(|r| {
        r["tool"] == "exec"
            && r["decision"]["action"] == "deny"
            && r["request"]["outcome"] == "EPERM"
            && r["request"]["argv"][0] == "touch"
    });
    assert!(denied, "the refusal is not in the trail");
}

/// libc's own opens — `opendir`'s, made through glibc's internal
/// `__open_nocancel`, which no interposed symbol reaches — go through the
/// library's open hook: recorded as calls past the hooks (`source:
/// unhooked`, decided as such) but with the outcome the hook saw, and
/// refused by the library under enforcement. In a process that may not
/// patch code (`PR_SET_MDWE`, as hardened services run), libc is left as it
/// was: the tap records them (in monitor mode without their outcome) and
/// refuses them, and the program runs as it would. The hook runs on a
/// stack of its own: a thread with a 16 KiB stack opens a directory as it
/// would without rampart.
#[test]
fn libcs_own_opens_go_through_the_open_hook_and_to_the_tap_where_libc_stays_as_it_is() {
    let policy_text = r#"version: "1"
default_action: allow
policies:
  - name: shut
    match:
      tool: read
    rules:
      - action: deny
        when:
          path_matches: ["**/shut"]
"#;
    for hardened in [false, true] {
        for mode in ["monitor", "enforce"] {
            let sb = Sandbox::new();
            let calls = sb.probe("calls", &[]);
            let open = sb.work().join("open");
            let shut = sb.work().join("shut");
            std::fs::create_dir(&open).unwrap();
            std::fs::create_dir(&shut).unwrap();
            let policy = sb.path("shut.yaml");
            std::fs::write(&policy, policy_text).unwrap();
            let mut argv = Vec::new();
            if hardened {
                argv.push(sb.probe("no_exec_gain", &[]));
            }
            argv.push(calls);
            let mut cmd = sb.rampart();
            cmd.args(["run", "--quiet", "--backend", "preload", "--mode", mode])
                .arg("--policy")
                .arg(&policy)
                .arg("--")
                .args(&argv)
                .arg("opendir")
                .arg(&open)
                .arg("opendir")
                .arg(&shut)
                .arg("opendir-small")
                .arg(&open);
            let out = cmd.output().unwrap();
            let refused = if mode == "enforce" { "EACCES" } else { "ok" };
            assert_eq!(
                stdout(&out),
                format!(
                    "opendir {o}: ok\nopendir {}: {refused}\nopendir-small {o}: ok\n",
                    shut.display(),
                    o = open.display(),
                ),
                "{hardened} {mode}: {}",
                stderr(&out)
            );
            let records = sb.records();
            let of = |dir: &std::path::Path| {
                records
                    .iter()
                    .find(|r| r["tool"] == "read" && r["request"]["path"] == dir.to_str().unwrap())
                    .unwrap_or_else(|| panic!("{hardened} {mode}: no record of {}", dir.display()))
            };
            let (allowed, denied) = (of(&open), of(&shut));
            for r in [allowed, denied] {
                assert_eq!(r["request"]["source"], "unhooked", "{hardened} {mode}: {r}");
            }
            assert_eq!(allowed["decision"]["action"], "allow", "{r}", r = allowed);
            assert_eq!(denied["decision"]["action"], "deny", "{r}", r = denied);
            if mode == "monitor" {
                // The hook made the open and saw its outcome; the tap lets
                // the kernel make it.
                let seen = if hardened { "unknown" } else { "ok" };
                assert_eq!(allowed["request"]["outcome"], seen, "{hardened}: {allowed}");
            } else {
                assert_eq!(
                    denied["request"]["outcome"], "EACCES",
                    "{hardened}: {denied}"
                );
            }
        }
    }
}
