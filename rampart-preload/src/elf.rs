//! Which executables the library cannot watch: static ELF binaries and Go
//! binaries, as [`rampart_core::elf`] (the classifier `rampart run` uses
//! too) judges them from the first 4 KiB of the file, read with `pread`
//! into a stack buffer, and from what it asks to read past them. A `#!`
//! script is judged by its interpreter (one level).
//!
//! Used by the exec hooks to run such a target under the trace backend.
//! Never allocates, locks or panics; reads at most a few KiB per exec.

use libc::c_int;

use crate::sys;

pub use rampart_core::elf::Kind;
use rampart_core::elf::{classify, HEAD};

/// Classify the file at `path` (NUL-terminated, relative to the cwd).
pub fn classify_path(path: *const u8) -> Kind {
    classify_at(path, 1)
}

fn classify_at(path: *const u8, shebang_depth: u8) -> Kind {
    // SAFETY: a NUL-terminated path; the kernel validates it.
    let fd = match unsafe {
        sys::raw(
            libc::SYS_openat,
            libc::AT_FDCWD as usize,
            path as usize,
            (libc::O_RDONLY | libc::O_CLOEXEC) as usize,
            0,
        )
    } {
        Ok(fd) => fd as c_int,
        Err(_) => return Kind::Other,
    };
    let mut head = [0u8; HEAD];
    let n = sys::pread(fd, &mut head, 0);
    let kind = if head[..n].starts_with(b"#!") {
        interpreter_kind(&head[..n], shebang_depth)
    } else {
        classify(&head[..n], |off, out| sys::pread(fd, out, off))
    };
    sys::close(fd);
    kind
}

/// The kind of a script's interpreter (`#!/path args`).
fn interpreter_kind(head: &[u8], depth: u8) -> Kind {
    if depth == 0 {
        return Kind::Other;
    }
    let Some(line) = rampart_core::shebang::line(head) else {
        return Kind::Other;
    };
    let mut path = [0u8; rampart_core::shebang::HEAD + 1];
    let interp = line.interpreter;
    path[..interp.len()].copy_from_slice(interp);
    match classify_at(path.as_ptr(), depth - 1) {
        k @ (Kind::Static | Kind::Go) => k,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn kind_of(p: &Path) -> Kind {
        let mut c = p.as_os_str().as_encoded_bytes().to_vec();
        c.push(0);
        classify_path(c.as_ptr())
    }

    fn compile_c(dir: &Path, extra: &[&str]) -> PathBuf {
        let name = format!("probe{}", extra.join(""));
        rampart_e2e::build::gcc_source(dir, &name, "int main(void) { return 0; }\n", extra)
    }

    #[test]
    fn a_static_c_binary_is_static_and_a_dynamic_one_dynamic() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(kind_of(&compile_c(dir.path(), &["-static"])), Kind::Static);
        assert_eq!(
            kind_of(&compile_c(dir.path(), &["-static-pie"])),
            Kind::Static
        );
        assert_eq!(kind_of(&compile_c(dir.path(), &[])), Kind::Dynamic);
        assert_eq!(kind_of(Path::new("/bin/true")), Kind::Dynamic);
        assert_eq!(kind_of(Path::new("/bin/sh")), Kind::Dynamic);
    }

    #[test]
    fn scripts_are_judged_by_their_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let stat = compile_c(dir.path(), &["-static"]);
        let s1 = dir.path().join("to-static");
        std::fs::write(&s1, format!("#! {} -x\necho\n", stat.display())).unwrap();
        assert_eq!(kind_of(&s1), Kind::Static);
        let s2 = dir.path().join("to-sh");
        std::fs::write(&s2, "#!/bin/sh\necho\n").unwrap();
        assert_eq!(kind_of(&s2), Kind::Other);
        assert_eq!(kind_of(&dir.path().join("missing")), Kind::Other);
        assert_eq!(kind_of(Path::new("/etc/hostname")), Kind::Other);
    }

    #[test]
    fn go_binaries_are_recognised_static_or_not() {
        if !rampart_e2e::build::go_available() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main.go");
        std::fs::write(
            &main,
            "package main\nimport \"os\"\nfunc main() { os.Exit(0) }\n",
        )
        .unwrap();
        let build = |name: &str, cgo: bool, ldflags: &str| {
            rampart_e2e::build::go(&main, &dir.path().join(name), cgo, ldflags)
        };
        assert_eq!(kind_of(&build("static", false, "")), Kind::Go);
        assert_eq!(kind_of(&build("cgo", true, "")), Kind::Go);
        // No build-id note: known by its section names.
        assert_eq!(kind_of(&build("no-id", false, "-s -w -buildid=")), Kind::Go);
        assert_eq!(kind_of(&build("cgo-no-id", true, "-buildid=")), Kind::Go);
    }
}
