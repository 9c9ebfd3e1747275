//! Building the programs tests run: C probes with gcc and Go programs with
//! the Go toolchain, the one place every crate's tests do it. A build that
//! fails panics with the compiler's own words; a missing Go toolchain is a
//! [`crate::skip`] (a failure when `CI` is set).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Compile the C file `src` into `out` (`-O1 -Wall -pthread`, then
/// `extra`, e.g. `-static`). Returns `out`.
pub fn gcc(src: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let res = Command::new("gcc")
        .args(["-O1", "-Wall", "-pthread", "-o"])
        .arg(out)
        .arg(src)
        .args(extra)
        .output()
        .expect("gcc runs (apt-get install gcc)");
    assert!(
        res.status.success(),
        "gcc {} {extra:?}: {}",
        src.display(),
        String::from_utf8_lossy(&res.stderr)
    );
    out.to_path_buf()
}

/// Write `source` to `dir/NAME.c` and compile it into `dir/NAME`.
pub fn gcc_source(dir: &Path, name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    gcc(&src, &dir.join(name), extra)
}

/// Whether the Go toolchain runs; when it does not, says so through
/// [`crate::skip`] (which fails the test in CI).
pub fn go_available() -> bool {
    let ok = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        crate::skip("go is not installed (apt-get install golang-go)");
    }
    ok
}

/// `go build` of `src` into `out`: a `.go` file is built on its own
/// (GOPATH mode); a directory is a module built where it is. `cgo` sets
/// `CGO_ENABLED`; `ldflags` goes to `-ldflags` when not empty. The build
/// cache is shared by every test of the run (in the system temp dir), so
/// each program is compiled once.
pub fn go(src: &Path, out: &Path, cgo: bool, ldflags: &str) -> PathBuf {
    let shared = std::env::temp_dir().join("rampart-tests-go");
    let mut cmd = Command::new("go");
    cmd.arg("build");
    if !ldflags.is_empty() {
        cmd.arg(format!("-ldflags={ldflags}"));
    }
    cmd.arg("-o").arg(out);
    if src.is_dir() {
        cmd.arg(".")
            .current_dir(src)
            .env("GOFLAGS", "-mod=mod")
            .env("GOTOOLCHAIN", "local");
    } else {
        cmd.arg(src).env("GO111MODULE", "off");
    }
    let res = cmd
        .env("GOCACHE", shared.join("cache"))
        .env("GOPATH", shared.join("gopath"))
        .env("CGO_ENABLED", if cgo { "1" } else { "0" })
        .output()
        .expect("go runs");
    assert!(
        res.status.success(),
        "go build {}: {}",
        src.display(),
        String::from_utf8_lossy(&res.stderr)
    );
    out.to_path_buf()
}
