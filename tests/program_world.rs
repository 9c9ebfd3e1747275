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
