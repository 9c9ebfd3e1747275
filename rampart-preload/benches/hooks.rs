//! What one watched call costs: nanoseconds per open, exec, connect and
//! rename, bare and under `rampart run` (the preload library reporting to
//! the real collector, which decides and writes the trail), in monitor and
//! in enforce mode. Two more columns take a call apart: `library` is the
//! library preloaded with no session (what loading it costs an exec: it
//! reports nothing), `hooks-only` a run without the filter of unhooked
//! calls (what the hooks and the collector cost without the tap).
//!
//! A small C program makes N calls of one kind in a loop; each mode runs it
//! with N and with 0 calls, and the cost of a call is the difference of the
//! medians over N, so start-up (the collector's, the library's load) is not
//! counted. Runs are interleaved across modes, so a drift of the machine's
//! speed hits them alike. The whole-workload ratios are
//! `scripts/bench-overhead.sh`'s.
//!
//! Run: `cargo bench -p rampart-preload --bench hooks [-- KINDS]`, with
//! `RAMPART_BENCH_RUNS` (default 7) runs of each.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const PROBE: &str = r#"
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *kind = argv[1];
    long n = atol(argv[2]);
    const char *dir = argv[3];
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    close(open(a, O_CREAT | O_WRONLY, 0600));
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
    to.sin_addr.s_addr = htonl(0x7f000001);
    for (long i = 0; i < n; i++) {
        if (!strcmp(kind, "open")) {
            int fd = open(a, O_RDONLY);
            if (fd < 0) return 1;
            close(fd);
        } else if (!strcmp(kind, "connect")) {
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            if (connect(s, (struct sockaddr *)&to, sizeof to) != 0) return 1;
            close(s);
        } else if (!strcmp(kind, "rename")) {
            if (rename(a, b) != 0 || rename(b, a) != 0) return 1;
        } else if (!strcmp(kind, "exec")) {
            pid_t p = fork();
            if (p == 0) {
                char *args[] = { "/bin/true", NULL };
                execv("/bin/true", args);
                _exit(127);
            }
            int st;
            waitpid(p, &st, 0);
            if (st != 0) return 1;
        }
    }
    return 0;
}
"#;

/// Calls of each kind per run (a rename counts two).
const KINDS: [(&str, u64); 4] = [
    ("open", 20_000),
    ("connect", 5_000),
    ("rename", 5_000),
    ("exec", 300),
];

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/release/deps/hooks-... → target
    exe.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

fn build(target: &Path) -> PathBuf {
    let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "rampart-cli",
            "-p",
            "rampart-preload",
            "--target-dir",
        ])
        .arg(target)
        .status()
        .unwrap();
    assert!(st.success(), "cargo build failed");
    target.join("release/rampart")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    // `cargo test --all-targets` runs this binary too: no benchmarks there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("hooks: skipped (run it with cargo bench)");
        return;
    }
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs: usize = std::env::var("RAMPART_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let rampart = build(&target_dir());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("calls.c");
    std::fs::write(&src, PROBE).unwrap();
    let probe = tmp.path().join("calls");
    let st = Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&probe)
        .arg(&src)
        .status()
        .expect("gcc is needed");
    assert!(st.success());
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let audit = tmp.path().join("audit");
    let allow_all = tmp.path().join("allow.yaml");
    std::fs::write(
        &allow_all,
        "version: \"1\"\ndefault_action: allow\npolicies: []\n",
    )
    .unwrap();
    let rampart = rampart.display().to_string();
    let allow = allow_all.display().to_string();
    let library = format!(
        "LD_PRELOAD={}",
        target_dir().join("release/librampart_preload.so").display()
    );
    let modes: [(&str, Vec<&str>); 5] = [
        ("bare", vec![]),
        ("library", vec!["env", &library]),
        (
            "hooks-only",
            vec![
                &rampart,
                "run",
                "--mode",
                "monitor",
                "--hooks-only",
                "--quiet",
                "--",
            ],
        ),
        (
            "monitor",
            vec![&rampart, "run", "--mode", "monitor", "--quiet", "--"],
        ),
        (
            "enforce",
            vec![
                &rampart, "run", "--mode", "enforce", "--quiet", "--policy", &allow, "--",
            ],
        ),
    ];
    let time = |prefix: &[&str], kind: &str, n: u64| -> f64 {
        let mut argv: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        argv.push(probe.display().to_string());
        argv.extend([kind.to_string(), n.to_string(), work.display().to_string()]);
        let t0 = Instant::now();
        let st = Command::new(&argv[0])
            .args(&argv[1..])
            .env("RAMPART_AUDIT_DIR", &audit)
            // Cargo runs benchmarks with its own library directories in
            // LD_LIBRARY_PATH: each new process's loader would look for its
            // libraries there first, each miss an open (under the filter of
            // unhooked calls, a round trip to the tap), which a user's
            // programs do not make.
            .env_remove("LD_LIBRARY_PATH")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "{argv:?} failed");
        t0.elapsed().as_secs_f64()
    };
    println!(
        "ns per call, medians of {runs} runs (calls of N minus calls of 0, over N); +: over bare"
    );
    print!("{:8} {:>7}", "call", "N");
    for (name, _) in &modes {
        print!(" {name:>10}");
    }
    for (name, _) in &modes[1..] {
        print!(" {:>11}", format!("+{name}"));
    }
    println!();
    for (kind, n) in KINDS {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == kind) {
            continue;
        }
        let calls = if kind == "rename" { 2 * n } else { n };
        let mut per_mode = Vec::new();
        let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![(vec![], vec![]); modes.len()];
        for (_, prefix) in &modes {
            time(prefix, kind, n / 10); // warm the caches
        }
        for _ in 0..runs {
            for (i, (_, prefix)) in modes.iter().enumerate() {
                samples[i].0.push(time(prefix, kind, n));
                samples[i].1.push(time(prefix, kind, 0));
            }
        }
        for (full, empty) in samples {
            per_mode.push((median(full) - median(empty)) / calls as f64 * 1e9);
        }
        print!("{kind:8} {calls:>7}");
        for ns in &per_mode {
            print!(" {ns:>10.0}");
        }
        for ns in &per_mode[1..] {
            print!(" {:>11.0}", ns - per_mode[0]);
        }
        println!();
        let _ = std::fs::remove_dir_all(&audit);
    }
}
