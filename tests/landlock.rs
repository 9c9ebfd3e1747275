//! The Landlock floor of `--mode enforce`: what the interceptors cannot
//! see (a system call made with the `syscall` instruction itself) still
//! cannot reach what a default-deny policy could never allow, and the
//! watched tree cannot signal or `ptrace` rampart. `--no-landlock` turns
//! it off, which is how each test shows the floor is what stopped the call.
//!
//! The kernel refuses those calls itself: they never reach rampart, so
//! the trail cannot hold them (the interceptors' own refusals are in it).

use std::path::Path;

use rampart_e2e::*;

/// A default-deny policy that lets programs start (the shipped paranoid
/// one), read and write the project, and run the probe.
fn policy(sb: &Sandbox, probe: &Path) -> std::path::PathBuf {
    let policy = sb.path("work.yaml");
    std::fs::write(
        &policy,
        format!(
            r#"version: "1"
default_action: deny
policies:
  - name: project
    match:
      tool: ["read", "write"]
    rules:
      - action: allow
        when:
          path_matches: ["$PROJECT/**"]
  - name: the-probe
    match:
      tool: ["exec", "read"]
    rules:
      - action: allow
        when:
          command_matches: ["{p} *"]
      - action: allow
        when:
          path_matches: ["{p}"]
"#,
            p = probe.display()
        ),
    )
    .unwrap();
    policy
}

#[test]
fn calls_the_hooks_do_not_see_cannot_reach_what_the_policy_never_allows() {
    let sb = Sandbox::new();
    let probe = sb.probe("inline", &[]);
    let policy = policy(&sb, &probe);
    let paranoid = workspace().join("policies/paranoid.yaml");
    let ssh = sb.home().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    let key = ssh.join("id_rsa");
    std::fs::write(&key, "PRIVATE KEY\n").unwrap();
    let rc = sb.home().join(".bashrc");
    std::fs::write(&rc, "export A=1\n").unwrap();
    let ours = sb.work().join("notes.txt");
    let (k, r, o) = (
        key.to_str().unwrap(),
        rc.to_str().unwrap(),
        ours.to_str().unwrap(),
    );
    let run = |extra: &[&str]| {
        let o = sb
            .rampart()
            .args([
                "run",
                "--quiet",
                "--mode",
                "enforce",
                "--backend",
                "preload",
            ])
            .args(extra)
            .arg("--policy")
            .arg(&paranoid)
            .arg("--policy")
            .arg(&policy)
            .arg("--")
            .arg(&probe)
            .args(["read", k, "write", r, "unlink", r, "write", o, "read", o])
            .output()
            .unwrap();
        stdout(&o)
    };
    let floored = run(&[]);
    assert_eq!(
        floored.lines().collect::<Vec<_>>(),
        [
            format!("read {k}: refused 13"),
            format!("write {r}: refused 13"),
            format!("unlink {r}: refused 13"),
            // What the policy allows, the floor lets through.
            format!("write {o}: ok"),
            format!("read {o}: leaked"),
        ],
    );
    assert_eq!(std::fs::read_to_string(&key).unwrap(), "PRIVATE KEY\n");
    assert_eq!(std::fs::read_to_string(&rc).unwrap(), "export A=1\n");
    // Without the floor, these calls past the hooks meet the policy's rules
    // only (the filter of unhooked calls hands them to the collector): the
    // paranoid policy refuses them by its default action, which is the
    // floor's to apply.
    let open = run(&["--no-landlock"]);
    assert!(open.contains(&format!("read {k}: leaked")), "{open}");
    assert!(open.contains(&format!("unlink {r}: ok")), "{open}");
}

#[test]
fn the_tree_cannot_signal_or_trace_rampart_under_enforce_on_either_backend() {
    // Under the standard policy (default allow) the floor is signals only.
    // PTRACE_SEIZE of rampart: no stop, and the tracer's exit lets go.
    let seize = r#"
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
r = libc.ptrace(0x4206, int(sys.argv[1]), 0, 0)
print("attach=%d errno=%d" % (r, ctypes.get_errno()))
"#;
    let attacks = r#"
kill -0 $PPID; echo "probe=$?"
kill -STOP $PPID; echo "stop=$?"
kill -KILL $PPID; echo "kill=$?"
python3 -c "$SEIZE" $PPID
sleep 5 & kill $!; wait $!; echo "own-child=$?"
"#;
    for backend in ["preload", "trace"] {
        let sb = Sandbox::new();
        let o = sb
            .rampart()
            .env("SEIZE", seize)
            .args(["run", "--quiet", "--mode", "enforce", "--backend", backend])
            .args(["--", "bash", "-c", attacks])
            .output()
            .unwrap();
        let out = stdout(&o);
        assert!(
            o.status.success(),
            "{backend}: rampart ended {:?}\n{out}",
            o.status
        );
        for refused in ["probe=1", "stop=1", "kill=1", "attach=-1 errno=1"] {
            assert!(out.contains(refused), "{backend}: no {refused}:\n{out}");
        }
        // Its own processes it may still signal.
        assert!(out.contains("own-child=143"), "{backend}: {out}");
        // Without the floor the harmless probes reach rampart (signal 0;
        // under preload a seize that stops nothing, while a seize of the
        // tracer by its own tracee would deadlock both): the floor is what
        // refused them.
        let probes = match backend {
            "preload" => "kill -0 $PPID; echo \"probe=$?\"; python3 -c \"$SEIZE\" $PPID",
            _ => "kill -0 $PPID; echo \"probe=$?\"",
        };
        let o = sb
            .rampart()
            .env("SEIZE", seize)
            .args(["run", "--quiet", "--mode", "enforce", "--no-landlock"])
            .args(["--backend", backend, "--", "bash", "-c", probes])
            .output()
            .unwrap();
        let out = stdout(&o);
        assert!(out.contains("probe=0"), "{backend}: {out}");
        if backend == "preload" {
            assert!(out.contains("attach=0 errno=0"), "{backend}: {out}");
        }
    }
}

/// A policy learned under preload holds no directory listing (libc opens
/// the directory itself, past the hooks): enforced, the floor must not make
/// the same work fail on its `ls`.
#[test]
fn a_learned_policy_enforced_still_lists_directories_it_never_named() {
    let sb = Sandbox::new();
    let listed = sb.path("listed");
    std::fs::create_dir_all(&listed).unwrap();
    std::fs::write(listed.join("a"), "a").unwrap();
    let work = format!(
        "cat /etc/hostname >/dev/null; ls {} >/dev/null",
        listed.display()
    );
    assert_ok(&sb.run_backend("preload", &["bash", "-c", &work]));
    let learned = sb.path("learned.yaml");
    let o = sb.learn_into(&learned);
    assert_ok(&o);
    let enforce = |script: &str| {
        sb.rampart()
            .arg("--policy")
            .arg(&learned)
            .args([
                "run",
                "--quiet",
                "--mode",
                "enforce",
                "--backend",
                "preload",
                "--",
                "bash",
                "-c",
                script,
            ])
            .output()
            .unwrap()
    };
    let o = enforce(&work);
    assert_ok(&o);
    // That files the policy never allows stay refused by the kernel is
    // `calls_the_hooks_do_not_see_cannot_reach_what_the_policy_never_allows`.
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// A program that sandboxes itself with Landlock (as coding agents do for
/// the commands they run) stays sandboxed under enforce: the calls rampart
/// makes for it (those past the hooks, a static program's, the tracer's
/// mutations) are made in the same domain, so the kernel refuses them as
/// on a bare run, in the program and in a child it forks afterwards.
#[test]
fn a_program_that_sandboxes_itself_stays_sandboxed_under_enforce() {
    let sb = Sandbox::new();
    let allowed = sb.work().join("allowed");
    std::fs::create_dir(&allowed).unwrap();
    std::fs::write(allowed.join("ok"), "ok\n").unwrap();
    let denied = sb.work().join("denied.txt");
    let dynamic = sb.probe("landlocked", &[]);
    let fixed = sb.probe_as("landlocked", "landlocked_static", &["-static"]);
    for child in [false, true] {
        let mut args = vec![allowed.as_os_str(), denied.as_os_str()];
        if child {
            args.push("child".as_ref());
        }
        std::fs::write(&denied, "keep\n").unwrap();
        let bare = std::process::Command::new(&dynamic)
            .args(&args)
            .output()
            .unwrap();
        let expected = stdout(&bare);
        if expected.starts_with("no landlock") {
            skip("this kernel has no Landlock");
            return;
        }
        let refused = format!("unlink {}: refused 13", denied.display());
        assert!(expected.contains(&refused), "bare run: {expected}");
        for (backend, probe) in [
            ("preload", &dynamic),
            ("preload", &fixed),
            ("trace", &dynamic),
            ("trace", &fixed),
        ] {
            std::fs::write(&denied, "keep\n").unwrap();
            let o = sb
                .rampart()
                .args(["run", "--quiet", "--mode", "enforce", "--backend", backend])
                .arg("--")
                .arg(probe)
                .args(&args)
                .output()
                .unwrap();
            assert_eq!(
                stdout(&o),
                expected,
                "{backend} {} (child: {child}): {}",
                probe.display(),
                stderr(&o)
            );
            assert_eq!(std::fs::read_to_string(&denied).unwrap(), "keep\n");
        }
    }
    // What the kernel refused is in the trail as the program saw it.
    let kernel_refused = sb
        .records()
        .iter()
        .filter(|r| r["request"]["path"] == denied.to_str().unwrap())
        .filter(|r| r["request"]["outcome"] == "EACCES")
        .count();
    assert!(
        kernel_refused >= 8,
        "{kernel_refused} refusals in the trail"
    );
}
