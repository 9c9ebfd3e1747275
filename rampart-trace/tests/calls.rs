//! The tracer on C probes, static and dynamic: every exec, open and connect
//! variant is recorded with the right tool, path/command/address and outcome;
//! trees, threads, signals and exit statuses behave as without the tracer.

mod common;

use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;

use common::*;
use rampart_core::event::{Call, Outcome, Proto, Source};
use rampart_trace::{Options, Verdict};

fn check_exec_variants(statically: bool) {
    let probe = probe("exec_variants", statically);
    let (report, events) = trace(&[&probe]);
    assert_eq!(report.status, 0);
    let root = root_exec(&events);
    assert_eq!(exec_path(root), probe.to_str().unwrap());
    assert!(events.iter().all(|e| e.source == Source::Trace));

    let true_real = canonical("/bin/true");
    for (variant, want_path) in [
        ("execve", "/bin/true".to_string()),
        ("execveat", format!("{}/true", canonical("/bin"))),
        ("fexecve", true_real.clone()),
        ("posix_spawn", "/bin/true".to_string()),
    ] {
        let found = execs_with_argv(&events, &["true", variant]);
        assert_eq!(
            found.len(),
            1,
            "{variant}: one exec recorded, got {found:?}"
        );
        let e = found[0];
        assert_eq!(exec_path(e), want_path, "{variant}: path");
        assert_eq!(e.outcome, Outcome::Ok, "{variant}: outcome");
        assert_eq!(e.command().unwrap(), format!("true {variant}"));
        assert_eq!(
            e.exe,
            probe.to_str().unwrap(),
            "{variant}: the caller is the probe"
        );
        assert_eq!(e.ppid, root.pid, "{variant}: run by a child of the probe");
        assert_ne!(e.pid, root.pid);
    }
    let failing = execs_with_argv(&events, &["missing", "failing"]);
    assert_eq!(failing.len(), 1);
    assert_eq!(exec_path(failing[0]), "/nonexistent/missing");
    assert_eq!(failing[0].outcome, Outcome::Errno(libc::ENOENT));

    let sh = execs_with_argv(&events, &["sh", "-c", "/bin/true system"]);
    assert_eq!(sh.len(), 1, "system() runs sh -c");
    assert_eq!(exec_path(sh[0]), "/bin/sh");
    // `/bin/sh` is a link (to dash, or bash): the file loaded is recorded
    // after it, with the argv the shell got, where its command differs.
    let sh_real = canonical("/bin/sh");
    if sh_real != "/bin/sh" && !sh_real.ends_with("/sh") {
        let loaded = loaded_via(&events, "/bin/sh");
        assert_eq!(loaded.len(), 1, "{loaded:?}");
        assert_eq!(exec_path(loaded[0]), sh_real);
        assert_eq!(loaded[0].pid, sh[0].pid);
    }
    let inner = execs_with_argv(&events, &["/bin/true", "system"]);
    assert_eq!(inner.len(), 1, "the shell's command is seen too");
    assert_eq!(inner[0].outcome, Outcome::Ok);
    assert!(
        inner[0].pid == sh[0].pid || inner[0].ppid == sh[0].pid,
        "run by the shell"
    );
}

#[test]
fn every_exec_variant_is_recorded_static() {
    check_exec_variants(true);
}

#[test]
fn every_exec_variant_is_recorded_dynamic() {
    check_exec_variants(false);
}

fn check_open_variants(statically: bool) {
    let probe = probe("open_variants", statically);
    let dir = tempfile::tempdir().unwrap();
    let d = canonical(dir.path());
    let (report, events) = trace(&[probe.as_os_str(), dir.path().as_os_str()]);
    assert_eq!(report.status, 0);
    let seen: Vec<(String, &str, Outcome)> = events
        .iter()
        .filter_map(|e| match &e.call {
            Call::Open { path, .. } if path.starts_with(&d) => {
                Some((path[d.len()..].to_string(), e.tool(), e.outcome))
            }
            _ => None,
        })
        .collect();
    let want: Vec<(String, &str, Outcome)> = [
        ("/a.txt", "write", Outcome::Ok), // open O_CREAT
        ("", "read", Outcome::Ok),        // the dirfd
        ("/a.txt", "read", Outcome::Ok),  // openat(dirfd, "a.txt")
        ("/missing.txt", "read", Outcome::Errno(libc::ENOENT)), // openat(dirfd, missing)
        ("/rel.txt", "write", Outcome::Ok), // relative, after chdir
        ("/c.txt", "write", Outcome::Ok), // creat
        ("/a.txt", "read", Outcome::Ok),  // openat2
        ("/a.txt", "read", Outcome::Ok),  // fopen "r"
        ("/log.txt", "write", Outcome::Ok), // fopen "a"
        ("/a.txt", "read", Outcome::Ok),  // "sub/../a.txt", cleaned
    ]
    .into_iter()
    .map(|(p, t, o)| (p.to_string(), t, o))
    .collect();
    assert_eq!(seen, want);

    let creat = opens_of(&events, &format!("{d}/c.txt"));
    assert!(
        matches!(creat[0].call, Call::Open { flags, .. } if flags == libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC)
    );
    let append = opens_of(&events, &format!("{d}/log.txt"));
    assert!(matches!(append[0].call, Call::Open { flags, .. } if flags & libc::O_APPEND != 0));
    let rel = opens_of(&events, &format!("{d}/rel.txt"));
    assert_eq!(rel[0].cwd, d, "cwd after chdir");
    let first = opens_of(&events, &format!("{d}/a.txt"));
    assert_ne!(first[0].cwd, d, "cwd before chdir");
    assert_eq!(first[0].exe, probe.to_str().unwrap());
}

#[test]
fn every_open_variant_is_recorded_static() {
    check_open_variants(true);
}

#[test]
fn every_open_variant_is_recorded_dynamic() {
    check_open_variants(false);
}

#[test]
fn connects_are_recorded_with_address_protocol_and_outcome() {
    let probe = probe("connect", true);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let _unix = UnixListener::bind(&sock).unwrap();
    let out = dir.path().join("results");
    let (report, events) = trace(&[
        probe.as_os_str(),
        out.as_os_str(),
        port.to_string().as_ref(),
        closed_port.to_string().as_ref(),
        sock.as_os_str(),
    ]);
    assert_eq!(report.status, 0);
    let saw = probe_results(&out);
    assert_eq!(saw["tcp"], 0);
    assert_eq!(saw["refused"], libc::ECONNREFUSED);
    let nets: Vec<_> = events.iter().filter(|e| e.tool() == "net").collect();
    let names = [
        "tcp",
        "nonblocking",
        "refused",
        "udp",
        "unix",
        "unix-relative",
    ];
    assert_eq!(nets.len(), names.len(), "one event per connect: {nets:?}");
    for (e, name) in nets.iter().zip(names) {
        assert_eq!(
            e.outcome,
            outcome_from_errno(saw[name]),
            "{name}: the outcome the program saw"
        );
    }
    assert_eq!(
        nets[1].outcome,
        Outcome::InProgress,
        "non-blocking connect to a listener is under way"
    );
    let inet = |i: usize| match &nets[i].call {
        Call::ConnectInet {
            addr,
            port,
            proto,
            domain,
        } => (addr.to_string(), *port, *proto, domain.clone()),
        other => panic!("not inet: {other:?}"),
    };
    assert_eq!(inet(0), ("127.0.0.1".into(), port, Proto::Tcp, None));
    assert_eq!(nets[0].url().unwrap(), format!("tcp://127.0.0.1:{port}"));
    assert_eq!(inet(2).1, closed_port);
    assert_eq!(inet(3), ("127.0.0.1".into(), 5353, Proto::Udp, None));
    assert_eq!(nets[3].url().unwrap(), "udp://127.0.0.1:5353");
    let sock_path = canonical(&sock);
    for i in [4, 5] {
        assert_eq!(
            nets[i].path(),
            Some(sock_path.as_str()),
            "unix socket path, absolute"
        );
    }
}

#[test]
fn exec_from_a_non_leader_thread_keeps_the_process_id() {
    let probe = probe("thread_exec", true);
    let (report, events) = trace(&[probe.as_os_str(), "/etc/hostname".as_ref()]);
    assert_eq!(report.status, 0, "echo exits 0");
    let root = root_exec(&events);
    let read = opens_of(&events, "/etc/hostname");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].pid, root.pid, "a thread's call is its process's");
    let exec = execs_with_argv(&events, &["echo", "from-thread"]);
    assert_eq!(exec.len(), 1);
    assert_eq!(exec[0].outcome, Outcome::Ok);
    assert_eq!(exec[0].pid, root.pid);
    // After the exec the process is echo: its loader's opens say so.
    let echo = canonical("/bin/echo");
    assert!(
        events
            .iter()
            .any(|e| e.pid == root.pid && e.exe == echo && e.tool() == "read"),
        "events after the exec carry the new executable"
    );
}

#[test]
fn fork_vfork_clone_and_thread_trees_are_followed() {
    let probe = probe("tree", true);
    let dir = tempfile::tempdir().unwrap();
    let d = canonical(dir.path());
    let (report, events) = trace(&[probe.as_os_str(), dir.path().as_os_str()]);
    assert_eq!(report.status, 0);
    let root = root_exec(&events);
    let pids: std::collections::HashMap<String, (i32, i32)> =
        std::fs::read_to_string(dir.path().join("pids"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: Vec<&str> = l.split(' ').collect();
                (
                    v[0].to_string(),
                    (v[1].parse().unwrap(), v[2].parse().unwrap()),
                )
            })
            .collect();
    for name in ["fork", "grandchild", "clone", "thread", "main"] {
        let (pid, ppid) = pids[name];
        let opened = opens_of(&events, &format!("{d}/{name}"));
        assert_eq!(opened.len(), 1, "{name}: one open");
        assert_eq!(
            (opened[0].pid, opened[0].ppid),
            (pid, ppid),
            "{name}: pid and ppid as the process saw them"
        );
        assert_eq!(opened[0].outcome, Outcome::Ok);
    }
    assert_eq!(pids["fork"].1, root.pid);
    assert_eq!(pids["grandchild"].1, pids["fork"].0);
    assert_eq!(pids["thread"].0, root.pid);
    let vfork = execs_with_argv(&events, &["true", "vfork"]);
    assert_eq!(vfork.len(), 1);
    assert_eq!(vfork[0].ppid, root.pid);
    assert_eq!(report.processes, 5, "probe, fork, grandchild, vfork, clone");
}

#[test]
fn exit_statuses_are_returned_as_a_shell_shows_them() {
    let probe = probe("signals", true);
    for (what, want) in [
        ("exit3", 3),
        ("sigterm", 128 + libc::SIGTERM),
        ("segv", 128 + libc::SIGSEGV),
        ("usr1", 0),     // the signal reaches the program's handler
        ("stopcont", 0), // a child stopped by SIGSTOP stays stopped until SIGCONT
    ] {
        let (report, _) = trace(&[probe.as_os_str(), what.as_ref()]);
        assert_eq!(report.status, want, "{what}");
    }
}

#[test]
fn untraced_syscalls_do_not_stop() {
    let probe = probe("quiet", true);
    let (report, events) = trace(&[&probe]);
    assert_eq!(report.status, 0);
    assert_eq!(opens_of(&events, "/dev/null").len(), 1);
    // 40,000 getppid/write calls; only the exec, the open and the exit stop.
    assert!(
        report.stops < 20,
        "{} stops for 2 traced calls",
        report.stops
    );
}

#[test]
fn enforcement_skips_denied_calls_and_records_them() {
    let probe = probe("enforce", true);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    let out = dir.path().join("results");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let secret_path = canonical(dir.path()) + "/secret.txt";
    let denied = secret_path.clone();
    let mut sink = Recorder::enforcing(move |e| match &e.call {
        Call::Open { path, .. } if *path == denied => Verdict::Deny { errno: libc::EPERM },
        Call::Exec { path, .. } if path == "/bin/echo" => Verdict::Deny {
            errno: libc::EACCES,
        },
        Call::ConnectInet { port: p, .. } if *p == port => Verdict::Deny {
            errno: libc::ECONNREFUSED,
        },
        _ => Verdict::Allow,
    });
    let opts = Options {
        enforce: true,
        ..Options::default()
    };
    let port_arg = port.to_string();
    let argv = [
        probe.as_os_str(),
        out.as_os_str(),
        secret.as_os_str(),
        port_arg.as_ref(),
    ];
    let report = trace_with(&argv, &opts, &mut sink);
    assert_eq!(report.status, 0);
    let saw = probe_results(&out);
    assert_eq!(saw["create"], libc::EPERM);
    assert!(!secret.exists(), "a denied O_CREAT creates nothing");
    assert_eq!(saw["read"], 0);
    assert_eq!(saw["exec"], libc::EACCES);
    assert_eq!(saw["connect"], libc::ECONNREFUSED);
    assert_eq!(
        saw["io_uring"],
        libc::ENOSYS,
        "io_uring_setup is refused under enforcement"
    );

    let ev = &sink.events;
    assert_eq!(
        opens_of(ev, &secret_path)[0].outcome,
        Outcome::Errno(libc::EPERM)
    );
    assert_eq!(opens_of(ev, "/etc/hostname")[0].outcome, Outcome::Ok);
    assert_eq!(
        execs_with_argv(ev, &["echo", "denied"])[0].outcome,
        Outcome::Errno(libc::EACCES)
    );
    let net: Vec<_> = ev.iter().filter(|e| e.tool() == "net").collect();
    assert_eq!(net.len(), 1);
    assert_eq!(net[0].outcome, Outcome::Errno(libc::ECONNREFUSED));
    // Every recorded call was decided first, with the same request.
    assert_eq!(sink.decided.len(), sink.events.len());
    for (d, r) in sink.decided.iter().zip(&sink.events) {
        assert_eq!((&d.call, d.pid), (&r.call, r.pid));
    }
}

#[test]
fn monitor_mode_never_asks_and_changes_nothing() {
    let probe = probe("enforce", true);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    let out = dir.path().join("results");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut sink = Recorder::monitor(); // panics if decide() is called
    let argv = [
        probe.as_os_str(),
        out.as_os_str(),
        secret.as_os_str(),
        port.as_ref(),
    ];
    let report = trace_with(&argv, &Options::default(), &mut sink);
    assert_eq!(
        report.status, 0,
        "the exec of echo replaced the probe and exited 0"
    );
    assert!(secret.exists());
    let echo = execs_with_argv(&sink.events, &["echo", "denied"]);
    assert_eq!(echo[0].outcome, Outcome::Ok);
}

#[test]
fn an_exec_is_checked_again_against_the_file_actually_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("run.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let shell = canonical("/bin/sh");
    let deny_shell = shell.clone();
    let mut sink = Recorder::enforcing(move |e| match &e.call {
        Call::Exec { path, .. } if *path == deny_shell => Verdict::Deny {
            errno: libc::EACCES,
        },
        _ => Verdict::Allow,
    });
    let opts = Options {
        enforce: true,
        ..Options::default()
    };
    let report = trace_with(&[&script], &opts, &mut sink);
    assert_eq!(
        report.status,
        128 + libc::SIGKILL,
        "the process is killed before the interpreter runs"
    );
    assert_eq!(
        sink.decided.len(),
        2,
        "asked at entry (the script) and at exec (the interpreter)"
    );
    assert_eq!(exec_path(&sink.decided[0]), canonical(&script));
    assert_eq!(exec_path(&sink.decided[1]), shell);
    assert_eq!(sink.events.len(), 1);
    assert_eq!(exec_path(&sink.events[0]), shell);
    assert_eq!(sink.events[0].outcome, Outcome::Errno(libc::EACCES));
}

#[test]
fn a_missing_command_is_an_error_naming_it() {
    let mut sink = Recorder::monitor();
    let argv = vec![std::ffi::OsString::from("no-such-command-rampart")];
    let err = rampart_trace::run(&argv, &env(), &Options::default(), &mut sink).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("no-such-command-rampart"), "{err}");
}

/// Runs only as the child of `a_dead_supervisor_leaves_no_tracee_running`.
#[test]
#[ignore]
fn supervisor_helper() {
    let Some(pidfile) = std::env::var_os("RAMPART_TRACE_TEST_PIDFILE") else {
        return;
    };
    let script = format!("echo $$ > '{}'; exec sleep 60", pidfile.to_string_lossy());
    trace(&["/bin/sh", "-c", &script]);
}

#[test]
fn a_dead_supervisor_leaves_no_tracee_running() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "supervisor_helper", "--ignored", "--nocapture"])
        .env("RAMPART_TRACE_TEST_PIDFILE", &pidfile)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut pid = None;
    for _ in 0..200 {
        if let Some(p) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            pid = Some(p);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = pid.expect("the traced shell wrote its pid");
    // Let it reach `sleep`, then kill the supervisor.
    std::thread::sleep(std::time::Duration::from_millis(200));
    helper.kill().unwrap();
    helper.wait().unwrap();
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                !s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false)
    };
    for _ in 0..100 {
        if !running() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("tracee {pid} still runs after its supervisor was killed");
}

#[test]
fn a_connect_carries_the_name_its_process_resolved() {
    let Ok(server) = UdpSocket::bind("127.0.0.1:53") else {
        rampart_e2e::skip("cannot bind 127.0.0.1:53 for a test DNS server");
        return;
    };
    let probe = probe("dns", true);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answering = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        let mut answer = buf[..n].to_vec();
        answer[2] = 0x81; // response, recursion desired
        answer[3] = 0x80; // recursion available
        answer[7] = 1; // one answer
        answer.extend([0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
        server.send_to(&answer, from).unwrap();
    });
    let (report, events) = trace(&[probe.as_os_str(), port.to_string().as_ref()]);
    answering.join().unwrap();
    assert_eq!(report.status, 0);
    // The query sent to the name server is a net call too (a datagram
    // sent to an address), then the connect carries the name.
    let net: Vec<_> = events.iter().filter(|e| e.tool() == "net").collect();
    assert_eq!(net.len(), 2, "{net:?}");
    assert_eq!(net[0].url().unwrap(), "udp://127.0.0.1:53");
    let net = &net[1..];
    assert_eq!(net[0].domain().as_deref(), Some("rampart.test"));
    assert_eq!(net[0].url().unwrap(), format!("tcp://rampart.test:{port}"));
    assert!(
        matches!(&net[0].call, Call::ConnectInet { addr, .. } if addr.to_string() == "127.0.0.1")
    );
}

#[test]
fn a_call_restarted_after_a_signal_handler_is_recorded_once() {
    let probe = probe("restart", true);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let (report, events) = trace(&[probe.as_os_str(), fifo.as_os_str()]);
    assert_eq!(report.status, 0, "the restarted open succeeded");
    let root = root_exec(&events);
    let opens = opens_of(&events, &canonical(&fifo));
    let seen: Vec<(i32, &str, Outcome)> =
        opens.iter().map(|e| (e.pid, e.tool(), e.outcome)).collect();
    let reads: Vec<_> = seen.iter().filter(|s| s.1 == "read").collect();
    assert_eq!(
        reads,
        vec![&(root.pid, "read", Outcome::Ok)],
        "the restarted open, once: {seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|s| s.1 == "write" && s.2 == Outcome::Ok)
            .count(),
        1,
        "the handler child's open"
    );
    assert_eq!(
        opens_of(&events, "/dev/null").len(),
        1,
        "the handler's own open, between the two halves"
    );
}

#[test]
fn a_reused_directory_descriptor_resolves_to_its_new_directory() {
    let probe = probe("dirfd_reuse", true);
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    for d in [&one, &two] {
        std::fs::write(d.path().join("f"), "x").unwrap();
    }
    let (report, events) = trace(&[
        probe.as_os_str(),
        one.path().as_os_str(),
        two.path().as_os_str(),
    ]);
    assert_eq!(report.status, 0);
    let files: Vec<String> = events
        .iter()
        .filter_map(|e| e.path().filter(|p| p.ends_with("/f")).map(str::to_string))
        .collect();
    let (a, b) = (canonical(one.path()) + "/f", canonical(two.path()) + "/f");
    assert_eq!(files, vec![a.clone(), b, a]);
}

#[test]
fn without_cwd_tracking_the_same_calls_are_recorded() {
    let probe = probe("open_variants", true);
    let runs: Vec<Vec<(String, String, Outcome)>> = [true, false]
        .into_iter()
        .map(|track_cwd| {
            let dir = tempfile::tempdir().unwrap();
            let d = canonical(dir.path());
            let mut sink = Recorder::monitor();
            let opts = Options {
                track_cwd,
                ..Options::default()
            };
            trace_with(
                &[probe.as_os_str(), dir.path().as_os_str()],
                &opts,
                &mut sink,
            );
            sink.events
                .iter()
                .skip(1)
                .map(|e| {
                    (
                        e.path().unwrap().replace(&d, "DIR"),
                        e.cwd.replace(&d, "DIR"),
                        e.outcome,
                    )
                })
                .collect()
        })
        .collect();
    // Ten opens and the probe's mkdir of `sub`.
    assert_eq!(runs[0].len(), 11);
    assert_eq!(runs[0], runs[1]);
}

#[test]
#[cfg(target_arch = "x86_64")]
fn a_watched_call_through_the_32_bit_abi_is_refused_not_passed_through() {
    let probe = probe("compat_int80", true);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("result");
    let read_result = || {
        std::fs::read_to_string(&out)
            .unwrap()
            .trim()
            .parse::<i64>()
            .unwrap()
    };
    let bare = std::process::Command::new(&probe)
        .arg(&out)
        .status()
        .unwrap();
    assert!(bare.success());
    if read_result() < 0 {
        rampart_e2e::skip(&format!(
            "this kernel has no i386 syscall emulation ({})",
            read_result()
        ));
        return;
    }
    let (report, events) = trace(&[probe.as_os_str(), out.as_os_str()]);
    assert_eq!(report.status, 0);
    assert_eq!(
        read_result(),
        -(libc::ENOSYS as i64),
        "the i386 open is refused"
    );
    assert!(opens_of(&events, "/etc/hostname").is_empty());
}

#[test]
fn a_connect_to_a_name_from_the_hosts_file_carries_the_name() {
    // A static program that reads /etc/hosts itself (no DNS answer passes
    // by): the name comes from the file it opened. `localhost` is in every
    // hosts file this suite runs on.
    let probe = probe("hosts", true);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (report, events) = trace(&[
        probe.as_os_str(),
        "localhost".as_ref(),
        port.to_string().as_ref(),
    ]);
    assert_eq!(
        report.status, 0,
        "the probe did not find localhost: {events:?}"
    );
    let net: Vec<_> = events.iter().filter(|e| e.tool() == "net").collect();
    assert_eq!(net.len(), 1, "{net:?}");
    assert_eq!(net[0].domain().as_deref(), Some("localhost"));
    assert_eq!(net[0].url().unwrap(), format!("tcp://localhost:{port}"));
}
