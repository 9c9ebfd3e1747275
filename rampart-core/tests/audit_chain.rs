//! The chain writer on real files: rotation, day change, reopening, torn
//! tails, several writers in one process and in several processes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use rampart_core::audit::{
    verify, Chain, ChainOptions, Header, IssueKind, Reader, Record, RecordDecision,
};
use serde_json::{json, Map};

fn exec_record(agent: &str, seq: usize) -> Record {
    let mut request = Map::new();
    request.insert("pid".into(), json!(4000 + seq));
    request.insert("ppid".into(), json!(3999));
    request.insert("exe".into(), json!("/usr/bin/git"));
    request.insert("cwd".into(), json!("/home/dev/project"));
    request.insert("source".into(), json!("preload"));
    request.insert("outcome".into(), json!("ok"));
    request.insert(
        "command".into(),
        json!(format!("git log --oneline -n {seq}")),
    );
    request.insert(
        "argv".into(),
        json!(["git", "log", "--oneline", "-n", seq.to_string()]),
    );
    request.insert("seq".into(), json!(seq));
    Record::new(
        agent,
        "session-1",
        "exec",
        request,
        RecordDecision {
            action: "allow".into(),
            matched_policies: vec!["allow-git".into()],
            evaluation_time_us: 3,
            message: String::new(),
        },
    )
}

fn today() -> String {
    Utc::now().format("%Y-%m-%d").to_string()
}

fn names(dir: &Path) -> Vec<String> {
    let reader = Reader::open(&[dir.to_path_buf()]).unwrap();
    reader
        .files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn first_line(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

fn last_record_hash(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let line = text.lines().last().unwrap();
    let record: Record = serde_json::from_str(line).unwrap();
    record.hash
}

#[test]
fn records_across_forced_rotations_verify_and_read_back_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let options = ChainOptions {
        rotate_bytes: 4096,
        ..ChainOptions::default()
    };
    let mut chain = Chain::open_with(&dir, options).unwrap();
    let mut written = Vec::new();
    for start in (0..200).step_by(7) {
        let mut batch: Vec<Record> = (start..(start + 7).min(200))
            .map(|i| exec_record("agent-a", i))
            .collect();
        chain.append(&mut batch).unwrap();
        written.extend(batch);
    }
    chain.sync().unwrap();

    // Directory and files are private.
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let files = names(&dir);
    assert!(files.len() > 5, "expected several rotations, got {files:?}");
    let day = today();
    assert_eq!(files[0], format!("{day}.jsonl"));
    for (n, name) in files.iter().enumerate().skip(1) {
        assert_eq!(name, &format!("{day}.p{n}.jsonl"));
    }
    for (n, name) in files.iter().enumerate() {
        let path = dir.join(name);
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        assert!(meta.len() <= 4096, "{name} is {} bytes", meta.len());
        if n > 0 {
            // Each rotated file opens with the header continuing the chain.
            let header = Header::parse(first_line(&path).as_bytes()).expect("header");
            assert_eq!(header.prev_file, files[n - 1]);
            assert_eq!(
                header.chain_continue,
                last_record_hash(&dir.join(&files[n - 1]))
            );
        }
    }
    assert_eq!(chain.path(), dir.join(files.last().unwrap()));

    let report = verify(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(report.records, 200);
    assert_eq!(report.files, files.len());
    assert_eq!(report.last_hash, written.last().unwrap().hash);
    assert!(report.torn.is_empty());

    let read: Vec<Record> = Reader::open(std::slice::from_ref(&dir))
        .unwrap()
        .map(|item| item.unwrap().1)
        .collect();
    assert_eq!(read, written);
    assert_eq!(written[0].prev_hash, "");
    for pair in written.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
}

#[test]
fn reopening_continues_the_chain_in_the_same_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut first = vec![exec_record("a", 0), exec_record("a", 1)];
    Chain::open(&dir).unwrap().append(&mut first).unwrap();
    let mut chain = Chain::open(&dir).unwrap();
    assert_eq!(chain.last_hash(), first[1].hash);
    let mut second = vec![exec_record("a", 2)];
    chain.append(&mut second).unwrap();
    assert_eq!(second[0].prev_hash, first[1].hash);
    assert_eq!(names(&dir), vec![format!("{}.jsonl", today())]);
    assert_eq!(verify(&[dir]).unwrap().records, 3);
}

#[test]
fn a_new_day_starts_a_new_file_that_continues_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut old = (0..10).map(|i| exec_record("a", i)).collect::<Vec<_>>();
    Chain::open(&dir).unwrap().append(&mut old).unwrap();
    // Yesterday's trail, as a past day's file.
    fs::rename(
        dir.join(format!("{}.jsonl", today())),
        dir.join("2020-01-01.jsonl"),
    )
    .unwrap();

    let mut chain = Chain::open(&dir).unwrap();
    let mut new = (10..15).map(|i| exec_record("a", i)).collect::<Vec<_>>();
    chain.append(&mut new).unwrap();
    let today_file = dir.join(format!("{}.jsonl", today()));
    assert_eq!(chain.path(), today_file);
    let header = Header::parse(first_line(&today_file).as_bytes()).unwrap();
    assert_eq!(header.prev_file, "2020-01-01.jsonl");
    assert_eq!(header.chain_continue, old[9].hash);
    assert_eq!(new[0].prev_hash, old[9].hash);
    let report = verify(&[dir]).unwrap();
    assert_eq!((report.records, report.files), (15, 2));
}

#[test]
fn a_torn_tail_is_left_alone_and_the_chain_continues_in_the_next_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut before = (0..4).map(|i| exec_record("a", i)).collect::<Vec<_>>();
    Chain::open(&dir).unwrap().append(&mut before).unwrap();
    let base = dir.join(format!("{}.jsonl", today()));
    // A writer died in the middle of a line.
    let torn_bytes = br#"{"schema_version":"rampart.audit.v1","id":"01J"#;
    let mut content = fs::read(&base).unwrap();
    content.extend_from_slice(torn_bytes);
    fs::write(&base, &content).unwrap();

    let mut chain = Chain::open(&dir).unwrap();
    let mut after = (4..6).map(|i| exec_record("a", i)).collect::<Vec<_>>();
    chain.append(&mut after).unwrap();
    let p1 = dir.join(format!("{}.p1.jsonl", today()));
    assert_eq!(chain.path(), p1);
    assert!(
        fs::read(&base).unwrap().ends_with(torn_bytes),
        "torn bytes kept"
    );
    assert_eq!(after[0].prev_hash, before[3].hash);

    let report = verify(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(report.records, 6);
    assert_eq!(report.torn.len(), 1);
    assert_eq!(
        (report.torn[0].file.clone(), report.torn[0].line),
        (base.clone(), 5)
    );

    let items: Vec<_> = Reader::open(&[dir]).unwrap().collect();
    assert_eq!(items.len(), 7);
    let issue = items[4].as_ref().unwrap_err();
    assert_eq!(
        (issue.file.clone(), issue.line, issue.kind.clone()),
        (base, 5, IssueKind::Torn)
    );
}

#[test]
fn the_writer_refuses_to_continue_from_a_corrupt_last_line_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut records = (0..3).map(|i| exec_record("a", i)).collect::<Vec<_>>();
    Chain::open(&dir).unwrap().append(&mut records).unwrap();
    let base = dir.join(format!("{}.jsonl", today()));
    let mut content = fs::read_to_string(&base).unwrap();
    content.push_str("{\"not\": \"a record\"}\n");
    fs::write(&base, content).unwrap();

    let err = Chain::open(&dir).err().expect("open must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let message = err.to_string();
    assert!(
        message.contains(&format!("{}:4:", base.display())),
        "{message}"
    );
}

#[test]
fn two_writers_in_one_process_keep_one_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let options = ChainOptions {
        rotate_bytes: 8192,
        sync_interval: Duration::from_millis(1),
    };
    let mut a = Chain::open_with(&dir, options.clone()).unwrap();
    let mut b = Chain::open_with(&dir, options).unwrap();
    let mut all = Vec::new();
    for round in 0..40 {
        let (chain, agent) = if round % 3 == 0 {
            (&mut b, "b")
        } else {
            (&mut a, "a")
        };
        let mut batch: Vec<Record> = (0..(round % 5 + 1))
            .map(|i| exec_record(agent, i))
            .collect();
        chain.append(&mut batch).unwrap();
        all.extend(batch);
    }
    for pair in all.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "the second writer saw the first one's tail"
        );
    }
    let report = verify(&[dir]).unwrap();
    assert_eq!(report.records, all.len() as u64);
    assert_eq!(report.last_hash, all.last().unwrap().hash);
}

#[test]
fn fsync_is_grouped_and_sync_waits_for_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let hourly = ChainOptions {
        sync_interval: Duration::from_secs(3600),
        ..ChainOptions::default()
    };
    let mut chain = Chain::open_with(&dir, hourly).unwrap();
    for i in 0..50 {
        chain.append(&mut [exec_record("a", i)]).unwrap();
    }
    // Written (readable by anyone) but not yet handed to fsync: one per
    // interval, never one per record.
    assert_eq!(verify(std::slice::from_ref(&dir)).unwrap().records, 50);
    assert!(chain.has_unsynced());
    assert!(!chain.sync_if_due().unwrap(), "not due within the interval");
    chain.sync().unwrap();
    assert!(!chain.has_unsynced());

    let eager = ChainOptions {
        sync_interval: Duration::ZERO,
        ..ChainOptions::default()
    };
    let mut chain = Chain::open_with(&dir, eager).unwrap();
    chain.append(&mut [exec_record("a", 50)]).unwrap();
    // append handed the write to the fsync thread itself.
    assert!(!chain.sync_if_due().unwrap());
    chain.sync().unwrap();
    assert!(!chain.has_unsynced());
}

const CHILD_DIR: &str = "RAMPART_AUDIT_TEST_CHILD_DIR";
const CHILD_AGENT: &str = "RAMPART_AUDIT_TEST_CHILD_AGENT";
const CHILD_GO: &str = "RAMPART_AUDIT_TEST_CHILD_GO";
const CHILD_RECORDS: usize = 3000;

/// Runs only as a child of `several_processes_append_to_one_valid_chain`.
#[test]
#[ignore = "child process of several_processes_append_to_one_valid_chain"]
fn child_appender() {
    let dir = PathBuf::from(std::env::var(CHILD_DIR).expect("run by the parent test"));
    let agent = std::env::var(CHILD_AGENT).unwrap();
    let options = ChainOptions {
        rotate_bytes: 64 * 1024,
        ..ChainOptions::default()
    };
    let mut chain = Chain::open_with(&dir, options).unwrap();
    // Start together with the other children.
    let go = PathBuf::from(std::env::var(CHILD_GO).unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !go.exists() {
        assert!(std::time::Instant::now() < deadline, "never told to start");
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut seq = 0;
    let mut size = 1;
    while seq < CHILD_RECORDS {
        let end = (seq + size).min(CHILD_RECORDS);
        let mut batch: Vec<Record> = (seq..end).map(|i| exec_record(&agent, i)).collect();
        chain.append(&mut batch).unwrap();
        seq = end;
        size = size % 37 + 1;
    }
    chain.sync().unwrap();
}

#[test]
fn several_processes_append_to_one_valid_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let exe = std::env::current_exe().unwrap();
    let agents = ["proc-1", "proc-2", "proc-3"];
    let go = tmp.path().join("go");
    let children: Vec<_> = agents
        .iter()
        .map(|agent| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_appender",
                    "--ignored",
                    "--quiet",
                    "--test-threads=1",
                ])
                .env(CHILD_DIR, &dir)
                .env(CHILD_AGENT, agent)
                .env(CHILD_GO, &go)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    fs::write(&go, b"").unwrap();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "child failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let report = verify(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(report.records, (CHILD_RECORDS * agents.len()) as u64);
    assert!(report.files > 1, "rotated under contention");

    // Zero loss, and each process's records in the order it appended them.
    let mut next_seq = std::collections::HashMap::new();
    let mut switches = 0;
    let mut last_agent = String::new();
    for item in Reader::open(&[dir]).unwrap() {
        let (_, record) = item.unwrap();
        let seq = record.request["seq"].as_u64().unwrap() as usize;
        let expected = next_seq.entry(record.agent.clone()).or_insert(0usize);
        assert_eq!(seq, *expected, "{}", record.agent);
        *expected += 1;
        if record.agent != last_agent {
            switches += 1;
            last_agent = record.agent.clone();
        }
    }
    for agent in agents {
        assert_eq!(next_seq[agent], CHILD_RECORDS, "{agent}");
    }
    // The processes really took turns on the chain (three switches would
    // mean they ran one after the other), so tails were re-read.
    println!("writers took turns {switches} times");
    assert!(switches > agents.len(), "{switches}");
}

/// A batch bigger than what is left on the disk: the records that fit are
/// written, whole, and only the rest is reported unwritten (empty hash), so
/// a writer that fell behind and appends a large batch at once loses no
/// more than the disk forces. Needs root (a small tmpfs).
#[test]
fn a_batch_too_big_for_the_disk_writes_the_records_that_fit() {
    if unsafe { libc::geteuid() } != 0 {
        rampart_e2e::skip("mounting a small tmpfs needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let disk = rampart_e2e::SmallDisk::mount(tmp.path().join("disk"), 64);
    let mut chain = Chain::open(&disk.0).unwrap();
    let mut batch: Vec<Record> = (0..1000).map(|i| exec_record("big", i)).collect();
    let err = chain.append(&mut batch).unwrap_err();
    assert!(err.to_string().contains("No space left on device"), "{err}");
    let written = batch.iter().take_while(|r| !r.hash.is_empty()).count();
    assert!(written > 0, "none of the batch was written");
    assert!(
        batch[written..].iter().all(|r| r.hash.is_empty()),
        "the unwritten records are exactly the tail of the batch"
    );
    let report = verify(std::slice::from_ref(&disk.0)).unwrap();
    assert_eq!(report.records, written as u64);
    assert!(report.torn.is_empty(), "{:?}", report.torn);
    assert_eq!(report.last_hash, batch[written - 1].hash);
}
