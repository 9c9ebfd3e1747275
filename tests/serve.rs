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
    stop_serve(&sb);
    let r = sb.records();
    assert!(
        !r.iter().any(|x| x["request"]["path"] == "/etc/hostname"),
        "a call from uid 65534 reached the trail: {r:#?}"
    );
}
