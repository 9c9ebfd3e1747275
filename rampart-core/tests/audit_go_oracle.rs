//! Go agrees: a trail with tricky content, written by [`Chain`], re-hashed by
//! Go's own encoding/json (tests/go-oracle) gives the identical hashes and
//! the identical bytes.
//!
//! Needs `go` (Debian: `apt-get install golang-go`); without it the test
//! fails when `CI` is set and prints `SKIPPED` otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use rampart_core::audit::{Chain, ChainOptions, Host, Reader, Record, RecordDecision};
use serde_json::{json, Map, Value};

fn go_minor_version() -> Option<u32> {
    let output = Command::new("go")
        .args(["env", "GOVERSION"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    // "go1.22.3" -> 22
    version
        .strip_prefix("go1.")?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

fn decision(action: &str, policies: &[&str], message: &str) -> RecordDecision {
    RecordDecision {
        action: action.into(),
        matched_policies: policies.iter().map(|p| p.to_string()).collect(),
        evaluation_time_us: 17,
        message: message.into(),
    }
}

/// Records whose canonical JSON exercises every rule Go's encoding/json has.
fn tricky_records(go_escapes_b_and_f: bool) -> Vec<Record> {
    let mut records = vec![
        Record::new(
            "agent <&> \"quoted\" \\ back",
            "sess\u{2028}line\u{2029}para",
            "exec",
            object(json!({
                "command": "echo '<script>' && cat a>b",
                "argv": ["echo", "<script>", "&&", "a>b"],
                "pid": 4242,
                "cwd": "/home/dév/项目/🚀",
            })),
            decision("allow", &["allow-echo", "<weird & name>"], "matched <rule>"),
        ),
        Record::new(
            "agent",
            "",
            "read",
            object(json!({
                "floats": [0.1, 1e21, 1e20, 1.5e-7, 1e-6, 123.456, -2.5, 5e-324,
                           1.7976931348623157e308, 0.000001234, 100.0, -0.0],
                "big": [9007199254740993u64, u64::MAX, i64::MIN, -9007199254740993i64],
                "ints": [0, -1, 9007199254740992u64],
            })),
            decision("deny", &[], ""),
        ),
        Record::new(
            "",
            "session",
            "write",
            object(json!({
                "nested": {"zeta": {"b": 1, "a": [null, true, false, {"y": "z", "x": ""}]},
                           "Alpha": 1, "_": 2, "10": 3, "9": 4, "é": 5, "a b": 6},
                "empty_map": {},
                "empty_list": [],
                "path": "/tmp/x",
            })),
            decision("watch", &["p"], "watched"),
        ),
        Record::new(
            "agent",
            "session",
            "net",
            Map::new(),
            decision("ask", &[], "needs approval"),
        ),
        Record::new(
            "control",
            "chars",
            "exec",
            object(json!({
                "controls": "nul\u{0}soh\u{1}tab\tnl\nret\rdel\u{7f}esc\u{1b}us\u{1f}",
                "unicode": "\u{2027}\u{202a}\u{feff}\u{10ffff}",
            })),
            decision("allow", &[], ""),
        ),
    ];
    // Timestamps: canonical, non-canonical fraction, offset, no fraction.
    records[0].timestamp = "2026-03-01T12:00:00.100000000Z".into();
    records[1].timestamp = "2026-03-01T17:30:00.000000001+05:30".into();
    records[2].timestamp = "2026-03-01T23:59:59.999999999Z".into();
    records[3].timestamp = "2026-03-02T00:00:00Z".into();
    // Host with empty parts: filled from this machine, as Go does.
    records[3].host = Some(Host {
        hostname: "build-<1>&".into(),
        os: String::new(),
        arch: String::new(),
    });
    if go_escapes_b_and_f {
        records.push(Record::new(
            "backspace\u{8}formfeed\u{c}",
            "s",
            "exec",
            object(json!({"b": "\u{8}", "f": "\u{c}"})),
            decision("allow", &[], ""),
        ));
    }
    records
}

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/go-oracle")
}

#[test]
fn go_computes_the_same_hashes_and_bytes() {
    let Some(minor) = go_minor_version() else {
        rampart_e2e::skip("go is not installed (apt-get install golang-go)");
        return;
    };
    // Go 1.22 began writing \b and \f as short escapes; this crate writes
    // what current Go (and so Go Rampart) writes.
    let go_escapes_b_and_f = minor >= 22;
    if !go_escapes_b_and_f {
        println!(
            "note: go1.{minor} predates Go 1.22's \\b and \\f escapes; \
             those two characters are left out of the oracle run"
        );
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let options = ChainOptions {
        rotate_bytes: 2048,
        ..ChainOptions::default()
    };
    let mut chain = Chain::open_with(&dir, options).unwrap();
    let mut written = Vec::new();
    for round in 0..6 {
        let mut batch = tricky_records(go_escapes_b_and_f);
        for record in &mut batch {
            record.request.insert("round".into(), json!(round));
        }
        chain.append(&mut batch).unwrap();
        written.extend(batch);
    }
    drop(chain);
    let files = Reader::open(std::slice::from_ref(&dir))
        .unwrap()
        .files()
        .to_vec();
    assert!(files.len() >= 3, "the trail rotates: {files:?}");

    let binary = rampart_e2e::build::go(&oracle_dir(), &tmp.path().join("go-oracle"), false, "");
    let run = Command::new(&binary).args(&files).output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "Go disagrees:\n{stderr}");
    assert!(!stderr.contains("torn"), "{stderr}");

    let go_hashes: Vec<String> = String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|line| line.split('\t').next().unwrap().to_string())
        .collect();
    let our_hashes: Vec<String> = written.iter().map(|r| r.hash.clone()).collect();
    assert_eq!(go_hashes.len(), written.len());
    assert_eq!(go_hashes, our_hashes);
}
