//! Shared helpers for the generator's tests: audit records built the way
//! this project's collector and Go Rampart's hooks write them.
#![allow(dead_code)]

use std::path::PathBuf;

use rampart_core::generate::Observation;
use rampart_core::policy::{Action, Engine, LoadOptions, Request};
use serde_json::{json, Map, Value};

pub const HOME: &str = "/home/alice";
pub const PROJECT: &str = "/home/alice/src/shop";

pub fn obs(tool: &str, request: Value, action: &str, ts: &str, session: &str) -> Observation {
    let line = json!({
        "schema_version": "rampart.audit.v1",
        "id": "01J00000000000000000000000",
        "timestamp": ts,
        "agent": "agent-x",
        "session": session,
        "tool": tool,
        "request": request,
        "decision": {"action": action, "evaluation_time_us": 3},
        "prev_hash": "",
        "hash": "sha256:00"
    });
    Observation::from_json_line(&line.to_string())
        .expect("valid record")
        .expect("a record, not a header")
}

fn req(mut m: Map<String, Value>, cwd: &str) -> Value {
    m.insert("pid".into(), 100.into());
    m.insert("ppid".into(), 1.into());
    m.insert("exe".into(), "/usr/bin/python3".into());
    m.insert("cwd".into(), cwd.into());
    m.insert("source".into(), "preload".into());
    if !m.contains_key("outcome") {
        m.insert("outcome".into(), "ok".into());
    }
    Value::Object(m)
}

/// The command as the preload writes it (POSIX shell words).
pub fn command_line(argv: &[&str]) -> String {
    argv.iter()
        .map(|w| {
            if !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b))
            {
                w.to_string()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn exec(argv: &[&str], ts: &str, session: &str) -> Observation {
    let mut m = Map::new();
    m.insert("command".into(), command_line(argv).into());
    m.insert(
        "argv".into(),
        argv.iter()
            .map(|s| Value::from(*s))
            .collect::<Vec<_>>()
            .into(),
    );
    obs("exec", req(m, PROJECT), "allow", ts, session)
}

pub fn open(tool: &str, path: &str, outcome: &str, ts: &str, session: &str) -> Observation {
    let mut m = Map::new();
    m.insert("path".into(), path.into());
    m.insert("flags".into(), if tool == "read" { 0 } else { 577 }.into());
    m.insert("outcome".into(), outcome.into());
    obs(tool, req(m, PROJECT), "allow", ts, session)
}

pub fn connect(domain: &str, port: u16, address: &str, ts: &str, session: &str) -> Observation {
    let mut m = Map::new();
    m.insert("url".into(), format!("tcp://{domain}:{port}").into());
    m.insert("domain".into(), domain.into());
    m.insert("address".into(), address.into());
    m.insert("port".into(), port.into());
    m.insert("outcome".into(), "in_progress".into());
    obs("net", req(m, PROJECT), "allow", ts, session)
}

/// An agent-like workload as `rampart run --mode monitor` records it: git,
/// python reading project files and writing build outputs and temp files, a
/// shell writing a log with a random name, a connection to a local server.
pub fn workload(run: u32) -> Vec<Observation> {
    let s = format!("session-{run}");
    let mut v = Vec::new();
    let mut i = 0u32;
    let mut tick = || {
        i += 1;
        format!("2026-03-0{}T10:{:02}:{:02}.{:09}Z", run, i / 60, i % 60, i)
    };
    v.push(exec(&["git", "status"], &tick(), &s));
    v.push(exec(&["git", "log", "-1", "--format=%H"], &tick(), &s));
    v.push(exec(&["python3", "build.py", "--out", "dist"], &tick(), &s));
    v.push(exec(
        &["sh", "-c", "echo done > /tmp/log-$RANDOM"],
        &tick(),
        &s,
    ));
    for lib in [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/etc/ld.so.cache",
        "/usr/lib/locale/locale-archive",
    ] {
        v.push(open("read", lib, "ok", &tick(), &s));
    }
    v.push(open("read", "/usr/lib/python3.12/os.py", "ok", &tick(), &s));
    v.push(open(
        "read",
        "/usr/lib/python3.12/encodings/__init__.py",
        "ok",
        &tick(),
        &s,
    ));
    for f in [
        ".git/HEAD",
        ".git/index",
        ".git/config",
        ".git/refs/heads/main",
    ] {
        v.push(open("read", &format!("{PROJECT}/{f}"), "ok", &tick(), &s));
    }
    for f in [
        "build.py",
        "src/app.py",
        "src/util.py",
        "src/models.py",
        "src/views.py",
        "README.md",
    ] {
        v.push(open("read", &format!("{PROJECT}/{f}"), "ok", &tick(), &s));
    }
    v.push(open(
        "read",
        &format!("{PROJECT}/missing.cfg"),
        "ENOENT",
        &tick(),
        &s,
    ));
    for f in [
        "dist/app.js",
        "dist/app.css",
        "dist/index.html",
        "dist/img/logo.png",
    ] {
        v.push(open("write", &format!("{PROJECT}/{f}"), "ok", &tick(), &s));
    }
    let tmp = ["tmpab3k9x2q", "tmpcd7m1z0w", "tmpef5p8r4t"][run as usize % 3];
    v.push(open(
        "write",
        &format!("/tmp/{tmp}/stage.json"),
        "ok",
        &tick(),
        &s,
    ));
    v.push(open(
        "write",
        &format!("/tmp/log-{}", 10000 + run * 7919),
        "ok",
        &tick(),
        &s,
    ));
    v.push(open("write", "/dev/null", "ok", &tick(), &s));
    v.push(connect("localhost", 8765, "127.0.0.1", &tick(), &s));
    v.push(connect("api.github.com", 443, "140.82.112.6", &tick(), &s));
    v
}

/// Loads a generated policy with the policy engine, `~` being [`HOME`].
pub fn engine(yaml: &str) -> Engine {
    Engine::from_texts_with(
        &[(PathBuf::from("generated.yaml"), yaml.to_string())],
        &LoadOptions {
            home: Some(HOME.into()),
        },
    )
    .unwrap_or_else(|e| panic!("generated policy does not load: {e:?}\n{yaml}"))
}

/// The engine's verdict on a call: `value` is the command, path or URL;
/// the session works in [`PROJECT`].
pub fn verdict(engine: &Engine, tool: &str, value: &str) -> Action {
    let mut req = Request {
        tool,
        project: Some(PROJECT),
        ..Request::default()
    };
    match tool {
        "exec" => req.command = Some(value),
        "net" | "fetch" if value.contains("://") => req.url = Some(value),
        _ => req.path = Some(value),
    }
    engine.evaluate(&req).action
}

pub fn admits(engine: &Engine, tool: &str, value: &str) -> bool {
    matches!(verdict(engine, tool, value), Action::Allow | Action::Watch)
}
