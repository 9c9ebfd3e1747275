//! A collector that dies or stops answering while the program runs: the
//! program is never hung and never killed by it. In monitor mode it runs on
//! unchanged; in enforce mode `--fail-closed` (the default) denies the calls
//! that follow (those the policy cannot refuse too: nothing would record
//! them) and `--fail-open` lets them through. A collector that stops
//! answering holds up only the calls that wait for a verdict.
//!
//! Each test runs the `calls` probe under `rampart run`, which makes a few
//! calls, creates a `ready` file and waits for a `go` file; the test then
//! kills (SIGKILL) or stops (SIGSTOP) the `rampart run` process, creates
//! `go`, and reads what the program saw after that. An outer timeout only
//! turns a hang into a test failure; nothing here measures time.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rampart_e2e::*;

/// Fail the test rather than hang CI.
const OUTER_TIMEOUT: Duration = Duration::from_secs(120);

/// What `audit verify` says of `n` lost calls.
fn calls_not_in_the_trail(n: u64) -> String {
    match n {
        1 => "1 call is not in the trail".to_string(),
        n => format!("{n} calls are not in the trail"),
    }
}

struct Run {
    rampart: Child,
    out: mpsc::Receiver<String>,
}

/// Start `rampart run ARGS -- calls OPS...` with piped stdout (inherited
/// by the program, so it stays readable after rampart is gone).
fn start(sb: &Sandbox, rampart_args: &[&str], ops: &[String]) -> Run {
    start_probe(sb, &sb.probe("calls", &[]), rampart_args, ops)
}

/// [`start`] with another command than the `calls` probe.
fn start_probe(sb: &Sandbox, calls: &Path, rampart_args: &[&str], ops: &[String]) -> Run {
    let mut rampart = sb
        .rampart()
        .arg("run")
        .args(rampart_args)
        .arg("--")
        .arg(calls)
        .args(ops)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(rampart.stdout.take().unwrap());
    let (tx, out) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Run { rampart, out }
}

fn wait_for(path: &Path) {
    for _ in 0..(OUTER_TIMEOUT.as_millis() / 10) {
        if path.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "{} never appeared: the program did not start",
        path.display()
    );
}

impl Run {
    /// Wait for `ready`, signal rampart, create `go`, and return all the
    /// program printed up to its last line, `done` (a stopped rampart
    /// still holds the pipe open: the end of the output is not awaited).
    fn interrupt(mut self, sb: &Sandbox, signal: i32) -> String {
        wait_for(&sb.work().join("ready"));
        // SAFETY: signalling our own child process.
        assert_eq!(unsafe { libc::kill(self.rampart.id() as i32, signal) }, 0);
        if signal == libc::SIGKILL {
            let _ = self.rampart.wait();
        }
        std::fs::write(sb.work().join("go"), "").unwrap();
        let deadline = Instant::now() + OUTER_TIMEOUT;
        let mut out = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(line) => {
                    out.push_str(&line);
                    out.push('\n');
                    if line == "done" {
                        break;
                    }
                }
                Err(e) => panic!("the program hung after the collector went away ({e}):\n{out}"),
            }
        }
        if signal != libc::SIGKILL {
            let _ = self.rampart.kill();
            let _ = self.rampart.wait();
        }
        out
    }
}

/// The probe's operations: some calls, `ready`, wait for `go`, then the
/// calls that meet the absent collector (a fresh read, a read repeated
/// from before, a write, an exec, a connect), and `done`.
fn ops(sb: &Sandbox, port: u16) -> Vec<String> {
    let w = |n: &str| sb.work().join(n).to_str().unwrap().to_string();
    std::fs::write(sb.work().join("a.txt"), "a").unwrap();
    std::fs::write(sb.work().join("b.txt"), "b").unwrap();
    let ops: Vec<(&str, String)> = vec![
        ("open", w("a.txt")),
        ("write", w("ready")),
        ("wait-for", w("go")),
        ("open", w("b.txt")),
        ("open", w("a.txt")),
        ("write", w("marker")),
        ("spawn", "/bin/true".into()),
        ("connect", port.to_string()),
        ("say", "done".into()),
    ];
    ops.into_iter()
        .flat_map(|(op, arg)| [op.to_string(), arg])
        .collect()
}

/// A policy that guards one path (reads of `never.txt`) and allows
/// everything else: no call of the probe waits for a verdict (its opens
/// pass the path screen, its execs, writes and connects cannot be refused).
fn guarding_policy(sb: &Sandbox) -> std::path::PathBuf {
    let p = sb.path("guarding.yaml");
    std::fs::write(
        &p,
        r#"version: "1"
default_action: allow
policies:
  - name: never
    match:
      tool: read
    rules:
      - action: deny
        when:
          path_matches: ["**/never.txt"]
"#,
    )
    .unwrap();
    p
}

/// A learned policy (what `init --from-audit` writes): deny by default,
/// allow what the probe does. Every call waits for a verdict: its files
/// are allowed by a pattern with a wildcard, which opens no place a path
/// could pass the screen by (`Engine::opened_places`).
fn learned_policy(sb: &Sandbox, port: u16) -> std::path::PathBuf {
    let p = sb.path("learned.yaml");
    let work = sb.work();
    std::fs::write(
        &p,
        format!(
            r#"version: "1"
default_action: deny
policies:
  - name: learned
    rules:
      - action: allow
        when:
          path_matches: ["{work}/*"]
      - action: allow
        when:
          command_matches: ["/bin/true", "{calls} *"]
      - action: allow
        when:
          url_matches: ["tcp://127.0.0.1:{port}"]
"#,
            work = work.display(),
            calls = sb.path("calls").display()
        ),
    )
    .unwrap();
    p
}

/// The lines of what the program saw after `go`.
fn after_go(out: &str, sb: &Sandbox) -> Vec<String> {
    let ready = format!("write {}: ok", sb.work().join("ready").display());
    let at = out
        .lines()
        .position(|l| l == ready)
        .unwrap_or_else(|| panic!("no ready line in {out:?}"));
    out.lines().skip(at + 1).map(str::to_string).collect()
}

fn lines_for(sb: &Sandbox, port: u16, results: [&str; 5]) -> Vec<String> {
    let w = |n: &str| sb.work().join(n).display().to_string();
    vec![
        format!("open {}: {}", w("b.txt"), results[0]),
        format!("open {}: {}", w("a.txt"), results[1]),
        format!("write {}: {}", w("marker"), results[2]),
        format!("spawn /bin/true: {}", results[3]),
        format!("connect {port}: {}", results[4]),
        "done".to_string(),
    ]
}

#[test]
fn monitor_a_killed_collector_neither_hangs_nor_stops_the_program() {
    let sb = Sandbox::new();
    let port = tcp_server();
    let run = start(&sb, &["--mode", "monitor"], &ops(&sb, port));
    let out = run.interrupt(&sb, libc::SIGKILL);
    assert_eq!(after_go(&out, &sb), lines_for(&sb, port, ["ok"; 5]));
    assert_eq!(
        std::fs::read_to_string(sb.work().join("marker")).unwrap(),
        "x"
    );
}

#[test]
fn enforce_fail_closed_a_killed_collector_denies_what_follows() {
    // Whether the calls wait for verdicts (learned) or not (guarding): once
    // the collector is gone, none can be recorded, and none is made.
    for learned in [true, false] {
        let sb = Sandbox::new();
        let port = tcp_server();
        let policy = if learned {
            learned_policy(&sb, port)
        } else {
            guarding_policy(&sb)
        };
        let args = ["--mode", "enforce", "--policy", policy.to_str().unwrap()];
        let run = start(&sb, &args, &ops(&sb, port));
        let out = run.interrupt(&sb, libc::SIGKILL);
        assert_eq!(
            after_go(&out, &sb),
            lines_for(&sb, port, ["EACCES", "EACCES", "EACCES", "EPERM", "EACCES"]),
            "learned: {learned}: every call after the collector died is refused, even one allowed before"
        );
        assert!(!sb.work().join("marker").exists());
    }
}

#[test]
fn enforce_fail_closed_a_killed_collector_denies_what_follows_a_static_program() {
    // The same under the trace backend of `__trace-exec`, with a policy that
    // refuses none of the probe's calls: they wait for no verdict, and once
    // the collector is gone none can be recorded, so none is made.
    let sb = Sandbox::new();
    let port = tcp_server();
    let policy = guarding_policy(&sb);
    let probe = sb.probe_as("calls", "calls-static", &["-static"]);
    // A preloaded shell execs it: the library hands it to __trace-exec,
    // which outlives the collector (a traced `rampart run` would take the
    // tree with it).
    let args = [
        "--mode",
        "enforce",
        "--backend",
        "preload",
        "--policy",
        policy.to_str().unwrap(),
    ];
    let mut argv = vec!["-c".to_string(), r#"exec "$0" "$@""#.to_string()];
    argv.push(probe.to_str().unwrap().to_string());
    argv.extend(ops(&sb, port));
    let run = start_probe(&sb, Path::new("bash"), &args, &argv);
    let out = run.interrupt(&sb, libc::SIGKILL);
    assert_eq!(
        after_go(&out, &sb),
        lines_for(&sb, port, ["EACCES", "EACCES", "EACCES", "EPERM", "EACCES"]),
    );
    assert!(!sb.work().join("marker").exists());
}

#[test]
fn enforce_fail_open_a_killed_collector_lets_what_follows_through() {
    let sb = Sandbox::new();
    let port = tcp_server();
    let policy = learned_policy(&sb, port);
    let args = [
        "--mode",
        "enforce",
        "--fail-open",
        "--policy",
        policy.to_str().unwrap(),
    ];
    let run = start(&sb, &args, &ops(&sb, port));
    let out = run.interrupt(&sb, libc::SIGKILL);
    assert_eq!(after_go(&out, &sb), lines_for(&sb, port, ["ok"; 5]));
    assert_eq!(
        std::fs::read_to_string(sb.work().join("marker")).unwrap(),
        "x"
    );
}

#[test]
fn enforce_a_collector_that_stops_answering_is_waited_for_at_most_the_timeout() {
    // SIGSTOP: the socket stays open but no verdict ever comes; each call
    // that needs one waits for the decision timeout at most, then
    // fail-closed denies it. The read allowed before goes through on its
    // remembered verdict: a collector that is there but wedged is not a
    // collector that is gone (its record is counted as lost).
    let sb = Sandbox::new();
    let port = tcp_server();
    let policy = learned_policy(&sb, port);
    let args = [
        "--mode",
        "enforce",
        "--decision-timeout",
        "300",
        "--policy",
        policy.to_str().unwrap(),
    ];
    let run = start(&sb, &args, &ops(&sb, port));
    let out = run.interrupt(&sb, libc::SIGSTOP);
    assert_eq!(
        after_go(&out, &sb),
        lines_for(&sb, port, ["EACCES", "ok", "EACCES", "EPERM", "EACCES"]),
    );
    assert!(!sb.work().join("marker").exists());
}

#[test]
fn enforce_a_stopped_collector_holds_up_no_call_that_needs_no_verdict() {
    // The same stopped collector, under a policy that cannot refuse the
    // probe's calls: they wait for nothing and go through (their records
    // wait in the socket for the collector to resume).
    let sb = Sandbox::new();
    let port = tcp_server();
    let policy = guarding_policy(&sb);
    let args = [
        "--mode",
        "enforce",
        "--decision-timeout",
        "60000",
        "--policy",
        policy.to_str().unwrap(),
    ];
    let run = start(&sb, &args, &ops(&sb, port));
    let out = run.interrupt(&sb, libc::SIGSTOP);
    assert_eq!(after_go(&out, &sb), lines_for(&sb, port, ["ok"; 5]));
    assert_eq!(
        std::fs::read_to_string(sb.work().join("marker")).unwrap(),
        "x"
    );
}

/// `ready`, wait for `go`, `n` opens of `a.txt`, `done`.
fn burst_ops(sb: &Sandbox, n: usize) -> Vec<String> {
    let w = |name: &str| sb.work().join(name).to_str().unwrap().to_string();
    std::fs::write(sb.work().join("a.txt"), "a").unwrap();
    let mut ops = vec!["write".to_string(), w("ready"), "wait-for".into(), w("go")];
    for _ in 0..n {
        ops.push("open".into());
        ops.push(w("a.txt"));
    }
    ops.push("say".into());
    ops.push("done".into());
    ops
}

/// What a burst of opens left in the trail: records of the opens, and the
/// calls the `lost` records account for.
struct BurstTrail {
    opened: usize,
    recorded: usize,
    lost: u64,
}

/// The trail's reads of `path`, and the calls its `lost` records count.
fn reads_and_lost(records: &[serde_json::Value], path: &Path) -> (usize, u64) {
    let reads = records
        .iter()
        .filter(|r| r["tool"] == "read" && r["request"]["path"] == path.to_str().unwrap())
        .count();
    let lost = records
        .iter()
        .filter(|r| r["tool"] == "lost")
        .map(|r| r["request"]["count"].as_u64().unwrap())
        .sum();
    (reads, lost)
}

/// Run `n` opens while the collector (the `rampart run` process) is
/// stopped for `stop`, then resumed; the run goes to its end.
fn burst_with_stopped_collector(
    sb: &Sandbox,
    rampart_args: &[&str],
    n: usize,
    stop: Duration,
) -> BurstTrail {
    let mut run = start(sb, rampart_args, &burst_ops(sb, n));
    wait_for(&sb.work().join("ready"));
    let pid = run.rampart.id() as i32;
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    std::fs::write(sb.work().join("go"), "").unwrap();
    std::thread::sleep(stop);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    let deadline = Instant::now() + OUTER_TIMEOUT;
    let mut out = String::new();
    while !out.ends_with("done\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        match run.out.recv_timeout(left) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
            }
            Err(e) => panic!("the program hung ({e}):\n{out}"),
        }
    }
    let status = run.rampart.wait().unwrap();
    assert!(status.success(), "rampart run: {status}");
    let a = sb.work().join("a.txt");
    let opened = out
        .lines()
        .filter(|l| *l == format!("open {}: ok", a.display()))
        .count();
    let records = sb.records();
    let (recorded, lost) = reads_and_lost(&records, &a);
    BurstTrail {
        opened,
        recorded,
        lost,
    }
}

#[test]
fn monitor_a_collector_stopped_for_2_s_loses_none_of_2000_opens() {
    // Back-pressure: the records wait in the process's record ring, then
    // in the socket, then the sends wait for room (at most 3 s each), so a
    // 2 s stop costs time, not records.
    let sb = Sandbox::new();
    let t = burst_with_stopped_collector(&sb, &["--mode", "monitor"], 2000, Duration::from_secs(2));
    assert_eq!(t.opened, 2000, "every open succeeded");
    assert_eq!((t.recorded, t.lost), (2000, 0));
}

#[test]
fn enforce_a_collector_stopped_for_2_s_refuses_no_ordinary_call_and_loses_none() {
    let sb = Sandbox::new();
    let policy = guarding_policy(&sb);
    let args = ["--mode", "enforce", "--policy", policy.to_str().unwrap()];
    let t = burst_with_stopped_collector(&sb, &args, 2000, Duration::from_secs(2));
    assert_eq!(t.opened, 2000, "no open that needs no verdict was refused");
    assert_eq!((t.recorded, t.lost), (2000, 0));
}

#[test]
fn a_collector_stopped_longer_than_the_send_timeout_loses_records_but_counts_each() {
    // Past the 3 s send timeout the library stops waiting: the records it
    // could not send are counted and reported in a `lost` record when the
    // collector is back (or when the process exits), so the trail says
    // exactly how many calls it does not hold; `audit verify` says so too.
    // 10,000 records are more than the process's record ring and its
    // socket hold together.
    let sb = Sandbox::new();
    let t =
        burst_with_stopped_collector(&sb, &["--mode", "monitor"], 10_000, Duration::from_secs(6));
    assert_eq!(t.opened, 10_000);
    assert!(
        t.lost > 0,
        "10,000 records cannot all wait in the ring and socket"
    );
    assert_eq!(
        t.recorded as u64 + t.lost,
        10_000,
        "recorded {} + lost {}",
        t.recorded,
        t.lost
    );
    let verify = sb.rampart().args(["audit", "verify"]).output().unwrap();
    assert_eq!(verify.status.code(), Some(1));
    let text = stdout(&verify);
    assert!(text.contains(&calls_not_in_the_trail(t.lost)), "{text}");
}

#[test]
fn a_double_forked_daemon_is_recorded_until_it_exits_on_both_backends() {
    // The command starts a daemon (fork, setsid, fork) and exits at once;
    // the daemon reads a file half a second later. `rampart run` returns
    // only after the daemon exited, and its read is in the trail.
    for backend in ["preload", "trace"] {
        let sb = Sandbox::new();
        let file = sb.work().join("daemon-reads.txt");
        let mark = sb.work().join("daemon-done");
        std::fs::write(&file, "x").unwrap();
        let script = format!(
            "(setsid sh -c 'sleep 0.5; cat {} > /dev/null; echo done > {}' &); echo root-done",
            file.display(),
            mark.display()
        );
        let out = sb
            .rampart()
            .args(["run", "--backend", backend, "--", "bash", "-c", &script])
            .output()
            .unwrap();
        assert_ok(&out);
        assert_eq!(stdout(&out), "root-done\n");
        assert!(
            mark.exists(),
            "{backend}: rampart run returned before the daemon ended"
        );
        let read = sb
            .records()
            .into_iter()
            .any(|r| r["tool"] == "read" && r["request"]["path"] == file.to_str().unwrap());
        assert!(read, "{backend}: the daemon's read is not in the trail");
        if backend == "preload" {
            assert!(
                // One daemon, and perhaps the subshell that started it,
                // not gone yet when the command ended.
                stderr(&out).contains("outlived the command; recorded until"),
                "{}",
                stderr(&out)
            );
        }
    }
}

#[test]
fn rampart_stops_waiting_for_a_daemon_when_told_and_says_so() {
    let sb = Sandbox::new();
    let pidfile = sb.work().join("daemon.pid");
    let script = format!(
        "(setsid sh -c 'echo $$ > {}; exec sleep 600' </dev/null >/dev/null 2>&1 &); exit 3",
        pidfile.display()
    );
    let mut rampart = sb
        .rampart()
        .args(["run", "--backend", "preload", "--", "bash", "-c", &script])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(rampart.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(
        line.contains("recording the 1 process it left running"),
        "{line}"
    );
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(rampart.id() as i32, libc::SIGTERM) }, 0);
    let status = rampart.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let daemon: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: the daemon this test started.
    let alive = unsafe { libc::kill(daemon, 0) } == 0;
    unsafe { libc::kill(daemon, libc::SIGKILL) };
    assert_eq!(status.code(), Some(3), "the command's status");
    assert!(alive, "rampart does not kill what it stopped waiting for");
    assert!(
        rest.contains("1 process outlived the command; 1 still running, no longer recorded"),
        "{rest}"
    );
}

/// `rampart run ARGS --audit-dir DISK -- open_many 2 5000 FILE` on a disk
/// too small for its trail: what it printed, and the trail's opens of FILE,
/// its lost count and `audit verify`'s exit code and output.
struct FullDiskRun {
    out: std::process::Output,
    opens_recorded: usize,
    /// The trail's records of other calls (the loader's opens, the exec).
    others_recorded: usize,
    lost: u64,
    verify: (Option<i32>, String),
}

fn run_on_a_full_disk(sb: &Sandbox, args: &[&str]) -> FullDiskRun {
    run_on_a_full_disk_opening(sb, args, "5000")
}

/// [`run_on_a_full_disk`] with two threads making `each` opens each.
fn run_on_a_full_disk_opening(sb: &Sandbox, args: &[&str], each: &str) -> FullDiskRun {
    let disk = SmallDisk::mount(sb.path("small-disk"), 512);
    let file = sb.work().join("f.txt");
    std::fs::write(&file, "x").unwrap();
    let probe = sb.probe("open_many", &[]);
    let out = sb
        .rampart()
        .arg("run")
        .args(args)
        .arg("--audit-dir")
        .arg(&disk.0)
        .args(["--"])
        .arg(&probe)
        .args(["2", each])
        .arg(&file)
        .output()
        .unwrap();
    let records = records_in(&disk.0);
    let (opens_recorded, lost) = reads_and_lost(&records, &file);
    let others_recorded = records.iter().filter(|r| r["tool"] != "lost").count() - opens_recorded;
    let v = sb
        .rampart()
        .args(["audit", "verify", "--audit-dir"])
        .arg(&disk.0)
        .output()
        .unwrap();
    FullDiskRun {
        out,
        opens_recorded,
        others_recorded,
        lost,
        verify: (v.status.code(), stdout(&v)),
    }
}

#[test]
fn monitor_on_a_full_disk_the_program_goes_on_and_rampart_counts_what_it_could_not_write() {
    let sb = Sandbox::new();
    let r = run_on_a_full_disk(&sb, &["--backend", "preload", "--mode", "monitor"]);
    let err = stderr(&r.out);
    assert_eq!(r.out.status.code(), Some(2), "rampart fails the run: {err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        !err.contains('\x1b'),
        "no colour codes off a terminal: {err}"
    );
    assert!(
        err.contains(&format!("{} records of this run are not in it", r.lost)),
        "{err}"
    );
    assert!(
        r.lost > 0 && r.opens_recorded > 0,
        "lost {}, recorded {}: {err}",
        r.lost,
        r.opens_recorded
    );
    // Every call is either in the trail or in the count: nothing silent.
    // (Which records the full disk cut depends on when each arrived: the
    // loader's opens, made before the file's, may reach the trail after
    // them.) As many calls as the same run records on a disk with room:
    let roomy = Sandbox::new();
    let file = roomy.work().join("f.txt");
    std::fs::write(&file, "x").unwrap();
    let probe = roomy.probe("open_many", &[]);
    let out = roomy
        .rampart()
        .args(["run", "--backend", "preload", "--mode", "monitor", "--"])
        .arg(&probe)
        .args(["2", "5000"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let all = roomy.records();
    let (opens, no_loss) = reads_and_lost(&all, &file);
    assert_eq!((opens, no_loss), (10_000, 0));
    assert_eq!(
        (r.opens_recorded + r.others_recorded) as u64 + r.lost,
        all.len() as u64
    );
    // The trail ends in whole records (no torn line), and says it is short.
    let (code, text) = &r.verify;
    assert_eq!(*code, Some(1), "{text}");
    assert!(!text.contains("torn"), "{text}");
    assert!(text.contains(&calls_not_in_the_trail(r.lost)), "{text}");
}

#[test]
fn enforce_fail_closed_on_a_full_disk_refuses_what_it_cannot_record() {
    for backend in ["preload", "trace"] {
        let sb = Sandbox::new();
        // Enough opens that the probe still runs when the collector finds
        // the disk full: the calls it allowed before are in the trail or
        // in the lost count; the next one is refused.
        let r =
            run_on_a_full_disk_opening(&sb, &["--backend", backend, "--mode", "enforce"], "50000");
        let err = stderr(&r.out);
        assert_eq!(r.out.status.code(), Some(2), "{backend}: {err}");
        assert!(err.contains("No space left on device"), "{backend}: {err}");
        // The probe stops at its first refused open.
        assert!(err.contains("open: Permission denied"), "{backend}: {err}");
        assert!(
            err.contains("every call after the failure was refused"),
            "{backend}: {err}"
        );
        assert!(r.opens_recorded < 100_000 && r.lost > 0, "{backend}");
        let (code, text) = &r.verify;
        assert_eq!(*code, Some(1), "{backend}: {text}");
        assert!(!text.contains("torn"), "{backend}: {text}");
    }
}

#[test]
fn monitor_on_a_full_disk_under_trace_the_program_goes_on() {
    let sb = Sandbox::new();
    let r = run_on_a_full_disk(&sb, &["--backend", "trace", "--mode", "monitor"]);
    let err = stderr(&r.out);
    assert_eq!(r.out.status.code(), Some(2), "{err}");
    assert!(!err.contains("open: "), "no open failed: {err}");
    assert!(err.contains("No space left on device"), "{err}");
    // The lost count covers every record the trail misses, the opens of
    // the file among them (and the loader's opens besides).
    assert!(r.opens_recorded as u64 + r.lost >= 10_000);
    let (code, text) = &r.verify;
    assert_eq!(*code, Some(1), "{text}");
    assert!(!text.contains("torn"), "{text}");
}

/// The record ring is the program's memory: a program that overwrites its
/// own ring (found in /proc/self/maps) cannot crash the collector or make
/// it write what no call was. The collector stops reading that ring, the
/// trail says how many records of the process are missing (a `lost`
/// record: recorded + lost = calls made, the posts after the scribbling
/// included), the chain verifies, and the next process is recorded as
/// usual.
#[test]
fn a_program_that_scribbles_on_its_record_ring_loses_only_its_own_records() {
    let sb = Sandbox::new();
    let src = r#"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    for (int i = 0; i < 80; i++) close(open(argv[1], O_RDONLY));
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    int hit = 0;
    while (fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        if (strstr(line, "rampart-ring") && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
            memset((void *)(lo + 4096), 0xff, hi - lo - 4096);
            hit = 1;
        }
    }
    fclose(maps);
    for (int i = 0; i < 20; i++) close(open(argv[1], O_RDONLY));
    printf("ring %s\n", hit ? "found" : "missing");
    return 0;
}
"#;
    let probe = rampart_e2e::build::gcc_source(&sb.path(""), "scribbler", src, &[]);
    let target = sb.work().join("t.txt");
    std::fs::write(&target, "t").unwrap();
    let o = sb.run_backend(
        "preload",
        &[probe.to_str().unwrap(), target.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ring found\n");
    let after = sb.work().join("after.txt");
    std::fs::write(&after, "a").unwrap();
    let o = sb.run_backend("preload", &["cat", after.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let records = sb.records();
    let (reads, lost) = reads_and_lost(&records, &target);
    let maps = reads_and_lost(&records, Path::new("/proc/self/maps")).0;
    assert!(reads >= 4, "{reads} reads recorded");
    assert!(lost >= 1, "the ring it stopped reading is accounted for");
    // 100 opens of the target and the one of /proc/self/maps: none recorded
    // twice, none missing unaccounted. (The count a scribbled ring's header
    // gives is the program's word, at least one: when the collector had
    // read every record before the scribble, one more than was lost.)
    let recorded = (reads + maps) as u64;
    assert!(recorded <= 101, "recorded {reads} + {maps}");
    assert!(
        recorded + lost == 101 || (recorded == 101 && lost == 1),
        "recorded {reads} + {maps} + lost {lost}"
    );
    assert_eq!(
        reads_and_lost(&records, &after).0,
        1,
        "the next run is recorded"
    );
    let verify = sb.rampart().args(["audit", "verify"]).output().unwrap();
    assert!(
        stdout(&verify).contains("not in the trail"),
        "{}",
        stdout(&verify)
    );
}

/// The collector is never sent descriptors (it sends rings, it receives
/// none): closing one a program chose can block for ever (a TCP socket
/// lingering on a peer that never reads), which would stop the collector
/// and, under enforce, refuse every call of the tree. A program that tries
/// gets EPERM, and the run goes on recorded.
#[test]
fn a_program_cannot_send_the_collector_a_descriptor() {
    let sb = Sandbox::new();
    let src = r#"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strncpy(a.sun_path, getenv("RAMPART_SOCKET"), sizeof a.sun_path - 1);
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    /* The raw system call: the library's connect hook is not involved. */
    if (syscall(SYS_connect, s, &a, sizeof a) != 0) { perror("connect"); return 1; }
    int p[2];
    pipe(p);
    char frame[4] = { 'R', 'W', 1, 7 }; /* a Wake frame */
    struct iovec iov = { frame, sizeof frame };
    char control[CMSG_SPACE(sizeof(int))];
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control, .msg_controllen = sizeof control };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p[0], sizeof(int));
    long r = syscall(SYS_sendmsg, s, &m, 0);
    printf("sendmsg %ld %s\n", r, r < 0 ? strerror(errno) : "sent");
    return 0;
}
"#;
    let probe = rampart_e2e::build::gcc_source(&sb.path(""), "passer", src, &[]);
    let after = sb.work().join("after.txt");
    std::fs::write(&after, "a").unwrap();
    let script = format!("{} && cat {}", probe.display(), after.display());
    let o = sb.run_backend("preload", &["sh", "-c", &script]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "sendmsg -1 Operation not permitted\na");
    assert_eq!(
        reads_and_lost(&sb.records(), &after).0,
        1,
        "the tree is still recorded"
    );
}

/// A program that opens connections to the collector until it runs out of
/// descriptors does not make it spin or lose the trail: past its limit
/// (the descriptor limit less a reserve) the collector stops accepting for
/// a moment, the waiting connections are served once the hog lets go, and
/// every record of an honest process of the tree is in the trail.
#[test]
fn a_program_hoarding_connections_leaves_the_collector_its_descriptors() {
    let sb = Sandbox::new();
    let src = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
int main(void) {
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strncpy(a.sun_path, getenv("RAMPART_SOCKET"), sizeof a.sun_path - 1);
    int n = 0;
    for (int i = 0; i < 600; i++) {
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
        if (s < 0) break;
        if (syscall(SYS_connect, s, &a, sizeof a) == 0) n++;
    }
    printf("hoarded %d\n", n > 300 ? 300 : n);
    fflush(stdout);
    usleep(700000);
    return 0;
}
"#;
    let hog = rampart_e2e::build::gcc_source(&sb.path(""), "hog", src, &[]);
    let honest = sb.work().join("honest.txt");
    std::fs::write(&honest, "h").unwrap();
    let script = format!(
        "{} & sleep 0.3; for i in 1 2 3 4 5; do cat {} >/dev/null; done; wait",
        hog.display(),
        honest.display()
    );
    let mut run = sb.rampart();
    run.args([
        "run",
        "--quiet",
        "--backend",
        "preload",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    // SAFETY: setrlimit is async-signal-safe; it runs in the child only.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut run, || {
            let lim = libc::rlimit {
                rlim_cur: 600,
                rlim_max: 600,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = run.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hoarded 300\n");
    assert_eq!(reads_and_lost(&sb.records(), &honest), (5, 0));
    let verify = sb.rampart().args(["audit", "verify"]).output().unwrap();
    assert!(verify.status.success(), "{}", stdout(&verify));
}

/// A program cannot put its calls on another process's account: a frame
/// of the preload library's kind that names another pid (here the
/// program's parent, the shell) is recorded with the pid of the process
/// that sent it, as the kernel says (SO_PEERCRED), and its real parent.
#[test]
fn a_program_cannot_record_calls_in_another_process_s_name() {
    let sb = Sandbox::new();
    let src = r#"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
static size_t put(unsigned char *b, size_t at, const void *v, size_t n) { memcpy(b + at, v, n); return at + n; }
static size_t str(unsigned char *b, size_t at, const char *s) {
    uint16_t n = strlen(s); at = put(b, at, &n, 2); return put(b, at, s, n);
}
int main(int argc, char **argv) {
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strncpy(a.sun_path, getenv("RAMPART_SOCKET"), sizeof a.sun_path - 1);
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (syscall(SYS_connect, s, &a, sizeof a) != 0) { perror("connect"); return 1; }
    int32_t victim = getppid(), vparent = 1, me = getpid();
    unsigned char b[512]; size_t n = 0;
    n = put(b, n, "RW\1\1", 4); n = put(b, n, &me, 4); n = put(b, n, &vparent, 4);
    n = str(b, n, "/bin/sh"); n = str(b, n, "/"); n = str(b, n, ""); n = str(b, n, "");
    syscall(SYS_sendto, s, b, n, 0, 0, 0);
    uint32_t seq = 1; int32_t zero = 0, flags = 0; uint8_t f = 0, call = 2, oc = 0;
    n = 0;
    n = put(b, n, "RW\1\2", 4); n = put(b, n, &seq, 4); n = put(b, n, &f, 1); n = put(b, n, &call, 1);
    n = put(b, n, &oc, 1); n = put(b, n, &zero, 4); n = put(b, n, &victim, 4); n = put(b, n, &vparent, 4);
    n = str(b, n, "/bin/sh"); n = str(b, n, "/"); n = put(b, n, &flags, 4); n = str(b, n, argv[1]);
    long r = syscall(SYS_sendto, s, b, n, 0, 0, 0);
    printf("%d %d %s\n", me, victim, r > 0 ? "sent" : "not sent");
    fflush(stdout);
    usleep(300000); /* still there when the collector asks who its parent is */
    return 0;
}
"#;
    let forger = rampart_e2e::build::gcc_source(&sb.path(""), "forger", src, &[]);
    let secret = "/forged/in/the/shells/name";
    let o = sb.run_backend(
        "preload",
        &["sh", "-c", &format!("{} {secret}; true", forger.display())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut words = out.split_whitespace();
    let me: i64 = words.next().unwrap().parse().unwrap();
    let victim: i64 = words.next().unwrap().parse().unwrap();
    assert_eq!(words.next(), Some("sent"), "{out}");
    let records = sb.records();
    let forged: Vec<_> = records
        .iter()
        .filter(|r| r["request"]["path"] == secret)
        .collect();
    assert_eq!(forged.len(), 1, "{forged:?}");
    assert_eq!(forged[0]["request"]["pid"], me, "{:?}", forged[0]);
    assert_eq!(forged[0]["request"]["ppid"], victim, "{:?}", forged[0]);
}

/// Whether `pid` is an unhooked-call tap (or a tap's standby): named
/// `rampart-tap`.
fn is_tap(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|c| c.trim_end() == "rampart-tap")
}

/// The unhooked-call tap of `run`'s process (`rampart-tap`, a child of
/// it), not its standby (a child of the tap).
fn tap_of(rampart: u32) -> i32 {
    for _ in 0..(OUTER_TIMEOUT.as_millis() / 10) {
        let children = std::fs::read_to_string(format!("/proc/{rampart}/task/{rampart}/children"))
            .unwrap_or_default();
        for pid in children.split_whitespace() {
            if is_tap(pid) {
                return pid.parse().unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("rampart {rampart} has no tap");
}

#[test]
fn a_killed_tap_leaves_its_standby_answering_in_both_modes() {
    // A static program under preload: every call of it goes to the tap.
    // Killed (SIGKILL), its standby answers in its place: the program goes
    // on, its calls are recorded, and enforcement still holds.
    for mode in ["monitor", "enforce"] {
        let sb = Sandbox::new();
        let port = tcp_server();
        let calls = sb.probe_as("calls", "calls-static", &["-static"]);
        let w = |n: &str| sb.work().join(n).to_str().unwrap().to_string();
        let policy = guarding_policy(&sb);
        let args = [
            "--mode",
            mode,
            "--backend",
            "preload",
            "--policy",
            policy.to_str().unwrap(),
        ];
        let mut run = start_probe(&sb, &calls, &args, &static_ops(&sb, port, true));
        wait_for(&sb.work().join("ready"));
        let tap = tap_of(run.rampart.id());
        // SAFETY: killing the tap of our own run.
        assert_eq!(unsafe { libc::kill(tap, libc::SIGKILL) }, 0);
        let seen = go_on_after(&sb, &run, "the tap");
        let status = run.rampart.wait().unwrap();
        assert!(status.success(), "{mode}: {status:?}");
        let never = if mode == "enforce" { "EACCES" } else { "ok" };
        assert_eq!(seen, all_ok(&sb, port, Some(never)), "{mode}");
        // The standby recorded what the tap could not.
        let r = sb.records();
        let of = |tool: &str, key: &str, value: &str| -> Vec<&serde_json::Value> {
            r.iter()
                .filter(|x| x["tool"] == tool && x["request"][key] == value)
                .collect()
        };
        assert_eq!(of("read", "path", &w("b.txt")).len(), 1, "{mode}: {r:#?}");
        assert_eq!(of("write", "path", &w("marker")).len(), 1, "{mode}");
        assert_eq!(of("exec", "path", "/bin/true").len(), 1, "{mode}");
        let never_read = of("read", "path", &w("never.txt"));
        assert_eq!(never_read.len(), 1, "{mode}");
        // Decided in both modes; refused only under enforcement.
        assert_eq!(never_read[0]["decision"]["action"], "deny", "{mode}");
        let outcome = &never_read[0]["request"]["outcome"];
        if mode == "enforce" {
            assert_eq!(outcome, "EACCES", "{mode}");
        } else {
            assert_ne!(outcome, "EACCES", "{mode}");
        }
        assert_eq!(
            std::fs::read_to_string(sb.work().join("never.txt")).unwrap(),
            "secret"
        );
    }
}

#[test]
fn a_pkill_of_the_runs_command_line_leaves_its_tap_serving() {
    // `pkill -9 -f` with a pattern of the run's command line (the way one
    // stops a run by hand) takes `rampart run`, not the tap forked from it:
    // the tap shows its name in place of the arguments it was forked with.
    // So the static program, every call of which the tap answers, goes on
    // unharmed once rampart is gone (with the tap killed too, its calls
    // would fail ENOSYS).
    let sb = Sandbox::new();
    let port = tcp_server();
    let mut run = start_static(&sb, port, &["--mode", "monitor", "--backend", "preload"]);
    let tap = tap_of(run.rampart.id());
    let cmdline = std::fs::read(format!("/proc/{tap}/cmdline")).unwrap();
    let shown: Vec<&[u8]> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    assert_eq!(
        shown,
        [b"rampart-tap".as_slice()],
        "{:?}",
        String::from_utf8_lossy(&cmdline)
    );
    // Every process of the run whose arguments hold `--backend preload`.
    let mut todo = vec![run.rampart.id() as i32];
    let mut matched = Vec::new();
    while let Some(pid) = todo.pop() {
        let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if args.windows(18).any(|w| w == b"--backend\0preload\0") {
            matched.push(pid);
        }
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        todo.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok()),
        );
    }
    assert_eq!(
        matched,
        [run.rampart.id() as i32],
        "only rampart run matches"
    );
    for pid in matched {
        // SAFETY: killing our own child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    }
    let _ = run.rampart.wait();
    let seen = go_on_after(&sb, &run, "rampart run");
    assert_eq!(seen, all_ok(&sb, port, None));
}

#[test]
fn a_rampart_with_a_thread_of_a_preloaded_library_runs_its_tap_and_enforces() {
    // A library preloaded into rampart itself that starts a thread at load
    // (a profiler, a memory agent): rampart cannot fork its tap from a
    // process with threads, and runs it instead (`rampart __unhooked`). The
    // run goes as any other: the loader's opens are recorded past the hooks
    // and a refused read fails, is recorded as denied, and the file stays.
    let sb = Sandbox::new();
    let lib = sb.probe_as(
        "thread_at_load",
        "libthread_at_load.so",
        &["-shared", "-fPIC", "-pthread"],
    );
    std::fs::write(sb.work().join("never.txt"), "secret").unwrap();
    let policy = guarding_policy(&sb);
    // The command waits on this until the tap was looked at.
    let go = sb.work().join("go");
    assert!(std::process::Command::new("mkfifo")
        .arg(&go)
        .status()
        .unwrap()
        .success());
    let run = sb
        .rampart()
        .env("LD_PRELOAD", &lib)
        .args(["run", "--quiet", "--mode", "enforce", "--policy"])
        .arg(&policy)
        .args(["--", "sh", "-c", "read -r _ < go; cat never.txt"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The tap, while the command waits: run, not forked.
    let tap = tap_of(run.id());
    let cmdline = std::fs::read(format!("/proc/{tap}/cmdline")).unwrap();
    assert!(
        cmdline.split(|&b| b == 0).any(|a| a == b"__unhooked"),
        "{:?}",
        String::from_utf8_lossy(&cmdline)
    );
    std::fs::write(&go, "go\n").unwrap();
    let o = run.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("secret"));
    let r = sb.records();
    let never = sb.work().join("never.txt");
    let refused: Vec<_> = r
        .iter()
        .filter(|x| x["tool"] == "read" && x["request"]["path"] == never.to_str().unwrap())
        .collect();
    assert_eq!(refused.len(), 1, "{r:#?}");
    assert_eq!(refused[0]["decision"]["action"], "deny");
    assert!(
        r.iter().any(|x| x["request"]["source"] == "unhooked"),
        "no call past the hooks recorded: {r:#?}"
    );
    assert_eq!(std::fs::read_to_string(&never).unwrap(), "secret");
}

#[test]
fn a_tap_killed_in_a_burst_of_calls_strands_no_caller_and_counts_what_it_held() {
    // Killed while it holds a call (received, not answered) and records not
    // yet sent: the standby answers the call held, and every open is in the
    // trail or counted as lost (at most one more: a record sent in the
    // instant of the kill).
    for mode in ["monitor", "enforce"] {
        let sb = Sandbox::new();
        let probe = sb.probe_as("open_many", "open_many-static", &["-static"]);
        let file = sb.work().join("a.txt");
        std::fs::write(&file, "a").unwrap();
        let (procs, opens) = (4, 20_000);
        let mut rampart = sb
            .rampart()
            .args([
                "run",
                "--quiet",
                "--backend",
                "preload",
                "--mode",
                mode,
                "--",
            ])
            .arg(&probe)
            .args([procs.to_string(), opens.to_string()])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let tap = tap_of(rampart.id());
        // Killed once the burst is under way (its reads are in the trail).
        let audit = sb.audit();
        let deadline = Instant::now() + OUTER_TIMEOUT;
        while records_in(&audit).len() < 1000 {
            assert!(Instant::now() < deadline, "{mode}: the burst never started");
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: killing the tap of our own run.
        assert_eq!(unsafe { libc::kill(tap, libc::SIGKILL) }, 0);
        let status = wait_at_most(&mut rampart, OUTER_TIMEOUT);
        assert!(status.success(), "{mode}: every open succeeded: {status:?}");
        let r = sb.records();
        let reads = r
            .iter()
            .filter(|x| x["tool"] == "read" && x["request"]["path"] == file.to_str().unwrap())
            .count() as u64;
        let lost: u64 = r
            .iter()
            .filter(|x| x["tool"] == "lost")
            .map(|x| x["request"]["count"].as_u64().unwrap())
            .sum();
        let made = (procs * opens) as u64;
        assert!(
            reads + lost == made || reads + lost == made + 1,
            "{mode}: {reads} recorded + {lost} lost for {made} opens"
        );
        assert!(reads <= made, "{mode}: {reads} records of {made} opens");
    }
}

/// A process below `root` whose arguments include `arg` (`__trace-exec`),
/// waited for; not a tap forked from it, which has its arguments too.
fn process_with_arg(root: u32, arg: &[u8]) -> i32 {
    for _ in 0..(OUTER_TIMEOUT.as_millis() / 10) {
        let mut todo = vec![root.to_string()];
        while let Some(pid) = todo.pop() {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if pid != root.to_string()
                && !is_tap(&pid)
                && cmdline.split(|&b| b == 0).any(|a| a == arg)
            {
                return pid.parse().unwrap();
            }
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            todo.extend(children.split_whitespace().map(str::to_string));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "no process with {:?} below {root}",
        String::from_utf8_lossy(arg)
    );
}

/// The static `calls` probe's operations for a killed supervisor: `ready`,
/// wait for `go`, then an open (and one of the guarded `never.txt` when
/// `guarded`), a write, a spawn and a connect, and `done`.
fn static_ops(sb: &Sandbox, port: u16, guarded: bool) -> Vec<String> {
    let w = |n: &str| sb.work().join(n).to_str().unwrap().to_string();
    std::fs::write(sb.work().join("b.txt"), "b").unwrap();
    std::fs::write(sb.work().join("never.txt"), "secret").unwrap();
    let never = guarded.then(|| ("open", w("never.txt")));
    [
        ("write", w("ready")),
        ("wait-for", w("go")),
        ("open", w("b.txt")),
    ]
    .into_iter()
    .chain(never)
    .chain([
        ("write", w("marker")),
        ("spawn", "/bin/true".into()),
        ("connect", port.to_string()),
        ("say", "done".into()),
    ])
    .flat_map(|(op, arg)| [op.to_string(), arg])
    .collect()
}

/// What the program printed after `go`, up to `done`, once `kill` ran.
fn go_on_after(sb: &Sandbox, run: &Run, what: &str) -> Vec<String> {
    std::fs::write(sb.work().join("go"), "").unwrap();
    let deadline = Instant::now() + OUTER_TIMEOUT;
    let mut out = String::new();
    while !out.ends_with("done\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = run
            .out
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("the program hung once {what} was killed ({e}):\n{out}"));
        out.push_str(&line);
        out.push('\n');
    }
    after_go(&out, sb)
}

/// `rampart run ARGS` of the static `calls` probe doing [`static_ops`],
/// once it is ready.
fn start_static(sb: &Sandbox, port: u16, rampart_args: &[&str]) -> Run {
    let calls = sb.probe_as("calls", "calls-static", &["-static"]);
    let run = start_probe(sb, &calls, rampart_args, &static_ops(sb, port, false));
    wait_for(&sb.work().join("ready"));
    run
}

/// What the program of [`static_ops`] prints after `go` when every call
/// works (the guarded open's result `never`, when there is one).
fn all_ok(sb: &Sandbox, port: u16, never: Option<&str>) -> Vec<String> {
    let w = |n: &str| sb.work().join(n).display().to_string();
    let guarded = never.map(|r| format!("open {}: {r}", w("never.txt")));
    [format!("open {}: ok", w("b.txt"))]
        .into_iter()
        .chain(guarded)
        .chain([
            format!("write {}: ok", w("marker")),
            "spawn /bin/true: ok".to_string(),
            format!("connect {port}: ok"),
            "done".to_string(),
        ])
        .collect()
}

#[test]
fn monitor_a_killed_trace_run_leaves_the_program_running_and_the_gap_is_reported() {
    // The trace backend in monitor mode: `kill -9` of `rampart run` (the
    // collector) leaves the static program running to the end, unharmed;
    // the next `audit verify` says that a run was cut off.
    let sb = Sandbox::new();
    let port = tcp_server();
    let mut run = start_static(&sb, port, &["--backend", "trace"]);
    let pid = run.rampart.id();
    // SAFETY: killing our own child.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    let _ = run.rampart.wait();
    assert_eq!(
        go_on_after(&sb, &run, "rampart run"),
        all_ok(&sb, port, None)
    );
    assert_eq!(
        std::fs::read_to_string(sb.work().join("marker")).unwrap(),
        "x"
    );
    let verify = || {
        let o = sb.rampart().args(["audit", "verify"]).output().unwrap();
        assert!(!o.status.success(), "{}", stdout(&o));
        stdout(&o)
    };
    let said = verify();
    assert!(
        said.contains(&format!("run of pid {pid} ")) && said.contains("killed"),
        "{said}"
    );
    // The next run notes the gap in the trail, and says so; verify goes on
    // reporting it, from the trail now.
    let next = sb.rampart().args(["run", "--", "true"]).output().unwrap();
    assert_ok(&next);
    assert!(
        stderr(&next).contains(&format!("an earlier run (pid {pid},")),
        "{}",
        stderr(&next)
    );
    let said = verify();
    assert_eq!(
        said.matches(&format!("run of pid {pid} ")).count(),
        1,
        "{said}"
    );
    let gap = sb
        .records()
        .into_iter()
        .find(|r| r["tool"] == "lost" && r["request"]["cut_off"] == true)
        .expect("the gap is in the trail");
    assert_eq!(gap["request"]["pid"], pid);
}

#[test]
fn monitor_a_killed_tap_of_a_trace_run_is_replaced_by_its_standby() {
    let sb = Sandbox::new();
    let port = tcp_server();
    let mut run = start_static(&sb, port, &["--backend", "trace"]);
    let tap = tap_of(run.rampart.id());
    // SAFETY: killing the tap of our own run.
    assert_eq!(unsafe { libc::kill(tap, libc::SIGKILL) }, 0);
    assert_eq!(go_on_after(&sb, &run, "the tap"), all_ok(&sb, port, None));
    assert!(run.rampart.wait().unwrap().success());
    // The standby recorded the calls after the kill, with their outcome.
    let r = sb.records();
    let marker = sb.work().join("marker");
    let write = r
        .iter()
        .find(|x| x["tool"] == "write" && x["request"]["path"] == marker.to_str().unwrap())
        .unwrap_or_else(|| panic!("{r:#?}"));
    assert_eq!(write["request"]["outcome"], "ok");
    assert_eq!(write["request"]["source"], "trace");
    // A blocking connect: the kernel makes it, its outcome unknown.
    assert!(r
        .iter()
        .any(|x| x["tool"] == "net" && x["request"]["port"] == port));
}

#[test]
fn monitor_a_killed_trace_exec_leaves_the_static_program_running() {
    // `--hooks-only`: a preloaded shell hands the static program to
    // `rampart __trace-exec`, which is killed.
    let sb = Sandbox::new();
    let port = tcp_server();
    let calls = sb.probe_as("calls", "calls-static", &["-static"]);
    let mut argv = vec![calls.to_str().unwrap().to_string()];
    argv.extend(static_ops(&sb, port, false));
    let script = argv
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let sh = format!("exec {script}");
    let mut run = start_probe(
        &sb,
        std::path::Path::new("/bin/sh"),
        &["--hooks-only"],
        &["-c".to_string(), sh],
    );
    wait_for(&sb.work().join("ready"));
    let tracer = process_with_arg(run.rampart.id(), b"__trace-exec");
    // SAFETY: killing a process of our own run.
    assert_eq!(unsafe { libc::kill(tracer, libc::SIGKILL) }, 0);
    assert_eq!(
        go_on_after(&sb, &run, "__trace-exec"),
        all_ok(&sb, port, None)
    );
    let _ = run.rampart.wait();
}
