//! The trace backend's cost on the shared workloads, side by side with the
//! bare program and with `strace --seccomp-bpf` in one run (ratios of
//! medians; absolute times are not comparable between runs).
//!
//! `cargo bench -p rampart-trace --bench workloads [-- RUNS]`

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rampart_core::event::Event;
use rampart_trace::{run_report, Options, Sink, Verdict};

struct Counting(u64);

impl Sink for Counting {
    fn decide(&mut self, _: &Event) -> Verdict {
        Verdict::Allow
    }
    fn record(&mut self, event: Event) {
        self.0 += 1;
        std::hint::black_box(event);
    }
}

fn shared() -> PathBuf {
    std::env::var_os("RAMPART_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

fn real_python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[derive(Clone, Copy, Debug)]
enum How {
    Bare,
    Monitor,
    Enforce,
    Strace,
}

fn time_once(argv: &[String], how: How) -> (Duration, u64) {
    let start = Instant::now();
    let mut events = 0;
    match how {
        How::Bare => {
            let st = Command::new(&argv[0])
                .args(&argv[1..])
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(st.code().is_some());
        }
        How::Strace => {
            let st = Command::new("strace")
                .args(["--seccomp-bpf", "-f", "-qq", "-o", "/dev/null", "-e"])
                .arg("trace=execve,execveat,open,openat,openat2,creat,connect")
                .args(argv)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(st.code().is_some());
        }
        How::Monitor | How::Enforce => {
            let opts = Options {
                enforce: matches!(how, How::Enforce),
                ..Options::default()
            };
            let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
            let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
            let mut sink = Counting(0);
            run_report(&argv, &env, &opts, &mut sink).unwrap();
            events = sink.0;
        }
    }
    (start.elapsed(), events)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let w = shared().join("bench/workloads");
    let s = |p: &str| p.to_string();
    let workloads: Vec<(&str, Vec<String>)> = vec![
        (
            "python imports",
            vec![real_python(), w.join("imports.py").to_string_lossy().into()],
        ),
        (
            "gcc build",
            vec![s("bash"), w.join("mixed.sh").to_string_lossy().into()],
        ),
        (
            "500 execs",
            vec![s("bash"), w.join("exec.sh").to_string_lossy().into()],
        ),
        (
            "grep -r /usr/include",
            vec![
                s("grep"),
                s("-r"),
                s("rampart-no-such-string"),
                s("/usr/include"),
            ],
        ),
    ];
    let hows = [How::Bare, How::Monitor, How::Enforce, How::Strace];
    println!("{runs} runs each, interleaved; ratios of medians to the bare run");
    println!(
        "{:<22} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "workload", "bare ms", "monitor", "enforce", "strace", "events"
    );
    for (name, argv) in &workloads {
        // Warm caches (pyc files, page cache) once.
        time_once(argv, How::Bare);
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); hows.len()];
        let mut events = 0;
        for _ in 0..runs {
            for (i, how) in hows.iter().enumerate() {
                let (t, e) = time_once(argv, *how);
                times[i].push(t);
                events = events.max(e);
            }
        }
        let med: Vec<Duration> = times.into_iter().map(median).collect();
        let ratio = |i: usize| med[i].as_secs_f64() / med[0].as_secs_f64();
        println!(
            "{:<22} {:>10.1} {:>8.2}x {:>8.2}x {:>8.2}x {:>8}",
            name,
            med[0].as_secs_f64() * 1000.0,
            ratio(1),
            ratio(2),
            ratio(3),
            events
        );
    }
}
