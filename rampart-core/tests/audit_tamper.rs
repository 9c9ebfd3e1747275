//! Tampering with a trail is caught at the right file and line; torn and
//! corrupt lines are reported, never silently dropped.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::Utc;
use rampart_core::audit::{verify, IssueKind, Reader, VerifyFailure};
use serde_json::{json, Map};

mod audit_common;
use audit_common::{write_trail, Call};

/// A trail of 30 records over several files (forced rotation). Returns the
/// directory and its files in chain order.
fn trail() -> (tempfile::TempDir, Vec<PathBuf>) {
    let tmp = tempfile::tempdir().unwrap();
    let files = write_trail(tmp.path(), 4000, 30, 4, |i| {
        let mut request = Map::new();
        request.insert("path".into(), json!(format!("/etc/file-{i}")));
        request.insert("flags".into(), json!(0));
        request.insert("pid".into(), json!(100 + i));
        Call {
            agent: format!("agent-{i}"),
            session: "s".into(),
            tool: "read",
            request,
        }
    });
    assert!(files.len() >= 3, "{files:?}");
    assert_eq!(verify(&[tmp.path().to_path_buf()]).unwrap().records, 30);
    (tmp, files)
}

fn day_file(seq: u32) -> String {
    let day = Utc::now().format("%Y-%m-%d");
    if seq == 0 {
        format!("{day}.jsonl")
    } else {
        format!("{day}.p{seq}.jsonl")
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn failure(dir: &Path) -> VerifyFailure {
    verify(&[dir.to_path_buf()]).expect_err("tampering must be caught")
}

#[test]
fn a_changed_field_is_caught_at_its_line() {
    let (tmp, files) = trail();
    let path = &files[1];
    let mut lines = read_lines(path);
    assert!(lines[2].contains("/etc/file-"));
    lines[2] = lines[2].replacen("/etc/file-", "/etc/shadow-", 1);
    write_lines(path, &lines);
    let failure = failure(tmp.path());
    assert_eq!((&failure.file, failure.line), (path, 3));
    assert!(failure.reason.contains("was changed"), "{failure}");
    assert_eq!(
        failure.to_string(),
        format!("{}:3: {}", path.display(), failure.reason)
    );
}

#[test]
fn a_reformatted_line_is_caught_because_the_hash_covers_its_stored_bytes() {
    let (tmp, files) = trail();
    let path = &files[0];
    let mut lines = read_lines(path);
    lines[1] = lines[1].replace("\"action\":\"allow\"", "\"action\": \"allow\"");
    write_lines(path, &lines);
    let failure = failure(tmp.path());
    assert_eq!((&failure.file, failure.line), (path, 2));
}

#[test]
fn a_deleted_line_is_caught_where_the_chain_breaks() {
    let (tmp, files) = trail();
    let path = &files[0];
    let mut lines = read_lines(path);
    lines.remove(3);
    write_lines(path, &lines);
    let failure = failure(tmp.path());
    assert_eq!((&failure.file, failure.line), (path, 4));
    assert!(
        failure.reason.contains("removed, inserted or reordered"),
        "{failure}"
    );
}

#[test]
fn two_swapped_lines_are_caught_at_the_first() {
    let (tmp, files) = trail();
    let path = &files[1];
    let mut lines = read_lines(path);
    lines.swap(4, 5);
    write_lines(path, &lines);
    let failure = failure(tmp.path());
    assert_eq!((&failure.file, failure.line), (path, 5));
    assert!(failure.reason.contains("prev_hash"), "{failure}");
}

#[test]
fn a_truncated_line_is_caught_as_corrupt() {
    let (tmp, files) = trail();
    let path = &files[2];
    let mut lines = read_lines(path);
    let half = lines[1].len() / 2;
    lines[1].truncate(half);
    write_lines(path, &lines);
    let failure = failure(tmp.path());
    assert_eq!((&failure.file, failure.line), (path, 2));
    assert!(
        failure.reason.contains("not a valid audit record"),
        "{failure}"
    );
}

#[test]
fn a_changed_prev_file_header_is_caught() {
    let (tmp, files) = trail();
    let path = &files[1];
    let mut lines = read_lines(path);
    let real = format!("\"prev_file\":\"{}\"", day_file(0));
    assert!(lines[0].contains(&real), "{}", lines[0]);
    lines[0] = lines[0].replace(&real, "\"prev_file\":\"2020-01-01.jsonl\"");
    write_lines(path, &lines);
    let failure = failure(tmp.path());
    assert_eq!((&failure.file, failure.line), (path, 1));
    assert!(failure.reason.contains("prev_file"), "{failure}");
}

#[test]
fn a_changed_chain_continue_header_is_caught() {
    let (tmp, files) = trail();
    let path = &files[2];
    let mut lines = read_lines(path);
    let start = lines[0].find("sha256:").unwrap() + "sha256:".len();
    let flipped = if &lines[0][start..start + 1] == "0" {
        "1"
    } else {
        "0"
    };
    lines[0].replace_range(start..start + 1, flipped);
    write_lines(path, &lines);
    let failure = failure(tmp.path());
    assert_eq!((&failure.file, failure.line), (path, 1));
}

#[test]
fn a_removed_middle_file_is_caught_at_the_next_header() {
    let (tmp, files) = trail();
    fs::remove_file(&files[1]).unwrap();
    let failure = failure(tmp.path());
    assert_eq!((&failure.file, failure.line), (&files[2], 1));
}

#[test]
fn a_torn_last_line_is_tolerated_and_reported() {
    let (tmp, files) = trail();
    let last = files.last().unwrap();
    let lines = read_lines(last);
    let mut content = fs::read(last).unwrap();
    content.extend_from_slice(&lines[1].as_bytes()[..40]);
    fs::write(last, content).unwrap();

    let report = verify(&[tmp.path().to_path_buf()]).unwrap();
    assert_eq!(report.records, 30);
    assert_eq!(report.torn.len(), 1);
    assert_eq!(report.torn[0].file, *last);
    assert_eq!(report.torn[0].line, lines.len() as u64 + 1);

    let items: Vec<_> = Reader::open(&[tmp.path().to_path_buf()]).unwrap().collect();
    assert_eq!(items.len(), 31);
    let issue = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(issue.kind, IssueKind::Torn);
    assert_eq!(
        (issue.file.clone(), issue.line),
        (last.clone(), lines.len() as u64 + 1)
    );
}

#[test]
fn the_reader_reports_a_corrupt_line_and_reads_on() {
    let (tmp, files) = trail();
    let path = &files[0];
    let mut lines = read_lines(path);
    let total_in_file = lines.len();
    lines[2] = "{\"id\": garbage".to_string();
    write_lines(path, &lines);

    let mut records = 0;
    let mut issues = Vec::new();
    for item in Reader::open(&[tmp.path().to_path_buf()]).unwrap() {
        match item {
            Ok(_) => records += 1,
            Err(issue) => issues.push(issue),
        }
    }
    assert_eq!(records, 29);
    assert_eq!(issues.len(), 1);
    assert_eq!((&issues[0].file, issues[0].line), (path, 3));
    assert!(matches!(&issues[0].kind, IssueKind::Corrupt(why) if why.contains("column")));
    assert!(issues[0]
        .to_string()
        .starts_with(&format!("{}:3: corrupt line", path.display())));
    assert!(total_in_file > 3);
}

#[test]
fn explicit_files_are_verified_in_chain_order_whatever_order_they_come_in() {
    let (_tmp, files) = trail();
    let mut reversed = files.clone();
    reversed.reverse();
    let report = verify(&reversed).unwrap();
    assert_eq!(
        (report.records, report.files, report.chains),
        (30, files.len(), 1)
    );
}

#[test]
fn a_trail_cut_at_its_end_no_longer_verifies() {
    // The last record removed: the chain that is left is a valid prefix,
    // but it no longer reaches the end the writer anchored.
    let (tmp, files) = trail();
    let last = files.last().unwrap();
    let mut lines = read_lines(last);
    lines.pop();
    write_lines(last, &lines);
    let f = failure(tmp.path());
    assert_eq!(f.file, *last, "{f}");
    assert!(f.reason.contains("cut at its end"), "{f}");

    // The whole last file removed.
    let (tmp, files) = trail();
    fs::remove_file(files.last().unwrap()).unwrap();
    let f = failure(tmp.path());
    assert!(f.reason.contains("anchored file is gone"), "{f}");

    // A forged anchor is not a way out: it must name a record where the
    // writer left it.
    let (tmp, files) = trail();
    let last = files.last().unwrap();
    let mut lines = read_lines(last);
    lines.pop();
    write_lines(last, &lines);
    let anchor = tmp.path().join("audit.anchor");
    let text = fs::read_to_string(&anchor).unwrap();
    fs::write(&anchor, text.replace("sha256:", "sha256:0")).unwrap();
    assert!(failure(tmp.path()).reason.contains("cut at its end"));
}

#[test]
fn the_anchor_follows_every_append_and_a_missing_one_is_no_failure() {
    let (tmp, files) = trail();
    let anchor = tmp.path().join("audit.anchor");
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&anchor).unwrap()).unwrap();
    let last = files.last().unwrap();
    assert_eq!(
        v["file"].as_str().unwrap(),
        last.file_name().unwrap().to_str().unwrap()
    );
    assert_eq!(
        v["size"].as_u64().unwrap(),
        fs::metadata(last).unwrap().len()
    );
    let report = verify(&[tmp.path().to_path_buf()]).unwrap();
    assert_eq!(v["last_hash"].as_str().unwrap(), report.last_hash);
    // A trail from before anchors (or from Go Rampart) has none.
    fs::remove_file(&anchor).unwrap();
    assert_eq!(verify(&[tmp.path().to_path_buf()]).unwrap().records, 30);
}
