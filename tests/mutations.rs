//! Mutations (calls that change the file system without opening a file:
//! `unlink`, `rename`, `link`, `symlink`, `mkdir`, `chmod`, `chown`,
//! `truncate`, `utimensat` and their variants) under both backends, end to
//! end: a C probe that calls each once and real coreutils are recorded as
//! tool `write` with their `op`, paths and outcome; in enforce mode a policy
//! that guards a directory makes `rm`, `mv` (either end), `ln`, `chmod`
//! and `truncate` fail there and leaves the files as they were, with the
//! denial in the trail; in monitor mode the same commands work.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use rampart_e2e::*;
use serde_json::Value;

const BACKENDS: [&str; 2] = ["preload", "trace"];

fn canonical(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

/// The records that carry an `op`: the mutations.
fn mutations(records: &[Value]) -> Vec<&Value> {
    records
        .iter()
        .filter(|r| r["request"].get("op").is_some())
        .collect()
}

/// The probe's calls, in its order: the function, the op, the path, and the
/// new path (rename, link) or the target (symlink), paths relative to the
/// probe's directory (`sub` is its directory descriptor's; empty: itself).
const PROBE_CALLS: &[(&str, &str, &str, Option<&str>)] = &[
    ("mkdir", "mkdir", "sub", None),
    ("mkdirat", "mkdir", "sub/d2", None),
    ("mkdir", "mkdir", "d1", None),
    ("rmdir", "delete", "d1", None),
    ("unlinkat", "delete", "sub/d2", None),
    ("rename", "rename", "f1", Some("f2")),
    ("renameat", "rename", "f2", Some("sub/f3")),
    ("renameat2", "rename", "sub/f3", Some("f4")),
    ("link", "link", "f4", Some("sub/hl")),
    ("linkat", "link", "sub/hl", Some("hl2")),
    ("symlink", "symlink", "sl", Some("f4")),
    ("symlinkat", "symlink", "sub/sl2", Some("../f4")),
    ("chmod", "chmod", "f4", None),
    ("fchmodat", "chmod", "sub/hl", None),
    ("fchmodat2", "chmod", "f4", None),
    ("chown", "chown", "f4", None),
    ("lchown", "chown", "sl", None),
    ("fchownat", "chown", "sub/sl2", None),
    // AT_EMPTY_PATH: the descriptor's own file, here the cwd.
    ("fchownat", "chown", "", None),
    ("truncate", "truncate", "f4", None),
    ("truncate64", "truncate", "hl2", None),
    ("utime", "utime", "f4", None),
    ("utimes", "utime", "f4", None),
    ("utimensat", "utime", "sub/hl", None),
    ("lutimes", "utime", "sl", None),
    ("futimesat", "utime", "sub/sl2", None),
    ("unlink", "delete", "sl", None),
    ("remove", "delete", "hl2", None),
    ("unlink", "delete", "missing", None),
    // A descriptor's own file (opened for reading: its times still change).
    ("futimens", "utime", "f4", None),
];

#[test]
fn every_mutation_call_of_a_probe_is_recorded_under_both_backends() {
    for backend in BACKENDS {
        let sb = Sandbox::new();
        let probe = sb.probe("mutate", &[]);
        let dir = sb.work().join("d");
        std::fs::create_dir(&dir).unwrap();
        let d = canonical(&dir);
        let o = sb.run_backend(backend, &[probe.to_str().unwrap(), &d]);
        assert_ok(&o);
        // What the probe saw: "N FUNCTION: ok|ENAME", the futimens last.
        let seen: Vec<(String, String)> = stdout(&o)
            .lines()
            .map(|l| {
                let (call, result) = l.split_once(": ").unwrap();
                let function = call.split_once(' ').unwrap().1;
                (function.to_string(), result.to_string())
            })
            .collect();
        assert_eq!(seen.len(), PROBE_CALLS.len(), "{}", stdout(&o));
        assert_eq!(seen.last().unwrap(), &("futimens".into(), "ok".into()));
        assert_eq!(
            seen[PROBE_CALLS.len() - 2],
            ("unlink".into(), "ENOENT".into())
        );

        let records = sb.records();
        let got = mutations(&records);
        assert_eq!(
            got.len(),
            PROBE_CALLS.len(),
            "{backend}: one record per call: {got:#?}"
        );
        for (i, ((function, op, path, second), r)) in PROBE_CALLS.iter().zip(&got).enumerate() {
            let q = &r["request"];
            let at = format!("{backend}: call {} ({function}): {r}", i + 1);
            assert_eq!(seen[i].0, *function, "{at}");
            assert_eq!(r["tool"], "write", "{at}");
            assert_eq!(q["source"], backend, "{at}");
            assert_eq!(q["op"], *op, "{at}");
            let path = if path.is_empty() {
                d.clone()
            } else {
                format!("{d}/{path}")
            };
            assert_eq!(q["path"], path, "{at}");
            assert_eq!(q["outcome"], seen[i].1.as_str(), "{at}");
            match (*op, second) {
                ("symlink", Some(target)) => {
                    assert_eq!(q["target"], *target, "{at}");
                    assert!(q.get("new_path").is_none(), "{at}");
                }
                (_, Some(new)) => {
                    assert_eq!(q["new_path"], format!("{d}/{new}"), "{at}");
                    assert!(q.get("target").is_none(), "{at}");
                }
                (_, None) => {
                    assert!(q.get("new_path").is_none() && q.get("target").is_none())
                }
            }
        }
    }
}

#[test]
fn coreutils_mutations_are_recorded_under_both_backends() {
    let script = "set -e; rm -rf dir; mv a b; ln -s b sl; ln b hl; chmod 600 b; \
                  truncate -s0 b; touch -c b; touch new; mkdir -p p/q";
    for backend in BACKENDS {
        let sb = Sandbox::new();
        let w = canonical(&sb.work());
        std::fs::create_dir_all(sb.work().join("dir/sub")).unwrap();
        std::fs::write(sb.work().join("dir/sub/f"), "f").unwrap();
        std::fs::write(sb.work().join("a"), "abc").unwrap();
        let o = sb.run_backend(backend, &["sh", "-c", script]);
        assert_ok(&o);
        let records = sb.records();
        let find = |op: &str, path: &str| -> &Value {
            let path = format!("{w}/{path}");
            records
                .iter()
                .find(|r| r["request"]["op"] == op && r["request"]["path"] == path.as_str())
                .unwrap_or_else(|| {
                    panic!("{backend}: no {op} of {path}: {:#?}", mutations(&records))
                })
        };
        let expect = [
            ("delete", "dir/sub/f"),
            ("delete", "dir/sub"),
            ("delete", "dir"),
            ("rename", "a"),
            ("symlink", "sl"),
            ("link", "b"),
            ("chmod", "b"),
            ("utime", "b"),
            ("mkdir", "p"),
            ("mkdir", "p/q"),
        ];
        for (op, path) in expect {
            let r = find(op, path);
            assert_eq!(r["tool"], "write");
            assert_eq!(r["request"]["source"], backend, "{r}");
            assert_eq!(r["request"]["outcome"], "ok", "{r}");
        }
        assert_eq!(find("rename", "a")["request"]["new_path"], format!("{w}/b"));
        assert_eq!(find("symlink", "sl")["request"]["target"], "b");
        assert_eq!(find("link", "b")["request"]["new_path"], format!("{w}/hl"));
        // truncate(1) opens the file for writing and truncates the
        // descriptor, touch(1) opens (creating) and sets the descriptor's
        // times: both are write opens, with no op.
        for path in ["b", "new"] {
            let path = format!("{w}/{path}");
            let opens: Vec<&Value> = of_tool(&records, "write")
                .into_iter()
                .filter(|r| r["request"]["path"] == path.as_str() && r["request"]["flags"].is_i64())
                .collect();
            assert!(!opens.is_empty(), "{backend}: no write open of {path}");
        }
    }
}

/// Writes under `protected/` are denied, and reads of `*.key` files.
const GUARD: &str = r#"version: "1"
default_action: allow
policies:
  - name: protected
    match:
      tool: write
    rules:
      - action: deny
        when:
          path_matches: ["**/protected/**"]
        message: "hands off"
  - name: keys
    match:
      tool: read
    rules:
      - action: deny
        when:
          path_matches: ["**/*.key"]
"#;

/// A sandbox with `protected/f` (mode 644), `protected/secret`, `x` and
/// `id.key` in its work directory, and [`GUARD`] as `policy.yaml`.
fn guarded() -> (Sandbox, PathBuf) {
    let sb = Sandbox::new();
    let w = sb.work();
    std::fs::create_dir(w.join("protected")).unwrap();
    for (name, text) in [
        ("protected/f", "keep me\n"),
        ("protected/secret", "s3cret\n"),
        ("x", "x\n"),
        ("id.key", "k\n"),
    ] {
        std::fs::write(w.join(name), text).unwrap();
        std::fs::set_permissions(w.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let policy = sb.path("policy.yaml");
    std::fs::write(&policy, GUARD).unwrap();
    (sb, policy)
}

/// `rampart --policy POLICY run --quiet --mode MODE --backend BACKEND -- ARGV`.
fn run_with(sb: &Sandbox, policy: &Path, mode: &str, backend: &str, argv: &[&str]) -> Output {
    sb.rampart()
        .arg("--policy")
        .arg(policy)
        .args(["run", "--quiet", "--mode", mode, "--backend", backend, "--"])
        .args(argv)
        .output()
        .unwrap()
}

/// Name, content and mode of each file under `protected/`.
fn state(sb: &Sandbox) -> Vec<(String, String, u32)> {
    let mut out: Vec<(String, String, u32)> = std::fs::read_dir(sb.work().join("protected"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let mode = std::fs::symlink_metadata(&p).unwrap().permissions().mode();
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            (
                p.file_name().unwrap().to_str().unwrap().to_string(),
                text,
                mode,
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn enforce_refuses_mutations_of_a_guarded_directory_under_both_backends() {
    for backend in BACKENDS {
        let (sb, policy) = guarded();
        let w = canonical(&sb.work());
        let before = state(&sb);
        // (command, op and path of the denial, the request key that holds it)
        let cases: [(&[&str], &str, &str, &str); 7] = [
            (&["rm", "-rf", "protected"], "delete", "path", "protected/f"),
            (
                &["mv", "protected/f", "elsewhere"],
                "rename",
                "path",
                "protected/f",
            ),
            (
                &["mv", "x", "protected/f"],
                "rename",
                "new_path",
                "protected/f",
            ),
            // The source of a hard link is a write (a second name to change
            // it by) and a read (to read it by): either refuses it.
            (
                &["ln", "protected/secret", "hl"],
                "link",
                "path",
                "protected/secret",
            ),
            (&["ln", "id.key", "hl2"], "link", "path", "id.key"),
            (
                &["chmod", "777", "protected/f"],
                "chmod",
                "path",
                "protected/f",
            ),
            // truncate(1) opens the file for writing: the open is refused.
            (
                &["truncate", "-s0", "protected/f"],
                "",
                "path",
                "protected/f",
            ),
        ];
        for (argv, op, key, path) in cases {
            let from = sb.records().len();
            let o = run_with(&sb, &policy, "enforce", backend, argv);
            let what = format!("{backend}: {argv:?}");
            assert!(!o.status.success(), "{what} succeeded");
            assert!(
                stderr(&o).contains("Permission denied")
                    || stderr(&o).contains("Operation not permitted"),
                "{what}: {}",
                stderr(&o)
            );
            let records = sb.records();
            let path = format!("{w}/{path}");
            let denial = records[from..]
                .iter()
                .find(|r| {
                    r["decision"]["action"] == "deny"
                        && r["request"][key] == path.as_str()
                        && r["request"]["op"].as_str().unwrap_or("") == op
                })
                .unwrap_or_else(|| panic!("{what}: no denial of {op} {path}: {records:#?}"));
            assert_eq!(denial["tool"], "write");
            assert_eq!(denial["request"]["source"], backend);
            let errno = if op == "chmod" { "EPERM" } else { "EACCES" };
            assert_eq!(denial["request"]["outcome"], errno, "{what}");
            assert_eq!(state(&sb), before, "{what} changed protected/");
        }
        for gone in ["elsewhere", "hl", "hl2"] {
            assert!(!sb.work().join(gone).exists(), "{backend}: {gone} exists");
        }
        assert_eq!(std::fs::read_to_string(sb.work().join("x")).unwrap(), "x\n");
        assert_ok(&sb.rampart().args(["audit", "verify"]).output().unwrap());
    }
}

#[test]
fn monitor_records_the_denials_and_blocks_nothing() {
    for backend in BACKENDS {
        let (sb, policy) = guarded();
        let w = canonical(&sb.work());
        let o = run_with(
            &sb,
            &policy,
            "monitor",
            backend,
            &["sh", "-c", "chmod 600 protected/f && mv protected/f moved"],
        );
        assert_ok(&o);
        let moved = sb.work().join("moved");
        assert_eq!(std::fs::read_to_string(&moved).unwrap(), "keep me\n");
        let mode = std::fs::metadata(&moved).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{backend}");
        let records = sb.records();
        for op in ["chmod", "rename"] {
            let r = records
                .iter()
                .find(|r| r["request"]["op"] == op)
                .unwrap_or_else(|| panic!("{backend}: no {op}"));
            assert_eq!(r["request"]["path"], format!("{w}/protected/f"));
            assert_eq!(r["decision"]["action"], "deny", "{r}");
            assert_eq!(r["request"]["outcome"], "ok", "{r}");
        }
    }
}

/// In enforce mode a mutation waits for a verdict only when the policy
/// could refuse one of its paths: the others run at once and are recorded
/// with their outcome; one that waited and was allowed is recorded before
/// it ran (outcome `unknown`).
#[test]
fn mutations_the_policy_cannot_refuse_wait_for_no_verdict() {
    let policy_text = r#"version: "1"
default_action: allow
policies:
  - name: locks
    match:
      tool: write
    rules:
      - action: deny
        when:
          path_matches: ["**/locks/*.lock"]
"#;
    for backend in BACKENDS {
        let sb = Sandbox::new();
        let policy = sb.path("policy.yaml");
        std::fs::write(&policy, policy_text).unwrap();
        let w = canonical(&sb.work());
        std::fs::create_dir(sb.work().join("locks")).unwrap();
        for f in ["a", "locks/b", "locks/c.lock"] {
            std::fs::write(sb.work().join(f), f).unwrap();
        }
        let script = "mv a a2 && mv locks/b locks/b2 && ! rm locks/c.lock 2>/dev/null";
        let o = run_with(&sb, &policy, "enforce", backend, &["sh", "-c", script]);
        assert_ok(&o);
        assert!(sb.work().join("locks/c.lock").exists());
        let records = sb.records();
        let outcome = |op: &str, path: &str| {
            let path = format!("{w}/{path}");
            let r = records
                .iter()
                .find(|r| r["request"]["op"] == op && r["request"]["path"] == path.as_str())
                .unwrap_or_else(|| panic!("{backend}: no {op} of {path}"));
            (
                r["decision"]["action"].as_str().unwrap().to_string(),
                r["request"]["outcome"].as_str().unwrap().to_string(),
            )
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(outcome("rename", "a"), pair("allow", "ok"), "{backend}");
        assert_eq!(
            outcome("rename", "locks/b"),
            pair("allow", "unknown"),
            "{backend}: a path with the policy's literal waits"
        );
        assert_eq!(outcome("delete", "locks/c.lock"), pair("deny", "EACCES"));
    }
}

/// gnulib's `lchmod` (GNU tar setting the modes of what it extracted)
/// changes a file through `/proc/self/fd/N` of an `O_PATH` descriptor: a
/// call that follows the caller's own descriptor to its file. It works
/// under enforce on both backends, and is decided on that file: a guarded
/// one is refused and unchanged.
#[test]
fn a_mode_set_through_the_callers_own_descriptor_name_is_decided_on_its_file() {
    let script = "import os, sys\n\
                  for name in sys.argv[1:]:\n\
                  \x20   fd = os.open(name, os.O_PATH | os.O_NOFOLLOW)\n\
                  \x20   try:\n\
                  \x20       os.chmod('/proc/self/fd/%d' % fd, 0o600)\n\
                  \x20       print(name, 'ok')\n\
                  \x20   except PermissionError as e:\n\
                  \x20       print(name, 'refused', e.errno)\n";
    for backend in BACKENDS {
        let (sb, policy) = guarded();
        let w = sb.work();
        let before = state(&sb);
        let argv = ["python3", "-c", script, "x", "protected/f"];
        let o = run_with(&sb, &policy, "enforce", backend, &argv);
        assert_eq!(
            stdout(&o),
            format!("x ok\nprotected/f refused {}\n", libc::EPERM),
            "{backend}: {}",
            stderr(&o)
        );
        let mode = std::fs::metadata(w.join("x")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{backend}");
        assert_eq!(state(&sb), before, "{backend}: the guarded file changed");
        // An archive's directories keep their modes when it is unpacked.
        let o = run_with(
            &sb,
            &policy,
            "enforce",
            backend,
            &[
                "bash",
                "-c",
                "mkdir -p t/a/b && chmod 750 t/a && tar cf t.tar t && rm -rf t && tar xf t.tar && stat -c %a t/a",
            ],
        );
        assert_eq!(stdout(&o), "750\n", "{backend}: {}", stderr(&o));
    }
}
