//! Throughput of the audit trail. `Chain::append` with batches of 256
//! realistic records (exec, read, write and net calls as the collector
//! produces them) into a real directory, default 100 MiB rotation and
//! grouped background fsync: the collector's goal is 200k records/s. Also
//! reading (`Reader`) and verifying (`verify`) a 100k-record trail, which
//! `init --from-audit` builds on.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rampart_core::audit::{verify, Chain, Reader, Record, RecordDecision};
use serde_json::{json, Map, Value};

const BATCH: usize = 256;

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

fn realistic_record(i: usize) -> Record {
    let pid = 20_000 + (i % 50) as u64;
    let common = |m: &mut Map<String, Value>| {
        m.insert("pid".into(), json!(pid));
        m.insert("ppid".into(), json!(19_999));
        m.insert("exe".into(), json!("/usr/bin/python3.11"));
        m.insert("cwd".into(), json!("/home/dev/projects/agent-workspace"));
        m.insert("source".into(), json!("preload"));
        m.insert("outcome".into(), json!("ok"));
    };
    let (tool, mut request, action) = match i % 8 {
        0 => (
            "exec",
            object(json!({
                "command": format!("git -C /home/dev/projects/agent-workspace log --oneline -n {i}"),
                "argv": ["git", "-C", "/home/dev/projects/agent-workspace", "log", "--oneline", "-n", i.to_string()],
            })),
            "allow",
        ),
        1..=4 => (
            "read",
            object(json!({
                "path": format!("/usr/lib/python3.11/site-packages/pkg_{}/module_{}.py", i % 97, i % 13),
                "flags": 524288,
            })),
            "allow",
        ),
        5 | 6 => (
            "write",
            object(json!({
                "path": format!("/home/dev/projects/agent-workspace/build/out-{}.o", i % 211),
                "flags": 577,
            })),
            "watch",
        ),
        _ => (
            "net",
            object(json!({
                "url": "tcp://api.example.com:443",
                "domain": "api.example.com",
                "address": "93.184.216.34",
                "port": 443,
            })),
            "deny",
        ),
    };
    common(&mut request);
    Record::new(
        "claude-code",
        "repo/main",
        tool,
        request,
        RecordDecision {
            action: action.into(),
            matched_policies: vec!["standard".into()],
            evaluation_time_us: 2,
            message: if action == "deny" {
                "network egress blocked".into()
            } else {
                String::new()
            },
        },
    )
}

fn append_throughput(c: &mut Criterion) {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut chain = Chain::open(tmp.path()).unwrap();
    let template: Vec<Record> = (0..BATCH).map(realistic_record).collect();
    let line_bytes: usize = template
        .iter()
        .map(|r| r.to_canonical_json().len() + 80)
        .sum();
    println!("~{} bytes per record", line_bytes / BATCH);

    let mut group = c.benchmark_group("audit_chain");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("append_batch_256", |b| {
        b.iter_batched_ref(
            || template.clone(),
            |batch| chain.append(black_box(batch)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    chain.sync().unwrap();

    group.finish();
}

fn read_throughput(c: &mut Criterion) {
    const RECORDS: usize = 100_000;
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut chain = Chain::open(tmp.path()).unwrap();
    for start in (0..RECORDS).step_by(BATCH) {
        let mut batch: Vec<Record> = (start..start + BATCH).map(realistic_record).collect();
        chain.append(&mut batch).unwrap();
    }
    drop(chain);
    let dir = vec![tmp.path().to_path_buf()];

    let mut group = c.benchmark_group("audit_reader");
    group.throughput(Throughput::Elements(
        RECORDS.div_ceil(BATCH) as u64 * BATCH as u64,
    ));
    group.sample_size(10);
    group.bench_function("read_100k", |b| {
        b.iter(|| black_box(Reader::open(&dir).unwrap().filter(|r| r.is_ok()).count()))
    });
    group.bench_function("verify_100k", |b| {
        b.iter(|| black_box(verify(&dir).unwrap().records))
    });
    group.finish();
}

criterion_group!(benches, append_throughput, read_throughput);
criterion_main!(benches);
