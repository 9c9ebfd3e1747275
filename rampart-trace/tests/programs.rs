//! Real programs under the tracer: bash, python3, a Go binary, and a
//! comparison with strace on the same command.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use common::*;
use rampart_core::event::{Call, Event, Outcome};

fn available(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn bash_redirect_and_command_are_seen() {
    let dir = tempfile::tempdir().unwrap();
    let out = format!("{}/x", canonical(dir.path()));
    let script = format!("cat /etc/hostname > {out}");
    let (report, events) = trace(&["bash", "-c", &script]);
    assert_eq!(report.status, 0);
    let bash = root_exec(&events);
    assert_eq!(bash.command().unwrap(), format!("bash -c '{script}'"));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read("/etc/hostname").unwrap(),
        "output unchanged"
    );
    let write = opens_of(&events, &out);
    assert_eq!(write.len(), 1);
    assert_eq!(write[0].tool(), "write");
    assert_eq!(write[0].outcome, Outcome::Ok);
    let cat = execs_with_argv(&events, &["cat", "/etc/hostname"]);
    assert_eq!(cat.len(), 1);
    assert!(exec_path(cat[0]).ends_with("/cat"));
    assert_eq!(cat[0].command().unwrap(), "cat /etc/hostname");
    // bash opens the redirect in the child it forked, which then execs cat.
    assert_eq!(write[0].pid, cat[0].pid);
    assert_eq!(cat[0].ppid, bash.pid);
    let read = opens_of(&events, "/etc/hostname");
    assert_eq!(read.len(), 1);
    assert_eq!(
        (read[0].pid, read[0].tool(), read[0].outcome),
        (cat[0].pid, "read", Outcome::Ok)
    );
    assert_eq!(read[0].exe, canonical(exec_path(cat[0])));
}

#[test]
fn python_opens_and_subprocesses_are_seen() {
    if !available("python3") {
        rampart_e2e::skip("python3 is not installed");
        return;
    }
    let code = "open('/etc/hostname').read(); import subprocess; subprocess.run(['/bin/true', 'from-python'])";
    let (report, events) = trace(&["python3", "-c", code]);
    assert_eq!(report.status, 0);
    let read = opens_of(&events, "/etc/hostname");
    assert_eq!(read.len(), 1);
    assert!(
        read[0].exe.contains("python"),
        "read by python: {}",
        read[0].exe
    );
    let child = execs_with_argv(&events, &["/bin/true", "from-python"]);
    assert_eq!(child.len(), 1);
    assert_eq!(child[0].outcome, Outcome::Ok);
    assert!(child[0].exe.contains("python"));
    assert_eq!(
        child[0].ppid, read[0].pid,
        "the exec is by a child of the python that read the file"
    );
}

#[test]
fn a_go_program_is_seen() {
    if !rampart_e2e::build::go_available() {
        return;
    }
    let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-probe");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/probe.go");
    rampart_e2e::build::go(&src, &bin, false, "");
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, events) = trace(&[
        bin.as_os_str(),
        dir.path().as_os_str(),
        addr.to_string().as_ref(),
    ]);
    assert_eq!(report.status, 0);
    let root = root_exec(&events);
    let read = opens_of(&events, "/etc/hostname");
    assert_eq!(read.len(), 1);
    assert_eq!((read[0].pid, read[0].outcome), (root.pid, Outcome::Ok));
    let written = opens_of(&events, &format!("{}/go.txt", canonical(dir.path())));
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].tool(), "write");
    let child = execs_with_argv(&events, &["/bin/true", "from-go"]);
    assert_eq!(child.len(), 1);
    assert_eq!(child[0].outcome, Outcome::Ok);
    assert_eq!(child[0].ppid, root.pid);
    let net: Vec<&Event> = events.iter().filter(|e| e.tool() == "net").collect();
    assert_eq!(net.len(), 1, "{net:?}");
    assert!(matches!(net[0].call, Call::ConnectInet { port, .. } if port == addr.port()));
    assert!(
        net[0].outcome.succeeded(),
        "Go's non-blocking connect: {:?}",
        net[0].outcome
    );
}

/// `(kind, path)` of each exec and open strace printed, from `strace -f -o`.
fn strace_calls(log: &str) -> BTreeMap<(String, String), usize> {
    let mut calls = BTreeMap::new();
    for line in log.lines() {
        let body = line.split_once(' ').map_or(line, |(_, b)| b).trim_start();
        let Some((name, rest)) = body.split_once('(') else {
            continue;
        };
        let kind = match name {
            "execve" | "execveat" => "exec",
            "open" | "openat" | "openat2" | "creat" => "open",
            _ => continue,
        };
        let Some(start) = rest.find('"') else {
            continue;
        };
        let Some(len) = rest[start + 1..].find('"') else {
            continue;
        };
        let path = &rest[start + 1..start + 1 + len];
        *calls
            .entry((kind.to_string(), path.to_string()))
            .or_insert(0) += 1;
    }
    calls
}

#[test]
fn the_trace_sees_everything_strace_sees() {
    if !available("strace") {
        rampart_e2e::skip("strace is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = canonical(dir.path());
    let script = format!("cat /etc/hostname > {d}/x; ls {d} > /dev/null; /bin/true a b");
    let log = dir.path().join("strace.log");
    let st = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-s",
            "4096",
            "-e",
            "trace=execve,execveat,open,openat,openat2,creat",
            "-e",
            "signal=none",
            "-o",
        ])
        .arg(&log)
        .args(["bash", "-c", &script])
        .status()
        .unwrap();
    assert!(st.success());
    let by_strace = strace_calls(&std::fs::read_to_string(&log).unwrap());
    // strace shows the path bash passed to execve for the command itself.
    let (report, events) = trace(&["bash", "-c", &script]);
    assert_eq!(report.status, 0);
    let mut by_trace: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in &events {
        let (kind, path) = match &e.call {
            // strace has one line per execve; the file loaded for another
            // name is ours.
            Call::Exec { via: Some(_), .. } => continue,
            Call::Exec { path, .. } => ("exec", path.clone()),
            Call::Open { path, .. } => ("open", path.clone()),
            _ => continue,
        };
        *by_trace.entry((kind.to_string(), path)).or_insert(0) += 1;
    }
    // The first exec: strace shows bash found through PATH; so do we.
    assert!(
        by_strace.len() > 20,
        "strace saw the loader's and locale opens too: {by_strace:?}"
    );
    assert_eq!(by_trace, by_strace);
}
