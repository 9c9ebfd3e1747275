//! `rampart doctor`: can rampart work here? Each check prints `ok`, `note`
//! (works, with a limit worth knowing) or `FAIL` (something a run needs is
//! missing) and what to do; the exit status is 1 when any check fails.
//!
//! It only looks: it writes nothing but a temporary file in the audit
//! directory (to prove it is writable), starts nothing and changes no
//! setting.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::backend::find_preload_library;
use crate::{floor, policies, runtime};

#[derive(clap::Args, Debug)]
pub struct Args {}

/// How one check came out.
enum Verdict {
    Ok,
    Note,
    Fail,
}

struct Report {
    failed: usize,
}

impl Report {
    fn say(&mut self, v: Verdict, what: &str, detail: String) {
        let tag = match v {
            Verdict::Ok => "ok  ",
            Verdict::Note => "note",
            Verdict::Fail => {
                self.failed += 1;
                "FAIL"
            }
        };
        println!("{tag}  {what}: {detail}");
    }
}

pub fn run(_args: Args, policy: &[PathBuf], audit_dir: &Path) -> Result<i32> {
    let mut r = Report { failed: 0 };
    r.say(
        Verdict::Ok,
        "rampart",
        format!("rampart {}", env!("CARGO_PKG_VERSION")),
    );
    match find_preload_library() {
        Ok(lib) => r.say(Verdict::Ok, "preload library", lib.display().to_string()),
        Err(e) => r.say(
            Verdict::Fail,
            "preload library",
            format!("{e:#} (dynamically linked programs cannot be watched)"),
        ),
    }
    check_ptrace(&mut r);
    check_seccomp(&mut r);
    let abi = floor::abi_version();
    if abi >= 1 {
        r.say(
            Verdict::Ok,
            "Landlock",
            format!("ABI {abi}: enforce mode adds the kernel floor"),
        );
    } else {
        r.say(
            Verdict::Note,
            "Landlock",
            "not available in this kernel: enforce mode works without the kernel floor".into(),
        );
    }
    check_audit_dir(&mut r, audit_dir);
    match policies::load(policy) {
        Ok((engine, source)) => r.say(
            Verdict::Ok,
            "policy",
            format!("{source}: {} policies load", engine.policy_count()),
        ),
        Err(e) => {
            let why: Vec<String> = format!("{e:#}")
                .lines()
                .map(|l| l.trim().to_string())
                .collect();
            r.say(Verdict::Fail, "policy", why.join("; "))
        }
    }
    let socket = runtime::default_socket();
    if runtime::listening(&socket) {
        r.say(
            Verdict::Ok,
            "serve",
            format!(
                "running at {} (`rampart run` reports to it)",
                socket.display()
            ),
        );
    } else {
        r.say(
            Verdict::Note,
            "serve",
            format!(
                "none at {} (not needed: `rampart run` has its own collector)",
                socket.display()
            ),
        );
    }
    Ok(if r.failed > 0 { 1 } else { 0 })
}

/// The trace backend needs ptrace of its own children.
fn check_ptrace(r: &mut Report) {
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok());
    match scope {
        Some(3) => r.say(
            Verdict::Fail,
            "ptrace",
            "kernel.yama.ptrace_scope is 3: the trace backend (static and Go programs) cannot run"
                .into(),
        ),
        Some(s) => r.say(
            Verdict::Ok,
            "ptrace",
            format!("kernel.yama.ptrace_scope {s}: rampart traces its own children"),
        ),
        None => r.say(Verdict::Ok, "ptrace", "no Yama restrictions".into()),
    }
}

/// The trace backend's prefilter is a seccomp-bpf filter.
fn check_seccomp(r: &mut Report) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mode = status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .map(str::trim);
    match mode {
        Some("0") => r.say(Verdict::Ok, "seccomp", "filters available".into()),
        Some(m) => r.say(
            Verdict::Note,
            "seccomp",
            format!("rampart itself runs under seccomp mode {m}: its filter stacks on top"),
        ),
        None => r.say(
            Verdict::Fail,
            "seccomp",
            "this kernel has no seccomp: the trace backend cannot run".into(),
        ),
    }
}

fn check_audit_dir(r: &mut Report, dir: &Path) {
    if !dir.exists() {
        let parent = dir.ancestors().skip(1).find(|p| p.exists());
        let writable = parent.is_some_and(|p| tempfile::tempfile_in(p).is_ok());
        let v = if writable { Verdict::Ok } else { Verdict::Fail };
        r.say(
            v,
            "audit dir",
            format!(
                "{} does not exist yet{}",
                dir.display(),
                if writable {
                    "; the first run creates it"
                } else {
                    " and cannot be created"
                }
            ),
        );
        return;
    }
    match tempfile::tempfile_in(dir) {
        Ok(_) => r.say(
            Verdict::Ok,
            "audit dir",
            format!("{} is writable", dir.display()),
        ),
        Err(e) => r.say(
            Verdict::Fail,
            "audit dir",
            format!("{} is not writable: {e}", dir.display()),
        ),
    }
}
