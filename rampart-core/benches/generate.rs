//! `rampart init --from-audit` over synthetic trails: JSONL lines read from
//! a file, parsed into observations, generalised into a policy (with the
//! replay and the probe), with the hash chain checked on the way, through
//! the same `generate::trail::learn` the CLI calls. Goal: 1,000,000
//! records, chain verified, in ≤ 2 s and ≤ 100 MiB.
//!
//! First a one-shot run over 1,000,000 records prints the wall time and the
//! peak resident memory of that run (VmHWM, reset before it); then
//! criterion measures 100,000 records.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use rampart_core::audit::record::chain_hash;
use rampart_core::generate::{trail, Observation, Options};

const HOME: &str = "/home/bench";
const PROJECT: &str = "/home/bench/src/app";

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One audit record line as the collector writes it.
fn record(rng: &mut Rng, i: u64, prev_hash: &str) -> String {
    let session = format!("01JSESSION{:04}", i / 50_000);
    let ts = format!(
        "2026-03-01T{:02}:{:02}:{:02}.{:09}Z",
        (i / 3_600_000) % 24,
        (i / 60_000) % 60,
        (i / 1000) % 60,
        i % 1_000_000_000
    );
    let roll = rng.below(100);
    let action = if rng.below(100) < 3 { "deny" } else { "allow" };
    let (tool, request) = if roll < 40 {
        let path = match rng.below(10) {
            0..=2 => format!(
                "/usr/lib/x86_64-linux-gnu/lib{}.so.{}",
                rng.below(200),
                rng.below(5)
            ),
            3 => format!("/usr/lib/python3.12/m{}.py", rng.below(500)),
            4 => format!("/proc/{}/status", 1000 + rng.below(30_000)),
            5 => format!("{PROJECT}/node_modules/p{}/index.js", rng.below(3000)),
            _ => format!("{PROJECT}/src/d{}/f{}.ts", rng.below(40), rng.below(50)),
        };
        let outcome = if rng.below(100) < 5 { "ENOENT" } else { "ok" };
        (
            "read",
            format!(
                r#"{{"cwd":"{PROJECT}","exe":"/usr/bin/node","flags":524288,"outcome":"{outcome}","path":"{path}","pid":4242,"ppid":4241,"source":"preload"}}"#
            ),
        )
    } else if roll < 60 {
        let path = match rng.below(10) {
            0..=5 => format!("{PROJECT}/dist/c{}/o{}.js", rng.below(20), rng.below(25)),
            6 | 7 => format!(
                "/tmp/tmp{:x}/chunk{}",
                rng.next() & 0xffff_ffff,
                rng.below(4)
            ),
            8 => format!("{HOME}/.cache/app/{:016x}", rng.next()),
            _ => "/dev/null".to_string(),
        };
        (
            "write",
            format!(
                r#"{{"cwd":"{PROJECT}","exe":"/usr/bin/node","flags":577,"outcome":"ok","path":"{path}","pid":4242,"ppid":4241,"source":"preload"}}"#
            ),
        )
    } else if roll < 85 {
        let argv: Vec<String> = match rng.below(8) {
            0 => vec!["git".into(), "status".into()],
            1 => vec!["git".into(), "log".into(), format!("-{}", rng.below(20))],
            2 => vec![
                "npm".into(),
                "run".into(),
                ["test", "build", "lint"][rng.below(3) as usize].into(),
            ],
            3 => vec![
                "node".into(),
                format!("scripts/s{}.js", rng.below(30)),
                "--pid".into(),
                format!("{}", 1000 + rng.below(9000)),
            ],
            4 => vec![
                "cat".into(),
                format!("src/d{}/f{}.ts", rng.below(40), rng.below(50)),
            ],
            5 => vec![
                "rm".into(),
                "-f".into(),
                format!("/tmp/lock{}", rng.below(100)),
            ],
            6 => vec![
                "python3".into(),
                "-m".into(),
                "pytest".into(),
                format!("tests/t{}.py", rng.below(200)),
            ],
            _ => vec![
                "grep".into(),
                "-rn".into(),
                format!("sym{}", rng.below(5000)),
                "src".into(),
            ],
        };
        let command = argv.join(" ");
        let argv_json: Vec<String> = argv.iter().map(|a| format!("\"{a}\"")).collect();
        (
            "exec",
            format!(
                r#"{{"argv":[{}],"command":"{command}","cwd":"{PROJECT}","exe":"/bin/sh","outcome":"ok","path":"/usr/bin/{}","pid":4243,"ppid":4242,"source":"preload"}}"#,
                argv_json.join(","),
                argv[0]
            ),
        )
    } else {
        let (domain, port) = match rng.below(6) {
            0 => ("localhost".to_string(), 5432),
            1 => (format!("s{}.cdn.example.net", rng.below(40)), 443),
            _ => (
                [
                    "registry.npmjs.org",
                    "api.github.com",
                    "pypi.org",
                    "files.pythonhosted.org",
                ][rng.below(4) as usize]
                    .to_string(),
                443,
            ),
        };
        (
            "net",
            format!(
                r#"{{"address":"10.0.0.1","cwd":"{PROJECT}","domain":"{domain}","exe":"/usr/bin/node","outcome":"in_progress","pid":4242,"port":{port},"ppid":4241,"source":"preload","url":"tcp://{domain}:{port}"}}"#
            ),
        )
    };
    format!(
        r#"{{"schema_version":"rampart.audit.v1","id":"01J{i:023}","timestamp":"{ts}","agent":"bench-agent","session":"{session}","tool":"{tool}","request":{request},"decision":{{"action":"{action}","evaluation_time_us":2}},"prev_hash":"{prev_hash}","hash":""}}"#
    )
}

/// Seals a line written with `"hash":""` after `prev_hash`, as the
/// collector does, so that the trail verifies; returns the hash.
fn seal(line: &mut String, prev_hash: &str) -> String {
    let hash = chain_hash(prev_hash, line.as_bytes());
    line.truncate(line.len() - 2);
    line.push_str(&hash);
    line.push_str("\"}");
    hash
}

fn write_trail(path: &Path, n: u64) {
    let mut w = BufWriter::new(File::create(path).unwrap());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut prev_hash = String::new();
    for i in 0..n {
        let mut line = record(&mut rng, i, &prev_hash);
        prev_hash = seal(&mut line, &prev_hash);
        writeln!(w, "{line}").unwrap();
    }
    w.flush().unwrap();
}

/// What `rampart init --from-audit --dry-run` does: reads the trail with
/// `threads` worker threads, checking the chain as it goes (when `verify`),
/// and generalises it into a policy (with the replay and the probe).
/// Returns the policy's size and the time spent in `finish`.
fn generate_from(path: &Path, threads: usize, verify: bool) -> (usize, Duration) {
    let opts = Options {
        home: Some(HOME.into()),
        name_prefix: "bench".into(),
        ..Options::default()
    };
    let (g, report) = trail::learn(&[path.to_path_buf()], &opts, verify, threads, None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.unreadable_count, 0);
    let start = Instant::now();
    let out = g.finish().unwrap_or_else(|e| panic!("{e}"));
    (out.yaml.len(), start.elapsed())
}

/// Reading and parsing alone, for comparison.
fn parse_only(path: &Path) -> usize {
    let reader = BufReader::with_capacity(1 << 20, File::open(path).unwrap());
    reader
        .lines()
        .filter(|l| Observation::from_json_line(l.as_ref().unwrap()).is_ok())
        .count()
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User and system CPU time of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn one_million() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trail.jsonl");
    let n: u64 = std::env::var("RAMPART_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    write_trail(&path, n);
    let size = std::fs::metadata(&path).unwrap().len();
    // Reset the peak-RSS mark so that it measures this run only.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let thread_counts: Vec<usize> = match std::env::var("RAMPART_BENCH_THREADS") {
        Ok(v) => v.split(',').filter_map(|t| t.parse().ok()).collect(),
        Err(_) => vec![1, 2],
    };
    for threads in thread_counts {
        for verify in [true, false] {
            let _ = std::fs::write("/proc/self/clear_refs", "5");
            let before = status_kib("VmRSS:");
            let cpu_before = cpu_time();
            let start = Instant::now();
            let (yaml_len, finish) = generate_from(&path, threads, verify);
            let wall = start.elapsed();
            let cpu = cpu_time() - cpu_before;
            let peak = status_kib("VmHWM:");
            eprintln!(
                "init --from-audit, {n} records ({} MiB of JSONL), {threads} worker thread{}, chain {}: wall {:.2} s, CPU {:.2} s, of which finish (rules, replay, probe) {:.2} s; peak RSS {} MiB (at start {} MiB); policy {} bytes",
                size >> 20,
                if threads == 1 { "" } else { "s" },
                if verify { "verified" } else { "not verified" },
                wall.as_secs_f64(),
                cpu.as_secs_f64(),
                finish.as_secs_f64(),
                peak >> 10,
                before >> 10,
                yaml_len
            );
        }
    }
    if std::env::var_os("RAMPART_BENCH_SKIP_COMPARE").is_some() {
        return;
    }
    let start = Instant::now();
    parse_only(&path);
    eprintln!(
        "for comparison, reading and parsing every line into an Observation: {:.2} s",
        start.elapsed().as_secs_f64()
    );
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trail.jsonl");
    write_trail(&path, 100_000);
    let mut group = c.benchmark_group("init_from_audit");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("100k_records", |b| {
        b.iter(|| generate_from(&path, 1, true).0)
    });
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    if let Some(out) = std::env::var_os("RAMPART_BENCH_WRITE_TRAIL") {
        write_trail(Path::new(&out), 1_000_000);
        return;
    }
    one_million();
    if std::env::var_os("RAMPART_BENCH_ONESHOT").is_some() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
