//! librampart_preload.so against real programs: a C probe for each
//! interposed family, run under LD_PRELOAD with a real collector socket, and
//! the frames that arrive checked the way the collector will read them.

mod common;

use std::net::TcpListener;
use std::process::Command;

use common::{argv_of, probe, run_bare, Collector};
use rampart_core::event::{Call, Op, Outcome, Proto};

fn probe_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(probe());
    c.args(args);
    c
}

fn canonical(p: &std::path::Path) -> String {
    std::fs::canonicalize(p)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn every_open_variant_is_reported_with_an_absolute_clean_path() {
    let col = Collector::start();
    let work = tempfile::tempdir().unwrap();
    let dir = canonical(work.path());
    let run = col.run(&mut probe_cmd(&["opens", &dir]));
    assert!(run.out.status.success(), "probe failed: {:?}", run.out);
    assert_eq!(run.stdout(), "opens done\n");

    let probe_exe = canonical(probe());
    // (path, tool, how many such opens the probe makes)
    let expect = [
        (format!("{dir}/sub"), "read", 1),             // open O_DIRECTORY
        (format!("{dir}/f-open"), "write", 1),         // open O_CREAT
        (format!("{dir}/f-open"), "read", 3),          // __open_2, __open64_2, freopen64
        (format!("{dir}/f-open64"), "write", 1),       // "./sub/../f-open64"
        (format!("{dir}/sub/f-openat"), "write", 1),   // openat(dirfd)
        (format!("{dir}/sub/f-openat"), "read", 2),    // __openat_2, __openat64_2
        (format!("{dir}/sub/f-openat64"), "write", 1), // "sub//f-openat64"
        (format!("{dir}/f-creat"), "write", 1),
        (format!("{dir}/sub/f-creat64"), "write", 1),
        (format!("{dir}/f-fopen"), "write", 1),    // fopen "w"
        (format!("{dir}/f-fopen"), "read", 1),     // fopen64 "r"
        (format!("{dir}/f-freopen"), "write", 1),  // freopen "a+"
        (format!("{dir}/f-sys-open"), "write", 1), // syscall(SYS_open)
        (format!("{dir}/sub/f-sys-openat"), "write", 1), // syscall(SYS_openat, dirfd)
        (format!("{dir}/sub/f-sys-openat"), "read", 1), // syscall(SYS_openat2, dirfd)
    ];
    for (path, tool, n) in &expect {
        let seen = run
            .opens_of(path)
            .into_iter()
            .filter(|e| e.tool() == *tool)
            .count();
        assert_eq!(seen, *n, "{tool} opens of {path}: {:?}", run.open_paths());
    }
    let total: usize = expect.iter().map(|e| e.2).sum();
    assert_eq!(
        run.open_paths().len(),
        total,
        "unexpected extra opens: {:?}",
        run.open_paths()
    );
    // The probe makes its directory first: that mkdir is the one other event.
    let others: Vec<&Call> = run
        .events
        .iter()
        .map(|e| &e.call)
        .filter(|c| !matches!(c, Call::Open { .. }))
        .collect();
    assert_eq!(
        others,
        [&Call::Mutate {
            op: Op::Mkdir,
            path: format!("{dir}/sub"),
            new_path: None,
            target: None,
            resolved: None,
            new_resolved: None,
        }]
    );
    for e in &run.events {
        assert_eq!(e.outcome, Outcome::Ok, "{e:?}");
        assert_eq!(e.exe, probe_exe);
        assert_eq!(e.cwd, dir);
        assert!(!e.truncated);
    }
    // All files really exist where the records say.
    for (path, _, _) in &expect {
        assert!(std::path::Path::new(path).exists(), "{path}");
    }
}

#[test]
fn failing_calls_keep_their_errno_and_are_reported_with_it() {
    let col = Collector::start();
    let bare = run_bare(&mut probe_cmd(&["errno"]));
    let run = col.run(&mut probe_cmd(&["errno"]));
    assert_eq!(run.stdout(), String::from_utf8_lossy(&bare.stdout));
    assert!(run
        .stdout()
        .contains(&format!("open missing: -1 {}\n", libc::ENOENT)));
    assert!(run.stdout().contains("open ok leaves errno: 0\n"));

    let missing = run.opens_of("/nonexistent-dir/x");
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].outcome, Outcome::Errno(libc::ENOENT));
    let dir = run.opens_of("/");
    assert_eq!(dir.len(), 1);
    assert_eq!(dir[0].outcome, Outcome::Errno(libc::EISDIR));
    assert_eq!(dir[0].tool(), "write");
    assert_eq!(
        run.opens_of("/nonexistent-dir/y")[0].outcome,
        Outcome::Errno(libc::ENOENT)
    );
    // openat with a descriptor that is not open: reported as the call's own
    // (relative) words with EBADF, nothing invented.
    let bad = run.opens_of("rel");
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].outcome, Outcome::Errno(libc::EBADF));
}

/// Each exec family member runs /usr/bin/echo; one exec record each, with
/// the resolved path, the argv, and success.
#[test]
fn every_exec_variant_is_reported_once_and_succeeds() {
    let variants = [
        ("execve", "/usr/bin/echo"),
        ("execv", "/usr/bin/echo"),
        ("execvp", "/usr/bin/echo"),
        ("execvpe", "/usr/bin/echo"),
        ("execl", "/usr/bin/echo"),
        ("execlp", "/usr/bin/echo"),
        ("execle", "/usr/bin/echo"),
        ("execveat", "/usr/bin/echo"),
        ("fexecve", "/usr/bin/echo"),
        ("syscall", "/usr/bin/echo"),
        ("posix_spawn", "/usr/bin/echo"),
        ("posix_spawnp", "/usr/bin/echo"),
    ];
    for (variant, path) in variants {
        let col = Collector::start();
        // A PATH with misses first: the search must still be one record.
        let run = col.run(
            probe_cmd(&["exec", variant]).env("PATH", "/nonexistent:/usr/local/nope:/usr/bin:/bin"),
        );
        assert!(run.out.status.success(), "{variant}: {:?}", run.out);
        assert_eq!(run.stdout(), format!("from {variant}\n"), "{variant}");
        let execs = run.execs();
        assert_eq!(execs.len(), 1, "{variant}: {execs:?}");
        let (p, argv) = argv_of(execs[0]);
        assert_eq!(p, path, "{variant}");
        assert_eq!(argv, ["echo", "from", variant], "{variant}");
        assert_eq!(execs[0].outcome, Outcome::Ok, "{variant}");
        assert_eq!(execs[0].command().unwrap(), format!("echo from {variant}"));
    }
}

#[test]
fn system_and_popen_report_the_shell_and_the_commands_it_runs() {
    for variant in ["system", "popen"] {
        let col = Collector::start();
        let bare = run_bare(&mut probe_cmd(&["exec", variant]));
        let run = col.run(&mut probe_cmd(&["exec", variant]));
        assert_eq!(run.out.status.code(), bare.status.code(), "{variant}");
        assert_eq!(run.stdout(), format!("from {variant}\n"));
        let execs = run.execs();
        let sh = execs
            .iter()
            .find(|e| argv_of(e).0 == "/bin/sh")
            .unwrap_or_else(|| panic!("{variant}: no exec of /bin/sh in {execs:?}"));
        assert_eq!(argv_of(sh).1, ["sh", "-c", &format!("echo from {variant}")]);
        assert_eq!(sh.outcome, Outcome::Ok);
        assert_eq!(sh.exe, canonical(probe()));
        assert_eq!(sh.pid, run.hellos[0].pid, "reported by the caller");
    }
}

#[test]
fn a_failed_path_search_is_one_record_with_the_final_errno() {
    let col = Collector::start();
    let dirs = tempfile::tempdir().unwrap();
    let a = dirs.path().join("a");
    let b = dirs.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    // In b: a file of that name without execute permission → EACCES wins.
    std::fs::write(b.join("not-runnable"), "#!/bin/sh\n").unwrap();
    let path = format!("/nonexistent:{}:{}", a.display(), b.display());

    let run = col.run(probe_cmd(&["execvp-missing", "no-such-command-x"]).env("PATH", &path));
    assert_eq!(run.stdout(), format!("execvp: {}\n", libc::ENOENT));
    let execs = run.execs();
    assert_eq!(execs.len(), 1, "{execs:?}");
    assert_eq!(argv_of(execs[0]).0, "no-such-command-x");
    assert_eq!(execs[0].outcome, Outcome::Errno(libc::ENOENT));

    let run = col.run(probe_cmd(&["execvp-missing", "not-runnable"]).env("PATH", &path));
    let bare = run_bare(probe_cmd(&["execvp-missing", "not-runnable"]).env("PATH", &path));
    assert_eq!(run.stdout(), String::from_utf8_lossy(&bare.stdout));
    // root may execute nothing without an x bit either: EACCES both ways.
    assert_eq!(run.stdout(), format!("execvp: {}\n", libc::EACCES));
    let execs = run.execs();
    assert_eq!(execs.len(), 1, "{execs:?}");
    assert_eq!(execs[0].outcome, Outcome::Errno(libc::EACCES));
}

#[test]
fn a_script_without_interpreter_line_runs_through_sh_as_glibc_does() {
    let col = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("plain-script");
    std::fs::write(&script, "echo from script \"$@\"\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = col.run(
        probe_cmd(&["exec", "script", "plain-script"])
            .env("PATH", format!("/nonexistent:{}", dir.path().display())),
    );
    let bare = run_bare(
        probe_cmd(&["exec", "script", "plain-script"])
            .env("PATH", format!("/nonexistent:{}", dir.path().display())),
    );
    assert_eq!(run.stdout(), String::from_utf8_lossy(&bare.stdout));
    assert_eq!(run.stdout(), "from script from script\n");
    let execs = run.execs();
    let first = execs.iter().find(|e| e.exe == canonical(probe())).unwrap();
    assert_eq!(argv_of(first).0, canonical(&script));
    assert_eq!(first.outcome, Outcome::Ok);
}

#[test]
fn vfork_children_are_reported_and_the_parent_keeps_its_connection() {
    let col = Collector::start();
    let run = col.run(&mut probe_cmd(&["vfork", "/etc/hostname"]));
    assert!(run.out.status.success(), "{:?}", run.out);
    let out = run.stdout();
    assert_eq!(
        out.lines().take(2).collect::<Vec<_>>(),
        ["from vfork", "from vfork2"]
    );
    let parent: i32 = out
        .lines()
        .nth(2)
        .and_then(|l| l.strip_prefix("parent "))
        .unwrap()
        .parse()
        .unwrap();
    let execs = run.execs();
    assert_eq!(execs.len(), 2, "{execs:?}");
    for (e, word) in execs.iter().zip(["vfork", "vfork2"]) {
        assert_eq!(argv_of(e).1, ["echo", "from", word]);
        assert_eq!(e.outcome, Outcome::Ok);
        assert_ne!(e.pid, parent, "the exec is the child's");
        assert_eq!(e.ppid, parent);
    }
    let opens = run.opens_of("/etc/hostname");
    assert_eq!(opens.len(), 2);
    assert!(opens
        .iter()
        .all(|e| e.pid == parent && e.outcome == Outcome::Ok));
}

#[test]
fn a_vfork_child_changing_directory_does_not_move_its_parent() {
    let col = Collector::start();
    let (home, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (home, elsewhere) = (canonical(home.path()), canonical(elsewhere.path()));
    let run = col.run(probe_cmd(&["vfork-chdir", &elsewhere]).current_dir(&home));
    assert_eq!(run.stdout(), "vfork-chdir done\n");
    assert_eq!(run.opens_of(&format!("{home}/before")).len(), 1);
    let after = run.opens_of(&format!("{home}/after"));
    assert_eq!(after.len(), 1, "{:?}", run.open_paths());
    assert_eq!(after[0].cwd, home);
    let exec = &run.execs()[0];
    assert_eq!(
        exec.cwd, elsewhere,
        "the child's exec happened in its new cwd"
    );

    // The same through Python's subprocess (vfork + chdir in the child).
    let script =
        "import subprocess; subprocess.run(['/usr/bin/true'], cwd='/'); open('py-after', 'w')";
    let run = col.run(
        Command::new("/usr/bin/python3")
            .args(["-c", script])
            .current_dir(&home),
    );
    assert!(run.out.status.success(), "{:?}", run.out);
    assert_eq!(
        run.opens_of(&format!("{home}/py-after")).len(),
        1,
        "{:?}",
        run.open_paths()
    );
}

#[test]
fn threads_forking_and_execing_concurrently_lose_nothing() {
    let col = Collector::start();
    let run = col.run(&mut probe_cmd(&["threads", "8"]));
    assert_eq!(run.stdout(), "threads done\n");
    let execs = run.execs();
    assert_eq!(execs.len(), 40, "{execs:?}");
    let mut tags: Vec<&str> = execs.iter().map(|e| argv_of(e).1[1]).collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), 40, "each child's exec exactly once");
    assert!(execs
        .iter()
        .all(|e| e.outcome == Outcome::Ok && argv_of(e).0 == "/usr/bin/true"));
    let me = std::process::id() as i32;
    let parent = run.hellos.iter().find(|h| h.ppid == me).unwrap().pid;
    let opens = run.opens_of("/etc/hostname");
    assert_eq!(opens.len(), 40);
    assert!(opens.iter().all(|e| e.pid == parent));
}

#[test]
fn closing_every_descriptor_does_not_lose_the_next_open() {
    let col = Collector::start();
    let run = col.run(&mut probe_cmd(&["close-range", "/etc/passwd"]));
    assert_eq!(run.stdout(), "close-range done\n");
    assert_eq!(run.opens_of("/etc/hostname").len(), 1);
    assert_eq!(
        run.opens_of("/etc/passwd").len(),
        3,
        "{:?}",
        run.open_paths()
    );
}

#[test]
fn closing_descriptors_one_by_one_does_not_lose_the_next_open() {
    let col = Collector::start();
    let run = col.run(&mut probe_cmd(&["close-loop", "/etc/passwd"]));
    assert_eq!(run.stdout(), "close-loop done\n");
    assert_eq!(run.opens_of("/etc/hostname").len(), 1);
    assert_eq!(run.opens_of("/etc/passwd").len(), 1);
}

#[test]
fn relative_opens_follow_every_kind_of_chdir() {
    let col = Collector::start();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (canonical(a.path()), canonical(b.path()));
    let run = col.run(&mut probe_cmd(&["cwd-moves", &a, &b]));
    assert_eq!(run.stdout(), "cwd-moves done\n");
    // x1 in a (chdir), x2 in b (chdir), x3 in a (fchdir), x4 in b (SYS_chdir)
    for (name, dir) in [("x1", &a), ("x2", &b), ("x3", &a), ("x4", &b)] {
        let path = format!("{dir}/{name}");
        let seen = run.opens_of(&path);
        assert_eq!(seen.len(), 1, "{path}: {:?}", run.open_paths());
        assert_eq!(
            &seen[0].cwd, dir,
            "the record's cwd is the cwd at call time"
        );
        assert!(std::path::Path::new(&path).exists());
    }
}

#[test]
fn a_directory_descriptor_reused_for_another_directory_resolves_to_the_new_one() {
    let col = Collector::start();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (canonical(a.path()), canonical(b.path()));
    let run = col.run(&mut probe_cmd(&["dirfd-reuse", &a, &b]));
    assert_eq!(run.stdout(), "dirfd-reuse done\n", "{:?}", run.out);
    for (name, dir) in [("y1", &a), ("y2", &b), ("y3", &a), ("y4", &b)] {
        let path = format!("{dir}/{name}");
        assert_eq!(
            run.opens_of(&path).len(),
            1,
            "{path}: {:?}",
            run.open_paths()
        );
        assert!(std::path::Path::new(&path).exists());
    }
}

#[test]
fn dup2_over_every_descriptor_neither_loses_events_nor_writes_into_the_program() {
    let col = Collector::start();
    let run = col.run(&mut probe_cmd(&["dup2-all", "/etc/passwd"]));
    assert_eq!(run.stdout(), "bytes in socket: 0\n");
    assert_eq!(run.opens_of("/etc/hostname").len(), 1);
    assert_eq!(run.opens_of("/etc/passwd").len(), 1);
}

#[test]
fn children_stay_watched_after_env_i_unsetenv_and_a_bare_envp() {
    let col = Collector::start();
    // `env -i` clears the environment, then execs.
    let run = col.run(Command::new("/usr/bin/env").args([
        "-i",
        "/bin/sh",
        "-c",
        "cat /etc/hostname >/dev/null",
    ]));
    assert!(run.out.status.success());
    assert!(
        run.opens_of("/etc/hostname")
            .iter()
            .any(|e| e.exe == "/usr/bin/cat"),
        "grandchild lost after env -i: {:?}",
        run.events
    );

    let run = col.run(
        probe_cmd(&["unsetenv-exec", "cat /etc/hostname >/dev/null; env"])
            .env("RAMPART_AGENT", "a1"),
    );
    assert!(run
        .opens_of("/etc/hostname")
        .iter()
        .any(|e| e.exe == "/usr/bin/cat"));
    // The program's own unsetenv of RAMPART_AGENT is put back too.
    let out = run.stdout();
    assert!(out.lines().any(|l| l == "RAMPART_AGENT=a1"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("LD_PRELOAD=")), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("RAMPART_SOCKET=")),
        "{out}"
    );

    let run = col.run(&mut probe_cmd(&[
        "execle-bare",
        "cat /etc/hostname >/dev/null; env",
    ]));
    assert!(run
        .opens_of("/etc/hostname")
        .iter()
        .any(|e| e.exe == "/usr/bin/cat"));
    let out = run.stdout();
    assert!(out.lines().any(|l| l == "ONLY=1"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("LD_PRELOAD=")), "{out}");
}

#[test]
fn popen_system_and_posix_spawn_children_stay_watched_after_unsetenv() {
    let col = Collector::start();
    let run = col.run(&mut probe_cmd(&[
        "unsetenv-spawn",
        "cat /etc/hostname >/dev/null; echo ran",
    ]));
    assert_eq!(
        run.stdout(),
        "ran\nran\nran\nstill unset: 1\n",
        "{:?}",
        run.out
    );
    let cats = run
        .opens_of("/etc/hostname")
        .into_iter()
        .filter(|e| e.exe == "/usr/bin/cat")
        .count();
    assert_eq!(
        cats, 3,
        "one cat per popen, system, posix_spawn: {:?}",
        run.events
    );
}

#[test]
fn a_collector_that_dies_mid_run_neither_hangs_nor_kills_the_program() {
    let col = Collector::start();
    let mut child = Command::new("/bin/sh")
        .args([
            "-c",
            "for i in $(seq 300); do cat /etc/hostname >/dev/null; done; echo finished",
        ])
        .env("LD_PRELOAD", common::library())
        .env("RAMPART_SOCKET", &col.socket)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the collector once the loop is well under way, and still running.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while col.frames_so_far().len() < 10 {
        assert!(std::time::Instant::now() < deadline, "no frames arrived");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the loop ended too soon"
    );
    drop(col); // closes the listener and every connection
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "finished\n");
}

#[test]
fn hello_names_the_process_agent_and_session() {
    let col = Collector::start();
    let run = col.run(
        Command::new("/usr/bin/cat")
            .arg("/etc/hostname")
            .env("RAMPART_AGENT", "claude-code")
            .env("RAMPART_SESSION", "sess-42")
            .current_dir("/tmp"),
    );
    assert_eq!(run.hellos.len(), 1, "{:?}", run.hellos);
    let h = &run.hellos[0];
    assert_eq!(h.exe, "/usr/bin/cat");
    assert_eq!(h.cwd, canonical(std::path::Path::new("/tmp")));
    assert_eq!(
        (h.agent.as_str(), h.session.as_str()),
        ("claude-code", "sess-42")
    );
    assert_eq!(h.ppid, std::process::id() as i32);
}

#[test]
fn tcp_connects_carry_the_address_and_the_name_resolved() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let col = Collector::start();
    for (how, domain) in [
        ("connect-ip", None),
        ("connect-gai", Some("localhost")),
        ("connect-ghbn", Some("localhost")),
    ] {
        let run = col.run(&mut probe_cmd(&[how, &port.to_string()]));
        assert_eq!(run.stdout(), "connect: 0 0\n", "{how}");
        let nets: Vec<_> = run.events.iter().filter(|e| e.tool() == "net").collect();
        assert_eq!(nets.len(), 1, "{how}: {nets:?}");
        let e = nets[0];
        assert_eq!(
            e.call,
            Call::ConnectInet {
                addr: "127.0.0.1".parse().unwrap(),
                port,
                proto: Proto::Tcp,
                domain: domain.map(String::from),
            },
            "{how}"
        );
        assert_eq!(e.outcome, Outcome::Ok);
        let host = domain.unwrap_or("127.0.0.1");
        assert_eq!(e.url().unwrap(), format!("tcp://{host}:{port}"));
    }
    // Nobody listening: refused, and the program sees the same errno.
    drop(listener);
    let run = col.run(&mut probe_cmd(&["connect-ip", &port.to_string()]));
    assert_eq!(
        run.stdout(),
        format!("connect: -1 {}\n", libc::ECONNREFUSED)
    );
    let nets: Vec<_> = run.events.iter().filter(|e| e.tool() == "net").collect();
    assert_eq!(nets[0].outcome, Outcome::Errno(libc::ECONNREFUSED));
}

#[test]
fn udp_and_unix_connects_are_reported() {
    let col = Collector::start();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let run = col.run(&mut probe_cmd(&["connect-udp", &port.to_string()]));
    let e = run.events.iter().find(|e| e.tool() == "net").unwrap();
    assert_eq!(e.url().unwrap(), format!("udp://127.0.0.1:{port}"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sock");
    let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let run = col.run(&mut probe_cmd(&["connect-unix", path.to_str().unwrap()]));
    assert_eq!(run.stdout(), "connect: 0 0\n");
    let e = run.events.iter().find(|e| e.tool() == "net").unwrap();
    assert_eq!(
        e.call,
        Call::ConnectUnix {
            path: path.to_string_lossy().into_owned()
        }
    );
}

#[test]
fn a_long_argv_is_cut_and_flagged_but_the_exec_is_reported_and_runs() {
    let col = Collector::start();
    let run = col.run(&mut probe_cmd(&["long-argv", "20000"]));
    assert!(run.out.status.success());
    let execs = run.execs();
    assert_eq!(execs.len(), 1);
    let e = execs[0];
    assert!(e.truncated);
    assert_eq!(e.outcome, Outcome::Ok);
    let (path, argv) = argv_of(e);
    assert_eq!(path, "/usr/bin/true");
    assert_eq!(argv[0], "true");
    assert!(argv.len() >= 2 && argv[1].len() < 20000 && argv[1].bytes().all(|b| b == b'x'));
}

#[test]
fn output_and_exit_status_are_identical_with_and_without_the_library() {
    let col = Collector::start();
    let script = "echo out; echo err >&2; ls /nonexistent-zz; cat /etc/hostname; exit 3";
    let bare = run_bare(Command::new("/bin/sh").args(["-c", script]));
    let run = col.run(Command::new("/bin/sh").args(["-c", script]));
    assert_eq!(run.out.stdout, bare.stdout);
    assert_eq!(run.out.stderr, bare.stderr);
    assert_eq!(run.out.status.code(), Some(3));
    assert_eq!(run.out.status.code(), bare.status.code());
    // And it was watched: the ls and cat execs are there.
    let names: Vec<&str> = run.execs().iter().map(|e| argv_of(e).1[0]).collect();
    assert!(names.contains(&"ls") && names.contains(&"cat"), "{names:?}");
}

#[test]
fn without_a_collector_programs_run_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let script = "echo out; cat /etc/hostname; ls /nonexistent-zz; exit 4";
    let bare = run_bare(Command::new("/bin/sh").args(["-c", script]));
    let out = Command::new("/bin/sh")
        .args(["-c", script])
        .env("LD_PRELOAD", common::library())
        .env("RAMPART_SOCKET", dir.path().join("nobody-listens.sock"))
        .output()
        .unwrap();
    assert_eq!(out.stdout, bare.stdout);
    assert_eq!(out.stderr, bare.stderr);
    assert_eq!(out.status.code(), Some(4));
}

/// A process whose records go into its ring would not notice its collector
/// die (a post never fails): it checks the socket at most every 100 ms, and
/// when the collector is gone, what the ring still held is counted as lost
/// along with what could not be sent, and reported to the next collector at
/// that address. Received + lost = calls made, exactly.
#[test]
fn records_left_in_the_ring_of_a_collector_that_died_are_counted_as_lost() {
    let c = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let program = common::compile(
        dir.path(),
        "posts",
        r#"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    struct stat st;
    for (int i = 0; i < 120; i++) {
        close(open(argv[1], O_RDONLY));
        if (i == 89) {
            close(creat(argv[2], 0600)); /* ready */
            while (stat(argv[3], &st) != 0) usleep(1000); /* go */
        }
        if (i >= 90) usleep(10000);
    }
    return 0;
}
"#,
    );
    let target = dir.path().join("target");
    std::fs::write(&target, "t").unwrap();
    let (ready, go) = (dir.path().join("ready"), dir.path().join("go"));
    let mut cmd = Command::new(&program);
    cmd.args([&target, &ready, &go])
        .env("LD_PRELOAD", common::library())
        .env("RAMPART_SOCKET", &c.socket);
    let mut child = cmd.spawn().unwrap();
    while !ready.exists() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // Let the collector read what it will, then die on the process.
    std::thread::sleep(std::time::Duration::from_millis(50));
    c.hang_up();
    std::fs::write(&go, "").unwrap();
    assert!(child.wait().unwrap().success());
    let conns = c.settle_from(0);
    let target = target.to_str().unwrap();
    let mut received = 0u64;
    let mut lost = 0u64;
    for f in conns.iter().flat_map(|c| &c.frames) {
        match f {
            rampart_core::wire::Frame::Event { event, .. } if event.path() == Some(target) => {
                received += 1
            }
            rampart_core::wire::Frame::Lost { count } => lost += u64::from(*count),
            _ => {}
        }
    }
    assert!(conns.len() >= 2, "the process connected again: {conns:?}");
    assert!(lost > 0, "records were left unread in the dead ring");
    assert_eq!(received + lost, 120, "received {received} + lost {lost}");
}
