//! One-pass reading of a trail (`audit::scan`): the same records, the same
//! failure at the same line and the same listed corrupt lines whatever the
//! number of threads, across block boundaries (blocks are 1 MiB); and a
//! policy learned from it is the same bytes whatever the threads.

use std::fs;
use std::path::{Path, PathBuf};

use rampart_core::audit::scan::{scan, LineSink, Link};
use rampart_core::audit::verify;
use rampart_core::generate::{trail, Options};
use serde_json::{json, Map, Value};

mod audit_common;
use audit_common::{write_trail, Call};

/// Reads each line as JSON, as a consumer of the scan would.
struct Json;

impl LineSink for Json {
    fn line<'l>(&mut self, line: &'l str) -> Result<Link<'l>, String> {
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(|s| s.to_string().into())
        };
        Ok(match (s("id"), s("prev_file"), s("chain_continue")) {
            (Some(id), _, _) => Link::Record {
                id,
                prev_hash: s("prev_hash").unwrap_or_default(),
                hash: s("hash").unwrap_or_default(),
            },
            (None, Some(prev_file), Some(chain_continue)) => Link::Header {
                prev_file,
                chain_continue,
            },
            _ => Link::Loose,
        })
    }
}

/// A trail of several MiB in two files (so several blocks per file and a
/// continuation header). Returns the directory and its files.
fn big_trail() -> (tempfile::TempDir, Vec<PathBuf>) {
    let tmp = tempfile::tempdir().unwrap();
    let files = write_trail(tmp.path(), 3 << 20, 12_000, 500, |i| {
        let mut request = Map::new();
        let (tool, key, value) = match i % 3 {
            0 => ("read", "path", format!("/srv/app/src/m{}/f{i}.py", i % 40)),
            1 => ("exec", "command", format!("git log -n {} --oneline", i % 7)),
            _ => ("write", "path", format!("/tmp/tmp.{i:08x}/out.log")),
        };
        request.insert(key.into(), json!(value));
        request.insert("cwd".into(), json!("/srv/app"));
        request.insert("outcome".into(), json!("ok"));
        request.insert("pad".into(), json!("x".repeat(200 + i % 150)));
        Call {
            agent: "agent".into(),
            session: format!("s{}", i / 4000),
            tool,
            request,
        }
    });
    assert!(files.len() >= 2, "{files:?}");
    assert!(fs::metadata(&files[0]).unwrap().len() > 2 << 20);
    (tmp, files)
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write(path: &Path, lines: &[String]) {
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// The line (1-based) holding byte `offset` of `path`.
fn line_at(path: &Path, offset: usize) -> usize {
    let text = fs::read(path).unwrap();
    text[..offset].iter().filter(|&&b| b == b'\n').count() + 1
}

fn sinks(n: usize) -> Vec<Json> {
    (0..n).map(|_| Json).collect()
}

#[test]
fn every_record_is_read_and_checked_whatever_the_threads() {
    let (dir, _) = big_trail();
    let paths = [dir.path().to_path_buf()];
    let strict = verify(&paths).unwrap();
    assert_eq!(strict.records, 12_000);
    for threads in [1, 2, 3] {
        let (_, report) = scan(&paths, true, sinks(threads)).unwrap();
        assert_eq!(report.chain, strict, "{threads} threads");
    }
}

#[test]
fn tampering_at_a_block_boundary_is_caught_at_its_line_whatever_the_threads() {
    let (dir, files) = big_trail();
    let paths = [dir.path().to_path_buf()];
    // Blocks are cut near 1.25 MiB and 2.5 MiB (a 1 MiB block plus the
    // last read): the lines around those places and inside the blocks.
    let original = lines(&files[0]);
    let mut cases = Vec::new();
    for offset in [1 << 20, 5 << 18, 2 << 20, 5 << 19] {
        let at = line_at(&files[0], offset);
        for line in [at - 1, at, at + 1] {
            cases.push(("delete", line, line));
            cases.push(("change", line, line));
        }
    }
    for (what, tamper_at, expect_line) in cases {
        let mut tampered = original.clone();
        if what == "delete" {
            tampered.remove(tamper_at - 1);
        } else {
            tampered[tamper_at - 1] = tampered[tamper_at - 1].replacen("/srv/app", "/srv/evil", 1);
        }
        write(&files[0], &tampered);
        for threads in [1, 2, 3] {
            let failure = scan(&paths, true, sinks(threads)).map(|_| ()).unwrap_err();
            assert_eq!(
                (failure.file.clone(), failure.line),
                (files[0].clone(), expect_line as u64),
                "{what} line {tamper_at}, {threads} threads: {failure}"
            );
            assert_eq!(verify(&paths).unwrap_err(), failure, "{what}");
        }
    }
    write(&files[0], &original);
    assert!(verify(&paths).is_ok());
}

#[test]
fn without_verifying_corrupt_lines_are_listed_in_trail_order_whatever_the_threads() {
    let (dir, files) = big_trail();
    let paths = [dir.path().to_path_buf()];
    let mut tampered = lines(&files[0]);
    let total = tampered.len();
    let at = [3, total / 3, total / 2, total - 2];
    for &i in at.iter().rev() {
        tampered.insert(i, "{not json".to_string());
    }
    write(&files[0], &tampered);
    // Inserted lines land at these 1-based numbers.
    let expected: Vec<u64> = at
        .iter()
        .enumerate()
        .map(|(k, &i)| (i + k + 1) as u64)
        .collect();
    for threads in [1, 2, 3] {
        let (_, report) = scan(&paths, false, sinks(threads)).unwrap();
        let got: Vec<u64> = report.unreadable.iter().map(|u| u.at.line).collect();
        assert_eq!(got, expected, "{threads} threads");
        assert!(report.unreadable.iter().all(|u| u.at.file == files[0]));
        assert_eq!(report.unreadable_count, 4);
        assert_eq!(report.chain.records, 12_000);
        // Verifying stops at the first.
        let failure = scan(&paths, true, sinks(threads)).map(|_| ()).unwrap_err();
        assert_eq!(failure.line, expected[0]);
    }
}

#[test]
fn a_torn_last_line_is_reported_and_never_read() {
    let (dir, files) = big_trail();
    let last = files.last().unwrap();
    let mut text = fs::read(last).unwrap();
    let whole = lines(last).len();
    text.extend_from_slice(br#"{"id":"torn","tool":"read""#);
    fs::write(last, &text).unwrap();
    for threads in [1, 2] {
        let (_, report) = scan(&[dir.path().to_path_buf()], true, sinks(threads)).unwrap();
        assert_eq!(report.chain.records, 12_000);
        assert_eq!(report.chain.torn.len(), 1);
        assert_eq!(report.chain.torn[0].file, *last);
        assert_eq!(report.chain.torn[0].line, whole as u64 + 1);
    }
}

#[test]
fn the_learned_policy_is_the_same_bytes_whatever_the_threads() {
    let (dir, _) = big_trail();
    let opts = Options {
        home: Some("/home/u".into()),
        ..Options::default()
    };
    let learn = |threads| {
        let (g, report) =
            trail::learn(&[dir.path().to_path_buf()], &opts, true, threads, None).unwrap();
        assert_eq!(report.chain.records, 12_000);
        let out = g.finish().unwrap();
        (out.yaml, out.summary.to_string())
    };
    let one = learn(1);
    assert!(one.0.contains("git log"), "{}", one.0);
    for threads in [2, 3] {
        assert_eq!(learn(threads), one, "{threads} threads");
    }
}
