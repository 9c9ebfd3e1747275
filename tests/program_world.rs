//! The program's world is unchanged by watching it, and the trail tells it
//! as it was: the descriptors it gets are the ones it would get without
//! rampart, with a low descriptor limit and standard streams closed, in
//! monitor mode and in enforce mode (where opens are pinned before they are
//! decided); a removed working directory and a file name that is not UTF-8
//! are recorded and decided as the kernel sees them. Calls rampart makes for
//! a program (the tap's) are made once, even when the program's signals
//! interrupt it, reach the program's own files in its own root or mount
//! namespace, and leave a Unix socket's peer seeing the program; rampart
//! under rampart works.

use rampart_e2e::*;

/// Closes stdin and stdout, opens three files, a directory and a file
/// relative to it, and prints (on stderr) the numbers it got: 0, 1 and the
/// lowest ones above stderr without rampart (neither the library's
/// connection nor the directory it pins for the relative open may take
/// one).
const SCRIPT: &str = r#"
import os, sys
os.close(0)
os.close(1)
a = os.open("/etc/hostname", os.O_RDONLY)
b = os.open("/dev/null", os.O_WRONLY)
c = os.open("/etc/hostname", os.O_RDONLY | os.O_CLOEXEC)
d = os.open("/etc", os.O_RDONLY | os.O_DIRECTORY)
e = os.open("hostname", os.O_RDONLY, dir_fd=d)
sys.stderr.write("fds %d %d %d %d %d\n" % (a, b, c, d, e))
"#;

/// A policy under which no open passes the path screen (default deny, and
/// its files allowed by a pattern with a wildcard, which opens no place
/// the screen could let a path through by), so every open is pinned,
/// decided and made through the pin.
const DEFAULT_DENY: &str = r#"version: "1"
default_action: deny
policies:
  - name: all-files-and-python
    rules:
      - action: allow
        when:
          path_matches: ["/*", "/*/**"]
      - action: allow
        when:
          command_matches: ["*"]
"#;

#[test]
fn descriptor_numbers_are_the_programs_with_a_low_limit_and_closed_streams() {
    let sb = Sandbox::new();
    let policy = sb.path("deny.yaml");
    std::fs::write(&policy, DEFAULT_DENY).unwrap();
    let shell = format!("ulimit -n 64; exec python3 -c '{SCRIPT}'");
    let bare = std::process::Command::new("bash")
        .args(["-c", &shell])
        .output()
        .unwrap();
    let expected = stderr(&bare).trim().to_string();
    assert!(expected.starts_with("fds 0 1 "), "{expected}");
    for (mode, extra) in [
        ("monitor", vec![]),
        ("enforce", vec!["--policy", policy.to_str().unwrap()]),
    ] {
        let o = sb
            .rampart()
            .args(["run", "--quiet", "--backend", "preload", "--mode", mode])
            .args(&extra)
            .args(["--", "bash", "-c", &shell])
            .output()
            .unwrap();
        assert_eq!(stderr(&o).trim(), expected, "{mode}");
    }
}

/// Opens of every kind made with inline system calls (no hook of libc sees
/// them: the filter of unhooked calls does, and under enforce rampart makes
/// each allowed one itself and hands the descriptor over): what the
/// program sees of each — errno, descriptor number, close-on-exec, status
/// flags, file type and size, the mode a created file gets under its
/// umask, a truncation, a FIFO that waits for its writer, `/proc/self`
/// and `/dev/fd` names — is what it sees without rampart, for a dynamic
/// and a static build, in both modes, on both backends. The enforced
/// policy denies by default, so the Landlock floor is on.
#[test]
fn opens_no_hook_sees_behave_as_without_rampart() {
    let sb = Sandbox::new();
    let policy = sb.path("deny.yaml");
    std::fs::write(&policy, DEFAULT_DENY).unwrap();
    let dynamic = sb.probe("open_kinds", &[]);
    let fixed = sb.probe_as("open_kinds", "open_kinds_static", &["-static"]);
    let dir = |name: &str| {
        let d = sb.work().join(name);
        std::fs::create_dir(&d).unwrap();
        d
    };
    let bare = std::process::Command::new(&fixed)
        .arg(dir("bare"))
        .output()
        .unwrap();
    let expected = stdout(&bare).replace("/bare", "/RUN");
    assert!(expected.contains("fifo-read through-fifo"), "{expected}");
    assert!(expected.contains("create-mode 640"), "{expected}");
    let mut runs = 0;
    for (backend, probe) in [
        ("preload", &dynamic),
        ("preload", &fixed),
        ("trace", &fixed),
    ] {
        for (mode, extra) in [
            ("monitor", vec![]),
            ("enforce", vec!["--policy", policy.to_str().unwrap()]),
        ] {
            runs += 1;
            let name = format!("run{runs}");
            let o = sb
                .rampart()
                .args(["run", "--quiet", "--backend", backend, "--mode", mode])
                .args(&extra)
                .arg("--")
                .arg(probe)
                .arg(dir(&name))
                .output()
                .unwrap();
            let got = stdout(&o).replace(&format!("/{name}"), "/RUN");
            assert_eq!(
                got,
                expected,
                "{backend} {mode} {}: {}",
                probe.display(),
                stderr(&o)
            );
        }
    }
    // Each run's opens are in the trail: the dynamic build's as calls past
    // the hooks, once per mode.
    let records = sb.records();
    let past_hooks = records
        .iter()
        .filter(|r| {
            r["request"]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/absent.txt"))
        })
        .filter(|r| r["request"]["source"] == "unhooked")
        .count();
    assert_eq!(past_hooks, 2);
}

/// A root tree that dropped its privileges (`setpriv` to nobody) gets no
/// more from the opens rampart makes for it than from its own: a static
/// program writing and reading a root-only file in its directory is
/// refused by the kernel (`EACCES`: the tap made the opens as nobody), and
/// a file it creates is nobody's.
#[test]
fn opens_made_for_a_tree_that_dropped_privileges_are_its_own() {
    // SAFETY: geteuid always succeeds.
    if unsafe { libc::geteuid() } != 0 {
        skip("dropping privileges needs root (run the tests as root)");
        return;
    }
    let sb = Sandbox::new();
    let probe = sb.probe_as("open_kinds", "open_kinds_static", &["-static"]);
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    mode(&sb.path(""), 0o755);
    mode(&sb.work(), 0o755);
    let nobodys = sb.work().join("nobodys");
    std::fs::create_dir(&nobodys).unwrap();
    std::os::unix::fs::chown(&nobodys, Some(65534), Some(65534)).unwrap();
    // The probe's data file, root's alone.
    let roots = nobodys.join("data.txt");
    std::fs::write(&roots, "root\n").unwrap();
    mode(&roots, 0o600);
    let script = format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups {probe} {dir} | grep -E '^(relative|create|truncate)'",
        probe = probe.display(),
        dir = nobodys.display(),
    );
    let bare = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    let expected = stdout(&bare);
    assert!(expected.contains("relative errno=13"), "{expected}");
    assert!(expected.contains("create fd=lowest"), "{expected}");
    // The library cannot reach the run's collector once it is nobody, so
    // --fail-open lets its own calls through: what is tested is the tap.
    let o = sb
        .rampart()
        .args(["run", "--quiet", "--mode", "enforce", "--fail-open", "--"])
        .args(["bash", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(stdout(&o), expected, "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&roots).unwrap(), "root\n");
    let made = std::fs::metadata(nobodys.join("made.txt")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((made.uid(), made.gid()), (65534, 65534));

    // Root that keeps its ids but drops every capability at its exec
    // (the bounding set, through prctl): it may not create a file in a
    // directory of another user's, through rampart either.
    let theirs = sb.work().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let script = format!(
        "setpriv --bounding-set -all {} {} | grep -E '^create '",
        probe.display(),
        theirs.display()
    );
    let run = |mut cmd: std::process::Command| cmd.args(["bash", "-c", &script]).output().unwrap();
    let bare = run(std::process::Command::new("env"));
    assert_eq!(stdout(&bare), "create errno=13\n", "{}", stderr(&bare));
    let mut under = sb.rampart();
    under.args(["run", "--quiet", "--mode", "enforce", "--fail-open", "--"]);
    let o = run(under);
    assert_eq!(stdout(&o), "create errno=13\n", "{}", stderr(&o));
    assert!(!theirs.join("made.txt").exists());
}

/// Changes into `work/sub`, removes it, then opens `rel.txt` (absent) and
/// `../secret.txt` (which the kernel still reaches from the removed
/// directory) and prints what it saw.
const DELETED_CWD: &str = r#"
import os, sys
os.chdir(sys.argv[1]); os.rmdir(sys.argv[1])
for name in ["rel.txt", "../secret.txt"]:
    try:
        open(name).read()
        print(name, "ok")
    except OSError as e:
        print(name, e.strerror)
"#;

#[test]
fn relative_paths_in_a_removed_cwd_are_recorded_and_decided_as_the_kernel_resolves_them() {
    for backend in ["preload", "trace"] {
        for mode in ["monitor", "enforce"] {
            let sb = Sandbox::new();
            let sub = sb.work().join("sub");
            std::fs::create_dir(&sub).unwrap();
            let secret = sb.work().join("secret.txt");
            std::fs::write(&secret, "s").unwrap();
            let policy = sb.path("no-secret.yaml");
            std::fs::write(
                &policy,
                r#"version: "1"
default_action: allow
policies:
  - name: no-secret
    match:
      tool: read
    rules:
      - action: deny
        when:
          path_matches: ["**/secret.txt"]
"#,
            )
            .unwrap();
            let out = sb
                .rampart()
                .args([
                    "run",
                    "--quiet",
                    "--backend",
                    backend,
                    "--mode",
                    mode,
                    "--policy",
                ])
                .arg(&policy)
                .args(["--", "python3", "-c", DELETED_CWD])
                .arg(&sub)
                .output()
                .unwrap();
            assert_ok(&out);
            let refused = if mode == "enforce" {
                "Permission denied"
            } else {
                "ok"
            };
            assert_eq!(
                stdout(&out),
                format!("rel.txt No such file or directory\n../secret.txt {refused}\n"),
                "{backend} {mode}"
            );
            let records = sb.records();
            let read = |p: &std::path::Path| {
                records
                    .iter()
                    .find(|r| r["tool"] == "read" && r["request"]["path"] == p.to_str().unwrap())
                    .cloned()
            };
            assert!(read(&sub.join("rel.txt")).is_some(), "{backend} {mode}");
            let s = read(&secret).unwrap_or_else(|| panic!("{backend} {mode}: no record"));
            assert_eq!(s["decision"]["action"], "deny", "{backend} {mode}");
        }
    }
}

/// Reads the file whose name is the bytes of argv[2] in the directory
/// argv[1]; prints "ok" or the error.
const READ_BYTES: &str = r#"
import os, sys
name = os.path.join(os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2]))
try:
    open(name, "rb").read()
    print("ok")
except OSError as e:
    print(e.strerror)
"#;

#[test]
fn a_name_that_is_not_utf8_round_trips_through_record_trail_log_and_init() {
    use std::os::unix::ffi::OsStrExt;
    let os = |b: &[u8]| std::ffi::OsStr::from_bytes(b).to_os_string();
    for backend in ["preload", "trace"] {
        let sb = Sandbox::new();
        // Latin-1 names (not UTF-8), outside the project (the work
        // directory, which a learned policy allows as a whole).
        let data = sb.path("data");
        std::fs::create_dir(&data).unwrap();
        let seen = os(b"caf\xe9.txt");
        let unseen = os(b"caf\xe8.txt");
        std::fs::write(data.join(&seen), "seen").unwrap();
        std::fs::write(data.join(&unseen), "unseen").unwrap();
        let read = |mode: &str, policy: Option<&std::path::Path>, name: &std::ffi::OsStr| {
            let mut cmd = sb.rampart();
            cmd.args(["run", "--quiet", "--backend", backend, "--mode", mode]);
            if let Some(p) = policy {
                cmd.arg("--policy").arg(p);
            }
            let o = cmd
                .args(["--", "python3", "-c", READ_BYTES])
                .arg(&data)
                .arg(name)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{backend} {mode}: {:?} {}",
                o.status,
                stderr(&o)
            );
            stdout(&o).trim().to_string()
        };
        assert_eq!(read("monitor", None, &seen), "ok", "{backend}");

        // The record names the file itself, escaped, not U+FFFD.
        let recorded = format!("{}/caf%E9.txt", data.display());
        let records = sb.records();
        let rec = expect_record(&records, "read", "path", &recorded);
        assert_eq!(rec["decision"]["action"], "allow", "{backend}");
        assert!(
            !records.iter().any(|r| r.to_string().contains('\u{FFFD}')),
            "{backend}: a lossy name in the trail"
        );
        let verify = sb.rampart().args(["audit", "verify"]).output().unwrap();
        assert_ok(&verify);
        let log = sb.rampart().args(["log"]).output().unwrap();
        assert_ok(&log);
        assert!(
            stdout(&log).contains(&recorded),
            "{backend}: {}",
            stdout(&log)
        );

        // Learned, the rule names that file: enforced, it is read and its
        // neighbour (another byte, never seen) is not.
        let policy = sb.path("learned.yaml");
        let init = sb
            .rampart()
            .args(["init", "--from-audit"])
            .arg(sb.audit())
            .arg("--output")
            .arg(&policy)
            .output()
            .unwrap();
        assert_ok(&init);
        let text = std::fs::read_to_string(&policy).unwrap();
        assert!(text.contains("caf%E9.txt"), "{backend}: {text}");
        assert_eq!(read("enforce", Some(&policy), &seen), "ok", "{backend}");
        assert_eq!(
            read("enforce", Some(&policy), &unseen),
            "Permission denied",
            "{backend}"
        );
        let records = sb.records();
        let denied = expect_record(
            &records,
            "read",
            "path",
            &format!("{}/caf%E8.txt", data.display()),
        );
        assert_eq!(denied["decision"]["action"], "deny", "{backend}");
    }
}

/// Calls the tap makes for a program are made once: a caller interrupted
/// by a signal it handles while the tap makes its call does not make it
/// again when the call restarts (`interrupted` counts each `mkdir`,
/// `rmdir`, exclusive create and `unlink` that fails, under a 20 µs timer).
#[test]
fn calls_made_for_a_program_interrupted_by_its_signals_are_made_once() {
    let sb = Sandbox::new();
    let probe = sb.probe_as("interrupted", "interrupted-static", &["-static"]);
    let dir = sb.work();
    for (backend, mode) in [
        ("trace", "monitor"),
        ("preload", "monitor"),
        ("preload", "enforce"),
    ] {
        let o = sb
            .rampart()
            .args(["run", "--quiet", "--backend", backend, "--mode", mode, "--"])
            .arg(&probe)
            .arg(&dir)
            .arg("2000")
            .output()
            .unwrap();
        assert_ok(&o);
        let out = stdout(&o);
        assert!(out.starts_with("failures 0 "), "{backend} {mode}: {out}");
        let ticks: u64 = out.split_whitespace().nth(3).unwrap().parse().unwrap();
        assert!(
            ticks > 100,
            "{backend} {mode}: the timer interrupted it: {out}"
        );
    }
}

/// A program that put itself in a chroot, or in a mount namespace of its
/// own, reaches its own files under the trace backend's monitor (the tap
/// leaves its calls to the kernel), and the files outside stay as they were.
#[test]
fn a_program_in_its_own_root_or_mount_namespace_reaches_its_own_files() {
    let sb = Sandbox::new();
    let jail = sb.work().join("jail");
    std::fs::create_dir(&jail).unwrap();
    let name = format!("rampart-jail-{}", std::process::id());
    let script = format!(
        "import os\nos.chroot({jail:?}); os.chdir('/')\nopen('/{name}', 'w').write('in')\nprint(os.listdir('/'))\n",
        jail = jail.to_str().unwrap()
    );
    let o = sb
        .rampart()
        .args([
            "run",
            "--quiet",
            "--backend",
            "trace",
            "--",
            "python3",
            "-c",
        ])
        .arg(&script)
        .output()
        .unwrap();
    let outside = std::path::Path::new("/").join(&name);
    let leaked = outside.exists();
    let _ = std::fs::remove_file(&outside);
    assert_ok(&o);
    assert!(!leaked, "the write left the chroot");
    assert_eq!(std::fs::read_to_string(jail.join(&name)).unwrap(), "in");
    assert_eq!(stdout(&o).trim(), format!("['{name}']"));

    // A tmpfs mounted in a namespace of the program's own.
    let target = sb.work().join("mnt");
    std::fs::create_dir(&target).unwrap();
    let t = target.to_str().unwrap();
    let o = sb
        .rampart()
        .args([
            "run",
            "--quiet",
            "--backend",
            "trace",
            "--",
            "unshare",
            "-m",
            "sh",
            "-c",
        ])
        .arg(format!(
            "mount -t tmpfs none {t} && echo hi > {t}/f && cat {t}/f"
        ))
        .output()
        .unwrap();
    assert_ok(&o);
    assert_eq!(stdout(&o), "hi\n");
    assert!(
        !target.join("f").exists(),
        "the file was made outside the namespace"
    );
}

/// A Unix socket's peer learns who connected (`SO_PEERCRED`): under the
/// trace backend's monitor it is the program, not rampart.
#[test]
fn a_unix_socket_peer_sees_the_program_that_connected() {
    use std::os::fd::AsRawFd;
    let sb = Sandbox::new();
    let path = sb.work().join("peer.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut cred = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: SO_PEERCRED into a local ucred of its size.
        let r = unsafe {
            libc::getsockopt(
                conn.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0);
        cred.pid
    });
    let script = format!(
        "import os, socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({:?})\nprint(os.getpid())\n",
        path.to_str().unwrap()
    );
    let o = sb
        .rampart()
        .args([
            "run",
            "--quiet",
            "--backend",
            "trace",
            "--",
            "python3",
            "-c",
        ])
        .arg(&script)
        .output()
        .unwrap();
    assert_ok(&o);
    let program: i32 = stdout(&o).trim().parse().unwrap();
    assert_eq!(server.join().unwrap(), program, "the peer is the program");
}

/// Under another rampart the tree already has a listener: the trace
/// backend's monitor runs the ptrace supervisor instead, and a preloaded run
/// goes on without the tap and says so; the program works, and its calls
/// are recorded.
#[test]
fn rampart_under_rampart_records_the_program() {
    let sb = Sandbox::new();
    let calls = sb.probe_as("calls", "calls-static", &["-static"]);
    let file = sb.work().join("a.txt");
    std::fs::write(&file, "a").unwrap();
    for (backend, command) in [("trace", calls.clone()), ("preload", "/bin/cat".into())] {
        let mut cmd = sb.rampart();
        cmd.args(["run", "--quiet", "--"])
            .arg(rampart())
            .args(["run", "--backend", backend, "--"]);
        cmd.arg(&command);
        if backend == "trace" {
            cmd.arg("open");
        }
        let o = cmd.arg(&file).output().unwrap();
        assert_ok(&o);
        if backend == "preload" {
            assert_eq!(stdout(&o), "a");
            assert!(
                stderr(&o).contains("seccomp listener already"),
                "{}",
                stderr(&o)
            );
        } else {
            assert_eq!(stdout(&o).trim(), format!("open {}: ok", file.display()));
        }
        let reads = sb
            .records()
            .into_iter()
            .filter(|r| r["tool"] == "read" && r["request"]["path"] == file.to_str().unwrap())
            .count();
        // The outer rampart's filter takes the calls of a program it
        // watches past its hooks first: the inner one records what it sees.
        assert!(reads >= 1, "{backend}: the read is recorded");
    }
}

/// A setuid program (here one owned by nobody, run by root) runs with its
/// own credentials under the trace backend's monitor: the opens and
/// mutations the tap makes for it fail as they fail without rampart.
#[test]
fn a_setuid_program_keeps_its_own_credentials_for_the_calls_made_for_it() {
    if unsafe { libc::geteuid() } != 0 {
        skip("a setuid-nobody program run by root needs root");
        return;
    }
    let sb = Sandbox::new();
    let calls = sb.probe_as("calls", "calls-static", &["-static"]);
    let dir = sb.work().join("root-only");
    std::fs::create_dir(&dir).unwrap();
    let secret = dir.join("secret");
    std::fs::write(&secret, "root's").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The sandbox's own directories must let nobody reach the program.
    for d in [sb.path(""), sb.work()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let suid = sb.path("calls-nobody");
    std::fs::copy(&calls, &suid).unwrap();
    std::os::unix::fs::chown(&suid, Some(65534), None).unwrap();
    std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let args = [
        "open".to_string(),
        secret.to_str().unwrap().to_string(),
        "write".to_string(),
        dir.join("new").to_str().unwrap().to_string(),
    ];
    let native = std::process::Command::new(&suid)
        .args(&args)
        .output()
        .unwrap();
    let o = sb
        .rampart()
        .args(["run", "--quiet", "--backend", "trace", "--"])
        .arg(&suid)
        .args(&args)
        .output()
        .unwrap();
    assert_ok(&o);
    assert_eq!(stdout(&o), stdout(&native));
    assert!(stdout(&o).contains(": EACCES"), "{}", stdout(&o));
    assert!(!dir.join("new").exists());
}

/// A name the kernel may read but no one else (`memfd_secret`) is not a
/// way around the policy: the open fails as a bad pointer does, on both of
/// the trace backend's supervisors, and the protected file is not read.
#[test]
fn a_name_in_memory_only_the_kernel_reads_opens_nothing() {
    let sb = Sandbox::new();
    let probe = sb.probe_as("secret_open", "secret_open-static", &["-static"]);
    let native = std::process::Command::new(&probe)
        .arg("/etc/hostname")
        .output()
        .unwrap();
    if !stdout(&native).contains(": ok") {
        skip(&format!(
            "memfd_secret is not available: {}",
            stdout(&native)
        ));
        return;
    }
    let key = sb.home().join(".ssh/id_rsa");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "KEY").unwrap();
    let policy = workspace().join("policies/standard.yaml");
    for mode in ["monitor", "enforce"] {
        let o = sb
            .rampart()
            .args([
                "run",
                "--quiet",
                "--backend",
                "trace",
                "--mode",
                mode,
                "--policy",
            ])
            .arg(&policy)
            .arg("--")
            .arg(&probe)
            .arg(&key)
            .output()
            .unwrap();
        assert_ok(&o);
        assert_eq!(
            stdout(&o),
            "open from secret memory: Bad address\n",
            "{mode}"
        );
    }
    assert_eq!(std::fs::read_to_string(&key).unwrap(), "KEY");
}

/// Prints the program's scheduling policy and those of rampart's threads
/// (its parent's), by name, as `/proc/PID/task/TID/stat` gives them (field
/// 41: 0 is SCHED_OTHER, 3 SCHED_BATCH, 5 SCHED_IDLE).
const POLICIES: &str = r#"
import os
def policy(stat):
    return int(stat[stat.rindex(")") + 2:].split()[38])
own = policy(open("/proc/self/stat").read())
ppid = os.getppid()
threads = {}
for tid in os.listdir("/proc/%d/task" % ppid):
    base = "/proc/%d/task/%s/" % (ppid, tid)
    threads[open(base + "comm").read().strip()] = policy(open(base + "stat").read())
print(own, " ".join("%s=%d" % kv for kv in sorted(threads.items())))
"#;

/// Rampart's threads that a watched call wakes (the collector's server,
/// decide and audit stages, where they are threads of their own) run as
/// `SCHED_BATCH`, so they never preempt the program; the program itself runs with the scheduling it was given:
/// the default one, or `SCHED_IDLE` when rampart was started under `chrt
/// --idle`, whose threads are then left as they are too. Both backends,
/// both modes.
#[test]
fn the_program_keeps_its_scheduling_and_rampart_yields_to_it() {
    let sb = Sandbox::new();
    // The program's policy, and rampart's threads as `name=policy`.
    let policies = |mut cmd: std::process::Command, what: &str| -> (String, Vec<String>) {
        let o = cmd
            .args(["--", "python3", "-c", POLICIES])
            .output()
            .unwrap();
        assert_ok(&o);
        let out = stdout(&o);
        let (own, threads) = out.trim().split_once(' ').expect(what);
        (
            own.to_string(),
            threads.split(' ').map(String::from).collect(),
        )
    };
    for backend in ["preload", "trace"] {
        for mode in ["monitor", "enforce"] {
            let what = format!("{backend} {mode}");
            let mut cmd = sb.rampart();
            cmd.args(["run", "--quiet", "--backend", backend, "--mode", mode]);
            let (own, threads) = policies(cmd, &what);
            assert_eq!(own, "0", "{what}: {threads:?}");
            for stage in ["rampart-server", "rampart-decide", "rampart-audit"] {
                let found = threads
                    .iter()
                    .find_map(|t| t.strip_prefix(&format!("{stage}=")));
                match found {
                    Some(policy) => assert_eq!(policy, "3", "{what}: {stage}: {threads:?}"),
                    // Enforcing, the tracer decides and writes inline.
                    None => assert_eq!(backend, "trace", "{what}: no {stage}: {threads:?}"),
                }
            }
            // The thread that started the program is not changed.
            assert!(
                threads.iter().any(|t| t == "rampart=0"),
                "{what}: {threads:?}"
            );

            let mut cmd = sb.command("chrt");
            cmd.args(["--idle", "0"]).arg(rampart());
            cmd.args(["run", "--quiet", "--backend", backend, "--mode", mode]);
            let (own, threads) = policies(cmd, &what);
            assert_eq!(own, "5", "{what} under chrt --idle: {threads:?}");
            assert!(
                threads.iter().all(|t| t.ends_with("=5")),
                "{what} under chrt --idle: {threads:?}"
            );
        }
    }
}
