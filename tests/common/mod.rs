//! Shared harness of the end-to-end tests: builds the `rampart` binary and
//! the preload library once, runs commands under `rampart run` with a
//! private audit directory and home, compiles C probes with gcc, and reads
//! the resulting trail as plain JSON lines (as a user or a log shipper
//! would). [`build`] compiles the C and Go programs every crate's tests run.

pub mod build;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The target directory of the profile these tests were built with.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test>-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `target/<profile>/rampart`, with `librampart_preload.so` next to it,
/// built once per test process (cargo test builds neither the other
/// package's binary nor a cdylib).
pub fn rampart() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = target_dir();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "-p", "rampart-cli", "-p", "rampart-preload"])
            .current_dir(workspace());
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("run cargo build");
        assert!(
            out.status.success(),
            "cargo build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = dir.join("rampart");
        assert!(dir.join("librampart_preload.so").is_file());
        bin
    })
}

/// A sandbox for one test: a temp dir with `home/`, `audit/` and `work/`.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["home", "audit", "work"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Sandbox { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    pub fn audit(&self) -> PathBuf {
        self.path("audit")
    }

    pub fn work(&self) -> PathBuf {
        self.path("work")
    }

    /// A `rampart` command with this sandbox's home and audit directory,
    /// run in `work/`; a serve's runtime directory is under that home.
    pub fn rampart(&self) -> Command {
        self.command(rampart())
    }

    /// `program` with the sandbox's environment and working directory, as
    /// [`Sandbox::rampart`] runs rampart (for a program that starts it:
    /// `chrt`, `setpriv`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("HOME", self.home())
            .env("RAMPART_AUDIT_DIR", self.audit())
            .env_remove("RAMPART_SESSION")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("LD_PRELOAD")
            .current_dir(self.work());
        cmd
    }

    /// `rampart run --quiet -- argv...`, its output.
    pub fn run(&self, argv: &[&str]) -> Output {
        self.rampart()
            .args(["run", "--quiet", "--"])
            .args(argv)
            .output()
            .expect("spawn rampart")
    }

    /// `rampart init --from-audit AUDIT --output OUT` on this sandbox's
    /// trail, its output.
    pub fn learn_into(&self, out: &Path) -> Output {
        self.rampart()
            .args(["init", "--from-audit"])
            .arg(self.audit())
            .arg("--output")
            .arg(out)
            .output()
            .expect("spawn rampart")
    }

    /// Every record of the trail, in file order.
    pub fn records(&self) -> Vec<Value> {
        records_in(&self.audit())
    }

    /// `rampart run --quiet --backend BACKEND -- argv...`, its output.
    pub fn run_backend(&self, backend: &str, argv: &[&str]) -> Output {
        self.rampart()
            .args(["run", "--quiet", "--backend", backend, "--"])
            .args(argv)
            .output()
            .expect("spawn rampart")
    }

    /// Compile the C file `src` into this sandbox as `name`, statically
    /// linked or not.
    pub fn compile(&self, src: &Path, name: &str, statically: bool) -> PathBuf {
        let extra: &[&str] = if statically { &["-static"] } else { &[] };
        build::gcc(src, &self.path(name), extra)
    }

    /// Compile the trace backend's probe `rampart-trace/tests/probes/NAME.c`
    /// into this sandbox (`NAME-static` or `NAME-dynamic`).
    pub fn trace_probe(&self, name: &str, statically: bool) -> PathBuf {
        let src = workspace()
            .join("rampart-trace/tests/probes")
            .join(format!("{name}.c"));
        let kind = if statically { "static" } else { "dynamic" };
        self.compile(&src, &format!("{name}-{kind}"), statically)
    }

    /// Compile a C probe from `tests/probes/NAME.c` into this sandbox.
    pub fn probe(&self, name: &str, extra: &[&str]) -> PathBuf {
        self.probe_as(name, name, extra)
    }

    /// Compile `tests/probes/NAME.c` into this sandbox as `out_name` (e.g.
    /// a static build next to the dynamic one).
    pub fn probe_as(&self, name: &str, out_name: &str, extra: &[&str]) -> PathBuf {
        let src = workspace().join("tests/probes").join(format!("{name}.c"));
        build::gcc(&src, &self.path(out_name), extra)
    }
}

/// Records of every `*.jsonl` in `dir`, sorted by file name; header lines
/// (`chain_continue`) are skipped.
pub fn records_in(dir: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let mut text = std::fs::read_to_string(&f).unwrap();
        // A trail read while it is written may end in half a record: a
        // record is only there once its newline is.
        text.truncate(text.rfind('\n').map_or(0, |i| i + 1));
        for (i, line) in text.lines().enumerate() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: not JSON: {e}", f.display(), i + 1));
            if v.get("chain_continue").is_none() {
                out.push(v);
            }
        }
    }
    out
}

/// Records of one tool.
pub fn of_tool<'a>(records: &'a [Value], tool: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["tool"] == tool).collect()
}

/// The request field `key` of each record of `tool`, as strings.
pub fn field(records: &[Value], tool: &str, key: &str) -> Vec<String> {
    of_tool(records, tool)
        .iter()
        .filter_map(|r| r["request"][key].as_str().map(str::to_string))
        .collect()
}

/// Assert that some record of `tool` has request `key` equal to `value`,
/// and return it.
pub fn expect_record<'a>(records: &'a [Value], tool: &str, key: &str, value: &str) -> &'a Value {
    of_tool(records, tool)
        .into_iter()
        .find(|r| r["request"][key] == value)
        .unwrap_or_else(|| {
            panic!(
                "no {tool} record with {key} = {value:?}; {key}s seen: {:#?}",
                field(records, tool, key)
            )
        })
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fail with the program's status and streams unless it succeeded.
#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

/// A local TCP server that accepts and drops connections; its port.
pub fn tcp_server() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            drop(c);
        }
    });
    port
}

/// A tmpfs of `kib` KiB mounted for one test (rampart's tests run as root,
/// as CI does), unmounted when dropped.
pub struct SmallDisk(pub std::path::PathBuf);

impl SmallDisk {
    pub fn mount(at: std::path::PathBuf, kib: u32) -> SmallDisk {
        std::fs::create_dir_all(&at).unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k,mode=0700"),
                "tmpfs",
            ])
            .arg(&at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a small tmpfs needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(at)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// A test that cannot run here because `reason` (a tool or a kernel feature
/// is missing): a failure when `CI` is set (CI installs what the tests need,
/// so a missing tool there means nothing would be tested), else a visible
/// `SKIPPED` line. The caller returns right after.
pub fn skip(reason: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{reason}: CI is set, so this is a failure, not a skip");
    }
    eprintln!("SKIPPED: {reason}");
}

/// Wait for `child` at most `limit`; kill it and fail if it is still running
/// (a hang becomes a failure; nothing is timed).
pub fn wait_at_most(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the process did not end within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A policy of the shape `rampart init --from-audit` writes: reads and
/// writes of paths matching `refused` denied first, any exec allowed, then
/// per tool the patterns the session used (each list one allow rule), and
/// a last rule that refuses the rest of the tool's calls.
pub fn learned_shape_policy(refused: &[&str], reads: &[&[&str]], writes: &[&[&str]]) -> String {
    let list = |ps: &[&str]| {
        ps.iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let allows = |rules: &[&[&str]]| {
        rules
            .iter()
            .map(|ps| {
                format!(
                    "      - action: allow\n        when: {{path_matches: [{}]}}\n",
                    list(ps)
                )
            })
            .collect::<String>()
    };
    format!(
        "version: \"1\"\ndefault_action: deny\npolicies:\n\
         \x20 - name: deny-sensitive\n    match: {{tool: [read, write]}}\n    rules:\n\
         \x20     - action: deny\n        when: {{path_matches: [{}]}}\n\
         \x20 - name: exec\n    match: {{tool: [exec]}}\n    rules:\n\
         \x20     - action: allow\n        when: {{command_matches: [\"*\"]}}\n\
         \x20 - name: read\n    match: {{tool: [read]}}\n    rules:\n{}\
         \x20     - action: deny\n        when: {{default: true}}\n\
         \x20 - name: write\n    match: {{tool: [write]}}\n    rules:\n{}\
         \x20     - action: deny\n        when: {{default: true}}\n",
        list(refused),
        allows(reads),
        allows(writes)
    )
}
