//! Looking at a program before it runs, to tell whether the preload library
//! would see its calls: it cannot in a statically linked program (no
//! `PT_INTERP`, so no dynamic loader to preload anything), in a Go program
//! (its runtime makes raw system calls, not libc calls), or in a
//! setuid/setgid one (the loader ignores `LD_PRELOAD` there).
//!
//! Scripts are judged by their interpreter (`#!`), `#!/usr/bin/env NAME` by
//! both `env` and NAME. ELF files are classified by [`rampart_core::elf`],
//! the reader the preload library uses at every exec, so both agree on
//! every file; it reads a few KiB, never the whole file. This module
//! never runs anything and never fails a run: what it cannot read is judged
//! fit for preload, and the spawn reports the real error.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rampart_core::elf::{self, Kind};

/// Interpreters followed at most (the kernel allows a few levels of `#!`).
const MAX_DEPTH: usize = 4;
/// Bytes of a `#!` line the kernel reads.
const SHEBANG_MAX: usize = 256;

/// Why a program needs the trace backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A statically linked ELF file (no `PT_INTERP`).
    Static(PathBuf),
    /// A Go program (a Go build id note or section).
    Go(PathBuf),
    /// A setuid or setgid file.
    SetId(PathBuf),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Static(p) => write!(f, "{} is statically linked", p.display()),
            Reason::Go(p) => write!(f, "{} is a Go program", p.display()),
            Reason::SetId(p) => write!(f, "{} is setuid or setgid", p.display()),
        }
    }
}

/// Find `name` as a shell would: as given when it holds a `/`, else the first
/// executable regular file of that name in `path_var` (`PATH`).
pub fn resolve(name: &OsStr, path_var: Option<&OsStr>) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    if name.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(name));
    }
    let path_var = path_var.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    path_var
        .as_bytes()
        .split(|&b| b == b':')
        .map(|dir| {
            let dir = if dir.is_empty() {
                Path::new(".")
            } else {
                Path::new(OsStr::from_bytes(dir))
            };
            dir.join(name)
        })
        .find(|c| is_executable(c))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Why the program `argv0` (resolved through `path_var`) needs the trace
/// backend, or `None` when the preload library sees all its calls (or it
/// cannot be read: the spawn will say why).
pub fn needs_trace(argv0: &OsStr, path_var: Option<&OsStr>) -> Option<Reason> {
    let program = resolve(argv0, path_var)?;
    judge(&program, path_var, 0)
}

fn judge(program: &Path, path_var: Option<&OsStr>, depth: usize) -> Option<Reason> {
    let mut file = File::open(program).ok()?;
    let meta = file.metadata().ok()?;
    if meta.permissions().mode() & 0o6000 != 0 {
        return Some(Reason::SetId(program.to_path_buf()));
    }
    let mut head = [0u8; elf::HEAD];
    let n = read_prefix(&mut file, &mut head).ok()?;
    let head = &head[..n];
    if let Some(line) = head.strip_prefix(b"#!") {
        let line = &line[..line.len().min(SHEBANG_MAX - 2)];
        if depth >= MAX_DEPTH {
            return None;
        }
        return interpreters(line, path_var)
            .iter()
            .find_map(|p| judge(p, path_var, depth + 1));
    }
    let read_at = |off: u64, out: &mut [u8]| file.read_at(out, off).unwrap_or(0);
    match elf::classify(head, read_at) {
        Kind::Go => Some(Reason::Go(program.to_path_buf())),
        Kind::Static => Some(Reason::Static(program.to_path_buf())),
        Kind::Dynamic | Kind::Other => None,
    }
}

fn read_prefix(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The programs a `#!` line runs: the interpreter, and for `env` the
/// program it looks up (options and `NAME=value` words skipped; `-S`
/// splits the rest into words).
fn interpreters(line: &[u8], path_var: Option<&OsStr>) -> Vec<PathBuf> {
    let line = line.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let mut words = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty());
    let Some(interp) = words.next() else {
        return Vec::new();
    };
    let interp = PathBuf::from(OsStr::from_bytes(interp));
    let mut out = vec![interp.clone()];
    if interp.file_name() == Some(OsStr::new("env")) {
        let program = words.find(|w| !w.starts_with(b"-") && !w.contains(&b'='));
        if let Some(p) = program.and_then(|w| resolve(OsStr::from_bytes(w), path_var)) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn path_var() -> OsString {
        std::env::var_os("PATH").unwrap_or_default()
    }

    #[test]
    fn a_dynamic_program_and_a_script_run_by_it_need_no_trace() {
        let pv = path_var();
        assert_eq!(needs_trace(OsStr::new("sh"), Some(&pv)), None);
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(needs_trace(script.as_os_str(), Some(&pv)), None);
    }

    #[test]
    fn a_missing_or_unreadable_program_is_left_to_the_spawn() {
        let pv = path_var();
        assert_eq!(
            needs_trace(OsStr::new("no-such-program-rampart"), Some(&pv)),
            None
        );
        assert_eq!(needs_trace(OsStr::new("/nonexistent/x"), Some(&pv)), None);
    }

    #[test]
    fn env_shebangs_name_both_programs() {
        let pv = OsString::from("/usr/bin:/bin");
        let got = interpreters(b"/usr/bin/env -S python3 -u\n", Some(&pv));
        assert_eq!(got[0], PathBuf::from("/usr/bin/env"));
        if resolve(OsStr::new("python3"), Some(&pv)).is_some() {
            assert!(got[1].ends_with("python3"), "{got:?}");
        }
        assert_eq!(
            interpreters(b"/bin/sh -e", Some(&pv)),
            vec![PathBuf::from("/bin/sh")]
        );
        assert!(interpreters(b"\n", Some(&pv)).is_empty());
    }

    /// Compile a C program into `dir`, statically or not.
    fn compile(dir: &Path, name: &str, statically: bool) -> PathBuf {
        let extra: &[&str] = if statically { &["-static"] } else { &[] };
        rampart_e2e::build::gcc_source(dir, name, "int main(void) { return 0; }\n", extra)
    }

    #[test]
    fn static_elf_needs_trace_and_dynamic_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let st = compile(dir.path(), "static", true);
        let dy = compile(dir.path(), "dynamic", false);
        assert_eq!(
            needs_trace(st.as_os_str(), None),
            Some(Reason::Static(st.clone()))
        );
        assert_eq!(needs_trace(dy.as_os_str(), None), None);
        // Found through PATH, and through a script's interpreter.
        let pv = dir.path().as_os_str().to_owned();
        assert_eq!(
            needs_trace(OsStr::new("static"), Some(&pv)),
            Some(Reason::Static(dir.path().join("static")))
        );
        let script = dir.path().join("script");
        std::fs::write(&script, format!("#!{} -x\n", st.display())).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            needs_trace(script.as_os_str(), None),
            Some(Reason::Static(st.clone()))
        );
        let via_env = dir.path().join("via-env");
        std::fs::write(&via_env, "#!/usr/bin/env static\n").unwrap();
        std::fs::set_permissions(&via_env, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            needs_trace(via_env.as_os_str(), Some(&pv)),
            Some(Reason::Static(dir.path().join("static")))
        );
    }

    #[test]
    fn go_programs_need_trace() {
        if !rampart_e2e::build::go_available() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main.go");
        std::fs::write(&main, "package main\nfunc main() {}\n").unwrap();
        let out = rampart_e2e::build::go(&main, &dir.path().join("goprog"), true, "");
        assert_eq!(
            needs_trace(out.as_os_str(), None),
            Some(Reason::Go(out.clone()))
        );
    }

    #[test]
    fn setid_files_need_trace() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("true");
        std::fs::copy("/bin/true", &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o4755)).unwrap();
        assert_eq!(
            needs_trace(copy.as_os_str(), None),
            Some(Reason::SetId(copy.clone()))
        );
    }
}
