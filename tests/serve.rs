//! `rampart serve`, `status`, `env` and `serve stop`, end to end: a real
//! daemon in a private home, real programs reporting to it.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use rampart_e2e::*;

fn serve_socket(sb: &Sandbox) -> std::path::PathBuf {
    sb.home().join(".rampart/run/rampart.sock")
}

fn cli(sb: &Sandbox) -> Command {
    sb.rampart()
}

fn start_serve(sb: &Sandbox, extra: &[&str]) {
    let o = cli(sb)
        .args(["serve", "--background"])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "serve --background: {}", stderr(&o));
    assert!(stdout(&o).contains("listening on"), "{}", stdout(&o));
}

fn stop_serve(sb: &Sandbox) {
    let o = cli(sb).args(["serve", "stop"]).output().unwrap();
    assert!(
        o.status.success(),
        "serve stop: {} {}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn runs_report_to_a_running_serve_and_stop_flushes() {
    let sb = Sandbox::new();
    start_serve(&sb, &[]);
    let sock = serve_socket(&sb);
    let dir_mode = std::fs::metadata(sock.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700, "runtime dir is private");
    let sock_mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(sock_mode, 0o600, "socket is private");

    let st = cli(&sb).arg("status").output().unwrap();
    assert!(st.status.success());
    assert!(stdout(&st).contains("running"), "{}", stdout(&st));

    let input = sb.work().join("in.txt");
    std::fs::write(&input, "x").unwrap();
    let o = cli(&sb)
        .args(["run", "--", "cat", "in.txt"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("reported to rampart serve"),
        "{}",
        stderr(&o)
    );

    // A shell that took `rampart env` is watched too.
    let env = cli(&sb).arg("env").output().unwrap();
    assert!(env.status.success(), "{}", stderr(&env));
    let script = format!("{}\nexec head -c1 in.txt", stdout(&env));
    let o = Command::new("bash")
        .args(["-c", &script])
        .current_dir(sb.work())
        .env("HOME", sb.home())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    stop_serve(&sb);
    assert!(!sock.exists(), "serve stop removes the socket");
    let r = sb.records();
    let reads: Vec<_> = of_tool(&r, "read")
        .into_iter()
        .filter(|x| x["request"]["path"] == input.to_str().unwrap())
        .collect();
    assert!(reads.iter().any(|x| x["agent"] == "cat"), "{reads:#?}");
    assert!(
        reads.iter().any(|x| x["request"]["exe"]
            .as_str()
            .is_some_and(|e| e.ends_with("/head"))),
        "{reads:#?}"
    );
    let v = cli(&sb).args(["audit", "verify"]).output().unwrap();
    assert!(v.status.success(), "{}", stdout(&v));
}

#[test]
fn a_stale_socket_from_a_killed_serve_is_replaced() {
    let sb = Sandbox::new();
    start_serve(&sb, &[]);
    let sock = serve_socket(&sb);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sock.with_extension("json")).unwrap())
            .unwrap();
    let pid = state["pid"].as_i64().unwrap() as i32;
    // SAFETY: plain kill(2) of the serve this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while unsafe { libc::kill(pid, 0) } == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sock.exists(), "SIGKILL leaves the socket behind");
    let st = cli(&sb).arg("status").output().unwrap();
    assert!(
        !st.status.success(),
        "a stale socket is not a running serve"
    );
    start_serve(&sb, &[]);
    stop_serve(&sb);
}

#[test]
fn a_second_serve_on_the_same_socket_is_refused() {
    let sb = Sandbox::new();
    start_serve(&sb, &[]);
    let o = cli(&sb).args(["serve"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already listening"), "{}", stderr(&o));
    stop_serve(&sb);
}

#[test]
fn connections_from_another_uid_are_refused() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to act as another uid");
        return;
    }
    let sb = Sandbox::new();
    start_serve(&sb, &[]);
    let sock = serve_socket(&sb);
    // Open the way for uid 65534 on purpose, so that only the collector's
    // own peer check stands between it and the trail.
    for d in [
        sb.dir.path(),
        &sb.home(),
        &sb.home().join(".rampart"),
        sock.parent().unwrap(),
    ] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let lib = rampart().parent().unwrap().join("librampart_preload.so");
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "cat",
            "/etc/hostname",
        ])
        .env("LD_PRELOAD", &lib)
        .env("RAMPART_SOCKET", &sock)
        .output()
        .unwrap();
    assert!(o.status.success(), "the program runs on: {}", stderr(&o));
    // The program did reach the collector, which turned it away.
    wait_for_log(&sb, "refused a connection from uid 65534", 1);
    stop_serve(&sb);
    let r = sb.records();
    assert!(
        !r.iter().any(|x| x["request"]["path"] == "/etc/hostname"),
        "a call from uid 65534 reached the trail: {r:#?}"
    );
}

fn serve_log(sb: &Sandbox) -> String {
    std::fs::read_to_string(serve_socket(sb).with_extension("log")).unwrap_or_default()
}

/// Wait (bounded) until the serve's log holds `n` lines containing `what`.
fn wait_for_log(sb: &Sandbox, what: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while serve_log(sb).matches(what).count() < n {
        assert!(
            Instant::now() < deadline,
            "serve log never said {what:?} {n} times:\n{}",
            serve_log(sb)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The decision recorded for the `n`th read of `path` (waiting, bounded, for
/// the serve to write it).
fn read_decision(sb: &Sandbox, path: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = sb.records();
        let reads: Vec<_> = of_tool(&r, "read")
            .into_iter()
            .filter(|x| x["request"]["path"] == path)
            .collect();
        if reads.len() >= n {
            return reads[n - 1]["decision"]["action"]
                .as_str()
                .unwrap()
                .to_string();
        }
        assert!(
            Instant::now() < deadline,
            "read {n} of {path} never recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `rampart status`'s line about the policy in force, and its reload line.
fn in_force(sb: &Sandbox) -> (String, Option<String>) {
    let o = cli(sb).arg("status").output().unwrap();
    assert!(o.status.success(), "{}", stdout(&o));
    let out = stdout(&o);
    let line = |p: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(p))
            .map(String::from)
    };
    (
        line("in force:").unwrap_or_else(|| panic!("{out}")),
        line("reload:"),
    )
}

fn policy_denying(path: &str) -> String {
    format!(
        "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: guard\n    match:\n      tool: [read]\n    rules:\n      - action: deny\n        when:\n          path_matches: [\"{path}\"]\n        message: guarded\n"
    )
}

#[test]
fn policy_edits_apply_to_the_next_decision_and_broken_edits_keep_protection() {
    let sb = Sandbox::new();
    let secret = sb.work().join("secret.txt");
    let other = sb.work().join("other.txt");
    std::fs::write(&secret, "s").unwrap();
    std::fs::write(&other, "o").unwrap();
    let pdir = sb.path("policies");
    std::fs::create_dir_all(&pdir).unwrap();
    let pfile = pdir.join("guard.yaml");
    std::fs::write(&pfile, policy_denying(secret.to_str().unwrap())).unwrap();
    start_serve(&sb, &["--policy", pdir.to_str().unwrap()]);
    let cat = |p: &std::path::Path| {
        let o = cli(&sb)
            .args(["run", "--quiet", "--", "cat"])
            .arg(p)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let (s, o) = (secret.to_str().unwrap(), other.to_str().unwrap());
    cat(&secret);
    assert_eq!(read_decision(&sb, s, 1), "deny");
    let (first, reload) = in_force(&sb);
    assert!(first.contains("generation 2, 1 policy, loaded "), "{first}");
    assert_eq!(reload, None);

    // A valid edit: now `other` is guarded and `secret` is not.
    std::fs::write(&pfile, policy_denying(other.to_str().unwrap())).unwrap();
    wait_for_log(&sb, "policy reloaded", 1);
    let (second, _) = in_force(&sb);
    assert!(
        second.contains("generation 4, 1 policy, loaded "),
        "status shows the reload: {second}"
    );
    assert_ne!(first, second);
    cat(&secret);
    cat(&other);
    assert_eq!(read_decision(&sb, s, 2), "allow");
    assert_eq!(read_decision(&sb, o, 1), "deny");

    // A broken edit: the previous policy stays in force, the error names the file and line.
    std::fs::write(
        &pfile,
        "version: \"1\"\npolicies:\n  - name: guard\n    bogus_key: 1\n",
    )
    .unwrap();
    wait_for_log(&sb, "policy not reloaded", 1);
    assert!(
        serve_log(&sb).contains("guard.yaml:4"),
        "{}",
        serve_log(&sb)
    );
    assert!(
        !serve_log(&sb).contains('\x1b'),
        "a background serve's log has no colour codes: {}",
        serve_log(&sb)
    );
    let (still, reload) = in_force(&sb);
    assert_eq!(still, second, "the broken edit changed nothing in force");
    let reload = reload.expect("status says the reload failed");
    assert!(
        reload.contains("failed at") && reload.contains("guard.yaml:4"),
        "{reload}"
    );
    cat(&other);
    assert_eq!(read_decision(&sb, o, 2), "deny");

    // Valid again; then SIGHUP reloads too.
    std::fs::write(&pfile, policy_denying(s)).unwrap();
    wait_for_log(&sb, "policy reloaded", 2);
    let (third, reload) = in_force(&sb);
    assert!(third.contains("generation 6, "), "{third}");
    assert_eq!(reload, None, "a good reload clears the error");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(serve_socket(&sb).with_extension("json")).unwrap(),
    )
    .unwrap();
    let reloads = serve_log(&sb).matches("policy reloaded").count();
    // SAFETY: plain kill(2) of the serve this test started.
    unsafe { libc::kill(state["pid"].as_i64().unwrap() as i32, libc::SIGHUP) };
    wait_for_log(&sb, "SIGHUP: reloading", 1);
    wait_for_log(&sb, "policy reloaded", reloads + 1);
    cat(&secret);
    assert_eq!(read_decision(&sb, s, 3), "deny");
    stop_serve(&sb);
    let v = cli(&sb).args(["audit", "verify"]).output().unwrap();
    assert!(v.status.success(), "{}", stdout(&v));
}

#[test]
fn two_concurrent_runs_share_one_valid_chain() {
    let sb = Sandbox::new();
    let f = sb.work().join("f.txt");
    std::fs::write(&f, "x").unwrap();
    start_serve(&sb, &[]);
    let spawn = || {
        cli(&sb)
            .args([
                "run",
                "--quiet",
                "--",
                "sh",
                "-c",
                "for i in $(seq 100); do cat f.txt >/dev/null; done",
            ])
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    stop_serve(&sb);
    let r = sb.records();
    let n = of_tool(&r, "read")
        .iter()
        .filter(|x| x["request"]["path"] == f.to_str().unwrap())
        .count();
    assert_eq!(n, 200);
    let v = cli(&sb).args(["audit", "verify"]).output().unwrap();
    assert!(v.status.success(), "{}", stdout(&v));
}

/// A run that reports to an enforcing serve starts under the filter of
/// unhooked calls too: an inline `openat` of the guarded file (no hook of
/// libc sees it) is refused and the serve records the denial; an inline
/// read of another file works and is recorded.
#[test]
fn calls_no_hook_sees_are_decided_by_an_enforcing_serve() {
    let sb = Sandbox::new();
    let secret = sb.work().join("secret.txt");
    let other = sb.work().join("other.txt");
    std::fs::write(&secret, "s3cret").unwrap();
    std::fs::write(&other, "other").unwrap();
    let pdir = sb.path("policies");
    std::fs::create_dir_all(&pdir).unwrap();
    std::fs::write(
        pdir.join("guard.yaml"),
        policy_denying(secret.to_str().unwrap()),
    )
    .unwrap();
    start_serve(
        &sb,
        &["--mode", "enforce", "--policy", pdir.to_str().unwrap()],
    );
    let probe = sb.probe("inline", &[]);
    let (s, o) = (secret.to_str().unwrap(), other.to_str().unwrap());
    let out = cli(&sb)
        .args(["run", "--quiet", "--"])
        .arg(&probe)
        .args(["read", s, "read", o])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        format!("read {s}: refused {}\nread {o}: leaked\n", libc::EACCES),
        "{}",
        stderr(&out)
    );
    assert_eq!(read_decision(&sb, s, 1), "deny");
    assert_eq!(read_decision(&sb, o, 1), "allow");
    stop_serve(&sb);
    let unhooked = sb
        .records()
        .into_iter()
        .filter(|r| r["request"]["source"] == "unhooked" && r["request"]["path"] == s)
        .count();
    assert_eq!(unhooked, 1);
}
