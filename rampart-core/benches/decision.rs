//! One policy decision against Go Rampart's standard policy (and ours).
//!
//! `cargo bench -p rampart-core --bench decision` runs criterion on each
//! request, then prints the median time of one decision for each, measured
//! over batches (the figure of the design: ≤ 2 µs median).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use criterion::Criterion;
use rampart_core::policy::{Engine, LoadOptions, Request};

fn shared_dir() -> PathBuf {
    match std::env::var_os("RAMPART_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

/// The engine, and how long loading and compiling it took.
fn load(path: PathBuf) -> (Engine, std::time::Duration) {
    let options = LoadOptions {
        home: Some("/home/u".to_string()),
    };
    let start = Instant::now();
    let engine = Engine::load_with(std::slice::from_ref(&path), &options)
        .unwrap_or_else(|e| panic!("{} does not load: {e:?}", path.display()));
    (engine, start.elapsed())
}

/// A 4 KiB compiler command line, as build systems produce.
fn long_command() -> &'static str {
    let mut cmd = String::from("/usr/bin/c++ -std=c++17 -O2 -DNDEBUG");
    let mut i = 0;
    while cmd.len() < 4096 {
        cmd.push_str(&format!(" -I/home/u/project/third_party/lib{i}/include"));
        i += 1;
    }
    cmd.push_str(" -c src/engine.cc -o build/engine.o");
    Box::leak(cmd.into_boxed_str())
}

fn requests() -> Vec<(&'static str, Request<'static>)> {
    let exec = |command| Request {
        tool: "exec",
        agent: "bench",
        session: "bench",
        command: Some(command),
        cwd: Some("/home/u/project"),
        ..Request::default()
    };
    let read = |path| Request {
        tool: "read",
        agent: "bench",
        session: "bench",
        path: Some(path),
        cwd: Some("/home/u/project"),
        ..Request::default()
    };
    vec![
        ("exec git status", exec("git status")),
        ("exec rm -rf /", exec("rm -rf /")),
        ("read ~/.ssh/id_rsa", read("/home/u/.ssh/id_rsa")),
        ("read project/src/main.rs", read("/home/u/project/src/main.rs")),
        (
            "exec long gcc line",
            exec("/usr/bin/gcc -O2 -Wall -I/usr/include -I/home/u/project/include -c src/main.c -o build/main.o"),
        ),
        ("exec 4 KiB c++ line", exec(long_command())),
        (
            "net github.com:443",
            Request {
                tool: "net",
                agent: "bench",
                session: "bench",
                url: Some("tcp://github.com:443"),
                domain: Some("github.com"),
                ..Request::default()
            },
        ),
    ]
}

/// Median nanoseconds of one decision, over 101 batches.
fn median_ns(engine: &Engine, req: &Request) -> f64 {
    const BATCH: u32 = 2000;
    let mut per_call: Vec<f64> = (0..101)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box(engine.evaluate(black_box(req)));
            }
            start.elapsed().as_nanos() as f64 / f64::from(BATCH)
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    per_call[per_call.len() / 2]
}

fn main() {
    let engines = [
        (
            "go-standard",
            load(shared_dir().join("compat/rampart/policies/standard.yaml")),
        ),
        (
            "shipped-standard",
            load(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/standard.yaml")),
        ),
    ];
    // `DECISION_ONLY=policy/request` times that one decision and stops (for
    // profilers and instruction counters).
    if let Ok(only) = std::env::var("DECISION_ONLY") {
        for (policy, (engine, _)) in &engines {
            for (name, req) in requests() {
                if only == format!("{policy}/{name}") {
                    println!("{only}: {:.0} ns", median_ns(engine, &req));
                }
            }
        }
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    for (policy, (engine, _)) in &engines {
        let mut group = criterion.benchmark_group(format!("decision/{policy}"));
        for (name, req) in requests() {
            group.bench_function(name, |b| b.iter(|| engine.evaluate(black_box(&req))));
        }
        group.finish();
    }
    criterion.final_summary();

    for (policy, (engine, took)) in &engines {
        println!(
            "\n{policy}: {} policies loaded and compiled in {:.1} ms",
            engine.policy_count(),
            took.as_secs_f64() * 1e3
        );
    }
    println!("\nmedian time of one decision (101 batches of 2000):");
    for (policy, (engine, _)) in &engines {
        for (name, req) in requests() {
            let d = engine.evaluate(&req);
            println!(
                "  {policy:<17} {name:<26} {:>8.0} ns  -> {}",
                median_ns(engine, &req),
                d.action
            );
        }
    }
}
