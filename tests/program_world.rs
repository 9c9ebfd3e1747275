//! The program's world is unchanged by watching it: the descriptors it
//! gets are the ones it would get without rampart, with a low descriptor
//! limit and standard streams closed, in monitor mode and in enforce mode
//! (where opens are pinned before they are decided).

use rampart_e2e::*;

/// Closes stdin and stdout, opens three files and prints (on stderr) the
/// numbers it got: 0, 1 and the lowest one above stderr without rampart
/// (the library's connection must not be that one).
const SCRIPT: &str = r#"
import os, sys
os.close(0)
os.close(1)
a = os.open("/etc/hostname", os.O_RDONLY)
b = os.open("/dev/null", os.O_WRONLY)
c = os.open("/etc/hostname", os.O_RDONLY | os.O_CLOEXEC)
sys.stderr.write("fds %d %d %d\n" % (a, b, c))
"#;

/// A policy under which no open passes the path screen (default deny), so
/// every open is pinned, decided and made through the pin.
const DEFAULT_DENY: &str = r#"version: "1"
default_action: deny
policies:
  - name: all-files-and-python
    rules:
      - action: allow
        when:
          path_matches: ["/**"]
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
