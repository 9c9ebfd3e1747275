//! The policies this project ships (`policies/*.yaml` at the workspace
//! root): they load, lint clean where they should, and decide what a user of
//! each expects.

use std::path::PathBuf;

use rampart_core::policy::{lint, Action, Engine, LoadOptions, Request};

fn policy_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../policies")
        .join(name)
}

fn load(name: &str) -> Engine {
    let options = LoadOptions {
        home: Some("/home/u".to_string()),
    };
    Engine::load_with(&[policy_path(name)], &options)
        .unwrap_or_else(|e| panic!("{name} does not load: {e:?}"))
}

const CWD: &str = "/home/u/project";

fn req<'a>(tool: &'a str) -> Request<'a> {
    Request {
        tool,
        agent: "agent",
        session: "s",
        cwd: Some(CWD),
        ..Request::default()
    }
}

fn exec(command: &str) -> Request<'_> {
    Request {
        command: Some(command),
        ..req("exec")
    }
}

fn read(path: &str) -> Request<'_> {
    Request {
        path: Some(path),
        ..req("read")
    }
}

fn write(path: &str) -> Request<'_> {
    Request {
        path: Some(path),
        ..req("write")
    }
}

fn net<'a>(url: &'a str, domain: Option<&'a str>) -> Request<'a> {
    Request {
        url: Some(url),
        domain,
        ..req("net")
    }
}

fn unix_socket(path: &str) -> Request<'_> {
    Request {
        path: Some(path),
        ..req("net")
    }
}

fn check(engine: &Engine, cases: &[(Request, Action)]) {
    let mut wrong = Vec::new();
    for (r, expected) in cases {
        let d = engine.evaluate(r);
        if d.action != *expected {
            wrong.push(format!(
                "{} {:?}: expected {expected}, got {} ({:?}, {})",
                r.tool,
                r.command.or(r.path).or(r.url).unwrap_or(""),
                d.action,
                d.matched_policies,
                d.message
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong decisions:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn shipped_policies_load_and_lint() {
    for name in ["standard.yaml", "paranoid.yaml", "permissive.yaml"] {
        let path = policy_path(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let warnings = lint(&[(path.clone(), text)]).unwrap();
        let messages: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
        if name == "permissive.yaml" {
            assert_eq!(warnings.len(), 1, "{messages:#?}");
            assert!(warnings[0].message.contains("default_action: allow"));
        } else {
            assert!(warnings.is_empty(), "{name}: {messages:#?}");
        }
    }
    for name in ["standard.yaml", "paranoid.yaml"] {
        let outcomes = load(name).run_inline_tests();
        assert!(outcomes.len() >= 3, "{name} has no inline tests");
        let failed: Vec<_> = outcomes.iter().filter(|o| !o.passed).collect();
        assert!(failed.is_empty(), "{name}: {failed:#?}");
    }
    assert_eq!(load("standard.yaml").default_action(), Action::Deny);
    assert_eq!(load("paranoid.yaml").default_action(), Action::Deny);
    assert_eq!(load("permissive.yaml").default_action(), Action::Allow);
}

#[test]
fn standard_denies_secrets_but_not_what_programs_read_to_run() {
    use Action::*;
    let e = load("standard.yaml");
    check(
        &e,
        &[
            (read("/home/u/.ssh/id_rsa"), Deny),
            (read("/home/u/.ssh/id_ed25519"), Deny),
            (read("/root/.ssh/id_ecdsa"), Deny),
            (read("/home/u/.aws/credentials"), Deny),
            (
                read("/home/u/.config/gcloud/application_default_credentials.json"),
                Deny,
            ),
            (read("/home/u/.kube/config"), Deny),
            (read("/home/u/.docker/config.json"), Deny),
            (read("/home/u/.netrc"), Deny),
            (read("/home/u/.git-credentials"), Deny),
            (read("/home/u/.config/gh/hosts.yml"), Deny),
            (read("/home/u/.gnupg/private-keys-v1.d/ABC.key"), Deny),
            (read("/home/u/project/.env"), Deny),
            (read(".env"), Deny),
            (read("config/../.env.production"), Deny),
            (read("/etc/shadow"), Deny),
            (read("/etc/../etc/./shadow"), Deny),
            (read("/etc/gshadow"), Deny),
            // Recorded, not blocked: npm reads it on every run.
            (read("/home/u/.npmrc"), Watch),
            // What ordinary programs read.
            (read("/home/u/.ssh/id_rsa.pub"), Allow),
            (read("/home/u/.ssh/known_hosts"), Allow),
            (read("/home/u/project/.env.example"), Allow),
            (read("/lib64/ld-linux-x86-64.so.2"), Allow),
            (read("/etc/ld.so.cache"), Allow),
            (read("/lib/x86_64-linux-gnu/libc.so.6"), Allow),
            (read("/usr/lib/locale/locale-archive"), Allow),
            (read("/usr/share/locale/de/LC_MESSAGES/coreutils.mo"), Allow),
            (
                read("/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache"),
                Allow,
            ),
            (read("/proc/self/maps"), Allow),
            (read("/proc/self/status"), Allow),
            (read("/etc/passwd"), Allow),
            (read("/etc/nsswitch.conf"), Allow),
            (read("/etc/ssl/certs/ca-certificates.crt"), Allow),
            (read("/dev/null"), Allow),
            (read("/dev/urandom"), Allow),
            (read("/home/u/.bashrc"), Allow),
            (read("/home/u/project/src/main.rs"), Allow),
            (read("src/lib.rs"), Allow),
            (read("/tmp/cc1234.s"), Allow),
        ],
    );
}

#[test]
fn standard_denies_destructive_commands_only() {
    use Action::*;
    let e = load("standard.yaml");
    check(
        &e,
        &[
            (exec("rm -rf /"), Deny),
            (exec("rm -fr /"), Deny),
            (exec("rm -Rf / --verbose"), Deny),
            (exec("/usr/bin/rm -rf /"), Deny),
            (exec("time rm -rf /"), Deny),
            (exec("RM -rf /"), Deny),
            (exec("rm -rf --no-preserve-root /"), Deny),
            (
                exec("rm -rf /bin /boot /dev /etc /home /lib /usr /var"),
                Deny,
            ),
            (exec("rm -rf '/*'"), Deny),
            (exec("rm -rf /home/u"), Deny),
            (exec("rm -rf /home/u/"), Deny),
            (exec("rm -rf '~'"), Deny),
            (exec("rm -rf /etc"), Deny),
            (exec("rm -rf /usr"), Deny),
            (exec("mkfs.ext4 /dev/sda1"), Deny),
            (exec("/usr/sbin/mkfs.ext4 /dev/nvme0n1p2"), Deny),
            (exec("mke2fs -q /dev/sdb1"), Deny),
            (exec("/usr/sbin/mke2fs -t ext4 /dev/sdb1"), Deny),
            (exec("wipefs -a /dev/sdb"), Deny),
            (exec("dd if=/dev/zero of=/dev/sda bs=1M"), Deny),
            (
                exec("dd if=image.iso of=/dev/nvme0n1 status=progress"),
                Deny,
            ),
            (exec("shred -n 3 /dev/sdb"), Deny),
            (exec("chmod -R 777 /"), Deny),
            (exec("bash -c ':(){ :|:& };:'"), Deny),
            // Ordinary work.
            (exec("git status"), Allow),
            (exec("rm -rf build"), Allow),
            (exec("rm -rf /tmp/rampart-test"), Allow),
            (exec("rm -rf /home/u/project/target"), Allow),
            (exec("rm -f /etc2"), Allow),
            (exec("dd if=/dev/zero of=disk.img bs=1M count=1"), Allow),
            (exec("cargo build --release"), Allow),
            (
                exec("/usr/bin/gcc -O2 -c src/main.c -o build/main.o"),
                Allow,
            ),
            (exec("make -j2"), Allow),
            (exec("chmod -R 755 build"), Allow),
            // Recorded.
            (exec("sudo apt update"), Watch),
            (exec("/usr/bin/sudo -u postgres psql"), Watch),
        ],
    );
}

#[test]
fn standard_denies_writes_to_the_system_startup_files_and_ssh() {
    use Action::*;
    let e = load("standard.yaml");
    check(
        &e,
        &[
            (write("/etc/hosts"), Deny),
            (write("/etc/cron.d/job"), Deny),
            (write("/usr/local/bin/tool"), Deny),
            (write("/usr/lib/x86_64-linux-gnu/libc.so.6"), Deny),
            (write("/boot/vmlinuz"), Deny),
            (write("/var/spool/cron/crontabs/u"), Deny),
            (write("/dev/sda"), Deny),
            (write("/dev/nvme0n1"), Deny),
            (write("/home/u/.bashrc"), Deny),
            (write("/home/u/.profile"), Deny),
            (write("/home/u/.zshrc"), Deny),
            (write("/home/u/.bash_aliases"), Deny),
            (write("../.bash_profile"), Deny),
            (write("/home/u/.config/systemd/user/evil.service"), Deny),
            (write("/home/u/.ssh/authorized_keys"), Deny),
            (write("/home/u/.ssh/config"), Deny),
            (write("/home/u/.ssh/id_rsa"), Deny),
            // Ordinary writes.
            (write("/tmp/x"), Allow),
            (write("/var/tmp/build.log"), Allow),
            (write("/dev/null"), Allow),
            (write("/dev/tty"), Allow),
            (write("/dev/pts/3"), Allow),
            (write("/proc/self/fd/1"), Allow),
            (write("/home/u/project/src/main.rs"), Allow),
            (write("target/debug/app"), Allow),
            (write("/home/u/.bash_history"), Allow),
            (write("/home/u/.ssh/known_hosts"), Allow),
            (write("/home/u/.cache/pip/x"), Allow),
            (
                write("/home/u/.local/lib/python3/site-packages/x.py"),
                Allow,
            ),
        ],
    );
}

#[test]
fn standard_blocks_exfiltration_hosts_and_watches_other_connections() {
    use Action::*;
    let e = load("standard.yaml");
    check(
        &e,
        &[
            (net("tcp://webhook.site:443", Some("webhook.site")), Deny),
            (
                net("tcp://abc.ngrok-free.app:443", Some("abc.ngrok-free.app")),
                Deny,
            ),
            (
                net(
                    "tcp://x.trycloudflare.com:443",
                    Some("X.TryCloudflare.com."),
                ),
                Deny,
            ),
            (net("tcp://pastebin.com:443", Some("pastebin.com")), Deny),
            // No DNS seen: the URL's host still counts.
            (net("tcp://transfer.sh:443", None), Deny),
            (net("tcp://github.com:443", Some("github.com")), Watch),
            (net("udp://1.1.1.1:53", None), Watch),
            (net("tcp://[2606:4700::1111]:443", None), Watch),
            (net("udp://127.0.0.53:53", None), Allow),
            (net("tcp://[::1]:5432", None), Allow),
            (net("tcp://localhost:8080", Some("localhost")), Allow),
            (unix_socket("/run/dbus/system_bus_socket"), Allow),
            (unix_socket("/var/run/nscd/socket"), Allow),
        ],
    );
    let d = e.evaluate(&net("tcp://webhook.site:443", Some("webhook.site")));
    assert_eq!(d.matched_policies, vec!["block-exfiltration-hosts"]);
    assert!(d.message.contains("exfiltration"));
}

#[test]
fn paranoid_allows_only_what_starts_a_process() {
    use Action::*;
    let e = load("paranoid.yaml");
    check(
        &e,
        &[
            (read("/lib64/ld-linux-x86-64.so.2"), Allow),
            (read("/etc/ld.so.cache"), Allow),
            (read("/lib/x86_64-linux-gnu/libc.so.6"), Allow),
            (read("/usr/lib/locale/locale-archive"), Allow),
            (
                read("/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache"),
                Allow,
            ),
            (read("/etc/localtime"), Allow),
            (read("/etc/passwd"), Allow),
            (read("/proc/self/maps"), Allow),
            (read("/proc/filesystems"), Allow),
            (read("/sys/devices/system/cpu/online"), Allow),
            (read("/dev/urandom"), Allow),
            (write("/dev/null"), Allow),
            (write("/dev/pts/0"), Allow),
            // Everything else.
            (exec("ls"), Deny),
            (exec("git status"), Deny),
            (read("/home/u/project/src/main.rs"), Deny),
            (read("/etc/shadow"), Deny),
            (read("/etc/hosts"), Deny),
            (read("/proc/1/environ"), Deny),
            (write("/tmp/x"), Deny),
            (write("/usr/lib/evil.so"), Deny),
            (net("tcp://github.com:443", Some("github.com")), Deny),
            (unix_socket("/run/dbus/system_bus_socket"), Deny),
        ],
    );
}

#[test]
fn permissive_allows_everything() {
    use Action::*;
    let e = load("permissive.yaml");
    check(
        &e,
        &[
            (exec("rm -rf /"), Allow),
            (read("/home/u/.ssh/id_rsa"), Allow),
            (write("/etc/hosts"), Allow),
            (net("tcp://webhook.site:443", Some("webhook.site")), Allow),
        ],
    );
}
